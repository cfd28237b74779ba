"""Write docs/config.md, the config reference, from the models in geoplan/config.py.

    python scripts/gen_config_docs.py           # (re)write docs/config.md
    python scripts/gen_config_docs.py --check   # exit 1 when docs/config.md is stale

tests/test_config_docs.py fails when the file is not what this script writes, so a new or
changed setting reaches the docs with its description, default, unit and range.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from geoplan.configdocs import reference_markdown, undocumented

DOCS = Path(__file__).resolve().parents[1] / "docs" / "config.md"


def main(argv: list[str] | None = None) -> int:
    """Write (or check) docs/config.md; exit code 1 when stale or a setting is undocumented."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only check that the file is current")
    args = p.parse_args(argv)
    missing = undocumented()
    if missing:
        print(f"settings without a description: {', '.join(missing)}", file=sys.stderr)
        return 1
    text = reference_markdown()
    current = DOCS.read_text(encoding="utf-8") if DOCS.is_file() else ""
    if args.check:
        if current != text:
            print(f"{DOCS} is stale: run python scripts/gen_config_docs.py", file=sys.stderr)
            return 1
        return 0
    if current != text:
        DOCS.parent.mkdir(exist_ok=True)
        DOCS.write_text(text, encoding="utf-8")
        print(f"wrote {DOCS}")
    else:
        print(f"{DOCS} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
