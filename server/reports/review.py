"""The reviewer's web UI (blueprint "review", /review): sign in, the queue, an item, and the three decisions.

Roles: a reviewer works the queue (sign in, queue, item, decide). An admin may also do what changes the system
rather than one item: manage users (add, role, disable/enable, password), change the audit retention, and withdraw a
wrongful refutation with a reason (an audited tombstone: it stops matching, the record stays). Every admin route is
wrapped in `admin_only` (403 for reviewers) and the admin controls are rendered for admins only.

Server-rendered Jinja pages in English and Chinese. Every form carries a CSRF token: before sign-in one bound to a
random pre-session cookie (HMAC with the secret key), after sign-in the session's own token, stored server-side, which
dies with the session at sign-out. Pages redirect to the sign-in page without a session; a POST without a valid session
and token is refused with 403 and changes nothing.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, send_file, url_for
from flask_limiter.errors import RateLimitExceeded

from .accounts import ROLES, AccountError, LoginThrottled
from .settings import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, AdminSettings, SettingError
from ..audit import canonical
from .store import ACTIONS, CATEGORIES, STATUSES, ItemAlreadyDecided, ItemNotFound
from .api import SESSION_COOKIE, ReviewState, client_id, current_session
from .i18n import LANGUAGES, code_name, translate
from ..refutations.ingest import IngestError, MediaSource
from ..storage import Refutation, RefutationAlreadyWithdrawn, RefutationNotFound, RefutedMedia, TextContainsNul
from ..verify.media import load_media
from ..verify.types import MediaError

bp = Blueprint("review", __name__, url_prefix="/review", template_folder="templates", static_folder="static",
               static_url_path="/static")

PRE_COOKIE = "verity_pre"
LANG_COOKIE = "verity_lang"
RATINGS = ("False", "Misleading", "Altered", "Missing context", "Satire", "AI-generated")
_MAX_NOTE, _MAX_CLAIM, _MAX_RATING, _MAX_URL = 4000, 1000, 100, 2048


def _rs() -> ReviewState:
    return current_app.extensions["verity_reports"]  # type: ignore[no-any-return]


def _secure() -> bool:
    """Secure cookies everywhere except plain http on loopback (local development and tests)."""
    host = (urlsplit("//" + request.host).hostname or "").lower()
    return request.scheme == "https" or host not in ("127.0.0.1", "localhost", "::1")


@bp.before_request
def _load() -> None:
    g.session = current_session()
    lang = request.args.get("lang")
    if lang not in LANGUAGES:
        lang = request.cookies.get(LANG_COOKIE)
    if lang not in LANGUAGES:
        lang = request.accept_languages.best_match(LANGUAGES, default="en")
    g.lang = lang


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", (
        "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"))
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("Cache-Control", "no-store")
    if request.args.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, request.args["lang"], max_age=365 * 86400, httponly=True, samesite="Strict",
                            secure=_secure(), path="/review")
    return response


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    lang = g.get("lang", "en")
    return {"t": lambda key, **kw: translate(lang, key, **kw), "code": lambda key: code_name(lang, key), "lang": lang,
            "languages": LANGUAGES,
            "review_session": g.get("session")}


def _page(template: str, http_status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(f"review/{template}", **context), http_status


def _refuse(status: int, key: str) -> tuple[str, int]:
    return _page("message.html", status, title_key=key, message_key=key + "_detail")


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Pages: redirect to sign-in without a session. POSTs: 403 unless the session's CSRF token comes with them."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if request.method == "POST":
            token = request.form.get("csrf", "")
            if g.session is None or not hmac.compare_digest(token.encode(), g.session.csrf.encode()):
                return _refuse(403, "csrf_failed")
        elif g.session is None:
            return redirect(url_for("review.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def admin_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Admin routes: 403 for a signed-in reviewer. Goes under `signed_in`, which has checked session and CSRF."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.session is None or g.session.user.role != "admin":
            return _refuse(403, "admin_only")
        return view(*args, **kwargs)

    return wrapper


def _pre_token(pre: str) -> str:
    return hmac.new(_rs().secret, b"login:" + pre.encode(), hashlib.sha256).hexdigest()


@bp.get("/login")
def login() -> Any:
    if g.session is not None:
        return redirect(url_for("review.queue"))
    return _login_page(200)


def _login_page(status: int, error_key: str | None = None, name: str = "") -> Any:
    pre = request.cookies.get(PRE_COOKIE) or ""
    fresh = len(pre) != 43
    if fresh:
        pre = secrets.token_urlsafe(32)
    html, code = _page("login.html", status, csrf=_pre_token(pre), error_key=error_key, name=name,
                       next=request.values.get("next", ""))
    response = current_app.make_response((html, code))
    if fresh:
        response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="Strict", secure=_secure(), path="/review")
    return response


@bp.post("/login")
def login_post() -> Any:
    pre = request.cookies.get(PRE_COOKIE) or ""
    if not pre or not hmac.compare_digest(request.form.get("csrf", "").encode(), _pre_token(pre).encode()):
        return _refuse(403, "csrf_failed")
    rs = _rs()
    try:
        with rs.limiter.limit(str(current_app.config["LOGIN_RATE_LIMIT"]), scope="login"):
            pass
    except RateLimitExceeded:
        return _login_page(429, "login_throttled")
    name = request.form.get("name", "")[:64]
    password = request.form.get("password", "")[:1024]
    try:
        user = rs.accounts.authenticate(name, password, int(current_app.config["LOGIN_MAX_FAILURES"]),
                                        float(current_app.config["LOGIN_WINDOW_S"]), client=client_id())
    except LoginThrottled:
        rs.audit.append("signin.throttled", f"user:{name}", None, {})
        return _login_page(429, "login_throttled", name)
    if user is None:
        rs.audit.append("signin.failure", f"user:{name}", None, {})
        return _login_page(401, "login_failed", name)
    token, _session = rs.accounts.start_session(user, float(current_app.config["SESSION_HOURS"]))
    rs.audit.append("signin", f"reviewer:{user.name}", f"user:{user.name}", {"role": user.role})
    target = request.form.get("next", "")
    if not target.startswith("/review") or target.startswith("//"):
        target = url_for("review.queue")
    response = redirect(target)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", secure=_secure(), path="/",
                        max_age=int(float(current_app.config["SESSION_HOURS"]) * 3600))
    response.delete_cookie(PRE_COOKIE, path="/review")
    return response


@bp.post("/logout")
@signed_in
def logout() -> Any:
    rs = _rs()
    rs.accounts.end_session(request.cookies.get(SESSION_COOKIE, ""))
    rs.audit.append("signout", f"reviewer:{g.session.user.name}", f"user:{g.session.user.name}", {})
    response = redirect(url_for("review.login"))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@bp.get("/")
@signed_in
def queue() -> Any:
    status = request.args.get("status", "open")
    status = status if status in (*STATUSES, "all") else "open"
    category = request.args.get("category", "")
    category = category if category in CATEGORIES else ""
    kind = request.args.get("kind", "")
    kind = kind if kind in ("image", "video", "audio") else ""
    sort = "recent" if request.args.get("sort") == "recent" else "count"
    q = request.args.get("q", "")[:200]
    items = _rs().store.queue(status=None if status == "all" else status, category=category or None,
                              media_kind=kind or None, q=q or None, sort=sort, limit=200)
    return _page("queue.html", items=items, status=status, category=category, kind=kind, sort=sort, q=q,
                 statuses=STATUSES, categories=CATEGORIES)


@bp.get("/feeds")
@signed_in
def feeds() -> Any:
    """Each fact-check feed's state: last sync, reviews, errors (server/refutations/feeds.py)."""
    from ..refutations.feeds import FeedStore

    rows = [f.to_json() for f in FeedStore(current_app.extensions["verify"].storage).all()]
    for row in rows:
        row["last_sync_text"] = (datetime.datetime.fromtimestamp(row["last_sync"], datetime.UTC)
                                 .strftime("%Y-%m-%d %H:%M UTC") if row["last_sync"] else None)
    return _page("feeds.html", feeds=rows)


