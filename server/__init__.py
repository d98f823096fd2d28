"""Verity's verification API: the application factory (the only place configuration is read)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from . import config as defaults
from .errors import register_error_handlers
from .refutations.ingest import RefutationIngest
from .service import VerificationService
from .jsonio import BoundedJSONProvider
from .storage import Storage, open_storage
from .verdict_cache import VerdictCache
from .verify import enabled_checks, pipeline_id
from .verify.refutation_index import DeclaredMatcher, RefutationMatcher
from .verify.checks.clip_match import ClipIndex
from .verify.types import CheckContext, Limits

TRUST_SETTINGS = Path(__file__).parent / "verify" / "trust" / "c2pa_settings.json"


@dataclass(frozen=True, slots=True)
class Settings:
    """The resolved configuration, frozen after start-up."""

    data_dir: Path
    max_upload_bytes: int
    raise_check_errors: bool
    limits: Limits


@dataclass(frozen=True, slots=True)
class VerifyState:
    """What the blueprints share: settings, storage and the check context (app.extensions["verify"])."""

    settings: Settings
    storage: Storage
    ctx: CheckContext
    pipeline: str
    verdicts: VerdictCache  # revalidated against new refutations (server/verdict_cache.py)
    ingest: RefutationIngest  # the one refutation ingestion path (server/refutations/ingest.py)
    declared: Any  # the declared index (server/refutations/declared.py DeclaredIndex), provenance memory
    service: VerificationService  # the one verification flow (server/service.py)
    config: dict[str, Any]  # the resolved configuration it was built from (defaults, VERIFY_*, test config)


def load_config(test_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then VERIFY_* environment variables, then test_config. Used by the app and the CLI alike."""
    app = Flask(__name__)
    _apply_config(app, test_config)
    return dict(app.config)


def _apply_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    app.config.from_object(defaults)
    app.config.from_prefixed_env("VERIFY")
    if test_config:
        app.config.update(test_config)


def build_state(config: dict[str, Any]) -> VerifyState:
    """Settings, storage and check context from a resolved configuration."""
    limits = Limits(max_bytes=int(float(config["MAX_UPLOAD_MB"]) * 1024 * 1024),
                    max_pixels=int(config["MAX_PIXELS"]),
                    check_timeout_s=float(config["CHECK_TIMEOUT_S"]),
                    max_duration_s=float(config["AV_MAX_DURATION_S"]),
                    max_video_pixels=int(config["AV_MAX_VIDEO_PIXELS"]),
                    max_frames=int(config["AV_MAX_FRAMES"]),
                    max_decode_s=float(config["AV_MAX_DECODE_S"]))
    settings = Settings(data_dir=Path(config["DATA_DIR"]), max_upload_bytes=limits.max_bytes,
                        raise_check_errors=bool(config["RAISE_CHECK_ERRORS"]), limits=limits)
    storage = open_storage(config.get("DATABASE_URL"), settings.data_dir)
    # Indexes are loaded once here and kept current by their owners (see refutation_index, clip_match).
    matcher = RefutationMatcher(storage, settings.data_dir / "refuted_media")
    ingest = RefutationIngest(storage, matcher, limits)
    if ingest.rehash_pending([settings.data_dir / "media"]):  # hashes made before the single path: recomputed once
        matcher = RefutationMatcher(storage, matcher.media_dir)
        ingest = RefutationIngest(storage, matcher, limits)
    checks = enabled_checks(config.get("CHECKS", ""), config.get("EXTRA_CHECKS", ""))
    from .refutations.declared import DeclaredIndex

    declared_matcher = DeclaredMatcher(storage) if "declared_match" in checks else None
    declared = DeclaredIndex(storage, declared_matcher, limits, max_entries=int(config["DECLARED_MAX"]),
                             retention_days=float(config["DECLARED_RETENTION_DAYS"])) \
        if declared_matcher is not None else None
    if declared is not None:
        declared.prune()
    resources: dict[str, Any] = {"refutations": matcher, "clip_index": ClipIndex(storage)}
    if declared_matcher is not None:
        resources["declared"] = declared_matcher
    if config.get("LOAD_MODELS", True):
        # ONNX sessions are loaded once per process, here, rather than on the first request; only for checks that run
        # (the keyframes check reads video frames with visible_label's OCR).
        from .verify import DESCRIPTORS

        wanted = set(checks) | ({"visible_label"} if "keyframes" in checks else set())
        resources |= {d.name: d.loader() for d in DESCRIPTORS if d.loader is not None and d.name in wanted}
    pipeline = pipeline_id(checks)
    if _flag(config.get("FETCH_REMOTE_MANIFESTS", False)):
        # Off by default (privacy: the manifest's host learns who looks at which file); see config.py.
        from .fetching import fetch, policy_from_config

        policy = policy_from_config(config, max_bytes=limits.max_bytes)
        resources["remote_manifests"] = lambda url: fetch(url, policy).data
        pipeline += "+remote-manifests"  # verdicts made with remote manifests are cached apart
    ctx = CheckContext(limits=limits, c2pa_settings_json=TRUST_SETTINGS.read_text(encoding="utf-8"), resources=resources,
                       checks=checks)
    verdicts = VerdictCache(storage, pipeline, matcher, declared_matcher)
    return VerifyState(settings=settings, storage=storage, ctx=ctx, pipeline=pipeline, verdicts=verdicts,
                       ingest=ingest, declared=declared, service=VerificationService(
                           storage, ctx, verdicts, settings.raise_check_errors,
                           max_concurrent=int(config["MAX_CONCURRENT_VERIFIES"]),
                           queue_timeout_s=float(config["QUEUE_TIMEOUT_S"]), declared=declared),
                       config=config)


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` in every route: ids beyond a 64-bit database integer are no id (404), not a database error."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's signature
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create the Flask app. `test_config` overrides defaults and VERIFY_* variables."""
    app = Flask(__name__)
    app.url_map.converters["int"] = DatabaseIdConverter
    _apply_config(app, test_config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state = build_state(dict(app.config))
    # Multipart framing needs a little room above the media limit; the exact limit is enforced on the media bytes.
    app.config["MAX_CONTENT_LENGTH"] = state.settings.max_upload_bytes + 1024 * 1024
    app.json = BoundedJSONProvider(app)  # request.get_json() parses with depth and size bounds (server/jsonio.py)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["verify"] = state

    register_error_handlers(app)
    from . import api, jobs, reports, security
    from .refutations import api as refutations

    app.register_blueprint(api.bp)
    app.register_blueprint(refutations.bp)
    reports.init_app(app)
    jobs.init_app(app, state)
    security.init_app(app)  # last: CORS, headers and rate limits over every blueprint
    from .refutations.feeds import flag, start_scheduler

    if flag(app.config["FEED_SYNC"]) and not app.testing and not str(app.config.get("JOB_QUEUE") or "").strip():
        start_scheduler(app)  # with a job queue, `build.py worker` syncs the feeds instead
    from .retention import prune_records
    prune_records(state.storage, float(app.config["RECORDS_RETENTION_DAYS"]))
    return app
