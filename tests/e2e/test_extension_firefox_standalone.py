"""Standalone mode in real Firefox ESR (WebDriver BiDi): with no server the background page's C2PA worker labels the
C2PA AI image; the worker's own pixel decoder reads NovelAI stealth metadata; once a server is configured, its verdict
takes over on the next visit."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from e2e_support import C2PA_AI, STEALTH
from firefox_bidi import firefox_with_addon, tab_labels

from buildtasks.extension import GECKO_ID

ADDON_UUID = "5f0c2a4e-7d1b-4e59-9c3a-0b6f1d2e8a48"
POLL_S = 0.25
WAIT_S = 60


async def _label(bidi: Any, options: str, page_url: str, src: str, mode: str) -> dict | None:
    label = None
    for _ in range(int(WAIT_S / POLL_S)):
        shown = await tab_labels(bidi, options, page_url)
        label = next((x for x in shown["labels"] if x["url"] == src and x.get("mode") == mode), None)
        if label:
            return label
        await asyncio.sleep(POLL_S)
    return label


STEALTH_JS = """(async () => {
  const { createEngine } = await import('/standalone/engine.js');
  const bytes = new Uint8Array(await (await fetch(%s)).arrayBuffer());
  const response = await createEngine().check(bytes, 'image/png', null);
  const labels = response.checks.find((c) => c.check === 'metadata_labels');
  return JSON.stringify({label: response.verdict.label, kinds: labels.evidence.findings.map((f) => f.kind),
                         notes: labels.evidence.notes});
})()"""


async def _run(firefox: str, ext_dir: Path, server_url: str, page_url: str, src: str, profile: Path,
               shot: Path, stealth_url: str) -> dict:
    async with firefox_with_addon(firefox, ext_dir, profile, {GECKO_ID: ADDON_UUID}) as (bidi, installed, options):
        context = (await bidi.call("browsingContext.create", {"type": "tab"}))["context"]
        await bidi.evaluate(options, "VerifyMessages.request('set-settings', {settings: {serverUrl: ''}}).then(() => true)")
        await bidi.navigate(context, page_url)
        standalone = await _label(bidi, options, page_url, src, "standalone")
        stealth = json.loads(await bidi.evaluate(options, STEALTH_JS % json.dumps(stealth_url)))
        await bidi.screenshot(context, shot)
        await bidi.evaluate(options, "VerifyMessages.request('set-settings', "
                                     f"{{settings: {{serverUrl: {json.dumps(server_url)}}}}}).then(() => true)")
        await bidi.navigate(context, page_url)
        server = await _label(bidi, options, page_url, src, "server")
        return {"extension": installed, "standalone": standalone, "server": server, "stealth": stealth}


def test_firefox_standalone_synthetic_then_server_takes_over(firefox_binary, extension_dist, server_factory,
                                                             test_site, tmp_path: Path, artifacts: Path) -> None:
    verity = server_factory()
    result = asyncio.run(_run(firefox_binary, extension_dist["firefox"], verity.url, f"{test_site}/page.html",
                              f"{test_site}/fixtures/{C2PA_AI}", tmp_path / "ff-profile",
                              artifacts / "firefox-standalone.png", f"{test_site}/fixtures/{STEALTH}"))
    assert result["extension"] == GECKO_ID
    assert result["standalone"] and result["standalone"]["label"] == "synthetic", result
    assert result["server"] and result["server"]["label"] == "synthetic", result
    assert "novelai_stealth_pnginfo_alpha" in result["stealth"]["kinds"], result["stealth"]
    assert any(r.startswith(b"GET /v1/verdicts/") for r in verity.requests)
