"""The language-model chapter's page (``notebooks/language_models.ipynb``): figures, tables, glued numbers, claims.

The records are the chapter's tidy results with the page's model names (:func:`labelled_records`): one row per model,
temperature, policy, seed and iteration. ``main`` means the runs whose synthetic stories were sampled at temperature 1,
``cold`` the temperature ablation's. The first model of ``main`` is the small one, the only one that ran every policy,
wrote stories for the diversity statistics and was repeated at the low temperature.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd

from collapse_utils import chapter, checks, plotting, stored
from collapse_utils.chapter import Row
from collapse_utils.data.story_grammar import entropy_per_token
from collapse_utils.text_metrics import story_stats

CE = "cross_entropy"
ITERATION = "model-fitting iteration"
DIVERSITY = {"distinct_3": "distinct word triples", "vocab_used": "vocabulary in use (words)",
             "mean_length": "mean story length (tokens)", "valid_words": "words before the first error"}
"""The diversity statistics the page shows (``valid_words`` only where the law is known), with their labels."""
SHOWN = (("replace", 1), ("replace", None), ("replace-multiple", None), ("accumulate", None))
"""The stories printed on the page: (policy, iteration), None for the last iteration."""
STORED_BY = ["model", "temperature", "policy", "iteration"]
STORED_METRICS = ["cross_entropy", "excess", "distinct_3", "vocab_used", "mean_length", "valid_words"]


def _glue(numbers: dict[str, str]) -> None:
    """Glue each text under its name for the prose (``{glue:text}`` roles); nothing shows in the output."""
    from myst_nb import glue

    for name, value in numbers.items():
        glue(name, value, display=False)


def _last(records: pd.DataFrame) -> int:
    return int(records["iteration"].max())


def _models(records: pd.DataFrame) -> list[str]:
    return list(records["model"].unique())


# -------------------------------------------------------------------------------------------------------------------
# The corpus, its known law and the models
# -------------------------------------------------------------------------------------------------------------------


def corpus_summary(corpus) -> str:
    """The corpus in one line (stories, vocabulary, tokens per test story) and its first two training stories."""
    n_test_tokens = sum(len(s) for s in corpus.test)
    head = (f"corpus {corpus.name!r}: {len(corpus.train)} training and {len(corpus.test)} test stories, vocabulary "
            f"{corpus.tokenizer.vocab_size} tokens, {n_test_tokens / len(corpus.test):.1f} tokens per test story")
    return "\n\n".join([head, *(textwrap.fill(text, 88) for text in corpus.train_texts[:2])])


@dataclass(frozen=True)
class KnownLaw:
    """What the synthetic language's known law gives the page (nats per token)."""

    entropy: float  # Monte-Carlo mean of exact log-probabilities of sampled stories
    entropy_se: float
    n_stories: int  # stories the entropy is estimated from
    floor: float  # the true law's cross-entropy on the test stories: no model can do better on average
    uniform: float  # a uniform guess over the vocabulary


def known_law(corpus, n_stories: int = 10_000) -> KnownLaw | None:
    """The entropy per token (from ``n_stories`` samples), the test floor and the uniform guess; None for a corpus
    whose law is unknown (TinyStories)."""
    if corpus.grammar is None:
        return None
    stream = np.random.default_rng(np.random.SeedSequence(0, spawn_key=(2,)))
    entropy = entropy_per_token(corpus.grammar.sample(n_stories, stream), corpus.grammar, corpus.tokenizer)
    floor = float(corpus.true_nll(corpus.test).sum()) / sum(len(s) for s in corpus.test)
    return KnownLaw(entropy.per_token, entropy.se, n_stories, floor, float(np.log(corpus.tokenizer.vocab_size)))


def glue_known_law(law: KnownLaw) -> str:
    """Glue the known law's numbers (``entropy``, ``test_floor``, ``uniform``) and return the lines the page prints."""
    _glue({"entropy": f"{law.entropy:.3f} ± {law.entropy_se:.3f}", "test_floor": f"{law.floor:.3f}",
           "uniform": f"{law.uniform:.2f}"})
    return (f"true entropy per token ({law.n_stories:,} stories): {law.entropy:.4f} ± {law.entropy_se:.4f} nats\n"
            f"true NLL per token of the test set: {law.floor:.4f} nats\n"
            f"uniform guess: {law.uniform:.3f} nats")


