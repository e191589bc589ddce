"""The `advnets` command: presets | train | sample."""

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

from advnets.config import load_preset, load_yaml, preset_names
from advnets.errors import AdvnetsError, ConfigError


def cmd_presets(args: argparse.Namespace) -> None:
    if args.show:
        print(yaml.safe_dump(load_preset(args.show).to_dict(), sort_keys=False), end="")
        return
    names = preset_names()
    width = max(map(len, names))
    from importlib import resources

    folder = resources.files("advnets") / "presets"
    for name in names:
        description = load_yaml(folder / f"{name}.yaml").get("description", "")
        print(f"{name:<{width}}  {description}")


def _train_overrides(args: argparse.Namespace) -> list[str]:
    overrides = list(args.set or [])
    if args.data:
        overrides.append(f"data.root={args.data}")
    if args.steps is not None:
        overrides += [f"train.steps={args.steps}", "train.epochs=null"]
    if args.epochs is not None:
        overrides += ["train.steps=null", f"train.epochs={args.epochs}"]
    return overrides


def cmd_train(args: argparse.Namespace) -> None:
    from advnets.checkpoint import CHECKPOINT
    from advnets.train import train

    overrides = _train_overrides(args)
    if args.resume:
        run_dir = Path(args.resume)
        run = train(None, run_dir, resume=True, overrides=overrides)
    else:
        if not args.preset:
            raise ConfigError("name a preset (see `advnets presets`) or pass --resume RUN_DIR")
        cfg = load_preset(args.preset, overrides)
        run_dir = Path(args.out or Path("runs") / Path(args.preset).stem)
        if (run_dir / CHECKPOINT).exists():
            raise ConfigError(f"{run_dir} already holds a run; continue it with --resume "
                              f"{run_dir} or choose another folder with --out")
        run = train(cfg, run_dir)
    print(f"trained {run.counters.step} steps ({run.counters.epoch:.2f} epochs) -> {run_dir}")


def cmd_sample(args: argparse.Namespace) -> None:
    from advnets.sampling import sample_from_run
    from advnets.viz import save_image_grid, save_points_plot

    if args.n < 1:
        raise ConfigError(f"--n must be at least 1, got {args.n}")
    out = Path(args.out)
    if out.suffix not in (".npy", ".png"):
        raise ConfigError(f"--out must end in .npy or .png, got {out.name!r}")
    samples, cfg = sample_from_run(Path(args.run_dir), args.n, args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npy":
        np.save(out, samples.numpy().astype(np.float32))
    elif samples.ndim == 4:
        save_image_grid(samples, out, tuple(cfg.data.value_range))
    else:
        save_points_plot(samples, out)
    print(f"wrote {args.n} samples {tuple(samples.shape[1:])} -> {out}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="advnets", description="Generative Adversarial Nets: train, sample, evaluate.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("presets", help="list the shipped presets")
    p.add_argument("--show", metavar="NAME", help="print one preset's full resolved config")
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("train", help="train a preset (or continue a run with --resume)")
    p.add_argument("preset", nargs="?", help="preset name (see `advnets presets`) or a .yaml")
    p.add_argument("--out", help="run folder (default: runs/PRESET)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="Algorithm-1 iterations (k D + 1 G update)")
    length.add_argument("--epochs", type=float, help="passes of D over the training data")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.k=5 (repeatable)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run saved in RUN_DIR")
    p.add_argument("--data", metavar="DIR", help="data folder (else $ADVNETS_DATA)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="draw samples from a trained run")
    p.add_argument("run_dir", help="run folder (or checkpoint file)")
    p.add_argument("--n", type=int, default=64, help="number of samples")
    p.add_argument("--out", required=True, help=".npy (N, C, H, W float32) or .png grid")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise")
    p.set_defaults(func=cmd_sample)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except AdvnetsError as err:
        print(f"advnets: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("advnets: interrupted; continue with `advnets train --resume RUN_DIR`",
              file=sys.stderr)
        return 130
    except OSError as err:
        print(f"advnets: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
