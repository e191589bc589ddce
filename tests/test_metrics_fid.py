import math

import pytest
import torch

from advnets.metrics.fid import class_histogram, frechet_distance, inception_score, kernel_distance


def test_fid_of_a_set_with_itself_is_zero_and_a_shift_adds_its_square():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5000, 8, generator=g, dtype=torch.float64) @ torch.randn(
        8, 8, generator=g, dtype=torch.float64
    )
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = torch.tensor([0.5, -1.0, 0, 0, 0, 0, 0, 2.0], dtype=torch.float64)
    assert frechet_distance(a, a + shift) == pytest.approx(0.25 + 1 + 4, rel=1e-6)


def test_fid_matches_closed_form_for_diagonal_gaussians():
    """For N(0, diag(s1)) and N(0, diag(s2)): FID = sum (sqrt(s1) - sqrt(s2))^2."""
    g = torch.Generator().manual_seed(1)
    s1, s2 = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([4.0, 1.0, 0.25])
    a = torch.randn(400_000, 3, generator=g) * s1.sqrt()
    b = torch.randn(400_000, 3, generator=g) * s2.sqrt()
    exact = float(((s1.sqrt() - s2.sqrt()) ** 2).sum())
    assert frechet_distance(a, b) == pytest.approx(exact, abs=0.03)


def test_kid_unbiased_near_zero_for_same_distribution_positive_for_shift():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(3000, 16, generator=g), torch.randn(3000, 16, generator=g)
    same, std = kernel_distance(a, b)
    assert abs(same) < 3 * std + 1e-4
    shifted, _ = kernel_distance(a, b + 0.5)
    assert shifted > 10 * max(abs(same), std)


def test_class_histogram_and_inception_score():
    probs = torch.eye(10)[torch.tensor([0, 0, 1, 1])]
    h = class_histogram(probs)
    assert h["classes"] == 2 and h["class_0"] == 0.5
    assert h["class_kl"] == pytest.approx(math.log(5), rel=1e-9)
    # confident and spread over two classes: IS = 2
    assert inception_score(probs) == pytest.approx(2.0, rel=1e-6)
    assert inception_score(torch.full((4, 10), 0.1)) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize(
    "dataset, minimum", [("mnist", 0.99), ("fashion", 0.90), ("cifar10", 0.83)]
)
def test_shipped_classifiers_are_accurate(dataset, minimum, data_root):
    from advnets.metrics.classifier import load_classifier, test_accuracy

    assert test_accuracy(load_classifier(dataset), dataset, str(data_root)) >= minimum


def test_fid_real_vs_real_floor_and_noise_ceiling(data_root):
    """Train images against the test set give a small FID (the floor of the metric); noise
    images give a large one; the class histogram of real digits covers all ten classes."""
    from advnets.data import load_images
    from advnets.metrics.evaluate import EvalSettings, fid, kid

    images, _ = load_images("mnist", "train", str(data_root), download=False)
    real = torch.from_numpy(images[:10_000].copy()).float().div(255).unsqueeze(1)
    settings = EvalSettings(data_root=str(data_root))
    floor = fid(real, "mnist", settings)
    assert floor["fid"] < 5.0 and floor["classes"] == 10 and floor["class_kl"] < 0.01
    real_kid = kid(real, "mnist", settings)
    assert abs(real_kid["kid"]) < 3 * real_kid["kid_std"]  # consistent with zero
    noise = torch.rand(10_000, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    # the test set's features are computed once (`settings` caches them)
    assert fid(noise, "mnist", settings)["fid"] > 50 * floor["fid"]
    noise_kid = kid(noise, "mnist", settings)
    assert noise_kid["kid"] > 10 * (abs(real_kid["kid"]) + real_kid["kid_std"])


def test_fid_matches_scipy_on_full_covariances():
    """Correlated features, where tr((C_a^1/2 C_b C_a^1/2)^1/2) differs from the shortcut
    tr(C_a^1/2 C_b^1/2): the distance as scipy's matrix square root gives it."""
    import numpy as np
    from scipy import linalg

    g = torch.Generator().manual_seed(5)

    def draw(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    a, b = draw(400, 6) @ draw(6, 6), draw(400, 6) @ draw(6, 6)
    ca, cb = np.cov(a.numpy().T), np.cov(b.numpy().T)
    cross = linalg.sqrtm(ca @ cb).real.trace()
    mean = ((a.mean(0) - b.mean(0)) ** 2).sum().item()
    expected = mean + ca.trace() + cb.trace() - 2 * cross
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    roots = (linalg.sqrtm(ca) @ linalg.sqrtm(cb)).real.trace()
    shortcut = mean + ca.trace() + cb.trace() - 2 * roots
    assert abs(shortcut - expected) > 1e-3 * expected  # the case tells the two apart


def test_reference_features_are_computed_once_per_data_folder(monkeypatch):
    """The shipped classifier's features of the reference images are kept for the process
    (a benchmark scores many runs against them), by data folder and split."""
    from advnets.metrics import evaluate

    monkeypatch.setattr(evaluate, "_REFERENCES", {})
    loads = []

    def fake_load(dataset, split, root, n):
        loads.append((root, split))
        g = torch.Generator().manual_seed(len(loads))
        return torch.rand(20, 1, 28, 28, generator=g), None

    monkeypatch.setattr(evaluate, "load_images01", fake_load)
    first = evaluate.reference_features("mnist", "/a", "test")[1]
    again = evaluate.reference_features("mnist", "/a", "test")[1]
    other = evaluate.reference_features("mnist", "/b", "test")[1]
    valid = evaluate.reference_features("mnist", "/a", "valid")[1]
    assert loads == [("/a", "test"), ("/b", "test"), ("/a", "valid")]
    assert again is first and first.shape == (20, 128)
    assert not torch.equal(first, other) and not torch.equal(first, valid)
