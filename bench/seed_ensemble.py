"""Are three seeds cheaper trained as one batched ensemble than one after another? (prints; asserts nothing)

    .venv/bin/python bench/seed_ensemble.py [--seeds 3] [--steps 30]

For each model family of the torch chapters, at its `ci` size and batch, one optimizer step of ``--seeds`` models is
timed two ways: one model after another, and all at once as an ensemble. The EGNN uses the package's ensemble
(``collapse_utils.models.egnn.EGNN`` with members, as the diffusion chapter trains its seeds); the VAE and the decoder
use ``torch.func.stack_module_state`` + ``vmap``. Times are CPU seconds of this process (``time.process_time``), so
another busy process on the machine distorts them less; one thread.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
from torch.func import functional_call, grad, stack_module_state, vmap

import collapse_utils  # noqa: F401 -- thread settings first
from collapse_utils import config
from collapse_utils.data.conformers import Conformer, MoleculeGraph
from collapse_utils.models.diffusion import DiffusionRecipe, fit_diffusion, fit_diffusion_many
from collapse_utils.models.lm import init_model
from collapse_utils.models.transformer import decoder_config
from collapse_utils.models.vae import N_PIXELS, VAE


def cpu_seconds(fn, repeats: int) -> float:
    fn()
    start = time.process_time()
    for _ in range(repeats):
        fn()
    return (time.process_time() - start) / repeats


def vmapped_sgd(models, loss_of, lr=1e-3):
    """An SGD step of every model at once: ``step(inputs)`` maps ``grad`` over the stacked parameters with ``vmap``."""
    params, buffers = stack_module_state(models)
    params = {k: v.detach() for k, v in params.items()}
    base = copy.deepcopy(models[0]).to("meta")

    def loss(p, b, x):
        return loss_of(lambda *a: functional_call(base, (p, b), a), x)

    grads_of = vmap(grad(loss), in_dims=(0, 0, 0))

    def step(inputs):
        grads = grads_of(params, buffers, inputs)
        for k in params:
            params[k] -= lr * grads[k]

    return step


def sequential_sgd_steps(models, loss_of, inputs, lr=1e-3):
    for model, x in zip(models, inputs, strict=True):
        loss = loss_of(model, x)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad


def lm_loss(model, x):
    return torch.nn.functional.cross_entropy(model(x).flatten(0, 1), x.flatten())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    config.setup(0)
    s, n = args.seeds, args.steps
    rows = []

    # the decoder of the language-model chapter: a batch of 4 stories of 70 tokens
    models = [init_model(decoder_config("gpt2-d64", vocab_size=349), k) for k in range(s)]
    x = torch.randint(0, 349, (s, 4, 70))
    one = cpu_seconds(lambda: sequential_sgd_steps(models, lm_loss, x), n)
    try:
        step = vmapped_sgd(models, lambda f, xx: torch.nn.functional.cross_entropy(f(xx).flatten(0, 1), xx.flatten()))
        both = cpu_seconds(lambda: step(x), n)
    except Exception as err:  # vmap has no batching rule for some kernels
        both = float("nan")
        print(f"decoder: vmap failed ({type(err).__name__}: {err})")
    rows.append(("decoder gpt2-d64 (vmap)", one, both))

    # the VAE: a batch of 128 images
    imgs = torch.rand(s, 128, N_PIXELS)

    class VAELoss(torch.nn.Module):  # a module whose forward is the VAE's loss, so functional_call can map it
        def __init__(self, vae):
            super().__init__()
            self.vae = vae

        def forward(self, xx):
            recon, kl = self.vae.loss_terms(xx, torch.zeros(len(xx), self.vae.latent))
            return (recon + kl).mean()

    wrapped = [VAELoss(VAE()) for _ in range(s)]
    one = cpu_seconds(lambda: sequential_sgd_steps(wrapped, lambda m, xx: m(xx), imgs), n)
    step = vmapped_sgd(wrapped, lambda f, xx: f(xx))
    both = cpu_seconds(lambda: step(imgs), n)
    rows.append(("VAE (vmap)", one, both))

    # the EGNN of the diffusion chapter: the package's ensemble, whole short fits on random molecules
    bonds = np.array([(i, i + 1) for i in range(16)])
    graphs = [MoleculeGraph("chain", "", np.zeros(17, dtype=np.int64), bonds, np.zeros(16, dtype=np.int64))]
    rng = np.random.default_rng(0)
    train = [Conformer(mol=0, coords=rng.normal(size=(17, 3)).astype(np.float32)) for _ in range(160)]
    recipe = DiffusionRecipe(n_steps=30, epochs=2)
    one = cpu_seconds(lambda: [fit_diffusion(train, np.random.default_rng(k), graphs=graphs, recipe=recipe)
                               for k in range(s)], 1)
    both = cpu_seconds(lambda: fit_diffusion_many([train] * s, [np.random.default_rng(k) for k in range(s)],
                                                  graphs=graphs, recipe=recipe), 1)
    rows.append(("EGNN, 2-epoch fits (ensemble)", one, both))

    print(f"{s} seeds; CPU seconds per step (EGNN: per fit)")
    print(f"{'model':<32}{'one after another':>18}{'ensemble':>10}{'speed-up':>10}")
    for name, a, b in rows:
        print(f"{name:<32}{a:>18.4f}{b:>10.4f}{a / b:>10.2f}")


if __name__ == "__main__":
    main()
