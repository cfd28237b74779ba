"""examples/yangpu.ipynb: committed without outputs, and it runs headless (nbclient).

The notebook is executed by a kernel of this interpreter (a kernel spec written for the
test points at ``sys.executable``), so it runs the geoplan installed here, whatever other
Jupyter kernels the machine has.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "examples" / "yangpu.ipynb"


def test_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) >= 8
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, (
            f"examples/yangpu.ipynb: cell '{cell.source.splitlines()[0]}' holds outputs; "
            "clear them (Jupyter: Edit > Clear Outputs of All Cells) before committing")
        assert "execution" not in cell.metadata
    assert nb.metadata.kernelspec.name == "python3"


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.outputs:
        assert out.output_type != "error", out
        if out.output_type == "stream":
            parts.append(out.text)
        else:
            parts.extend(str(v) for v in out.get("data", {}).values())
    return "\n".join(parts)


def _cell(nb: nbformat.NotebookNode, start: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(start))


def test_notebook_runs_and_shows_map_siting_and_streets(demo_dir: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient import NotebookClient

    kernels = tmp_path / "jupyter" / "kernels" / "geoplan-test"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "geoplan test", "language": "python"}), encoding="utf-8")
    out = tmp_path / "out"
    for key, value in (("JUPYTER_PATH", tmp_path / "jupyter"),
                       ("JUPYTER_RUNTIME_DIR", tmp_path / "runtime"),
                       ("IPYTHONDIR", tmp_path / "ipython"), ("GEOPLAN_OUT", out),
                       ("GEOPLAN_DATA", demo_dir)):
        monkeypatch.setenv(key, str(value))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="geoplan-test",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()

    assert f"outputs in {out}" in _text(nb.cells[1])
    assert "Study yangpu-wujiaochang" in _text(_cell(nb, "study = Study.from_toml"))
    html = _text(_cell(nb, "m = res.map()"))
    assert "leaflet" in html.lower() and "<iframe" in html  # folium's inline display
    site = _text(_cell(nb, "outcome = study.site"))
    assert "mclp" in site and "optimal" in site
    table = _text(_cell(nb, "areas = outcome.areas"))
    for street in ("五角场街道", "四平路街道"):
        assert street in table
    assert "share_before" in table and "share_after" in table
    files = _text(nb.cells[-1])
    for name in ("yangpu-wujiaochang-coverage.gpkg", "yangpu-wujiaochang-coverage.html",
                 "canteens-7-per-street.csv"):
        assert name in files
    assert (out / "data" / "canteens-7-per-street.csv").is_file()
    assert not (NOTEBOOK.parent / "out").exists()
