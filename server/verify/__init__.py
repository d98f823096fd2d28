"""The check registry and the runner: every signal is one module with one `check(media, ctx) -> CheckResult`.

Adding a check: a module in this package, a line in CHECKS (and DESCRIPTIONS), a fixture and a test module;
tests/verify/test_contract.py picks it up automatically.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from . import (ai_detector, av_labels, c2pa_manifest, clip_match, debunked_match, metadata_labels, speech_detector,
               visible_label, watermark)
from . import keyframes
from .types import CheckContext, CheckResult, Media, Outcome, Signal

log = logging.getLogger(__name__)

CheckFn = Callable[[Media, CheckContext], CheckResult]

# Strongest signals first: the order is the order of the response's "checks". Declared checks (provenance, labels,
# watermarks) come before the learned ones (ai_detector), so they run first; each check has its own timeout and
# exception isolation in run_check, so a slow or failing model cannot change a declared result.
CHECKS: dict[str, CheckFn] = {
    "c2pa_manifest": c2pa_manifest.check,
    "metadata_labels": metadata_labels.check,
    "av_labels": av_labels.check,
    "watermark": watermark.check,
    "visible_label": visible_label.check,
    "debunked_match": debunked_match.check,
    "clip_match": clip_match.check,
    "keyframes": keyframes.check,  # video keyframes through the image checks (OCR and detector on a subset)
    "ai_detector": ai_detector.check,  # learned: after every declared check
    "speech_detector": speech_detector.check,  # learned
}

# Learned checks: skipped once a declared check has found an AI declaration, so a model never delays a declared result.
LEARNED: frozenset[str] = frozenset({"ai_detector", "speech_detector"})

DESCRIPTIONS: dict[str, str] = {
    "c2pa_manifest": c2pa_manifest.DESCRIPTION,
    "metadata_labels": metadata_labels.DESCRIPTION,
    "av_labels": av_labels.DESCRIPTION,
    "watermark": watermark.DESCRIPTION,
    "visible_label": visible_label.DESCRIPTION,
    "debunked_match": debunked_match.DESCRIPTION,
    "clip_match": clip_match.DESCRIPTION,
    "keyframes": keyframes.DESCRIPTION,
    "ai_detector": ai_detector.DESCRIPTION,
    "speech_detector": speech_detector.DESCRIPTION,
}

# Bump when the verdict rule or a check's meaning changes: cached verdicts of another pipeline are not reused.
PIPELINE_VERSION = "4"


def pipeline_id() -> str:
    """Identifies the rule and checks that produced a verdict; the cache key besides the sha256."""
    return f"{PIPELINE_VERSION}:{','.join(CHECKS)}"


# Threads for the per-check time budget. A check that overruns is reported as an error and its thread is left to
# finish on its own (Python cannot kill a thread); input bounds keep such overruns short-lived.
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="verify-check")


def run_check(name: str, fn: CheckFn, media: Media, ctx: CheckContext, raise_errors: bool = False) -> CheckResult:
    """Run one check in isolation: an exception or an overrun becomes Outcome.ERROR, never an HTTP error."""
    started = time.perf_counter()
    future = _POOL.submit(fn, media, ctx)
    try:
        result = future.result(timeout=ctx.limits.check_timeout_s)
    except FutureTimeout:
        log.warning("check %s exceeded %.1fs on %s", name, ctx.limits.check_timeout_s, media.sha256)
        return CheckResult(name, Outcome.ERROR, f"The check did not finish within {ctx.limits.check_timeout_s:g} s.",
                           evidence={"error": "timeout"})
    except Exception as exc:
        log.exception("check %s failed on %s", name, media.sha256)
        if raise_errors:
            raise
        return CheckResult(name, Outcome.ERROR, "The check failed on this file.",
                           evidence={"error": type(exc).__name__, "message": str(exc)[:300]})
    log.debug("check %s: %s in %.1f ms", name, result.outcome, (time.perf_counter() - started) * 1000)
    return result


def run_checks(media: Media, ctx: CheckContext, checks: Mapping[str, CheckFn] | None = None,
               raise_errors: bool = False) -> list[CheckResult]:
    """Run every registered check (or `checks`) on `media`, in registry order; learned checks only when needed."""
    results: list[CheckResult] = []
    for name, fn in (checks or CHECKS).items():
        if name in LEARNED and any(r.signal is Signal.DECLARED_SYNTHETIC for r in results):
            results.append(CheckResult(name, Outcome.SKIPPED, "Not run: a declared AI signal already decides the verdict."))
            continue
        results.append(run_check(name, fn, media, ctx, raise_errors))
    return results
