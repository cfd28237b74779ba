"""Size and opening time of an HTML map in headless chromium (no network).

Usage: ``.venv/bin/python scripts/check_map.py PATH.html [--timeout S]``

Prints the file size in MB, the seconds until the page's load event and until the map's
layers (and tiles, if any: with no network they fail at once) are drawn, then any
JavaScript errors. The clock starts at navigation (the browser's start-up is excluded).
Last line: ``map_mb=<float> open_s=<float>``. Exit 1 when the page raised JavaScript
errors, 2 when chromium or the file is missing or the page is not a geoplan/Leaflet map
(one line, within seconds). Issue 15 asks for a whole-city map under
25 MB that opens within 5 s; ``scripts/bench_city.py`` calls :func:`check_map` on its
largest map.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.browser import CHROMIUM_NAMES, MapTiming, NotAMapError, measure_map  # noqa: E402


def chromium_binary() -> str | None:
    """The chromium binary, or None."""
    for name in ("/usr/bin/chromium", *CHROMIUM_NAMES):
        path = shutil.which(name)
        if path:
            return path
    return None


def check_map(path: str | Path, timeout: float = 120) -> MapTiming:
    """Measure a map (see :func:`tests.browser.measure_map`).

    Raises
    ------
    FileNotFoundError
        If the file or chromium is missing.
    NotAMapError
        If the page is not a geoplan/Leaflet map.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such map file")
    binary = chromium_binary()
    if binary is None:
        raise FileNotFoundError("chromium not found: apt-get install -y "
                                "--no-install-recommends chromium fonts-noto-cjk")
    return measure_map(path, binary, timeout=timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="an HTML map")
    parser.add_argument("--timeout", type=float, default=120,
                        help="seconds to wait for the page (default 120)")
    args = parser.parse_args(argv)
    try:
        t = check_map(args.path, args.timeout)
    except (FileNotFoundError, NotAMapError) as exc:
        print(f"check_map: error: {exc}", file=sys.stderr)
        return 2
    print(f"file      {args.path}")
    print(f"size      {t.mb:.2f} MB")
    print(f"load      {t.load_s:.2f} s (load event)")
    print(f"rendered  {t.open_s:.2f} s (layers drawn)")
    for err in t.js_errors:
        print(f"js error  {err}")
    print(f"map_mb={t.mb:.2f} open_s={t.open_s:.2f}")
    return 1 if t.js_errors else 0


if __name__ == "__main__":
    sys.exit(main())
