"""Audio and video decoding with PyAV (FFmpeg bundled): a bounded probe and one streaming analysis pass.

Untrusted bytes are opened from memory and bounded before and while decoding: container duration, frame size,
frame count and a wall-clock decode budget (`Limits.max_duration_s`, `max_video_pixels`, `max_frames`,
`max_decode_s`). A decoded clip is never held: frames are reduced on the fly to what the checks need (a few small
RGB keyframes, small RGB samples, a Chromaprint fingerprint), and memory is bounded by design, not by the clip length:
  - keyframes are selected while streaming (`KeyframeSelector`): at most 2 x `Limits.max_keyframes` candidates are
    ever held, thinned evenly as more arrive, so a clip with a scene cut every second keeps as few as a still one;
    their pixels wait in a `SampleStore`, and only the chosen ones become images;
  - samples go into a `SampleStore`, a fixed in-memory budget (`SAMPLE_MEMORY_BYTES`) that spills further samples
    to an unlinked temporary file and reads them back one at a time when a check iterates over them;
  - FFmpeg's decoder threads are capped (`DECODE_THREADS`), so decoder buffers do not grow with the host's cores.

`probe()` is the cheap up-front step the API runs before any check (like `Media.image()` for images): it opens the
container, bounds it and decodes the first frame of each main stream. `analysis(media)` runs the one streaming pass
and caches it on the Media, so every check shares it.
"""

from __future__ import annotations

import io
import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from PIL import Image

from .types import Limits, Media, MediaKind, MediaTooLarge, UndecodableMedia, UnsupportedMedia

log = logging.getLogger(__name__)

# PyAV's default (level None) keeps FFmpeg's log away from Python. Do not set a level: PyAV's Python log callback,
# called from FFmpeg's decoder threads, can deadlock against the GIL with threaded decoding.

FINGERPRINT_RATE = 11025  # Chromaprint's own internal rate: resampling once here saves it the work
SAMPLE_SIZE = 320         # longest side of the frames kept for hashing and scene detection
KEYFRAME_SIZE = 640       # longest side of the keyframes kept for frame-level image checks
SAMPLE_MEMORY_BYTES = 4 * 1024 * 1024    # samples held in memory per analysis; more spill to a temporary file
KEYFRAME_MEMORY_BYTES = 4 * 1024 * 1024  # keyframe candidates' pixels held in memory; more spill likewise
# FFmpeg's automatic thread count follows the host's cores (up to 16 frame threads, each holding frames in flight):
# a fixed cap keeps decoder memory the same on a 2-core and a 64-core host.
DECODE_THREADS = 4


class PartiallyDecoded(UndecodableMedia):
    """The clip decodes only in part (truncated or damaged): the checks that read bytes still answer (422 only when
    nothing at all can be read)."""


class DecodeBudgetExceeded(MediaTooLarge):
    """Decoding took longer than `Limits.max_decode_s` (413)."""


@dataclass(frozen=True, slots=True)
class StreamInfo:
    kind: str                 # "video" | "audio"
    codec: str
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    duration_s: float | None = None   # the stream's own declared duration (streams of one file often differ)

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}


@dataclass(frozen=True, slots=True)
class Probe:
    """What the container declares, checked against the limits."""

    container: str
    duration_s: float
    video: StreamInfo | None
    audio: StreamInfo | None
    tags: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"container": self.container, "duration_s": round(self.duration_s, 3),
                "video": self.video.to_json() if self.video else None,
                "audio": self.audio.to_json() if self.audio else None}


@dataclass(frozen=True, slots=True)
class Keyframe:
    """A frame picked for frame-level checks: its time and a downscaled RGB copy."""

    time_s: float
    image: Image.Image = field(repr=False)


@dataclass(frozen=True, slots=True)
class Sample:
    """A regularly sampled video frame, reduced to what matching needs."""

    time_s: float
    rgb: np.ndarray = field(repr=False)  # HxWx3 uint8, longest side SAMPLE_SIZE


