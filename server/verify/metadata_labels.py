"""PLACEHOLDER being replaced by the metadata_labels implementation (in progress)."""

from .types import CheckContext, CheckResult, Media, Outcome

NAME = "metadata_labels"
DESCRIPTION = "Metadata AI labels: IPTC DigitalSourceType, GB 45438-2025 AIGC, generator traces."


def check(media: Media, ctx: CheckContext) -> CheckResult:
    return CheckResult(NAME, Outcome.UNSUPPORTED, "not implemented yet")
