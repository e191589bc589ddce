"""Drawing samples from a trained generator."""

from pathlib import Path

import torch
from torch import Tensor, nn

from advnets.checkpoint import load_checkpoint
from advnets.config import Config, config_from_dict
from advnets.data import sample_noise
from advnets.nets import build_generator


@torch.no_grad()
def generate(G: nn.Module, z: Tensor, chunk: int = 1000) -> Tensor:
    """G(z) in eval mode (batch norm uses running statistics), as float32 on the CPU."""
    was_training = G.training
    G.eval()
    try:
        return torch.cat([G(part).float().cpu() for part in z.split(chunk)])
    finally:
        G.train(was_training)


def load_generator(run_dir: Path, device: str | torch.device = "cpu") -> tuple[nn.Module, Config]:
    """The generator of a run folder (or checkpoint file) and the config it was trained with."""
    ckpt = load_checkpoint(run_dir, map_location=device)
    cfg = config_from_dict(ckpt["config"])
    shape = tuple(ckpt["data_shape"])
    placeholder_mean = torch.full((int(torch.tensor(shape).prod()),), 0.5)
    G = build_generator(cfg.model, shape, placeholder_mean).to(device)
    G.load_state_dict(ckpt["generator"])
    return G, cfg


def sample_from_run(run_dir: Path, n: int, seed: int = 0) -> tuple[Tensor, Config]:
    """n samples (N, *data_shape), float32, in the data range of the run's preset."""
    G, cfg = load_generator(run_dir)
    gen = torch.Generator().manual_seed(seed)
    m = cfg.model
    z = sample_noise(n, m.z_dim, m.noise, m.noise_scale, generator=gen)
    return generate(G, z), cfg
