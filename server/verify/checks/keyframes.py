"""Video keyframes through the image checks: AI labels, watermarks, debunked stills and the detector, per clip.

What it detects: on the keyframes that `av_decode` already picked in its one streaming pass (scene changes, a minimum
spacing, at most `Limits.max_keyframes`; nothing is decoded again), the metadata-free image checks, each run through
its own module on `av_decode.frame_media(keyframe)`:
  - `watermark` on every keyframe (cheap);
  - `visible_label` (OCR) on up to MAX_OCR_FRAMES keyframes spread over the clip: a burned-in "AI生成" /
    "AI-generated" label on a frame is DECLARED_SYNTHETIC, a "疑似AI生成" label POSSIBLY_SYNTHETIC;
  - `visible_label` (OCR) also on EDGE_FRAMES frames of each of the first and last EDGE_SECONDS, decoded frame by
    frame with av_edges (not keyframes): GB 45438 shows a video's explicit label in its first 2 s, so a label that
    appears between keyframes there is read (evidence checks.visible_label_edges);
  - `debunked_match` on every keyframe when the refutation database holds perceptual hashes: a frame that matches a
    refuted image puts that refutation under evidence["refutation"] (a video built from a debunked still is caught);
  - `ai_detector` (only when the deployment enables it: it is off by default) on up to MAX_DETECTOR_FRAMES keyframes, only when no frame carries a declared label or watermark:
    POSSIBLY_SYNTHETIC when at least half of the scored frames, and at least two when two or more were scored, reach
    its threshold. Agreement rather than "any frame", because the detector's false-positive rate is measured per
    image and a clip gives it several tries at the same content.
The result carries the strongest signal found on any frame; the evidence says which frames, at what times.

Bounded: OCR and the detector are the slow parts (~0.15-0.3 s a frame each on this 2-core machine), so they run on a
fixed, evenly spread subset of the keyframes, chosen so that the 60 s 720p benchmark clip stays within the 5 s
end-to-end budget (buildtasks/bench_media.py). When that subset is smaller than the keyframes, evidence["reduced"]
says so. The subset is fixed (not time-driven), so the same clip always gets the same answer.

What it cannot: see labels or marks that appear only between keyframes in the middle of a clip, outside the OCR
subset; read labels that
video compression has blurred below OCR's reach; find invisible watermarks (lossy video encoding destroys the
dwtDct mark, so `watermark` practically never fires on a video frame); score motion or audio (the detector sees
still frames only). Images and audio are UNSUPPORTED: the image checks see images directly.

Evidence keys: keyframes (how many av_decode kept), video_mode, checks {watermark|visible_label|debunked_match|
ai_detector: {frames_checked, times_checked, detected [{time_s, summary, score}]; visible_label also labels,
ai_detector also scores, frames_needed, threshold; skipped when not run}}, frames [{time_s, findings [{check,
signal, summary, score}]}] (frames with a finding only), reduced (a sentence, when OCR/detector ran on a subset),
refutation (as debunked_match's, with match.transform naming the frame and match.frames its times).

Spec: GB 45438-2025 (explicit labels on video frames); see visible_label, watermark, debunked_match, ai_detector.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from . import ai_detector, debunked_match, visible_label, watermark
from .. import av_decode, av_edges
from ..types import CheckContext, CheckResult, Media, MediaError, MediaKind, Outcome, Signal

log = logging.getLogger(__name__)

NAME = "keyframes"
DESCRIPTION = ("Video keyframes through the image checks: visible AI labels (OCR), watermarks, debunked still images "
               "and the learned detector, aggregated per clip with the frames' times.")

MAX_OCR_FRAMES = 3
MAX_DETECTOR_FRAMES = 2
EDGE_SECONDS = 2.0  # GB 45438: a video's explicit label shows in its first 2 s (optionally again at the end)
EDGE_FRAMES = 4     # frames read per edge, evenly spread (every 0.5 s)

_STRENGTH = {Signal.DECLARED_SYNTHETIC: 2, Signal.POSSIBLY_SYNTHETIC: 1}

FrameCheck = Callable[[Media, CheckContext], CheckResult]


def spread(count: int, k: int) -> list[int]:
    """Up to `k` indices of `count` items, evenly spread and including the first and last."""
    if count <= k:
        return list(range(count))
    return sorted({int(i) for i in np.linspace(0, count - 1, k).round()})


def _run(fn: FrameCheck, name: str, frame: Media, ctx: CheckContext, errors: list[dict[str, Any]],
         time_s: float) -> CheckResult | None:
    """One image check on one frame; a failure is recorded and skipped so the other frames still count."""
    try:
        return fn(frame, ctx)
    except Exception as exc:  # isolate per frame, as run_checks isolates per check
        log.exception("%s failed on a keyframe at %.2f s", name, time_s)
        errors.append({"check": name, "time_s": round(time_s, 2), "error": type(exc).__name__})
        return None


def _finding(name: str, time_s: float, result: CheckResult, signal: Signal | None) -> dict[str, Any]:
    return {"check": name, "time_s": round(time_s, 2), "signal": str(signal) if signal else None,
            "summary": result.summary, "score": result.score}


def check(media: Media, ctx: CheckContext) -> CheckResult:
    """Run the image checks on a video's keyframes and aggregate them per clip."""
    if media.kind is not MediaKind.VIDEO:
        return CheckResult(NAME, Outcome.UNSUPPORTED, f"Keyframe checks apply to video, not {media.kind}.")
    try:
        analysis = av_decode.analysis(media)
    except MediaError as exc:
        return CheckResult(NAME, Outcome.UNSUPPORTED, f"The video cannot be read: {exc}.")
    keyframes = analysis.keyframes
    if not keyframes:
        return CheckResult(NAME, Outcome.NOT_DETECTED, "The video has no decodable keyframe to check.",
                           evidence={"keyframes": 0})
    frames = [av_decode.frame_media(media, kf) for kf in keyframes]
    times = [kf.time_s for kf in keyframes]
    errors: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    checks: dict[str, dict[str, Any]] = {}

    def run_on(name: str, fn: FrameCheck, indices: list[int]) -> list[tuple[int, CheckResult]]:
        done = [(i, r) for i in indices if (r := _run(fn, name, frames[i], ctx, errors, times[i])) is not None]
        hits = [(i, r) for i, r in done if r.outcome is Outcome.DETECTED]
        checks[name] = {"frames_checked": len(done), "times_checked": [round(times[i], 2) for i in indices],
                        "detected": [{"time_s": round(times[i], 2), "summary": r.summary, "score": r.score}
                                     for i, r in hits]}
        if name == ai_detector.NAME:  # every score, not only the hits: a reader can see how close the others came
            checks[name]["scores"] = [{"time_s": round(times[i], 2), "score": r.score} for i, r in done]
            checks[name]["threshold"] = done[0][1].evidence.get("threshold") if done else None
        return hits

    every = list(range(len(frames)))
    for i, r in run_on(watermark.NAME, watermark.check, every):
        findings.append(_finding(watermark.NAME, times[i], r, r.signal))

    ocr_subset = spread(len(frames), MAX_OCR_FRAMES)
    label_hits = run_on(visible_label.NAME, visible_label.check, ocr_subset)
    for i, r in label_hits:
        findings.append(_finding(visible_label.NAME, times[i], r, r.signal))
    if label_hits:
        checks[visible_label.NAME]["labels"] = sorted({lab["text"] for _, r in label_hits
                                                       for lab in r.evidence.get("labels", [])})

    _edge_labels(media, ctx, errors, checks, findings)

    refutation = _match_frames(frames, times, ctx, errors, checks, findings)

    declared = any(f["signal"] == Signal.DECLARED_SYNTHETIC for f in findings)
    # The detector is off unless the deployment enabled it (VERIFY_EXTRA_CHECKS): see its model card.
    detector_on = ctx.checks is not None and ai_detector.NAME in ctx.checks
    detector_subset = [] if declared or not detector_on else spread(len(frames), MAX_DETECTOR_FRAMES)
    detector = _detector(run_on, detector_subset, times, checks, findings) if detector_subset else None
    if declared:
        checks[ai_detector.NAME] = {"frames_checked": 0, "times_checked": [], "detected": [],
                                    "skipped": "a declared AI label or watermark was found on a frame"}
    elif not detector_on:
        checks[ai_detector.NAME] = {"frames_checked": 0, "times_checked": [], "detected": [],
                                    "skipped": "the learned detector is off by default (models/ai_detector.MODEL_CARD.md)"}

    evidence: dict[str, Any] = {"keyframes": len(frames), "video_mode": analysis.video_mode, "checks": checks,
                                "frames": _by_frame(findings)}
    reduced = [f"OCR on {len(ocr_subset)}"] if len(ocr_subset) < len(frames) else []
    if detector_subset and len(detector_subset) < len(frames):
        reduced.append(f"the detector on {len(detector_subset)}")
    if reduced:
        evidence["reduced"] = (f"To stay within the time budget, {' and '.join(reduced)} of the {len(frames)} "
                               "keyframes (evenly spread) were checked; watermark and refutation checks ran on all.")
    if errors:
        evidence["errors"] = errors[:20]
    if refutation is not None:
        evidence["refutation"] = refutation

    signalled = [f for f in findings if f["signal"] in (Signal.DECLARED_SYNTHETIC, Signal.POSSIBLY_SYNTHETIC)
                 and (f["check"] != ai_detector.NAME or detector)]
    if not signalled and refutation is None:
        return CheckResult(NAME, Outcome.NOT_DETECTED, _nothing_summary(len(frames), len(ocr_subset),
                                                                        len(detector_subset)), evidence=evidence)
    sentences: list[str] = []
    signal: Signal | None = None
    score: float | None = None
    if signalled:
        top = max(_STRENGTH[Signal(f["signal"])] for f in signalled)
        strongest = [f for f in signalled if _STRENGTH[Signal(f["signal"])] == top]
        signal = Signal(strongest[0]["signal"])
        scores = [f["score"] for f in strongest if f["score"] is not None]
        score = max(scores) if scores else None
        sentences.append(_signal_sentence(strongest, checks, detector))
    if refutation is not None:
        sentences.append(refutation["summary"])
        if score is None:
            score = refutation["match"]["similarity"]
    summary = " ".join(sentences)[:500]
    if refutation is not None:
        refutation = dict(refutation)
        refutation.pop("summary")
        evidence["refutation"] = refutation
    return CheckResult(NAME, Outcome.DETECTED, summary, score=score, evidence=evidence, signal=signal)


