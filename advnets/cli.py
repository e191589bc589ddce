"""The `advnets` command line: one `cmd_*` function per subcommand (see `advnets --help`)."""

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from advnets import __version__
from advnets.api import resolve_device
from advnets.checkpoint import load_checkpoint
from advnets.cli_args import (
    DEVICE_HELP,
    DEVICES,
    add_device_argument,
    add_image_input_arguments,
    add_range_argument,
    add_truncation_argument,
    check_suffix,
    count,
    integer,
    seed_value,
)
from advnets.cli_eval import add_eval_command
from advnets.cli_pictures import add_picture_commands
from advnets.cli_restore import add_restore_commands
from advnets.config import (
    Config,
    apply_overrides,
    config_from_dict,
    load_preset,
    path_override,
    preset_description,
    preset_names,
)
from advnets.data.registry import import_plugins
from advnets.errors import AdvnetsError, ConfigError
from advnets.files import atomic_write, refuse_overwriting_inputs, save_npy
from advnets.metrics.classifier import SPECS

if TYPE_CHECKING:
    from torch import Tensor, nn


def cmd_presets(args: argparse.Namespace) -> None:
    if args.show:
        print(yaml.safe_dump(load_preset(args.show).to_dict(), sort_keys=False), end="")
        return
    names = preset_names()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {preset_description(name)}")


def _train_overrides(args: argparse.Namespace) -> list[str]:
    """--set first, then the dedicated flags, which therefore win over a --set of their key."""
    overrides = list(args.set or [])
    if args.data:
        overrides.append(path_override("data.root", args.data))
    if args.steps is not None:
        overrides += [f"train.steps={args.steps}", "train.epochs=null"]
    if args.epochs is not None:
        overrides += ["train.steps=null", f"train.epochs={args.epochs}"]
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    if args.device is not None:
        overrides.append(f"train.device={args.device}")
    return overrides


def _train_config(args: argparse.Namespace, overrides: list[str]) -> Config:
    """The config `advnets train` would run: the preset's, or with --resume the checkpoint's,
    with the overrides applied (without building anything)."""
    if args.resume:
        from advnets.training.folder import resume_folder

        ckpt = load_checkpoint(resume_folder(args.resume))
        return apply_overrides(config_from_dict(ckpt["config"]), overrides)
    if not args.preset:
        raise ConfigError("name a preset (see `advnets presets`) or pass --resume RUN_DIR")
    return _own_images(load_preset(args.preset, overrides), args)


def _own_images(cfg: Config, args: argparse.Namespace) -> Config:
    """The preset on the user's pictures (--images, --size), data and nets following them."""
    from advnets.data.resolve import parse_size, with_images

    size = parse_size(args.size) if args.size else None
    if args.images:
        return with_images(cfg, args.images, size)
    if size is None:
        return cfg
    if cfg.data.name != "folder":
        raise ConfigError("--size sets the size of your own pictures: give --images DIR too")
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, image_size=size))


def _check_resume_args(args: argparse.Namespace) -> None:
    """--resume continues a run in its own folder with its own config: a preset or --out
    beside it would be ignored, so they are refused rather than silently dropped."""
    given_flags = (args.preset, f"the preset {args.preset!r}"), (args.out, "--out")
    given_flags += ((args.images, "--images"), (args.size, "--size"))
    for given, what in given_flags:
        if args.resume and given:
            raise ConfigError(
                f"--resume continues {args.resume} with its own config and folder; drop "
                f"{what} (change train.* keys with --set)"
            )


def cmd_train(args: argparse.Namespace) -> None:
    from advnets.training import train

    _check_resume_args(args)
    overrides = _train_overrides(args)
    if args.print_config:
        from advnets.data.resolve import resolve
        from advnets.validation import validate

        cfg = resolve(_train_config(args, overrides))
        validate(cfg)  # the same checks as a run gets, before printing
        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
        return
    if args.device is not None:
        resolve_device(args.device, "--device")  # no CUDA: one line before anything is built
    start = None
    if args.resume:
        from advnets.training.folder import resume_folder

        run_dir = resume_folder(args.resume)
        start = load_checkpoint(run_dir)["counters"]["step"]
        run = train(None, run_dir, resume=True, overrides=overrides)
    else:
        if not args.preset:
            raise ConfigError("name a preset (see `advnets presets`) or pass --resume RUN_DIR")
        cfg = _own_images(load_preset(args.preset, overrides), args)
        run_dir = Path(args.out or Path("runs") / Path(args.preset).stem)
        run = train(cfg, run_dir)  # refuses a folder that holds another run's files
    if os.environ.get("RANK", "0") != "0":  # under torchrun: rank 0 speaks for the run
        return
    where = f"{run.counters.step} steps ({run.counters.epoch:.2f} epochs) -> {run_dir}"
    if start == run.counters.step:
        print(f"nothing to train: already at {where}; raise --steps or --epochs to go on")
    else:
        print(f"trained {where}")


