"""Learned synthetic-speech score: a logistic head on log-spectrum statistics of 8 kHz speech, a weak signal only.

Detects: speech whose long-term log-spectrum statistics (band energy mean, spread and frame-to-frame change, 0-4 kHz)
lie on the "synthetic" side of a logistic head fitted at build time (`python3 build.py models --train-speech`) on
real speech from Debian packages (Asterisk prompts, KTuberling speakers) against text-matched speech from several
TTS engines (Piper VITS, Kokoro-82M, eSpeak NG, Flite, Festival HTS), all through one chain (8 kHz, trim, peak
normalisation, random telephone/web codecs). The head is models/speech_detector.head.json, pinned by sha256 in
models/manifest.json with the threshold and the measured metrics; see models/speech_detector.MODEL_CARD.md.
A score at or above the threshold gives POSSIBLY_SYNTHETIC (verdict `likely_synthetic`) with the score and the
false-positive rate measured on real speakers the head never heard. A lower score gives no signal: it is never
evidence that speech is human.

Cannot: recognise TTS families unlike those it was trained on (its recall on unseen neural TTS is low), voice
cloning or commercial TTS, speech under music or noise, or speech after heavy processing; its false-positive rate is
measured on few speakers and languages. No speech encoder model is used (see the model card for why), so it needs no
weights and takes a few milliseconds per clip. Audio files and the soundtracks of videos are scored (first
MAX_SECONDS); a clip with less than MIN_SPEECH_S of sound is not scored.

Evidence keys: score, threshold, measured_fpr {value, k, n, upper95, protocol}, measured_recall {...},
analysed_s, head {path, sha256, features}.

Spec: models/manifest.json and models/speech_detector.MODEL_CARD.md (this repo).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..loading import Shared
from ..types import CheckContext, CheckResult, Media, MediaError, MediaKind, Outcome, Signal

NAME = "speech_detector"
DESCRIPTION = ("Learned synthetic-speech score (log-spectrum statistics + logistic head, threshold set for few false "
               "positives on unseen real speakers); a weak signal after the declared checks, never proof of a human voice.")

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = ROOT / "models" / "manifest.json"

RATE = 8000          # everything is analysed as narrow-band (telephone) speech: 0-4 kHz
FRAME = 256          # 32 ms
HOP = 80             # 10 ms
MAX_SECONDS = 30.0   # only the start of a long clip is scored
MIN_SPEECH_S = 0.3   # after trimming; shorter clips are not scored
TRIM_DB = 40.0       # frames more than this below the loudest frame are trimmed from both ends
FEATURES = "logspec-v1"
_WINDOW = np.hanning(FRAME).astype(np.float32)


class ModelIntegrityError(RuntimeError):
    """The head file is missing or differs from the sha256 pinned in models/manifest.json."""


def trim_normalise(x: np.ndarray) -> np.ndarray:
    """Trim leading/trailing quiet frames (TRIM_DB below the loudest 10 ms frame), then peak-normalise to 0.95."""
    x = np.asarray(x, dtype=np.float32)
    if x.size < HOP:
        return x[:0]
    n = x.size // HOP
    energy = 10 * np.log10(np.mean(x[: n * HOP].reshape(n, HOP) ** 2, axis=1) + 1e-10)
    loud = np.flatnonzero(energy > energy.max() - TRIM_DB)
    if energy.max() < -80:  # digital silence
        return x[:0]
    x = x[loud[0] * HOP: (loud[-1] + 1) * HOP]
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return x * (0.95 / peak) if peak > 0 else x


def features(pcm: np.ndarray) -> np.ndarray | None:
    """387 statistics of the 8 kHz log power spectrum: per-bin mean, std and mean |delta| over 32 ms frames.

    `pcm` is mono float in [-1, 1] at RATE. None when under MIN_SPEECH_S remains after trimming.
    """
    x = trim_normalise(pcm)
    if x.size < max(FRAME, int(MIN_SPEECH_S * RATE)):
        return None
    n = 1 + (x.size - FRAME) // HOP
    idx = np.arange(FRAME)[None, :] + HOP * np.arange(n)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * _WINDOW, axis=1)) ** 2
    logspec = np.log10(spec + 1e-8).astype(np.float64)
    delta = np.abs(np.diff(logspec, axis=0)).mean(axis=0) if n > 1 else np.zeros(logspec.shape[1])
    return np.concatenate([logspec.mean(axis=0), logspec.std(axis=0), delta]).astype(np.float64)


def decode_pcm(data: bytes, limits: Any, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """The first `max_seconds` of the first audio stream as mono float32 at RATE (PyAV, bounded by `limits`).

    Raises:
        UndecodableMedia: no decodable audio stream; MediaTooLarge / DecodeBudgetExceeded: over the limits.
    """
    from .. import av_decode
    from ..types import UndecodableMedia

    deadline = av_decode._Deadline(limits.max_decode_s)
    want = int(max_seconds * RATE)
    blocks: list[bytes] = []
    got = 0
    try:
        for block in av_decode.iter_pcm(data, limits, deadline, rate=RATE):
            blocks.append(block)
            got += len(block) // 2
            if got >= want:
                break
    except IndexError as exc:  # container without an audio stream
        raise UndecodableMedia("no audio stream") from exc
    pcm = np.frombuffer(b"".join(blocks), dtype=np.int16)[:want]
    return pcm.astype(np.float32) / 32768.0


@dataclass
class Head:
    """Standardisation + logistic regression on `features`, as fitted by buildtasks/speech_train.py."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    spec: dict[str, Any]
    sha256: str

    def score_features(self, feats: np.ndarray) -> float:
        z = (feats - self.mean) / self.scale
        return float(1.0 / (1.0 + np.exp(-(float(z @ self.weights) + self.bias))))

    def score_pcm(self, pcm: np.ndarray) -> float | None:
        feats = features(pcm)
        return None if feats is None else self.score_features(feats)


