"""The chapters' stored outputs are those the notebook tests compare against: written by ``make execute``.

nbval compares every stored output stream, stderr included, so a chapter executed with progress lines on
(``COLLAPSE_PROGRESS=1``, the interactive default) stores lines that the check run (progress off, results from a
process pool) never prints, and CI fails on them. These checks catch such a notebook before CI does.
"""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def outputs(path):
    cells = json.loads(path.read_text())["cells"]
    return [(i, o) for i, c in enumerate(cells) if c["cell_type"] == "code" for o in c.get("outputs", [])]


def test_there_are_chapters():
    assert len(NOTEBOOKS) >= 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_have_no_stderr_stream(path):
    bad = sorted({i for i, o in outputs(path) if o.get("output_type") == "stream" and o.get("name") == "stderr"})
    assert not bad, (f"{path.name}: cells {bad} store stderr (progress lines or warnings); re-execute with "
                     "`make execute` (COLLAPSE_PROGRESS=0)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_code_cell_was_executed_in_order(path):
    counts = [c.get("execution_count") for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    assert None not in counts, f"{path.name}: a code cell was never executed"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: cells were not executed top to bottom once"
