"""Issue 14: every way a page embeds media is found and labelled, in real Chromium and real Firefox ESR.

One page per browser (tests/e2e/e2e_support.py EMBED_PAGE; the media on a second origin) holds every case: inline,
style-sheet and image-set() CSS backgrounds, an open shadow root and one nested in it, <svg><image>, a video poster,
same-origin, cross-origin and srcdoc iframes (badges drawn by the frame's own content script), and a blob: stream
whose frame is checked on its own after a few seconds of playback. The page is loaded once per browser (module
fixtures); each case is its own test. Verdicts are read through the extension (its labels channel), never the page.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import launch_chromium
from e2e_support import C2PA_AI, CHROMIUM, tab_labels
from firefox_bidi import firefox_with_addon
from firefox_bidi import tab_labels as firefox_tab_labels

from buildtasks.extension import GECKO_ID

ADDON_UUID = "0b1e8d6c-3f4a-4c2e-9a77-5d0c14e2b9f1"
WAIT_S = 45
# case -> (served by the other origin?, drawn in a child frame?)
CASES = {"inline": (True, False), "sheet": (True, False), "set1x": (True, False), "shadow": (True, False),
         "nested": (True, False), "svg": (True, False), "poster": (True, False), "same": (False, True),
         "cross": (True, True), "srcdoc": (True, True)}
EXPECTED = len(CASES) + 1  # and the stream's frame check


def _done(labels: list[dict[str, Any]]) -> bool:
    return len(labels) >= EXPECTED and any(x["url"] is None and x["scope"] == "frame" for x in labels)


@pytest.fixture(scope="module")
def chromium_embed(extension_dist, verity_server, test_site, other_site, tmp_path_factory, artifacts) -> dict:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (build.py test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx, ext_id = launch_chromium(p, extension_dist["chromium"], tmp_path_factory.mktemp("embed-profile"))
        try:
            ctx.service_workers[0].evaluate(
                "u => VerifyMessages.extensionApi().storage.sync.set({settings: {serverUrl: u}})", verity_server.url)
            page = ctx.new_page()
            page.goto(f"{test_site}/embed.html?other={other_site}")
            deadline = time.monotonic() + WAIT_S
            shown = tab_labels(ctx, f"{test_site}/embed.html")
            while not _done(shown["labels"]) and time.monotonic() < deadline:
                page.wait_for_timeout(300)
                shown = tab_labels(ctx, f"{test_site}/embed.html")
            page.screenshot(path=str(artifacts / "chromium-embeddings-en.png"))
            return {"shown": shown, "site": test_site, "other": other_site, "content": page.content()}
        finally:
            ctx.close()


@pytest.fixture(scope="module")
def firefox_embed(extension_dist, verity_server, test_site, other_site, tmp_path_factory, artifacts) -> dict:
    import shutil

    from e2e_support import FIREFOX

    if not shutil.which(FIREFOX):
        pytest.skip("Debian's firefox-esr is not installed (build.py test installs it)")

    async def run() -> dict:
        profile = tmp_path_factory.mktemp("ff-embed-profile")
        async with firefox_with_addon(FIREFOX, extension_dist["firefox"], profile, {GECKO_ID: ADDON_UUID}) as (
                bidi, _, options):
            tab = (await bidi.call("browsingContext.create", {"type": "tab"}))["context"]
            await bidi.evaluate(options, "VerifyMessages.request('set-settings', "
                                         f"{{settings: {{serverUrl: {json.dumps(verity_server.url)}}}}}).then(() => 1)")
            await bidi.navigate(tab, f"{test_site}/embed.html?other={other_site}")
            deadline = time.monotonic() + WAIT_S
            shown = await firefox_tab_labels(bidi, options, f"{test_site}/embed.html")
            while not _done(shown["labels"]) and time.monotonic() < deadline:
                await asyncio.sleep(0.3)
                shown = await firefox_tab_labels(bidi, options, f"{test_site}/embed.html")
            await bidi.screenshot(tab, artifacts / "firefox-embeddings-en.png")
            content = await bidi.evaluate(tab, "document.documentElement.outerHTML")
            return {"shown": shown, "site": test_site, "other": other_site, "content": content}

    return asyncio.run(run())


def _check_case(result: dict, case: str) -> None:
    other, in_frame = CASES[case]
    url = f"{result['other'] if other else result['site']}/fixtures/{C2PA_AI}?case={case}"
    found = [x for x in result["shown"]["labels"] if x["url"] == url]
    assert found, (case, [x["url"] for x in result["shown"]["labels"]])
    label = found[0]
    assert label["label"] == "synthetic" and label["status"] == "checked", label
    assert (label["frameId"] != 0) == in_frame, label  # a frame's badges are drawn by that frame's content script
    if in_frame:
        # Inside the 240x160 iframe, at its image's corner (not at the top page's coordinates).
        assert 0 <= label["anchor"]["x"] < 240 and 0 <= label["anchor"]["y"] < 160, label
    assert label["rect"]["width"] > 0 and label["rect"]["height"] > 0


def _check_stream(result: dict) -> None:
    frames = [x for x in result["shown"]["labels"] if x["url"] is None]
    assert frames and frames[0]["scope"] == "frame" and frames[0]["status"] == "checked", frames
    assert frames[0]["frame"] == "240x160" or frames[0]["key"] == "frame_failed", frames


def _check_whole(result: dict) -> None:
    shown = result["shown"]
    assert shown["count"] == EXPECTED and shown["badgeText"] == str(EXPECTED), shown["count"]
    assert not any("case=set2x" in (x["url"] or "") for x in shown["labels"])  # image-set(): the 1x candidate
    assert "synthetic" not in result["content"]  # no verdict in the page's DOM


@pytest.mark.parametrize("case", list(CASES))
def test_chromium_embedding_labelled(chromium_embed, case: str) -> None:
    _check_case(chromium_embed, case)


def test_chromium_blob_stream_frame_checked_after_playback(chromium_embed) -> None:
    _check_stream(chromium_embed)


def test_chromium_embeddings_toolbar_count_all_frames(chromium_embed) -> None:
    _check_whole(chromium_embed)


@pytest.mark.parametrize("case", list(CASES))
def test_firefox_embedding_labelled(firefox_embed, case: str) -> None:
    _check_case(firefox_embed, case)


def test_firefox_blob_stream_frame_checked_after_playback(firefox_embed) -> None:
    _check_stream(firefox_embed)


def test_firefox_embeddings_toolbar_count_all_frames(firefox_embed) -> None:
    _check_whole(firefox_embed)
