"""Who reads a conditional G's samples as what: for one requested class, how many of G's
samples the shipped (or folder) classifier puts in each class, beside how many the run's own
D class head (AC-GAN, projection_acgan) does. Where the two disagree, G has learnt its D's
boundary between classes rather than the reader's. `--real` adds how well each reads the real
test images of every class; `--jacobian-keep` draws G's samples with Jacobian truncation.

    python benchmarks/class_head_reads.py RUN --label Shirt [--n 500] [--seed 6] [--real]
        [--jacobian-keep 0.5]
"""

import argparse

import torch
from torch import Tensor, nn

from advnets.data import load_split01
from advnets.metrics.fidelity import fidelity_reader
from advnets.runs import load_run
from advnets.sampling import draw_samples, label_index
from advnets.truncation import draw_truncated


def head_probs(D: nn.Module, x: Tensor, y: Tensor, classes: int) -> Tensor | None:
    """D's class head's probabilities (N, C) for images x (in the run's range) given labels
    y; None when the run's D has no class head."""
    with torch.no_grad():
        out = torch.cat([D(xs, ys) for xs, ys in zip(x.split(1000), y.split(1000), strict=True)])
    if out.ndim == 2 and out.shape[1] == 1 + classes:
        return out[:, 1:].softmax(1)
    return None


def head_reads(D: nn.Module, x: Tensor, y: Tensor, classes: int) -> Tensor | None:
    """D's class head's argmax for images x given labels y; None without a class head."""
    probs = head_probs(D, x, y, classes)
    return None if probs is None else probs.argmax(1)


def confidence(run, x: Tensor, label: int, by_reader: Tensor, test: tuple) -> None:
    """How sure D's head is of G's samples x of `label` (quantiles of its P(label | x)),
    and, for real test images it gives P(label | x) above each threshold, how many there
    are, how many are of `label` and how many of them the reader reads as `label`.
    `test`: the real test images on [0, 1], their labels and the reader's reads."""
    cfg, classes = run.cfg, run.cfg.model.num_classes
    D, lo, hi = run.nets["D"].eval(), *cfg.data.value_range
    fake_p = head_probs(D, x, torch.full((len(x),), label), classes)
    if fake_p is None:
        return
    q = fake_p[:, label].quantile(torch.tensor([0.05, 0.25, 0.5]))
    print(
        "D's head P(label) on G's samples, quantiles 5/25/50 %:", [round(v, 4) for v in q.tolist()]
    )
    x01, y, read = test
    real_p = head_probs(D, x01 * (hi - lo) + lo, y, classes)[:, label]
    for t in (0.5, 0.9, 0.99):
        sel = real_p > t
        n = int(sel.sum())
        of_label = (y[sel] == label).float().mean().item() if n else float("nan")
        agree = (read[sel] == label).float().mean().item() if n else float("nan")
        print(f"real test images with P(label) > {t}: {n}, of the label {of_label:.3f}, "
              f"read as the label {agree:.3f}")  # fmt: skip
    sure = fake_p[:, label] > 0.9
    if sure.any():
        agree = (by_reader[sure] == label).float().mean().item()
        print(f"G's samples with P(label) > 0.9: {int(sure.sum())}, read as the label {agree:.3f}")


def real_accuracy(run, test: tuple, classes: int) -> None:
    """Per-class accuracy of the reader and of D's head on the real test split (`test`:
    its images on [0, 1], labels and the reader's reads)."""
    x01, y, by_reader = test
    lo, hi = run.cfg.data.value_range
    by_head = head_reads(run.nets["D"].eval(), x01 * (hi - lo) + lo, y, classes)
    print(f"real test images ({len(y)}), per class accuracy %:")
    for name, pred in (("reader", by_reader), ("D's head", by_head)):
        if pred is None:
            continue
        acc = [100 * (pred[y == c] == c).float().mean().item() for c in range(classes)]
        print(f"  {name + ':':9} " + " ".join(f"{a:5.1f}" for a in acc))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--label", required=True, help="class by name or number")
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--seed", type=int, default=None, help="noise seed (default: the label)")
    p.add_argument("--real", action="store_true", help="also read the real test images")
    p.add_argument("--jacobian-keep", type=float, help="draw with Jacobian truncation")
    p.add_argument("--confidence", action="store_true", help="D's head's certainty, G and real")
    args = p.parse_args()
    run = load_run(args.run)
    cfg = run.cfg
    label = label_index(cfg, args.label)  # a name, or a number as text
    seed = label if args.seed is None else args.seed
    G, keep = run.sampler(), args.jacobian_keep
    if keep is None:
        x = draw_samples(G, cfg, args.n, seed, label)
    else:
        x = draw_truncated(G, cfg, args.n, keep, seed, label).detach()
    lo, hi = cfg.data.value_range
    classes = cfg.model.num_classes
    reader = fidelity_reader(cfg.data, required=True)
    with torch.no_grad():
        shipped = reader(((x - lo) / (hi - lo)).clamp(0, 1))
    print(f"class {label}, {args.n} samples; columns: classes 0..{classes - 1}")
    print("reader:  ", torch.bincount(shipped, minlength=classes).tolist())
    head = head_reads(run.nets["D"].eval(), x, torch.full((len(x),), label), classes)
    if head is None:
        print("D's head: none (this run's D has no class head)")
    else:
        print("D's head:", torch.bincount(head, minlength=classes).tolist())
    if args.real or args.confidence:  # the test split, read once for both
        x01, y = load_split01(cfg.data, "test")
        with torch.no_grad():
            test = (x01, y, reader(x01))
    if args.real:
        real_accuracy(run, test, classes)
    if args.confidence:
        confidence(run, x, label, shipped, test)


if __name__ == "__main__":
    main()
