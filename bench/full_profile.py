"""What the `full` profile costs on this CPU: seconds per optimizer step and per sampling step at the papers' sizes,
and the CPU-hours of the whole profile that follow (prints; asserts nothing).

    .venv/bin/python bench/full_profile.py [--steps 3]

For every chapter that trains torch models, the full-size model of ``config.CHAPTER_SETTINGS[<chapter>]["full"]`` is
built and timed on random data of the full shapes (one thread, after one warm-up step). The number of steps of the
whole profile is counted from the settings: fits per policy and iteration (accumulate and replace-multiple train on
i times the data at iteration i; iteration 1 is shared by the policies), optimizer steps per fit, sampling steps per
synthetic set. The estimate ignores evaluation and data loading, so it is a lower bound; a GPU is typically 30-100x
faster for the language models.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import collapse_utils  # noqa: F401 -- thread settings first
from collapse_utils import config
from collapse_utils.experiments import diffusion_conformers, vae_mnist
from collapse_utils.models.common import count_parameters
from collapse_utils.models.egnn import EGNN, make_batch
from collapse_utils.models.lm import LMRecipe, init_model, make_optimizer
from collapse_utils.models.transformer import decoder_config
from collapse_utils.models.vae import N_PIXELS, VAE

STORY_TOKENS = 200
"""Tokens of a typical TinyStories story under an 8,000-token BPE (the full profile's corpus)."""


def fits(policies, n_iterations: int) -> float:
    """Fits of one seed, in units of one pass over the real data's size (iteration 1 shared by the policies)."""
    per_policy = {"replace": n_iterations - 1, "accumulate-subsample": n_iterations - 1,
                  "accumulate": sum(range(2, n_iterations + 1)), "replace-multiple": sum(range(2, n_iterations + 1))}
    return 1 + sum(per_policy[p] for p in policies)


def samples(policies, n_iterations: int) -> float:
    """Synthetic sets drawn per seed, in units of the real data's size."""
    per_policy = {"replace": n_iterations - 1, "accumulate-subsample": n_iterations - 1,
                  "accumulate": n_iterations - 1, "replace-multiple": sum(range(2, n_iterations + 1))}
    return sum(per_policy[p] for p in policies)


def timed(step, n: int) -> float:
    step()
    start = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - start) / n


