"""Why a cgan-mnist run can lose its label for good: the generator's label branch (y's
embedding -> 1000 ReLU units) sees only ten different inputs, so a unit that Adam pushes
below zero for all ten classes gets no gradient again. This traces, every 10 steps, the
fraction of the branch's units that are on for at least one class (and on average), and
at the end the spread of G's output over y for a fixed z. With --probe RUN it reads a trained
run instead: the branch's live units per class, how much G's output varies over y and over
z, and D's mean output on real test digits with their own label and with another.

    python benchmarks/cgan_label_branch.py [--preset cgan-mnist] [--seed 1] [--steps 100]
    python benchmarks/cgan_label_branch.py --probe runs/cgan-mnist
"""

import argparse

import torch

from advnets.config import apply_overrides, load_preset
from advnets.training.run import build_run


@torch.no_grad()
def alive(G: torch.nn.Module, classes: int) -> tuple[float, float]:
    """(units on for some class, mean fraction of units on) of G's label branch."""
    h = G.y_branch(G.label(torch.arange(classes)))
    return float((h > 0).any(0).float().mean()), float((h > 0).float().mean())


@torch.no_grad()
def probe(run_dir: str) -> None:
    """A trained branched conditional run: G's label branch and D's use of the label."""
    from advnets.data import load_images01
    from advnets.runs import load_run
    from advnets.sampling import draw_noise

    run = load_run(run_dir, average=False)
    cfg = run.cfg
    G, D, classes = run.sampler(), run.nets["D"], cfg.model.num_classes
    y = torch.arange(classes)
    h = G.y_branch(G.label(y))
    print("label-branch units on, per class:", (h > 0).sum(1).tolist())
    z = draw_noise(cfg, 64, seed=0)
    over_y = G(z[:1].repeat(classes, 1), y).std(0).mean()
    over_z = G(z, torch.zeros(64, dtype=torch.long)).std(0).mean()
    print(
        f"G's output, mean std: over the labels for one z {float(over_y):.4f}, "
        f"over 64 z for label 0 {float(over_z):.4f}"
    )
    x, labels = load_images01(cfg.data.name, "test", cfg.data.root, n=500)
    shift = torch.randint(1, classes, (500,), generator=torch.Generator().manual_seed(0))
    other = (labels + shift) % classes
    right, wrong = torch.sigmoid(D(x, labels)).mean(), torch.sigmoid(D(x, other)).mean()
    print(f"D on 500 test images: with their label {float(right):.3f}, another {float(wrong):.3f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="cgan-mnist")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--every", type=int, default=10)
    p.add_argument("--probe", metavar="RUN", help="read a trained run instead of training")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.probe:
        return probe(args.probe)
    cfg = apply_overrides(load_preset(args.preset), [f"train.seed={args.seed}"])
    run = build_run(cfg)
    G, classes = run.players["G"].net, cfg.model.num_classes
    print(f"step 0: label-branch units on for some class {alive(G, classes)[0]:.3f}")
    while run.counters.step < args.steps:
        run.step()
        if run.counters.step % args.every == 0:
            some, mean = alive(G, classes)
            print(
                f"step {run.counters.step}: on for some class {some:.3f}, on on average {mean:.3f}"
            )
    with torch.no_grad():
        G.eval()
        z = torch.rand(1, cfg.model.z_dim).repeat(classes, 1)
        spread = G(z, torch.arange(classes)).std(0).mean()
    print(f"G(z, y) for one z: mean std over the {classes} labels {float(spread):.4f}")


if __name__ == "__main__":
    main()
