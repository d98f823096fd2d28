"""Fuzz targets: untrusted bytes through the paths the API runs on them. Each target is `one_input(data)`, which
returns normally for any input Verity handles as designed (including a clean refusal) and raises for a bug.

    image   load_media -> Media.image() (the bounded decode) -> every check but the two ONNX models, called directly
    av      load_media -> av_decode.probe -> av_decode.analysis (the one streaming pass) -> the same checks
    claims  JSON-LD bytes -> claims.import_document into a temporary SQLite store (contentUrls resolve to fixture
            bytes held in memory; nothing is fetched), then the same document through POST /v1/refutations

"Handled as designed" means: the media raises only MediaError (415/422/413 at the edge), a check returns a
CheckResult and never raises (a check's exception is a bug that the API would hide as outcome "error"), the import
raises only ClaimsError, and the API answers below 500. The two learned checks (ai_detector, visible_label) are left
out for speed (about 100-300 ms a call); they read the same decoded pixels that the image target fuzzes.

Run through `python3 build.py fuzz` (buildtasks/fuzz.py); tests/test_fuzz_regressions.py replays findings through
the same functions. `python -m buildtasks.fuzz_targets TARGET [libFuzzer args]` runs one target under atheris.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"

# Checks that run model inference: skipped by the fuzz targets (see the module docstring).
def _model_checks() -> frozenset[str]:
    from server.verify import DESCRIPTORS

    return frozenset(d.name for d in DESCRIPTORS if d.onnx)

# Tighter bounds than the server defaults, so one input cannot take more than a few seconds; libFuzzer's -timeout
# catches anything that overruns them (a hang the bounds do not cover).
FUZZ_LIMITS: dict[str, Any] = {"max_bytes": 4 * 1024 * 1024, "max_pixels": 20_000_000, "check_timeout_s": 20.0,
                               "max_duration_s": 600.0, "max_decode_s": 10.0}

_state: dict[str, Any] = {}


def _context() -> tuple[Any, Any]:
    """(limits, CheckContext) on a temporary data folder, built once per process."""
    if "ctx" not in _state:
        from server import build_state, load_config
        from server.verify.types import CheckContext, Limits

        tmp = tempfile.mkdtemp(prefix="verity-fuzz-")
        state = build_state(load_config({"DATA_DIR": tmp, "LOAD_MODELS": False}))
        limits = Limits(**FUZZ_LIMITS)
        _state["tmp"], _state["verify_state"] = tmp, state
        _state["limits"] = limits
        _state["ctx"] = CheckContext(limits=limits, c2pa_settings_json=state.ctx.c2pa_settings_json,
                                     resources=state.ctx.resources)
    return _state["limits"], _state["ctx"]


def _run_checks(media: Any, ctx: Any) -> None:
    from server.verify import CHECKS
    from server.verify.types import CheckResult

    skipped = _model_checks()
    for name, fn in CHECKS.items():
        if name in skipped:
            continue
        result = fn(media, ctx)  # in this thread, no timeout wrapper: an exception or a hang is the finding
        if not isinstance(result, CheckResult):
            raise AssertionError(f"check {name} returned {type(result).__name__}")
        json.dumps(result.to_json())  # the evidence must be JSON-safe


def image(data: bytes) -> None:
    """Bytes -> Media -> decoded pixels -> checks."""
    from server.verify.media import load_media
    from server.verify.types import MediaError, MediaKind

    limits, ctx = _context()
    try:
        media = load_media(data, limits)
        if media.kind is not MediaKind.IMAGE:
            return
        media.image()
    except MediaError:
        return
    _run_checks(media, ctx)


def av(data: bytes) -> None:
    """Bytes -> Media -> probe -> the streaming pass -> checks."""
    from server.verify import av_decode
    from server.verify.media import load_media
    from server.verify.types import MediaError, MediaKind

    limits, ctx = _context()
    try:
        media = load_media(data, limits)
        if media.kind is MediaKind.IMAGE:
            return
        av_decode.probe(media.data, limits)
        av_decode.analysis(media)
    except MediaError:
        return
    _run_checks(media, ctx)


def _claims_media() -> list[bytes]:
    """A few small fixture files that contentUrls resolve to (read once)."""
    if "claims_media" not in _state:
        names = ["photos/expected.json"]  # not media: exercises the unreadable-media path
        picks = sorted((FIXTURES / "refutation" / "originals").glob("*.jpg"), key=lambda p: p.stat().st_size)[:2]
        _state["claims_media"] = [(FIXTURES / n).read_bytes() for n in names] + [p.read_bytes() for p in picks]
    return _state["claims_media"]


def _app() -> Any:
    if "app" not in _state:
        from server import create_app

        _state["app"] = create_app({"DATA_DIR": tempfile.mkdtemp(prefix="verity-fuzz-app-"), "LOAD_MODELS": False,
                                    "REFUTATION_TOKEN": "fuzz", "TESTING": False})
        _state["client"] = _state["app"].test_client()
    return _state["client"]


def claims(data: bytes) -> None:
    """JSON-LD bytes -> import (validate, read media, one transaction) -> the API's add endpoint."""
    from server import jsonio
    from server.refutations.claims import ClaimsError, import_document
    from server.refutations.ingest import RefutationIngest

    limits, _ = _context()
    try:
        doc = jsonio.loads(data)  # as `build.py claims import` reads it
    except jsonio.JSONInputError:
        return
    media = _claims_media()

    def fetch(url: str) -> bytes:
        if not isinstance(url, str) or not url:
            raise ClaimsError("empty url")
        return media[sum(url.encode("utf-8", "surrogatepass")) % len(media)]

    try:
        state = _state["verify_state"]
        import_document(doc, fetch, RefutationIngest(state.storage, state.ingest.matcher, limits))
    except ClaimsError:
        pass
    response = _app().post("/v1/refutations", data=data, content_type="application/json",
                           headers={"Authorization": "Bearer fuzz"})
    if response.status_code >= 500:
        raise AssertionError(f"POST /v1/refutations answered {response.status_code}: {response.get_data()[:300]!r}")


TARGETS: dict[str, Callable[[bytes], None]] = {"image": image, "av": av, "claims": claims}


def main() -> None:
    """`python -m buildtasks.fuzz_targets TARGET [libFuzzer args...]`: run one target under atheris."""
    import atheris

    name = sys.argv[1]
    if name not in TARGETS:
        raise SystemExit(f"unknown fuzz target {name!r}; known: {list(TARGETS)}")
    # Coverage feedback from Verity's own code and Pillow's pure-Python parsers (FFmpeg and c2pa are native).
    with atheris.instrument_imports(include=["server", "PIL"]):
        import server.refutations.claims  # noqa: F401
        import server.verify  # noqa: F401
        from PIL import Image

        Image.init()
    _context()
    argv0 = os.environ.get("VERITY_FUZZ_ARGV0", sys.argv[0])  # fork mode re-runs it (see buildtasks/fuzz.py)
    atheris.Setup([argv0, *sys.argv[2:]], TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
