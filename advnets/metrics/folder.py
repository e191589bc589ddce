"""Scoring a run on one's own pictures: FID / KID in the features of the shipped CIFAR-10
classifier (pictures resized to 32 x 32, grey ones repeated over three channels), against
the folder's held-out images; and the copying check a small-data user asks for: is each
sample much nearer to a training picture than to any held-out one?"""

import torch
from torch import Tensor

from advnets.data import load_split01
from advnets.errors import DataError
from advnets.metrics.classifier import FEATURES, load_classifier, predict
from advnets.metrics.folder_classifier import FEATURE_SPACE as OWN_SPACE
from advnets.metrics.folder_classifier import as_cifar, load_folder_classifier

FEATURE_SPACE = "cifar10-classifier"  # named beside every folder score
REFERENCE = 10_000  # held-out images embedded, at most
MEMORIZATION_SAMPLES = 1_000  # samples checked for copying, at most
TRAIN_IMAGES = 20_000  # training pictures searched for each sample's nearest, at most
RATIO = 0.5  # "much nearer": the nearest training picture at under half the distance


def _reference_split(s) -> str:
    """The folder's held-out images (valid); all of them (full) when none are held out or
    when asked (few-shot practice: FID against the whole small set)."""
    return "valid" if s.data.valid_fraction > 0 and s.reference != "full" else "full"


def _model(s):
    """The folder's own classifier where one was trained (`advnets classifier --images`),
    else the shipped CIFAR-10 one; and the name of its feature space."""
    own = load_folder_classifier(s.data)
    return (own, OWN_SPACE) if own is not None else (load_classifier("cifar10"), FEATURE_SPACE)


def feature_space(s) -> str:
    """The name of the features a folder run's FID / KID were measured in."""
    return s.cache.get("feature_space", FEATURE_SPACE)


# the fewest reference pictures each metric needs: FID a covariance of full rank (more than
# the classifier's 128 features), KID two per subset, precision-recall more than k = 3, the
# copying check enough held-out pictures that "nearer than any of them" means something
LEAST_REFERENCE = {"fid": FEATURES + 1, "kid": 2, "precision-recall": 4, "memorization": 10}


def reference_count(s) -> int:
    """How many pictures a folder run's scores compare against (the held-out ones)."""
    from advnets.data.registry import DATASETS

    split = _reference_split(s) if s.reference != "valid" else "valid"
    return len(DATASETS.get("folder").loader(s.data, split))


def check_reference(metric: str, s) -> None:
    """One line when the folder holds too few held-out pictures for `metric`."""
    n, least = reference_count(s), LEAST_REFERENCE.get(metric, 1)
    if n < least:
        raise DataError(
            f"{metric} needs at least {least} held-out pictures and this folder holds {n}; "
            f"raise data.valid_fraction or add pictures"
            + ("; kid works from 2" if metric == "fid" else "")
        )


def folder_features(samples: Tensor, s) -> tuple[Tensor, Tensor, Tensor]:
    """(sample features, sample class probabilities, reference features) for FID / KID."""
    if s.fid_samples < 2 or len(samples) < s.fid_samples:
        raise DataError(
            f"FID/KID need at least 2 and here {s.fid_samples} samples, got {len(samples)}"
        )
    split = _reference_split(s)
    key = ("folder-reference", s.data.path, tuple(s.data.image_size), s.data.split_seed, split)
    if key not in s.cache:
        model, s.cache["feature_space"] = _model(s)
        images = load_split01(s.data, split, REFERENCE)[0]
        s.cache[key] = (model, predict(model, as_cifar(images))[0])
    model, reference = s.cache[key]
    feats, probs = predict(model, as_cifar(samples[: s.fid_samples]))
    return feats, probs, reference


def _radii(x: Tensor, k: int) -> Tensor:
    """Each row's distance to its k-th nearest other row (the k-NN ball of its manifold)."""
    return torch.cat([torch.cdist(part, x).kthvalue(k + 1, 1).values for part in x.split(256)])


def _covered(x: Tensor, centres: Tensor, radii: Tensor) -> Tensor:
    """Whether each row of x lies inside some centre's ball."""
    return torch.cat([(torch.cdist(part, centres) <= radii).any(1) for part in x.split(256)])


def precision_recall(samples: Tensor, dataset: str, s, k: int = 3) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) in the folder's feature
    space: the share of samples inside the k-NN balls of the held-out pictures (quality),
    and of held-out pictures inside the samples' balls (coverage)."""
    if dataset != "folder":
        raise DataError("precision-recall scores runs on your own pictures (train --images)")
    feats, _, reference = folder_features(samples, s)
    if min(len(feats), len(reference)) <= k:
        raise DataError(f"precision-recall needs more than {k} samples and held-out pictures")
    precision = _covered(feats, reference, _radii(reference, k)).float().mean()
    recall = _covered(reference, feats, _radii(feats, k)).float().mean()
    return {
        "precision": float(precision),
        "recall": float(recall),
        "pr_samples": len(feats),
        "features": feature_space(s),
    }


def _nearest(x: Tensor, pool: Tensor, chunk: int = 256) -> tuple[Tensor, Tensor]:
    """(distance, index) of each row of x's nearest row of pool (Euclidean, pixels)."""
    dist, idx = [], []
    for part in x.split(chunk):
        d = torch.cdist(part, pool)
        best = d.min(1)
        dist.append(best.values)
        idx.append(best.indices)
    return torch.cat(dist), torch.cat(idx)


def memorization(samples: Tensor, dataset: str, s) -> dict[str, float]:
    """The share of samples whose nearest training picture is under RATIO times as far as
    their nearest held-out picture (pixel distance at the training size): near 0 for a G
    that generalises, near 1 for one that copies. With `s.picture`, the 16 most suspicious
    samples beside their nearest training and held-out pictures."""
    if dataset != "folder":
        raise DataError("memorization scores runs on your own pictures (train --images DIR)")
    if s.data is None or s.data.valid_fraction <= 0:
        raise DataError(
            "memorization compares samples with held-out pictures: train with "
            "data.valid_fraction > 0 (the default 0.1)"
        )
    x = samples[:MEMORIZATION_SAMPLES].flatten(1)
    train = load_split01(s.data, "train", TRAIN_IMAGES)[0]
    valid = load_split01(s.data, "valid", TRAIN_IMAGES)[0]
    d_train, i_train = _nearest(x, train.flatten(1))
    d_valid, i_valid = _nearest(x, valid.flatten(1))
    ratio = d_train / d_valid.clamp_min(1e-8)
    if s.picture:
        _draw_pairs(samples, train, valid, ratio, i_train, i_valid, s.picture)
    return {
        "memorization": float((ratio < RATIO).float().mean()),
        "median_ratio": float(ratio.median()),
        "memorization_samples": len(x),
        "distance": "pixels",
    }


def _draw_pairs(samples, train, valid, ratio, i_train, i_valid, path: str) -> None:
    """Rows of (sample, nearest training picture, nearest held-out picture), the samples
    with the smallest ratio first."""
    from advnets.viz import save_image_grid

    order = ratio.argsort()[:16]
    rows = [torch.stack([samples[i], train[i_train[i]], valid[i_valid[i]]]) for i in order]
    save_image_grid(torch.cat(rows), path, (0.0, 1.0), nrow=3)
