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


def head_reads(D: nn.Module, x: Tensor, y: Tensor, classes: int) -> Tensor | None:
    """D's class head's argmax for images x (in the run's range) given labels y; None when
    the run's D has no class head."""
    with torch.no_grad():
        out = torch.cat([D(xs, ys) for xs, ys in zip(x.split(1000), y.split(1000), strict=True)])
    if out.ndim == 2 and out.shape[1] == 1 + classes:
        return out[:, 1:].argmax(1)
    return None


def real_accuracy(run, reader, classes: int) -> None:
    """Per-class accuracy of the reader and of D's head on the real test split."""
    cfg = run.cfg
    x01, y = load_split01(cfg.data, "test")
    lo, hi = cfg.data.value_range
    with torch.no_grad():
        by_reader = reader(x01)
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
    if args.real:
        real_accuracy(run, reader, classes)


if __name__ == "__main__":
    main()
