"""The VAE and the digit classifier of the VAE chapter (collapse_utils.models), on tiny synthetic images.

Every fit here uses a 16-unit hidden layer, a 2-dimensional latent space and a few dozen 28x28 images, so each takes
milliseconds; the facts tested do not depend on size.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import collapse_utils  # noqa: F401 -- first, so that the thread settings are exported before torch starts
from collapse_utils import config

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from collapse_utils.models.classifier import diversity, fit_classifier, predict_proba  # noqa: E402
from collapse_utils.models.vae import N_PIXELS, VAE, VAERecipe, evaluate_vae, fit_vae, sample_vae  # noqa: E402

TINY = VAERecipe(hidden=16, latent=2, epochs=2)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    config.set_threads(1)  # the package's setting (and fast for these tiny models on a 2-core machine)
    yield
    config.set_threads(1)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def random_images(n: int = 64, seed: int = 0) -> np.ndarray:
    """``n`` images of independent uniform grey levels in [0, 1]."""
    return rng(seed).random((n, N_PIXELS))


def two_kinds(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images of two kinds with labels 0 / 1: kind 0 has a bright top half, kind 1 a bright bottom half (+ noise)."""
    g = rng(seed)
    labels = np.arange(n) % 2
    top = np.arange(N_PIXELS) < N_PIXELS // 2
    bright = np.where(labels[:, None] == 0, top[None, :], ~top[None, :])
    x = np.where(bright, 0.9, 0.1) + 0.05 * g.standard_normal((n, N_PIXELS))
    return np.clip(x, 0.0, 1.0), labels


def params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def same_params(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(params(a), params(b), strict=True))


# ---------------------------------------------------------------------------------------------------------
# VAERecipe
# ---------------------------------------------------------------------------------------------------------


def test_recipe_defaults_are_the_chapter_recipe():
    r = VAERecipe()
    assert (r.hidden, r.latent, r.epochs, r.batch_size, r.lr) == (256, 16, 10, 128, 1e-3)


@pytest.mark.parametrize("field", ["hidden", "latent", "epochs", "batch_size"])
@pytest.mark.parametrize("value", [0, -1, 2.0, 1.5, True, False, "4", None])
def test_recipe_rejects_non_positive_or_non_integer_sizes_naming_the_field(field, value):
    with pytest.raises(ValueError, match=rf"^{field} must be an integer >= 1, got {re.escape(repr(value))}$"):
        VAERecipe(**{field: value})


@pytest.mark.parametrize("value", [0, 0.0, -1e-3, float("nan"), float("inf"), -float("inf")])
def test_recipe_rejects_lr_outside_the_positive_finite_numbers_naming_the_field(value):
    with pytest.raises(ValueError, match=r"^lr must be a finite number > 0, got "):
        VAERecipe(lr=value)


def test_recipe_accepts_valid_values_and_is_frozen():
    r = VAERecipe(hidden=1, latent=1, epochs=1, batch_size=1, lr=5e-4)
    assert r.lr == 5e-4
    with pytest.raises(AttributeError):
        r.epochs = 3  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------------------
# fit_vae
# ---------------------------------------------------------------------------------------------------------


def test_fit_returns_a_vae_in_eval_mode_with_the_recipe_sizes():
    model = fit_vae(random_images(), rng(), VAERecipe(hidden=16, latent=3, epochs=1))
    assert isinstance(model, VAE) and not model.training
    assert all(not m.training for m in model.modules())
    assert model.latent == 3
    assert model.encoder[0].weight.shape == (16, N_PIXELS)
    assert model.to_mu.weight.shape == (3, 16) and model.to_logvar.weight.shape == (3, 16)
    assert model.decoder[0].weight.shape == (16, 3) and model.decoder[2].weight.shape == (N_PIXELS, 16)


