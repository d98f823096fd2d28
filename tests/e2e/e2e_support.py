"""Constants and helpers shared by the real-browser tests and the extension benchmark (fixtures live in conftest.py)."""

from __future__ import annotations

import re
import socket
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl
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
STEALTH = "metadata/made_novelai_text_and_stealth.png"  # NovelAI text chunks and the same fields in the alpha LSBs
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
    """A feed with `count` distinct image URLs: plain photos, cycled, and every 10th the C2PA AI image (so badges are
    laid out while scrolling); the query makes each URL distinct. A third of them sit in web components' open shadow
    roots, a sixth are CSS background images, and a same-origin iframe holds 20 more (not counted in `count`): the
    extension scans shadow roots, computed styles and frames while the feed scrolls."""
    photos = sorted(p.relative_to(FIXTURES).as_posix() for p in (FIXTURES / "photos").glob("*.jpg"))
    names = [C2PA_AI if i % 10 == 0 else photos[i % len(photos)] for i in range(count)]
    tags = []
    for i, name in enumerate(names):
        url = f"/fixtures/{name}?n={i}"
        if i % 3 == 1:
            tags.append(f'<feed-card data-src="{url}"></feed-card>')
        elif i % 6 == 2:
            tags.append(f'<div class="bg" style="background-image: url({url})"></div>')
        else:
            tags.append(f'<img src="{url}" width="160" height="120" alt="">')
    return ('<!doctype html><html><head><meta charset="utf-8"><title>bench</title>'
            '<style>img{margin:2px} .bg{display:inline-block;width:160px;height:120px;margin:2px;'
            'background-size:cover} iframe{border:0;width:680px;height:260px}</style><script>'
            "customElements.define('feed-card', class extends HTMLElement { connectedCallback() {"
            " if (this.shadowRoot) return; const img = document.createElement('img'); img.width = 160;"
            " img.height = 120; img.style.margin = '2px'; img.src = this.dataset.src;"
            " this.attachShadow({mode: 'open'}).append(img); } });</script></head><body>"
            '<iframe src="/bench-frame.html"></iframe>' + "".join(tags) + "</body></html>")


def bench_frame(count: int) -> str:
    photos = sorted(p.relative_to(FIXTURES).as_posix() for p in (FIXTURES / "photos").glob("*.jpg"))
    tags = "".join(f'<img src="/fixtures/{photos[i % len(photos)]}?f={i}" width="160" height="120" alt="">'
                   for i in range(count))
    return f'<!doctype html><html><head><meta charset="utf-8"></head><body>{tags}</body></html>'


REFUTED_PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Refuted re-posts</title>
<style>body {{ font: 15px sans-serif; margin: 16px; }} .row {{ display: flex; gap: 16px; }}</style></head>
<body><h1>Re-posts of a debunked photo</h1>
<div class="row">
<img id="captioned" src="/fixtures/{REFUTED_VARIANT}" width="400" height="320" alt="re-post with a caption">
<img id="bannered" src="/fixtures/{REFUTED_BANNER}" width="400" height="320" alt="re-post in a meme banner">
</div></body></html>"""

DECLARED_ORIGINAL = "c2pa/adobe_firefly_2023_butterfly.jpg"
DECLARED_COPY = "c2pa/adobe_firefly_2023_butterfly__stripped_reencoded.jpg"  # its Content Credentials stripped
DECLARED_PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A re-posted picture</title></head>
<body style="font: 15px sans-serif; margin: 16px"><h1>A re-posted picture</h1>
<img id="copy" src="/fixtures/{DECLARED_COPY}" width="400" height="300" alt="copy"></body></html>"""

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

# Issue 14: every way a page embeds an image, the media served from a second origin ({OTHER}, filled in per request
# from ?other=). Each case shows the same C2PA AI image under its own URL (?case=...), so a label names its case.
EMBED_PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Embeddings</title>
<style>body {{ font: 14px sans-serif; margin: 8px; }} .grid {{ display: grid; grid-template-columns: repeat(4, 240px);
gap: 10px; }} .tile {{ width: 240px; height: 160px; display: block; }} iframe {{ border: 0; width: 240px; height: 160px; }}
.sheet {{ background: url("{{OTHER}}/fixtures/{C2PA_AI}?case=sheet") center / cover; }}
.set {{ background-image: image-set(url("{{OTHER}}/fixtures/{C2PA_AI}?case=set1x") 1x,
  url("{{OTHER}}/fixtures/{C2PA_AI}?case=set2x") 2x); background-size: cover; }}</style>
