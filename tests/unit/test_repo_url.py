"""The repository URL lives in `_config.yml`; every copy that Colab needs agrees with it."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_repository_url_is_consistent():
    run = subprocess.run([sys.executable, "tools/repo_url.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, f"repository URL copies disagree with _config.yml:\n{run.stdout}{run.stderr}"
