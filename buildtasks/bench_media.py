"""Audio/video speed figures: the 60 s 720p fixture verified end to end vs decoding it, peak memory, fingerprinting.

`run(results)` adds {"<figure>": {"value", "unit", "target"}} entries and prints a table. The end-to-end figure is
what POST /v1/verify does for a clip (sniff, bounded probe, the one streaming pass, every check, the verdict) with
the refuted-clip database holding the video match originals; decode-only is PyAV decoding every video and audio frame
of the same file with the same threading and nothing else. Peak memory is measured in a fresh process. The keyframes
check (OCR, detector, watermark and image refutation match on keyframes) is also timed alone: it is part of end to end.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
CLIP = FIXTURES / "video" / "bench" / "bench_60s_720p.mp4"


def _figure(results: dict[str, Any], name: str, value: float, unit: str, target: str | None = None) -> None:
    results[name] = {"value": round(value, 4), "unit": unit, "target": target}


def decode_only(data: bytes) -> float:
    """Seconds to decode every video and audio frame with PyAV (threaded video decoding), nothing else."""
    import io

    import av

    started = time.perf_counter()
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            pass
    with av.open(io.BytesIO(data)) as container:
        for _ in container.decode(container.streams.audio[0]):
            pass
    return time.perf_counter() - started


def end_to_end(data: bytes, data_dir: str) -> float:
    """Seconds for the API's work on one clip, with the video match originals in the refuted-clip database."""
    from server import create_app
    from server.storage import Refutation, RefutedMedia
    from server.verify import av_decode
    from server.verify.checks import clip_match
    from server.verify.media import load_media
    from server.verify.pipeline import verify

    app = create_app({"DATA_DIR": data_dir})
    state = app.extensions["verify"]
    for original in sorted((FIXTURES / "video" / "match" / "originals").iterdir()):
        blob = original.read_bytes()
        state.storage.add_refutation(Refutation(0, "bench", "False", "bench"), [
            RefutedMedia(0, 0, "0" * 64, "video", hashes=clip_match.reference_hashes(blob, state.settings.limits))])
    # warm-up on a short clip: imports, libraries, the thread pool
    warm = load_media((FIXTURES / "video" / "match" / "originals" / "v05_asl_again.mkv").read_bytes(),
                      state.settings.limits)
    av_decode.analysis(warm)
    verify(warm, state.ctx)
    started = time.perf_counter()
    media = load_media(data, state.settings.limits)
    av_decode.probe(media.data, media.limits)
    av_decode.analysis(media)
    report = verify(media, state.ctx)
    elapsed = time.perf_counter() - started
    assert report.to_json()["verdict"]["label"]
    return elapsed


def keyframes_check(data: bytes, data_dir: str) -> tuple[float, dict[str, Any]]:
    """Seconds of the keyframes check alone on the decoded clip (its share of end to end), and its frame counts."""
    from server import create_app
    from server.verify import av_decode
    from server.verify.checks import keyframes
    from server.verify.media import load_media

    state = create_app({"DATA_DIR": data_dir}).extensions["verify"]
    media = load_media(data, state.settings.limits)
    av_decode.analysis(media)
    keyframes.check(media, state.ctx)  # warm-up: model sessions' first runs
    started = time.perf_counter()
    result = keyframes.check(media, state.ctx)
    elapsed = time.perf_counter() - started
    checks = result.evidence.get("checks", {})
    return elapsed, {"keyframes": result.evidence.get("keyframes"),
                     **{name: c.get("frames_checked") for name, c in checks.items()}}


def fingerprint_speed(data: bytes) -> tuple[float, float]:
    """(seconds of audio, seconds to decode, resample and Chromaprint it)."""
    from server.verify import av_decode
    from server.verify.types import Limits

    limits = Limits()
    started = time.perf_counter()
    _fp, seconds = av_decode.audio_fingerprint(av_decode.iter_pcm(data, limits, av_decode._Deadline(60)))
    return seconds, time.perf_counter() - started


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _child(clip: Path = CLIP) -> None:
    """In a fresh process: resident memory after imports, and the peak after one end-to-end verification."""
    import server.verify.checks.clip_match  # noqa: F401  (imports counted in the baseline)

    base = _rss_kb()
    with tempfile.TemporaryDirectory() as tmp:
        elapsed = end_to_end(clip.read_bytes(), tmp)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"baseline_mb": base / 1024, "peak_mb": peak / 1024, "e2e_s": elapsed}))


def peak_rss(clip: Path = CLIP) -> dict[str, Any]:
    """{baseline_mb, peak_mb, e2e_s} of one end-to-end verification of `clip`, in a fresh process, with the allocator
    settings `build.py run` gives the server (buildtasks/serve.py)."""
    env = dict(os.environ, MALLOC_ARENA_MAX="2", MALLOC_MMAP_THRESHOLD_="131072")
    child = subprocess.run([sys.executable, "-m", "buildtasks.bench_media", "--child", str(clip)], cwd=ROOT,
                           check=True, capture_output=True, text=True, env=env)
    return json.loads(child.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run(results: dict[str, Any]) -> None:
    data = CLIP.read_bytes()
    decode_s = min(decode_only(data) for _ in range(3))
    with tempfile.TemporaryDirectory() as tmp:
        e2e_s = min(end_to_end(data, f"{tmp}/{i}") for i in range(2))
    mem = peak_rss()
    seconds, fp_s = fingerprint_speed(data)
    with tempfile.TemporaryDirectory() as tmp:
        kf_s, kf_frames = keyframes_check(data, tmp)
    _figure(results, "media_video_60s_720p_e2e_s", e2e_s, "s", "<= 5")
    _figure(results, "media_video_60s_720p_decode_only_s", decode_s, "s")
    _figure(results, "media_video_e2e_over_decode", e2e_s / decode_s, "x")
    _figure(results, "media_video_peak_rss_mb", mem["peak_mb"], "MB")
    _figure(results, "media_video_peak_rss_over_baseline_mb", mem["peak_mb"] - mem["baseline_mb"], "MB")
    _figure(results, "media_audio_fingerprint_x_realtime", seconds / fp_s, "x real time")
    _figure(results, "media_video_keyframes_check_s", kf_s, "s")  # included in the end-to-end figure
    print(f"keyframes check: frames checked per image check {kf_frames}")
    width = max(len(k) for k in results)
    for name in [k for k in results if k.startswith("media_")]:
        f = results[name]
        print(f"{name:<{width}}  {f['value']:>10}  {f['unit']:<12} {f['target'] or ''}")


if __name__ == "__main__":
    if "--child" in sys.argv:
        rest = sys.argv[sys.argv.index("--child") + 1:]
        _child(Path(rest[0]) if rest else CLIP)
    else:
        run({})
