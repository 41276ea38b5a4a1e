"""Data policies: parsing, training-set sizes, row selection and assembly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from collapse_utils.policies import (
    RULES,
    DataPolicy,
    PolicyNotImplementedError,
    assemble,
    rule,
    samples_to_draw,
    training_rows,
)

ALL_POLICIES = tuple(DataPolicy)

# ---------------------------------------------------------------------------------------------------------
# DataPolicy.parse
# ---------------------------------------------------------------------------------------------------------


def test_all_policies_in_the_book_order():
    assert [p.value for p in DataPolicy] == ["replace", "accumulate", "accumulate-subsample", "replace-multiple"]


def test_every_policy_has_a_rule_and_a_missing_rule_fails_loudly(monkeypatch):
    assert set(RULES) == set(DataPolicy)
    monkeypatch.delitem(RULES, DataPolicy.ACCUMULATE)
    with pytest.raises(PolicyNotImplementedError, match=r"'accumulate' is not implemented in collapse_utils\.policies"):
        rule("accumulate")
    with pytest.raises(PolicyNotImplementedError):
        training_rows("accumulate", [3, 3], np.random.default_rng(0))


@pytest.mark.parametrize(("policy", "draws"), [("replace", [5, 5, 5]), ("accumulate", [5, 5, 5]),
                                               ("accumulate-subsample", [5, 5, 5]),
                                               ("replace-multiple", [10, 15, 20])])
def test_samples_to_draw_per_iteration(policy, draws):
    assert [samples_to_draw(policy, i, 5) for i in (1, 2, 3)] == draws


def test_replace_multiple_trains_on_the_newest_chunk_only():
    rows = training_rows("replace-multiple", [4, 8, 12], np.random.default_rng(0))
    assert [len(r) for r in rows] == [0, 0, 12]


@pytest.mark.parametrize("policy", list(DataPolicy))
def test_parse_returns_an_enum_member_unchanged(policy):
    assert DataPolicy.parse(policy) is policy


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("replace", DataPolicy.REPLACE),
        ("REPLACE", DataPolicy.REPLACE),
        ("  Replace ", DataPolicy.REPLACE),
        ("accumulate", DataPolicy.ACCUMULATE),
        ("Accumulate", DataPolicy.ACCUMULATE),
        ("accumulate-subsample", DataPolicy.ACCUMULATE_SUBSAMPLE),
        ("accumulate_subsample", DataPolicy.ACCUMULATE_SUBSAMPLE),
        ("ACCUMULATE_SUBSAMPLE", DataPolicy.ACCUMULATE_SUBSAMPLE),
        ("Accumulate-Subsample", DataPolicy.ACCUMULATE_SUBSAMPLE),
    ],
)
def test_parse_names_ignore_case_underscores_and_whitespace(name, expected):
    assert DataPolicy.parse(name) is expected


@pytest.mark.parametrize("bad", ["", "replce", "accumulate subsample", "accumulatesubsample", "subsample", 1, None])
def test_parse_unknown_policy_lists_allowed_names(bad):
    with pytest.raises(ValueError) as info:
        DataPolicy.parse(bad)
    msg = str(info.value)
    for p in DataPolicy:
        assert repr(p.value) in msg
    assert repr(bad) in msg


def test_policy_str_and_label():
    assert str(DataPolicy.ACCUMULATE_SUBSAMPLE) == "accumulate-subsample"
    assert f"{DataPolicy.REPLACE}" == "replace"
    assert [p.label for p in ALL_POLICIES] == ["Replace", "Accumulate", "Accumulate-Subsample", "Replace-Multiple"]


# ---------------------------------------------------------------------------------------------------------
# training_rows
# ---------------------------------------------------------------------------------------------------------


def test_replace_picks_only_the_last_chunk():
    rows = training_rows("replace", [4, 3, 5], np.random.default_rng(0))
    assert len(rows) == 3
    assert rows[0].size == 0
    assert rows[1].size == 0
    np.testing.assert_array_equal(rows[2], np.arange(5))


def test_replace_at_iteration_1_picks_the_real_data():
    rows = training_rows("replace", [6], np.random.default_rng(0))
    assert len(rows) == 1
    np.testing.assert_array_equal(rows[0], np.arange(6))


def test_accumulate_picks_every_row_of_every_chunk():
    rows = training_rows(DataPolicy.ACCUMULATE, [4, 3, 5], np.random.default_rng(0))
    assert len(rows) == 3
    for r, s in zip(rows, [4, 3, 5], strict=True):
        np.testing.assert_array_equal(r, np.arange(s))


def test_replace_and_accumulate_do_not_consume_randomness():
    rng = np.random.default_rng(5)
    training_rows("replace", [3, 3], rng)
    training_rows("accumulate", [3, 3], rng)
    assert rng.random() == np.random.default_rng(5).random()


@pytest.mark.parametrize("chunk_sizes", [[10], [10, 10], [10, 10, 10, 10], [7, 3, 12]])
def test_subsample_picks_size_distinct_sorted_rows_in_range(chunk_sizes):
    rng = np.random.default_rng(1)
    for _ in range(20):
        rows = training_rows("accumulate-subsample", chunk_sizes, rng)
        assert len(rows) == len(chunk_sizes)
        assert sum(r.size for r in rows) == chunk_sizes[0]  # default size: the real data's
        for r, s in zip(rows, chunk_sizes, strict=True):
            assert np.issubdtype(r.dtype, np.integer)
            assert np.all((r >= 0) & (r < s))
            assert np.all(np.diff(r) > 0)  # sorted and distinct


def test_subsample_at_iteration_1_is_the_whole_real_chunk():
    rows = training_rows("accumulate-subsample", [8], np.random.default_rng(3))
    np.testing.assert_array_equal(rows[0], np.arange(8))


def test_subsample_is_uniform_over_the_pool():
    chunk_sizes, size, draws = [5, 5, 5], 5, 3000
    total = sum(chunk_sizes)
    rng = np.random.default_rng(12345)
    counts = np.zeros(total)
    for _ in range(draws):
        rows = training_rows("accumulate-subsample", chunk_sizes, rng)
        offsets = np.cumsum([0, *chunk_sizes[:-1]])
        for r, off in zip(rows, offsets, strict=True):
            counts[r + off] += 1
    expected = draws * size / total  # 1000 per pool row
    assert counts.sum() == draws * size
    # each count is Binomial(3000, 1/3): sd ~ 26; 5 sd is a generous per-row tolerance
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(draws * (size / total) * (1 - size / total)))
    # and jointly: a chi-square statistic far from its upper tail
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert stats.chi2.sf(chi2, df=total - 1) > 1e-4
    # each chunk receives its share: the real data 1/3 of the rows, not more
    per_chunk = counts.reshape(3, 5).sum(axis=1) / counts.sum()
    np.testing.assert_allclose(per_chunk, 1 / 3, atol=0.02)


def test_subsample_is_deterministic_under_a_seed_and_varies_across_seeds():
    def draw(seed):
        rng = np.random.default_rng(seed)
        return [training_rows("accumulate-subsample", [6, 6, 6], rng) for _ in range(5)]

    a, b, c = draw(7), draw(7), draw(8)
    for ra, rb in zip(a, b, strict=True):
        for x, y in zip(ra, rb, strict=True):
            np.testing.assert_array_equal(x, y)
    assert any(
        not np.array_equal(x, y) for ra, rc in zip(a, c, strict=True) for x, y in zip(ra, rc, strict=True)
    )


def test_subsample_uses_rng_choice_without_replacement_on_the_pool():
    # the simulator draws g.choice(i * T, size=T, replace=False) and maps pick -> divmod(pick, T); the
    # policy function must select the same rows from the same generator state
    T, i = 6, 4
    rows = training_rows("accumulate-subsample", [T] * i, np.random.default_rng(99))
    picks = np.random.default_rng(99).choice(i * T, size=T, replace=False)
    chunk, row = np.divmod(picks, T)
    expected = [np.sort(row[chunk == k]) for k in range(i)]
    for r, e in zip(rows, expected, strict=True):
        np.testing.assert_array_equal(r, e)


@pytest.mark.parametrize("policy", list(DataPolicy))
def test_empty_chunk_sizes_raise(policy):
    with pytest.raises(ValueError, match="chunk_sizes must hold at least the real chunk"):
        training_rows(policy, [], np.random.default_rng(0))


@pytest.mark.parametrize("policy", list(DataPolicy))
@pytest.mark.parametrize(("sizes", "k"), [([0], 0), ([5, 0], 1), ([5, -2, 5], 1), ([5, 2.0], 1), ([True, 3], 0)])
def test_non_positive_or_non_integer_chunk_sizes_raise(policy, sizes, k):
    with pytest.raises(ValueError, match=rf"chunk_sizes\[{k}\] must be an integer >= 1"):
        training_rows(policy, sizes, np.random.default_rng(0))


def test_training_rows_unknown_policy_raises():
    with pytest.raises(ValueError, match="policy must be one of"):
        training_rows("sample", [5], np.random.default_rng(0))


# ---------------------------------------------------------------------------------------------------------
# assemble
# ---------------------------------------------------------------------------------------------------------


def _chunks_numpy():
    return [np.arange(8).reshape(4, 2), 100 + np.arange(6).reshape(3, 2), 200 + np.arange(10).reshape(5, 2)]


def test_assemble_numpy_accumulate_concatenates_all_chunks():
    chunks = _chunks_numpy()
    rows = training_rows("accumulate", [4, 3, 5], np.random.default_rng(0))
    np.testing.assert_array_equal(assemble(chunks, rows), np.concatenate(chunks))


def test_assemble_numpy_replace_returns_last_chunk():
    chunks = _chunks_numpy()
    rows = training_rows("replace", [4, 3, 5], np.random.default_rng(0))
    np.testing.assert_array_equal(assemble(chunks, rows), chunks[-1])


def test_assemble_numpy_gathers_selected_rows_in_chunk_order():
    chunks = _chunks_numpy()
    out = assemble(chunks, [np.array([1, 3]), np.array([], dtype=int), np.array([0, 4])])
    np.testing.assert_array_equal(out, np.stack([chunks[0][1], chunks[0][3], chunks[2][0], chunks[2][4]]))


def test_assemble_numpy_subsample_has_size_rows_from_the_pool():
    chunks = _chunks_numpy()
    rows = training_rows("accumulate-subsample", [4, 3, 5], np.random.default_rng(4))
    out = assemble(chunks, rows)
    assert out.shape == (4, 2)
    pool = {tuple(r) for r in np.concatenate(chunks)}
    assert all(tuple(r) in pool for r in out)
    assert len({tuple(r) for r in out}) == 4


def test_assemble_1d_labels():
    out = assemble([np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0])], [np.array([2]), np.array([0, 1])])
    np.testing.assert_array_equal(out, [3.0, 4.0, 5.0])


def test_assemble_torch_tensors_returns_a_tensor():
    chunks = [torch.arange(8.0).reshape(4, 2), 100 + torch.arange(6.0).reshape(3, 2)]
    out = assemble(chunks, [np.array([0, 2]), np.array([1])])
    assert isinstance(out, torch.Tensor)
    assert out.dtype == torch.float32
    assert torch.equal(out, torch.stack([chunks[0][0], chunks[0][2], chunks[1][1]]))


def test_assemble_torch_with_policy_rows():
    chunks = [torch.arange(4), torch.arange(4) + 10, torch.arange(4) + 20]
    out = assemble(chunks, training_rows("replace", [4, 4, 4], np.random.default_rng(0)))
    assert torch.equal(out, chunks[-1])
    out = assemble(chunks, training_rows("accumulate", [4, 4, 4], np.random.default_rng(0)))
    assert torch.equal(out, torch.cat(chunks))


def test_assemble_length_mismatch_raises():
    with pytest.raises(ValueError, match="chunks and rows must have the same length, got 2 and 1"):
        assemble([np.zeros(2), np.zeros(2)], [np.arange(2)])
