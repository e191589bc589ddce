"""Scoring sample sets: input checks, then the metrics that apply to the data set.

Samples are checked before any metric runs (shape, dtype, NaNs, value range, count): no
score is ever computed silently on mis-scaled data.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from advnets.config import DataConfig
from advnets.data import load_images01, toy_distribution
from advnets.data.registry import DATASETS, FOLDER, Spec, spec, static_spec
from advnets.errors import DataError
from advnets.metrics.classifier import FEATURES, load_classifier, predict, weights_path
from advnets.metrics.fid import class_histogram, frechet_distance, inception_score, kernel_distance
from advnets.metrics.folder import (
    feature_space,
    folder_features,
    memorization,
    precision_recall,
)
from advnets.metrics.modes import mode_metrics, stacked_mode_metrics
from advnets.metrics.parzen import parzen_protocol


def _metrics_of(name: str) -> tuple[str, ...]:
    """The metrics of a built-in data set (none for a name that is not one)."""
    if name not in DATASETS or callable(DATASETS.get(name).spec):
        return ()
    return static_spec(name).metrics


def scorable(metric: str | None = None) -> list[str]:
    """The built-in data sets some metric (`metric`, if given) can score."""
    return [n for n in DATASETS if _metrics_of(n) and (metric is None or metric in _metrics_of(n))]


def info(dataset: str, metric: str | None = None) -> Spec:
    """The spec of a built-in data set that can be scored (by `metric`, if given)."""
    if not _metrics_of(dataset):
        described = dataset in DATASETS and not callable(DATASETS.get(dataset).spec)
        what = (
            f"{dataset} samples have no metric (its Spec lists none)"
            if described
            else f"unknown dataset {dataset!r} for evaluation"
        )
        raise DataError(f"{what}; choose one of: {', '.join(scorable())}")
    entry = static_spec(dataset)
    if metric is not None and metric not in entry.metrics:
        raise DataError(
            f"{metric} cannot score {dataset} samples; it scores: {', '.join(entry.metrics)}"
        )
    return entry


@dataclass
class EvalSettings:
    """Protocol settings, recorded with every score."""

    parzen_samples: int = 10_000  # kernel centres (the paper: 10,000)
    parzen_valid: int = 1_000  # validation images used to choose sigma
    parzen_test: int = 10_000  # images scored
    # the data scores are measured against: "test" for reports; "valid" for choosing a
    # checkpoint during training (Parzen then scores the validation images after the first
    # `parzen_valid`), so that the test set is never used for a choice
    reference: str = "test"
    mode_samples: int = 2_500  # VEEGAN / PacGAN, 2-D mixtures
    stacked_samples: int = 26_000  # VEEGAN / PacGAN, stacked MNIST
    fid_samples: int = 10_000  # samples embedded for FID / KID (against the 10,000 test images)
    data_root: str | None = None
    toy: DataConfig | None = None  # a run's own mixture settings; else the published ones
    data: DataConfig | None = None  # a folder run's data (its pictures, splits and shape)
    picture: str | None = None  # memorization: where to draw the nearest pairs (PNG)
    trained_on: str | None = None  # a run's data.split (its images are not fresh to it)
    truncation: float = 1.0  # the truncation psi a run's samples were drawn at
    cache: dict = field(default_factory=dict, repr=False)  # features shared by FID and KID


def spec_for(dataset: str, s: "EvalSettings | None" = None) -> Spec:
    """The spec of the data scored: a folder run's from its data config, else the
    built-in data set's."""
    if dataset == FOLDER:
        if s is None or s.data is None:
            raise DataError("samples of your own pictures are scored through their run folder")
        return spec(s.data)
    return info(dataset)


