"""Speed of advnets' maxout against the same layer reduced with `amax`, measured in the same
run: the layer alone (forward + backward) and whole training steps of the presets whose
discriminators are maxout nets (gan-mnist: the paper's MNIST D; pacgan-grid: PacGAN's D).

`amax` splits the gradient evenly among tied pieces, `max(dim)` sends it to one winner; the
linear pieces of a maxout unit practically never tie, and the script checks that both give
the same outputs and gradients.

    python benchmarks/maxout.py [--data DIR] [--threads 1] [--repeats 100] [--steps 100]
"""

import argparse
import os

import torch
from results import nonnegative_int, positive_int
from timing import best_of_3, step_ms
from torch import Tensor

from advnets.config import path_override
from advnets.data import load_images01
from advnets.errors import exit_on_error
from advnets.nets.layers import Maxout


def amax_forward(self: Maxout, x: Tensor) -> Tensor:
    y = self.linear(x)
    return y.view(*y.shape[:-1], self.units, self.pieces).amax(dim=-1)


OURS = Maxout.forward


def layer_ms(
    forward, batch: int, in_features: int, units: int, pieces: int, repeats: int
) -> tuple[float, list[Tensor]]:
    """ms of forward + backward of one layer, and its output and gradients (for the check)."""
    Maxout.forward = forward
    torch.manual_seed(0)
    layer = Maxout(in_features, units, pieces)
    x = torch.randn(batch, in_features, requires_grad=True)
    g = torch.randn(batch, units)
    ms = best_of_3(lambda: layer(x).backward(g), repeats)
    x.grad = None
    layer.zero_grad()
    y = layer(x)
    y.backward(g)
    return ms, [y.detach(), x.grad, layer.linear.weight.grad]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        default=os.environ.get("ADVNETS_DATA", "../shared/data"),
        help="data folder (MNIST, for the gan-mnist step)",
    )
    parser.add_argument("--threads", type=positive_int, default=1)
    parser.add_argument("--repeats", type=positive_int, default=100)
    parser.add_argument(
        "--steps", type=nonnegative_int, default=100, help="training steps per preset (0: none)"
    )
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    if args.steps:  # gan-mnist's MNIST, before any timing: one line if it is not there
        load_images01("mnist", "train", args.data, n=1, download=False)
    torch.set_num_threads(args.threads)

    print(
        f"{'layer (batch, in -> units x pieces)':<38} {'amax ms':>8} {'ours ms':>8} "
        f"{'speed-up':>8} {'max diff':>9}"
    )
    # the paper's MNIST D (240 x 5, batch 100) and PacGAN's D (200 x 5, real + fake = 200)
    for batch, fan_in, units, pieces in [(100, 784, 240, 5), (200, 200, 200, 5)]:
        base, ref = layer_ms(amax_forward, batch, fan_in, units, pieces, args.repeats)
        ours, out = layer_ms(OURS, batch, fan_in, units, pieces, args.repeats)
        diff = max((a - b).abs().max().item() for a, b in zip(ref, out, strict=True))
        print(
            f"{f'{batch}, {fan_in} -> {units} x {pieces}':<38} {base:>8.3f} {ours:>8.3f} "
            f"{base / ours:>7.2f}x {diff:>9.1e}"
        )

    if args.steps:
        print(f"\n{'training step':<38} {'amax ms':>8} {'ours ms':>8} {'speed-up':>8}")
        for preset in ["gan-mnist", "pacgan-grid"]:
            data = [path_override("data.root", args.data)]
            Maxout.forward = amax_forward
            base = step_ms(preset, data, args.steps)
            Maxout.forward = OURS
            ours = step_ms(preset, data, args.steps)
            print(f"{preset:<38} {base:>8.2f} {ours:>8.2f} {base / ours:>7.2f}x")
    Maxout.forward = OURS


if __name__ == "__main__":
    exit_on_error(main)
