"""Standalone mode in real Chromium: no server configured, the declared checks (C2PA in the WebAssembly worker of the
offscreen document, metadata labels) label a C2PA AI image, the popup says which mode is active, nothing is sent;
then a server is configured and its verdict takes over."""

from __future__ import annotations

from pathlib import Path

from e2e_support import C2PA_AI, PLAIN, STEALTH, tab_labels
from test_extension_chromium import TIMEOUT_MS, click_badge, configure, label_of, shadow_text


def test_chromium_standalone_no_server_synthetic_then_server_takes_over(chromium, server_factory, test_site,
                                                                        artifacts: Path) -> None:
    ctx, ext_id = chromium()
    # The options page takes an empty server URL (= standalone mode) and says what it means.
    options = ctx.new_page()
    options.goto(f"chrome-extension://{ext_id}/options/options.html")
    options.wait_for_selector("body[data-ready=true]")
    assert options.locator("#serverMode").get_attribute("data-mode") == "server"
    options.fill("#serverUrl", "")
    assert options.locator("#serverMode").get_attribute("data-mode") == "standalone"
    assert "Nothing leaves the browser" in options.locator("#serverMode").inner_text()
    options.click("button[type=submit]")
    options.wait_for_selector("#status:not(.error):not(:empty)")
    options.wait_for_selector("#keyStatus[data-state=standalone]")
    assert options.evaluate("VerifyMessages.request('get-settings', {})")["settings"]["serverUrl"] == ""
    options.screenshot(path=str(artifacts / "chromium-options-standalone.png"))
    # NovelAI stealth metadata (alpha-channel LSBs): the worker decodes the pixels itself (createImageBitmap +
    # OffscreenCanvas, check.js decodeAlphaWith), so the finding the server makes is made in the browser too.
    stealth = options.evaluate("""async (url) => {
        const { createEngine } = await import('/standalone/engine.js');
        const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
        const response = await createEngine().check(bytes, 'image/png', null);
        const labels = response.checks.find((c) => c.check === 'metadata_labels');
        return {label: response.verdict.label, kinds: labels.evidence.findings.map((f) => f.kind),
                notes: labels.evidence.notes};
    }""", f"{test_site}/fixtures/{STEALTH}")
    assert "novelai_stealth_pnginfo_alpha" in stealth["kinds"] and stealth["label"] == "synthetic", stealth
    options.close()
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
    popup = ctx.new_page()
    popup.goto(f"chrome-extension://{ext_id}/popup/popup.html")
    popup.wait_for_selector("body[data-ready=true]", timeout=TIMEOUT_MS)
    server = popup.locator("#server")
    assert server.get_attribute("data-mode") == "server" and server.get_attribute("data-reachable") == "true"
    assert verity.url in server.inner_text() and "Standalone" not in server.inner_text()
    popup.close()
