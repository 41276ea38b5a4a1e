"""A small digit classifier trained once on real data, to measure the diversity of generated digits.

MLP ``784 -> 128 -> 10`` trained with Adam (lr 1e-3, batch 128) for a fixed number of epochs. Applied to generated
images it gives a class histogram (its entropy: log2(10) = 3.32 bits when all ten digits are equally frequent) and
the classifier's mean confidence (the largest softmax probability). Beyond the accumulate paper, which reports only
the test loss.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from collapse_utils.models.common import minibatches, seeded, torch_seed
from collapse_utils.validation import Instance, Int, IntArray, RealArray, fail, validate


@validate(images=RealArray(ndim=2), labels=IntArray(0), rng=Instance(np.random.Generator), epochs=Int(1))
def fit_classifier(images, labels, rng: np.random.Generator, *, epochs: int = 15) -> nn.Module:
    """Train the MLP on real ``images`` (n x 784 in [0, 1]) and integer ``labels`` 0-9."""
    if images.shape[1] != 784:
        fail("images", "of shape (n, 784)", images)
    if labels.shape != images.shape[:1] or labels.max() > 9:
        fail("labels", f"{len(images)} digits 0-9, one per image", labels)
    x = torch.as_tensor(images, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.long)
    seed = torch_seed(rng)
    model = seeded(lambda: nn.Sequential(nn.Linear(x.shape[1], 128), nn.ReLU(), nn.Linear(128, 10)), seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for idx in minibatches(len(x), 128, epochs, torch.Generator().manual_seed(seed + 1)):
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
@validate(images=RealArray(ndim=2))
def predict_proba(model: nn.Module, images) -> np.ndarray:
    """Softmax class probabilities, shape (n, 10)."""
    return F.softmax(model(torch.as_tensor(images, dtype=torch.float32)), dim=1).numpy()


@validate(images=RealArray(ndim=2))
def diversity(model: nn.Module, images) -> dict[str, float]:
    """Diversity of ``images`` as the classifier sees them.

    Returns ``class_entropy`` (bits) of the predicted-class histogram, ``confidence`` (mean largest softmax
    probability) and ``classes_present`` (number of classes predicted for at least 1% of the images).
    """
    proba = predict_proba(model, images)
    hist = np.bincount(proba.argmax(axis=1), minlength=10) / len(proba)
    nz = hist[hist > 0]
    return {"class_entropy": float(-(nz * np.log2(nz)).sum()), "confidence": float(proba.max(axis=1).mean()),
            "classes_present": float((hist >= 0.01).sum())}