def _sample_draws(
    G: "nn.Module", cfg: Config, args: argparse.Namespace, grid: bool
) -> tuple["Tensor", str, int | None]:
    """`advnets sample`'s draws, what they are and the picture's row length: a conditional
    run's .png without --label gets one row per class; --jacobian-keep draws each sample on
    its own."""
    from advnets.sampling import class_grid, draw_samples
    from advnets.truncation import check_keep, draw_truncated

    keep = args.jacobian_keep
    if keep is not None:
        check_keep(keep)
    if grid:
        if keep is not None:
            raise ConfigError(
                "--jacobian-keep draws each sample on its own: with a "
                "conditional run, give --label or write .npy"
            )
        per_class = -(-args.n // cfg.model.num_classes)
        return class_grid(G, cfg, per_class, args.seed), ", one row per class", per_class
    samples = (
        draw_samples(G, cfg, args.n, args.seed, args.label)
        if keep is None
        else draw_truncated(G, cfg, args.n, keep, args.seed, args.label)
    )
    what = f" of class {args.label}" if args.label is not None else ""
    what += f", Jacobian truncation keeping {keep:.0%} of the draws" if keep else ""
    return samples, what, None


def cmd_sample(args: argparse.Namespace) -> None:
    from advnets.image_files import from_run_range
    from advnets.runs import load_run
    from advnets.sampling import check_finite, check_label, label_index, truncated, truncation_note
    from advnets.viz import save_image_grid, save_points_plot

    out = check_suffix(args.out, (".npy", ".png"))
    refuse_overwriting_inputs([out], [args.run_dir])
    run = load_run(args.run_dir, resolve_device(args.device, "--device"))
    G, cfg = run.sampler(), truncated(run.cfg, args.truncation)
    args.label = label_index(cfg, args.label)
    check_label(cfg, args.label)
    grid = bool(cfg.model.num_classes) and args.label is None and out.suffix == ".png"
    samples, what, nrow = _sample_draws(G, cfg, args, grid)
    check_finite(samples)
    what += truncation_note(cfg)
    if out.suffix == ".npy" and samples.ndim == 4:  # images: on [0, 1] unless --range
        samples = from_run_range(samples, tuple(cfg.data.value_range), args.range)
    if out.suffix == ".npy":
        save_npy(out, samples.numpy().astype(np.float32))
    elif samples.ndim == 4:
        save_image_grid(samples, out, tuple(cfg.data.value_range), nrow)
    else:
        save_points_plot(samples, out)
    print(f"wrote {len(samples)} samples {tuple(samples.shape[1:])}{what} -> {out}")


def names_path(out: str) -> Path:
    """Where `classify --out Y.npy` writes the predicted class names: Y.names.txt."""
    return Path(out).with_suffix(".names.txt")


def _run_images(args: argparse.Namespace, cfg: Config):
    """--samples (a picture, or a .npy batch on --range, [0, 1] by default) in the run's
    layout, mapped onto the run's own value range."""
    from advnets.run_images import images_for_run

    run_range = tuple(cfg.data.value_range)
    return images_for_run(args.samples, cfg.data, run_range, args.range, args.max_pixels)


def cmd_classify(args: argparse.Namespace) -> None:
    """D/C's predicted labels for images (on [0, 1], or --range) in the run's layout."""
    from advnets.data.registry import spec
    from advnets.metrics.accuracy import predict_classes
    from advnets.runs import load_run

    check_suffix(args.out, (".npy",))
    refuse_overwriting_inputs([args.out], [args.samples, args.run_dir])
    run = load_run(args.run_dir, resolve_device(args.device, "--device"))
    D, cfg = run.classifier(), run.cfg
    x = _run_images(args, cfg)
    labels = predict_classes(D, x, spec(cfg.data).classes)
    save_npy(Path(args.out), labels.numpy().astype(np.int64))
    names = spec(cfg.data).class_names
    classes = run.method.predicts_classes(cfg)
    if names and classes:  # the class names beside the indices, one line per image
        text = "".join(f"{names[i]}\n" for i in labels.tolist())
        atomic_write(names_path(args.out), lambda f: f.write(text.encode()))
    what = "labels" if classes else "cluster numbers (an unsupervised run: they name no class)"
    print(f"wrote {len(labels)} {what} (int64) -> {args.out}")


def _autoencoder_input(args: argparse.Namespace):
    """(E, G, cfg, images) of `advnets reconstruct` / `encode`, images checked and mapped
    onto the run's range; --out checked not to be an input first."""
    from advnets.runs import load_run

    refuse_overwriting_inputs([args.out], [args.samples, args.run_dir])
    run = load_run(args.run_dir, resolve_device(args.device, "--device"))
    E, G = run.encoder(), run.sampler()
    return E, G, run.cfg, _run_images(args, run.cfg)


def cmd_reconstruct(args: argparse.Namespace) -> None:
    """Encode then decode images; .npy of reconstructions (on the inputs' range), or a
    picture of rows of originals and their reconstructions (Larsen et al.'s Fig. 4 layout)."""
    import torch

    from advnets.image_files import from_run_range
    from advnets.reconstruction import reconstruct
    from advnets.viz import save_image_grid

    out = check_suffix(args.out, (".npy", ".png"))
    E, G, cfg, x = _autoencoder_input(args)
    r = reconstruct(E, G, x, mean=not args.draw, seed=args.seed)
    if out.suffix == ".png":
        rows = torch.stack([x[:64], r[:64]], 1).flatten(0, 1)  # original, reconstruction, ...
        save_image_grid(rows, out, tuple(cfg.data.value_range), 16)
    else:
        save_npy(out, from_run_range(r, tuple(cfg.data.value_range), args.range).numpy())
    print(f"wrote {len(r)} reconstructions -> {out}")


def cmd_encode(args: argparse.Namespace) -> None:
    from advnets.reconstruction import encode_images

    check_suffix(args.out, (".npy",))
    E, _, _, x = _autoencoder_input(args)
    z = encode_images(E, x, mean=not args.draw, seed=args.seed)
    save_npy(Path(args.out), z.numpy())
    print(f"wrote {len(z)} codes {tuple(z.shape[1:])} -> {args.out}")


def cmd_classifier(args: argparse.Namespace) -> None:
    from advnets.metrics.classifier import train_classifier, weights_path

    if args.images:
        return _folder_classifier(args)
    if args.dataset is None:
        raise ConfigError(f"name a data set ({', '.join(SPECS)}) or give --images DIR")
    if args.out is None and not args.replace_shipped:
        raise ConfigError(
            "name the weights file with --out FILE (or --replace-shipped to "
            "overwrite the package's weights, which changes every FID/KID)"
        )
    out = Path(args.out) if args.out else weights_path(args.dataset)
    accuracy = train_classifier(args.dataset, args.data, args.epochs, args.seed, out)
    print(f"classifier for {args.dataset}: test accuracy {accuracy:.4f} -> {out}")


def _folder_classifier(args: argparse.Namespace) -> None:
    """A classifier of the labelled pictures at --images, kept in their prepared cache."""
    from advnets.config import Config, DataConfig
    from advnets.data.resolve import parse_size, resolve
    from advnets.metrics.folder_classifier import train_folder_classifier

    if args.dataset or args.out or args.replace_shipped:
        raise ConfigError(
            "--images trains the classifier of your folder: drop the data set, "
            "--out and --replace-shipped (it is kept with the prepared pictures)"
        )
    size = parse_size(args.size or "32")
    data = DataConfig(name="folder", path=str(Path(args.images).resolve()), image_size=size)
    data = resolve(Config(data=data)).data
    accuracy, path = train_folder_classifier(data, args.epochs or 30, args.seed)
    print(f"classifier of {args.images}: held-out accuracy {accuracy:.4f} -> {path}")


def _add_train_command(sub: argparse._SubParsersAction) -> None:
    """train: its length, overrides, seed, device, --resume and --print-config."""
    p = sub.add_parser("train", help="train a preset (or continue a run with --resume)")
    p.add_argument("preset", nargs="?", help="preset name (see `advnets presets`) or a .yaml")
    p.add_argument("--out", help="run folder (default: runs/PRESET)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=integer, help="Algorithm-1 iterations (k D + 1 G update)")
    length.add_argument("--epochs", type=float, help="passes of D over the training data")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.k=5 (repeatable); "
        "--steps, --epochs, --seed, --device and --data are applied after --set "
        "and win over it",
    )
    p.add_argument(
        "--seed",
        type=seed_value,
        help="sets train.seed: the initial weights, data "
        "order and noise (default: the preset's, 0)",
    )
    p.add_argument(
        "--device",
        choices=DEVICES,
        help="sets train.device: " + DEVICE_HELP + " (default: the preset's, cpu)",
    )
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run saved in RUN_DIR")
    p.add_argument("--data", metavar="DIR", help="data folder (else $ADVNETS_DATA)")
    p.add_argument(
        "--images",
        metavar="PATH",
        help="train on your own pictures: a folder (subfolders: classes) or a .npy/.npz "
        "array; the preset's method, nets and optimisers are kept",
    )
    p.add_argument(
        "--size",
        metavar="N|HxW",
        help="with --images: resize the shorter side, then centre-crop to N x N (or H x W); "
        "default: the preset's own image size",
    )
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config (with --resume: the run's, overridden) as "
        "YAML and exit without training or writing anything",
    )
    p.set_defaults(func=cmd_train)


def _add_presets_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presets", help="list the shipped presets")
    p.add_argument("--show", metavar="NAME", help="print one preset's full resolved config")
    p.set_defaults(func=cmd_presets)


def _add_sample_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="draw samples from a trained run")
    p.add_argument("run_dir", help="run folder (or checkpoint file)")
    p.add_argument("--n", type=count, default=64, help="number of samples")
    p.add_argument(
        "--out",
        required=True,
        help=".npy (N, C, H, W float32 images on [0, 1], or --range) or .png grid "
        "(a conditional run's: one row per class, N / classes per row)",
    )
    add_range_argument(
        p,
        "the range of the images written to .npy (default 0,1, whatever the run's own; e.g. -1,1)",
    )
    p.add_argument("--seed", type=seed_value, default=0, help="seed of the noise")
    p.add_argument(
        "--label",
        help="conditional runs: every sample of this class, by number or by name (a folder's "
        "subfolder name; else uniform labels)",
    )
    p.add_argument(
        "--jacobian-keep",
        type=float,
        metavar="KEEP",
        help="Jacobian truncation: keep only the draws whose ||dG/dz|| is below "
        "the KEEP quantile (e.g. 0.95), which drops the samples between modes",
    )
    add_truncation_argument(p)
    add_device_argument(p, "where G runs")
    p.set_defaults(func=cmd_sample)


