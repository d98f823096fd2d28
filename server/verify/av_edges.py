"""The start and end of a clip, read on their own: the first seconds of audio, and video frames from the first and
last seconds. GB 45438-2025 puts explicit labels there (an audio rhythm cue or spoken prompt at the start; a video
text label in the first 2 s, optionally repeated at the end), and av_decode's one streaming pass keeps only keyframes
and fingerprints, so these small bounded readers fetch exactly what the label checks need.

Bounded on untrusted input: a wall-clock deadline (at most `Limits.max_decode_s`), a cap on decoded frames per
read, and frames downscaled as they are decoded; nothing else of the clip is held. They never restructure or replace
av_decode's pass: they open the bytes again with PyAV (from memory) and read only the edges.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field

import av
import numpy as np
from PIL import Image

from .types import Limits, UndecodableMedia

EDGE_FRAME_SIZE = 960   # longest side of the edge frames (a 5%-of-short-side label is >= 27 px on 16:9)
MAX_EDGE_DECODE = 600   # video frames one edge may decode (a seek lands on the keyframe before the target)
MAX_AUDIO_FRAMES = 20_000


@dataclass(frozen=True, slots=True)
class EdgeFrame:
    """A video frame from the start or the end of a clip."""

    time_s: float
    edge: str  # "start" | "end"
    image: Image.Image = field(repr=False)


def _open(data: bytes) -> av.container.InputContainer:
    try:
        return av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, ValueError, OSError, RecursionError, MemoryError) as exc:
        raise UndecodableMedia(f"not a readable audio/video container ({type(exc).__name__})") from exc


def head_pcm(data: bytes, limits: Limits, seconds: float, rate: int = 16000) -> np.ndarray:
    """The first `seconds` of the first audio stream as mono float32 at `rate` (empty when there is no audio).

    Raises:
        UndecodableMedia: the container cannot be opened, or its audio fails before any sample decodes.
    """
    deadline = time.perf_counter() + min(limits.max_decode_s, 10.0)
    want = int(seconds * rate)
    blocks: list[np.ndarray] = []
    have = 0
    with _open(data) as container:
        if not container.streams.audio:
            return np.zeros(0, dtype=np.float32)
        stream = container.streams.audio[0]
        resampler: av.AudioResampler | None = None
        setup: tuple[object, ...] | None = None
        try:
            for n, frame in enumerate(container.decode(stream)):
                if n > MAX_AUDIO_FRAMES or time.perf_counter() > deadline:
                    break
                shape = (frame.format.name, frame.layout.name, frame.sample_rate)
                if resampler is None or shape != setup:  # a format change mid-stream needs a new resampler
                    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
                    setup = shape
                for out in resampler.resample(frame):
                    block = np.frombuffer(bytes(out.planes[0]), dtype=np.float32)[: out.samples]
                    blocks.append(block)
                    have += block.size
                if have >= want:
                    break
        except av.error.FFmpegError as exc:
            if have == 0:
                raise UndecodableMedia(f"the audio stream cannot be decoded ({type(exc).__name__})") from exc
    pcm = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
    return np.nan_to_num(pcm[:want]).astype(np.float32, copy=False)


def _small(frame: av.VideoFrame) -> Image.Image:
    w, h = frame.width, frame.height
    s = min(1.0, EDGE_FRAME_SIZE / max(w, h, 1))
    if s < 1.0:
        return frame.to_image(width=max(1, round(w * s)), height=max(1, round(h * s)))
    return frame.to_image()


def edge_frames(data: bytes, limits: Limits, seconds: float = 2.0, per_edge: int = 4) -> list[EdgeFrame]:
    """Up to `per_edge` frames evenly spread over the first `seconds` and as many over the last `seconds`.

    Every frame is decoded (not only keyframes), so a label shown between keyframes is seen; the picks are the first
    frames at or after `seconds * (i + 0.5) / per_edge` into the edge. Clips shorter than 2 * `seconds` give only
    the start frames (the end overlaps them).

    Raises:
        UndecodableMedia: the container cannot be opened.
    """
    deadline = time.perf_counter() + min(limits.max_decode_s, 10.0)
    out: list[EdgeFrame] = []
    with _open(data) as container:
        if not container.streams.video:
            return []
        stream = container.streams.video[0]
        cc = stream.codec_context
        if cc is None or (cc.width or 0) * (cc.height or 0) > limits.max_video_pixels:
            return []  # av_decode.probe refuses such clips before any check runs; never decode them here
        stream.thread_type = "AUTO"
        tb = float(stream.time_base) if stream.time_base else 0.0
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None and tb else 0.0
        duration = (float(stream.duration * stream.time_base) if stream.duration and tb
                    else (container.duration or 0) / 1e6)
        offsets = [seconds * (i + 0.5) / per_edge for i in range(per_edge)]
        edges = [("start", start, [start + o for o in offsets])]
        if duration > 2 * seconds:
            end0 = start + duration - seconds
            edges.append(("end", end0, [end0 + o for o in offsets]))
        for edge, t0, targets in edges:
            if edge == "end":
                try:
                    container.seek(int(t0 / tb), stream=stream, backward=True, any_frame=False)
                except (av.error.FFmpegError, OverflowError, ValueError):
                    break
            pending = list(targets)
            try:
                for n, frame in enumerate(container.decode(stream)):
                    if n >= MAX_EDGE_DECODE or time.perf_counter() > deadline or not pending:
                        break
                    t = float(frame.time) if frame.time is not None else start + n / float(stream.average_rate or 25)
                    if t + 1e-3 < pending[0]:
                        continue
                    while pending and t + 1e-3 >= pending[0]:
                        pending.pop(0)
                    out.append(EdgeFrame(round(t, 3), edge, _small(frame)))
            except av.error.FFmpegError:
                continue  # damaged data: what decoded before it is used
    return out
