"""What a verification declared, as the declared index keeps it and as a copy's reason names it.

Shared by the declared index's ingestion (server/refutations/declared.py) and the declared_match check, so the
summary is read from a verdict body in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# What was declared: the whole item is AI output, or an AI edit / composite of other media (its sources are not AI).
GENERATED, EDITED = "generated", "edited"
DECLARATION_KINDS = (GENERATED, EDITED)
# The checks whose AI finding is a declaration the index remembers (registry Kind.DECLARED; keyframes: a label or
# watermark on a video's frames, which declares the clip).
DECLARING_CHECKS = ("c2pa_manifest", "metadata_labels", "watermark", "visible_label", "av_labels", "audio_cue",
                    "keyframes")
COMPOSITE_SOURCE_TYPES = frozenset({"compositeWithTrainedAlgorithmicMedia", "compositeSynthetic"})
_MAX_TEXT = 300


def declaration_of(body: Mapping[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The declaration summary and kind of a verification body whose verdict rests on a declared check, else None.

    C2PA: "edited" when the active manifest declares a composite (compositeWithTrainedAlgorithmicMedia: generative
    fill on a camera photo) and not trainedAlgorithmicMedia, even when an ingredient was generated, because the
    picture is mostly its untouched source; "generated" when the active manifest declares trainedAlgorithmicMedia, or
    declares nothing AI itself over a generated ingredient (a generator's output re-saved, e.g. DALL-E via ChatGPT).
    """
    verdict = body.get("verdict") or {}
    if verdict.get("label") != "synthetic":
        return None
    checks = {c.get("check"): c for c in body.get("checks") or []}
    for name in DECLARING_CHECKS:
        check = checks.get(name)
        if not check or check.get("signal") != "declared_synthetic" or check.get("outcome") != "detected":
            continue
        evidence = check.get("evidence") or {}
        summary: dict[str, Any] = {"check": name, "summary": str(check.get("summary") or "")[:_MAX_TEXT]}
        kind = GENERATED
        if name == "c2pa_manifest":
            signer = evidence.get("signer") or {}
            summary["by"] = signer.get("issuer") or signer.get("common_name")
            types = [d for d in evidence.get("digital_source_types") or [] if isinstance(d, Mapping)]
            ai = [d for d in types if d.get("digitalSourceType") in
                  ("trainedAlgorithmicMedia", *COMPOSITE_SOURCE_TYPES)]
            active = [d["digitalSourceType"] for d in ai if d.get("manifest") == "active"]
            summary["digital_source_type"] = (active or [d["digitalSourceType"] for d in ai] or [None])[0]
            trained = [d for d in ai if d["digitalSourceType"] == "trainedAlgorithmicMedia"]
            if "trainedAlgorithmicMedia" not in active and (active or not trained):
                kind = EDITED  # the active manifest declares an AI edit (or only composites are declared)
        elif name == "metadata_labels":
            findings = [f for f in evidence.get("findings") or [] if isinstance(f, Mapping) and f.get("ai")]
            first = findings[0] if findings else {}
            summary["by"] = str(first.get("kind") or "metadata label")[:80]
            value = first.get("value")
            dst = str(value).rsplit("/", 1)[-1] if isinstance(value, str) and "digitalsourcetype" in value else None
            summary["digital_source_type"] = dst
            if dst in COMPOSITE_SOURCE_TYPES:
                kind = EDITED
        elif name == "watermark":
            summary["by"] = f"{evidence.get('detected_scheme') or 'invisible'} watermark"
        elif name == "visible_label":
            labels = evidence.get("labels") or []
            text = labels[0].get("text") if labels and isinstance(labels[0], Mapping) else None
            summary["by"] = f"visible label \"{str(text)[:80]}\"" if text else "visible label"
        elif name == "av_labels":
            labels = [x for x in evidence.get("labels") or [] if isinstance(x, Mapping)]
            field = labels[0].get("field") if labels else None
            summary["by"] = f"{str(field)[:80]} tag" if field else "metadata tag"
        else:
            summary["by"] = name
        return summary, kind
    return None


def describe_declaration(declaration: Mapping[str, Any]) -> str:
    """How a reason names what the original declared ("whose Content Credentials, signed by Adobe Inc., declared
    trainedAlgorithmicMedia")."""
    check, by, dst = declaration.get("check"), declaration.get("by"), declaration.get("digital_source_type")
    if check == "c2pa_manifest":
        return (f"whose Content Credentials, signed by {by or 'an unknown signer'}, declared "
                f"{dst or 'AI generation'}")
    if check == "metadata_labels":
        return f"whose metadata ({by}) declared {dst or 'AI generation'}"
    if check == "watermark":
        return f"that carried a {by} declaring AI generation"
    if check == "visible_label":
        return f"that carried a {by} declaring AI generation"
    if check == "av_labels":
        return f"whose metadata ({by}) declared AI generation"
    if check == "audio_cue":
        return "whose own audio announced AI generation (audio_cue)"
    if check == "keyframes":
        return "that carried an AI label or watermark on its frames"
    return f"that declared itself AI-generated ({check})"
