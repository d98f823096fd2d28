"""`build.py verify` on long audio/video: a progress bar on stderr, while --json stdout stays one clean JSON line."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from buildtasks.verify_cli import ProgressBar

from media_fixtures import FIXTURES, ROOT


def test_cli_long_clip_progress_on_stderr_json_stdout_clean(tmp_path):
    clip = FIXTURES / "video" / "match" / "originals" / "v01_bikes.mp4"  # 10 s: over PROGRESS_MIN_S
    env = {"VERIFY_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "verify", "--json", str(clip)],
                            capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["input"] == str(clip)
    bars = [line for line in result.stderr.splitlines() if line.startswith("v01_bikes.mp4 [")]
    assert any("decoding" in b for b in bars) and any(" checks" in b for b in bars)
    assert bars[-1].endswith("100% done")


def test_cli_progress_bar_not_a_terminal_one_line_per_step():
    out = io.StringIO()
    bar = ProgressBar("clip.mp4", out, width=10)
    for i in range(101):
        bar.update(0.9 * i / 100, "decoding")
    bar.update(0.9, "checks")
    bar.done()
    lines = out.getvalue().splitlines()
    assert lines[0] == "clip.mp4 [----------]   0% decoding"
    assert lines[-2:] == ["clip.mp4 [#########-]  90% checks", "clip.mp4 [##########] 100% done"]
    assert len(lines) == 12 and "\r" not in out.getvalue()
