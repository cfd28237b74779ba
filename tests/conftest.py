"""Shared fixtures.

The real demo data lives outside the repository (``../shared/data/yangpu-demo`` or
``$GEOPLAN_DATA``). Tests that need it fail when ``CI=true`` and it is missing, and are
skipped otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DEMO = REPO.parent / "shared" / "data" / "yangpu-demo"


def missing_data(msg: str) -> None:
    """Real data a test needs is absent: fail under ``CI=true``, skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def demo_data_dir() -> Path:
    """Folder of the real Yangpu demo data."""
    return Path(os.environ.get("GEOPLAN_DATA", DEFAULT_DEMO))


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    """The demo data folder; fail under CI when missing, skip elsewhere."""
    d = demo_data_dir()
    if not (d / "osm").is_dir():
        missing_data(f"real demo data not found at {d} (set GEOPLAN_DATA)")
    return d