def paper_models_table(configs: dict, built: dict[str, int], paper: dict[str, int]) -> chapter.MarkdownTable:
    """The paper's model configurations with the parameter counts of the models built from them and the paper's.

    Parameters
    ----------
    configs
        Model name to its ``DecoderConfig`` (family, d_model, n_layer, n_head, d_mlp).
    built, paper
        Model name to its parameter count, as built and as published.
    """
    frame = pd.DataFrame([{"model": name, "family": cfg.family, "width": cfg.d_model, "layers": cfg.n_layer,
                           "heads (inferred)": cfg.n_head, "MLP": cfg.d_mlp, "parameters (built)": built[name],
                           "parameters (paper)": paper[name]} for name, cfg in configs.items()])
    return chapter.markdown_table(frame.map(lambda v: f"{v:,}" if isinstance(v, int) else v), index=False)


def jobs_table(jobs, labels: dict[str, str], size) -> chapter.MarkdownTable:
    """One row per job: its model (named by ``labels``, sized by ``size(job)``), policies, temperature and recipe."""
    return chapter.markdown_table(pd.DataFrame([
        {"model": labels[j.model], "parameters": f"{size(j):,}", "policies": ", ".join(j.policies),
         "sample temperature": j.temperature, "seeds": len(j.seeds), "stories": j.n_train, "batch": j.batch_size,
         "peak lr": j.lr} for j in jobs]), index=False)


def labelled_records(runs: dict, labels: dict[str, str]) -> pd.DataFrame:
    """The records of every run in one table, each model named as the page names it (``labels``)."""
    records = pd.concat([r.records for r in runs.values()], ignore_index=True)
    records["model"] = records["model"].map(labels)
    return records


# -------------------------------------------------------------------------------------------------------------------
# Test loss
# -------------------------------------------------------------------------------------------------------------------


def loss_figure(main: pd.DataFrame, law: KnownLaw | None):
    """Test cross-entropy per iteration, one panel per model, one seed band per policy (dotted: the law's floor)."""
    last = _last(main)
    fig, axes = plotting.panels(1, len(_models(main)), height=3.2, sharey=True)
    for ax, model in zip(axes[0], _models(main), strict=True):
        rows = main[main["model"] == model]
        plotting.policy_seed_bands(ax, rows, CE, rows["policy"].unique())
        if law is not None:
            ax.axhline(law.floor, color="0.4", linestyle=":", linewidth=1, label="true law")
        ax.set(title=model, xlabel=ITERATION, xticks=range(1, last + 1))
    axes[0, 0].set_ylabel("test cross-entropy (nats/token)")
    axes[0, 0].legend()
    return fig


def loss_change_table(main: pd.DataFrame, law: KnownLaw | None) -> chapter.MarkdownTable:
    """Test cross-entropy at the first and last iteration and its change per model and policy; where the law is
    known, also the ratio of the last model's excess loss to the first's."""
    table = chapter.change_table(main, CE, ["model", "policy"])
    if law is not None:
        table[f"excess loss, it. {_last(main)} / it. 1"] = [
            chapter.fmt_mean_se(chapter.change(main, "excess", model=m, policy=p) + 1) for m, p in table.index]
    return chapter.markdown_table(table)


def change_numbers(main: pd.DataFrame) -> dict[str, str]:
    """The change of the test loss by the last iteration, ``change_<model index>_<policy>`` per run (percent)."""
    return {f"change_{i}_{policy}": chapter.fmt_mean_se(chapter.change(main, CE, model=model, policy=policy),
                                                         percent=True, signed=True)
            for i, model in enumerate(_models(main)) for policy in main[main["model"] == model]["policy"].unique()}


def glue_changes(main: pd.DataFrame) -> None:
    """Glue :func:`change_numbers` for the prose."""
    _glue(change_numbers(main))


# -------------------------------------------------------------------------------------------------------------------
# What the models write
# -------------------------------------------------------------------------------------------------------------------


