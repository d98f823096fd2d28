"""Bench figures for the issue-8 checks: per-check medians on photos/, OCR on rendered labels, the pipeline with and
without the learned model. `run(results)` adds {"<figure>": {"value", "unit", "target"}} entries and prints a table.

Timings are wall-clock on whatever else the machine is doing; the CPU time per image is printed beside them
because on a shared 2-core box the wall time mostly measures the neighbours.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from server.verify import CHECKS, DESCRIPTORS
from server.verify.checks import ai_detector, visible_label
from server.verify.media import load_media
from server.verify.pipeline import verify
from server.verify.types import CheckContext, Limits

from . import label_samples

SAMPLE = 40  # photos (evenly spread over photos/) per figure; the full set is in the tests
LEARNED = tuple(d.name for d in DESCRIPTORS if d.learned)
MODELS = tuple(d.name for d in DESCRIPTORS if d.onnx)  # checks that run an ONNX model


def _median_ms(fn: Callable[[], Any], items: list[Any], call: Callable[[Any], Any]) -> tuple[float, float]:
    wall, cpu = [], []
    for item in items:
        w0, c0 = time.perf_counter(), time.process_time()
        call(item)
        wall.append((time.perf_counter() - w0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def run(results: dict[str, Any]) -> None:
    ctx = CheckContext(resources={"ai_detector": ai_detector.shared(), "visible_label": visible_label.shared()})
    names = label_samples.photos()
    names = names[:: max(1, len(names) // SAMPLE)][:SAMPLE]
    media = [load_media((label_samples.FIXTURES / n).read_bytes(), Limits()) for n in names]
    rows = []

    def add(key: str, wall: float, cpu: float, target: float | None, what: str) -> None:
        results[key] = {"value": round(wall, 1), "unit": "ms", "target": target}
        rows.append((key, wall, cpu, target, what))

    for name in ("watermark", "visible_label", "ai_detector"):
        fresh = [load_media(m.data, Limits()) for m in media]  # decode counted, as in a request
        wall, cpu = _median_ms(lambda: None, fresh, lambda m, fn=CHECKS[name]: fn(m, ctx))
        add(f"{name}_median_photos", wall, cpu, 60.0 if name == "visible_label" else None,
            f"median per photo, n={len(fresh)}")
    labelled = [load_media(s.data, Limits()) for s in label_samples.positives(SAMPLE)]
    wall, cpu = _median_ms(lambda: None, labelled, lambda m: visible_label.check(m, ctx))
    add("visible_label_median_labelled", wall, cpu, 60.0, f"median per rendered label image, n={len(labelled)}")

    variants = {
        "pipeline_all_checks": dict(CHECKS),
        "pipeline_without_learned": {k: v for k, v in CHECKS.items() if k not in LEARNED},
        "pipeline_without_models": {k: v for k, v in CHECKS.items() if k not in MODELS},
    }
    for key, checks in variants.items():
        fresh = [load_media(m.data, Limits()) for m in media]
        wall, cpu = _median_ms(lambda: None, fresh, lambda m, c=checks: verify(m, ctx, c))
        add(f"{key}_median", wall, cpu, None, f"median per photo, n={len(fresh)}: {', '.join(checks)}")

    print(f"{'figure':38} {'wall ms':>9} {'cpu ms':>9} {'target':>8}  what")
    for key, wall, cpu, target, what in rows:
        print(f"{key:38} {wall:9.1f} {cpu:9.1f} {target if target is not None else '-':>8}  {what}")


if __name__ == "__main__":
    run({})
