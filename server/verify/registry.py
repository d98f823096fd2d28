"""The check registry: one descriptor per check, read by the app, the pipeline, the API, fuzzing and the benchmarks.

Adding a check: a module in checks/ with `NAME`, `DESCRIPTION` and `check(media, ctx) -> CheckResult`, one
`CheckDescriptor` line below, a fixture and a test module; tests/verify/test_contract.py picks it up automatically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from types import ModuleType
from typing import Any

from .checks import (ai_detector, audio_cue, av_labels, c2pa_manifest, clip_match, debunked_match, declared_match,
                     keyframes, metadata_labels, speech_detector, visible_label, watermark)
from .types import CheckContext, CheckResult, Media

CheckFn = Callable[[Media, CheckContext], CheckResult]


class Kind(StrEnum):
    """What a check's finding rests on."""

    DECLARED = "declared"  # the bytes declare something (provenance, labels, watermarks): read, not inferred
    MATCH = "match"  # the media matches stored media: one a fact-checker refuted, or one that declared itself AI
    LEARNED = "learned"  # a model's score: skipped once a declared check has found an AI declaration


@dataclass(frozen=True, slots=True)
class CheckDescriptor:
    """Everything the rest of Verity needs to know about one check."""

    name: str
    fn: CheckFn
    description: str
    kind: Kind
    # Loads the check's model once per process (CheckContext.resources[name]); None for checks without a model.
    loader: Callable[[], Any] | None = None
    # Runs ONNX inference: the costly checks that fuzzing skips and the benchmarks time separately.
    onnx: bool = False
    # In the default pipeline. A check that has not earned its place (a learned check whose measured false-positive
    # bound misses its target, see its model card) is off by default and runs only when VERIFY_CHECKS or
    # VERIFY_EXTRA_CHECKS names it.
    default: bool = True

    @classmethod
    def of(cls, module: ModuleType, kind: Kind, model: bool = False, onnx: bool = False,
           default: bool = True) -> CheckDescriptor:
        return cls(module.NAME, module.check, module.DESCRIPTION, kind, module.shared if model else None, onnx, default)

    @property
    def learned(self) -> bool:
        return self.kind is Kind.LEARNED


# Strongest signals first: the order is the order of the response's "checks". Declared checks (provenance, labels,
# watermarks) come before the learned ones, so they run first; each check has its own timeout and exception isolation
# in run_check, so a slow or failing model cannot change a declared result.
DESCRIPTORS: tuple[CheckDescriptor, ...] = (
    CheckDescriptor.of(c2pa_manifest, Kind.DECLARED),
    CheckDescriptor.of(metadata_labels, Kind.DECLARED),
    CheckDescriptor.of(av_labels, Kind.DECLARED),
    CheckDescriptor.of(audio_cue, Kind.DECLARED),  # GB 45438 audio rhythm cue (Morse "AI") at the start
    CheckDescriptor.of(watermark, Kind.DECLARED),
    CheckDescriptor.of(visible_label, Kind.DECLARED, model=True, onnx=True),  # an OCR model reads the declaration
    CheckDescriptor.of(debunked_match, Kind.MATCH),
    CheckDescriptor.of(clip_match, Kind.MATCH),
    CheckDescriptor.of(declared_match, Kind.MATCH),  # copies of images that declared themselves AI (likely_synthetic)
    CheckDescriptor.of(keyframes, Kind.DECLARED),  # video keyframes through the image checks
    # Off by default: AUC 0.39 and 0% recall on the AI fixtures (models/ai_detector.MODEL_CARD.md).
    CheckDescriptor.of(ai_detector, Kind.LEARNED, model=True, onnx=True, default=False),
    # Off by default: 4.3% false positives on unseen human speakers, target <= 1% (models/speech_detector.MODEL_CARD.md).
    CheckDescriptor.of(speech_detector, Kind.LEARNED, model=True, default=False),
)

BY_NAME: dict[str, CheckDescriptor] = {d.name: d for d in DESCRIPTORS}
DEFAULT_CHECKS: tuple[str, ...] = tuple(d.name for d in DESCRIPTORS if d.default)


class UnknownCheck(ValueError):
    """VERIFY_CHECKS or VERIFY_EXTRA_CHECKS names a check that does not exist (a start-up error, not a request's)."""


def _names(value: object) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value or [])  # type: ignore[call-overload]
    names = [str(n).strip() for n in items if str(n).strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise UnknownCheck(f"unknown check(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return names


def enabled_checks(checks: object = "", extra: object = "") -> tuple[str, ...]:
    """The checks a deployment runs, in registry order: `checks` (VERIFY_CHECKS) replaces the default set when
    given, `extra` (VERIFY_EXTRA_CHECKS) adds to it.

    Raises:
        UnknownCheck: a name is not in the registry.
    """
    chosen = set(_names(checks) or DEFAULT_CHECKS) | set(_names(extra))
    return tuple(d.name for d in DESCRIPTORS if d.name in chosen)
