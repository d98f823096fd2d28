"""Declared original: is this image a copy of one that Verity saw declare itself AI (the declared index)?

Detects: copies of an image whose own declaration (C2PA AI source type, IPTC / GB 45438 metadata label, generator
parameters, invisible watermark, visible label) Verity read when it verified the original, after the copy lost that
declaration: metadata stripped, resized, re-encoded, cropped, captioned, mirrored or screenshotted - the refutation
matcher's edit families (docs/matching.md), through the same matcher (`refutation_index.Matcher` over the declared
index's originals: PDQ regions, then keypoints, every candidate verified geometrically).

Signal: POSSIBLY_SYNTHETIC (`likely_synthetic`), never DECLARED_SYNTHETIC: the copy itself declares nothing, and a
declaration is only as honest as whoever made it. A copy's own declaration outranks this check (verdict.py).
A match to an AI *edit* (C2PA compositeWithTrainedAlgorithmicMedia, an IPTC composite: generative fill on a camera
photo) gives no signal: the edit's source picture is not AI, so its camera original and other copies of it would
match too; the summary says what was declared and the verdict stays as the other checks leave it.

Video and audio: copies of a clip whose own declaration (C2PA, container AI tags, a spoken or explicit label) Verity
read, after a re-encode, a downscale or a metadata strip: clip_match's one clip matcher (`clip_match.find`: frame PDQ
in one consistent timing, keyframe keypoints, Chromaprint for audio) over the declared clips' fingerprints.

Cannot: recognise copies of originals Verity never verified (or that other servers did not share), copies edited
beyond the matchers' families, audio shorter than about 4.6 s (too few Chromaprint sub-fingerprints), or a silent
clip's or a constant tone's soundtrack.

Evidence keys (clips: match without region/geometry unless the keyframe stage matched, and video {frames_sampled,
frames_matched, times, transform, ...} or audio {bit_error_rate, offset_s, transform} as clip_match gives them):
declared {original_sha256, declaration {check, by, digital_source_type, summary}, declaration_kind
("generated" | "edited"), seen_at, origin}, match {method, similarity, transform, original_sha256, original_url (null:
only hashes are kept), region, geometry}, distance, inliers, edits (what the copy changed: resized, re-encoded, ...),
entries_searched.
"""

from __future__ import annotations

from typing import Any

from .. import av_decode
from ..declarations import EDITED, describe_declaration
from . import clip_match
from ..types import CheckContext, CheckResult, Media, MediaError, MediaKind, Outcome, Signal

NAME = "declared_match"
DESCRIPTION = ("Declared original: perceptual match (PDQ and keypoints, keypoint-verified; clip fingerprints for "
               "video and audio) against media that declared themselves AI when Verity verified them (the declared "
               "index).")


def check(media: Media, ctx: CheckContext) -> CheckResult:
    """Look the media up in the declared index."""
    matcher: Any = ctx.resources.get("declared")
    if matcher is None:
        return CheckResult(NAME, Outcome.NOT_DETECTED, "No declared index is loaded.",
                           evidence={"entries_searched": 0})
    if media.kind is not MediaKind.IMAGE:
        return _check_clip(media, matcher)
    try:
        match = matcher.match(media)
    except MediaError as exc:
        return CheckResult(NAME, Outcome.UNSUPPORTED, f"The image could not be searched: {exc}",
                           evidence={"entries_searched": len(matcher)})
    entry = matcher.storage.declared_by_id(match.media.id) if match is not None else None
    if match is None or entry is None:
        return CheckResult(NAME, Outcome.NOT_DETECTED, "Not a copy of an image Verity has seen declared as AI.",
                           evidence={"entries_searched": len(matcher)})
    edits = _edits(media, entry.width, entry.height, match)
    how = (f"matched {'as the same bytes' if match.method == 'sha256' else 'after ' + ', '.join(edits)}, "
           f"score {match.similarity:.2f}")
    what = describe_declaration(entry.declaration)
    evidence = {"declared": _declared(entry), "match": match.to_json(), "distance": match.distance,
                "inliers": match.inliers, "edits": edits, "entries_searched": len(matcher)}
    if entry.declaration_kind == EDITED:
        return _found(entry, f"Matches an image {what}: an AI edit of other media, so a match says nothing about "
                             f"whether this image is AI (not used for the verdict; {how}).", match.similarity, evidence)
    return _found(entry, f"A copy of an image {what}; {how}.", match.similarity, evidence)


