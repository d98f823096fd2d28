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

from .checks import (ai_detector, av_labels, c2pa_manifest, clip_match, debunked_match, keyframes, metadata_labels,
                     speech_detector, visible_label, watermark)
from .types import CheckContext, CheckResult, Media

CheckFn = Callable[[Media, CheckContext], CheckResult]


class Kind(StrEnum):
    """What a check's finding rests on."""

    DECLARED = "declared"  # the bytes declare something (provenance, labels, watermarks): read, not inferred
    MATCH = "match"  # the media matches media a fact-checker refuted
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

    @classmethod
    def of(cls, module: ModuleType, kind: Kind, model: bool = False, onnx: bool = False) -> CheckDescriptor:
        return cls(module.NAME, module.check, module.DESCRIPTION, kind, module.shared if model else None, onnx)

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
    CheckDescriptor.of(watermark, Kind.DECLARED),
    CheckDescriptor.of(visible_label, Kind.DECLARED, model=True, onnx=True),  # an OCR model reads the declaration
    CheckDescriptor.of(debunked_match, Kind.MATCH),
    CheckDescriptor.of(clip_match, Kind.MATCH),
    CheckDescriptor.of(keyframes, Kind.DECLARED),  # video keyframes through the image checks
    CheckDescriptor.of(ai_detector, Kind.LEARNED, model=True, onnx=True),
    CheckDescriptor.of(speech_detector, Kind.LEARNED, model=True),
)

BY_NAME: dict[str, CheckDescriptor] = {d.name: d for d in DESCRIPTORS}
