"""System packages (Debian) that some commands need, installed with apt-get when missing."""

from __future__ import annotations

import os
import shutil
import subprocess


def missing_debs(packages: list[str]) -> list[str]:
    missing = []
    for pkg in packages:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
        if "install ok installed" not in out.stdout:
            missing.append(pkg)
    return missing


def ensure_debs(packages: list[str]) -> None:
    """Install missing Debian packages (root, or sudo when available)."""
    if not shutil.which("dpkg-query"):
        return
    missing = missing_debs(packages)
    if not missing:
        return
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None:
        raise SystemExit(f"build.py: please install these Debian packages: {' '.join(missing)}")
    print(f"build.py: apt-get install {' '.join(missing)}", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(prefix + ["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(prefix + ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], check=True, env=env,
                   stdout=subprocess.DEVNULL)
