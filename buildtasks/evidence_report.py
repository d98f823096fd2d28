"""What a person reads about one verification: the CLI's text report, its CSV row and summary table, and the
self-contained HTML evidence report (`build.py verify --report DIR`).

Everything here renders the API's response body (plus "input"), so the CLI, the HTML report and the extension's
report page show the same facts: the verdict with the fact-check first, what the label does not mean, every check
with its outcome, score, threshold and caveat (the "Cannot" paragraph of the check's own docstring: one home), the
C2PA signer, the refutation, and for images reverse image search links. The HTML report adds keyframe thumbnails
with their times; it has no scripts and no outside resources (images are data: URIs), so it can be mailed, archived
or printed to PDF as one file.
"""

from __future__ import annotations

import base64
import html
import io
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from PIL import Image

from server.verify import BY_NAME
from server.verify.verdict import refutation_lead

# Well-known engines' "search by image URL" patterns; the extension's report page has the same table
# (extension/report/report.js REVERSE_SEARCH), and tests/test_cli_report.py checks that the two agree.
REVERSE_SEARCH: tuple[tuple[str, str], ...] = (
    ("Google Lens", "https://lens.google.com/uploadbyurl?url={url}"),
    ("Bing Visual Search", "https://www.bing.com/images/search?view=detailv2&iss=sbi&q=imgurl:{url}"),
    ("TinEye", "https://tineye.com/search?url={url}"),
    ("Yandex Images", "https://yandex.com/images/search?rpt=imageview&url={url}"),
)
# For a local file there is no URL to hand over: these pages take an upload.
REVERSE_SEARCH_UPLOAD: tuple[tuple[str, str], ...] = (
    ("Google Lens", "https://lens.google.com/"),
    ("Bing Visual Search", "https://www.bing.com/visualsearch"),
    ("TinEye", "https://tineye.com/"),
    ("Yandex Images", "https://yandex.com/images/"),
)

LABEL_TITLES = {
    "synthetic": "AI-GENERATED (DECLARED)",
    "likely_synthetic": "POSSIBLY AI-GENERATED",
    "provenance_invalid": "CREDENTIALS INVALID",
    "has_provenance": "CONTENT CREDENTIALS (TRUSTED SIGNER)",
    "untrusted_provenance": "SIGNED, SIGNER NOT VOUCHED FOR",
    "unknown": "NOTHING FOUND",
}
CSV_FIELDS = ("input", "status", "label", "refuted", "summary", "fact_checker", "rating", "claim", "review_url",
              "signer", "media_type", "sha256", "verification_id", "verified_at", "pipeline_version", "error")
THUMB_SIDE = 320


def caveat(check: str) -> str:
    """What a check cannot see: "cannot " + the first sentence of its module docstring's "Cannot" paragraph."""
    descriptor = BY_NAME.get(check)
    if descriptor is None:
        return ""
    doc = sys.modules[descriptor.fn.__module__].__doc__ or ""
    found = re.search(r"(Cannot|What it cannot|It cannot):?\s*(.+?)(?:\n\n|$)", doc, re.S)
    if not found:
        return ""
    text = " ".join(found.group(2).split())
    verb = "cannot handle:" if found.group(1) == "What it cannot" else "cannot"
    depth, end = 0, len(text)
    for i, ch in enumerate(text):  # the first sentence: up to ". " or "; " outside parentheses
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and ch in ".;" and text[i + 1:i + 2] in (" ", ""):
            end = i
            break
    return f"{verb} {text[:end]}."[:400]


def threshold(check: dict[str, Any]) -> float | None:
    """The decision threshold a check's score is compared with, when it has one."""
    value = (check.get("evidence") or {}).get("threshold")
    return float(value) if isinstance(value, int | float) else None


def score_text(check: dict[str, Any]) -> str:
    score, limit = check.get("score"), threshold(check)
    if score is None:
        ev = check.get("evidence") or {}
        score = ev.get("probe_score") if isinstance(ev.get("probe_score"), int | float) else None
    if score is None and limit is None:
        return ""
    parts = [f"score {score:.3f}" if isinstance(score, int | float) else "no score"]
    if limit is not None:
        parts.append(f"threshold {limit:.3f}")
    return ", ".join(parts)


def signer(result: dict[str, Any]) -> str:
    for check in result.get("checks", []):
        if check.get("check") == "c2pa_manifest":
            s = (check.get("evidence") or {}).get("signer") or {}
            return " / ".join(x for x in (s.get("issuer"), s.get("common_name")) if x)
    return ""