def shown_stories(illustrations: dict, seed: int, grammar=None) -> str:
    """The first story of each of :data:`SHOWN` for ``seed``, wrapped, each marked when it is a story of the language.

    ``illustrations`` maps (policy, seed, iteration) to the stories a model wrote; ``grammar`` (None: law unknown)
    judges whether a story is in the language.
    """
    last = max(it for _, _, it in illustrations)
    blocks = []
    for policy, it in SHOWN:
        it = last if it is None else it
        story = illustrations[(policy, seed, it)][0]
        head = "iteration 1 (every policy)" if it == 1 else f"{policy}, iteration {it}"
        if grammar is not None and np.isfinite(grammar.log_prob(story)):
            head += " [a story of the language]"
        blocks.append(f"--- {head}\n{textwrap.fill(story, 88)}\n")
    return "\n".join(blocks)


def real_story_stats(corpus, n: int) -> dict[str, float]:
    """The diversity statistics of the first ``n`` real test stories (with the law's where it is known)."""
    law = ({"true_nll": corpus.true_nll, "valid_words": corpus.valid_words} if corpus.grammar is not None else {})
    return story_stats(corpus.test[:n], eos_id=corpus.tokenizer.eos_id, **law)


def _diversity(real: dict[str, float]) -> dict[str, str]:
    return {metric: name for metric, name in DIVERSITY.items() if metric in real}


def diversity_figure(main: pd.DataFrame, real: dict[str, float], policies):
    """The small model's diversity statistics per iteration, one panel each, one seed band per policy (dotted: the
    real stories')."""
    last, metrics = _last(main), _diversity(real)
    fig, axes = plotting.panels(2, 2, height=2.8, sharex=True)
    rows = main[main["model"] == _models(main)[0]]
    for ax, (metric, name) in zip(axes.flat, metrics.items(), strict=False):
        plotting.policy_seed_bands(ax, rows, metric, policies)
        ax.axhline(real[metric], color="0.3", linestyle=":", label="real stories")
        ax.set(ylabel=name, xticks=range(1, last + 1))
    for ax in axes[-1]:
        ax.set_xlabel(ITERATION)
    axes[0, 0].legend()
    return fig


def diversity_table(main: pd.DataFrame, real: dict[str, float], policies) -> pd.DataFrame:
    """The small model's diversity statistics at the last iteration per policy, the real stories' and the first
    model's (formatted: mean ± s.e. over seeds)."""
    last, metrics = _last(main), _diversity(real)
    rows = main[main["model"] == _models(main)[0]]
    table = pd.DataFrame({name: {p: chapter.fmt_seeds(rows, metric, policy=p, iteration=last) for p in policies}
                          for metric, name in metrics.items()})
    table.loc["real test stories"] = [f"{real[m]:.3g}" for m in metrics]
    table.loc["iteration 1"] = [chapter.fmt_seeds(rows, m, policy="replace", iteration=1) for m in metrics]
    return table.rename_axis(f"iteration {last}")


def glue_diversity_table(main: pd.DataFrame, real: dict[str, float], policies) -> chapter.MarkdownTable:
    """Glue the words read before the first error (first model, last replace and accumulate models) where the law is
    known, and return :func:`diversity_table` for the page."""
    table = diversity_table(main, real, policies)
    if "valid_words" in real:
        column = DIVERSITY["valid_words"]
        _glue({"valid_words_first": table.loc["iteration 1", column],
               **{f"valid_words_{p}": table.loc[p, column] for p in ("replace", "accumulate")}})
    return chapter.markdown_table(table)


# -------------------------------------------------------------------------------------------------------------------
# Sampling at temperature 0.3
# -------------------------------------------------------------------------------------------------------------------


