"""The diffusion chapter's experiment: an EGNN denoiser trained on its own conformers (Gerstgrasser et al. 2024).

A :class:`Job` names the policies, the seeds and the recipe; :func:`run` trains them through the feedback loop on RDKit
conformers of sixteen drug-like molecules and returns tidy records (one row per policy, seed and iteration) with the
held-out denoising loss and its local and global parts (GeoDiff's two losses; the paper's metric is the local one),
averaged over noise levels and per level, and GeoDiff's metrics of the conformers each model
generates, compared with the real held-out ones: COV-R and MAT-R (recall), COV-P and MAT-P (precision), the
bond-length distance and the size of the generated conformers.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from collapse_utils.conformer_metrics import conformer_metrics
from collapse_utils.data.conformers import ConformerRecipe, ConformerSet, load_conformers
from collapse_utils.loop import LoopResult, run_experiment
from collapse_utils.models.diffusion import (
    AUTHORS_BETA_END,
    AUTHORS_STEPS,
    DiffusionFamily,
    DiffusionRecipe,
    NoNoise,
    losses_by_level,
)

CHAPTER = "diffusion-conformers"


@dataclass(frozen=True)
class Job:
    """Policies and seeds of one diffusion recipe (hashable: the unit of work of :mod:`collapse_utils.jobs`).

    The schedule is the accumulate paper's by default: its sigmoid betas from 1e-7 to ``beta_end`` over
    ``base_steps`` steps, of which ``n_steps`` are kept (``spacing`` ``"respace"``: the first and last noise levels
    are the paper's; ``"rescale"``: the book's earlier squeeze of the beta range). The test loss is scored at
    ``n_levels`` steps spread over the schedule and the ``n_fine`` smallest ones
    (:func:`~collapse_utils.models.diffusion.evaluation_steps`).
    """

    policies: tuple[str, ...]
    seeds: tuple[int, ...]
    n_train_per_mol: int = 10
    epochs: int = 15
    n_steps: int = 30
    n_iterations: int = 6
    beta_end: float = AUTHORS_BETA_END
    base_steps: int = AUTHORS_STEPS
    spacing: str = "respace"
    n_levels: int = 10
    n_fine: int = 3

    def recipe(self) -> DiffusionRecipe:
        return DiffusionRecipe(n_steps=self.n_steps, epochs=self.epochs, beta_end=self.beta_end,
                               match_steps=self.base_steps, spacing=self.spacing)


@functools.lru_cache(maxsize=2)
def conformers(n_train_per_mol: int) -> ConformerSet:
    """The chapter's conformer ensembles (built once per process, cached on disk by the data module)."""
    return load_conformers(ConformerRecipe(n_train=n_train_per_mol))


def radius(confs) -> float:
    """Mean root-mean-square distance of the atoms from the centre of their (centred) conformer, in Å."""
    return float(np.mean([np.sqrt((np.asarray(c.coords) ** 2).sum(axis=1).mean()) for c in confs]))


def generated_metrics(data: ConformerSet, generated) -> dict[str, float]:
    """GeoDiff's COV/MAT against the real held-out conformers, the bond-length distance and the size."""
    return {**conformer_metrics(data.graphs, generated, data.test), "radius": radius(generated)}


def run(job: Job) -> LoopResult:
    """Train the denoisers of ``job``; each record carries the metrics of what that model generated (the last model
    is sampled once for them too). ``samples`` of the result hold the generated conformers."""
    data = conformers(job.n_train_per_mol)
    family = DiffusionFamily(data.graphs, job.recipe(), data.train, data.test, n_levels=job.n_levels,
                             n_fine=job.n_fine)
    result = run_experiment(data.train, family, policies=job.policies, seeds=job.seeds, n_iterations=job.n_iterations,
                            keep_samples=True, sample_last=True, label="diffusion")
    scored = pd.DataFrame([{"policy": p, "seed": s, "iteration": i, **generated_metrics(data, confs)}
                           for (p, s, i), confs in result.samples.items()])
    result.records = result.records.merge(scored, on=["policy", "seed", "iteration"], validate="one_to_one")
    return result


def null_losses(job: Job) -> pd.DataFrame:
    """The test loss and its parts (columns) at each evaluation step (index) of a network that predicts no noise,
    on the chapter's held-out conformers: the level a model that learned nothing scores."""
    data = conformers(job.n_train_per_mol)
    steps, parts = losses_by_level(NoNoise(), data.test, graphs=data.graphs, recipe=job.recipe(),
                                   n_levels=job.n_levels, n_fine=job.n_fine)
    return pd.DataFrame(parts, index=pd.Index(steps.astype(int), name="step"))


def longer_training(job: Job, factor: int = 4, n_iterations: int = 3) -> Job:
    """The page's extra run: ``job``'s recipe and seeds with ``factor`` times the epochs, replace and accumulate
    only, ``n_iterations`` fits (run once with ``python -m collapse_utils``-style :func:`collapse_utils.jobs.run`,
    its per-seed tables committed under ``notebooks/results/extra/``)."""
    return dataclasses.replace(job, policies=("replace", "accumulate"), epochs=factor * job.epochs,
                               n_iterations=n_iterations)


def chapter_jobs(settings: dict) -> list[Job]:
    """The chapter's job at one profile (``config.CHAPTER_SETTINGS["diffusion-conformers"][profile]``)."""
    names = ("n_train_per_mol", "epochs", "n_steps", "n_iterations", "beta_end", "base_steps", "spacing", "n_levels",
             "n_fine")
    given = {k: settings[k] for k in names if k in settings}
    return [Job(tuple(settings["policies"]), tuple(settings["seeds"]), **given)]