def _add_classifier_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classifier", help="train the evaluation classifier (FID/KID features)")
    p.add_argument("dataset", nargs="?", choices=list(SPECS))
    p.add_argument(
        "--images",
        metavar="DIR",
        help="instead: a classifier of your labelled folder (subfolders), trained on its "
        "training split; FID/KID of runs on it then use its features, and `eval --metric "
        "fidelity` reads a conditional run's samples with it",
    )
    p.add_argument("--size", metavar="N|HxW", help="with --images: the runs' size (default 32)")
    defaults = ", ".join(f"{name} {spec.epochs}" for name, spec in SPECS.items())
    p.add_argument(
        "--epochs", type=integer, help=f"passes over the training images (default: {defaults})"
    )
    p.add_argument("--seed", type=seed_value, default=0)
    p.add_argument("--out", help="weights file to write")
    p.add_argument(
        "--replace-shipped",
        action="store_true",
        help="write the package's own weights (how the shipped ones were made)",
    )
    p.add_argument("--data", metavar="DIR", help="data folder (else $ADVNETS_DATA)")
    p.set_defaults(func=cmd_classifier)


def _add_samples_arguments(p: argparse.ArgumentParser) -> None:
    """--samples, --range and --max-pixels: the images a run is handed."""
    p.add_argument(
        "--samples",
        required=True,
        metavar="X.npy|X.png",
        help="images (N, C, H, W) as floats on [0, 1] or uint8, or one PNG/JPEG picture",
    )
    add_image_input_arguments(p)