def model_spec() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))["models"][NAME]
    return spec


def head_from_json(data: bytes, spec: dict[str, Any] | None = None) -> Head:
    head = json.loads(data)
    if head.get("features") != FEATURES:
        raise ModelIntegrityError(f"head features {head.get('features')!r}, this code computes {FEATURES!r}")
    return Head(np.asarray(head["mean"], dtype=np.float64), np.asarray(head["scale"], dtype=np.float64),
                np.asarray(head["weights"], dtype=np.float64), float(head["bias"]), spec or {},
                hashlib.sha256(data).hexdigest())


def load(spec: dict[str, Any] | None = None) -> Head:
    """Load the head named in the manifest and check its sha256.

    Raises:
        ModelIntegrityError: the file is missing or differs from the manifest.
    """
    spec = spec or model_spec()
    f = spec["source"]["files"]["head"]
    path = ROOT / f["path"]
    if not path.is_file():
        raise ModelIntegrityError(f"{f['path']} is missing (python3 build.py models --train-speech)")
    data = path.read_bytes()
    head = head_from_json(data, spec)
    if head.sha256 != f["sha256"]:
        raise ModelIntegrityError(f"{f['path']}: sha256 {head.sha256} differs from the manifest's {f['sha256']}")
    return head


# One head per process, loaded on first use (a failure is retried on the next call, never cached).
shared: Shared[Head] = Shared(load)


def check(media: Media, ctx: CheckContext) -> CheckResult:
    """Score the first MAX_SECONDS of an audio file or a video's soundtrack against the calibrated threshold."""
    if media.kind is MediaKind.IMAGE:
        return CheckResult(NAME, Outcome.UNSUPPORTED, "The speech detector scores audio and video soundtracks, not images.")
    try:
        pcm = decode_pcm(media.data, media.limits)
    except MediaError as exc:
        return CheckResult(NAME, Outcome.UNSUPPORTED, "The audio could not be decoded.", evidence={"error": str(exc)[:200]})
    head: Head = ctx.resources.get(NAME) or shared()
    score = head.score_pcm(pcm)
    analysed = round(pcm.size / RATE, 2)
    if score is None:
        return CheckResult(NAME, Outcome.UNSUPPORTED, f"Too little sound to score (under {MIN_SPEECH_S:g} s).",
                           evidence={"analysed_s": analysed})
    spec = head.spec
    threshold = float(spec["threshold"])
    fpr = spec["metrics"]["fpr_heldout_speakers"]
    recall = spec["metrics"]["recall_unseen_generator"]
    evidence = {
        "score": round(score, 4),
        "threshold": threshold,
        "measured_fpr": {k: fpr[k] for k in ("value", "k", "n", "upper95", "protocol")},
        "measured_recall": {k: recall[k] for k in ("value", "k", "n", "protocol")},
        "analysed_s": analysed,
        "head": {"path": spec["source"]["files"]["head"]["path"], "sha256": head.sha256, "features": FEATURES},
    }
    if score >= threshold:
        return CheckResult(
            NAME, Outcome.DETECTED,
            f"A learned speech detector scores this {score:.2f} (threshold {threshold:.2f}); it wrongly flagged "
            f"{fpr['value']:.0%} of {fpr['n']} clips from real speakers it never heard, so this is a hint, not proof.",
            score=round(score, 4), evidence=evidence, signal=Signal.POSSIBLY_SYNTHETIC)
    return CheckResult(
        NAME, Outcome.NOT_DETECTED,
        f"The speech detector's score ({score:.2f}) is below its threshold; it misses much synthetic speech "
        f"(recall {recall['value']:.0%} on {recall['n']} clips of TTS engines left out of training), "
        "so this says nothing about whether the voice is human.",
        score=round(score, 4), evidence=evidence)