class SampleStore(Sequence[Sample]):
    """The regular samples of a clip, in time order, in bounded memory: a list to the checks that read them.

    The first `memory_bytes` of pixels stay in memory (a short clip never touches the disk); later samples are
    written to an anonymous temporary file and read back on access, one at a time. Append-only.
    """

    def __init__(self, memory_bytes: int | None = None) -> None:
        self.memory_bytes = SAMPLE_MEMORY_BYTES if memory_bytes is None else memory_bytes
        self._held = 0
        self._memory: list[Sample] = []
        self._spilled: list[tuple[float, tuple[int, ...], int]] = []  # (time, shape, offset) in the file
        self._file: Any = None
        self._end = 0

    def append(self, sample: Sample) -> None:
        rgb = np.ascontiguousarray(sample.rgb, dtype=np.uint8)
        if not self._spilled and self._held + rgb.nbytes <= self.memory_bytes:
            self._memory.append(Sample(sample.time_s, rgb))
            self._held += rgb.nbytes
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="verity-samples-")
        self._file.seek(self._end)
        self._file.write(rgb.tobytes())
        self._spilled.append((sample.time_s, rgb.shape, self._end))
        self._end += rgb.nbytes

    def _read(self, i: int) -> Sample:
        t, shape, offset = self._spilled[i]
        self._file.seek(offset)
        data = self._file.read(int(np.prod(shape)))
        return Sample(t, np.frombuffer(data, dtype=np.uint8).reshape(shape))

    def __len__(self) -> int:
        return len(self._memory) + len(self._spilled)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError("sample index out of range")
        return self._memory[i] if i < len(self._memory) else self._read(i - len(self._memory))

    def __iter__(self) -> Iterator[Sample]:
        yield from self._memory
        for i in range(len(self._spilled)):
            yield self._read(i)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list | SampleStore):
            return len(self) == len(other) and all(
                a.time_s == b.time_s and np.array_equal(a.rgb, b.rgb) for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    @property
    def spilled(self) -> int:
        """How many samples live in the temporary file."""
        return len(self._spilled)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __del__(self) -> None:
        self.close()


class KeyframeSelector:
    """Streaming keyframe selection in fixed memory: at most 2 x `cap` candidates are held, their pixels in a
    `SampleStore` (a small in-memory budget, the rest in its temporary file), so only the chosen ones become images.

    Candidates are kept with a stride that doubles whenever the buffer fills (every other kept one is dropped), so
    what is held stays evenly spread over the candidates seen so far; `result()` then picks `cap` of them evenly, as
    the old keep-everything-then-subsample did (identical while there are fewer than 2 x `cap` candidates). `want()`
    says whether the next candidate will be kept, so one that would be dropped is never even scaled.
    """

    def __init__(self, cap: int, memory_bytes: int | None = None) -> None:
        self.cap = max(1, cap)
        self.store = SampleStore(KEYFRAME_MEMORY_BYTES if memory_bytes is None else memory_bytes)
        self.kept: list[int] = []  # indices into self.store
        self.stride = 1
        self.seen = 0

    def want(self) -> bool:
        return self.seen % self.stride == 0

    def offer(self, time_s: float, rgb: np.ndarray | None) -> None:
        """One more candidate: its pixels when `want()` said so, else None (it would be dropped)."""
        if self.want():
            assert rgb is not None
            self.kept.append(len(self.store))
            self.store.append(Sample(time_s, rgb))
            if len(self.kept) >= 2 * self.cap:
                self.kept = self.kept[::2]
                self.stride *= 2
        self.seen += 1

    def result(self) -> list[Keyframe]:
        chosen = self.kept
        if len(chosen) > self.cap:
            idx = np.linspace(0, len(chosen) - 1, self.cap).round().astype(int)
            chosen = [chosen[i] for i in sorted(set(idx.tolist()))]
        frames = [self.store[i] for i in chosen]
        self.store.close()
        return [Keyframe(f.time_s, Image.fromarray(np.array(f.rgb))) for f in frames]


@dataclass(slots=True)
class AVAnalysis:
    """The result of the one streaming pass over a clip."""

    probe: Probe
    samples: SampleStore | list[Sample] = field(default_factory=SampleStore)
    keyframes: list[Keyframe] = field(default_factory=list)
    video_mode: str | None = None            # "sampled" (full decode, regular samples) | "keyframes" (sync frames only)
    frames_decoded: int = 0
    audio_fingerprint: list[int] | None = None
    audio_seconds: float = 0.0
    partial: bool = False                     # the stream ended in damaged data; what came before was used
    decode_s: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)