def temperature_figure(records: pd.DataFrame, law: KnownLaw | None):
    """The small model under replace and accumulate, synthetic stories at temperature 1 (solid) and 0.3 (dashed):
    test cross-entropy (log scale; dotted: the uniform guess) and distinct word triples."""
    small = records[records["temperature"] == 1.0]["model"].iloc[0]
    small_runs, last = records[records["model"] == small], _last(records)
    fig, axes = plotting.panels(1, 2, height=3.2)
    panels = {CE: "test cross-entropy (nats/token)", "distinct_3": DIVERSITY["distinct_3"]}
    for ax, (metric, name) in zip(axes[0], panels.items(), strict=True):
        for temperature, line in ((1.0, "-"), (0.3, "--")):
            plotting.policy_seed_bands(ax, small_runs[small_runs["temperature"] == temperature], metric,
                                       ["replace", "accumulate"], linestyle=line, label_suffix=f", T = {temperature:g}")
        ax.set(ylabel=name, xlabel=ITERATION, xticks=range(1, last + 1))
    if law is not None:
        axes[0, 0].axhline(law.uniform, color="0.4", linestyle=":", label="uniform guess")
    axes[0, 0].set_yscale("log")
    axes[0, 0].legend()
    return fig


def glue_cold_table(cold: pd.DataFrame) -> chapter.MarkdownTable:
    """Glue replace's last test loss at the low temperature (``cold_last_replace``); return the change table."""
    _glue({"cold_last_replace": chapter.fmt_seeds(cold, CE, policy="replace", iteration=_last(cold))})
    return chapter.markdown_table(chapter.change_table(cold, CE, ["model", "policy"]))


# -------------------------------------------------------------------------------------------------------------------
# Checks
# -------------------------------------------------------------------------------------------------------------------


def _lengths(main: pd.DataFrame, policy: str, iteration: int) -> np.ndarray:
    """The small model's mean story length per seed."""
    return chapter.per_seed(main, "mean_length", model=_models(main)[0], policy=policy, iteration=iteration)


def fit_noise(main: pd.DataFrame, metric: str, model: str) -> float:
    """The noise of one fit: the seeds' standard deviation of ``metric`` for the first model of ``model``
    (iteration 1, the same model under every policy)."""
    return float(chapter.per_seed(main, metric, model=model, policy="accumulate", iteration=1).std(ddof=1))


def asserted_claims(main: pd.DataFrame, cold: pd.DataFrame, law: KnownLaw | None) -> checks.Claims:
    """The page's claims (every seed, at least three times the noise of one fit): replace rises at every iteration
    and ends above accumulate for every model, and at least doubles the excess loss where the law is known; the small
    model's accumulate stays within 5% and accumulate-subsample and replace-multiple end between accumulate and
    replace; at temperature 0.3 replace rises at every iteration and ends above accumulate; where the law is known,
    replace's stories hold fewer words before the first error than accumulate's. Call ``assert_all`` on the result."""
    claims, last = checks.Claims(n_se=3, noise_floor=True), _last(main)
    models = _models(main)
    small = models[0]
    for m in models:
        noise = fit_noise(main, CE, m)
        chapter.claim_rises(claims, main, CE, f"{m}, replace", noise=noise, model=m, policy="replace")
        chapter.claim_order(claims, main, CE, ["accumulate", "replace"], m, noise=noise, model=m)
        if law is not None:
            claims.greater(f"{m}: replace's excess loss at least doubles",
                           chapter.per_seed(main, "excess", model=m, policy="replace", iteration=last),
                           2 * chapter.per_seed(main, "excess", model=m, policy="replace", iteration=1), noise=noise)
    noise = fit_noise(main, CE, small)
    chapter.claim_within(claims, main, CE, "accumulate", 0.05, small, noise=noise, model=small)
    for middle in ("accumulate-subsample", "replace-multiple"):
        chapter.claim_order(claims, main, CE, ["accumulate", middle, "replace"], small, noise=noise, model=small)
    chapter.claim_rises(claims, cold, CE, f"{small}, T = 0.3, replace", noise=noise, policy="replace")
    chapter.claim_order(claims, cold, CE, ["accumulate", "replace"], f"{small}, T = 0.3", noise=noise)
    if law is not None:
        chapter.claim_order(claims, main, "valid_words", ["replace", "accumulate"],
                            f"{small}, words before an error", noise=fit_noise(main, "valid_words", small),
                            model=small)
    return claims


def length_gap_z(main: pd.DataFrame) -> float:
    """How many standard errors the small model's accumulate stories end longer than replace's (paired by seed)."""
    last = _last(main)
    gap = _lengths(main, "accumulate", last) - _lengths(main, "replace", last)
    return float(gap.mean() / (gap.std(ddof=1) / np.sqrt(len(gap))))


