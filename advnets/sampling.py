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
    return generator_from_checkpoint(load_checkpoint(run_dir, map_location=device), device)


def generator_from_checkpoint(ckpt: dict, device: str | torch.device = "cpu"
                              ) -> tuple[nn.Module, Config]:
    """Rebuild G from a loaded checkpoint (its state dict, data shape and config)."""
    cfg = config_from_dict(ckpt["config"])
    shape = tuple(ckpt["data_shape"])
    placeholder_mean = torch.full((int(torch.tensor(shape).prod()),), 0.5)
    G = build_generator(cfg.model, shape, placeholder_mean).to(device)
    G.load_state_dict(ckpt["generator"])
    return G, cfg


def sample_from_run(run_dir: Path, n: int, seed: int = 0) -> tuple[Tensor, Config]:
    """n samples (N, *data_shape), float32, in the data range of the run's preset."""
    G, cfg = load_generator(run_dir)
    return draw_samples(G, cfg, n, seed), cfg


def draw_samples(G: nn.Module, cfg: Config, n: int, seed: int = 0) -> Tensor:
    """G(z) for n draws of the run's noise prior from a seeded generator of their own (so
    the training RNG is untouched), as float32 on the CPU."""
    m = cfg.model
    z = sample_noise(n, m.z_dim, m.noise, m.noise_scale,
                     generator=torch.Generator().manual_seed(seed))
    return generate(G, z.to(next(G.parameters()).device))