<script>
  // Web components with open shadow roots, one nested in the other, defined before the extension's scripts run.
  customElements.define('test-inner', class extends HTMLElement {{ constructor() {{ super();
    this.attachShadow({{mode: 'open'}}).innerHTML = '<img src="{{OTHER}}/fixtures/{C2PA_AI}?case=nested" width="110" height="150">';
  }} }});
  customElements.define('test-card', class extends HTMLElement {{ constructor() {{ super();
    this.attachShadow({{mode: 'open'}}).innerHTML = '<div style="display:flex;gap:4px"><img src="{{OTHER}}/fixtures/{C2PA_AI}?case=shadow"'
      + ' width="110" height="150"><test-inner></test-inner></div>';
  }} }});
</script></head>
<body><div class="grid">
<div id="inline" class="tile" style="background-image: url('{{OTHER}}/fixtures/{C2PA_AI}?case=inline'); background-size: cover"></div>
<div id="sheet" class="tile sheet"></div>
<div id="set" class="tile set"></div>
<test-card id="shadow" class="tile"></test-card>
<svg class="tile" width="240" height="160"><image href="{{OTHER}}/fixtures/{C2PA_AI}?case=svg" width="240" height="160"/></svg>
<video id="poster" class="tile" width="240" height="160" poster="{{OTHER}}/fixtures/{C2PA_AI}?case=poster"></video>
<iframe id="same" src="/frame.html?case=same"></iframe>
<iframe id="cross" src="{{OTHER}}/frame.html?case=cross"></iframe>
<iframe id="srcdoc" srcdoc="<img src='{{OTHER}}/fixtures/{C2PA_AI}?case=srcdoc' width='220' height='150'>"></iframe>
<video id="stream" class="tile" muted loop playsinline width="240" height="160"></video>
</div>
<script>
  // A stream: bytes fetched by the page and played from a blob: URL (as MSE players do); it plays on its own.
  fetch('/fixtures/{CLIP_VARIANT}').then((r) => r.blob()).then((b) => {{
    const v = document.getElementById('stream');
    v.src = URL.createObjectURL(b);
    v.play().catch(() => {{}});
  }});
</script></body></html>"""

FRAME_PAGE = f"""<!doctype html><html><head><meta charset="utf-8"></head><body style="margin: 0">
<img src="/fixtures/{C2PA_AI}?case={{CASE}}" width="220" height="150" alt=""></body></html>"""

# A page that fights the badges: it hides them with CSS, restyles and closes them, removes what the extension adds,
# reads what it can, and draws forged "Content Credentials" badges.
HOSTILE_PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Hostile</title>
<style>verity-badge, [popover], :popover-open, html > :not(head):not(body), [data-verity-label] {{
  display: none !important; visibility: hidden !important; opacity: 0 !important; }}
body {{ font: 15px sans-serif; margin: 16px; }} .forged {{ display: inline-block !important; visibility: visible !important;
  opacity: 1 !important; position: absolute; padding: 3px 8px; border-radius: 999px; background: #1e8e3e; color: #fff; }}</style>
</head><body><h1>Hostile page</h1>
<img id="ai" src="/fixtures/{C2PA_AI}?case=hostile" width="320" height="214" alt="">
<verity-badge class="forged" style="left: 400px; top: 90px">Content Credentials</verity-badge>
<div class="forged" data-verity-label="has_provenance" style="left: 400px; top: 130px">Verity: Content Credentials</div>
<script>
  window.__removed = 0;
  window.__seen = [];
  new MutationObserver((records) => {{
    for (const r of records) for (const n of r.addedNodes) {{
      if (n.parentNode === document.documentElement && n !== document.body && n !== document.head && window.__removed < 5) {{
        window.__removed += 1;
        n.remove();
      }}
    }}
  }}).observe(document.documentElement, {{childList: true}});
  setInterval(() => {{
    for (const el of document.querySelectorAll('verity-badge:not(.forged)')) {{
      window.__seen.push(Array.from(el.attributes, (a) => a.name + '=' + a.value).join(' '));
      try {{ el.hidePopover(); }} catch (_) {{}}
      el.style.setProperty('display', 'none', 'important');
      el.setAttribute('hidden', '');
    }}
  }}, 100);
</script></body></html>"""

