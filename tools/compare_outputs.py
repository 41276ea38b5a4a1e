"""Compare a chapter's stored outputs with those of another commit: same texts, same glued values, same figures?

    python tools/compare_outputs.py notebooks/linear_regression.ipynb [--against HEAD]

Outputs are compared in page order regardless of how they are split into cells, so a notebook whose code moved into
the package (``collapse_utils/pages``) can show that it still prints, displays and glues exactly what it did.
Cells tagged ``nbval-ignore-output`` are listed separately: their numbers come from torch training.
"""

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def outputs(notebook: dict) -> tuple[list[str], list[str]]:
    """Each output as one comparable string: (checked outputs, outputs of nbval-ignore-output cells)."""
    checked, ignored = [], []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        target = ignored if "nbval-ignore-output" in cell.get("metadata", {}).get("tags", []) else checked
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                target.append(f"{out['name']}: {''.join(out['text'])}")
            elif out["output_type"] == "error":
                target.append(f"error: {out['ename']}")
            else:
                for mime, data in sorted(out.get("data", {}).items()):
                    text = data if isinstance(data, str) else "".join(data) if isinstance(data, list) else \
                        json.dumps(data, sort_keys=True)
                    if mime.startswith("image/"):
                        text = hashlib.sha256(text.encode()).hexdigest()[:16]
                    target.append(f"{mime}: {text}")
    return checked, ignored


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook")
    parser.add_argument("--against", default="HEAD", help="the commit to compare with (default HEAD)")
    args = parser.parse_args()
    path = Path(args.notebook).resolve().relative_to(ROOT)
    old = json.loads(subprocess.run(["git", "show", f"{args.against}:{path}"], cwd=ROOT, capture_output=True,
                                    text=True, check=True).stdout)
    new = json.loads((ROOT / path).read_text())
    failed = False
    for what, a, b in zip(("checked", "nbval-ignore-output"), outputs(old), outputs(new), strict=True):
        missing = [x for x in a if x not in b]
        added = [x for x in b if x not in a]
        same_order = [x for x in a if x in b] == [x for x in b if x in a]
        print(f"{what}: {len(a)} outputs at {args.against}, {len(b)} now; {len(missing)} gone, {len(added)} new"
              f"{'' if same_order else ', order changed'}")
        for x in missing:
            print(f"  - {x[:300]!r}")
        for x in added:
            print(f"  + {x[:300]!r}")
        failed |= what == "checked" and bool(missing or added)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
