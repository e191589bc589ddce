import math

import numpy as np
import pytest
import torch

from advnets.metrics.parzen import parzen_log_likelihood, parzen_protocol


def brute_force(samples: np.ndarray, test: np.ndarray, sigma: float) -> np.ndarray:
    """The definition, one test point at a time, in float64."""
    d = samples.shape[1]
    out = []
    for x in test:
        a = (x[None, :] - samples) / sigma
        e = -0.5 * (a**2).sum(1)
        lme = e.max() + np.log(np.mean(np.exp(e - e.max())))
        out.append(lme - d * np.log(sigma * np.sqrt(2 * np.pi)))
    return np.array(out)


def test_matches_brute_force_exactly():
    g = torch.Generator().manual_seed(0)
    samples = torch.rand(300, 20, generator=g, dtype=torch.float64)
    test = torch.rand(50, 20, generator=g, dtype=torch.float64)
    ours = parzen_log_likelihood(samples, test, 0.3, chunk=17, dtype=torch.float64)
    np.testing.assert_allclose(
        ours.numpy(), brute_force(samples.numpy(), test.numpy(), 0.3), rtol=1e-10, atol=1e-10
    )
    fast = parzen_log_likelihood(samples.float(), test.float(), 0.3)  # the float32 path
    np.testing.assert_allclose(fast.numpy(), ours.numpy(), rtol=0, atol=1e-3)


def test_large_n_approaches_the_analytic_gaussian_density():
    """Kernel density of N(0, s^2 I) samples with bandwidth h is ~ N(0, (s^2 + h^2) I)."""
    g = torch.Generator().manual_seed(1)
    d, s, h = 2, 1.0, 0.2
    samples = torch.randn(200_000, d, generator=g) * s
    test = torch.randn(2000, d, generator=g) * s
    ll = parzen_log_likelihood(samples, test, h, chunk=250)
    var = s**2 + h**2
    exact = -0.5 * (test.double() ** 2).sum(1) / var - 0.5 * d * math.log(2 * math.pi * var)
    assert (ll - exact).abs().mean().item() < 0.02
    assert ll.mean().item() == pytest.approx(exact.mean().item(), abs=0.01)


def test_sigma_selection_picks_the_known_best():
    """Samples and validation data from N(0, 0.3^2) in 1-D: with many samples the best
    bandwidth is the smallest grid value that is not too noisy; compared with brute force
    over the grid, the protocol must pick the argmax exactly."""
    g = torch.Generator().manual_seed(2)
    samples = torch.randn(3000, 1, generator=g, dtype=torch.float64) * 0.3
    valid = torch.randn(500, 1, generator=g, dtype=torch.float64) * 0.3
    grid = np.array([0.001, 0.05, 3.0])  # far too narrow, sensible, far too wide
    result = parzen_protocol(samples, valid, valid, sigmas=grid, dtype=torch.float64)
    assert result.sigma == pytest.approx(0.05)
    brute = [brute_force(samples.numpy(), valid.numpy(), s).mean() for s in grid]
    np.testing.assert_allclose(result.valid_ll, brute, rtol=1e-9)
    ll = brute_force(samples.numpy(), valid.numpy(), 0.05)
    assert result.stderr == pytest.approx(ll.std() / np.sqrt(len(ll)), rel=1e-9)  # ddof 0
    assert result.mean == pytest.approx(ll.mean(), rel=1e-9)
    default = parzen_protocol(samples[:50], valid[:5], valid[:5], dtype=torch.float64)
    np.testing.assert_allclose(default.sigmas, np.logspace(-1, 0, 10))


def test_sigma_comes_from_the_validation_set_never_the_test_set():
    """Validation data like the samples favour a narrow kernel, test data far wider a wide
    one: the protocol takes the validation set's sigma and scores the test set with it."""
    g = torch.Generator().manual_seed(4)
    samples = torch.randn(2000, 1, generator=g, dtype=torch.float64) * 0.3
    valid = torch.randn(300, 1, generator=g, dtype=torch.float64) * 0.3
    test = torch.randn(300, 1, generator=g, dtype=torch.float64) * 5.0
    grid = np.array([0.05, 3.0])
    on_test = [brute_force(samples.numpy(), test.numpy(), s).mean() for s in grid]
    best_on_test = int(np.argmax(on_test))
    assert grid[best_on_test] == 3.0  # so a selection on the test set would differ
    result = parzen_protocol(samples, valid, test, sigmas=grid, dtype=torch.float64)
    assert result.sigma == pytest.approx(0.05)
    expected = brute_force(samples.numpy(), test.numpy(), 0.05).mean()
    assert result.mean == pytest.approx(expected, rel=1e-9)


def test_faces_are_scored_on_people_never_seen(data_root):
    """Sigma is chosen on the 4 validation people and the 8 test people are scored; while
    training (reference valid) the validation people are halved between the two."""
    from advnets.data import load_images01
    from advnets.metrics.evaluate import EvalSettings, parzen

    root = str(data_root)
    train, valid, test = (load_images01("faces", s, root)[0].flatten(1) for s in SPLITS)
    settings = EvalSettings(parzen_samples=len(train), data_root=root)
    scores = parzen(train.view(-1, 1, 64, 64), "faces", settings)
    assert (scores["parzen_valid"], scores["parzen_test"]) == (40, 80)
    expected = parzen_protocol(train, valid, test)
    assert scores["parzen"] == pytest.approx(expected.mean, rel=1e-9)
    assert scores["parzen_sigma"] == pytest.approx(expected.sigma, rel=1e-9)
    settings.reference = "valid"
    scores = parzen(train.view(-1, 1, 64, 64), "faces", settings)
    assert (scores["parzen_valid"], scores["parzen_test"]) == (20, 20)
    expected = parzen_protocol(train, valid[:20], valid[20:])
    assert scores["parzen"] == pytest.approx(expected.mean, rel=1e-9)


SPLITS = ("train", "valid", "test")