# --- opening and probing ------------------------------------------------------------------------------------------

def _open(data: bytes) -> Any:
    try:
        return av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise UndecodableMedia(f"not a readable audio/video container ({exc.strerror or type(exc).__name__})") from exc
    except (ValueError, OSError, RecursionError, MemoryError) as exc:
        raise UndecodableMedia(f"not a readable audio/video container ({type(exc).__name__})") from exc


def _stream_info(stream: Any) -> StreamInfo:
    cc = stream.codec_context
    if cc is None:  # a stream whose codec FFmpeg does not know (found by fuzzing: an mp4 with a damaged codec tag)
        raise UndecodableMedia(f"the {stream.type} stream uses a codec that cannot be decoded")
    duration = round(float(stream.duration * stream.time_base), 3) if stream.duration and stream.time_base else None
    if stream.type == "video":
        rate = stream.average_rate or stream.guessed_rate
        return StreamInfo("video", cc.name, int(cc.width or 0), int(cc.height or 0),
                          fps=round(float(rate), 3) if rate else None, duration_s=duration)
    return StreamInfo("audio", cc.name, sample_rate=int(cc.sample_rate or 0), channels=int(cc.channels or 0),
                      duration_s=duration)


def _duration(container: Any) -> float:
    if container.duration and container.duration > 0:
        return float(container.duration) / av.time_base
    best = 0.0
    for s in container.streams:
        if s.duration and s.time_base:
            best = max(best, float(s.duration * s.time_base))
    return best


def _tags(container: Any) -> dict[str, str]:
    tags: dict[str, str] = {}
    for owner in [container, *container.streams]:
        for k, v in (owner.metadata or {}).items():
            tags.setdefault(str(k)[:200], str(v)[:4000])
    return tags


def _bound(probe: Probe, limits: Limits) -> None:
    if probe.duration_s > limits.max_duration_s:
        raise MediaTooLarge(f"the clip lasts {probe.duration_s:.1f} s; the limit is {limits.max_duration_s:g} s")
    v = probe.video
    if v is not None:
        if (v.width or 0) * (v.height or 0) > limits.max_video_pixels:
            raise MediaTooLarge(f"the video is {v.width}x{v.height}; the limit is {limits.max_video_pixels} pixels a frame")
        if v.fps and probe.duration_s * v.fps > limits.max_frames:
            raise MediaTooLarge(f"the video has about {int(probe.duration_s * v.fps)} frames; "
                                f"the limit is {limits.max_frames}")


def _first_frame(container: Any, stream: Any) -> None:
    """Decode one frame of `stream`, so a container whose codec data is broken is rejected up front.

    A stream with no packets at all (a DASH init segment, a header-only file) is accepted: there is nothing to
    decode, and its container metadata (C2PA, tags) can still be checked.
    """
    packets = 0
    try:
        for packet in container.demux(stream):
            packets += packet.size > 0
            for _ in packet.decode():
                return
    except av.error.FFmpegError as exc:
        raise UndecodableMedia(f"the {stream.type} stream cannot be decoded ({exc.strerror or type(exc).__name__})") \
            from exc
    if packets:
        raise UndecodableMedia(f"the {stream.type} stream holds no decodable frame")