def _edge_labels(media: Media, ctx: CheckContext, errors: list[dict[str, Any]], checks: dict[str, dict[str, Any]],
                 findings: list[dict[str, Any]]) -> None:
    """OCR every EDGE_FRAMES-th of a second of the first and last EDGE_SECONDS (all frames decoded there, not only
    keyframes), where GB 45438 shows a video's explicit label; hits join the visible_label findings."""
    try:
        edge = av_edges.edge_frames(media.data, media.limits, EDGE_SECONDS, EDGE_FRAMES)
    except MediaError as exc:
        checks["visible_label_edges"] = {"frames_checked": 0, "times_checked": [], "detected": [],
                                         "skipped": f"the clip's edges cannot be read: {exc}"}
        return
    hits = []
    done = 0
    for ef in edge:
        frame = av_decode.frame_media(media, av_decode.Keyframe(ef.time_s, ef.image))
        r = _run(visible_label.check, visible_label.NAME, frame, ctx, errors, ef.time_s)
        done += r is not None
        if r is not None and r.outcome is Outcome.DETECTED:
            hits.append((ef, r))
            findings.append(_finding(visible_label.NAME, ef.time_s, r, r.signal))
    checks["visible_label_edges"] = {
        "frames_checked": done, "times_checked": [ef.time_s for ef in edge],
        "edges": sorted({ef.edge for ef in edge}),
        "detected": [{"time_s": ef.time_s, "edge": ef.edge, "summary": r.summary, "score": r.score} for ef, r in hits]}
    if hits:
        ocr = checks.setdefault(visible_label.NAME, {"frames_checked": 0, "times_checked": [], "detected": []})
        ocr["labels"] = sorted(set(ocr.get("labels", [])) | {lab["text"] for _, r in hits
                                                                for lab in r.evidence.get("labels", [])})
        ocr["frames_checked"] += done


