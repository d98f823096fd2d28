"""Standalone mode in real Chromium: no server configured, the declared checks (C2PA in the WebAssembly worker of the
offscreen document, metadata labels) label a C2PA AI image, the popup says which mode is active, nothing is sent;
then a server is configured and its verdict takes over."""

from __future__ import annotations

from pathlib import Path

from e2e_support import C2PA_AI, PLAIN, tab_labels
from test_extension_chromium import TIMEOUT_MS, click_badge, configure, label_of, shadow_text


def test_chromium_standalone_no_server_synthetic_then_server_takes_over(chromium, server_factory, test_site,
                                                                        artifacts: Path) -> None:
    ctx, ext_id = chromium()
    configure(ctx, ext_id, serverUrl="")  # no server: standalone only
    page = ctx.new_page()
    page.goto(f"{test_site}/page.html")
    src = f"{test_site}/fixtures/{C2PA_AI}"
    label = label_of(page, src, label="synthetic", mode="standalone")
    assert label["status"] == "checked"
    click_badge(page, src)
    text, _ = shadow_text(page, src)
    assert "only the declared checks ran" in text and "Adobe Inc." in text, text
    page.screenshot(path=str(artifacts / "chromium-standalone-badge.png"))
    # Plain photos carry no declaration: no badge, as with a server.
    shown = {x["url"] for x in tab_labels(ctx, f"{test_site}/page.html")["labels"]}
    assert not any(f"{test_site}/fixtures/{p}" in shown for p in PLAIN)

    popup = ctx.new_page()
    popup.goto(f"chrome-extension://{ext_id}/popup/popup.html")
    popup.wait_for_selector("body[data-ready=true]", timeout=TIMEOUT_MS)
    server = popup.locator("#server")
    assert server.get_attribute("data-mode") == "standalone"
    assert "Standalone mode" in server.inner_text() and "nothing leaves" in server.inner_text()
    popup.close()

    verity = server_factory()
    configure(ctx, ext_id, serverUrl=verity.url)
    assert verity.requests == []  # nothing reached any server while standalone
    page.reload()
    label_of(page, src, label="synthetic", mode="server")
    assert any(r.startswith(b"GET /v1/verdicts/") for r in verity.requests)
