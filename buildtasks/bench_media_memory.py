"""`build.py bench media_memory`: peak memory of verifying a clip end to end, for clips of growing length.

Video decoding is bounded by design (server/verify/av_decode.py: streaming keyframe selection, samples in a fixed
memory budget), so the peak must not grow with the clip: the bench's 60 s 720p fixture, and a 10-minute and a
30-minute 640x640 clip with a scene cut every second (a new keyframe candidate every second, the worst case for
keyframe selection), generated here with PyAV (libx264 at 10 fps, a keyframe at each cut), since no fixture that
long is kept.

Each figure is measured in a fresh process (`ru_maxrss` keeps the peak of whatever ran before in a process), with the
allocator settings `build.py run` gives the server (buildtasks/serve.py), through the same
end-to-end path as `bench media` (create_app with the models loaded, the refuted-clip database, the pipeline).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from .bench_media import CLIP, _figure, peak_rss

TARGET_MB = 400
SCENE_CUT_CLIPS = (("10min", 600), ("30min", 1800))


def scene_cut_clip(path: Path, seconds: int, size: int = 640, fps: int = 10, seed: int = 0) -> Path:
    """An H.264 clip of `seconds` with a new random 8x8-block picture every second (a scene cut, and a keyframe)."""
    import av
    import numpy as np

    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "35", "g": str(fps)}
        for _ in range(seconds):
            blocks = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            picture = np.kron(blocks, np.ones((size // 8, size // 8, 1), dtype=np.uint8))
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            for _ in range(fps):
                out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def run(results: dict[str, Any]) -> None:
    rows = [("60s_720p", CLIP)]
    with tempfile.TemporaryDirectory() as tmp:
        for name, seconds in SCENE_CUT_CLIPS:
            started = time.perf_counter()
            rows.append((f"{name}_scene_cuts", scene_cut_clip(Path(tmp) / f"{name}.mp4", seconds)))
            print(f"generated {name} scene-cut clip in {time.perf_counter() - started:.0f} s "
                  f"({rows[-1][1].stat().st_size / 1e6:.1f} MB)", flush=True)
        for name, clip in rows:
            mem = peak_rss(clip)
            _figure(results, f"media_memory_{name}_peak_rss_mb", mem["peak_mb"], "MB", f"<= {TARGET_MB}")
            _figure(results, f"media_memory_{name}_over_baseline_mb", mem["peak_mb"] - mem["baseline_mb"], "MB")
            print(f"{name:<22} peak {mem['peak_mb']:7.1f} MB  (after imports {mem['baseline_mb']:.1f} MB; "
                  f"end to end {mem['e2e_s']:.1f} s)", flush=True)


if __name__ == "__main__":
    run({})
