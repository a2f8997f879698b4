#!/usr/bin/env python3
"""Render an HTML report (OUT/summary.html, or any HTML file) to a PNG with headless Chromium.

    python scripts/screenshot.py out/demo            # out/demo/summary.html -> out/demo/summary.png
    python scripts/screenshot.py page.html shot.png --height 3000

Needs Debian's `chromium` (scripts/system-deps.sh installs it; apt-get install chromium).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BINARIES = ("chromium", "chromium-browser")
INSTALL = "install Debian's chromium (apt-get install chromium, or run scripts/system-deps.sh as root)"


class ScreenshotError(Exception):
    """Chromium is missing or did not produce the picture; the message says what to do."""


def find_chromium() -> str:
    """The path of the Chromium binary; ScreenshotError naming how to install it."""
    for name in BINARIES:
        found = shutil.which(name)
        if found:
            return found
    raise ScreenshotError(f"no Chromium found (looked for {', '.join(BINARIES)} on PATH); {INSTALL}")


def screenshot(html: Path, png: Path, *, width: int = 1280, height: int = 2400, timeout: float = 120.0) -> Path:
    """Load `html` in headless Chromium (no network needed: reports are self-contained) and save a PNG."""
    html, png = Path(html).resolve(), Path(png).resolve()
    if not html.is_file():
        raise ScreenshotError(f"{html} does not exist")
    binary = find_chromium()
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="dlgrade-chromium-") as profile:
        # --no-sandbox: Chromium's own sandbox cannot start as root or inside most containers.
        command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                   "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                   "--disable-extensions", "--force-device-scale-factor=1", f"--user-data-dir={profile}",
                   f"--window-size={width},{height}", f"--screenshot={png}", html.as_uri()]
        env = {**os.environ, "HOME": profile}  # keeps Chromium's caches out of the real home
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise ScreenshotError(f"Chromium did not finish within {timeout:g} s ({' '.join(command)})") from None
    if not png.is_file() or png.stat().st_size == 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ScreenshotError(f"Chromium exited with status {done.returncode} and wrote no {png.name}:\n{tail}")
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="an HTML file, or a `dlgrade grade --out` folder (its summary.html)")
    parser.add_argument("png", type=Path, nargs="?", help="where to write the PNG (default: next to the HTML)")
    parser.add_argument("--width", type=int, default=1280, help="window width in pixels (default: 1280)")
    parser.add_argument("--height", type=int, default=2400,
                        help="window height in pixels: what is captured (default: 2400)")
    args = parser.parse_args(argv)
    html = args.source / "summary.html" if args.source.is_dir() else args.source
    png = args.png or html.with_suffix(".png")
    if args.width < 100 or args.height < 100:
        print("screenshot: --width and --height must be at least 100 pixels", file=sys.stderr)
        return 2
    try:
        screenshot(html, png, width=args.width, height=args.height)
    except ScreenshotError as e:
        print(f"screenshot: {e}", file=sys.stderr)
        return 1
    print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
