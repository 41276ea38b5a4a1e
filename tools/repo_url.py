"""Keep the repository URL in one place: `repository.url` in `_config.yml`.

The Colab install cell of every notebook (the hidden first cell) and `[project.urls]` in `pyproject.toml`
must name the same repository, because Colab cannot read `_config.yml` before the package is installed.

    python tools/repo_url.py --check   # exit 1 and list every place that disagrees (run by the unit tests)
    python tools/repo_url.py --write   # rewrite those places from _config.yml (after a fork changes the URL)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
_GIT_URL = re.compile(r"git\+(https://github\.com/[^\s\"'@]+)")
_PYPROJECT_URL = re.compile(r'^(Source = ")([^"]+)(")$', re.MULTILINE)


def configured_url() -> str:
    """The repository URL from `_config.yml`."""
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    if not url.startswith("https://github.com/"):
        raise ValueError(f"repository.url in _config.yml must be a GitHub URL (launch buttons need it), got {url!r}")
    return url.rstrip("/")


def mismatches(write: bool = False) -> list[str]:
    """Places whose URL differs from `_config.yml` (rewritten in place when ``write``)."""
    url, bad = configured_url(), []
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(nb_path.read_text())
        first = nb["cells"][0] if nb["cells"] else {}
        source = "".join(first.get("source", ""))
        found = _GIT_URL.findall(source)
        if "google.colab" not in source or "remove-cell" not in first.get("metadata", {}).get("tags", []):
            bad.append(f"{nb_path.relative_to(ROOT)}: first cell is not the hidden Colab install cell")
        elif found != [url]:
            bad.append(f"{nb_path.relative_to(ROOT)}: Colab cell installs {found}, expected {url}")
            if write:
                first["source"] = _GIT_URL.sub(f"git+{url}", source)
                nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    pyproject = ROOT / "pyproject.toml"
    match = _PYPROJECT_URL.search(pyproject.read_text())
    if match is None or match.group(2) != url:
        bad.append(f"pyproject.toml: [project.urls] Source is {match and match.group(2)!r}, expected {url}")
        if write and match:
            pyproject.write_text(_PYPROJECT_URL.sub(rf"\g<1>{url}\g<3>", pyproject.read_text()))
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--check", action="store_true")
    group.add_argument("--write", action="store_true")
    args = parser.parse_args()
    bad = mismatches(write=args.write)
    for line in bad:
        print(line)
    return 1 if bad and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