def time_decoder(name: str, settings: dict, n: int, cache_batch: int = 64) -> tuple[float, float, int]:
    """Seconds per optimizer step (a batch of full stories) and per decoding step (one token for ``cache_batch``
    stories, with the key-value cache) of the decoder ``name``, and its parameter count."""
    model = init_model(decoder_config(name, vocab_size=8000, eos_id=0), 0)
    opt = make_optimizer(model, LMRecipe(lr=settings["lr"], batch_size=settings["batch_size"]))
    x = torch.randint(1, 8000, (settings["batch_size"], STORY_TOKENS))

    def train_step():
        loss = torch.nn.functional.cross_entropy(model(x).flatten(0, 1), x.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()

    with torch.inference_mode():
        cache = model.new_cache(cache_batch, STORY_TOKENS)
        model(torch.randint(1, 8000, (cache_batch, STORY_TOKENS // 2)), cache)  # half a story already decoded
    token = torch.randint(1, 8000, (cache_batch, 1))

    @torch.inference_mode()
    def decode_step():
        cache.pos = STORY_TOKENS // 2
        model(token, cache)

    return timed(train_step, n), timed(decode_step, n), count_parameters(model)


def language_models_rows(n: int, cache_batch: int = 64) -> list[dict]:
    settings = config.scale_settings("language-models", "full")
    rows = []
    for name, policies, _ in settings["models"]:
        step_s, decode_s, params = time_decoder(name, settings, n, cache_batch)
        seeds = len(settings["seeds"])
        steps = fits(policies, settings["n_iterations"]) * settings["n_train"] / settings["batch_size"] * seeds
        decode = samples(policies, settings["n_iterations"]) * settings["n_train"] / cache_batch * STORY_TOKENS * seeds
        rows.append({"chapter": "language-models", "model": f"{name} ({params / 1e6:.1f}M)",
                     "s per step": step_s, "steps": steps, "CPU-hours": (steps * step_s + decode * decode_s) / 3600})
    cold_model, _ = settings["cold"]
    cold = next(r for r in rows if r["model"].startswith(cold_model))
    factor = fits(("replace", "accumulate"), settings["n_iterations"]) / fits(
        next(p for m, p, _ in settings["models"] if m == cold_model), settings["n_iterations"])
    rows.append({**cold, "model": f"{cold['model']}, temperature 0.3", "steps": cold["steps"] * factor,
                 "CPU-hours": cold["CPU-hours"] * factor})
    return rows


def vae_rows(n: int) -> list[dict]:
    settings = config.scale_settings("vae-mnist", "full")
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(128, N_PIXELS)

    def step():
        recon, kl = model.loss_terms(x, torch.randn(128, model.latent))
        loss = (recon + kl).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step_s = timed(step, n)
    main, ablation = vae_mnist.chapter_jobs(settings)
    per_unit = settings["n_train"] / 128
    steps = fits(main.policies, main.n_iterations) * settings["epochs"] * per_unit * len(main.seeds)
    steps += sum(fits(("replace",), j.n_iterations) * j.epochs * per_unit * len(j.seeds) for j in ablation)
    return [{"chapter": "vae-mnist", "model": f"VAE ({count_parameters(model) / 1e6:.2f}M)", "s per step": step_s,
             "steps": steps, "CPU-hours": steps * step_s / 3600}]


def diffusion_rows(n: int) -> list[dict]:
    settings = config.scale_settings("diffusion-conformers", "full")
    (job,) = diffusion_conformers.chapter_jobs(settings)
    recipe = job.recipe()
    graphs = [_stand_in(17)] * 16
    model = EGNN(recipe.egnn)
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    batch = make_batch(graphs, list(range(16)))
    x = torch.randn(len(batch.atom_types), 3)
    sigma = torch.full((16,), 0.5)

    def step():
        loss = model(x, sigma, batch).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    @torch.no_grad()
    def denoise_call():  # one network call of the sampler, 64 molecules per batch
        model(torch.randn(64 * 17, 3), torch.full((64,), 0.5), make_batch(graphs, [0] * 64))

    step_s, call_s = timed(step, n), timed(denoise_call, n)
    n_conformers = 16 * settings["n_train_per_mol"]
    seeds = len(job.seeds)
    steps = fits(job.policies, job.n_iterations) * settings["epochs"] * n_conformers / recipe.batch_size * seeds
    calls = (samples(job.policies, job.n_iterations) + len(job.policies)) * n_conformers / 64 * recipe.n_steps * seeds
    return [{"chapter": "diffusion-conformers", "model": f"EGNN ({count_parameters(model) / 1e3:.0f}k), "
             f"{recipe.n_steps} steps", "s per step": step_s, "steps": steps,
             "CPU-hours": (steps * step_s + calls * call_s) / 3600}]


def _stand_in(n_atoms: int):
    from collapse_utils.data.conformers import MoleculeGraph

    bonds = np.array([(i, i + 1) for i in range(n_atoms - 1)])
    return MoleculeGraph(name="chain", smiles="", atom_types=np.zeros(n_atoms, dtype=np.int64), bonds=bonds,
                         bond_types=np.zeros(len(bonds), dtype=np.int64))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per model (after one warm-up)")
    args = parser.parse_args()
    config.setup(0)
    rows = language_models_rows(args.steps) + vae_rows(args.steps) + diffusion_rows(args.steps)
    print(f"{'chapter':<22}{'model':<34}{'s/step':>9}{'steps':>14}{'CPU-hours':>11}")
    for r in rows:
        print(f"{r['chapter']:<22}{r['model']:<34}{r['s per step']:>9.3f}{r['steps']:>14,.0f}{r['CPU-hours']:>11,.1f}")
    print(f"{'total':<65}{sum(r['CPU-hours'] for r in rows):>25,.0f}")


if __name__ == "__main__":
    main()
