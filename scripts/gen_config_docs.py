"""Write docs/config.md (the config reference) and docs/config.schema.json (the JSON Schema
of config files, as `geoplan config --schema` prints it) from the models in geoplan/config.py.

    python scripts/gen_config_docs.py           # (re)write both
    python scripts/gen_config_docs.py --check   # exit 1 when either is stale

tests/test_config_docs.py fails when the files are not what this script writes, so a new or
changed setting reaches the docs with its description, default, unit and range. The example
config names the schema in its first line (`#:schema ../docs/config.schema.json`), so TOML
editors (Even Better TOML / taplo) complete and check it in the repository.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from geoplan.config import config_schema
from geoplan.configdocs import reference_markdown, undocumented

DOCS = Path(__file__).resolve().parents[1] / "docs" / "config.md"
SCHEMA = DOCS.with_name("config.schema.json")


def schema_text() -> str:
    """The JSON Schema as written to docs/config.schema.json."""
    return json.dumps(config_schema(), ensure_ascii=False, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or check) docs/config.md; exit code 1 when stale or a setting is undocumented."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only check that the file is current")
    args = p.parse_args(argv)
    missing = undocumented()
    if missing:
        print(f"settings without a description: {', '.join(missing)}", file=sys.stderr)
        return 1
    stale = 0
    for path, text in ((DOCS, reference_markdown()), (SCHEMA, schema_text())):
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current == text:
            print(f"{path} is up to date")
        elif args.check:
            print(f"{path} is stale: run python scripts/gen_config_docs.py", file=sys.stderr)
            stale = 1
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return stale


if __name__ == "__main__":
    sys.exit(main())
