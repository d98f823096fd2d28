"""A minimal WebDriver BiDi client for headless Firefox ESR (no geckodriver: Firefox speaks BiDi itself).

Used by the Firefox test: start firefox-esr with --remote-debugging-port, open a session, install the add-on
temporarily (webExtension.install), navigate, evaluate, screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import websockets

# Quiet, offline-friendly profile; the add-on's internal UUID is pinned so its pages have a known moz-extension:// URL.
PREFS: dict[str, Any] = {
    "app.update.enabled": False,
    "app.normandy.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "browser.newtabpage.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.region.network.url": "",
    "browser.search.update": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.blocklist.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/",
    "remote.prefs.recommended": True,
}


class BiDi:
    """One BiDi session over a websocket; `call(method, params)` returns the result or raises on error."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0

    async def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        await self.ws.send(json.dumps({"id": my_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), max(0.1, deadline - time.monotonic()))
            msg = json.loads(raw)
            if msg.get("id") != my_id:
                continue  # events
            if msg.get("type") == "error":
                raise RuntimeError(f"{method}: {msg.get('error')}: {msg.get('message')}")
            return msg["result"]

    async def evaluate(self, context: str, expression: str) -> Any:
        result = await self.call("script.evaluate", {"expression": expression, "target": {"context": context},
                                                     "awaitPromise": True})
        if result.get("type") == "exception":
            raise RuntimeError(f"script error: {result['exceptionDetails'].get('text')}")
        return _value(result["result"])

    async def navigate(self, context: str, url: str) -> None:
        await self.call("browsingContext.navigate", {"context": context, "url": url, "wait": "complete"})

    async def screenshot(self, context: str, path: Path) -> None:
        result = await self.call("browsingContext.captureScreenshot", {"context": context})
        path.write_bytes(base64.b64decode(result["data"]))


def _value(remote: dict[str, Any]) -> Any:
    """A BiDi RemoteValue as plain Python (primitives, arrays, objects)."""
    kind = remote.get("type")
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "number", "boolean"):
        return remote.get("value")
    if kind == "array":
        return [_value(v) for v in remote.get("value", [])]
    if kind == "object":
        return {k if isinstance(k, str) else _value(k): _value(v) for k, v in remote.get("value", [])}
    return remote


def write_profile(profile: Path, extra: dict[str, Any]) -> None:
    profile.mkdir(parents=True, exist_ok=True)
    lines = [f"user_pref({json.dumps(k)}, {json.dumps(v)});" for k, v in {**PREFS, **extra}.items()]
    (profile / "user.js").write_text("\n".join(lines) + "\n", encoding="utf-8")


async def connect(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> Any:
    """Wait for Firefox's BiDi endpoint and open a session."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"firefox exited with {proc.returncode}")
        try:
            return await websockets.connect(f"ws://127.0.0.1:{port}/session", max_size=64 * 1024 * 1024)
        except OSError as err:
            last = err
            await asyncio.sleep(0.2)
    raise RuntimeError(f"Firefox's WebDriver BiDi endpoint did not come up: {last}")


@contextlib.asynccontextmanager
async def firefox_with_addon(firefox: str, ext_dir: Path, profile: Path, uuids: dict[str, str],
                             wait_s: float = 45) -> AsyncIterator[tuple[BiDi, str, str]]:
    """Headless Firefox with the add-on installed temporarily: yields (bidi, installed add-on id, options context).

    On first install the add-on opens its options page (BiDi may not navigate to moz-extension:// URLs), which then
    serves as the extension context that tests ask through (settings, the labels channel)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    write_profile(profile, {"extensions.webextensions.uuids": json.dumps(uuids)})
    proc = subprocess.Popen([firefox, "--headless", "--no-remote", "--profile", str(profile),
                             f"--remote-debugging-port={port}", "--remote-allow-hosts=127.0.0.1", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ws = await connect(port, proc)
        async with ws:
            bidi = BiDi(ws)
            await bidi.call("session.new", {"capabilities": {}})
            installed = await bidi.call("webExtension.install",
                                        {"extensionData": {"type": "path", "path": str(ext_dir)}})
            options = None
            tree: dict[str, Any] = {}
            for _ in range(int(wait_s / 0.25)):
                tree = await bidi.call("browsingContext.getTree", {})
                options = next((c["context"] for c in tree["contexts"] if c["url"].startswith("moz-extension://")), None)
                if options and await bidi.evaluate(options, "document.body.dataset.ready === 'true'"):
                    break
                await asyncio.sleep(0.25)
            assert options, tree
            yield bidi, str(installed.get("extension")), options
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


async def tab_labels(bidi: BiDi, options: str, prefix: str) -> dict[str, Any]:
    """The extension's labels in the tab whose URL starts with `prefix`, asked from the options page (the popup's
    channel). Tabs are filtered here: Firefox's match patterns cannot name a port."""
    return dict(await bidi.evaluate(options, f"""(async () => {{
        const tab = (await browser.tabs.query({{}})).find((t) => (t.url || '').startsWith({json.dumps(prefix)}));
        return tab ? VerifyMessages.request('get-tab-labels', {{tabId: tab.id}}) : {{count: 0, labels: []}};
    }})()"""))
