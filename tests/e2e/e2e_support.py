"""Constants and helpers shared by the real-browser tests and the extension benchmark (fixtures live in conftest.py)."""

from __future__ import annotations

import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from server import create_app

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT.parent / "shared" / "fixtures"
CHROMIUM = "/usr/bin/chromium"
FIREFOX = "/usr/bin/firefox-esr"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-default-apps"]

C2PA_AI = "c2pa/adobe_firefly_2023_butterfly.jpg"
IPTC_AI = "metadata/made_iptc_dst_trained.jpg"
LAZY_AI = "c2pa/adobe_photoshop_generative_fill.jpg"
LATER_AI = "c2pa/openai_dalle3_via_chatgpt.webp"
VIDEO = "c2pa/testsigner_video.mp4"
AUDIO = "c2pa/adobe_firefly_generated_audio.wav"
REFUTED_VARIANT = "refutation/variants/budgie_oakland-zoo-otters__caption_below.jpg"
REFUTED_BANNER = "refutation/variants/budgie_oakland-zoo-otters__banner_top.jpg"
REFUTED_ORIGINAL = "refutation/originals/budgie_oakland-zoo-otters.jpg"
REPORTED_IMAGE = "refutation/originals/budgie_tea-gardens.jpg"  # reported, then refuted by a reviewer
CLIP_ORIGINAL = "video/match/originals/v01_bikes.mp4"
CLIP_VARIANT = "video/match/variants/v01_bikes__caption.mp4"
REFUTATION_TOKEN = "e2e-refutation-token"
PLAIN = ["photos/budgie_blue-periwinkle.jpg", "photos/budgie_casa-mila.jpg", "photos/deb_lomiri_Dragonfly_by_Bolly.jpg"]

TEST_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Verity test page</title>
<style>body {{ font: 15px sans-serif; margin: 16px; }} img {{ display: block; margin: 12px 0; }}
.row {{ display: flex; gap: 12px; }} .row img {{ margin: 0; }}</style></head>
<body>
<h1>Verity test page</h1>
<div class="row">
  <img id="c2pa" src="/fixtures/{C2PA_AI}" width="320" height="214" alt="C2PA AI image">
  <img id="iptc" src="/fixtures/{IPTC_AI}" width="320" height="214" alt="IPTC labelled image">
  <div id="slot"></div>
</div>
<div class="row">
  {"".join(f'<img class="plain" src="/fixtures/{p}" width="240" height="160" alt="photo">' for p in PLAIN)}
</div>
<div class="row">
  <video id="video" controls width="320" height="180" preload="metadata"><source src="/fixtures/{VIDEO}" type="video/mp4"></video>
  <audio id="audio" controls preload="metadata" src="/fixtures/{AUDIO}"></audio>
</div>
<p>An icon-sized copy of the AI image (under 100x100, never checked):
  <img id="tiny" src="/fixtures/{C2PA_AI}?icon" width="40" height="40" alt=""></p>
<div style="height: 2600px">Scroll down for the lazy-loaded image.</div>
<img id="lazy" loading="lazy" src="/fixtures/{LAZY_AI}" width="320" height="214" alt="lazy AI image">
<div style="height: 200px"></div>
<script>
  // An image added by script after load (the MutationObserver path).
  window.addEventListener('load', () => setTimeout(() => {{
    const img = new Image(320, 214);
    img.id = 'later';
    img.alt = 'added later';
    img.src = '/fixtures/{LATER_AI}';
    document.getElementById('slot').append(img);
  }}, 300));
</script>
</body></html>
"""


def bench_page(count: int) -> str:
    """A page with `count` distinct image URLs: plain photos, cycled, and every 10th the C2PA AI image (so badges are
    laid out while scrolling); the query makes each URL distinct."""
    photos = sorted(p.relative_to(FIXTURES).as_posix() for p in (FIXTURES / "photos").glob("*.jpg"))
    names = [C2PA_AI if i % 10 == 0 else photos[i % len(photos)] for i in range(count)]
    tags = "".join(f'<img src="/fixtures/{name}?n={i}" width="160" height="120" alt="">' for i, name in enumerate(names))
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>bench</title>'
            f'<style>img{{margin:2px}}</style></head><body>{tags}</body></html>')


REFUTED_PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Refuted re-posts</title>
<style>body {{ font: 15px sans-serif; margin: 16px; }} .row {{ display: flex; gap: 16px; }}</style></head>
<body><h1>Re-posts of a debunked photo</h1>
<div class="row">
<img id="captioned" src="/fixtures/{REFUTED_VARIANT}" width="400" height="320" alt="re-post with a caption">
<img id="bannered" src="/fixtures/{REFUTED_BANNER}" width="400" height="320" alt="re-post in a meme banner">
</div></body></html>"""

