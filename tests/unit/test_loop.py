"""The feedback-loop runner, with a tiny fake family (a 1-D Gaussian fit: mean and standard deviation)."""

from dataclasses import dataclass

import numpy as np
import pytest

from collapse_utils import policies as policies_module
from collapse_utils.loop import run_experiment, run_feedback_loop
from collapse_utils.policies import DataPolicy, PolicyNotImplementedError
from collapse_utils.protocol import STREAMS, Context, stream


@dataclass
class GaussianModel:
    mu: float
    sd: float
    n_train: int
    init: float  # a fresh random 'initialization', drawn from the fit stream


class GaussianFamily:
    """Fits N(mu, sd) by maximum likelihood; evaluates the KL divergence of the real law N(0, 1) from the model."""

    def __init__(self):
        self.contexts = []

    def fit(self, train, ctx):
        self.contexts.append(("fit", ctx))
        return GaussianModel(float(np.mean(train)), float(np.std(train)), len(train), float(ctx.rng("fit").random()))

    def evaluate(self, model, ctx):
        kl = np.log(model.sd) + (1 + model.mu**2) / (2 * model.sd**2) - 0.5
        return {"kl": kl, "n_train": model.n_train, "init": model.init}

    def sample(self, model, n, ctx):
        self.contexts.append(("sample", ctx))
        return ctx.rng("sample").normal(model.mu, model.sd, size=n)


REAL = np.random.default_rng(0).standard_normal(20)
ALL = [p.value for p in DataPolicy]


def run(policies=ALL, seeds=(1,), n_iterations=6, **kw):
    return run_experiment(REAL, GaussianFamily(), policies=policies, seeds=seeds, n_iterations=n_iterations, **kw)


@pytest.mark.parametrize(("policy", "sizes", "n_real"), [
    ("replace", [20] * 6, [20, 0, 0, 0, 0, 0]),
    ("accumulate", [20, 40, 60, 80, 100, 120], [20] * 6),
    ("accumulate-subsample", [20] * 6, None),
    ("replace-multiple", [20, 40, 60, 80, 100, 120], [20, 0, 0, 0, 0, 0]),
])
def test_training_set_sizes_per_policy_and_iteration(policy, sizes, n_real):
    rec = run_feedback_loop(REAL, GaussianFamily(), policy=policy, seed=1, n_iterations=6).records
    assert list(rec["iteration"]) == [1, 2, 3, 4, 5, 6]
    assert list(rec["train_size"]) == sizes
    assert list(rec["n_train"]) == sizes  # what the model actually saw
    assert list(rec["n_real"] + rec["n_synthetic"]) == sizes
    if n_real is not None:
        assert list(rec["n_real"]) == n_real


def test_records_are_tidy_and_ordered_by_policy_seed_iteration():
    rec = run(seeds=(4, 2)).records
    assert list(rec.columns[:9]) == ["policy", "seed", "iteration", "train_size", "n_real", "n_synthetic",
                                     "fit_seconds", "evaluate_seconds", "kl"]
    assert len(rec) == len(ALL) * 2 * 6
    assert list(rec["policy"].drop_duplicates()) == ALL
    assert list(rec[rec["policy"] == "replace"]["seed"].drop_duplicates()) == [2, 4]
    assert (rec["fit_seconds"] >= 0).all() and (rec[rec["iteration"] == 6]["sample_seconds"] == 0).all()


def test_iteration_1_is_fitted_once_per_seed_and_shared_by_every_policy():
    fam = GaussianFamily()
    res = run_experiment(REAL, fam, policies=ALL, seeds=[1, 2], n_iterations=3)
    first_fits = [c for kind, c in fam.contexts if kind == "fit" and c.iteration == 1]
    assert [c.seed for c in first_fits] == [1, 2] and all(c.policy is None for c in first_fits)
    first = res.records[res.records["iteration"] == 1]
    assert first.groupby("seed")["kl"].nunique().eq(1).all()


def test_sharing_iteration_1_changes_nothing_a_separate_run_would_give():
    together = run(seeds=(3,)).records.set_index(["policy", "iteration"])["kl"]
    for policy in ALL:
        alone = run_feedback_loop(REAL, GaussianFamily(), policy=policy, seed=3, n_iterations=6).records
        np.testing.assert_array_equal(alone["kl"].to_numpy(), together.loc[policy].to_numpy())


def test_runs_are_deterministic_and_seeds_independent_of_their_company():
    a = run(seeds=(5,)).records
    b = run(seeds=(5, 6)).records
    np.testing.assert_array_equal(a["kl"].to_numpy(), b[b["seed"] == 5]["kl"].to_numpy())
    assert not np.array_equal(b[b["seed"] == 5]["kl"].to_numpy(), b[b["seed"] == 6]["kl"].to_numpy())


