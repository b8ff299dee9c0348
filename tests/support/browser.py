"""Headless Chromium (Debian's package) for looking at pages the way a person does: screenshots and the DOM."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

# Without these, Chromium reaches for Google's services at every start and waits on a closed network.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def chromium() -> str:
    """The Chromium binary: NUDGE_TEST_CHROMIUM, else `chromium` on PATH (deploy/local/browser.sh installs it)."""
    found = os.environ.get("NUDGE_TEST_CHROMIUM") or shutil.which("chromium")
    if not found:
        raise RuntimeError("no chromium: run deploy/local/browser.sh (make test does) or set NUDGE_TEST_CHROMIUM")
    return found


def _run(page: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
                              capture_output=True, timeout=120, check=True)  # fmt: skip


def screenshot(page: Path, png: Path, width: int = 1100, height: int = 1600) -> tuple[int, int]:
    """Render `page` to `png` at a window size; return the PNG's (width, height) read from its header."""
    _run(page, f"--window-size={width},{height}", f"--screenshot={png}")
    head = png.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError(f"{png} is not a PNG")
    size: tuple[int, int] = struct.unpack(">II", head[16:24])
    return size


def dom(page: Path) -> str:
    """The document as Chromium built it (after parsing and layout), as HTML."""
    return _run(page, "--dump-dom").stdout.decode()
