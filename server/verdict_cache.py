"""The verdict cache: verdicts by (sha256, pipeline), revalidated against refutations added since, not flushed.

Why: a verdict depends on the pipeline and on the refutation database. Keying the cache by "the refutation generation"
(the newest refuted_media id) was correct but turned every new refutation into a flush of the whole cache: on a
platform where fact-checkers add refutations all day, every hash-first lookup would miss. Instead each cached verdict
keeps the generation it was computed at and the PDQ hashes its refutation lookup searched with (its probe). When the
generation has moved on, the verdict still holds unless one of the media added since
  - has the same sha256, or
  - lies within the matcher's search radius of one of the probe hashes, or
  - is an image whose keypoints joined the matcher's keypoint bank: the keypoint stage (refutation_index) can match a
    cropped, rotated or screenshotted copy at any PDQ distance, so a new image refutation can change any image verdict
    that was not an exact match. Refutations of audio and video, and withdrawals, leave image verdicts standing.
A verdict that still holds is marked current, so the next lookup is one query again. What cannot be revalidated this
way is recomputed (GET /v1/verdicts answers 404 and the client uploads the bytes): audio and video verdicts (their
clip and keyframe matching is not probe-based) and verdicts without a probe (their refutation check did not run).

The declared index (provenance memory, `declared_match`) is a second generation kept beside it: the newest
declared_media id. Unlike refutations, declared entries arrive with every AI-declared image a server verifies, many a
minute on a busy one; treating each as a possible keypoint match of every image (as a new refutation is) made every
cached image verdict stale at once, so hash-first lookups missed all day (`build.py bench --load`: 1,344 of 2,953
lookups answered 404 within a minute). So a declared entry added since makes an image verdict recompute only when it
has the same sha256 or lies within the declared matcher's PDQ radius of the verdict's probe: a copy verified before
its original (the rarer order) is re-answered when it is a resized or re-encoded copy, and keeps its answer when only
the keypoint stage could match it (a cropped copy) until its verdict is recomputed for another reason. A `synthetic`
verdict (the item's own declaration outranks a declared match) and an exact match always stand. Entries of other
media types leave image verdicts standing. Audio and video verdicts keep no probe, and recomputing every one of
them (seconds each for video) whenever a declared clip arrives would cost more than it buys: they stand too, except
for an entry with the same sha256, so a clip copy verified before its original keeps its answer.

A verdict in which a check failed or timed out is never cached (`cacheable`): it is answered, and computed again on
the next request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .storage import Storage
from .verify.types import Media, MediaKind, Outcome


@dataclass(frozen=True, slots=True)
class Generation:
    """What a verdict was computed against: the newest refuted_media id and the newest declared_media id."""

    refuted: int
    declared: int = 0


@dataclass(frozen=True, slots=True)
class VerdictCache:
    storage: Storage
    pipeline: str
    matcher: Any  # server.verify.refutation_index.RefutationMatcher, or None when refutation matching is off
    declared: Any = None  # server.verify.refutation_index.DeclaredMatcher, or None when the declared index is off

    def generation(self) -> Generation:
        """The generations now: read them before verifying and store the verdict with them."""
        return Generation(self.storage.refutation_generation(),
                          self.storage.declared_generation() if self.declared is not None else 0)

    def get(self, sha256: str, current: Generation | None = None) -> dict[str, Any] | None:
        """The cached verdict body if it still holds for today's refutations and declared index, else None (verify
        again). `current` is the generation when the caller has just read it."""
        cached = self.storage.get_cached_verdict(sha256, self.pipeline)
        if cached is None or not cacheable(cached.body):  # an earlier version cached verdicts with failed checks
            return None
        if current is None:
            current = self.generation()
        if cached.generation >= current.refuted and cached.declared_generation >= current.declared:
            return cached.body
        if cached.generation < current.refuted and not self._still_holds(sha256, cached.generation, cached.probe):
            return None
        if cached.declared_generation < current.declared and not self._declared_holds(
                sha256, cached.declared_generation, cached.probe, cached.body):
            return None
        self.storage.revalidate_verdict(sha256, self.pipeline, current.refuted, current.declared)
        return cached.body

    def put(self, media: Media, body: dict[str, Any], generation: Generation) -> None:
        """Cache `body`, computed with the refutations and declared entries up to `generation` (read before the
        pipeline ran)."""
        if not cacheable(body):
            return
        probe = None
        if media.kind is MediaKind.IMAGE and media.match_probe is not None:
            probe = {"pdq": media.match_probe}
        self.storage.put_verdict(media.sha256, self.pipeline, body, generation.refuted, probe, generation.declared)

    def _declared_holds(self, sha256: str, generation: int, probe: dict[str, Any] | None,
                        body: dict[str, Any]) -> bool:
        """Whether declared entries added since `generation` leave the verdict standing (see the module's docstring)."""
        if self.declared is None or body.get("verdict", {}).get("label") == "synthetic":
            return True  # the item's own declaration outranks any declared match
        if self.storage.declared_since(generation, sha256=sha256):
            return False
        if not str(body.get("media_type", "")).startswith("image/"):
            return True  # a clip copy verified before its original keeps its answer (see the module's docstring)
        if probe is None:
            return False
        return not self.declared.candidates_since(list(probe.get("pdq") or []), generation, keypoints=False)

    def _still_holds(self, sha256: str, generation: int, probe: dict[str, Any] | None) -> bool:
        if probe is None or self.matcher is None:
            return False
        if self.storage.refuted_since(generation, sha256):
            return False
        return not self.matcher.candidates_since(list(probe.get("pdq") or []), generation)


def cacheable(body: dict[str, Any]) -> bool:
    """A verdict is cached as final only when every check ran: one computed while a check failed or timed out is
    answered, then computed again on the next request, so a transient failure never becomes a permanent answer."""
    return not any(check.get("outcome") == Outcome.ERROR for check in body.get("checks", []))