def test_callbacks_get_their_context_and_the_named_streams():
    fam = GaussianFamily()
    run_experiment(REAL, fam, policies=["accumulate"], seeds=[7], n_iterations=3)
    fits = [c for kind, c in fam.contexts if kind == "fit"]
    assert [(c.policy, c.seed, c.iteration, c.n_iterations) for c in fits] == [
        (None, 7, 1, 3), (DataPolicy.ACCUMULATE, 7, 2, 3), (DataPolicy.ACCUMULATE, 7, 3, 3)]
    ctx = fits[1]
    assert ctx.rng("fit").random() == stream(7, 2, "fit").random()
    assert ctx.rng("evaluate").random() == Context(None, 7, 1, 3).rng("evaluate").random()  # same at every iteration
    assert len(set(STREAMS.values())) == len(STREAMS)


def test_each_iteration_gets_a_fresh_initialization():
    rec = run(policies=["replace"], seeds=(0,)).records
    models = []
    fam = GaussianFamily()
    fam.fit = lambda train, ctx, f=fam.fit: models.append(f(train, ctx)) or models[-1]
    run_experiment(REAL, fam, policies=["replace"], seeds=[0], n_iterations=6)
    assert len({m.init for m in models}) == 6 and len(rec) == 6


def test_replace_drifts_and_accumulate_stays_close():
    """With many seeds the classical picture appears: replace's KL grows, accumulate's stays small."""
    rec = run(policies=["replace", "accumulate"], seeds=range(40), n_iterations=10).records
    last = rec[rec["iteration"] == 10].groupby("policy")["kl"].mean()
    assert last["replace"] > 2 * last["accumulate"]


def test_samples_and_the_last_model_on_request():
    res = run(policies=["replace", "replace-multiple"], seeds=(1,), n_iterations=3, keep_samples=True,
              sample_last=True)
    assert len(res.samples[("replace", 1, 1)]) == 20 and len(res.samples[("replace-multiple", 1, 1)]) == 40
    assert len(res.samples[("replace-multiple", 1, 2)]) == 60  # model 2 draws 3 n for iteration 3
    assert len(res.samples[("replace", 1, 3)]) == 20 and len(res.samples[("replace-multiple", 1, 3)]) == 20
    assert res.samples[("replace", 1, 1)] is not None
    assert not run(policies=["replace"], seeds=(1,), n_iterations=2).samples


def test_lists_of_items_work():
    fam = GaussianFamily()
    fam.sample = lambda model, n, ctx: list(ctx.rng("sample").normal(model.mu, model.sd, size=n))
    rec = run_experiment(list(REAL), fam, policies=["accumulate-subsample"], seeds=[0], n_iterations=4).records
    assert list(rec["train_size"]) == [20] * 4


def test_an_unimplemented_policy_fails_loudly(monkeypatch):
    monkeypatch.delitem(policies_module.RULES, DataPolicy.REPLACE_MULTIPLE)
    with pytest.raises(PolicyNotImplementedError, match="'replace-multiple' is not implemented"):
        run(policies=["replace-multiple"], n_iterations=3)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"policies": []}, "policies must name at least one policy"),
    ({"policies": ["replace", "replace"]}, "none twice"),
    ({"policies": ["shrink"]}, "policy must be one of"),
    ({"seeds": []}, "seeds must be a non-empty"),
    ({"seeds": [1, 1]}, "distinct"),
    ({"seeds": [-1]}, "seeds must be"),
    ({"n_iterations": 0}, "n_iterations must be an integer >= 1"),
])
def test_bad_arguments_name_the_parameter(kwargs, message):
    with pytest.raises(ValueError, match=message):
        run(**kwargs)


def test_bad_families_and_callbacks_are_caught():
    with pytest.raises(ValueError, match="family must have fit, evaluate and sample"):
        run_experiment(REAL, object(), policies=["replace"], seeds=[0], n_iterations=2)
    fam = GaussianFamily()
    fam.sample = lambda model, n, ctx: np.zeros(n - 1)
    with pytest.raises(ValueError, match="sample must return exactly n = 20"):
        run_experiment(REAL, fam, policies=["replace"], seeds=[0], n_iterations=2)
    fam = GaussianFamily()
    fam.evaluate = lambda model, ctx: {}
    with pytest.raises(TypeError, match="evaluate must return a non-empty dict"):
        run_experiment(REAL, fam, policies=["replace"], seeds=[0], n_iterations=2)
    with pytest.raises(ValueError, match="real_train must hold at least one item"):
        run_experiment(np.zeros(0), GaussianFamily(), policies=["replace"], seeds=[0], n_iterations=2)


def test_progress_goes_to_stderr_only_when_enabled(monkeypatch, capsys):
    monkeypatch.setenv("COLLAPSE_PROGRESS", "1")
    run(policies=["replace"], n_iterations=2, label="gauss")
    out = capsys.readouterr()
    assert out.out == "" and "[gauss] all policies seed 1 iteration 1/2" in out.err
    monkeypatch.setenv("COLLAPSE_PROGRESS", "0")
    run(policies=["replace"], n_iterations=2)
    assert capsys.readouterr().err == ""