def check_samples(
    samples: np.ndarray | Tensor, dataset: str, s: "EvalSettings | None" = None
) -> Tensor:
    """Validate a sample set for `dataset`; returns float32 (N, ...) on the CPU."""
    expected = spec_for(dataset, s).shape
    if not isinstance(samples, Tensor):
        array = np.asarray(samples)
        if array.dtype.kind != "f":
            raise DataError(f"samples must be floating point, got {array.dtype}")
        samples = torch.from_numpy(array.astype(np.float32))  # also fixes the byte order
    x = samples
    if x.ndim == 0:
        raise DataError("samples must be an array of shape (N, ...), got a single number")
    if not x.is_floating_point():
        raise DataError(f"samples must be floating point, got {x.dtype}")
    if len(x) == 0:
        raise DataError("the sample set is empty")
    if tuple(x.shape[1:]) != expected:
        shape = ", ".join(map(str, expected))
        raise DataError(f"samples for {dataset} must have shape (N, {shape}), got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise DataError("samples contain NaN or infinite values")
    if len(expected) == 3:
        lo, hi = x.min().item(), x.max().item()
        if lo < -1e-6 or hi > 1 + 1e-6:
            hint = "; map [-1, 1] to [0, 1] with (x + 1) / 2" if lo < -0.5 else ""
            raise DataError(
                f"samples lie in [{lo:.3f}, {hi:.3f}] but {dataset} pixels are in [0, 1]{hint}"
            )
    return x.float().cpu()


def parzen(samples: Tensor, dataset: str, s: EvalSettings) -> dict[str, float]:
    if "parzen" not in info(dataset).metrics:
        raise DataError(
            f"the Parzen protocol is the paper's for {', '.join(scorable('parzen'))}, "
            f"not {dataset!r}"
        )
    if len(samples) < s.parzen_samples:
        raise DataError(
            f"parzen needs {s.parzen_samples} samples, got {len(samples)} (draw "
            f"{s.parzen_samples}, or pass --n {len(samples)} to use these as the centres)"
        )
    if s.reference == "valid":
        images = load_images01(dataset, "valid", s.data_root, s.parzen_valid + s.parzen_test)[0]
        # a split smaller than 2 * parzen_valid (the faces' 4 validation people): its first
        # half chooses sigma, its second is scored, so that neither is empty
        cut = min(s.parzen_valid, len(images) // 2)
        valid, test = images[:cut], images[cut:]
    else:
        valid = load_images01(dataset, "valid", s.data_root, s.parzen_valid)[0]
        test = load_images01(dataset, "test", s.data_root, s.parzen_test)[0]
    result = parzen_protocol(
        samples[: s.parzen_samples].flatten(1), valid.flatten(1), test.flatten(1)
    )
    return {
        **result.as_dict(),
        "parzen_centres": s.parzen_samples,
        "parzen_valid": len(valid),
        "parzen_test": len(test),
    }


def sample_count(dataset: str, s: EvalSettings) -> int:
    """How many samples the default metrics of `dataset` need."""
    if dataset == FOLDER:
        return s.fid_samples
    entry = info(dataset)
    if "parzen" in entry.metrics:
        return max(s.parzen_samples, s.fid_samples)
    if "modes" in entry.metrics:
        return s.stacked_samples if entry.images else s.mode_samples
    return s.fid_samples


def modes(samples: Tensor, dataset: str, s: EvalSettings) -> dict[str, float]:
    entry = info(dataset)
    if "modes" in entry.metrics and entry.images:  # stacked MNIST
        return stacked_modes(samples, s)
    if "modes" not in entry.metrics:
        raise DataError(
            f"mode metrics are for the ring and grid mixtures and stacked MNIST, not {dataset!r}"
        )
    if len(samples) < s.mode_samples:
        raise DataError(f"modes needs {s.mode_samples} samples, got {len(samples)}")
    toy = s.toy or DataConfig(name=dataset, std=0.01 if dataset == "ring" else 0.05)
    dist = toy_distribution(toy)
    result = mode_metrics(samples[: s.mode_samples], dist.means, dist.std)
    return {**result, "mode_samples": s.mode_samples}


def stacked_modes(samples: Tensor, s: EvalSettings) -> dict[str, float]:
    """Stacked MNIST: the MNIST classifier reads each channel's digit; modes over 1,000."""
    if len(samples) < s.stacked_samples:
        raise DataError(
            f"modes on stacked MNIST needs {s.stacked_samples} samples, got {len(samples)}"
        )
    x = samples[: s.stacked_samples]
    model = load_classifier("mnist")
    probs = predict(model, x.reshape(-1, 1, *x.shape[2:]))[1]
    digits = probs.argmax(1).view(len(x), 3)
    return {**stacked_mode_metrics(digits), "mode_samples": len(x)}


# the shipped classifiers' features of their reference images, by data set, data folder,
# split and classifier file: a benchmark or a test session scores many runs against them
_REFERENCES: dict[tuple, tuple[torch.nn.Module, Tensor]] = {}


def reference_features(dataset: str, data_root: str | None, reference: str):
    """(the shipped classifier, its features of the 10,000 reference images), computed
    once per process for the same classifier file and data folder."""
    path = weights_path(dataset)
    stat = path.stat() if path.is_file() else None
    stamp = (stat.st_mtime_ns, stat.st_size) if stat else None
    root = data_root if data_root is not None else os.environ.get("ADVNETS_DATA")
    key = (dataset, root, reference, str(path), stamp)
    if key not in _REFERENCES:
        model = load_classifier(dataset)
        test = load_images01(dataset, reference, data_root, 10_000)[0]
        _REFERENCES[key] = (model, predict(model, test)[0])
    return _REFERENCES[key]


def _classifier_outputs(samples: Tensor, dataset: str, s: EvalSettings):
    """Classifier features and probabilities of the samples and of the reference set
    (`s.reference`: the test set, or the validation set during training; cached)."""
    if dataset == FOLDER:
        return folder_features(samples, s)
    if "fid" not in info(dataset).metrics:
        raise DataError(
            f"FID and KID use a shipped domain classifier: there is none for {dataset!r}"
        )
    if s.fid_samples < 2 or len(samples) < s.fid_samples:
        raise DataError(
            f"FID/KID need at least 2 and here {s.fid_samples} samples, got {len(samples)}"
        )
    model, test_feats = reference_features(dataset, s.data_root, s.reference)
    cached = s.cache.get("samples")
    if cached is None or cached[0] is not samples or cached[1] != s.fid_samples:
        s.cache["samples"] = (samples, s.fid_samples, *predict(model, samples[: s.fid_samples]))
    _, _, feats, probs = s.cache["samples"]
    return feats, probs, test_feats


def fid(samples: Tensor, dataset: str, s: EvalSettings) -> dict[str, float]:
    """FID on classifier features against the reference set (the test set unless
    `s.reference` says otherwise), plus the samples' class histogram."""
    if s.fid_samples <= FEATURES:
        raise DataError(
            f"FID needs more samples than the classifier's {FEATURES} features (a covariance "
            f"of full rank), got {s.fid_samples}; score {FEATURES + 1} or more (the "
            f"protocol: 10,000), or use kid"
        )
    feats, probs, test_feats = _classifier_outputs(samples, dataset, s)
    return _named(dataset, s) | {
        "fid": frechet_distance(feats, test_feats),
        "inception_score": inception_score(probs),
        **class_histogram(probs),
        "fid_samples": s.fid_samples,
    }


def kid(samples: Tensor, dataset: str, s: EvalSettings) -> dict[str, float]:
    feats, _, test_feats = _classifier_outputs(samples, dataset, s)
    mean, std = kernel_distance(feats, test_feats)
    return _named(dataset, s) | {"kid": mean, "kid_std": std, "fid_samples": s.fid_samples}


def _named(dataset: str, s: EvalSettings) -> dict[str, str]:
    """The feature space of a folder's FID / KID (a built-in set's own classifier: unnamed,
    as in every earlier row of metrics.jsonl)."""
    return {"features": feature_space(s)} if dataset == FOLDER else {}


METRICS: dict[str, Callable[[Tensor, str, EvalSettings], dict[str, float]]] = {
    "parzen": parzen,
    "fid": fid,
    "kid": kid,
    "modes": modes,
    "memorization": memorization,
    "precision-recall": precision_recall,
}


def applies(metric: str, dataset: str) -> bool:
    """Whether `metric` can score samples of `dataset`."""
    return metric in _metrics_of(dataset)


def jsonable(scores: dict[str, float]) -> dict[str, float | None]:
    """Non-finite floats (e.g. an infinite reverse KL) as null, so the JSON stays standard."""
    return {
        k: None if isinstance(v, float) and not np.isfinite(v) else v for k, v in scores.items()
    }


def metrics_for(dataset: str, s: EvalSettings | None = None) -> list[str]:
    """Every metric that scores `dataset` (what `--metric all` runs), in METRICS' order."""
    return [name for name in METRICS if name in spec_for(dataset, s).metrics]


def summary_line(name: str, scores: dict[str, float]) -> str:
    """The machine-readable last line, e.g. `parzen 225.30 +- 2.01`; a folder's scores
    name their feature space after it."""
    line = _summary(name, scores)
    return line + (f" ({scores['features']} features)" if "features" in scores else "")


def _summary(name: str, scores: dict[str, float]) -> str:
    if name == "parzen":
        return f"parzen {scores['parzen']:.2f} +- {scores['parzen_se']:.2f}"
    if name == "fid":
        return f"fid {scores['fid']:.4f}"
    if name == "kid":
        return f"kid {scores['kid']:.6f} +- {scores['kid_std']:.6f}"
    if name == "precision-recall":
        return f"precision {scores['precision']:.4f} recall {scores['recall']:.4f}"
    if name == "memorization":
        return (
            f"memorization {scores['memorization']:.4f} median_ratio {scores['median_ratio']:.3f}"
        )
    quality = f" high_quality {scores['high_quality']:.4f}" if "high_quality" in scores else ""
    return f"modes {scores['modes']}{quality} reverse_kl {scores['reverse_kl']:.4f}"
