"""Speed of the minibatch-discrimination layer against the straightforward broadcast of the
paper's formula, measured in the same run.

advnets takes the L1 distances with cdist, which never holds the (N, N, B, C) differences,
under its own backward laid out as (C, B, N, N) (advnets.nets.layers._PairwiseL1); the
baseline below computes (N, N, B, C) differences and sums their last axis of C under autograd.
Both support double backward (Unrolled GAN needs it). Prints forward+backward ms of each for
the layer sizes of the 2-D small set-up (A = 256) and of Salimans et al. (B = 100, C = 5),
their ratio, and the largest difference of outputs and gradients; then the ms of a whole
training step of the small 2-D set-up (gan-grid, batch 100) with the layer (B = 100, C = 5),
either way, and without it.

    python benchmarks/minibatch_discrimination.py [--batch 100] [--threads 1] [--repeats 50]
        [--steps 50]
"""

import argparse

import torch
from results import nonnegative_int, positive_int
from timing import best_of_3, step_ms
from torch import Tensor

from advnets.errors import exit_on_error
from advnets.nets.layers import MinibatchDiscrimination


def broadcast_baseline(layer: MinibatchDiscrimination, f: Tensor) -> Tensor:
    M = torch.einsum("na,abc->nbc", f, layer.T)  # (N, B, C)
    o = torch.exp(-(M.unsqueeze(1) - M.unsqueeze(0)).abs().sum(dim=3)).sum(dim=1)
    return torch.cat([f, o], dim=1)


OURS = MinibatchDiscrimination.forward


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=positive_int, default=100)
    parser.add_argument("--features", type=positive_int, default=256)
    parser.add_argument("--kernels", type=positive_int, default=100)
    parser.add_argument("--kernel-dim", type=positive_int, default=5)
    parser.add_argument("--threads", type=positive_int, default=1)
    parser.add_argument("--repeats", type=positive_int, default=50)
    parser.add_argument(
        "--steps", type=nonnegative_int, default=50, help="training steps timed (0: none)"
    )
    return parser.parse_args(argv)


def time_training_steps(steps: int) -> None:
    """Print the ms of a gan-grid training step (batch 100) with the layer (B = 100, C = 5),
    with the broadcast baseline in its place, and without the layer."""
    md = [
        "train.batch_size=100",
        "model.discriminator.minibatch_kernels=100",
        "model.discriminator.minibatch_kernel_dim=5",
    ]
    ours_step = step_ms("gan-grid", md, steps)
    MinibatchDiscrimination.forward = broadcast_baseline
    base_step = step_ms("gan-grid", md, steps)
    MinibatchDiscrimination.forward = OURS
    plain = step_ms("gan-grid", ["train.batch_size=100"], steps)
    print(
        f"\ntraining step, gan-grid, batch 100: {ours_step:.1f} ms with the layer, "
        f"{base_step:.1f} ms with the broadcast ({base_step / ours_step:.2f}x), "
        f"{plain:.1f} ms without it: the layer makes a step {ours_step / plain:.1f}x "
        f"as long"
    )


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    layer = MinibatchDiscrimination(args.features, args.kernels, args.kernel_dim)
    f = torch.randn(args.batch, args.features, requires_grad=True)
    g = torch.randn(args.batch, args.features + args.kernels)
    ours = best_of_3(lambda: layer(f).backward(g), args.repeats)
    base = best_of_3(lambda: broadcast_baseline(layer, f).backward(g), args.repeats)

    out = (layer(f) - broadcast_baseline(layer, f)).abs().max().item()
    grads = [
        torch.autograd.grad((fn(f) * g).sum(), (f, layer.T))
        for fn in (layer, lambda x: broadcast_baseline(layer, x))
    ]
    grad = max((a - b).abs().max().item() for a, b in zip(*grads, strict=True))
    print(
        f"N={args.batch} A={args.features} B={args.kernels} C={args.kernel_dim}, "
        f"{args.threads} thread(s), forward+backward"
    )
    print(f"advnets (cdist + own backward): {ours:7.1f} ms")
    print(f"broadcast (N, N, B, C):         {base:7.1f} ms")
    print(f"speed-up: {base / ours:.2f}x; max |difference|: output {out:.1e}, gradients {grad:.1e}")

    if args.steps:
        time_training_steps(args.steps)


if __name__ == "__main__":
    exit_on_error(main)
