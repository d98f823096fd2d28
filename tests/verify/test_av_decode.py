"""av_decode: bounded probing and the one streaming pass over real audio/video fixtures."""

from __future__ import annotations

import dataclasses

import pytest

from server.verify import av_decode
from server.verify.media import load_media
from server.verify.types import Limits, MediaKind, MediaTooLarge, UndecodableMedia

from media_fixtures import expected, fixture_path

BENCH = "video/bench/bench_60s_720p.mp4"
GOOD = [e for folder in ("video", "audio") for e in expected(folder)["files"]
        if not e["bad_input"] and e["category"] in ("match_original", "c2pa", "metadata_label", "av_speech")]


@pytest.mark.parametrize("entry", GOOD, ids=lambda e: e["file"])
def test_probe_good_fixture_matches_ffprobe(entry):
    folder = "video" if entry["kind"] == "video" else "audio"
    probe = av_decode.probe(fixture_path(f"{folder}/{entry['file']}").read_bytes(), Limits())
    ref = entry["probe"]
    if ref.get("duration_s"):
        assert probe.duration_s == pytest.approx(ref["duration_s"], abs=0.2)
    if "video" in ref:
        assert (probe.video.width, probe.video.height) == (ref["video"]["width"], ref["video"]["height"])
    if "audio" in ref:
        assert probe.audio.sample_rate == ref["audio"]["sample_rate"]


def test_probe_duration_over_limit_too_large():
    data = fixture_path(BENCH).read_bytes()
    with pytest.raises(MediaTooLarge, match="60.0 s"):
        av_decode.probe(data, Limits(max_duration_s=30))


def test_probe_frame_size_over_limit_too_large():
    data = fixture_path(BENCH).read_bytes()
    with pytest.raises(MediaTooLarge, match="1280x720"):
        av_decode.probe(data, Limits(max_video_pixels=640 * 360))


def test_probe_frame_count_over_limit_too_large():
    data = fixture_path(BENCH).read_bytes()
    with pytest.raises(MediaTooLarge, match="frames"):
        av_decode.probe(data, Limits(max_frames=1000))


def test_analyse_decode_budget_exceeded():
    data = fixture_path(BENCH).read_bytes()
    with pytest.raises(av_decode.DecodeBudgetExceeded):
        av_decode.analyse(data, Limits(max_decode_s=0.0))


@pytest.mark.parametrize("name", ["video/bad/zero_bytes.mp4", "video/bad/corrupt_moov.mp4",
                                  "video/bad/moov_at_end_truncated.mp4", "video/bad/found_c2pa-rs_nested_moov_1000.mp4",
                                  "audio/bad/found_c2pa-rs_id3v23_compression_underflow.mp3"])
def test_probe_broken_container_undecodable(name):
    with pytest.raises(UndecodableMedia):
        av_decode.probe(fixture_path(name).read_bytes(), Limits())


@pytest.mark.parametrize("name", ["video/bad/truncated_40pct.mp4", "audio/bad/truncated_mid_frame.mp3",
                                  "audio/bad/truncated_40pct.wav", "audio/bad/huge_datasize_header.wav"])
def test_analysis_truncated_undecodable(name):
    media = load_media(fixture_path(name).read_bytes(), Limits())
    with pytest.raises(UndecodableMedia, match="truncated or damaged"):
        av_decode.analysis(media)


def test_analyse_long_clip_keyframes_capped_and_spaced():
    limits = Limits(max_keyframes=5, keyframe_min_spacing_s=2.0)
    result = av_decode.analyse(fixture_path(BENCH).read_bytes(), limits)
    times = [k.time_s for k in result.keyframes]
    assert 1 <= len(times) <= 5
    assert all(b - a >= 2.0 for a, b in zip(times, times[1:], strict=False))
    assert all(max(k.image.size) <= av_decode.KEYFRAME_SIZE for k in result.keyframes)
    assert result.video_mode == "sampled" and result.frames_decoded == 1500
    assert result.audio_seconds == pytest.approx(60, abs=0.5)


def test_analyse_over_full_decode_threshold_uses_sync_frames_only():
    limits = Limits(full_decode_max_frames=100)
    result = av_decode.analyse(fixture_path(BENCH).read_bytes(), limits)
    assert result.video_mode == "keyframes"
    assert 0 < result.frames_decoded < 100  # sync frames only, not the 1500 frames of the clip


def test_analysis_cached_on_media():
    media = load_media(fixture_path("video/match/originals/v05_asl_again.mkv").read_bytes(), Limits())
    assert av_decode.analysis(media) is av_decode.analysis(media)


