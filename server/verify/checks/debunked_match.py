"""Debunked media: does this media match one that fact-checkers have already refuted (Art. 13 rumor refutation)?

Detects: the exact bytes of a stored original (sha256, any media type), and for images re-posts of it in every edit
family of issue 13 (docs/matching.md has the measured recall per family): crops of 5-25 % from any side or corner,
captions, banners, stickers, emoji and logos on any side or over the picture, letterbox/pillarbox bars, rotation up to
+-10 degrees, colour filters, contrast, brightness and greyscale, screenshots with app UI around the picture,
re-encoding and downscaling, mirroring, and any two of these combined. Two candidate stages (`refutation_index`):
region PDQ hashes searched exactly within the PDQ radius (scales to millions of hashes), then ORB keypoints searched in
a keypoint bank; every candidate is accepted only when enough keypoints fit one similarity transform onto the stored
original (`image_hashing.convincing`), or, for smooth pictures with too few keypoints, by a close PDQ match alone.

Cannot: match video or audio perceptually here (exact bytes only; clip_match matches clips, keyframes matches video
frames against refuted images), collages that shrink the picture well below half of the post, re-photographed screens
(perspective), rotations beyond 20 degrees. A match says the picture was refuted in the context the fact-checker
describes; it says nothing about whether it is AI-generated, so it carries no verdict signal: the response's
`refutation` field carries it, and the verdict's reasons explain it (signal "refuted") without changing the label.
The summary says how it matched (byte-identical, PDQ distance, keypoints and the transform).

Evidence keys: refutation {id, claim, rating, fact_checker, review_url, date, language, explanation, original_context,
match {method ("sha256" | "pdq" | "pdq+orb" | "orb"), similarity, transform, original_sha256, original_url, and for
keypoint matches region {query, original} (the matched area as [x0, y0, x1, y1] shares of each picture, for outlining
on both) and geometry {rotation_deg (counter-clockwise positive), mirrored, inlier_ratio, matches}}}, distance (PDQ
bits, of 256; None for keypoint-only matches), inliers (keypoints that fit), hashes_searched (the size of the database).

Spec: https://schema.org/ClaimReview, https://schema.org/MediaReview,
      https://github.com/facebook/ThreatExchange/tree/main/pdq (PDQ)
"""

from __future__ import annotations

from ..refutation_index import RefutationMatcher
from ..types import CheckContext, CheckResult, Media, MediaError, MediaKind, Outcome

NAME = "debunked_match"
DESCRIPTION = ("Debunked media: exact and perceptual (PDQ and keypoint candidates, keypoint-verified) match against "
               "fact-checkers' refutations.")


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
           "pdq+orb": "perceptual match, PDQ distance {d}, {i} keypoints agree",
           "orb": "keypoint match, {i} keypoints agree"}.get(match.method, match.method)
    how = how.format(d=match.distance, i=match.inliers)
    if match.transform and match.method != "sha256":
        how += f"; {match.transform}"
    summary = f"Matches media that {refutation.fact_checker} rated \"{refutation.rating}\" ({how}): {refutation.claim}"
    return CheckResult(NAME, Outcome.DETECTED, summary[:500], score=round(match.similarity, 4),
                       evidence={"refutation": body, "distance": match.distance, "inliers": match.inliers,
                                 "hashes_searched": len(matcher)})
