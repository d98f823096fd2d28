"""`build.py bench`: speed figures, printed as a table and written to bench-results.json.

Each figure is {"value", "unit", "target"}; topic modules (buildtasks/bench_<topic>.py) add theirs through
`run(results)`. `build.py bench spine` (or any topic names) runs only those topics.
"""

from __future__ import annotations

import importlib
import io
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
RESULTS = ROOT / "bench-results.json"

# topic -> module with run(results); "spine" is this module.
TOPICS: dict[str, str] = {
    "spine": "buildtasks.bench",
    "signals": "buildtasks.bench_signals",
    "refutation": "buildtasks.bench_refutation",
    "media": "buildtasks.bench_media",
    "extension": "buildtasks.bench_extension",
}

# Topics run only when named: `build.py bench --load` (or `build.py bench load`) starts a server for a minute.
ON_DEMAND: dict[str, str] = {"load": "buildtasks.bench_load", "index_scale": "buildtasks.bench_index_scale",
                             "storage": "buildtasks.bench_storage", "media_memory": "buildtasks.bench_media_memory",
                             "label_ab": "buildtasks.bench_label_ab", "declared": "buildtasks.bench_declared"}

Results = dict[str, dict[str, Any]]


def figure(results: Results, name: str, value: float, unit: str, target: str | None = None) -> None:
    results[name] = {"value": round(value, 4), "unit": unit, "target": target}


def _median_ms(fn, repeats: int = 1) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


def run(results: Results) -> None:
    """The spine: the declared-metadata pipeline (C2PA + metadata labels, with the image decode) per photo vs Pillow's
    full decode, and the cached repeat server-side. The other checks' costs are the "signals" topic."""
    from server import create_app
    from server.verify.media import load_media
    from server.verify import CHECKS
    from server.verify.pipeline import verify

    spine_checks = {name: CHECKS[name] for name in ("c2pa_manifest", "metadata_labels")}

    photos = sorted((FIXTURES / "photos").glob("*.jpg"))
    blobs = [p.read_bytes() for p in photos]
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATA_DIR": tmp})
        state = app.extensions["verify"]
        for blob in blobs[:3]:  # warm-up: imports, c2pa library, thread pool
            verify(load_media(blob, state.settings.limits), state.ctx, spine_checks)
        decode, pipeline = [], []
        for blob in blobs:
            decode.append(_median_ms(lambda: Image.open(io.BytesIO(blob)).convert("RGB"), 3))

            def full() -> None:
                media = load_media(blob, state.settings.limits)
                media.image()
                verify(media, state.ctx, spine_checks)

            pipeline.append(_median_ms(full, 3))
        client = app.test_client()
        cached = []
        for blob in blobs[:40]:
            client.post("/v1/verify", data=blob, content_type="image/jpeg")
            started = time.perf_counter()
            response = client.post("/v1/verify", data=blob, content_type="image/jpeg")
            cached.append((time.perf_counter() - started) * 1000)
            assert response.headers["X-Verity-Cache"] == "hit"
        hash_lookup = []
        for blob in blobs[:40]:
            sha = load_media(blob, state.settings.limits).sha256
            started = time.perf_counter()
            client.get(f"/v1/verdicts/{sha}")
            hash_lookup.append((time.perf_counter() - started) * 1000)
    d, p = statistics.median(decode), statistics.median(pipeline)
    figure(results, "spine.photos", len(blobs), "images")
    figure(results, "spine.decode_median", d, "ms/image")
    figure(results, "spine.declared_pipeline_median", p, "ms/image")
    figure(results, "spine.declared_pipeline_vs_decode", p / d, "x", "<= 3")
    figure(results, "spine.cached_repeat_post_median", statistics.median(cached), "ms", "<= 2")
    figure(results, "spine.verdict_by_hash_median", statistics.median(hash_lookup), "ms")


def main(argv: list[str]) -> int:
    argv = ["load" if a == "--load" else a for a in argv]
    topics = argv or list(TOPICS)
    unknown = [t for t in topics if t not in TOPICS and t not in ON_DEMAND]
    if unknown:
        print(f"unknown bench topics: {unknown}; known: {list(TOPICS)}")
        return 2
    # A partial run updates the figures of its topics and keeps the others; a full run starts afresh.
    results: Results = json.loads(RESULTS.read_text()) if argv and RESULTS.exists() else {}
    for topic in topics:
        print(f"== {topic}", flush=True)
        importlib.import_module(TOPICS.get(topic) or ON_DEMAND[topic]).run(results)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    width = max(len(k) for k in results)
    print(f"\n{'figure':<{width}}  {'value':>12}  unit        target")
    for name, fig in results.items():
        print(f"{name:<{width}}  {fig['value']:>12}  {fig['unit']:<10}  {fig.get('target') or ''}")
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    return 0
