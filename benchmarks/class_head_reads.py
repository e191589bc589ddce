"""Who reads a conditional G's samples as what: for one requested class, how many of G's
samples the shipped (or folder) classifier puts in each class, beside how many the run's own
D class head (AC-GAN, projection_acgan) does. Where the two disagree, G has learnt its D's
boundary between classes rather than the reader's.

    python benchmarks/class_head_reads.py RUN --label Shirt [--n 500] [--seed 6]
"""

import argparse

import torch

from advnets.metrics.fidelity import fidelity_reader
from advnets.runs import load_run
from advnets.sampling import draw_samples, label_index


@torch.no_grad()
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--label", required=True, help="class by name or number")
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--seed", type=int, default=None, help="noise seed (default: the label)")
    args = p.parse_args()
    run = load_run(args.run)
    cfg = run.cfg
    label = label_index(cfg, args.label)  # a name, or a number as text
    x = draw_samples(run.sampler(), cfg, args.n, label if args.seed is None else args.seed, label)
    lo, hi = cfg.data.value_range
    classes = cfg.model.num_classes
    reader = fidelity_reader(cfg.data, required=True)
    shipped = reader(((x - lo) / (hi - lo)).clamp(0, 1))
    print(f"class {label}, {args.n} samples; columns: classes 0..{classes - 1}")
    print("reader:  ", torch.bincount(shipped, minlength=classes).tolist())
    out = run.nets["D"](x, torch.full((len(x),), label))
    if out.ndim == 2 and out.shape[1] == 1 + classes:
        print("D's head:", torch.bincount(out[:, 1:].argmax(1), minlength=classes).tolist())
    else:
        print("D's head: none (this run's D has no class head)")


if __name__ == "__main__":
    main()
