"""The one contract every check shares: what goes in (Media, CheckContext) and what comes out (CheckResult)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pillow_heif
from PIL import Image

# HEIC/HEIF decoding for Pillow (AVIF is built into Pillow 13).
pillow_heif.register_heif_opener()


class Outcome(StrEnum):
    """What a check found."""

    DETECTED = "detected"
    NOT_DETECTED = "not_detected"
    UNSUPPORTED = "unsupported"
    SKIPPED = "skipped"  # a learned check not run because a declared signal already decided the verdict
    ERROR = "error"


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"


class Signal(StrEnum):
    """What a finding means for the verdict. The check decides the meaning; verdict.py only ranks them.

    DECLARED_SYNTHETIC: the media itself declares AI generation (C2PA source type, metadata label, watermark, visible label).
    POSSIBLY_SYNTHETIC: a "possibly AI" declaration (GB 45438 Label 2) or a detector score above its threshold.
    PROVENANCE_INVALID: a C2PA manifest is present but the content or claim fails validation.
    PROVENANCE_VALID: a C2PA manifest validates, a trust list vouches for its signer, and it declares nothing AI.
    PROVENANCE_UNTRUSTED: a C2PA manifest whose content matches its signature, but no trust list vouches for the
        signer (a public test certificate, a self-made, expired or revoked one); it declares nothing AI.
    """

    DECLARED_SYNTHETIC = "declared_synthetic"
    POSSIBLY_SYNTHETIC = "possibly_synthetic"
    PROVENANCE_INVALID = "provenance_invalid"
    PROVENANCE_VALID = "provenance_valid"
    PROVENANCE_UNTRUSTED = "provenance_untrusted"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's answer. `evidence` must be JSON-safe; `signal` is what the verdict rule reads."""

    check: str
    outcome: Outcome
    summary: str
    score: float | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    signal: Signal | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "outcome": str(self.outcome),
            "summary": self.summary,
            "score": self.score,
            "evidence": dict(self.evidence),
            "signal": str(self.signal) if self.signal else None,
        }


class MediaError(Exception):
    """Base for problems with the submitted bytes themselves (mapped to 4xx at the edge)."""


class UnsupportedMedia(MediaError):
    """The bytes are not a media type Verity reads (415)."""


class UndecodableMedia(MediaError):
    """The bytes claim a supported type but cannot be decoded (422)."""


class MediaTooLarge(MediaError):
    """Bytes, pixels, duration or frames over the configured bound (413)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on untrusted input; every decoder honours them."""

    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 80_000_000
    check_timeout_s: float = 20.0
    # audio/video (server/verify/av_decode.py)
    max_duration_s: float = 1800.0
    max_video_pixels: int = 8192 * 4320
    max_frames: int = 200_000
    max_decode_s: float = 60.0
    full_decode_max_frames: int = 3600   # up to this many frames every frame is decoded; above, sync frames only
    sample_fps: float = 2.0
    max_keyframes: int = 24
    keyframe_min_spacing_s: float = 1.0
    scene_threshold: float = 0.08


@dataclass(slots=True)
class Media:
    """Submitted bytes, sniffed. Pixels are decoded lazily, once, within `limits`."""

    data: bytes
    sha256: str
    mime: str
    kind: MediaKind
    format: str
    limits: Limits = field(default_factory=Limits)
    _image: Image.Image | None = field(default=None, repr=False)
    av_cache: Any = field(default=None, repr=False)  # av_decode.AVAnalysis, computed once
    # The PDQ hashes (hex) the refutation lookup searched with, set by RefutationMatcher.match: the verdict cache keeps
    # them to tell later whether a new refutation could change this media's verdict ([] after an exact match).
    match_probe: list[str] | None = field(default=None, repr=False)
    # The perceptual query (pixels, trim stages, PDQ query hashes, keypoints), computed once and shared by the
    # matchers that search it (refutations, the declared index): refutation_index.query_of.
    match_query: Any = field(default=None, repr=False)
    # Why the file could be read only in part (truncated, damaged): the declared checks still read its bytes, and the
    # verdict says what could not be checked (set by av_decode.analysis and the verification service).
    damage: str | None = None

    def image(self) -> Image.Image:
        """Decoded RGB(A) pixels of an image (first frame).

        Raises:
            UndecodableMedia: Pillow cannot decode the bytes.
            MediaTooLarge: the header declares more pixels than allowed.
        """
        if self._image is None:
            if self.kind is not MediaKind.IMAGE:
                raise UnsupportedMedia(f"{self.mime} has no still image")
            self._image = decode_image(self.data, self.limits)
        return self._image


def decode_image(data: bytes, limits: Limits) -> Image.Image:
    """Decode an image with a pixel bound checked before any pixel is decoded."""
    try:
        img = Image.open(io.BytesIO(data))
        w, h = img.size
        if w * h > limits.max_pixels:
            raise MediaTooLarge(f"image is {w}x{h} pixels; the limit is {limits.max_pixels} pixels")
        img.load()
    except MediaTooLarge:
        raise
    except Image.DecompressionBombError as exc:
        raise MediaTooLarge(str(exc)) from exc
    except Exception as exc:  # Pillow raises many types for bad data
        raise UndecodableMedia(f"cannot decode the image: {exc}") from exc
    return img


@dataclass(frozen=True, slots=True)
class CheckContext:
    """Everything a check may use besides the media: settings and loaded resources, built once at start-up."""

    limits: Limits = field(default_factory=Limits)
    c2pa_settings_json: str | None = None
    resources: Mapping[str, Any] = field(default_factory=dict)
    # The checks this deployment runs (registry.enabled_checks: VERIFY_CHECKS / VERIFY_EXTRA_CHECKS); None = the
    # registry's default set.
    checks: tuple[str, ...] | None = None
