"""`build.py bench label_ab`: visible_label now against a baseline from git (VERIFY_BENCH_BASELINE, default `main`),
in one process, interleaved image by image, so both meet the same neighbours on a shared machine.

Prints, for both: per-photo wall and CPU medians of the check and of the default pipeline on the bench photo set;
recall on seeded labels at the corners and edge middles (label_samples.edge_labels: Chinese and English, 5-10% of
the shortest side) and on the rendered label styles (label_samples.positives) with 95% Wilson bounds; detections on
every real photo and on photos with ordinary text (false positives, with the 95% upper bound); the load average
before and after. A speed-up that loses recall shows here.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from server.verify import CHECKS, DEFAULT_CHECKS
from server.verify.checks import visible_label
from server.verify.media import load_media
from server.verify.pipeline import verify
from server.verify.types import CheckContext, Limits, Outcome, Signal

from . import label_samples
from .media_edits import upper_bound, wilson

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = 40  # bench photos, as bench_signals picks them
RECALL_N = 400  # seeded edge labels (paired: both versions read the same images)
SEED = 45438


def baseline(ref: str) -> ModuleType:
    """visible_label.py as it is at git `ref`, imported beside the current one (same package, other name)."""
    source = subprocess.run(["git", "show", f"{ref}:server/verify/checks/visible_label.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "visible_label_baseline.py"
    path.write_text(source, encoding="utf-8")
    name = "server.verify.checks.visible_label_baseline"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _timed(fn: Any) -> tuple[Any, float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, (time.perf_counter() - w0) * 1000, (time.process_time() - c0) * 1000


def _rate(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {k / max(n, 1):.1%} (95% CI {lo:.1%}-{hi:.1%})"


def run(results: dict[str, Any]) -> None:
    ref = os.environ.get("VERIFY_BENCH_BASELINE", "main")
    old_mod = baseline(ref)
    sides = {"baseline": (old_mod, old_mod.load()), "current": (visible_label, visible_label.load())}
    load_before = os.getloadavg()
    ctxs = {k: CheckContext(resources={"visible_label": r}, checks=DEFAULT_CHECKS) for k, (_, r) in sides.items()}
    pipes = {k: {**{n: CHECKS[n] for n in DEFAULT_CHECKS}, "visible_label": m.check} for k, (m, _) in sides.items()}
    names = label_samples.photos()
    bench = names[:: max(1, len(names) // SAMPLE)][:SAMPLE]
    blobs = [(label_samples.FIXTURES / n).read_bytes() for n in bench]
    for k in sides:  # warm-up
        verify(load_media(blobs[0], Limits()), ctxs[k], pipes[k])
    times: dict[str, dict[str, list[float]]] = {k: {"check_wall": [], "check_cpu": [], "pipe_wall": [], "pipe_cpu": []}
                                                for k in sides}
    for i, blob in enumerate(blobs):
        order = list(sides) if i % 2 == 0 else list(sides)[::-1]
        for k in order:
            m = load_media(blob, Limits())
            m.image()
            _, w, c = _timed(lambda: sides[k][0].check(m, ctxs[k]))
            times[k]["check_wall"].append(w)
            times[k]["check_cpu"].append(c)
        for k in order:
            m = load_media(blob, Limits())
            _, w, c = _timed(lambda: verify(m, ctxs[k], pipes[k]))
            times[k]["pipe_wall"].append(w)
            times[k]["pipe_cpu"].append(c)

    def outcome(k: str, data: bytes) -> Any:
        return sides[k][0].check(load_media(data, Limits()), ctxs[k])

    counts: dict[str, dict[str, list[int]]] = {k: {} for k in sides}
    misses: dict[str, list[str]] = {k: [] for k in sides}

    def count(k: str, what: str, hit: bool) -> None:
        counts[k].setdefault(what, [0, 0])
        counts[k][what][0] += int(hit)
        counts[k][what][1] += 1

    for s in label_samples.edge_labels(RECALL_N, SEED):
        for k in sides:
            result = outcome(k, s.data)
            declared = result.signal is Signal.DECLARED_SYNTHETIC
            count(k, "edge_labels_detected", result.outcome is Outcome.DETECTED)  # read at all (any signal)
            count(k, "edge_labels_declared", declared)
            count(k, f"edge_labels_{'zh' if any(ord(c) > 0x2E80 for c in s.text) else 'en'}", declared)
            if not declared:
                misses[k].append(f"{s.name} {s.text!r} {s.style}")
    for s in label_samples.positives(40):
        for k in sides:
            count(k, "rendered_styles_detected", outcome(k, s.data).outcome is Outcome.DETECTED)
    for s in label_samples.negatives(14):
        for k in sides:
            count(k, "ordinary_text_detected (FP)", outcome(k, s.data).outcome is Outcome.DETECTED)
    for n in names:
        data = (label_samples.FIXTURES / n).read_bytes()
        for k in sides:
            count(k, "real_photos_detected (FP)", outcome(k, data).outcome is Outcome.DETECTED)
    load_after = os.getloadavg()

    print(f"visible_label A/B, baseline = git {ref}, current = working tree; load average before "
          f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, after {load_after[0]:.2f} "
          f"{load_after[1]:.2f} {load_after[2]:.2f} (2 cores)")
    print(f"{'median per bench photo, n=' + str(len(blobs)):40} {'baseline':>12} {'current':>12}")
    for key in ("check_wall", "check_cpu", "pipe_wall", "pipe_cpu"):
        a, b = (statistics.median(times[k][key]) for k in sides)
        print(f"{key + ' ms':40} {a:12.1f} {b:12.1f}")
        results[f"label_ab_{key}_ms"] = {"value": round(b, 1), "unit": "ms", "target": 60.0 if key == "pipe_wall" else None,
                                         "baseline": round(a, 1)}
    for what in counts["current"]:
        a, b = counts["baseline"][what], counts["current"][what]
        fp = "(FP)" in what
        extra = (f"  upper95 {upper_bound(*a):.1%} / {upper_bound(*b):.1%}" if fp else "")
        print(f"{what:34} baseline {_rate(*a):38} current {_rate(*b)}{extra}")
        results[f"label_ab_{what.split()[0]}"] = {"value": round(b[0] / b[1], 4), "unit": "share", "target": None,
                                                  "n": b[1], "baseline": round(a[0] / a[1], 4)}
    for k in sides:
        print(f"{k} misses on edge labels: {misses[k][:12]}")


if __name__ == "__main__":
    run({})