def test_fit_is_deterministic_for_a_seed_and_differs_across_seeds():
    x = random_images()
    a = fit_vae(x, rng(7), TINY)
    torch.manual_seed(12345)  # torch's global state before the fit must not matter
    torch.rand(3)
    b = fit_vae(x, rng(7), TINY)
    c = fit_vae(x, rng(8), TINY)
    assert same_params(a, b)
    assert not same_params(a, c)


def test_fit_accepts_numpy_and_torch_images_alike():
    x = random_images()
    a = fit_vae(x, rng(3), TINY)
    b = fit_vae(torch.tensor(x, dtype=torch.float32), rng(3), TINY)
    assert same_params(a, b)


def test_every_fit_starts_from_a_fresh_initialization_drawn_from_rng():
    """With a negligible learning rate a fit stays at its initialization (Adam moves each weight <= lr per step).

    Two fits with different generators start from different weights, the same generator always gives the same
    start whatever was fitted before, and the start is PyTorch's default init (|w| <= 1/sqrt(fan_in)).
    """
    x = random_images(32)
    frozen = VAERecipe(hidden=16, latent=2, epochs=1, lr=1e-12)
    a = fit_vae(x, rng(1), frozen)
    b = fit_vae(x, rng(2), frozen)
    a_again = fit_vae(x, rng(1), frozen)
    assert same_params(a, a_again)
    assert all(not torch.allclose(p, q) for p, q in zip(params(a), params(b), strict=True))
    assert a.encoder[0].weight.abs().max() <= 1 / math.sqrt(N_PIXELS)
    # a real fit from the same generator starts from the same weights, and training moves them
    trained = fit_vae(x, rng(1), VAERecipe(hidden=16, latent=2, epochs=1))
    w0, w1 = a.decoder[2].weight, trained.decoder[2].weight
    assert not torch.equal(w0, w1) and torch.allclose(w0, w1, atol=0.01)  # one Adam step of lr 1e-3 per batch


def test_training_lowers_the_negative_elbo_on_the_training_images():
    """On 64 two-kind images (grey levels 0.1 / 0.9 + noise, batch 16) training for 30 epochs (120 Adam steps) takes
    the per-pixel negative ELBO from about ln 2 = 0.69 (1 epoch: the decoder still outputs ~1/2 everywhere) to below
    0.5 nats, and the reconstruction error from about 0.16 (mean 1/2 against 0.1 / 0.9) to below 0.05."""
    x, _ = two_kinds(64)
    short = evaluate_vae(fit_vae(x, rng(0), VAERecipe(hidden=16, latent=2, epochs=1, batch_size=16)), x)
    long = evaluate_vae(fit_vae(x, rng(0), VAERecipe(hidden=16, latent=2, epochs=30, batch_size=16)), x)
    assert short["neg_elbo"] > 0.65 and short["recon_mse"] > 0.15
    assert long["neg_elbo"] < 0.5 and long["neg_elbo"] < short["neg_elbo"] - 0.2
    assert long["recon_mse"] < 0.05


@pytest.mark.parametrize(("images", "message"), [
    (np.zeros((4, N_PIXELS - 1)), r"images must have shape \(n, 784\) with n >= 1, got \(4, 783\)"),
    (np.zeros(N_PIXELS), r"images must have shape \(n, 784\) with n >= 1, got \(784,\)"),
    (np.zeros((2, 28, 28)), r"images must have shape \(n, 784\) with n >= 1, got \(2, 28, 28\)"),
    (np.full((3, N_PIXELS), 255.0), r"images must hold grey levels in \[0, 1\]"),
    (-np.ones((3, N_PIXELS)), r"images must hold grey levels in \[0, 1\]"),
    (np.zeros((0, N_PIXELS)), r"images must have shape \(n, 784\) with n >= 1, got \(0, 784\)"),
])
def test_fit_rejects_bad_images(images, message):
    with pytest.raises(ValueError, match=message):
        fit_vae(images, rng(), TINY)


def test_fit_rejects_nan_pixels():
    x = random_images(8)
    x[0, 0] = np.nan
    with pytest.raises(ValueError):
        fit_vae(x, rng(), TINY)