def glue_length_gap_z(main: pd.DataFrame) -> None:
    """Glue :func:`length_gap_z` (``length_z``) for the prose, which says why it is not asserted."""
    _glue({"length_z": f"{length_gap_z(main):.1f}"})


def reported_claims(main: pd.DataFrame, cold: pd.DataFrame) -> checks.Claims:
    """Claims shown but not asserted (they do not meet the rule): the Llama-style model's accumulate stays within 5%,
    and the small model's replace stories end shorter than its first model's."""
    reported, last = checks.Claims(n_se=3, noise_floor=True), _last(main)
    small, large = _models(main)[0], _models(main)[-1]
    chapter.claim_within(reported, main, CE, "accumulate", 0.05, large, noise=fit_noise(main, CE, large),
                         model=large)
    reported.less(f"{small}: replace's stories are shorter at iteration {last} than at 1",
                  _lengths(main, "replace", last), _lengths(main, "replace", 1),
                  noise=fit_noise(main, "mean_length", small))
    return reported


def check_against_stored(records: pd.DataFrame, directory=None) -> pd.DataFrame:
    """:func:`collapse_utils.stored.check_against_stored` on the chapter's per-seed table (``language_models``)."""
    return stored.check_against_stored("language_models", records, by=STORED_BY, metrics=STORED_METRICS,
                                       directory=directory)


# -------------------------------------------------------------------------------------------------------------------
# Paper vs this book
# -------------------------------------------------------------------------------------------------------------------


def _changes(rows: pd.DataFrame, policy: str, metric: str = CE, shift: float = 0.0) -> str:
    """The change of ``policy`` for each model that ran it (mean ± s.e. over seeds): in percent, or (with
    ``shift``) the ratio minus one plus ``shift``."""
    ran = [m for m in rows["model"].unique() if policy in set(rows[rows["model"] == m]["policy"])]
    return ", ".join(chapter.fmt_mean_se(chapter.change(rows, metric, model=m, policy=policy) + shift,
                                         percent=not shift, signed=not shift) for m in ran)


def paper_rows(main: pd.DataFrame, cold: pd.DataFrame, law: KnownLaw | None) -> list[Row]:
    """The "paper vs this book" rows: replace's and accumulate's changes against the paper's figure, the follow-up's
    accumulate-subsample, replace-multiple and the temperature ablation, and (law known) the excess-loss ratio."""
    rows = [
        Row("replace: change of the test loss by iteration 5", "+37% to +40% (four models)", "figure",
            _changes(main, "replace"), "direction only", "faster: far smaller models and data"),
        Row("replace rises at every iteration", "yes, every model", "figure", "yes, every seed and model",
            "reproduced"),
        Row("accumulate does not degrade", "falls, then flattens", "figure",
            _changes(main, "accumulate") + ": flat within a few percent", "reproduced",
            "asserted within 5% for the GPT-2-style model"),
        Row("accumulate improves on the first model", "−4% to −8%", "figure", _changes(main, "accumulate"),
            "not reproduced", "our pools are mostly written by weak models"),
        Row("accumulate-subsample: change by iteration 5", "+9% (Llama-2 12M)", "follow-up",
            _changes(main, "accumulate-subsample"), "direction only"),
        Row("replace-multiple (as much data as accumulate)", "an ablation the authors name; numbers not restated",
            "reported", _changes(main, "replace-multiple") + ": between accumulate and replace", "beyond the paper"),
        Row("temperature 0.3: replace / accumulate by iteration 5", "an ablation the authors name", "reported",
            _changes(cold, "replace") + " / " + _changes(cold, "accumulate"), "beyond the paper"),
    ]
    if law is not None:
        rows.append(Row("excess loss over the true law, replace, it. 5 / it. 1", "", "none",
                        "×" + _changes(main, "replace", metric="excess", shift=1.0), "beyond the paper"))
    return rows


def glue_first_excess(main: pd.DataFrame) -> None:
    """Glue the first models' excess loss (``excess_first``: each model's, joined by "and") for the departures."""
    _glue({"excess_first": " and ".join(chapter.fmt_seeds(main, "excess", model=m, policy="replace", iteration=1)
                                        for m in _models(main))})
