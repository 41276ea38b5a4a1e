"""Non-blank code lines per chapter notebook: all code cells, and those a reader sees unfolded.

    python tools/notebook_lines.py [--at COMMIT]

Issue 12's measure of how much code a chapter carries. With ``--at`` the notebooks are read from that commit.
"""

import argparse
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDED = {"hide-input", "remove-input", "remove-cell"}


def count(notebook: dict) -> tuple[int, int, int]:
    """(code cells, non-blank code lines, non-blank lines in cells not folded or removed)."""
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    total = visible = 0
    for cell in cells:
        lines = sum(1 for line in "".join(cell["source"]).splitlines() if line.strip())
        total += lines
        if not FOLDED & set(cell.get("metadata", {}).get("tags", [])):
            visible += lines
    return len(cells), total, visible


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--at", help="a commit to read the notebooks from (default: the working tree)")
    args = parser.parse_args()
    names = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    print(f"{'notebook':28s} {'cells':>5s} {'lines':>6s} {'visible':>8s}")
    for name in names:
        if args.at:
            text = subprocess.run(["git", "show", f"{args.at}:notebooks/{name}"], cwd=ROOT, capture_output=True,
                                  text=True)
            if text.returncode:
                continue
            notebook = json.loads(text.stdout)
        else:
            notebook = json.loads((ROOT / "notebooks" / name).read_text())
        cells, total, visible = count(notebook)
        print(f"{name:28s} {cells:5d} {total:6d} {visible:8d}")


if __name__ == "__main__":
    main()