def test_frame_media_keyframe_is_image():
    media = load_media(fixture_path("video/match/originals/v01_bikes.mp4").read_bytes(), Limits())
    keyframe = av_decode.analysis(media).keyframes[0]
    frame = av_decode.frame_media(media, keyframe)
    assert frame.kind is MediaKind.IMAGE and frame.image().size == keyframe.image.size


def test_analyse_dash_init_segment_no_frames_accepted():
    result = av_decode.analyse(fixture_path("video/c2pa/found_c2pa-rs_dashinit.mp4").read_bytes(), Limits())
    assert result.samples == [] and not result.partial


def test_wav_truncated_header_detected():
    assert av_decode.wav_truncated(fixture_path("audio/bad/truncated_40pct.wav").read_bytes())
    assert not av_decode.wav_truncated(fixture_path("audio/human/zh_thchs30_D4_750.wav").read_bytes())


def test_limits_replace_keeps_other_bounds():
    limits = dataclasses.replace(Limits(), sample_fps=5.0)
    assert limits.max_duration_s == Limits().max_duration_s


# --- memory bounded by design (issue 17): streaming keyframe selection, samples in a fixed budget ---------------------

def test_keyframe_selector_buffer_bounded_result_spread_over_candidates():
    import random

    import numpy as np

    rng = random.Random(17)
    for _ in range(60):
        cap, n = rng.randint(1, 30), rng.randint(0, 3000)
        selector = av_decode.KeyframeSelector(cap, memory_bytes=rng.choice([0, 10**6]))
        held = 0
        for i in range(n):
            keep = selector.want()
            selector.offer(float(i), np.full((2, 4, 3), i % 256, dtype=np.uint8) if keep else None)
            held = max(held, len(selector.kept))
        keyframes = selector.result()
        chosen = [int(k.time_s) for k in keyframes]
        assert all(k.image.size == (4, 2) and k.image.getpixel((0, 0))[0] == int(k.time_s) % 256 for k in keyframes)
        assert held <= 2 * cap and len(chosen) <= cap and chosen == sorted(set(chosen))
        if n <= 2 * cap - 1:  # nothing thinned yet: exactly the old keep-all-then-linspace choice
            old = sorted(set(np.linspace(0, n - 1, cap).round().astype(int).tolist())) if n > cap else list(range(n))
            assert chosen == old
        elif n:
            # evenly spread: no gap between chosen candidates (or to the ends) is far above n / cap
            gaps = np.diff([0, *chosen, n - 1])
            assert max(gaps) <= 4 * n / cap + 2, (cap, n, chosen)


def test_sample_store_spills_beyond_budget_and_reads_back_identical():
    import numpy as np

    rng = np.random.default_rng(17)
    store = av_decode.SampleStore(memory_bytes=50_000)
    kept = []
    for i in range(40):
        h, w = rng.integers(2, 60, size=2)
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        store.append(av_decode.Sample(i / 2, rgb))
        kept.append(av_decode.Sample(i / 2, rgb))
    assert 0 < store.spilled < len(store) == 40
    assert store == kept and store[-1].time_s == 19.5 and np.array_equal(store[-1].rgb, kept[-1].rgb)
    assert [s.time_s for s in store[5:8]] == [2.5, 3.0, 3.5]
    with pytest.raises(IndexError):
        store[40]


def test_analyse_scene_cut_clip_keyframes_and_samples_bounded(tmp_path, monkeypatch):
    from buildtasks.bench_media_memory import scene_cut_clip
    from server.verify.checks import clip_match

    data = scene_cut_clip(tmp_path / "cuts.mp4", 90, size=320, fps=10).read_bytes()
    limits = Limits(full_decode_max_frames=0, max_keyframes=8)  # long-clip mode: one sample per sync frame
    monkeypatch.setattr(av_decode, "SAMPLE_MEMORY_BYTES", 10**9)
    in_memory = av_decode.analyse(data, limits)
    monkeypatch.setattr(av_decode, "SAMPLE_MEMORY_BYTES", 0)
    monkeypatch.setattr(av_decode, "KEYFRAME_MEMORY_BYTES", 0)
    spilled = av_decode.analyse(data, limits)
    assert in_memory.stats["keyframe_candidates"] >= 80  # a cut every second, each a candidate
    assert len(spilled.keyframes) <= 8 and [(k.time_s, k.image.tobytes()) for k in spilled.keyframes] == \
        [(k.time_s, k.image.tobytes()) for k in in_memory.keyframes]
    assert in_memory.samples.spilled == 0 and spilled.samples.spilled == len(spilled.samples) >= 80
    # the checks read spilled samples exactly as held ones
    a, b = clip_match.query_video_hashes(in_memory), clip_match.query_video_hashes(spilled)
    assert [(f.time_s, [h.tobytes() for h in f.hashes]) for f in a] == \
        [(f.time_s, [h.tobytes() for h in f.hashes]) for f in b]