def _verdict_for(item: dict[str, Any]) -> dict[str, Any] | None:
    """The cached verdict; when none is cached but the bytes are held, verify them now (the verification service
    caches it; a reviewer's look is not an identification record)."""
    state = current_app.extensions["verify"]
    body = state.verdicts.get(item["sha256"])
    if body is None and item["has_bytes"]:
        data = _rs().store.load_media(item["sha256"])
        if data is not None:
            try:
                body, _ = state.service.verify(load_media(data, state.settings.limits), record=False)
            except MediaError:
                return None
    return body


@bp.get("/items/<int:item_id>")
@signed_in
def item(item_id: int) -> Any:
    return _render_item(item_id)


def _render_item(item_id: int, error_key: str | None = None, status: int = 200) -> Any:
    store = _rs().store
    try:
        it = store.item(item_id)
    except ItemNotFound:
        abort(404)
    verdict = _verdict_for(it)
    decision = next(iter(store.decisions(item_id=item_id)), None)
    refutation = None
    if decision and decision["refutation_id"]:
        ref = current_app.extensions["verify"].storage.get_refutation(decision["refutation_id"])
        refutation = ref.to_json() if ref else None
    withdrawal = None
    if refutation is not None:
        withdrawal = current_app.extensions["verify"].storage.withdrawal(refutation["id"])
    return _page("item.html", status, item=it, verdict=verdict, reports=store.item_reports(item_id),
                 duplicates=store.near_duplicates(it), decision=decision, refutation=refutation, ratings=RATINGS,
                 csrf=g.session.csrf, error_key=error_key, form=request.form, withdrawal=withdrawal,
                 is_admin=g.session.user.role == "admin")


