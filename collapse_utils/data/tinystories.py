"""TinyStories (Eldan & Li 2023), the corpus of the accumulate paper's language-model study, when a network is there.

The accumulate paper (Gerstgrasser et al. 2024, Section 3) pretrains small GPT-2 and Llama-2 models on TinyStories
(``roneneldan/TinyStories`` on the Hugging Face Hub: 2,119,719 training and 21,990 validation stories). The
chapter's default corpus is the offline story grammar (:mod:`collapse_utils.data.story_grammar`); this module is
its online alternative (e.g. in Colab at ``full`` scale), through the Hugging Face ``datasets`` library, an
optional dependency (``pip install datasets``, or the package's ``tinystories`` extra).

Records are rows with a ``"text"`` field, one story each. :func:`load_tinystories` fails fast, with a clear message,
when ``huggingface.co`` cannot be reached or the Hub is set offline, instead of hanging. :func:`load_tinystories_local`
reads the same record format from a JSON-lines or JSON file with plain Python (the unit tests' fixture); both paths
clean the stories the same way: surrounding whitespace stripped, empty stories dropped.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterable
from pathlib import Path

from collapse_utils.validation import Instance, Int, OneOf, Optional, Real, fail, validate

DATASET = "roneneldan/TinyStories"
SPLITS = ("train", "validation")
HUB_HOST = "huggingface.co"
_OFFLINE_VARS = ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
_OFFLINE_HINT = ("the offline default corpus is the synthetic story grammar (COLLAPSE_CORPUS=synthetic); "
                 "or pass source=<path of a JSON-lines file of {\"text\": ...} records>")
_SPLIT = OneOf(*SPLITS)
_COUNT = Optional(Int(1))  # n: keep the first n stories, or all
_PATH = Instance((str, os.PathLike))


@validate(n=_COUNT)
def clean_stories(texts: Iterable, *, n: int | None = None) -> list[str]:
    """Strip each story of surrounding whitespace, drop empty ones, keep the first ``n`` (all if ``None``)."""
    out = []
    for text in texts:
        if not isinstance(text, str):
            fail("texts", "stories whose text is a str", text)
        text = text.strip()
        if text:
            out.append(text)
            if n is not None and len(out) == n:
                break
    return out


@validate(timeout=Real(0, low_open=True))
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``huggingface.co:443`` opens within ``timeout`` seconds (name lookup included).

    The attempt runs in a daemon thread that is abandoned after ``timeout``, so a stalled name lookup cannot hang
    the caller.
    """
    result: list[bool] = []

    def attempt():
        try:
            with socket.create_connection((HUB_HOST, 443), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result) and result[0]


@validate(split=_SPLIT, n=_COUNT, source=_PATH, timeout=Real(0, 60, low_open=True))
def load_tinystories(split: str = "train", *, n: int | None = None, source: str | os.PathLike = "hf",
                     timeout: float = 3.0, streaming: bool | None = None) -> list[str]:
    """Stories of one TinyStories split, from the Hugging Face Hub or a local file of the same records.

    Parameters
    ----------
    split
        ``"train"`` or ``"validation"``.
    n
        Keep the first ``n`` stories (an integer >= 1), or all of them (``None``).
    source
        ``"hf"``: download ``roneneldan/TinyStories`` with ``datasets.load_dataset``; a path: read it with
        :func:`load_tinystories_local`.
    timeout
        Seconds to wait for a connection to ``huggingface.co`` before giving up (> 0).
    streaming
        Stream the records instead of downloading the whole split; default: stream when ``n`` is given.

    Returns
    -------
    list of str
        The stories, stripped, without empty ones, in the dataset's order.

    Raises
    ------
    ImportError
        If ``datasets`` is not installed (``pip install datasets``).
    RuntimeError
        If ``HF_DATASETS_OFFLINE`` or ``HF_HUB_OFFLINE`` is set, or ``huggingface.co`` cannot be reached within
        ``timeout`` seconds.
    """
    if source != "hf":
        return load_tinystories_local(source, split=split, n=n)
    try:
        import datasets
    except ImportError as err:
        raise ImportError("loading TinyStories needs the Hugging Face datasets library: pip install datasets "
                          "(or the package's extra: pip install 'collapse-reproduced[tinystories]'); "
                          + _OFFLINE_HINT) from err
    offline = [v for v in _OFFLINE_VARS if os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")]
    if offline:
        raise RuntimeError(f"TinyStories needs network access to {HUB_HOST}, but {offline[0]} is set; "
                           + _OFFLINE_HINT)
    if not hub_reachable(timeout):
        raise RuntimeError(f"TinyStories needs network access to {HUB_HOST}:443, which could not be reached within "
                           f"{timeout:g} s; " + _OFFLINE_HINT)
    stream = n is not None if streaming is None else bool(streaming)
    rows = datasets.load_dataset(DATASET, split=split, streaming=stream)
    return clean_stories((row["text"] for row in rows), n=n)


@validate(path=_PATH, split=Optional(_SPLIT), n=_COUNT)
def load_tinystories_local(path: str | os.PathLike, *, split: str | None = None, n: int | None = None) -> list[str]:
    """Stories from a local file of TinyStories records (``{"text": ...}``), read with plain Python.

    Parameters
    ----------
    path
        A JSON-lines file (one record per line; ``.jsonl``) or a JSON file holding a list of records.
    split
        If the records carry a ``"split"`` field, keep those of this split (``"train"`` or ``"validation"``);
        records without the field are kept whatever the split. ``None`` keeps every record.
    n
        Keep the first ``n`` stories (an integer >= 1), or all (``None``).

    Returns
    -------
    list of str
        The stories, cleaned as by :func:`load_tinystories`.
    """
    path = Path(path)
    if not path.is_file():
        fail("path", "an existing file of TinyStories records", str(path))
    raw = path.read_text(encoding="utf-8")
    if raw.lstrip().startswith("["):
        records = json.loads(raw)
    else:
        records = []
        for lineno, line in enumerate(raw.splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}: line {lineno} is not a JSON record: {err}") from None
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or "text" not in rec:
            raise ValueError(f"{path}: record {i} must be an object with a 'text' field, got {rec!r:.80}")
    if split is not None:
        records = [r for r in records if r.get("split", split) == split]
    return clean_stories((r["text"] for r in records), n=n)