def probe(data: bytes, limits: Limits) -> Probe:
    """Open the container, check it against `limits` and decode the first frame of its main streams.

    Raises:
        UndecodableMedia: not a container FFmpeg reads, no audio/video stream, or its first frame does not decode.
        MediaTooLarge: duration, frame size or frame count over the limits.
    """
    with _open(data) as container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is None and audio is None:
            raise UndecodableMedia("the container holds no audio or video stream")
        result = Probe(container.format.name, _duration(container),
                       _stream_info(video) if video is not None else None,
                       _stream_info(audio) if audio is not None else None, _tags(container))
        _bound(result, limits)
        if video is not None and (not result.video or not result.video.width or not result.video.height):
            raise UndecodableMedia("the video stream declares no frame size")
    for kind in ("video", "audio"):
        if getattr(result, kind) is None:
            continue
        with _open(data) as container:  # a fresh demuxer per stream: cheap, and no interleaving bookkeeping
            _first_frame(container, getattr(container.streams, kind)[0])
    return result


# --- the streaming pass ---------------------------------------------------------------------------------------------

class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds, self.end = seconds, time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise DecodeBudgetExceeded(f"decoding took longer than the limit of {self.seconds:g} s")


def _small(frame: Any, longest: int) -> np.ndarray:
    w, h = frame.width, frame.height
    scale = min(1.0, longest / max(w, h))
    return frame.to_ndarray(format="rgb24", width=max(2, int(w * scale)) // 2 * 2,
                            height=max(2, int(h * scale)) // 2 * 2)


def _scene_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of 16x16 grey thumbnails, 0..1: cheap and good enough for cut detection."""
    def thumb(x: np.ndarray) -> np.ndarray:
        g = x.mean(axis=2)
        h, w = g.shape
        return g[: h // 16 * 16, : w // 16 * 16].reshape(16, h // 16, 16, w // 16).mean(axis=(1, 3))
    return float(np.abs(thumb(a) - thumb(b)).mean() / 255.0)


def _video_pass(data: bytes, probe_: Probe, limits: Limits, deadline: _Deadline, result: AVAnalysis,
                progress: Callable[[float], None] | None) -> None:
    """Decode the video once: regular samples for fingerprinting, scene-change keyframes for frame checks.

    Short clips are fully decoded (threaded) and sampled every `1/sample_fps` s, so samples do not depend on where
    the encoder put its keyframes; long clips decode only sync frames (`skip_frame="NONKEY"`), which is an order of
    magnitude faster.
    """
    v = probe_.video
    assert v is not None
    est_frames = probe_.duration_s * (v.fps or 30.0)
    full = est_frames <= limits.full_decode_max_frames
    result.video_mode = "sampled" if full else "keyframes"
    step = 1.0 / limits.sample_fps
    next_t = 0.0
    last_kf: tuple[float, np.ndarray] | None = None
    frames = 0
    selector = KeyframeSelector(limits.max_keyframes)
    samples = result.samples if isinstance(result.samples, SampleStore) else SampleStore()
    result.samples = samples
    with _open(data) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = DECODE_THREADS
        if not full:
            stream.codec_context.skip_frame = "NONKEY"
        try:
            for frame in container.decode(stream):
                frames += 1
                if frames > limits.max_frames:
                    raise MediaTooLarge(f"the video has more than {limits.max_frames} frames")
                if frames % 16 == 0:
                    deadline.check()
                t = float(frame.time) if frame.time is not None else frames / (v.fps or 25.0)
                if full and t + 1e-6 < next_t:
                    continue
                next_t = t + step
                rgb = _small(frame, SAMPLE_SIZE)
                samples.append(Sample(t, rgb))
                # Scene change: far enough from the last candidate keyframe in content and in time.
                if last_kf is None or (t - last_kf[0] >= limits.keyframe_min_spacing_s
                                       and _scene_distance(rgb, last_kf[1]) >= limits.scene_threshold):
                    keep = selector.want()  # a candidate that would be dropped is not even scaled
                    selector.offer(t, _small(frame, KEYFRAME_SIZE) if keep else None)
                    last_kf = (t, rgb)
                if progress and probe_.duration_s > 0:
                    progress(min(1.0, t / probe_.duration_s))
        except av.error.FFmpegError as exc:
            if not samples:
                raise UndecodableMedia(f"the video stream cannot be decoded ({exc.strerror or type(exc).__name__})") \
                    from exc
            log.info("video decode stopped at frame %d: %s", frames, exc)
            result.partial = True
    result.frames_decoded = frames
    result.keyframes = selector.result()  # the cap, spread over the clip
    result.stats["keyframe_candidates"] = selector.seen
    result.stats["samples_spilled"] = samples.spilled


def iter_pcm(data: bytes, limits: Limits, deadline: _Deadline, rate: int = FINGERPRINT_RATE,
             on_partial: Callable[[], None] | None = None) -> Iterator[bytes]:
    """Mono signed 16-bit PCM at `rate`, block by block, from the first audio stream (bounded by duration)."""
    max_samples = int(limits.max_duration_s * rate)
    produced = 0
    with _open(data) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        setup: tuple[object, ...] | None = None
        try:
            for frame in container.decode(stream):
                deadline.check()
                # A stream may change sample rate, layout or format mid-way (damaged or spliced MP3s do); a resampler
                # only takes frames like its first, so flush it and start a new one at each change.
                shape = (frame.format.name, frame.layout.name, frame.sample_rate)
                if setup is not None and shape != setup:
                    for out in resampler.resample(None):
                        produced += out.samples
                        yield bytes(out.planes[0])[: out.samples * 2]
                    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
                setup = shape
                for out in resampler.resample(frame):
                    block = bytes(out.planes[0])[: out.samples * 2]
                    produced += out.samples
                    yield block
                if produced > max_samples:
                    raise MediaTooLarge(f"the audio lasts more than {limits.max_duration_s:g} s")
            for out in resampler.resample(None):
                yield bytes(out.planes[0])[: out.samples * 2]
        except av.error.FFmpegError as exc:
            if produced == 0:
                raise UndecodableMedia(f"the audio stream cannot be decoded ({exc.strerror or type(exc).__name__})") \
                    from exc
            log.info("audio decode stopped after %d samples: %s", produced, exc)
            if on_partial:
                on_partial()


def audio_fingerprint(pcm: Iterator[bytes], rate: int = FINGERPRINT_RATE) -> tuple[list[int], float]:
    """Chromaprint (libchromaprint through pyacoustid's ctypes binding) of mono s16 PCM: raw 32-bit ints, seconds fed."""
    import chromaprint  # ctypes load of libchromaprint.so.1 (Debian libchromaprint1)

    fper = chromaprint.Fingerprinter()
    fper.start(rate, 1)
    fed = 0
    for block in pcm:
        if block:
            fper.feed(block)
            fed += len(block) // 2
    encoded = fper.finish()
    raw, _algo = chromaprint.decode_fingerprint(encoded)
    return [int(x) & 0xFFFFFFFF for x in raw], fed / rate


def analyse(data: bytes, limits: Limits, probe_: Probe | None = None,
            progress: Callable[[float], None] | None = None) -> AVAnalysis:
    """The one streaming pass: video samples and keyframes, and the audio fingerprint.

    Raises:
        UndecodableMedia, MediaTooLarge: as `probe`; DecodeBudgetExceeded when decoding overruns `max_decode_s`.
    """
    started = time.perf_counter()
    probe_ = probe_ or probe(data, limits)
    deadline = _Deadline(limits.max_decode_s)
    result = AVAnalysis(probe_)
    has_video, has_audio = probe_.video is not None, probe_.audio is not None

    def video_progress(p: float) -> None:
        if progress:
            progress(p * (0.8 if has_audio else 1.0))

    if has_video:
        _video_pass(data, probe_, limits, deadline, result, video_progress)
    if has_audio:
        def mark_partial() -> None:
            result.partial = True
        fp, seconds = audio_fingerprint(iter_pcm(data, limits, deadline, on_partial=mark_partial))
        result.audio_fingerprint, result.audio_seconds = fp, seconds
    _check_complete(data, result)
    if progress:
        progress(1.0)
    result.decode_s = time.perf_counter() - started
    return result


def _check_complete(data: bytes, result: AVAnalysis) -> None:
    """Mark a clip partial when less was decoded than its container declares (a truncated download)."""
    p = result.probe
    v, a = p.video, p.audio
    if v is not None and result.samples and result.video_mode == "sampled":
        declared = v.duration_s or p.duration_s
        # samples are 1/sample_fps apart; the first may start late (edit lists)
        if result.samples[-1].time_s - result.samples[0].time_s < declared - max(1.0, 0.1 * declared) - 0.5:
            result.partial = True
            result.stats["decoded_s"] = round(result.samples[-1].time_s, 2)
    if a is not None and result.audio_fingerprint is not None:
        declared = a.duration_s or p.duration_s
        if result.audio_seconds < declared - max(1.0, 0.1 * declared):
            result.partial = True
            result.stats["decoded_s"] = round(result.audio_seconds, 2)
    if wav_truncated(data):
        result.partial = True


def wav_truncated(data: bytes) -> bool:
    """A WAV whose data chunk declares more bytes than the file holds (truncated, or a damaged header)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return False
    pos = 12
    for _ in range(64):  # top-level chunks only; nesting is not followed (no recursion on untrusted input)
        if pos + 8 > len(data):
            return False
        cid, size = data[pos: pos + 4], int.from_bytes(data[pos + 4: pos + 8], "little")
        if cid == b"data":
            return size not in (0, 0xFFFFFFFF) and size > len(data) - pos - 8
        pos += 8 + size + (size & 1)
    return False


def analysis(media: Media, progress: Callable[[float], None] | None = None) -> AVAnalysis:
    """The clip's analysis, computed once per Media (bounded by `media.limits`) and shared by every check.

    Raises:
        UnsupportedMedia: `media` is an image.
        UndecodableMedia: see `analyse`; also a clip that decodes only in part (then `media.damage` says why).
        MediaTooLarge, DecodeBudgetExceeded: see `analyse`.
    """
    if media.kind is MediaKind.IMAGE:
        raise UnsupportedMedia(f"{media.mime} is not audio or video")
    if isinstance(media.av_cache, UndecodableMedia):
        raise media.av_cache  # decoded once: every check that needs samples gets the same answer, without re-decoding
    if media.av_cache is None:
        try:
            result = analyse(media.data, media.limits, progress=progress)
            if result.partial:
                decoded = result.stats.get("decoded_s")
                raise PartiallyDecoded("the file is truncated or damaged" + (
                    f": only {decoded:g} s of the declared {result.probe.duration_s:.1f} s decodes"
                    if decoded is not None else ": its header declares more data than the file holds"))
        except UndecodableMedia as exc:
            media.av_cache, media.damage = exc, str(exc)
            raise
        media.av_cache = result
    return media.av_cache  # type: ignore[no-any-return]


def frame_media(parent: Media, keyframe: Keyframe) -> Media:
    """A keyframe as an image Media, so metadata-free image checks (watermark, detector, match) can run on it."""
    import hashlib

    digest = hashlib.sha256(f"{parent.sha256}@{keyframe.time_s:.3f}".encode()).hexdigest()
    frame = Media(data=b"", sha256=digest, mime="image/x-video-frame", kind=MediaKind.IMAGE, format="frame",
                  limits=parent.limits)
    frame._image = keyframe.image
    return frame