@bp.get("/media/<sha256>")
@signed_in
def media(sha256: str) -> Any:
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        abort(404)
    store = _rs().store
    path = store.media_path(sha256)
    mime = store.known_media(sha256)
    if not path.exists() or not mime or not mime.startswith(("image/", "video/", "audio/")):
        abort(404)
    response = send_file(path, mimetype=mime, conditional=True, max_age=0)
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


def _form_text(name: str, limit: int) -> str:
    return (request.form.get(name) or "").strip()[: limit + 1]


@bp.post("/items/<int:item_id>/decide")
@signed_in
def decide(item_id: int) -> Any:
    """refute | synthetic | dismiss, each with a required note. Refute and synthetic create a refutation."""
    rs, state = _rs(), current_app.extensions["verify"]
    try:
        it = rs.store.item(item_id)
    except ItemNotFound:
        abort(404)
    action = request.form.get("action", "")
    note = _form_text("note", _MAX_NOTE)
    claim, rating = _form_text("claim", _MAX_CLAIM), _form_text("rating", _MAX_RATING)
    explanation = _form_text("explanation", _MAX_NOTE)
    context_url = _form_text("original_context", _MAX_URL)
    error = None
    if action not in ACTIONS:
        error = "bad_action"
    elif not note or len(note) > _MAX_NOTE:
        error = "note_required"
    elif action == "refute" and (not claim or not rating or len(claim) > _MAX_CLAIM or len(rating) > _MAX_RATING):
        error = "claim_required"
    elif context_url and (len(context_url) > _MAX_URL or not context_url.startswith(("http://", "https://"))):
        error = "bad_url"
    if error:
        return _render_item(item_id, "error_" + error, 400)
    if it["status"] != "open":
        return _refuse(409, "already_decided")

    verdict = _verdict_for(it)
    reports = rs.store.item_reports(item_id)
    evidence: dict[str, Any] = {
        "sha256": it["sha256"], "media_type": it["media_type"], "pdq": it["pdq"],
        "verdict_label": verdict["verdict"]["label"] if verdict else None,
        "verdict_sha256": hashlib.sha256(canonical(verdict).encode()).hexdigest() if verdict else None,
        "report_ids": [r["id"] for r in reports], "report_count": it["report_count"]}
    batch: list[tuple[Refutation, list[RefutedMedia]]] = []
    if action in ("refute", "synthetic"):
        # The refutation goes through the one ingestion path (server/refutations/ingest.py): the stored original is
        # hashed exactly as imported refutations are, so the same edited copies match.
        data = rs.store.load_media(it["sha256"])
        source = next((r["source_url"] for r in reports if r["source_url"]), None)
        if data is not None:
            try:
                media = state.ingest.describe([MediaSource(data, source)], f"item {item_id}")
            except IngestError:
                media = []
        if data is None or not media:
            # No readable bytes (reported by hash only): the refutation still matches the exact bytes.
            media = [RefutedMedia(id=0, refutation_id=0, sha256=it["sha256"],
                                  media_type=it["media_type"] or "application/octet-stream", width=None, height=None,
                                  hashes={}, content_url=source)]
        if action == "synthetic":
            claim, rating = translate("en", "synthetic_claim"), "AI-generated"
        batch = [(Refutation(id=0, claim=claim, rating=rating,
                             fact_checker=str(current_app.config["REVIEW_FACT_CHECKER"]), date=_today(),
                             language=g.lang, explanation=explanation or None, original_context=context_url or None,
                             extra={"source": "verity-review"}), media)]
        evidence["refutation_hashes"] = sorted(media[0].hashes)
    actor = f"reviewer:{g.session.user.name}"
    try:
        # The refutation and its decision commit in one transaction: a double submit finds the item decided and
        # rolls back, so there is never a refutation without its decision, nor two decisions.
        with state.storage.transaction() as conn:
            rs.store.open_item(item_id, conn)
            refutation_id = state.ingest.add(batch, source="review", actor=actor, conn=conn)[0] if batch else None
            rs.store.decide(item_id, action, note, g.session.user.name, refutation_id, evidence, conn=conn)
    except ItemAlreadyDecided:
        return _refuse(409, "already_decided")
    if batch:
        state.ingest.committed()
    return redirect(url_for("review.item", item_id=item_id))



