"""Writes one benchmark's section of docs/BENCHMARKS.md, leaving the others untouched."""

from __future__ import annotations

import platform
import re
import subprocess
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "BENCHMARKS.md"
HEADER = ("# Benchmarks\n\nEvery figure below was written by the script named in its section "
          "(`make bench` runs them all). Re-run a script to refresh its section.\n")


def machine() -> str:
    """One line describing where and when a figure was measured."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip() or "uncommitted"
    return (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} at commit "
            f"`{commit}` on {psutil.cpu_count()} cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}.")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def write_section(part: str, body: str) -> None:
    """Replaces the section of ``part`` (between its markers) or appends it."""
    start, end = f"<!-- bench:{part} -->", f"<!-- /bench:{part} -->"
    text = REPORT.read_text() if REPORT.exists() else HEADER
    section = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _m: section, text) if pattern.search(text) else (
        text.rstrip() + "\n\n" + section + "\n")
    REPORT.write_text(text)