REPORTED_PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A viral photo</title></head>
<body style="font: 15px sans-serif; margin: 16px"><h1>A viral photo</h1>
<img id="viral" src="/fixtures/{REPORTED_IMAGE}" width="400" height="300" alt="viral"></body></html>"""

CLIP_PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A re-posted clip</title></head>
<body style="font: 15px sans-serif; margin: 16px"><h1>A re-posted clip</h1>
<video id="clip" controls muted preload="metadata" width="480" height="204" src="/fixtures/{CLIP_VARIANT}"></video>
</body></html>"""

# A video the extension cannot fetch: its bytes are fetched by the page and played from a blob: URL (as MSE players do).
BLOB_PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A streamed clip</title></head>
<body style="font: 15px sans-serif; margin: 16px"><h1>A streamed clip</h1>
<video id="stream" muted width="480" height="204"></video>
<script>
  fetch('/fixtures/{CLIP_VARIANT}').then((r) => r.blob()).then((b) => {{
    const v = document.getElementById('stream');
    v.addEventListener('seeked', () => {{ document.body.dataset.frameReady = 'true'; }}, {{ once: true }});
    v.addEventListener('loadeddata', () => {{ v.currentTime = 2; }}, {{ once: true }});
    v.src = URL.createObjectURL(b);
  }});
</script></body></html>"""

PAGES = {"/page.html": TEST_PAGE, "/refuted.html": REFUTED_PAGE, "/reported.html": REPORTED_PAGE,
         "/clip.html": CLIP_PAGE, "/stream.html": BLOB_PAGE, "/bench.html": bench_page(300)}


class _SiteHandler(SimpleHTTPRequestHandler):
    """Test pages from PAGES; /fixtures/<path> read in place from ../shared/fixtures (never copied)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?", 1)[0]
        if path in PAGES:
            self._send(PAGES[path].encode("utf-8"), "text/html; charset=utf-8")
            return
        if path.startswith("/fixtures/"):
            target = (FIXTURES / path.removeprefix("/fixtures/")).resolve()
            if target.is_file() and FIXTURES.resolve() in target.parents:
                self._send(target.read_bytes(), self.guess_type(str(target)))
                return
        self.send_error(404)

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=600")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """The real Flask app behind werkzeug's threaded server, on loopback."""

    def __init__(self, data_dir: Path, port: int = 0, **config: Any) -> None:
        self.app = create_app({"TESTING": True, "DATA_DIR": str(data_dir), **config})
        self.server = make_server("127.0.0.1", port, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_refutation(self, fixture: str, **fields: Any) -> dict[str, Any]:
        """POST /v1/refutations (multipart: `refutation` JSON + `file`), with the configured bearer token."""
        import json
        from io import BytesIO

        data = (FIXTURES / fixture).read_bytes()
        response = self.app.test_client().post(
            "/v1/refutations", headers={"Authorization": f"Bearer {REFUTATION_TOKEN}"},
            data={"refutation": json.dumps(fields), "file": (BytesIO(data), Path(fixture).name)},
            content_type="multipart/form-data")
        assert response.status_code == 201, response.get_json()
        return dict(response.get_json())



def start_site() -> tuple[ThreadingHTTPServer, str]:
    """Serve the test pages and fixtures on a free loopback port in a thread."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _SiteHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_port}"


def page_stats(ctx: Any, ext_id: str, site: str) -> dict[str, Any]:
    """The content script's counts for the tab showing `site`, asked from an extension page like the popup does."""
    page = ctx.new_page()
    page.goto(f"chrome-extension://{ext_id}/options/options.html")
    page.wait_for_selector("body[data-ready=true]")
    stats = page.evaluate("""async (pattern) => {
        const [tab] = await chrome.tabs.query({url: pattern});
        return VerifyMessages.requestTab(tab.id, 'get-page-stats', {});
    }""", site + "/*")
    page.close()
    return stats
