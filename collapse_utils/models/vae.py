"""A small variational autoencoder for 28x28 digits, with the fit / evaluate / sample functions of the feedback loop.

Model (Kingma & Welling 2014): an MLP encoder ``784 -> hidden -> (mu, log sigma^2)`` of a ``latent``-dimensional
Gaussian posterior, an MLP decoder ``latent -> hidden -> 784`` giving Bernoulli logits per pixel, prior N(0, I).
Pixels are grey levels in [0, 1] used as soft Bernoulli targets. The loss is the negative evidence lower bound
(ELBO): per-image binary cross-entropy of the reconstruction plus the KL divergence of the posterior from the prior.

Training recipe (:class:`VAERecipe`): Adam, learning rate 1e-3, batch 128, a fixed number of epochs over the
training set (so a larger accumulated pool costs proportionally more compute, as in the accumulate paper), fresh
initialization every fit. Reported metrics are normalized **per pixel** so that their scale can be set beside the
accumulate paper's VAE test loss (about 0.02): negative ELBO, reconstruction cross-entropy, and reconstruction mean
squared error (decoder mean at the posterior mean). Synthetic images are decoder means ``sigmoid(logits)`` at
``z ~ N(0, I)``. Models train on ``models.common.torch_device()`` (a GPU when one is available, for the ``full``
profile); random numbers are drawn on the CPU and samples are returned on the CPU. Used by
``notebooks/vae_mnist.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from collapse_utils.models.common import device_of, minibatches, seeded, torch_device, torch_seed
from collapse_utils.validation import Int, Real, check_fields

N_PIXELS = 28 * 28


@dataclass(frozen=True)
class VAERecipe:
    """Architecture and training settings; every fit of a chapter uses one recipe."""

    hidden: int = 256
    latent: int = 16
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3

    def __post_init__(self):
        check_fields(self, hidden=Int(1), latent=Int(1), epochs=Int(1), batch_size=Int(1), lr=Real(0, low_open=True))


class VAE(nn.Module):
    """MLP VAE with a Gaussian posterior and a Bernoulli decoder."""

    def __init__(self, hidden: int = 256, latent: int = 16):
        super().__init__()
        self.latent = latent
        self.encoder = nn.Sequential(nn.Linear(N_PIXELS, hidden), nn.ReLU())
        self.to_mu = nn.Linear(hidden, latent)
        self.to_logvar = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, N_PIXELS))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits of the 784 pixels."""
        return self.decoder(z)

    def loss_terms(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image reconstruction cross-entropy and KL term, with reparameterization noise ``eps``."""
        mu, logvar = self.encode(x)
        z = mu + eps * torch.exp(0.5 * logvar)
        recon = F.binary_cross_entropy_with_logits(self.decode(z), x, reduction="none").sum(dim=1)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)
        return recon, kl


def _as_images(x) -> torch.Tensor:
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.ndim != 2 or x.shape[1] != N_PIXELS or len(x) < 1:
        raise ValueError(f"images must have shape (n, {N_PIXELS}) with n >= 1, got {tuple(x.shape)}")
    if not bool(((x >= 0) & (x <= 1)).all()):  # also rejects NaN
        raise ValueError(f"images must hold grey levels in [0, 1], got values from {float(x.min()):.4g} to "
                         f"{float(x.max()):.4g}" + (" and NaN" if bool(torch.isnan(x).any()) else ""))
    return x


def fit_vae(images, rng: np.random.Generator, recipe: VAERecipe = VAERecipe()) -> VAE:
    """Train a freshly initialized VAE on ``images`` (n x 784, values in [0, 1]) with ``recipe``."""
    x = _as_images(images)
    seed = torch_seed(rng)
    device = torch_device()
    model = seeded(lambda: VAE(recipe.hidden, recipe.latent), seed).to(device)
    x = x.to(device)
    gen = torch.Generator().manual_seed(seed + 1)  # batch order and reparameterization noise (drawn on the CPU)
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    model.train()
    for idx in minibatches(len(x), recipe.batch_size, recipe.epochs, gen):
        batch = x[idx.to(device)]
        eps = torch.randn(len(batch), recipe.latent, generator=gen).to(device)
        recon, kl = model.loss_terms(batch, eps)
        loss = (recon + kl).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def evaluate_vae(model: VAE, images, *, seed: int = 0) -> dict[str, float]:
    """Per-pixel test metrics on real ``images``; the ELBO's noise comes from ``seed`` (deterministic).

    Returns ``neg_elbo`` (nats per pixel), ``recon_bce`` (cross-entropy per pixel) and ``recon_mse`` (squared error
    per pixel of the decoder mean at the posterior mean).
    """
    device = device_of(model)
    x = _as_images(images).to(device)
    gen = torch.Generator().manual_seed(seed)
    recon, kl = model.loss_terms(x, torch.randn(len(x), model.latent, generator=gen).to(device))
    mu, _ = model.encode(x)
    mse = (torch.sigmoid(model.decode(mu)) - x).pow(2).mean()
    return {"neg_elbo": float((recon + kl).mean() / N_PIXELS), "recon_bce": float(recon.mean() / N_PIXELS),
            "recon_mse": float(mse)}


@torch.no_grad()
def sample_vae(model: VAE, n: int, rng: np.random.Generator | None = None, *, z: torch.Tensor | None = None):
    """``n`` synthetic images (decoder means at ``z ~ N(0, I)``), as a float32 tensor of shape (n, 784).

    Pass ``z`` (shape (n, latent)) to decode fixed latent codes, e.g. the same grid for every model of a chapter.
    """
    if z is None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        if rng is None:
            raise ValueError("rng is required when z is not given")
        z = torch.randn(int(n), model.latent, generator=torch.Generator().manual_seed(torch_seed(rng)))
    else:
        z = torch.as_tensor(z, dtype=torch.float32)
    if z.shape != (n, model.latent):
        raise ValueError(f"z must have shape ({n}, {model.latent}), got {tuple(z.shape)}")
    return torch.sigmoid(model.decode(z.to(device_of(model)))).cpu()


@dataclass
class VAEFamily:
    """The VAE as a model family of the feedback loop (:class:`collapse_utils.protocol.ModelFamily`).

    ``fit`` trains a fresh VAE with ``recipe``, ``evaluate`` scores it on the real ``test_images``
    (:func:`evaluate_vae`, ELBO noise from the seed's evaluation stream), ``sample`` decodes ``z ~ N(0, I)``.
    """

    recipe: VAERecipe
    test_images: torch.Tensor

    def fit(self, train, ctx) -> VAE:
        return fit_vae(train, ctx.rng("fit"), self.recipe)

    def evaluate(self, model: VAE, ctx) -> dict[str, float]:
        return evaluate_vae(model, self.test_images, seed=torch_seed(ctx.rng("evaluate")))

    def sample(self, model: VAE, n: int, ctx) -> torch.Tensor:
        return sample_vae(model, n, ctx.rng("sample"))
