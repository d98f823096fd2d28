"""The reviewer UI in real Chromium (Debian's, driven by Playwright): sign in, adjudicate a reported fixture image into
a refutation. Screenshots go to test-artifacts/review/."""

from __future__ import annotations

import shutil
import threading
from io import BytesIO
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from media_fixtures import ROOT, fixture_path
from server import create_app
from server.verify.refutation_index import describe_original

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "review"
PASSWORD = "browser reviewer password"
IMAGE = "refutation/originals/budgie_oakland-zoo-otters.jpg"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed "
                                "(build.py test installs it)")


@pytest.fixture
def live_app(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data")})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


def test_review_browser_sign_in_and_refute_reported_image(live_app, tmp_path):
    from playwright.sync_api import sync_playwright

    app, base = live_app
    app.extensions["verity_reports"].accounts.add_user("rita", "reviewer", PASSWORD)
    client = app.test_client()
    for text in ("This is from the 2026 flood, share!", "Fake, the zoo posted this years ago"):
        r = client.post("/v1/reports", data={"file": (BytesIO(fixture_path(IMAGE).read_bytes()), "otters.jpg"),
                                             "category": "misleading_context", "text": text,
                                             "source_url": "https://social.example/p/1.jpg",
                                             "page_url": "https://social.example/p/1"},
                        content_type="multipart/form-data")
        assert r.status_code == 201
    sha256 = r.json["sha256"]
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/review/")
            assert "/review/login" in page.url
            page.fill("#name", "rita")
            page.fill("#password", PASSWORD)
            page.screenshot(path=str(ARTIFACTS / "01-sign-in.png"))
            page.click("#sign-in")
            page.wait_for_selector("table.queue")
            assert page.locator("tr.item td.count").first.inner_text() == "2"
            page.screenshot(path=str(ARTIFACTS / "02-queue.png"), full_page=True)

            page.click("tr.item a.open")
            page.wait_for_selector("#refute-form")
            assert page.locator("#media").evaluate("img => img.naturalWidth") > 0  # the reported bytes render
            assert page.locator("#report-count").inner_text().startswith("2")
            page.screenshot(path=str(ARTIFACTS / "03-item.png"), full_page=True)

            form = page.locator("#refute-form")
            form.locator("textarea[name=claim]").fill("Shows animals rescued in the 2026 flood")
            form.locator("input[name=rating]").fill("Missing context")
            form.locator("textarea[name=explanation]").fill("The zoo published this photo in 2019.")
            form.locator("input[name=original_context]").fill("https://zoo.example/2019/otters")
            form.locator("textarea[name=note]").fill("Reverse image search finds the 2019 original.")
            form.locator("button[type=submit]").click()
            page.wait_for_selector("#decision")
            assert "Shows animals rescued in the 2026 flood" in page.locator("#refutation").inner_text()
            page.screenshot(path=str(ARTIFACTS / "04-refuted.png"), full_page=True)

            page.goto(f"{base}/review/?status=refuted&lang=zh")
            page.wait_for_selector("table.queue")
            assert "已辟谣" in page.content()
            page.screenshot(path=str(ARTIFACTS / "05-queue-zh.png"), full_page=True)

            page.click("#sign-out")
            page.wait_for_selector("#sign-in")
            page.goto(f"{base}/review/")
            assert "/review/login" in page.url
        finally:
            browser.close()

    storage = app.extensions["verify"].storage
    media = storage.refuted_media(sha256=sha256)
    _, imported = describe_original(fixture_path(IMAGE).read_bytes(), app.extensions["verify"].settings.limits)
    assert len(media) == 1 and media[0].hashes == imported.hashes  # the one ingestion path's hash family
    refutation = storage.get_refutation(media[0].refutation_id)
    assert refutation.rating == "Missing context" and refutation.original_context == "https://zoo.example/2019/otters"
    assert app.extensions["verity_audit"].verify().ok
