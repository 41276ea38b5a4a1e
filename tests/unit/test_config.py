"""Seeds, threads, scale profiles and the cache directory."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import collapse_utils
from collapse_utils import config

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")

# ---------------------------------------------------------------------------------------------------------
# scale profiles
# ---------------------------------------------------------------------------------------------------------


def test_get_scale_defaults_to_ci(monkeypatch):
    monkeypatch.delenv("COLLAPSE_SCALE", raising=False)
    assert config.get_scale() == "ci"


@pytest.mark.parametrize(("value", "expected"), [("full", "full"), ("ci", "ci"), (" FULL ", "full"), ("Ci", "ci")])
def test_get_scale_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("COLLAPSE_SCALE", value)
    assert config.get_scale() == expected


@pytest.mark.parametrize("value", ["large", "", "fast"])
def test_get_scale_invalid_value_names_the_variable_and_lists_allowed(monkeypatch, value):
    monkeypatch.setenv("COLLAPSE_SCALE", value)
    with pytest.raises(ValueError) as info:
        config.get_scale()
    msg = str(info.value)
    assert "COLLAPSE_SCALE" in msg
    assert "'ci'" in msg
    assert "'full'" in msg


def test_scale_settings_linear_regression_both_scales():
    ci = config.scale_settings("linear-regression", "ci")
    full = config.scale_settings("linear-regression", "full")
    assert ci == {"n_seeds": 400, "n_seeds_subsample": 200, "n_seeds_resolution": 10_000}
    assert full == {"n_seeds": 4000, "n_seeds_subsample": 2000, "n_seeds_resolution": 40_000}
    assert full["n_seeds"] > ci["n_seeds"]


def test_scale_settings_follow_the_active_scale(monkeypatch):
    monkeypatch.setenv("COLLAPSE_SCALE", "full")
    assert config.scale_settings("linear-regression") == config.scale_settings("linear-regression", "full")
    monkeypatch.delenv("COLLAPSE_SCALE")
    assert config.scale_settings("linear-regression") == config.scale_settings("linear-regression", "ci")


def test_scale_settings_returns_a_copy():
    config.scale_settings("linear-regression", "ci")["n_seeds"] = -1
    assert config.scale_settings("linear-regression", "ci")["n_seeds"] == 400


def test_every_chapter_defines_both_scales():
    for chapter, by_scale in config.CHAPTER_SETTINGS.items():
        assert set(by_scale) == set(config.SCALES), chapter
        assert set(by_scale["ci"]) == set(by_scale["full"]), chapter


def test_scale_settings_unknown_chapter_raises():
    with pytest.raises(ValueError, match=r"chapter must be one of \['diffusion-conformers'.*got 'linear'"):
        config.scale_settings("linear")


def test_scale_settings_unknown_scale_raises():
    with pytest.raises(ValueError, match="scale must be one of"):
        config.scale_settings("linear-regression", "huge")


# ---------------------------------------------------------------------------------------------------------
# threads
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, "x", 1.5, "2.0", [1]])
def test_set_threads_rejects_bad_values_naming_the_parameter(bad):
    with pytest.raises(ValueError, match=r"^threads must be an integer >= 1"):
        config.set_threads(bad)


def _blas_threads():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


@pytest.fixture
def restore_threads():
    yield
    config.set_threads(1)


def test_set_threads_limits_blas_at_run_time(restore_threads):
    assert _blas_threads(), "numpy should have loaded a BLAS library"
    threadpool_limits(limits=2)
    assert config.set_threads(1) == 1
    assert all(n == 1 for n in _blas_threads())


def test_set_threads_default_reads_collapse_threads(monkeypatch, restore_threads):
    monkeypatch.setenv("COLLAPSE_THREADS", "2")
    assert config.default_threads() == 2
    assert config.set_threads() == 2
    monkeypatch.delenv("COLLAPSE_THREADS")
    assert config.default_threads() == 1
    assert config.set_threads() == 1
    assert all(n == 1 for n in _blas_threads())


def test_set_threads_sets_torch_threads(restore_threads):
    import torch

    config.set_threads(2)
    assert torch.get_num_threads() == 2
    config.set_threads(1)
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize("bad", ["0", "two", "1.5", "-3"])
def test_default_threads_rejects_bad_environment(monkeypatch, bad):
    monkeypatch.setenv("COLLAPSE_THREADS", bad)
    with pytest.raises(ValueError, match="COLLAPSE_THREADS must be an integer >= 1"):
        config.default_threads()


def test_importing_the_package_set_the_thread_variables():
    for var in (*THREAD_VARS, "OMP_WAIT_POLICY"):
        assert var in os.environ, var


def _import_env(env: dict[str, str], cwd: Path) -> dict[str, str | None]:
    """Import the package under test in a fresh interpreter and report the thread variables it left."""
    code = (
        "import json, os, collapse_utils; "
        "assert collapse_utils.__file__ == " + repr(collapse_utils.__file__) + "; "
        f"print(json.dumps({{v: os.environ.get(v) for v in {[*THREAD_VARS, 'OMP_WAIT_POLICY']!r}}}))"
    )
    env = {**env, "PYTHONPATH": str(Path(collapse_utils.__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _clean_env() -> dict[str, str]:
    drop = {*THREAD_VARS, "OMP_WAIT_POLICY", "COLLAPSE_THREADS"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def test_import_exports_thread_variables_in_a_fresh_process(tmp_path):
    got = _import_env(_clean_env(), tmp_path)
    assert got == {**dict.fromkeys(THREAD_VARS, "1"), "OMP_WAIT_POLICY": "PASSIVE"}


def test_import_exports_collapse_threads_and_keeps_preset_values(tmp_path):
    env = {**_clean_env(), "COLLAPSE_THREADS": "3", "MKL_NUM_THREADS": "5", "OMP_WAIT_POLICY": "ACTIVE"}
    got = _import_env(env, tmp_path)
    assert got == {
        "OMP_NUM_THREADS": "3",
        "OPENBLAS_NUM_THREADS": "3",
        "MKL_NUM_THREADS": "5",
        "VECLIB_MAXIMUM_THREADS": "3",
        "OMP_WAIT_POLICY": "ACTIVE",
    }


# ---------------------------------------------------------------------------------------------------------
# seeds
# ---------------------------------------------------------------------------------------------------------


def test_seed_everything_returns_a_seeded_generator():
    a = config.seed_everything(123).random(5)
    b = config.seed_everything(123).random(5)
    c = config.seed_everything(124).random(5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(a, np.random.default_rng(123).random(5))


def test_seed_everything_seeds_global_states():
    import torch

    def draw():  # the legacy global states that third-party code may use
        return random.random(), np.random.random(), torch.rand(1).item()  # noqa: NPY002

    config.seed_everything(7)
    first = draw()
    config.seed_everything(7)
    assert draw() == first
    config.seed_everything(8)
    second = draw()
    assert all(a != b for a, b in zip(first, second, strict=True))


def test_seed_everything_default_seed_and_large_seeds():
    np.testing.assert_array_equal(
        config.seed_everything().random(3), np.random.default_rng(config.DEFAULT_SEED).random(3)
    )
    config.seed_everything(2**40)  # beyond numpy's legacy 32-bit range: reduced, not rejected
    config.seed_everything(np.int64(5))


@pytest.mark.parametrize("bad", [-1, 1.0, "3", True, None])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        config.seed_everything(bad)


def test_setup_pins_threads_and_seeds(restore_threads):
    threadpool_limits(limits=2)
    rng = config.setup(42, threads=1)
    np.testing.assert_array_equal(rng.random(3), np.random.default_rng(42).random(3))
    assert all(n == 1 for n in _blas_threads())


# ---------------------------------------------------------------------------------------------------------
# cache
# ---------------------------------------------------------------------------------------------------------


def test_cache_dir_honours_collapse_cache_and_creates_it(monkeypatch, tmp_path):
    target = tmp_path / "nested" / "cache"
    monkeypatch.setenv("COLLAPSE_CACHE", str(target))
    path = config.cache_dir()
    assert path == target
    assert path.is_dir()
    assert config.cache_dir() == target  # idempotent


def test_cache_dir_default_is_under_home(monkeypatch, tmp_path):
    monkeypatch.delenv("COLLAPSE_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    path = config.cache_dir()
    assert path == tmp_path / ".cache" / "collapse-reproduced"
    assert path.is_dir()


def test_torch_device_switch(monkeypatch):
    import torch

    from collapse_utils.models.common import torch_device

    monkeypatch.setenv("COLLAPSE_DEVICE", "cpu")
    assert torch_device() == "cpu"
    monkeypatch.setenv("COLLAPSE_DEVICE", "auto")
    assert torch_device() == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setenv("COLLAPSE_DEVICE", "tpu")
    with pytest.raises(ValueError, match="COLLAPSE_DEVICE must be 'auto', 'cpu' or 'cuda', got 'tpu'"):
        torch_device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("COLLAPSE_DEVICE", "cuda")
        with pytest.raises(RuntimeError, match="no CUDA device"):
            torch_device()


def test_story_corpus_reads_collapse_corpus(monkeypatch):
    monkeypatch.delenv("COLLAPSE_CORPUS", raising=False)
    assert config.story_corpus() == "synthetic" and config.story_corpus("auto") == "auto"
    monkeypatch.setenv("COLLAPSE_CORPUS", "TinyStories")
    assert config.story_corpus() == "tinystories"
    monkeypatch.setenv("COLLAPSE_CORPUS", "wikipedia")
    with pytest.raises(ValueError, match="COLLAPSE_CORPUS must be one of"):
        config.story_corpus()


def test_importing_the_data_package_loads_no_optional_library():
    code = ("import sys, collapse_utils.data; "
            "print(sorted(m for m in ('rdkit', 'torch', 'tokenizers', 'datasets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