def reverse_search_links(media_url: str | None) -> list[tuple[str, str]]:
    """(engine, link) for searching this image elsewhere: by URL when there is one, else the engines' upload pages."""
    if media_url and media_url.startswith(("http://", "https://")):
        return [(name, pattern.format(url=quote(media_url, safe=""))) for name, pattern in REVERSE_SEARCH]
    return list(REVERSE_SEARCH_UPLOAD)


def _wrap(text: str, indent: str, width: int = 100) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent + "  ") or [indent]


def render_text(result: dict[str, Any]) -> str:
    """The readable report of one input: fact-check first, then the label, what it does not mean, every finding."""
    name = result.get("input", "")
    if "error" in result:
        return f"{name}\n  ERROR  {result['error']['detail']}\n"
    verdict = result["verdict"]
    lines = [name]
    refutation = result.get("refutation")
    if refutation:
        lines += _wrap(f"REFUTED  by {refutation.get('fact_checker')} (rated \"{refutation.get('rating')}\"): "
                       f"{refutation.get('claim')}", "  ")
        if refutation.get("review_url"):
            lines.append(f"         fact-check: {refutation['review_url']}")
        match = refutation.get("match") or {}
        if match:
            how = f"{match.get('method', '')}" + (f", similarity {match['similarity']:.3f}"
                                                   if isinstance(match.get("similarity"), int | float) else "")
            lines.append(f"         matched: {how}" + (f" ({match['transform']})" if match.get("transform") else ""))
    summary = verdict["summary"]
    if refutation and summary.startswith(refutation_lead(refutation)):
        summary = summary[len(refutation_lead(refutation)):].lstrip()  # already said on the REFUTED line above
    lines += _wrap(f"{LABEL_TITLES.get(verdict['label'], verdict['label'].upper())} [{verdict['label']}]  "
                   f"{summary}", "  ")
    if verdict.get("not_meaning"):
        lines += _wrap(f"What this does not mean: {verdict['not_meaning']}", "  ")
    who = signer(result)
    if who:
        lines.append(f"  Signed by: {who}")
    lines.append(f"  {result['media_type']}  sha256 {result['sha256']}")
    v = result.get("verification") or {}
    if v:
        lines.append(f"  verification {v.get('id')} at {v.get('verified_at')}, pipeline {v.get('pipeline_version')}")
    lines.append("  Findings:")
    for check in result["checks"]:
        outcome = check["outcome"]
        marker = {"detected": "*", "error": "!", "skipped": "-", "unsupported": "-"}.get(outcome, " ")
        extra = score_text(check)
        lines += _wrap(f"{marker} {check['check']} [{outcome}{'; ' + extra if extra else ''}]: {check['summary']}",
                       "   ")
        if outcome == "detected" or (extra and outcome != "skipped"):
            note = caveat(check["check"])
            if note:
                lines += _wrap(f"Caveat: it {note}", "       ")
    return "\n".join(lines) + "\n"


def csv_row(result: dict[str, Any]) -> dict[str, str]:
    """One CSV row per input (CSV_FIELDS)."""
    if "error" in result:
        return {"input": result.get("input", ""), "status": "error", "error": result["error"]["detail"]}
    refutation = result.get("refutation") or {}
    v = result.get("verification") or {}
    return {
        "input": result.get("input", ""), "status": "ok", "label": result["verdict"]["label"],
        "refuted": "yes" if result["verdict"].get("refuted") else "no", "summary": result["verdict"]["summary"],
        "fact_checker": refutation.get("fact_checker") or "", "rating": refutation.get("rating") or "",
        "claim": refutation.get("claim") or "", "review_url": refutation.get("review_url") or "",
        "signer": signer(result), "media_type": result["media_type"], "sha256": result["sha256"],
        "verification_id": v.get("id", ""), "verified_at": v.get("verified_at", ""),
        "pipeline_version": v.get("pipeline_version", ""), "error": "",
    }


def summary_table(results: Sequence[dict[str, Any]], skipped: Sequence[tuple[str, str]]) -> str:
    """The closing table of a batch: one line per input, then counts by label, refuted, errors and skipped files."""
    if not results and not skipped:
        return ""
    width = min(60, max([len(_short(r.get("input", ""))) for r in results] + [5]))
    lines = ["", "Summary", f"  {'input':<{width}}  {'label':<20}  refuted  note"]
    counts: dict[str, int] = {}
    for r in results:
        if "error" in r:
            key, label, refuted, note = "error", "ERROR", "", r["error"]["detail"]
        else:
            key = label = r["verdict"]["label"]
            refuted = "yes" if r["verdict"].get("refuted") else ""
            note = (f"refuted by {(r.get('refutation') or {}).get('fact_checker')}" if refuted else signer(r))
        counts[key] = counts.get(key, 0) + 1
        lines.append(f"  {_short(r.get('input', '')):<{width}}  {label:<20}  {refuted:<7}  {note[:60]}")
    refuted_n = sum(1 for r in results if "error" not in r and r["verdict"].get("refuted"))
    lines.append("  " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + f"; {refuted_n} refuted"
                 + (f"; {len(skipped)} skipped" if skipped else ""))
    if skipped:
        lines.append("  Skipped:")
        lines += [f"    {_short(path)}: {why}" for path, why in skipped]
    return "\n".join(lines) + "\n"


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else "..." + text[-(width - 3):]


