"""The `full` profile must at least start: every full-size configuration is built and takes one optimization step and
draws one sample on the CPU, with tiny data, so that a shape or memory error shows up here and not on a rented GPU.
(``bench/full_profile.py`` measures how long the real thing takes.)"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import collapse_utils  # noqa: F401 -- thread settings first
from collapse_utils import config

torch = pytest.importorskip("torch")

from molecule_standins import Conf, graph  # noqa: E402

from collapse_utils.experiments import diffusion_conformers, language_models, vae_mnist  # noqa: E402
from collapse_utils.models.diffusion import fit_diffusion, sample_conformers  # noqa: E402
from collapse_utils.models.lm import LMRecipe, fit_lm, sample_lm  # noqa: E402
from collapse_utils.models.transformer import decoder_config  # noqa: E402
from collapse_utils.models.vae import N_PIXELS, VAERecipe, fit_vae, sample_vae  # noqa: E402

FULL = {name: config.scale_settings(name, "full") for name in ("language-models", "vae-mnist", "diffusion-conformers")}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    config.set_threads(1)


def test_every_full_job_is_a_valid_config():
    lm_jobs = language_models.chapter_jobs(FULL["language-models"])
    assert {j.model for j in lm_jobs} == {"gpt2-9m", "llama2-12m", "llama2-42m"}
    assert all(j.corpus == "auto" and j.n_train == 100_000 for j in lm_jobs)
    main, ablation = vae_mnist.chapter_jobs(FULL["vae-mnist"])
    assert main.n_iterations == 10 and main.epochs == 40 and len(ablation) == 3
    (diffusion,) = diffusion_conformers.chapter_jobs(FULL["diffusion-conformers"])
    assert diffusion.recipe().n_steps == 200 and diffusion.recipe().noise_schedule().betas.shape == (200,)


@pytest.mark.parametrize("name", sorted({j.model for j in language_models.chapter_jobs(FULL["language-models"])}))
def test_full_language_models_take_a_step_and_sample(name):
    settings = FULL["language-models"]
    cfg = decoder_config(name, vocab_size=8000, eos_id=0)  # the paper's vocabulary and 2,048 positions
    g = np.random.default_rng(0)
    stories = [np.append(g.integers(1, 8000, size=40), 0) for _ in range(2)]
    recipe = LMRecipe(lr=settings["lr"], batch_size=settings["batch_size"])
    model = fit_lm(stories, g, config=cfg, recipe=recipe)  # two stories, one batch: one optimizer step
    drawn = sample_lm(model, 1, g, max_len=8)
    assert len(drawn) == 1 and 1 <= len(drawn[0]) <= 8 and drawn[0][-1] == 0


def test_the_full_vae_takes_a_step_and_samples():
    settings = FULL["vae-mnist"]
    recipe = dataclasses.replace(VAERecipe(epochs=settings["epochs"]), epochs=1)
    images = np.random.default_rng(0).random((8, N_PIXELS))
    model = fit_vae(images, np.random.default_rng(1), recipe)
    assert sample_vae(model, 2, np.random.default_rng(2)).shape == (2, N_PIXELS)


def test_the_full_diffusion_takes_a_step_and_samples_with_200_steps():
    (job,) = diffusion_conformers.chapter_jobs(FULL["diffusion-conformers"])
    recipe = dataclasses.replace(job.recipe(), epochs=1)
    graphs = [graph([0, 0, 1, 0], [(0, 1), (1, 2), (2, 3)], [0, 0, 0])]
    confs = [Conf(0, np.random.default_rng(k).normal(size=(4, 3))) for k in range(4)]
    model = fit_diffusion(confs, np.random.default_rng(0), graphs=graphs, recipe=recipe)
    (out,) = sample_conformers(model, [0], np.random.default_rng(1), graphs=graphs, recipe=recipe, conformer_cls=Conf)
    assert out.coords.shape == (4, 3) and np.all(np.isfinite(out.coords))
