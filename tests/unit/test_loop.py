"""The feedback-loop runner, with tiny fake models (a Gaussian fit: mean and standard deviation)."""

import numpy as np
import pandas as pd
import pytest

from collapse_utils.loop import run_feedback_loop, run_policies


class Gaussian:
    """A 1-D Gaussian fit by maximum likelihood; records its training-set size and a fresh 'initialization'."""

    def __init__(self, data, rng):
        self.mu, self.sd = float(np.mean(data)), float(np.std(data))
        self.n_train = len(data)
        self.init = float(rng.random())  # a fresh random initialization, drawn from the fit stream


def fit(data, rng):
    return Gaussian(data, rng)


def sample(model, n, rng):
    return rng.normal(model.mu, model.sd, size=n)


def evaluate(model):
    # KL divergence of N(0, 1) (the real law) from the model, and the size of its training set
    kl = np.log(model.sd) + (1 + model.mu**2) / (2 * model.sd**2) - 0.5
    return {"kl": kl, "n_train": model.n_train}


REAL = np.random.default_rng(0).standard_normal(20)
KW = dict(fit=fit, evaluate=evaluate, sample=sample, n_iterations=6)


@pytest.mark.parametrize(("policy", "sizes"), [("replace", [20] * 6), ("accumulate", [20, 40, 60, 80, 100, 120]),
                                               ("accumulate-subsample", [20] * 6)])
def test_training_set_sizes_per_policy_and_iteration(policy, sizes):
    rec = run_feedback_loop(REAL, policy=policy, seed=1, **KW)
    assert list(rec["iteration"]) == [1, 2, 3, 4, 5, 6]
    assert list(rec["train_size"]) == sizes
    assert list(rec["n_train"]) == sizes  # what the model actually saw
    assert list(rec["n_real"] + rec["n_synthetic"]) == sizes
    if policy == "replace":
        assert list(rec["n_real"]) == [20, 0, 0, 0, 0, 0]
    if policy == "accumulate":
        assert list(rec["n_real"]) == [20] * 6


def test_record_columns_are_tidy():
    rec = run_feedback_loop(REAL, policy="replace", seed=3, **KW)
    assert list(rec.columns) == ["policy", "iteration", "seed", "train_size", "n_real", "n_synthetic", "fit_seconds",
                                 "sample_seconds", "kl", "n_train"]
    assert set(rec["policy"]) == {"replace"} and set(rec["seed"]) == {3}
    assert (rec["fit_seconds"] >= 0).all() and rec["sample_seconds"].iloc[-1] == 0.0


def test_first_iteration_is_identical_across_policies_and_runs_are_deterministic():
    frames = {p: run_feedback_loop(REAL, policy=p, seed=5, **KW) for p in ("replace", "accumulate",
                                                                           "accumulate-subsample")}
    first = {p: f.loc[0, "kl"] for p, f in frames.items()}
    assert len(set(first.values())) == 1
    again = run_feedback_loop(REAL, policy="replace", seed=5, **KW)
    pd.testing.assert_frame_equal(frames["replace"].drop(columns=["fit_seconds", "sample_seconds"]),
                                  again.drop(columns=["fit_seconds", "sample_seconds"]))
    other = run_feedback_loop(REAL, policy="replace", seed=6, **KW)
    assert not np.allclose(other["kl"].iloc[1:], frames["replace"]["kl"].iloc[1:])


def test_each_iteration_gets_a_fresh_initialization():
    inits = []

    def recording_fit(data, rng):
        model = fit(data, rng)
        inits.append(model.init)
        return model

    run_feedback_loop(REAL, fit=recording_fit, evaluate=evaluate, sample=sample, policy="replace", seed=2,
                      n_iterations=4)
    assert len(set(inits)) == 4


def test_replace_drifts_and_accumulate_stays_close():
    """The follow-up's Gaussian result, qualitatively: replace's fitted law drifts away, accumulate's does not."""
    real = np.random.default_rng(1).standard_normal(50)
    rec = run_policies(real, policies=["replace", "accumulate"], seeds=list(range(40)), fit=fit, evaluate=evaluate,
                       sample=sample, n_iterations=30)
    last = rec[rec["iteration"] == 30].groupby("policy")["kl"].mean()
    assert last["replace"] > 5 * last["accumulate"]


def test_lists_of_items_work():
    real = [f"story {k}" for k in range(8)]

    def fit_list(data, rng):
        return sorted(set(data))

    def sample_list(model, n, rng):
        return [model[int(k)] for k in rng.integers(len(model), size=n)]

    rec = run_feedback_loop(real, fit=fit_list, evaluate=lambda m: {"distinct": len(m)}, sample=sample_list,
                            policy="replace", seed=0, n_iterations=5)
    assert rec["distinct"].iloc[0] == 8
    assert (np.diff(rec["distinct"]) <= 0).all()  # replace can only lose distinct stories


def test_errors():
    with pytest.raises(ValueError, match="policy must be one of"):
        run_feedback_loop(REAL, policy="mix", seed=0, **KW)
    with pytest.raises(ValueError, match="n_iterations must be an integer >= 1"):
        run_feedback_loop(REAL, policy="replace", seed=0, fit=fit, evaluate=evaluate, sample=sample, n_iterations=0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        run_feedback_loop(REAL, policy="replace", seed=-1, **KW)
    with pytest.raises(ValueError, match="real_train must hold at least one item"):
        run_feedback_loop(np.array([]), policy="replace", seed=0, **KW)
    with pytest.raises(ValueError, match="exactly n = 20"):
        run_feedback_loop(REAL, policy="replace", seed=0, fit=fit, evaluate=evaluate,
                          sample=lambda m, n, r: sample(m, n - 1, r), n_iterations=2)
    with pytest.raises(TypeError, match="evaluate must return"):
        run_feedback_loop(REAL, policy="replace", seed=0, fit=fit, evaluate=lambda m: 1.0, sample=sample,
                          n_iterations=2)
    with pytest.raises(ValueError, match="seeds must be"):
        run_policies(REAL, policies=["replace"], seeds=[], **KW)
    with pytest.raises(ValueError, match="policies must name"):
        run_policies(REAL, policies=["replace", "replace"], seeds=[0], **KW)


def test_progress_goes_to_stderr_only_when_enabled(monkeypatch, capsys):
    monkeypatch.setenv("COLLAPSE_PROGRESS", "1")
    run_feedback_loop(REAL, policy="replace", seed=0, **{**KW, "n_iterations": 2})
    out = capsys.readouterr()
    assert out.out == "" and "iteration 2/2" in out.err
    monkeypatch.setenv("COLLAPSE_PROGRESS", "0")
    run_feedback_loop(REAL, policy="replace", seed=0, **{**KW, "n_iterations": 2})
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("COLLAPSE_PROGRESS", "yes")
    with pytest.raises(ValueError, match="COLLAPSE_PROGRESS"):
        run_feedback_loop(REAL, policy="replace", seed=0, **KW)
