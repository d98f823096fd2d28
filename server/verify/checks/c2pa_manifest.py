"""C2PA provenance: is there a Content Credentials manifest, does it validate, who signed it, does it declare AI?

Detects: embedded C2PA manifests in every container c2pa-python reads (JPEG, PNG, WebP, HEIC/AVIF, TIFF, MP4/MOV,
WAV, MP3, M4A...), validated against the bundled trust configuration (C2PA trust list + Content Credentials
anchors, `trust/`), and an AI declaration anywhere in the chain: a `digitalSourceType` of
trainedAlgorithmicMedia / compositeWithTrainedAlgorithmicMedia / compositeSynthetic in the active or an
ingredient manifest, Adobe's vendor parameter `com.adobe.digitalSourceType`, the `com.adobe.generative-ai`
assertion, or an action described as "AI Generated Image".

Trust, as the reference verifiers show it: only a signer that a bundled trust list vouches for (state "Trusted") gives
PROVENANCE_VALID. A valid signature by any other signer - the public C2PA test certificates, a self-made certificate,
an expired certificate without a trusted timestamp, a revoked one - is PROVENANCE_UNTRUSTED: the content matches the
signature, but nobody vouches for who signed. A content or claim hash mismatch is PROVENANCE_INVALID.

Cannot: say anything about media whose manifest was stripped (most social platforms strip it), or who made a file
signed by a signer no trust list vouches for; it does not check OCSP revocation itself, and reads a remote manifest
only when the deployment allows it (VERIFY_FETCH_REMOTE_MANIFESTS / the CLI's --fetch-remote-manifests put a fetcher
in ctx.resources["remote_manifests"]; otherwise the URL is reported).

Evidence keys: validation_state, failure_codes, failure_class (one of FAILURE_CLASSES or null), trusted (bool),
test_certificate (bool), certificate_only_failures, signer {issuer, common_name, time}, claim_generator, manifests,
digital_source_types [{manifest, action, digitalSourceType, via}], ai_basis, ingredients [{title, format,
relationship, has_manifest}], remote_url, remote_fetched.

Spec: https://c2pa.org/specifications/specifications/2.1/specs/C2PA_Specification.html
      https://cv.iptc.org/newscodes/digitalsourcetype/
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import c2pa

from ...fetching import FetchError
from ..types import CheckContext, CheckResult, Media, Outcome, Signal

NAME = "c2pa_manifest"
DESCRIPTION = "C2PA Content Credentials: manifest, validation against the bundled trust list, signer, declared AI source type."

AI_SOURCE_TYPES = frozenset({"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "compositeSynthetic"})
# Validation failures that concern only the signing certificate or timestamp, not the content or the claim:
# the manifest's statements are intact, only who-signed-it is in doubt.
_CERT_FAILURE = re.compile(r"^(signingCredential\.|timeStamp\.|cawg\.x509\.credential\.)")
_REMOTE = re.compile(r"Remote:.*?url\s+(\S+)")
_CONTENT_HASH = re.compile(r"^assertion\.(dataHash|bmffHash|boxesHash|collectionHash)\.mismatch$")
# The issuer (O=) of the public C2PA test certificates shipped with c2pa-rs and the SDKs: anyone can sign with them.
TEST_CERT_ISSUERS = frozenset({"C2PA Test Signing Cert", "C2PA Test Intermediate Root CA", "C2PA Test Root CA"})

# Why a manifest is not vouched for, one class per kind of finding (verdict.py has one summary per class):
#   content_altered      a hash over the content (data/BMFF/boxes/collection hash) does not match: the pixels/samples changed
#   claim_altered        the claim signature or a signed assertion does not match: the credentials were altered/damaged
#   certificate_expired  the signing certificate had expired and no trusted timestamp shows signing in time
#   certificate_revoked  the signing certificate was revoked
#   certificate_invalid  another certificate or timestamp failure
#   test_certificate     a valid signature with a public C2PA test certificate
#   signer_untrusted     a valid signature by a signer no trust list vouches for
FAILURE_CLASSES = ("content_altered", "claim_altered", "certificate_expired", "certificate_revoked",
                   "certificate_invalid", "test_certificate", "signer_untrusted")


def source_type_name(uri: Any) -> str:
    """`http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia` -> `trainedAlgorithmicMedia`."""
    return str(uri).strip().rstrip("/").rsplit("/", 1)[-1]


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for assertion in manifest.get("assertions", []) or []:
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            data = assertion.get("data") or {}
            out.extend(a for a in data.get("actions", []) or [] if isinstance(a, dict))
    return out


def _declarations(manifest: dict[str, Any], role: str) -> tuple[list[dict[str, Any]], set[str]]:
    """Source types this manifest states, and the AI bases among them."""
    found: list[dict[str, Any]] = []
    basis: set[str] = set()
    for action in _actions(manifest):
        name = action.get("action")
        if "digitalSourceType" in action:
            dst = source_type_name(action["digitalSourceType"])
            found.append({"manifest": role, "action": name, "digitalSourceType": dst, "via": "digitalSourceType"})
            if dst in AI_SOURCE_TYPES:
                basis.add(f"digitalSourceType_{role}")
        params = action.get("parameters") or {}
        vendor = params.get("com.adobe.digitalSourceType") if isinstance(params, dict) else None
        if vendor:
            dst = source_type_name(vendor)
            found.append({"manifest": role, "action": name, "digitalSourceType": dst, "via": "com.adobe.digitalSourceType"})
            if dst in AI_SOURCE_TYPES:
                basis.add("vendor_parameter_com.adobe.digitalSourceType")
        desc = str(params.get("description", "") if isinstance(params, dict) else "") + str(action.get("description", ""))
        if "ai generated image" in desc.lower():
            basis.add("action_description_ai_generated")
    for assertion in manifest.get("assertions", []) or []:
        if str(assertion.get("label", "")).startswith("com.adobe.generative-ai"):
            basis.add("assertion_com.adobe.generative-ai")
    return found, basis


def _claim_generator(manifest: dict[str, Any]) -> str | None:
    """v1 claims carry a `claim_generator` string; v2 claims a `claim_generator_info` list whose first name counts."""
    if manifest.get("claim_generator"):
        return str(manifest["claim_generator"])
    info = manifest.get("claim_generator_info") or []
    return str(info[0].get("name")) if info and isinstance(info[0], dict) and info[0].get("name") else None


def failure_class(state: str, failures: list[str], issuer: str | None) -> str | None:
    """The one class of finding that keeps a manifest from being vouched for; None for a trusted, intact one."""
    if state == "Trusted" and not failures:
        return None
    hard = [c for c in failures if not _CERT_FAILURE.match(c)]
    if any(_CONTENT_HASH.match(c) for c in hard):
        return "content_altered"
    if hard:
        return "claim_altered"
    if any(c == "signingCredential.revoked" for c in failures):
        return "certificate_revoked"
    if any(c == "signingCredential.expired" for c in failures):
        return "certificate_expired"
    if state == "Invalid":
        return "certificate_invalid"
    if issuer in TEST_CERT_ISSUERS:
        return "test_certificate"
    return "signer_untrusted" if state != "Trusted" else None


_TRUST_NOTE = {
    None: "trusted signer",
    "test_certificate": "anyone can sign with it; no trust list vouches for it",
    "signer_untrusted": "valid signature, but no trust list vouches for the signer",
    "certificate_expired": "the signing certificate had expired and no trusted timestamp shows it was signed in time",
    "certificate_revoked": "the signing certificate was revoked",
    "certificate_invalid": "the signing certificate or its timestamp fails validation",
}


def _result(outcome: Outcome, summary: str, signal: Signal | None = None, **evidence: Any) -> CheckResult:
    return CheckResult(check=NAME, outcome=outcome, summary=summary, evidence=evidence, signal=signal)


def check(media: Media, ctx: CheckContext) -> CheckResult:
    """Read and validate the C2PA manifest store of `media`."""
    settings = c2pa.Settings.from_json(ctx.c2pa_settings_json) if ctx.c2pa_settings_json else None
    context = c2pa.Context(settings) if settings is not None else None
    remote_url: str | None = None
    try:
        reader = c2pa.Reader.try_create(media.format, io.BytesIO(media.data), context=context)
    except c2pa.C2paError as exc:
        text = str(exc)
        remote = _REMOTE.search(text)
        if remote:
            remote_url = remote.group(1)
            fetcher = ctx.resources.get("remote_manifests")
            if fetcher is None:
                return _result(Outcome.DETECTED, "References a remote C2PA manifest; remote manifests are not fetched "
                               "(the deployment or --fetch-remote-manifests can allow it).",
                               remote_url=remote_url, remote_fetched=False, validation_state=None)
            try:
                manifest = fetcher(remote_url)
                reader = c2pa.Reader.try_create(media.format, io.BytesIO(media.data), manifest_data=manifest,
                                                context=context)
            except c2pa.C2paError as exc2:
                return _result(Outcome.DETECTED, "References a remote C2PA manifest that could not be read.",
                               remote_url=remote_url, remote_fetched=True, validation_state=None, error=str(exc2)[:300])
            except FetchError as exc2:  # its message is a plain sentence
                return _result(Outcome.DETECTED, f"References a remote C2PA manifest that could not be fetched: {exc2}",
                               remote_url=remote_url, remote_fetched=False, validation_state=None)
        elif "NotSupported" in type(exc).__name__ or text.startswith("NotSupported"):
            return _result(Outcome.UNSUPPORTED, f"C2PA is not read from {media.format} files.")
        else:
            # The container itself could not be parsed for C2PA (a damaged RIFF/BMFF structure, a draft-spec manifest):
            # that says nothing about provenance either way, so no signal.
            return _result(Outcome.UNSUPPORTED, "The file's structure could not be parsed for C2PA data.",
                           validation_state=None, error=text[:300])
    if reader is None:
        return _result(Outcome.NOT_DETECTED, "No C2PA manifest.")
    with reader:
        store = reader.json()
        state = reader.get_validation_state() or "Unknown"
        results = reader.get_validation_results() or {}

    store_json: dict[str, Any] = json.loads(store)
    manifests: dict[str, Any] = store_json.get("manifests", {}) or {}
    active_label = store_json.get("active_manifest")
    active = manifests.get(active_label, {}) if active_label else {}

    declared: list[dict[str, Any]] = []
    basis: set[str] = set()
    for label, manifest in manifests.items():
        found, b = _declarations(manifest, "active" if label == active_label else "ingredient")
        declared.extend(found)
        basis |= b

    failures = [f.get("code", "") for f in (results.get("activeManifest") or {}).get("failure", []) or []]
    hard_failures = [c for c in failures if not _CERT_FAILURE.match(c)]
    sig = active.get("signature_info") or {}
    signer = {"issuer": sig.get("issuer"), "common_name": sig.get("common_name"), "time": sig.get("time")}
    ingredients = [
        {"title": i.get("title"), "format": i.get("format"), "relationship": i.get("relationship"),
         "has_manifest": bool(i.get("active_manifest"))}
        for i in active.get("ingredients", []) or []
    ]
    cls = failure_class(state, failures, signer["issuer"])
    evidence: dict[str, Any] = {
        "validation_state": state,
        "failure_codes": failures,
        "failure_class": cls,
        "trusted": cls is None,
        "test_certificate": signer["issuer"] in TEST_CERT_ISSUERS,
        "certificate_only_failures": bool(failures) and not hard_failures,
        "signer": signer,
        "claim_generator": _claim_generator(active),
        "manifests": len(manifests),
        "digital_source_types": declared,
        "ai_basis": sorted(basis),
        "ingredients": ingredients,
        "remote_url": remote_url,
        "remote_fetched": remote_url is not None,
    }
    who = signer["issuer"] or "an unknown signer"
    if evidence["test_certificate"]:
        who = f"the public C2PA test certificate ({who})"
    if hard_failures:
        what = ("the content was altered after signing" if cls == "content_altered"
                else "a signed statement or the signature does not match, so the credentials were altered or damaged")
        return _result(Outcome.DETECTED,
                       f"C2PA manifest signed by {who} fails validation ({', '.join(hard_failures)}): {what}.",
                       Signal.PROVENANCE_INVALID, **evidence)
    note = _TRUST_NOTE.get(cls, "")
    if basis:
        roles = sorted({d["manifest"] for d in declared if d["digitalSourceType"] in AI_SOURCE_TYPES})
        where = {("ingredient",): "an ingredient manifest", ("active",): "the active manifest"}.get(
            tuple(roles), "the active manifest and an ingredient" if roles else "its manifest")
        types = sorted({d["digitalSourceType"] for d in declared if d["digitalSourceType"] in AI_SOURCE_TYPES}) or ["AI generation"]
        codes = f"; {', '.join(failures)}" if failures else ""
        return _result(Outcome.DETECTED, f"C2PA manifest signed by {who} declares {', '.join(types)} in {where} ({note}{codes}).",
                       Signal.DECLARED_SYNTHETIC, **evidence)
    if cls is None:
        return _result(Outcome.DETECTED, f"Valid C2PA manifest signed by {who} (trusted signer); no AI source type declared.",
                       Signal.PROVENANCE_VALID, **evidence)
    codes = f" ({', '.join(failures)})" if failures else ""
    return _result(Outcome.DETECTED, f"C2PA manifest signed by {who}: {note}{codes}; the content matches the signature "
                   "and no AI source type is declared.", Signal.PROVENANCE_UNTRUSTED, **evidence)
