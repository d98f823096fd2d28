"""The check runner: every signal is one module in checks/ with one `check(media, ctx) -> CheckResult`, described
once in registry.py. CHECKS, DESCRIPTIONS and LEARNED are views of that registry, kept for their many readers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from .registry import BY_NAME, DEFAULT_CHECKS, DESCRIPTORS, CheckDescriptor, CheckFn, Kind, enabled_checks
from .types import CheckContext, CheckResult, Media, MediaError, MediaKind, Outcome, Signal

__all__ = ["BY_NAME", "CHECKS", "DEFAULT_CHECKS", "DESCRIPTIONS", "DESCRIPTORS", "LEARNED", "PIPELINE_VERSION",
           "CheckDescriptor", "CheckFn", "Kind", "active_checks", "enabled_checks", "pipeline_id", "run_check",
           "run_checks"]

log = logging.getLogger(__name__)

# Every registered check, in registry order (the order of the response's "checks"); active_checks(ctx) is the subset a
# deployment runs.
CHECKS: dict[str, CheckFn] = {d.name: d.fn for d in DESCRIPTORS}
DESCRIPTIONS: dict[str, str] = {d.name: d.description for d in DESCRIPTORS}
# Learned checks: skipped once a declared check has found an AI declaration, so a model never delays a declared result.
LEARNED: frozenset[str] = frozenset(d.name for d in DESCRIPTORS if d.learned)

# Bump when the verdict rule or a check's meaning changes: cached verdicts of another pipeline are not reused.
# 5: untrusted_provenance (a signer no trust list vouches for), per-class C2PA summaries, refutations lead; the
#    checks that ran are named (some are off by default), visible text counts as what it says, damaged files.
PIPELINE_VERSION = "5"


def pipeline_id(names: tuple[str, ...] | None = None) -> str:
    """Identifies the rule and the checks that ran (default: the default set); the cache key besides the sha256."""
    return f"{PIPELINE_VERSION}:{','.join(DEFAULT_CHECKS if names is None else names)}"


def active_checks(ctx: CheckContext) -> dict[str, CheckFn]:
    """The checks this context runs (CheckContext.checks, else the default set), in registry order."""
    names = DEFAULT_CHECKS if ctx.checks is None else ctx.checks
    return {n: CHECKS[n] for n in CHECKS if n in names}


# Threads for the per-check time budget. A check that overruns is reported as an error and its thread is left to
# finish on its own (Python cannot kill a thread); input bounds keep such overruns short-lived.
_POOL = ThreadPoolExecutor(max_workers=32, thread_name_prefix="verify-check")
# Runs run_check itself when an image's checks fan out: a separate pool, so a fan-out task never waits on a worker
# of the pool it occupies.
_FANOUT = ThreadPoolExecutor(max_workers=32, thread_name_prefix="verify-fanout")


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
    """Run the active checks (or `checks`) on `media`; results in registry order; learned checks only when needed.

    Images: the pixels are decoded once here, then the declared and match checks run at the same time (OCR holds
    the GIL only between ONNX calls, so the cheap checks finish while it runs). Audio and video run one check after
    the other, because their checks share one lazily computed decode pass (av_decode.analysis).
    """
    chosen = dict(checks or active_checks(ctx))
    first = {n: fn for n, fn in chosen.items() if n not in LEARNED}
    done: dict[str, CheckResult] = {}
    if media.kind is MediaKind.IMAGE and len(first) > 1:
        try:
            media.image()  # decode once, before the checks share it
        except MediaError:
            pass  # each check reports the undecodable image itself
        futures = {n: _FANOUT.submit(run_check, n, fn, media, ctx, raise_errors) for n, fn in first.items()}
        done = {n: f.result() for n, f in futures.items()}
    else:
        done = {n: run_check(n, fn, media, ctx, raise_errors) for n, fn in first.items()}
    declared = any(r.signal is Signal.DECLARED_SYNTHETIC for r in done.values())
    for name, fn in chosen.items():
        if name not in LEARNED:
            continue
        if declared:
            done[name] = CheckResult(name, Outcome.SKIPPED, "Not run: a declared AI signal already decides the verdict.")
        else:
            done[name] = run_check(name, fn, media, ctx, raise_errors)
    return [done[n] for n in chosen]
