"""One verification: bytes in, the API's response body out. Shared by the API, the CLI and the benchmark."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import PIPELINE_VERSION, CheckFn, pipeline_id, run_checks
from .types import CheckContext, CheckResult, Media
from .verdict import Verdict, decide


@dataclass(frozen=True, slots=True)
class VerifyReport:
    sha256: str
    media_type: str
    verdict: Verdict
    checks: list[CheckResult]
    refutation: dict[str, Any] | None = None
    pipeline: str = field(default_factory=pipeline_id)  # the rule and the checks that ran
    # Which verification this is, when and by which rule: a cached answer carries the verification that produced it.
    verification_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    verified_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_json(self) -> dict[str, Any]:
        return {
            "verification": {"id": self.verification_id, "verified_at": self.verified_at,
                             "pipeline_version": PIPELINE_VERSION, "pipeline": self.pipeline},
            "sha256": self.sha256,
            "media_type": self.media_type,
            "verdict": self.verdict.to_json(),
            "checks": [c.to_json() for c in self.checks],
            "refutation": self.refutation,
        }


def verify(media: Media, ctx: CheckContext, checks: Mapping[str, CheckFn] | None = None,
           raise_errors: bool = False) -> VerifyReport:
    """Run the checks and decide the verdict. A check that matched a refutation puts it under evidence["refutation"]."""
    results = run_checks(media, ctx, checks, raise_errors)
    refutation = next((dict(r.evidence["refutation"]) for r in results if r.evidence.get("refutation")), None)
    return VerifyReport(media.sha256, media.mime, decide(results, media.damage), results, refutation,
                        pipeline=pipeline_id(ctx.checks))