# --- admin ------------------------------------------------------------------------------------------------------------

def _actor() -> str:
    return f"admin:{g.session.user.name}"


def _admin_page(status: int = 200, error_key: str | None = None, done_key: str | None = None) -> Any:
    settings: AdminSettings = current_app.extensions["verity_settings"]
    retention, retention_set = settings.retention_days()
    return _page("admin.html", status, users=_rs().accounts.users(), roles=ROLES, csrf=g.session.csrf,
                 retention=retention, retention_set=retention_set, retention_min=MIN_RETENTION_DAYS,
                 retention_max=MAX_RETENTION_DAYS, session_hours=current_app.config["SESSION_HOURS"],
                 login_window_s=current_app.config["LOGIN_WINDOW_S"], error_key=error_key, done_key=done_key)


@bp.get("/admin")
@signed_in
@admin_only
def admin() -> Any:
    return _admin_page()


@bp.post("/admin/users")
@signed_in
@admin_only
def admin_add_user() -> Any:
    """Add a user (name, role, an initial password the new user should change)."""
    try:
        _rs().accounts.add_user(request.form.get("name", "")[:64], request.form.get("role", ""),
                                request.form.get("password", "")[:1025], actor=_actor())
    except AccountError:
        return _admin_page(400, "error_account")
    return redirect(url_for("review.admin"))


@bp.post("/admin/users/<name>")
@signed_in
@admin_only
def admin_update_user(name: str) -> Any:
    """One change to a user: action role (with `role`), disable, enable or password (with `password`)."""
    accounts, action = _rs().accounts, request.form.get("action", "")
    if name == g.session.user.name and action in ("role", "disable"):
        return _admin_page(400, "error_self")  # an admin cannot lock out the last way back in: their own account
    try:
        if action == "role":
            accounts.set_role(name, request.form.get("role", ""), actor=_actor())
        elif action in ("disable", "enable"):
            accounts.set_disabled(name, action == "disable", actor=_actor())
        elif action == "password":
            accounts.set_password(name, request.form.get("password", "")[:1025], actor=_actor())
        else:
            return _admin_page(400, "error_bad_action")
    except AccountError:
        return _admin_page(400, "error_account")
    return redirect(url_for("review.admin"))


@bp.post("/admin/retention")
@signed_in
@admin_only
def admin_retention() -> Any:
    """Change the audit retention (days); entries older than it are pruned now, behind a checkpoint."""
    try:
        days = float(request.form.get("days", ""))
        current_app.extensions["verity_settings"].set_retention_days(days, _actor())
    except (ValueError, SettingError):
        return _admin_page(400, "error_retention")
    return redirect(url_for("review.admin"))


@bp.post("/admin/withdraw")
@signed_in
@admin_only
def admin_withdraw() -> Any:
    """Withdraw a wrongful refutation (`refutation_id`) with a `reason`: a tombstone plus an audit entry, in one
    transaction. Its media stop matching at once, in every process (the matchers' queries skip withdrawn ones)."""
    reason = _form_text("reason", _MAX_NOTE)
    raw_id = request.form.get("refutation_id", "")
    if not raw_id.isdigit() or len(raw_id) > 18:
        return _admin_page(404, "error_no_refutation")
    refutation_id = int(raw_id)
    if not reason or len(reason) > _MAX_NOTE:
        return _admin_page(400, "error_reason_required")
    rs, state = _rs(), current_app.extensions["verify"]
    try:
        with state.storage.transaction() as conn:
            state.storage.withdraw_refutation(refutation_id, reason, _actor(), conn=conn)
            rs.audit.append("refutation.withdraw", _actor(), f"refutation:{refutation_id}", {"reason": reason},
                            conn=conn)
    except RefutationNotFound:
        return _admin_page(404, "error_no_refutation")
    except RefutationAlreadyWithdrawn:
        return _admin_page(409, "error_already_withdrawn")
    except TextContainsNul:
        return _admin_page(400, "error_reason_required")
    return _admin_page(200, done_key="withdrawn_done")


def _today() -> str:
    import datetime

    return datetime.datetime.now(datetime.UTC).date().isoformat()
