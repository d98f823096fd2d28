"""The one verification service: the API, the job runner and the review UI call it; nothing else runs the flow.

    lookup (the verdict cache, revalidated against new refutations)
    -> decode once, bounded (pixel bombs 413; a file that decodes only in part is still checked)
    -> pipeline (every check, each isolated and timed)
    -> cache policy (a verdict in which a check failed or timed out is answered but never cached)
    -> provenance memory (a verdict resting on the media's own AI declaration adds its hashes to the declared index)
    -> record + audit (one transaction)

Why one: the API and the job runner each ran their own copy of this flow, and they drifted (the job copy wrote no audit
entry); a verdict computed while checks timed out was cached like any other and answered `unknown` forever.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .audit import AuditLog
from .errors import Problem
from .storage import SQLStorage
from .verdict_cache import Generation, VerdictCache, cacheable
from .verify import av_decode
from .verify.pipeline import verify
from .verify.types import CheckContext, Media, MediaKind, Outcome, UndecodableMedia

Progress = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class Lookup:
    """A cached verdict (or None), and the generations (refutations, declared index) it was looked up at."""

    body: dict[str, Any] | None
    generation: Generation


class VerificationService:
    """Verify media and keep the identification record. One per process (VerifyState.service)."""

    def __init__(self, storage: SQLStorage, ctx: CheckContext, verdicts: VerdictCache,
                 raise_check_errors: bool = False, max_concurrent: int = 2, queue_timeout_s: float = 60.0,
                 declared: Any = None) -> None:
        self.storage, self.ctx, self.verdicts = storage, ctx, verdicts
        # server.refutations.declared.DeclaredIndex: verifications that end in a declaration are remembered there
        self.declared = declared
        self.raise_check_errors = raise_check_errors
        self.audit = AuditLog(storage)
        self._slots = threading.BoundedSemaphore(max(1, max_concurrent))
        self._queue_timeout_s = queue_timeout_s

    @contextmanager
    def slot(self) -> Iterator[None]:
        """One of this process's pipeline slots, for any work that decodes untrusted media (verifications, reports):
        at most MAX_CONCURRENT_VERIFIES run at once, so decoding cannot take every server thread or all memory.

        Raises:
            Problem: 503 server-busy when no slot frees up within QUEUE_TIMEOUT_S.
        """
        if not self._slots.acquire(timeout=self._queue_timeout_s):
            raise Problem(503, "server-busy", "The server is busy", "Too many verifications are running; retry shortly.",
                          retry_after_s=5)
        try:
            yield
        finally:
            self._slots.release()

    def lookup(self, sha256: str) -> Lookup:
        """The cached verdict for these bytes if it still holds (read the generation first: a refutation added while
        the pipeline runs is then revalidated later, never hidden)."""
        generation = self.verdicts.generation()
        return Lookup(self.verdicts.get(sha256, generation), generation)

    def probe(self, media: Media) -> av_decode.Probe | None:
        """Audio/video: the bounded container probe (over a limit: 413); None when the container cannot be read
        (then `media.damage` says why, and only the checks that read bytes can answer)."""
        try:
            return av_decode.probe(media.data, media.limits)
        except UndecodableMedia as exc:
            media.damage = str(exc)
            return None

    def compute(self, media: Media, generation: Generation, progress: Progress | None = None) -> dict[str, Any]:
        """Decode once, run the pipeline, apply the cache policy; returns the response body.

        Raises:
            MediaTooLarge, DecodeBudgetExceeded: over a bound (413), before any check runs.
            UndecodableMedia: nothing at all could be read: the file does not decode and no check found anything.
        """
        self._decode(media, progress)
        body = verify(media, self.ctx, raise_errors=self.raise_check_errors).to_json()
        partly_read = isinstance(media.av_cache, av_decode.PartiallyDecoded)
        if media.damage is not None and not partly_read and not any(c["outcome"] == Outcome.DETECTED
                                                                    for c in body["checks"]):
            raise UndecodableMedia(media.damage)  # nothing at all could be read
        if cacheable(body):
            self.verdicts.put(media, body, generation)
        if self.declared is not None:
            self.declared.remember(media, body)  # a declaration is remembered by its hashes (provenance memory)
        return body

    def record(self, media: Media, body: dict[str, Any], *, cached: bool, source_url: str | None,
               page_url: str | None, actor: str, client: str | None = None) -> None:
        """The identification record and its audit entry, committed together (without waiting for fsync: see
        SQLStorage.transaction). `client` names the API key the request came with (server/keys.py)."""
        with self.storage.transaction(durable=False) as conn:
            self.storage.add_record(media.sha256, body["media_type"], body["verdict"]["label"], source_url, page_url,
                                    cached, conn=conn, client=client)
            self.audit.append("verification", actor, f"sha256:{media.sha256}",
                              {"label": body["verdict"]["label"], "cached": cached}, conn=conn)

    def verify(self, media: Media, *, source_url: str | None = None, page_url: str | None = None,
               actor: str = "api", progress: Progress | None = None, record: bool = True) -> tuple[dict[str, Any], bool]:
        """lookup -> compute -> record: the whole flow for callers that need no step between (jobs, review)."""
        found = self.lookup(media.sha256)
        body = found.body if found.body is not None else self.compute(media, found.generation, progress)
        if record:
            self.record(media, body, cached=found.body is not None, source_url=source_url, page_url=page_url,
                        actor=actor)
        return body, found.body is not None

    def _decode(self, media: Media, progress: Progress | None) -> None:
        """Decode once, shared by every check. Damage is noted on the media, not raised: the declared checks read
        bytes and still answer for a file that decodes only in part."""
        if media.kind is MediaKind.IMAGE:
            try:
                media.image()
            except UndecodableMedia as exc:
                media.damage = str(exc)
            return
        if media.damage is None and self.probe(media) is not None:
            try:
                av_decode.analysis(media, progress=progress)
            except UndecodableMedia:
                pass  # analysis() set media.damage and caches the failure for the checks