def _detector(run_on: Callable[[str, FrameCheck, list[int]], list[tuple[int, CheckResult]]], subset: list[int],
              times: list[float], checks: dict[str, dict[str, Any]],
              findings: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Score the subset; a clip-level detection needs at least half of the scored frames over the threshold."""
    hits = run_on(ai_detector.NAME, ai_detector.check, subset)
    entry = checks[ai_detector.NAME]
    scored = entry["frames_checked"]
    need = min(scored, max(2, (scored + 1) // 2))
    entry["frames_needed"] = need
    if not hits or len(hits) < need:
        return None
    for i, r in hits:
        findings.append(_finding(ai_detector.NAME, times[i], r, r.signal))
    first = hits[0][1]
    return {"hits": len(hits), "scored": scored, "threshold": entry["threshold"],
            "measured_fpr": first.evidence.get("measured_fpr")}


def _match_frames(frames: list[Media], times: list[float], ctx: CheckContext, errors: list[dict[str, Any]],
                  checks: dict[str, dict[str, Any]], findings: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Every keyframe against the refuted images; the best frame's refutation, with every frame that matched it."""
    matcher = ctx.resources.get("refutations")
    if matcher is None or len(matcher) == 0:
        checks[debunked_match.NAME] = {"frames_checked": 0, "times_checked": [], "detected": [],
                                       "skipped": "no refuted images with perceptual hashes"}
        return None
    hits: list[tuple[float, CheckResult]] = []
    done = 0
    for media, t in zip(frames, times, strict=True):
        r = _run(debunked_match.check, debunked_match.NAME, media, ctx, errors, t)
        done += r is not None
        if r is not None and r.outcome is Outcome.DETECTED and r.evidence.get("refutation"):
            hits.append((t, r))
    checks[debunked_match.NAME] = {"frames_checked": done, "times_checked": [round(t, 2) for t in times],
                                   "detected": [{"time_s": round(t, 2), "summary": r.summary, "score": r.score}
                                                for t, r in hits]}
    if not hits:
        return None
    for t, r in hits:
        findings.append(_finding(debunked_match.NAME, t, r, None))
    t_best, best = max(hits, key=lambda h: (h[1].score or 0.0, -h[0]))
    body = dict(best.evidence["refutation"])
    same = [round(t, 2) for t, r in hits if r.evidence["refutation"]["id"] == body["id"]]
    match = dict(body.get("match") or {})
    how = match.get("transform") or match.get("method")
    match["transform"] = f"video keyframe at {t_best:.1f} s: {how}"
    match["frames"] = same
    body["match"] = match
    frames_text = ", ".join(f"{t:.1f} s" for t in same[:6]) + (" ..." if len(same) > 6 else "")
    body["summary"] = (f"{len(same)} keyframe{'s' if len(same) > 1 else ''} ({frames_text}) match an image that "
                       f"{body['fact_checker']} rated \"{body['rating']}\" ({match.get('method')}: {how}): "
                       f"{body['claim']}")
    return body


def _by_frame(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    frames: dict[float, list[dict[str, Any]]] = {}
    for f in findings:
        frames.setdefault(f["time_s"], []).append({k: v for k, v in f.items() if k != "time_s"})
    return [{"time_s": t, "findings": frames[t]} for t in sorted(frames)][:50]


def _times(found: list[dict[str, Any]]) -> str:
    ts = sorted({f["time_s"] for f in found})
    return ", ".join(f"{t:.1f} s" for t in ts[:6]) + (" ..." if len(ts) > 6 else "")


def _signal_sentence(strongest: list[dict[str, Any]], checks: dict[str, dict[str, Any]],
                     detector: dict[str, Any] | None) -> str:
    """One sentence for the strongest finding: what, on how many frames, at what times."""
    by_check: dict[str, list[dict[str, Any]]] = {}
    for f in strongest:
        by_check.setdefault(f["check"], []).append(f)
    parts = []
    if visible_label.NAME in by_check:
        found = by_check[visible_label.NAME]
        labels = checks[visible_label.NAME].get("labels") or []
        text = f" (\"{labels[0]}\")" if labels else ""
        parts.append(f"A visible AI label{text} is burned into {len(found)} of "
                     f"{checks[visible_label.NAME]['frames_checked']} keyframes read ({_times(found)})")
    if watermark.NAME in by_check:
        found = by_check[watermark.NAME]
        parts.append(f"a Stable Diffusion watermark is on {len(found)} keyframe{'s' if len(found) > 1 else ''} "
                     f"({_times(found)})")
    if ai_detector.NAME in by_check and detector is not None:
        found = by_check[ai_detector.NAME]
        top = max(f["score"] or 0.0 for f in found)
        fpr = (detector.get("measured_fpr") or {}).get("value")
        hint = f"; it wrongly flags {fpr:.0%} of real photos, so this is a hint, not proof" if fpr is not None else ""
        parts.append(f"the learned detector scores {detector['hits']} of {detector['scored']} keyframes above its "
                     f"threshold {detector['threshold']:.2f} (up to {top:.2f}; {_times(found)}){hint}")
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def _nothing_summary(n: int, ocr: int, det: int) -> str:
    return (f"No AI label, watermark or refuted image on the {n} keyframe{'s' if n > 1 else ''} checked "
            f"(OCR on {ocr}, detector on {det}); this says nothing about whether the video is authentic.")