# Privacy: the page and the media URLs carry secrets in their query and fragment; none may reach the server.
PRIVACY_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Private</title></head>
<body><img id="photo" src="/fixtures/{PHOTO}?sig={SIG}#frag-{SIG}" width="320" height="214" alt=""></body></html>"""

PAGES = {"/page.html": TEST_PAGE, "/refuted.html": REFUTED_PAGE, "/reported.html": REPORTED_PAGE,
         "/declared.html": DECLARED_PAGE,
         "/clip.html": CLIP_PAGE, "/stream.html": BLOB_PAGE, "/bench.html": bench_page(300), "/bench-frame.html": bench_frame(20)}


def _loopback(url: str) -> str:
    """Only a loopback origin may be filled into a page (the second test site)."""
    return url if re.fullmatch(r"http://127\.0\.0\.1:\d{1,5}", url) else ""


def _word(value: str) -> str:
    return value if re.fullmatch(r"[A-Za-z0-9_-]{1,40}", value) else "x"


DYNAMIC = {
    "/embed.html": lambda q: EMBED_PAGE.replace("{OTHER}", _loopback(q.get("other", ""))),
    "/frame.html": lambda q: FRAME_PAGE.replace("{CASE}", _word(q.get("case", ""))),
    "/hostile.html": lambda q: HOSTILE_PAGE,
    "/privacy.html": lambda q: PRIVACY_PAGE.replace("{PHOTO}", PLAIN[int(q.get("n", "0")) % len(PLAIN)])
    .replace("{SIG}", _word(q.get("sig", "x"))),
}


class _SiteHandler(SimpleHTTPRequestHandler):
    """Test pages from PAGES; /fixtures/<path> read in place from ../shared/fixtures (never copied)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path, _, query = self.path.partition("?")
        params = dict(parse_qsl(query))
        if path in DYNAMIC:
            self._send(DYNAMIC[path](params).encode("utf-8"), "text/html; charset=utf-8")
            return
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
        self.requests: list[bytes] = []  # every request as it arrived: method, path, query and body
        self.server = make_server("127.0.0.1", port, self._recording, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _recording(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Keep what the browser sent (the privacy test looks for secrets in it), then hand it to the app."""
        from io import BytesIO

        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = BytesIO(body)
        head = f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}?{environ.get('QUERY_STRING', '')}"
        self.requests.append(head.encode() + b"\n" + b"".join(f"{k}: {v}\n".encode() for k, v in environ.items()
                                                                if k.startswith("HTTP_")) + body)
        return self.app(environ, start_response)

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


def _worker(ctx: Any) -> Any:
    return ctx.service_workers[0] if ctx.service_workers else ctx.wait_for_event("serviceworker")


def page_stats(ctx: Any, ext_id: str, site: str) -> dict[str, Any]:
    """The top frame's counts for the tab showing `site`, asked from the service worker (an extension context, as
    the popup asks; no page is opened, so the test page stays in front)."""
    return dict(_worker(ctx).evaluate("""async (pattern) => {
        const [tab] = await chrome.tabs.query({url: pattern});
        return VerifyMessages.requestTab(tab.id, 'get-page-stats', {});
    }""", site + "/*"))


def tab_labels(ctx: Any, prefix: str) -> dict[str, Any]:
    """The labels the extension shows in the tab whose URL starts with `prefix`, every frame, read from the
    extension's own storage (storage.session, written by the service worker) and the toolbar badge: the test channel.
    The page cannot read any of it."""
    return dict(_worker(ctx).evaluate("""async (prefix) => {
        const tab = (await chrome.tabs.query({})).find((t) => (t.url || '').startsWith(prefix));
        if (!tab) return {count: 0, badgeText: '', labels: []};
        const key = 'labels:' + tab.id;
        const frames = (await chrome.storage.session.get(key))[key] || [];
        const labels = [];
        for (const [frameId, frame] of frames) for (const label of frame.labels) labels.push({...label, frameId});
        return {count: labels.length, badgeText: await chrome.action.getBadgeText({tabId: tab.id}), labels};
    }""", prefix))


def wait_label(ctx: Any, prefix: str, url: str, timeout_s: float = 30, **want: Any) -> dict[str, Any]:
    """Poll the test channel until a label for `url` has every field in `want` (e.g. label="synthetic"; a callable
    value is a predicate)."""
    deadline = time.monotonic() + timeout_s
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        seen = tab_labels(ctx, prefix)["labels"]
        for label in seen:
            if label.get("url") == url and all(v(label.get(k)) if callable(v) else label.get(k) == v
                                               for k, v in want.items()):
                return label
        time.sleep(0.2)
    raise AssertionError(f"no label for {url} with {want}: {[(x.get('url'), x.get('key')) for x in seen]}")
