"""The verdict rule: checks say what their findings mean (a Signal); this module only ranks them.

Ranking, strongest first: a declaration of AI generation (C2PA source type, metadata label, watermark, visible
label) > a C2PA manifest that fails validation > a "possibly AI" declaration or a detector score > provenance from
a trusted signer without AI > provenance whose signer no trust list vouches for > nothing. A low detector score never
produces an "authentic" claim: the best a file without declarations can get is `unknown` or `has_provenance`.

A refutation is about the claim made with the media, not about AI: it never changes the label, but it leads the
summary ("Refuted by ...") and sets `refuted`, so every reader sees the fact-check first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .types import CheckResult, Outcome, Signal

# The reason "signal" of a refutation match: not a Signal (it does not rank into the label), listed after them.
REFUTED = "refuted"
# The reason "signal" saying the file could be read only in part; like REFUTED it never changes the label.
DAMAGED = "damaged"

LABELS = ("synthetic", "provenance_invalid", "likely_synthetic", "has_provenance", "untrusted_provenance", "unknown")

_RANK: list[tuple[Signal, str, str]] = [
    (Signal.DECLARED_SYNTHETIC, "synthetic", "Declared AI-generated or AI-edited."),
    (Signal.PROVENANCE_INVALID, "provenance_invalid", "Its Content Credentials fail validation."),
    (Signal.POSSIBLY_SYNTHETIC, "likely_synthetic", "Possibly AI-generated."),
    (Signal.PROVENANCE_VALID, "has_provenance",
     "Has valid Content Credentials from a signer a trust list vouches for; they declare no AI generation."),
    (Signal.PROVENANCE_UNTRUSTED, "untrusted_provenance",
     "Signed, but no trust list vouches for the signer; the credentials declare no AI generation."),
]

# One summary per C2PA failure class (server/verify/checks/c2pa_manifest.py FAILURE_CLASSES): says what was found.
PROVENANCE_SUMMARIES: dict[str, str] = {
    "content_altered": "Its Content Credentials do not match the content: the file was altered after it was signed.",
    "claim_altered": "Its Content Credentials are broken: the signature or a signed statement does not match, so the "
                     "credentials were altered or damaged after signing.",
    "certificate_expired": "Signed, but the signing certificate had expired and no trusted timestamp shows it was "
                           "signed in time: the content was not found altered, but no trust list vouches for the signer.",
    "certificate_revoked": "Signed with a certificate that has since been revoked: the content was not found altered, "
                           "but no trust list vouches for the signer.",
    "certificate_invalid": "Signed, but the signing certificate or its timestamp fails validation: the content was not "
                           "found altered, but no trust list vouches for the signer.",
    "test_certificate": "Signed with a public C2PA test certificate, which anyone can use: the credentials are intact "
                        "but say nothing about who made the file, and declare no AI generation.",
    "signer_untrusted": "Signed, but no trust list vouches for the signer: the credentials are intact, yet anyone can "
                        "sign with a certificate of their own; they declare no AI generation.",
}

# What each label does NOT mean: shown with the verdict (CLI, HTML report), because each is easy to over-read.
NOT_MEANING: dict[str, str] = {
    "synthetic": "It does not say the media is false or misleading, or what in it was generated: AI edits count too, "
                 "and a declaration is only as honest as whoever made it.",
    "provenance_invalid": "It does not say the media is AI-generated or fake: only that its credentials and the file "
                          "no longer agree.",
    "likely_synthetic": "It is not a declaration and not proof: a softer label or a detector score that can be wrong.",
    "has_provenance": "It does not say the media is true or unedited: it says who signed it and what they declared.",
    "untrusted_provenance": "It does not say who made the media: anyone can sign with a certificate of their own.",
    "unknown": "It does not mean the media is authentic: most media carries no signal at all.",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    label: str
    summary: str
    reasons: list[dict[str, Any]] = field(default_factory=list)
    refuted: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "summary": self.summary, "refuted": self.refuted, "reasons": list(self.reasons),
                "not_meaning": NOT_MEANING[self.label]}


def refutation_lead(refutation: Mapping[str, Any]) -> str:
    """The sentence a refuted item's summary starts with: who refuted what, and their rating."""
    who = refutation.get("fact_checker") or "A fact-checker"
    rating = refutation.get("rating")
    claim = str(refutation.get("claim") or "a claim made with this media").strip().rstrip(".")
    return f"Refuted by {who}" + (f" (rated \"{rating}\")" if rating else "") + f": {claim}."


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
    refuted = [r for r in results if r.outcome is Outcome.DETECTED and r.evidence.get("refutation")]
    # The refutation leads the reasons and the summary; the label stays about AI.
    reasons = [{"check": r.check, "signal": REFUTED, "text": r.summary} for r in refuted] + reasons
    lead = refutation_lead(refuted[0].evidence["refutation"]) + " " if refuted else ""
    if not signalled:
        errors = [r.check for r in results if r.outcome is Outcome.ERROR]
        summary = "No provenance, AI label or other signal was found. This does not mean the media is authentic."
        if errors:
            summary += f" Some checks could not run: {', '.join(errors)}."
        return Verdict("unknown", lead + summary, reasons, bool(refuted))
    top = signalled[0]
    for signal, label, summary in _RANK:
        if signal is top.signal:
            if signal in (Signal.PROVENANCE_INVALID, Signal.PROVENANCE_UNTRUSTED):
                summary = PROVENANCE_SUMMARIES.get(str(top.evidence.get("failure_class")), summary)
            elif signal is Signal.POSSIBLY_SYNTHETIC and top.evidence.get("declared"):
                summary = f"{summary} {top.summary}"  # a copy of a declared original: name the declaration
            return Verdict(label, lead + summary, reasons, bool(refuted))
    raise AssertionError(f"unranked signal {top.signal}")