def thumbnail_data_uri(image: Image.Image, side: int = THUMB_SIDE) -> str:
    """A small JPEG of an image as a data: URI (the report stays one self-contained file)."""
    copy = image.convert("RGB")
    copy.thumbnail((side, side))
    buffer = io.BytesIO()
    copy.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass(frozen=True, slots=True)
class Thumbnail:
    """A picture for the HTML report: the image itself, or a video keyframe at `time_s`."""

    data_uri: str
    time_s: float | None = None


_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", sans-serif; color: #1d2330;
  max-width: 960px; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; border-bottom: 1px solid #d8dee6; padding-bottom: .2rem; margin-top: 1.6rem; }
.verdict { border-left: 6px solid #9aa0a6; padding: .6rem .9rem; background: #f5f7fa; }
.verdict.synthetic, .verdict.refuted { border-color: #d93025; } .verdict.likely_synthetic { border-color: #f9ab00; }
.verdict.provenance_invalid { border-color: #e8710a; } .verdict.has_provenance { border-color: #1e7a3c; }
.verdict.untrusted_provenance, .verdict.unknown { border-color: #9aa0a6; }
.refutation { border: 2px solid #d93025; padding: .6rem .9rem; margin-bottom: .8rem; }
.muted { color: #5f6b7a; } code, .mono { font-family: ui-monospace, monospace; font-size: .85em; word-break: break-all; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; vertical-align: top; padding: .3rem .4rem;
  border-bottom: 1px solid #e3e7ed; }
.frames { display: flex; flex-wrap: wrap; gap: .6rem; } figure { margin: 0; } figure img { max-width: 240px; display: block; }
figcaption { font-size: .85rem; color: #5f6b7a; } .main img { max-width: 100%; max-height: 420px; }
details pre { white-space: pre-wrap; font-size: .8rem; background: #f5f7fa; padding: .5rem; }
@media print { details { display: block; } details > summary { display: none; } a { color: inherit; } }
"""


def render_html(result: dict[str, Any], thumbnails: Sequence[Thumbnail] = (), media_url: str | None = None,
                original: str | None = None) -> str:
    """One self-contained, printable HTML evidence report (no scripts, no outside resources)."""
    import json

    e = html.escape
    name = result.get("input", "")
    parts = ["<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
             "style-src 'unsafe-inline'\">",
             f"<title>Verity evidence report: {e(name)}</title><style>{_CSS}</style></head><body>",
             f"<h1>Verity evidence report</h1><p class=\"mono\">{e(name)}</p>"]
    if "error" in result:
        parts.append(f"<p class=\"verdict\">Not verified: {e(result['error']['detail'])}</p></body></html>")
        return "".join(parts)
    verdict = result["verdict"]
    refutation = result.get("refutation")
    stills = [t for t in thumbnails if t.time_s is None]
    frames = [t for t in thumbnails if t.time_s is not None]
    if stills or original:
        parts.append("<div class=\"frames main\">")
        if stills:
            parts.append(f"<figure><img src=\"{stills[0].data_uri}\" alt=\"the verified media\"><figcaption>This media"
                         "</figcaption></figure>")
        if original:
            parts.append(f"<figure><img src=\"{original}\" alt=\"the refuted original\"><figcaption>Matched original "
                         "(stored with the fact-check)</figcaption></figure>")
        parts.append("</div>")
    if refutation:
        parts.append("<h2>Fact-check</h2><div class=\"refutation\">")
        parts.append(f"<p><strong>Refuted by {e(str(refutation.get('fact_checker')))}</strong> "
                     f"(rated &ldquo;{e(str(refutation.get('rating')))}&rdquo;)</p>"
                     f"<p>Claim: {e(str(refutation.get('claim')))}</p>")
        for key, title in (("explanation", "Explanation"), ("date", "Date"), ("original_context", "Original context")):
            if refutation.get(key):
                parts.append(f"<p>{title}: {e(str(refutation[key]))}</p>")
        if refutation.get("review_url"):
            parts.append(f"<p>Fact-check: <a href=\"{e(refutation['review_url'])}\">{e(refutation['review_url'])}</a></p>")
        match = refutation.get("match") or {}
        if match:
            parts.append(f"<p class=\"muted\">Matched by {e(str(match.get('method')))}"
                         + (f", similarity {match['similarity']:.3f}" if isinstance(match.get("similarity"), int | float) else "")
                         + (f" ({e(str(match['transform']))})" if match.get("transform") else "") + "</p>")
        parts.append("</div>")
    key = "refuted" if verdict.get("refuted") else verdict["label"]
    parts.append(f"<h2>Verdict</h2><div class=\"verdict {e(key)}\" data-label=\"{e(verdict['label'])}\">"
                 f"<p><strong>{e(LABEL_TITLES.get(verdict['label'], verdict['label']))}</strong></p>"
                 f"<p>{e(verdict['summary'])}</p>"
                 f"<p class=\"muted\">What this does not mean: {e(verdict.get('not_meaning', ''))}</p>")
    if verdict.get("reasons"):
        parts.append("<ul>" + "".join(f"<li>{e(r['text'])} <small class=\"muted\">({e(r['check'])})</small></li>"
                                      for r in verdict["reasons"]) + "</ul>")
    parts.append("</div>")
    v = result.get("verification") or {}
    who = signer(result)
    parts.append("<h2>The file</h2><table>"
                 f"<tr><th>Media type</th><td>{e(result['media_type'])}</td></tr>"
                 f"<tr><th>SHA-256</th><td class=\"mono\">{e(result['sha256'])}</td></tr>"
                 + (f"<tr><th>Signed by</th><td>{e(who)}</td></tr>" if who else "")
                 + (f"<tr><th>Source</th><td class=\"mono\">{e(media_url)}</td></tr>" if media_url else "")
                 + f"<tr><th>Verification</th><td class=\"mono\">{e(str(v.get('id', '')))}</td></tr>"
                 f"<tr><th>Verified at</th><td>{e(str(v.get('verified_at', '')))}</td></tr>"
                 f"<tr><th>Pipeline</th><td>{e(str(v.get('pipeline_version', '')))} "
                 f"<span class=\"muted mono\">{e(str(v.get('pipeline', '')))}</span></td></tr></table>")
    if frames:
        parts.append("<h2>Keyframes</h2><div class=\"frames\">" + "".join(
            f"<figure><img src=\"{t.data_uri}\" alt=\"keyframe at {t.time_s:.2f} s\"><figcaption>{_clock(t.time_s)}"
            f"</figcaption></figure>" for t in frames if t.time_s is not None) + "</div>")
    if result["media_type"].startswith("image/"):
        links = reverse_search_links(media_url)
        how = "by its URL" if media_url else "by uploading the file (it has no public URL)"
        parts.append(f"<h2>Search for this image elsewhere</h2><p class=\"muted\">Reverse image search {how}; these "
                     "services see what you send them.</p><ul>"
                     + "".join(f"<li><a href=\"{e(link)}\" rel=\"noreferrer\">{e(engine)}</a></li>" for engine, link in links)
                     + "</ul>")
    parts.append("<h2>Every check</h2><table><tr><th>Check</th><th>Outcome</th><th>Finding</th></tr>")
    for check in result["checks"]:
        extra = score_text(check)
        note = caveat(check["check"])
        evidence = json.dumps(check.get("evidence") or {}, ensure_ascii=False, indent=1)
        parts.append(f"<tr data-check=\"{e(check['check'])}\"><td>{e(check['check'])}</td><td>{e(check['outcome'])}"
                     + (f"<br><small>{e(extra)}</small>" if extra else "") + f"</td><td>{e(check['summary'])}"
                     + (f"<br><small class=\"muted\">Caveat: it {e(note)}</small>" if note else "")
                     + f"<details><summary>Evidence</summary><pre>{e(evidence)}</pre></details></td></tr>")
    parts.append("</table><p class=\"muted\">Made by Verity. The label is about AI generation and provenance only; "
                 "a refutation is about a claim made with the media.</p></body></html>")
    return "".join(parts)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}:{secs:05.2f}"


def report_filename(index: int, name: str) -> str:
    """A safe, ordered file name for one item's report."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rstrip("/").rsplit("/", 1)[-1])[:60] or "item"
    return f"{index:03d}_{stem}.html"


def iter_thumbnails(image: Image.Image | None, keyframes: Iterable[Any]) -> list[Thumbnail]:
    """The still (for an image) and each keyframe with its time (for a video)."""
    out = [Thumbnail(thumbnail_data_uri(image))] if image is not None else []
    out += [Thumbnail(thumbnail_data_uri(k.image, 200), float(k.time_s)) for k in keyframes]
    return out