def _add_classify_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="a semi-supervised run's predicted labels for images")
    p.add_argument(
        "run_dir", help="run folder (or checkpoint file) of an sgan, improved-gan or supervised run"
    )
    _add_samples_arguments(p)
    p.add_argument("--out", required=True, metavar="Y.npy", help="int64 labels (N,)")
    add_device_argument(p, "where D runs")
    p.set_defaults(func=cmd_classify)


def _add_autoencoder_commands(sub: argparse._SubParsersAction) -> None:
    for name, out, func in (
        (
            "reconstruct",
            "R.npy of reconstructions, or a .png of originals and reconstructions",
            cmd_reconstruct,
        ),
        ("encode", "Z.npy of codes (N, z_dim)", cmd_encode),
    ):
        p = sub.add_parser(name, help=f"{name} images with a vae / vaegan run")
        p.add_argument("run_dir", help="run folder (or checkpoint file) of a vae or vaegan run")
        _add_samples_arguments(p)
        p.add_argument("--out", required=True, help=out)
        p.add_argument(
            "--draw",
            action="store_true",
            help="a draw of q(z|x) (seeded by --seed) instead of its mean",
        )
        p.add_argument("--seed", type=seed_value, default=0)
        add_device_argument(p, "where the nets run")
        p.set_defaults(func=func)


