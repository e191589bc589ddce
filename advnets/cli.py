"""The `advnets` command: presets | train | sample."""

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

from advnets.checkpoint import checkpoint_path, load_checkpoint
from advnets.config import load_preset, preset_description, preset_names
from advnets.errors import AdvnetsError, ConfigError


def cmd_presets(args: argparse.Namespace) -> None:
    if args.show:
        print(yaml.safe_dump(load_preset(args.show).to_dict(), sort_keys=False), end="")
        return
    names = preset_names()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {preset_description(name)}")


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


def _eval_samples(args: argparse.Namespace):
    """(samples, dataset, settings, (run_dir, step) or None) for `advnets eval`."""
    from advnets.metrics.evaluate import EvalSettings, check_samples
    from advnets.sampling import draw_samples, generator_from_checkpoint

    settings = EvalSettings(data_root=args.data)
    if args.n is not None:
        if args.n < 2:
            raise ConfigError(f"--n must be at least 2, got {args.n}")
        settings.parzen_samples = settings.mode_samples = settings.fid_samples = args.n
    if args.samples:
        if not args.dataset:
            raise ConfigError("--samples needs --dataset (mnist, fashion, ring or grid)")
        if args.run_dir:
            raise ConfigError("pass either a run folder or --samples, not both")
        try:
            array = np.load(args.samples, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ConfigError(f"{args.samples}: not a readable .npy file ({err})") from None
        if not isinstance(array, np.ndarray):
            raise ConfigError(f"{args.samples}: holds several arrays (.npz); save one with "
                              f"numpy.save")
        return check_samples(array, args.dataset), args.dataset, settings, None
    if not args.run_dir:
        raise ConfigError("pass a run folder, or --samples FILE.npy --dataset NAME")
    if args.dataset:
        raise ConfigError("--dataset goes with --samples; a run knows its data set")
    ckpt = load_checkpoint(args.run_dir)
    G, cfg = generator_from_checkpoint(ckpt)
    dataset = cfg.data.name
    if dataset in ("ring", "grid"):
        settings.toy = cfg.data
    settings.data_root = args.data or cfg.data.root
    n = settings.parzen_samples if dataset in ("mnist", "fashion") else settings.mode_samples
    samples = draw_samples(G, cfg, n, args.seed)
    lo, hi = cfg.data.value_range
    if samples.ndim == 4 and (lo, hi) != (0.0, 1.0):
        samples = (samples - lo) / (hi - lo)  # the metrics' images are on [0, 1]
    run_dir = checkpoint_path(Path(args.run_dir)).parent
    return check_samples(samples, dataset), dataset, settings, (run_dir, ckpt["counters"]["step"])


def cmd_eval(args: argparse.Namespace) -> None:
    import json

    from advnets.metrics.evaluate import METRICS, jsonable, metrics_for, summary_line

    samples, dataset, settings, run = _eval_samples(args)
    names = metrics_for(dataset) if args.metric == "all" else [args.metric]
    rows = {}
    for name in names:
        rows[name] = METRICS[name](samples, dataset, settings)
        for key, value in rows[name].items():
            print(f"{key:<16} {value:.4f}" if isinstance(value, float) else f"{key:<16} {value}")
    if run is not None:
        run_dir, step = run
        with (run_dir / "metrics.jsonl").open("a") as f:
            scores = jsonable({k: v for r in rows.values() for k, v in r.items()})
            f.write(json.dumps({"eval": scores, "step": step}) + "\n")
    for name in names:
        print(summary_line(name, rows[name]))


def cmd_classifier(args: argparse.Namespace) -> None:
    from advnets.metrics.classifier import train_classifier, weights_path

    if args.out is None and not args.replace_shipped:
        raise ConfigError("name the weights file with --out FILE (or --replace-shipped to "
                          "overwrite the package's weights, which changes every FID/KID)")
    out = Path(args.out) if args.out else weights_path(args.dataset)
    accuracy = train_classifier(args.dataset, args.data, args.epochs, args.seed, out)
    print(f"classifier for {args.dataset}: test accuracy {accuracy:.4f} -> {out}")


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

    p = sub.add_parser("eval", help="score a run, or a .npy file of samples from anywhere")
    p.add_argument("run_dir", nargs="?", help="run folder (samples are drawn from its G)")
    p.add_argument("--samples", metavar="FILE.npy", help="score these samples instead")
    p.add_argument("--dataset", help="what --samples are samples of: mnist, fashion, ring, grid")
    p.add_argument("--metric", default="all", choices=["parzen", "fid", "kid", "modes", "all"])
    p.add_argument("--n", type=int,
                   help="samples scored (default: the protocol's: 10,000 Parzen, 2,500 modes)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise")
    p.add_argument("--data", metavar="DIR", help="data folder (else $ADVNETS_DATA)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("classifier", help="train the evaluation classifier (FID/KID features)")
    p.add_argument("dataset", choices=["mnist", "fashion"])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="weights file to write")
    p.add_argument("--replace-shipped", action="store_true",
                   help="write the package's own weights (how the shipped ones were made)")
    p.add_argument("--data", metavar="DIR", help="data folder (else $ADVNETS_DATA)")
    p.set_defaults(func=cmd_classifier)
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
