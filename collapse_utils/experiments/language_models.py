"""The language-model chapter's experiment: decoders trained on their own stories (Gerstgrasser et al. 2024, §3).

A :class:`Job` names one model, one sampling temperature, the policies and the seeds; :func:`run` trains them through
the feedback loop and returns tidy records (one row per policy, seed and iteration) with the test cross-entropy on
real stories, the excess loss over the synthetic language's true law, and diversity statistics of stories the model
writes at temperature 1 (the same temperature for every run, so that diversity is comparable across runs).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from collapse_utils.data.corpus import StoryCorpus, load_corpus
from collapse_utils.loop import LoopResult, run_experiment
from collapse_utils.models.common import count_parameters
from collapse_utils.models.lm import DecoderFamily, LMRecipe, sample_lm
from collapse_utils.models.transformer import Decoder, decoder_config
from collapse_utils.text_metrics import story_stats

CHAPTER = "language-models"
LABELS = {"gpt2-d64": "GPT-2-style d=64", "llama-d96": "Llama-style d=96", "gpt2-9m": "GPT-2 9M",
          "llama2-12m": "Llama-2 12M", "llama2-42m": "Llama-2 42M", "llama2-126m": "Llama-2 126M"}
"""How the page names each model of :mod:`collapse_utils.models.transformer`."""
N_SHOWN = 3
"""Stories kept per evaluation for the page (the first of the diversity draws)."""


@dataclass(frozen=True)
class Job:
    """One model trained under some policies and seeds (hashable: the unit of work of :mod:`collapse_utils.jobs`)."""

    model: str  # a name of collapse_utils.models.transformer's configs, e.g. "gpt2-d64"
    policies: tuple[str, ...]
    seeds: tuple[int, ...]
    temperature: float = 1.0  # of the synthetic stories each model passes on
    corpus: str = "synthetic"
    n_train: int = 600
    n_test: int = 500
    n_iterations: int = 5
    lr: float = 6e-3
    batch_size: int = 4
    n_diversity: int = 100  # stories drawn at every evaluation for the diversity statistics (0: none)
    data_seed: int = 0  # the corpus (the same for every job of a chapter)


@functools.lru_cache(maxsize=4)
def corpus_for(name: str, n_train: int, n_test: int, data_seed: int, max_len: int) -> StoryCorpus:
    """The chapter's corpus, loaded once per process."""
    return load_corpus(name, n_train=n_train, n_test=n_test, seed=data_seed, max_len=max_len)


def job_corpus(job: Job) -> StoryCorpus:
    return corpus_for(job.corpus, job.n_train, job.n_test, job.data_seed, decoder_config(job.model).max_len)


@dataclass
class StoryFamily(DecoderFamily):
    """:class:`DecoderFamily` whose evaluation adds the excess loss and diversity statistics (see the module)."""

    corpus: StoryCorpus = None
    n_diversity: int = 200
    true_nll_test: float = float("nan")  # exact -log p of the test stories under the grammar (nan: law unknown)

    def evaluate(self, model, ctx) -> dict[str, float]:
        metrics = super().evaluate(model, ctx)
        if self.corpus.grammar is not None:
            metrics["excess"] = (metrics["total_nll"] - self.true_nll_test) / metrics["n_tokens"]
        if not self.n_diversity:
            return metrics
        drawn = sample_lm(model, self.n_diversity, ctx.rng("evaluate"), temperature=1.0)
        law = ({"true_nll": self.corpus.true_nll, "valid_words": self.corpus.valid_words}
               if self.corpus.grammar is not None else {})
        return {**metrics, **story_stats(drawn, eos_id=self.config.eos_id, **law)}

    def illustrate(self, model, ctx) -> list[str]:
        drawn = sample_lm(model, N_SHOWN, ctx.rng("evaluate"), temperature=1.0)
        return [self.corpus.decode(s) for s in drawn]


def family(job: Job) -> StoryFamily:
    corpus = job_corpus(job)
    config = decoder_config(job.model, vocab_size=corpus.tokenizer.vocab_size, eos_id=corpus.tokenizer.eos_id)
    true_nll = float(corpus.true_nll(corpus.test).sum()) if corpus.grammar is not None else float("nan")
    return StoryFamily(config, LMRecipe(lr=job.lr, batch_size=job.batch_size), corpus.test,
                       temperature=job.temperature, corpus=corpus, n_diversity=job.n_diversity,
                       true_nll_test=true_nll)


def model_size(job: Job) -> int:
    """Parameters of ``job``'s model on the chapter's vocabulary (built on the meta device: no memory)."""
    corpus = job_corpus(job)
    with torch.device("meta"):
        return count_parameters(Decoder(decoder_config(job.model, vocab_size=corpus.tokenizer.vocab_size,
                                                       eos_id=corpus.tokenizer.eos_id)))


def run(job: Job) -> LoopResult:
    """Train ``job``'s model under its policies and seeds; records carry ``model`` and ``temperature`` columns."""
    corpus = job_corpus(job)
    result = run_experiment(corpus.train, family(job), policies=job.policies, seeds=job.seeds,
                            n_iterations=job.n_iterations, label=f"{job.model} T={job.temperature:g}")
    result.records = result.records.assign(model=job.model, temperature=job.temperature)
    return result


def chapter_jobs(settings: dict) -> list[Job]:
    """The jobs of the chapter at one profile (``config.CHAPTER_SETTINGS["language-models"][profile]``)."""
    common = {k: settings[k] for k in ("corpus", "n_train", "n_test", "n_iterations", "lr", "batch_size")}
    jobs = [Job(name, tuple(policies), tuple(settings["seeds"]), n_diversity=settings["n_diversity"] if diverse else 0,
                **common) for name, policies, diverse in settings["models"]]
    cold_model, cold_temperature = settings["cold"]
    jobs.append(Job(cold_model, ("replace", "accumulate"), tuple(settings["seeds"]), temperature=cold_temperature,
                    n_diversity=settings["n_diversity"], **common))
    return jobs