def _check_clip(media: Media, matcher: Any) -> CheckResult:
    """Video and audio: clip_match's one clip matcher (`clip_match.find`) over the declared clips."""
    index = matcher.clips
    noun = "video" if media.kind is MediaKind.VIDEO else "audio clip"
    try:
        analysis = av_decode.analysis(media)
    except MediaError as exc:
        return CheckResult(NAME, Outcome.UNSUPPORTED, f"The {noun} could not be searched: {exc}",
                           evidence={"entries_searched": index.loaded()})
    refs = index.references()
    found = clip_match.find(media, analysis, index, refs) if refs else None
    entry = matcher.storage.declared_by_id(found[2].refuted_media_id) if found is not None else None
    if found is None or entry is None:
        return CheckResult(NAME, Outcome.NOT_DETECTED, "Not a copy of a clip Verity has seen declared as AI.",
                           evidence={"entries_searched": len(refs)})
    similarity, method, ref, details = found
    if method in (clip_match.VPDQ, clip_match.VORB):
        how = (f"{details['frames_matched']} of its {details['frames_sampled']} sampled frames match "
               f"({details['transform']})")
    elif method == clip_match.CHROMAPRINT:
        how = (f"its audio matches (Chromaprint bit error rate {details['bit_error_rate']:.2f}; "
               f"{details['transform'].removeprefix('audio: ')})")
    else:
        how = "the same bytes"
    match = {"method": method, "similarity": round(float(similarity), 4), "transform": details.get("transform"),
             "original_sha256": ref.sha256, "original_url": None}
    for key in ("region", "geometry"):
        if key in details:
            match[key] = details[key]
    what = describe_declaration(entry.declaration)
    # what the copy is of: "a video", "an audio clip"; a video whose soundtrack matched a declared clip says so
    kind_noun = "a video" if entry.media_type == "video" else "an audio clip"
    soundtrack = media.kind is MediaKind.VIDEO and method == clip_match.CHROMAPRINT
    lead = f"Its soundtrack is a copy of {kind_noun}" if soundtrack else f"A copy of {kind_noun}"
    stage = ("video" if method in (clip_match.VPDQ, clip_match.VORB) else
             "audio" if method == clip_match.CHROMAPRINT else "exact")
    evidence = {"declared": _declared(entry), "match": match, stage: details, "entries_searched": len(refs)}
    if entry.declaration_kind == EDITED:
        return _found(entry, f"Matches {kind_noun} {what}: an AI edit of other media, so a match says nothing about "
                             f"whether this {noun} is AI (not used for the verdict; {how}, score {similarity:.2f}).",
                      similarity, evidence)
    return _found(entry, f"{lead} {what}; {how}, score {similarity:.2f}.", similarity, evidence)


def _declared(entry: Any) -> dict[str, Any]:
    """The evidence's `declared` part: the original's declaration as the index keeps it."""
    return {"original_sha256": entry.sha256, "declaration": entry.declaration,
            "declaration_kind": entry.declaration_kind, "seen_at": entry.seen_at, "origin": entry.origin}


def _found(entry: Any, summary: str, similarity: float, evidence: dict[str, Any]) -> CheckResult:
    """A match: a signal for a copy of a generated original; for an AI edit's, the note alone (no signal)."""
    signal = None if entry.declaration_kind == EDITED else Signal.POSSIBLY_SYNTHETIC
    return CheckResult(NAME, Outcome.DETECTED, summary[:500], score=round(float(similarity), 4), evidence=evidence,
                       signal=signal)


def _edits(media: Media, width: int | None, height: int | None, match: Any) -> list[str]:
    """What the copy changed, as far as the match tells: the words of the reason."""
    out = []
    try:
        w: int | None = media.image().width
    except MediaError:
        w = None
    if w and width and abs(w / width - 1) > 0.02:
        out.append(f"resize to {100 * w / width:.0f} %")
    geometry = match.geometry or {}
    if geometry.get("mirrored"):
        out.append("mirroring")
    if abs(float(geometry.get("rotation_deg") or 0)) >= 1:
        out.append(f"rotation by {geometry['rotation_deg']:+.0f} deg")
    if match.transform and "cropped" in match.transform:
        out.append("cropping")
    if match.transform and "fills" in match.transform:
        out.append("framing (captions, bars or a screenshot)")
    out.append("re-encode")
    return out
