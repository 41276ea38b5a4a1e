"""The TinyStories loaders (collapse_utils.data.tinystories): the local fixture, the offline and missing-library errors.

No test touches the network: the Hub path is exercised with a stand-in ``datasets`` module and a patched socket.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import types
from pathlib import Path

import pytest

from collapse_utils.data import tinystories as ts
from collapse_utils.data.tokenizer import BPETokenizer

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tinystories_tiny.jsonl"


def _records() -> list[dict]:
    return [json.loads(line) for line in FIXTURE.read_text().splitlines()]


def fake_datasets(calls: list) -> types.ModuleType:
    """A stand-in for the ``datasets`` library that serves the fixture's records as Hub rows (``{"text": ...}``)."""
    module = types.ModuleType("datasets")

    def load_dataset(name, split, streaming=False):
        calls.append((name, split, streaming))
        return iter([{"text": r["text"]} for r in _records() if r["split"] == split])

    module.load_dataset = load_dataset
    return module


@pytest.fixture
def no_offline_env(monkeypatch):
    for var in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(var, raising=False)


# ---------------------------------------------------------------------------------------------------------------
# the local path
# ---------------------------------------------------------------------------------------------------------------


def test_fixture_loads_cleaned_stories_per_split():
    train = ts.load_tinystories_local(FIXTURE, split="train")
    validation = ts.load_tinystories_local(FIXTURE, split="validation")
    assert len(train) == 16 and len(validation) == 4  # the blank record is dropped
    assert len(ts.load_tinystories_local(FIXTURE)) == 20
    for text in train + validation:
        assert text == text.strip() and text
    assert train[0].startswith("Once upon a time, there was a little girl named Lily.")
    assert not set(train) & set(validation)
    assert ts.load_tinystories_local(FIXTURE, split="train", n=3) == train[:3]


def test_source_path_gives_the_same_records(tmp_path):
    assert ts.load_tinystories("validation", source=FIXTURE) == ts.load_tinystories_local(FIXTURE, split="validation")
    as_list = tmp_path / "stories.json"
    as_list.write_text(json.dumps(_records()))
    first_five = ts.load_tinystories_local(FIXTURE, split="train")[:5]
    assert ts.load_tinystories("train", source=str(as_list), n=5) == first_five


def test_local_loader_names_a_bad_record(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "Lily ran."}\n{"story": "Tom sat."}\n')
    with pytest.raises(ValueError, match="record 1 must be an object with a 'text' field"):
        ts.load_tinystories_local(bad)
    bad.write_text('{"text": "Lily ran."}\nnot json\n')
    with pytest.raises(ValueError, match="line 2 is not a JSON record"):
        ts.load_tinystories_local(bad)


# ---------------------------------------------------------------------------------------------------------------
# the Hub path, without a network
# ---------------------------------------------------------------------------------------------------------------


def test_missing_datasets_names_the_install(monkeypatch, no_offline_env):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets now raises ImportError
    start = time.perf_counter()
    with pytest.raises(ImportError, match=r"pip install datasets.*COLLAPSE_CORPUS=synthetic"):
        ts.load_tinystories("train")
    assert time.perf_counter() - start < 1


def test_unreachable_hub_fails_fast_with_a_clear_message(monkeypatch, no_offline_env):
    calls = []
    monkeypatch.setitem(sys.modules, "datasets", fake_datasets(calls))

    def refuse(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"TinyStories needs network access to huggingface\.co:443.*"
                                           r"COLLAPSE_CORPUS=synthetic"):
        ts.load_tinystories("train", n=5)
    assert time.perf_counter() - start < 5
    assert calls == []  # datasets was never asked


def test_a_stalled_connection_times_out(monkeypatch, no_offline_env):
    monkeypatch.setitem(sys.modules, "datasets", fake_datasets([]))
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: time.sleep(30))
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"could not be reached within 0\.5 s"):
        ts.load_tinystories("train", timeout=0.5)
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("var", ["HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_mode_is_respected(monkeypatch, no_offline_env, var):
    monkeypatch.setitem(sys.modules, "datasets", fake_datasets([]))
    monkeypatch.setenv(var, "1")

    def must_not_connect(*args, **kwargs):
        raise AssertionError("tried the network in offline mode")

    monkeypatch.setattr(socket, "create_connection", must_not_connect)
    with pytest.raises(RuntimeError, match=f"{var} is set"):
        ts.load_tinystories("validation")


def test_hub_rows_are_cleaned_like_the_local_file(monkeypatch, no_offline_env):
    calls = []
    monkeypatch.setitem(sys.modules, "datasets", fake_datasets(calls))
    monkeypatch.setattr(ts, "hub_reachable", lambda timeout: True)
    assert ts.load_tinystories("validation") == ts.load_tinystories_local(FIXTURE, split="validation")
    assert ts.load_tinystories("train", n=4) == ts.load_tinystories_local(FIXTURE, split="train", n=4)
    assert calls == [("roneneldan/TinyStories", "validation", False), ("roneneldan/TinyStories", "train", True)]


# ---------------------------------------------------------------------------------------------------------------
# the chapter's pipeline on the fixture
# ---------------------------------------------------------------------------------------------------------------


def test_fixture_to_bpe_pipeline():
    pytest.importorskip("tokenizers")
    train = ts.load_tinystories("train", source=FIXTURE)
    validation = ts.load_tinystories("validation", source=FIXTURE)
    tok = BPETokenizer.train(train, vocab_size=350)
    encoded = tok.encode_batch(validation)
    assert [ids[-1] for ids in encoded] == [tok.eos_id] * len(validation)
    assert all(len(ids) > 20 for ids in encoded)
    assert tok.decode_batch(encoded) == validation
