"""The verdict rule: checks say what their findings mean (a Signal); this module only ranks them.

Ranking, strongest first: a declaration of AI generation (C2PA source type, metadata label, watermark, visible
label) > a C2PA manifest that fails validation > a "possibly AI" declaration or a detector score > valid
provenance without AI > nothing. A low detector score never produces an "authentic" claim: the best a file
without declarations can get is `unknown` or `has_provenance`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .types import CheckResult, Outcome, Signal

# The reason "signal" of a refutation match: not a Signal (it does not rank into the label), listed after them.
REFUTED = "refuted"
# The reason "signal" saying the file could be read only in part; like REFUTED it never changes the label.
DAMAGED = "damaged"

LABELS = ("synthetic", "provenance_invalid", "likely_synthetic", "has_provenance", "unknown")

_RANK: list[tuple[Signal, str, str]] = [
    (Signal.DECLARED_SYNTHETIC, "synthetic", "Declared AI-generated or AI-edited."),
    (Signal.PROVENANCE_INVALID, "provenance_invalid", "Its Content Credentials fail validation: the file was altered after signing, or the signature is broken."),
    (Signal.POSSIBLY_SYNTHETIC, "likely_synthetic", "Possibly AI-generated."),
    (Signal.PROVENANCE_VALID, "has_provenance", "Has valid Content Credentials that declare no AI generation."),
]


@dataclass(frozen=True, slots=True)
class Verdict:
    label: str
    summary: str
    reasons: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "summary": self.summary, "reasons": list(self.reasons)}


def decide(results: list[CheckResult], damage: str | None = None) -> Verdict:
    """Combine check results into one verdict with the reasons that decided it. `damage` says why the file could be
    read only in part: the label then rests on what could be read, and the reasons and summary say so."""
    verdict = _decide(results)
    if damage is None:
        return verdict
    note = f"The file is damaged ({damage}): only what could be read was checked."
    return Verdict(verdict.label, f"{verdict.summary} {note}",
                   [*verdict.reasons, {"check": "media", "signal": DAMAGED, "text": note}])


def _decide(results: list[CheckResult]) -> Verdict:
    order = {signal: i for i, (signal, _, _) in enumerate(_RANK)}
    signalled = sorted((r for r in results if r.signal is not None and r.outcome is Outcome.DETECTED),
                       key=lambda r: order[r.signal])  # type: ignore[index]
    reasons = [{"check": r.check, "signal": str(r.signal), "text": r.summary} for r in signalled]
    # A refutation is about the claim made with the media, not about AI: it never changes the label, but the reasons
    # say what matched and how (after the findings that decided the label).
    refuted = [r for r in results if r.outcome is Outcome.DETECTED and r.evidence.get("refutation")]
    reasons += [{"check": r.check, "signal": REFUTED, "text": r.summary} for r in refuted]
    refuted_note = (" A fact-checker has refuted a claim made with this media (see the reasons and the refutation)."
                    if refuted else "")
    if not signalled:
        errors = [r.check for r in results if r.outcome is Outcome.ERROR]
        summary = "No provenance, AI label or other signal was found. This does not mean the media is authentic."
        if errors:
            summary += f" Some checks could not run: {', '.join(errors)}."
        return Verdict("unknown", summary + refuted_note, reasons)
    top = signalled[0].signal
    for signal, label, summary in _RANK:
        if signal is top:
            return Verdict(label, summary + refuted_note, reasons)
    raise AssertionError(f"unranked signal {top}")