# ---------------------------------------------------------------------------------------------------------
# evaluate_vae
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model() -> VAE:
    return fit_vae(random_images(), rng(0), TINY)


def flat_decoder(latent: int = 2, *, zero_encoder: bool = False) -> VAE:
    """A VAE whose decoder outputs logit 0 (mean 1/2) for every pixel; optionally posterior N(0, I) for every x."""
    torch.manual_seed(0)
    model = VAE(hidden=16, latent=latent).eval()
    with torch.no_grad():
        model.decoder[2].weight.zero_()
        model.decoder[2].bias.zero_()
        if zero_encoder:
            for layer in (model.to_mu, model.to_logvar):
                layer.weight.zero_()
                layer.bias.zero_()
    return model


def test_evaluate_returns_the_three_metrics_as_floats(tiny_model):
    metrics = evaluate_vae(tiny_model, random_images(20, seed=1))
    assert list(metrics) == ["neg_elbo", "recon_bce", "recon_mse"]
    assert all(type(v) is float and math.isfinite(v) for v in metrics.values())


def test_evaluate_is_deterministic_for_a_seed(tiny_model):
    x = random_images(20, seed=1)
    assert evaluate_vae(tiny_model, x, seed=3) == evaluate_vae(tiny_model, x, seed=3)
    assert evaluate_vae(tiny_model, x) == evaluate_vae(tiny_model, torch.tensor(x, dtype=torch.float32))
    # the ELBO's reparameterization noise comes from the seed; the MSE (at the posterior mean) does not use it
    other = evaluate_vae(tiny_model, x, seed=4)
    assert other["neg_elbo"] != evaluate_vae(tiny_model, x, seed=3)["neg_elbo"]
    assert other["recon_mse"] == evaluate_vae(tiny_model, x, seed=3)["recon_mse"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_evaluate_bounds_kl_nonnegative_and_mse_in_unit_interval(tiny_model, seed):
    x = random_images(30, seed=seed)
    m = evaluate_vae(tiny_model, x, seed=seed)
    assert m["neg_elbo"] >= m["recon_bce"]  # the difference is KL(q(z|x) || N(0, I)) / 784 >= 0
    assert 0.0 <= m["recon_mse"] <= 1.0
    assert m["recon_bce"] > 0.0


@pytest.mark.parametrize("kind", ["random", "zeros", "ones", "two-kinds"])
def test_flat_decoder_costs_ln2_per_pixel_for_any_image(kind):
    """Logit 0 means p = 1/2: cross-entropy -x ln(1/2) - (1-x) ln(1/2) = ln 2 per pixel, whatever the grey level x."""
    x = {"random": random_images(10), "zeros": np.zeros((10, N_PIXELS)), "ones": np.ones((10, N_PIXELS)),
         "two-kinds": two_kinds(10)[0]}[kind]
    m = evaluate_vae(flat_decoder(), x)
    assert m["recon_bce"] == pytest.approx(math.log(2), rel=1e-6)
    assert m["recon_mse"] == pytest.approx(float(np.mean((x - 0.5) ** 2)), rel=1e-5)  # decoder mean 1/2
    # posterior N(0, I) for every image: KL = 0, so the negative ELBO is ln 2 per pixel too
    m0 = evaluate_vae(flat_decoder(zero_encoder=True), x)
    assert m0["neg_elbo"] == pytest.approx(math.log(2), rel=1e-6)
    assert m0["recon_bce"] == pytest.approx(math.log(2), rel=1e-6)


def test_evaluate_normalizes_the_kl_per_pixel():
    """Posterior N(mu, I) with mu = (1, 1) for every image: KL = |mu|^2 / 2 = 1 nat per image, i.e. 1/784 per pixel."""
    model = flat_decoder(zero_encoder=True)
    with torch.no_grad():
        model.to_mu.bias.fill_(1.0)
    m = evaluate_vae(model, random_images(10))
    assert m["neg_elbo"] - m["recon_bce"] == pytest.approx(1 / N_PIXELS, rel=1e-3)


def test_evaluate_rejects_bad_images(tiny_model):
    with pytest.raises(ValueError, match=r"shape \(n, 784\)"):
        evaluate_vae(tiny_model, np.zeros((3, N_PIXELS - 1)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        evaluate_vae(tiny_model, np.full((3, N_PIXELS), 2.0))


def test_evaluate_rejects_empty_images(tiny_model):
    with pytest.raises(ValueError):
        evaluate_vae(tiny_model, np.zeros((0, N_PIXELS)))


# ---------------------------------------------------------------------------------------------------------
# sample_vae
# ---------------------------------------------------------------------------------------------------------


def test_samples_have_shape_and_grey_levels(tiny_model):
    s = sample_vae(tiny_model, 13, rng(0))
    assert isinstance(s, torch.Tensor) and s.dtype == torch.float32
    assert s.shape == (13, N_PIXELS)
    assert float(s.min()) >= 0.0 and float(s.max()) <= 1.0
    assert not s.requires_grad


def test_samples_are_deterministic_for_a_seed(tiny_model):
    assert torch.equal(sample_vae(tiny_model, 5, rng(4)), sample_vae(tiny_model, 5, rng(4)))
    assert not torch.equal(sample_vae(tiny_model, 5, rng(4)), sample_vae(tiny_model, 5, rng(5)))
    assert sample_vae(tiny_model, np.int64(3), rng(4)).shape == (3, N_PIXELS)


def test_fixed_latent_codes_reproduce_the_decoder_means(tiny_model):
    z = torch.randn(6, tiny_model.latent, generator=torch.Generator().manual_seed(0))
    a = sample_vae(tiny_model, 6, z=z)
    assert torch.equal(a, sample_vae(tiny_model, 6, rng(99), z=z))  # rng is ignored when z is given
    with torch.no_grad():
        assert torch.equal(a, torch.sigmoid(tiny_model.decode(z)))


def test_flat_decoder_samples_are_grey():
    assert torch.equal(sample_vae(flat_decoder(), 4, rng()), torch.full((4, N_PIXELS), 0.5))


@pytest.mark.parametrize("n", [0, -2, 2.0, True, "3"])
def test_sample_rejects_bad_n(tiny_model, n):
    with pytest.raises(ValueError, match=r"^n must be an integer >= 1, got "):
        sample_vae(tiny_model, n, rng())


def test_sample_requires_rng_or_z(tiny_model):
    with pytest.raises(ValueError, match="rng is required when z is not given"):
        sample_vae(tiny_model, 3)


@pytest.mark.parametrize("shape", [(3, 3), (2, 2), (3,), (3, 2, 1)])
def test_sample_rejects_z_of_the_wrong_shape(tiny_model, shape):
    with pytest.raises(ValueError, match=r"^z must have shape \(3, 2\), got "):
        sample_vae(tiny_model, 3, z=torch.zeros(shape))


# ---------------------------------------------------------------------------------------------------------
# classifier
# ---------------------------------------------------------------------------------------------------------


class FixedLogits(nn.Module):
    """A stand-in classifier: row i of every batch gets ``logits[i]``."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.as_tensor(np.asarray(logits, dtype=np.float32))

    def forward(self, x):
        assert len(x) == len(self.logits)
        return self.logits


def one_hot_logits(classes, height: float = 50.0) -> np.ndarray:
    logits = np.zeros((len(classes), 10))
    logits[np.arange(len(classes)), classes] = height
    return logits


def test_classifier_separates_two_kinds_of_images():
    x, y = two_kinds(200, seed=0)
    model = fit_classifier(x, y, rng(0), epochs=5)
    assert not model.training
    x_test, y_test = two_kinds(100, seed=1)
    accuracy = (predict_proba(model, x_test).argmax(axis=1) == y_test).mean()
    assert accuracy >= 0.98


def test_classifier_fit_is_deterministic_for_a_seed():
    x, y = two_kinds(40)
    assert same_params(fit_classifier(x, y, rng(2), epochs=1), fit_classifier(x, y, rng(2), epochs=1))
    assert not same_params(fit_classifier(x, y, rng(2), epochs=1), fit_classifier(x, y, rng(3), epochs=1))


def test_predict_proba_rows_are_distributions():
    x, y = two_kinds(40)
    proba = predict_proba(fit_classifier(x, y, rng(0), epochs=1), random_images(25))
    assert isinstance(proba, np.ndarray) and proba.shape == (25, 10)
    assert (proba >= 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


def test_diversity_of_a_single_class_is_zero_bits():
    d = diversity(FixedLogits(one_hot_logits([3] * 50)), np.zeros((50, N_PIXELS)))
    assert d["class_entropy"] == 0.0
    assert d["classes_present"] == 1.0
    assert d["confidence"] == pytest.approx(1.0, abs=1e-12)


def test_diversity_of_ten_equal_classes_is_log2_10_bits():
    classes = np.repeat(np.arange(10), 7)
    d = diversity(FixedLogits(one_hot_logits(classes)), np.zeros((70, N_PIXELS)))
    assert abs(d["class_entropy"] - math.log2(10)) < 1e-9
    assert d["classes_present"] == 10.0


def test_diversity_entropy_of_a_known_histogram():
    classes = [0, 0, 1, 2]  # histogram (1/2, 1/4, 1/4): entropy 1.5 bits
    d = diversity(FixedLogits(one_hot_logits(classes)), np.zeros((4, N_PIXELS)))
    assert abs(d["class_entropy"] - 1.5) < 1e-12
    assert d["classes_present"] == 3.0


@pytest.mark.parametrize("a", [0.0, 1.0, 3.0])
def test_diversity_confidence_is_the_mean_largest_probability(a):
    """Logit a for one class and 0 for nine: the largest probability is e^a / (e^a + 9), at least 1/10."""
    d = diversity(FixedLogits(one_hot_logits([5] * 8, height=a)), np.zeros((8, N_PIXELS)))
    expected = math.exp(a) / (math.exp(a) + 9)
    assert d["confidence"] == pytest.approx(expected, rel=1e-6)
    assert 0.1 - 1e-7 <= d["confidence"] <= 1.0


def test_diversity_confidence_is_within_its_bounds_for_a_trained_classifier():
    x, y = two_kinds(40)
    d = diversity(fit_classifier(x, y, rng(0), epochs=2), random_images(30))
    assert 0.1 <= d["confidence"] <= 1.0
    assert 0.0 <= d["class_entropy"] <= math.log2(10)


def test_classes_present_counts_classes_with_at_least_one_percent():
    # 1 of 100 is exactly 1%: counted; 1 of 200 is 0.5%: not counted, although it adds entropy
    d100 = diversity(FixedLogits(one_hot_logits([0] * 99 + [1])), np.zeros((100, N_PIXELS)))
    d200 = diversity(FixedLogits(one_hot_logits([0] * 199 + [1])), np.zeros((200, N_PIXELS)))
    assert d100["classes_present"] == 2.0
    assert d200["classes_present"] == 1.0 and d200["class_entropy"] > 0.0


def test_diversity_uses_predict_proba(monkeypatch):
    from collapse_utils.models import classifier

    proba = np.full((20, 10), 0.01)
    proba[np.arange(20), np.arange(20) % 4] = 0.91  # four classes, five images each: 2 bits
    monkeypatch.setattr(classifier, "predict_proba", lambda model, images: proba)
    d = classifier.diversity(None, np.zeros((20, N_PIXELS)))
    assert abs(d["class_entropy"] - 2.0) < 1e-12
    assert d["confidence"] == pytest.approx(0.91)
    assert d["classes_present"] == 4.0


# ---------------------------------------------------------------------------------------------------------
# the VAE in the feedback loop
# ---------------------------------------------------------------------------------------------------------
