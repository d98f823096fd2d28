"""Debunked media: does this media match one that fact-checkers have already refuted (Art. 13 rumor refutation)?

Detects: the exact bytes of a stored original (sha256, any media type), and for images re-posts of it that were
re-encoded, resized, cropped (about 10%), mirrored, given a caption strip or a meme banner with text over the
picture, or letterboxed: PDQ hashes of the trimmed picture and of stored crops/mirrors, confirmed by ORB keypoints +
RANSAC against the stored original (`refutation_index`, `image_hashing`).

Cannot: match video or audio perceptually here (exact bytes only; clip_match matches clips, keyframes matches video
frames against refuted images), heavy crops (well beyond 10%), rotations, collages that shrink the picture to a small
part of the post, or re-photographed screens. A match says the picture was refuted in the context the fact-checker
describes; it says nothing about whether it is AI-generated, so it carries no verdict signal: the response's
`refutation` field carries it, and the verdict's reasons explain it (signal "refuted") without changing the label.
The summary says how it matched (byte-identical, or PDQ distance, keypoints and the transform path).

Evidence keys: refutation {id, claim, rating, fact_checker, review_url, date, language, explanation, original_context,
match {method, similarity, transform, original_sha256, original_url}}, distance (PDQ bits, of 256), inliers (ORB),
hashes_searched (the size of the database).

Spec: https://schema.org/ClaimReview, https://schema.org/MediaReview,
      https://github.com/facebook/ThreatExchange/tree/main/pdq (PDQ)
"""

from __future__ import annotations

from ..refutation_index import RefutationMatcher
from ..types import CheckContext, CheckResult, Media, MediaError, MediaKind, Outcome

NAME = "debunked_match"
DESCRIPTION = "Debunked media: exact and perceptual (PDQ + keypoint-verified) match against fact-checkers' refutations."


def check(media: Media, ctx: CheckContext) -> CheckResult:
    """Look the media up in the refutation database."""
    matcher: RefutationMatcher | None = ctx.resources.get("refutations")
    if matcher is None:
        return CheckResult(NAME, Outcome.NOT_DETECTED, "No refutation database is loaded.",
                           evidence={"hashes_searched": 0})
    try:
        match = matcher.match(media)
    except MediaError as exc:  # exact bytes were searched; the pixels cannot be read for a perceptual search
        return CheckResult(NAME, Outcome.UNSUPPORTED, f"Only exact bytes were searched: {exc}",
                           evidence={"hashes_searched": len(matcher)})
    if match is None:
        scope = "" if media.kind is MediaKind.IMAGE else " (exact bytes only for this media type)"
        return CheckResult(NAME, Outcome.NOT_DETECTED,
                           f"Not found among media refuted by fact-checkers{scope}.",
                           evidence={"hashes_searched": len(matcher)})
    refutation = matcher.storage.get_refutation(match.media.refutation_id)
    if refutation is None:  # deleted between lookup and read
        return CheckResult(NAME, Outcome.NOT_DETECTED, "Not found among media refuted by fact-checkers.",
                           evidence={"hashes_searched": len(matcher)})
    body = {**refutation.to_json(), "match": match.to_json()}
    how = {"sha256": "byte-identical", "pdq": "perceptual match, PDQ distance {d}",
           "pdq+orb": "perceptual match, PDQ distance {d}, {i} keypoints agree"}.get(match.method, match.method)
    how = how.format(d=match.distance, i=match.inliers)
    if match.transform and match.method != "sha256":
        how += f"; {match.transform}"
    summary = f"Matches media that {refutation.fact_checker} rated \"{refutation.rating}\" ({how}): {refutation.claim}"
    return CheckResult(NAME, Outcome.DETECTED, summary[:500], score=round(match.similarity, 4),
                       evidence={"refutation": body, "distance": match.distance, "inliers": match.inliers,
                                 "hashes_searched": len(matcher)})
