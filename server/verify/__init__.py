"""The check runner: every signal is one module in checks/ with one `check(media, ctx) -> CheckResult`, described
once in registry.py. CHECKS, DESCRIPTIONS and LEARNED are views of that registry, kept for their many readers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from .registry import BY_NAME, DESCRIPTORS, CheckDescriptor, CheckFn, Kind
from .types import CheckContext, CheckResult, Media, Outcome, Signal

__all__ = ["BY_NAME", "CHECKS", "DESCRIPTIONS", "DESCRIPTORS", "LEARNED", "PIPELINE_VERSION", "CheckDescriptor",
           "CheckFn", "Kind", "pipeline_id", "run_check", "run_checks"]

log = logging.getLogger(__name__)

# In registry order: the order of the response's "checks".
CHECKS: dict[str, CheckFn] = {d.name: d.fn for d in DESCRIPTORS}
DESCRIPTIONS: dict[str, str] = {d.name: d.description for d in DESCRIPTORS}
# Learned checks: skipped once a declared check has found an AI declaration, so a model never delays a declared result.
LEARNED: frozenset[str] = frozenset(d.name for d in DESCRIPTORS if d.learned)

# Bump when the verdict rule or a check's meaning changes: cached verdicts of another pipeline are not reused.
# 5: untrusted_provenance (a signer no trust list vouches for), per-class C2PA summaries, refutations lead.
PIPELINE_VERSION = "5"


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