def cmd_prepare(args: argparse.Namespace) -> None:
    from advnets.data.folder import prepare
    from advnets.data.resolve import parse_size, summary

    found = prepare(args.path, tuple(parse_size(args.size)), args.channels, args.cache, True)
    print(summary(args.path, found) + ("" if found.built else " (already prepared)"))


def _add_prepare_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare", help="prepare a folder of pictures for training (done by train otherwise)"
    )
    p.add_argument("path", help="a folder of pictures (subfolders: classes) or a .npy/.npz")
    p.add_argument("--size", required=True, metavar="N|HxW", help="training size, e.g. 64")
    p.add_argument(
        "--channels", type=int, choices=(0, 1, 3), default=0, help="1, 3 or 0: auto (default)"
    )
    p.add_argument("--cache", metavar="DIR", help="cache folder (else $ADVNETS_CACHE)")
    p.set_defaults(func=cmd_prepare)


def _add_run_commands(sub: argparse._SubParsersAction) -> None:
    """presets, train, sample, eval, classify, classifier: training runs and their scores."""
    _add_presets_command(sub)
    _add_prepare_command(sub)
    _add_train_command(sub)
    _add_sample_command(sub)
    add_eval_command(sub)
    _add_classify_command(sub)
    _add_autoencoder_commands(sub)
    _add_classifier_command(sub)


def cmd_demo(args: argparse.Namespace) -> None:
    from advnets.demo import serve

    serve(args.run_dirs, args.host, args.port, args.device)


def _add_demo_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="a web page (Gradio) showing runs: pip install -e '.[demo]'")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders to show")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: this machine only)"
    )
    p.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    p.add_argument("--device", choices=DEVICES, default="cpu", help="where the nets run")
    p.set_defaults(func=cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="advnets", description="Generative Adversarial Nets: train, sample, evaluate."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run_commands(sub)
    add_picture_commands(sub)
    add_restore_commands(sub)
    _add_demo_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        import_plugins(os.environ.get("ADVNETS_PLUGINS", ""))
        args.func(args)
    except AdvnetsError as err:
        print(f"advnets: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "advnets: interrupted; continue with `advnets train --resume RUN_DIR`", file=sys.stderr
        )
        return 130
    except OSError as err:
        print(f"advnets: error: {err}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as err:
        message = allocation_failure(err)
        if message is None:
            raise
        print(f"advnets: error: {message}", file=sys.stderr)
        return 2
    return 0


def _size(n_bytes: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n_bytes < 1024 or unit == "PiB":
            return f"{n_bytes:.4g} {unit}"
        n_bytes /= 1024
    return ""


def allocation_failure(err: BaseException) -> str | None:
    """One line for an allocation that cannot succeed (torch's or numpy's out-of-memory
    errors), naming its size; None for any other error."""
    import re

    text = str(err)
    exact = re.search(r"allocate (\d+) bytes", text)
    stated = re.search(r"allocate ([\d.]+ ?[KMGTPE]?i?B)", text)
    if not (exact or stated or isinstance(err, MemoryError) or "out of memory" in text):
        return None
    size = _size(int(exact.group(1))) if exact else stated.group(1) if stated else "the memory"
    return (
        f"cannot allocate {size}: not enough memory; lower the size that asks for it "
        f"(model.z_dim, hidden widths, train.batch_size, --n)"
    )


if __name__ == "__main__":
    sys.exit(main())
