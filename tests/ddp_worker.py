"""One process of the data-parallel tests: `advnets train ...` (the argv after the
options below), launched by torch.distributed.run or alone.

--fixed-alpha: the gradient penalty's interpolation weight of each sample is a function of
    that sample, so a split run and one process interpolate at the same points;
--writes DIR: every checkpoint write is recorded in DIR/writes-rank<RANK>.txt.
"""

import os
import sys

import torch

import advnets.methods.gan as gan
import advnets.training.hooks as hooks
from advnets.cli import main


def fixed_alpha_penalty(D, real, fake):
    """The gradient penalty at alpha = sigmoid(sum of the real sample's values)."""
    alpha = torch.sigmoid(real.detach().flatten(1).sum(1))
    return fixed_alpha_penalty.original(D, real, fake, alpha)


def record_writes(folder: str) -> None:
    original, rank = hooks.save_atomic, os.environ.get("RANK", "0")

    def save(obj, path):
        with open(os.path.join(folder, f"writes-rank{rank}.txt"), "a") as f:
            f.write(f"{path}\n")
        original(obj, path)

    hooks.save_atomic = save


if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[0] == "--fixed-alpha":
        fixed_alpha_penalty.original = gan.gradient_penalty
        gan.gradient_penalty = fixed_alpha_penalty
        argv = argv[1:]
    if argv[0] == "--writes":
        record_writes(argv[1])
        argv = argv[2:]
    sys.exit(main(argv))
