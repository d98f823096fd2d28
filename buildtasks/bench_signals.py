"""Bench figures for the image checks: per-check medians on photos/, OCR on rendered labels, the default pipeline
(and with the off-by-default learned checks), and the time to label a 300-image feed page. `run(results)` adds {"<figure>": {"value", "unit", "target"}} entries and prints a table.

Timings are wall-clock on whatever else the machine is doing; the CPU time per image is printed beside them
because on a shared 2-core box the wall time mostly measures the neighbours.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from server import config as defaults
from server.verify import CHECKS, DEFAULT_CHECKS, DESCRIPTORS
from server.verify.checks import ai_detector, visible_label
from server.verify.media import load_media
from server.verify.pipeline import verify
from server.verify.types import CheckContext, Limits

from . import label_samples

SAMPLE = 40  # photos (evenly spread over photos/) per figure; the full set is in the tests
OFF_BY_DEFAULT = tuple(d.name for d in DESCRIPTORS if not d.default)


def _median_ms(fn: Callable[[], Any], items: list[Any], call: Callable[[Any], Any]) -> tuple[float, float]:
    wall, cpu = [], []
    for item in items:
        w0, c0 = time.perf_counter(), time.process_time()
        call(item)
        wall.append((time.perf_counter() - w0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(wall), statistics.median(cpu)


PAGE = 300  # images on the feed page the extension labels


def run(results: dict[str, Any]) -> None:
    ctx = CheckContext(resources={"ai_detector": ai_detector.shared(), "visible_label": visible_label.shared()},
                       checks=DEFAULT_CHECKS)
    names = label_samples.photos()
    names = names[:: max(1, len(names) // SAMPLE)][:SAMPLE]
    media = [load_media((label_samples.FIXTURES / n).read_bytes(), Limits()) for n in names]
    rows = []

    def add(key: str, wall: float, cpu: float, target: float | None, what: str) -> None:
        results[key] = {"value": round(wall, 1), "unit": "ms", "target": target, "cpu_ms": round(cpu, 1)}
        rows.append((key, wall, cpu, target, what))

    fresh = [load_media(m.data, Limits()) for m in media]
    wall, cpu = _median_ms(lambda: None, fresh, lambda m: m.image())
    add("decode_median_photos", wall, cpu, None, f"Media.image() per photo, n={len(fresh)} (shared by the checks)")
    for name in (*DEFAULT_CHECKS, *OFF_BY_DEFAULT):
        decoded = [load_media(m.data, Limits()) for m in media]
        for m in decoded:
            m.image()
        wall, cpu = _median_ms(lambda: None, decoded, lambda m, fn=CHECKS[name]: fn(m, ctx))
        off = " (off by default)" if name in OFF_BY_DEFAULT else ""
        add(f"{name}_median_photos", wall, cpu, 60.0 if name == "visible_label" else None,
            f"median per decoded photo, n={len(decoded)}{off}")
    labelled = [load_media(s.data, Limits()) for s in label_samples.positives(SAMPLE)]
    wall, cpu = _median_ms(lambda: None, labelled, lambda m: visible_label.check(m, ctx))
    add("visible_label_median_labelled", wall, cpu, 60.0, f"median per rendered label image, n={len(labelled)}")

    variants = {
        "pipeline_default": (ctx, f"the default checks ({len(DEFAULT_CHECKS)}), independent ones in parallel"),
        "pipeline_with_learned": (dataclasses.replace(ctx, checks=(*DEFAULT_CHECKS, *OFF_BY_DEFAULT)),
                                  "plus " + ", ".join(OFF_BY_DEFAULT) + " (VERIFY_EXTRA_CHECKS)"),
    }
    for key, (vctx, what) in variants.items():
        fresh = [load_media(m.data, Limits()) for m in media]
        wall, cpu = _median_ms(lambda: None, fresh, lambda m, c=vctx: verify(m, c))
        add(f"{key}_median", wall, cpu, 60.0 if key == "pipeline_default" else None,
            f"median per photo incl. decode, n={len(fresh)}: {what}")

    # A 300-image feed page: every image verified (nothing cached), as one server process does it with
    # MAX_CONCURRENT_VERIFIES pipeline slots.
    slots = int(defaults.MAX_CONCURRENT_VERIFIES)
    page = [load_media(media[i % len(media)].data, Limits()) for i in range(PAGE)]
    w0, c0 = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=slots) as pool:
        list(pool.map(lambda m: verify(m, ctx), page))
    page_s, page_cpu = time.perf_counter() - w0, time.process_time() - c0
    results["page_300_label_s"] = {"value": round(page_s, 1), "unit": "s", "target": None,
                                   "cpu_s": round(page_cpu, 1)}

    print(f"{'figure':38} {'wall ms':>9} {'cpu ms':>9} {'target':>8}  what")
    for key, wall, cpu, target, what in rows:
        print(f"{key:38} {wall:9.1f} {cpu:9.1f} {target if target is not None else '-':>8}  {what}")
    print(f"{'page_300_label_s':38} {page_s:8.1f}s {page_cpu:8.1f}s {'-':>8}  {PAGE} photos, nothing cached, "
          f"{slots} pipeline slots (one server process), default checks")


if __name__ == "__main__":
    run({})
