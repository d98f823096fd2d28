"""Real-browser fixtures: the built extension, a real Verity server and a local test site, both on loopback.

Chromium is Debian's /usr/bin/chromium driven by Playwright (persistent context, the extension loaded unpacked);
see ../shared/notes/browser-tests.md. Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, FIREFOX, REFUTATION_TOKEN, ServerThread, start_site

from buildtasks import extension as extension_build


@pytest.fixture(scope="session")
def extension_dist() -> dict[str, Path]:
    return extension_build.build()


@pytest.fixture(scope="session")
def verity_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    server = ServerThread(tmp_path_factory.mktemp("verity-data"))
    yield server
    server.stop()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerThread]]:
    """Start a fresh server, with its own data folder, on a given port (0: any) with extra configuration. Refutation
    writes are enabled with REFUTATION_TOKEN."""
    started: list[ServerThread] = []

    def start(port: int = 0, **config: Any) -> ServerThread:
        server = ServerThread(tmp_path / f"data-{len(started)}", port, REFUTATION_TOKEN=REFUTATION_TOKEN, **config)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def test_site() -> Iterator[str]:
    httpd, url = start_site()
    yield url
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def launch_chromium(p: Any, ext: Path, profile: Path, lang: str = "en-US") -> tuple[Any, str]:
    """Chromium with the extension at `ext` loaded, a fresh profile; returns (context, extension id)."""
    ctx = p.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, locale=lang,
        viewport={"width": 1100, "height": 800},
        args=[*CHROMIUM_FLAGS, f"--lang={lang}", f"--disable-extensions-except={ext}", f"--load-extension={ext}"],
    )
    sw = ctx.service_workers[0] if ctx.service_workers else ctx.wait_for_event("serviceworker")
    ext_id = sw.url.split("/")[2]
    assert ext_id == extension_build.CHROMIUM_ID  # pinned by the manifest's "key"
    # A first install opens the options page; close it so the test's own tab stays in front (background tabs
    # get no IntersectionObserver updates).
    options_url = f"chrome-extension://{ext_id}/options/options.html"
    for _ in range(150):
        options = next((pg for pg in ctx.pages if pg.url == options_url), None)
        if options is not None:
            options.close()
            break
        ctx.pages[0].wait_for_timeout(100)
    else:
        raise AssertionError(f"the options page did not open on install: {[pg.url for pg in ctx.pages]}")
    return ctx, ext_id


@pytest.fixture
def chromium(extension_dist: dict[str, Path], tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """launch(lang="en-US") -> (context, extension_id): Chromium with dist/chromium loaded, a fresh profile each time."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (build.py test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        contexts = []

        def launch(lang: str = "en-US") -> tuple[Any, str]:
            ctx, ext_id = launch_chromium(p, extension_dist["chromium"], tmp_path / f"profile-{len(contexts)}", lang)
            contexts.append(ctx)
            return ctx, ext_id

        yield launch
        for ctx in contexts:
            ctx.close()


@pytest.fixture(scope="session")
def other_site() -> Iterator[str]:
    """A second origin (another port) serving the same pages and fixtures: cross-origin media and iframes."""
    httpd, url = start_site()
    yield url
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def firefox_binary() -> str:
    if not shutil.which(FIREFOX):
        pytest.skip("Debian's firefox-esr is not installed (build.py test installs it)")
    return FIREFOX
