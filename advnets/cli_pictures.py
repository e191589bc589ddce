"""The picture subcommands: interpolate, arithmetic, plot, figure1 and theory."""

import argparse
from pathlib import Path

from advnets.cli_args import (
    add_image_input_arguments,
    check_suffix,
    distance,
    integer,
    seed_value,
)
from advnets.errors import ConfigError
from advnets.files import check_destinations, refuse_overwriting_inputs


def _png_out(out: str) -> Path:
    return check_suffix(out, (".png",))


def _indices(text: str, flag: str) -> list[int]:
    """'3,17,22' -> [3, 17, 22]."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(
            f"--{flag} takes comma-separated sample indices like 3,17,22, got {text!r}"
        ) from None


def _image_generator(args: argparse.Namespace):
    """(G, cfg) of an image run, the zoom factor checked first."""
    from advnets.latent import require_images
    from advnets.runs import load_run

    if not 1 <= args.zoom <= 8:
        raise ConfigError(f"--zoom must be between 1 and 8, got {args.zoom}")
    run = load_run(args.run_dir)
    require_images(run.sampler(), run.cfg)
    return run.sampler(), run.cfg


def cmd_interpolate(args: argparse.Namespace) -> None:
    from advnets import latent
    from advnets.sampling import check_finite
    from advnets.viz import image_grid, save_picture, zoom

    out = _png_out(args.out)
    refuse_overwriting_inputs([out], [args.run_dir])
    G, cfg = _image_generator(args)
    if args.between:
        ends = [pair.split(":") for pair in args.between.split(",") if pair.strip()]
        if not ends or any(len(e) != 2 or not all(i.strip().isdigit() for i in e) for e in ends):
            raise ConfigError(
                f"--between takes index pairs like 3:17,22:40 (from "
                f"`advnets arithmetic RUN_DIR --show-grid`), got {args.between!r}"
            )
        a, b = [int(e[0]) for e in ends], [int(e[1]) for e in ends]
        z = latent.candidate_noise(cfg, args.grid, args.seed)
        latent.check_indices("between", a + b, args.grid)
        images = latent.interpolation_images(G, z[a], z[b], args.steps, args.mode)
    else:
        images = latent.interpolation_grid(G, cfg, args.pairs, args.steps, args.seed, args.mode)
    check_finite(images)
    grid = image_grid(zoom(images, args.zoom), tuple(cfg.data.value_range), nrow=args.steps)
    save_picture(grid, out)
    print(f"wrote {len(images) // args.steps} x {args.steps} {args.mode} interpolation -> {out}")


def _arithmetic_picks(args: argparse.Namespace) -> dict[str, str | None]:
    """--a/--b/--c as given: all three without --show-grid, none with it."""
    picks = {"a": args.a, "b": args.b, "c": args.c}
    sets = {k: getattr(args, f"{k}_images") for k in "abc"}
    if any(sets.values()):
        if any(v is not None for v in picks.values()) or args.show_grid:
            raise ConfigError(
                "--a-images/--b-images/--c-images replace --a/--b/--c and "
                "--show-grid; pass one kind of concept"
            )
        missing = [f"--{k}-images" for k, v in sets.items() if not v]
        if missing:
            raise ConfigError(f"image concepts need all three sets; add {', '.join(missing)}")
        return picks
    if args.show_grid and any(v is not None for v in picks.values()):
        raise ConfigError(
            "--show-grid draws the numbered candidates to pick from; pass it without --a/--b/--c"
        )
    missing = [f"--{k}" for k, v in picks.items() if v is None]
    if missing and not args.show_grid:
        raise ConfigError(
            f"name the picks with {', '.join(missing)} (indices from `advnets "
            f"arithmetic RUN_DIR --show-grid --out grid.png`)"
        )
    return picks


def _encoded_concepts(args: argparse.Namespace) -> list:
    """The codes of the --a/--b/--c-images sets, from the run's encoder (means of q(z|x))."""
    from advnets.reconstruction import encode_images
    from advnets.run_images import images_for_run
    from advnets.runs import load_run

    run = load_run(args.run_dir)
    E, cfg = run.encoder(), run.cfg
    codes = []
    for name in ("a_images", "b_images", "c_images"):
        path, run_range = getattr(args, name), tuple(cfg.data.value_range)
        x = images_for_run(path, cfg.data, run_range, args.range, args.max_pixels)
        codes.append(encode_images(E, x))
    return codes


def cmd_arithmetic(args: argparse.Namespace) -> None:
    import torch

    from advnets.latent import arithmetic_of_codes, candidates, vector_arithmetic
    from advnets.sampling import check_finite
    from advnets.viz import arithmetic_grid, numbered_grid, save_picture, zoom

    out = _png_out(args.out)
    picks = _arithmetic_picks(args)
    refuse_overwriting_inputs([out], [args.run_dir, args.a_images, args.b_images, args.c_images])
    G, cfg = _image_generator(args)
    value_range = tuple(cfg.data.value_range)
    if args.show_grid:
        _, images = candidates(G, cfg, args.grid, args.seed)
        check_finite(images)
        save_picture(numbered_grid(zoom(images, args.zoom), value_range), out)
        print(
            f"wrote {args.grid} candidates numbered 0-{args.grid - 1} (row-major) -> {out}; "
            f"pick with --a/--b/--c and the same --seed {args.seed} --grid {args.grid}"
        )
        return
    if args.a_images:
        r = arithmetic_of_codes(G, cfg, _encoded_concepts(args), args.seed, args.radius)
    else:
        r = vector_arithmetic(
            G,
            cfg,
            *(_indices(picks[k], k) for k in "abc"),
            grid=args.grid,
            seed=args.seed,
            radius=args.radius,
        )
    check_finite(torch.cat([r.result, r.neighbours]))
    grid = arithmetic_grid(
        [zoom(p, args.zoom) for p in r.picks],
        zoom(r.means, args.zoom),
        zoom(r.result, args.zoom),
        zoom(r.neighbours, args.zoom),
        value_range,
    )
    save_picture(grid, out)
    print(f"wrote mean(A) - mean(B) + mean(C) and {len(r.neighbours)} samples around it -> {out}")
    if r.outside:
        s = cfg.model.noise_scale
        print(
            f"note: Y leaves the prior's support [-{s:.3g}, {s:.3g}] in {r.outside} of "
            f"{r.y.numel()} coordinates (max |Y_i| = {r.y.abs().max():.3g}); G was never "
            f"trained there"
        )


def cmd_plot(args: argparse.Namespace) -> None:
    from advnets.errors import CheckpointError
    from advnets.viz import read_metrics, save_gif, save_training_curves

    run_dir = Path(args.run_dir)
    run_dir = run_dir.parent if run_dir.is_file() else run_dir
    if not run_dir.is_dir():
        raise CheckpointError(
            f"no run folder at {run_dir}; pass a folder written by `advnets train`"
        )
    out = _png_out(args.out) if args.out else run_dir / "curves.png"
    frames: list[tuple[int, Path]] = []
    if args.gif:
        if Path(args.gif).suffix != ".gif":
            raise ConfigError(f"--gif must end in .gif, got {Path(args.gif).name!r}")
        for path in (run_dir / "samples").glob("epoch_*.png"):
            number = path.stem.removeprefix("epoch_")
            if number.isdigit():
                frames.append((int(number), path))
        if not frames:
            raise CheckpointError(
                f"no sample pictures (epoch_*.png) in {run_dir / 'samples'}; "
                f"runs write one per epoch unless "
                f"train.samples_per_epoch=false"
            )
    inputs = [run_dir / "metrics.jsonl", *(p for _, p in frames)]
    refuse_overwriting_inputs([out, args.gif], inputs)
    check_destinations([out, args.gif])  # the curves are not written if the GIF cannot be
    rows, eval_rows = read_metrics(run_dir / "metrics.jsonl")
    save_training_curves(rows, eval_rows, out, title=run_dir.name)
    print(f"wrote curves of {len(rows)} logged steps and {len(eval_rows)} evaluations -> {out}")
    if frames:
        frames.sort()
        save_gif(
            [p for _, p in frames], Path(args.gif), [f"epoch {e}" for e, _ in frames], args.frame_ms
        )
        print(f"wrote {len(frames)} epochs of samples -> {args.gif}")


def cmd_figure1(args: argparse.Namespace) -> None:
    from advnets.paper_figures import FIGURE1_SETTINGS, figure1

    panels = figure1(Path(args.out), args.steps, args.seed, FIGURE1_SETTINGS + (args.set or []))
    for p in panels:
        print(
            f"{p.label:<20} |D(x) - 1/2|: max {p.max_d_dev:.3f} over the data's mean +- 2 "
            f"std, mean {p.mean_d_dev:.3f} under p_data;  JSD(p_data || p_g) {p.jsd:.4f} nats"
        )
    print(f"wrote Figure 1 -> {args.out}")


def cmd_theory(args: argparse.Namespace) -> None:
    from advnets.paper_figures import theory_report

    for line in theory_report(args.out, args.steps, args.seed):
        print(line, flush=True)


def _add_interpolate_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("interpolate", help="images along paths between z's (paper Figure 3)")
    p.add_argument("run_dir", help="run folder (or checkpoint file) of an image run")
    p.add_argument("--steps", type=integer, default=10, help="images per row, endpoints included")
    p.add_argument("--pairs", type=integer, default=5, help="rows: random pairs of endpoints")
    p.add_argument(
        "--between",
        metavar="I:J,...",
        help="endpoints picked from the --show-grid candidates instead, e.g. 3:17",
    )
    p.add_argument("--grid", type=integer, default=100, help="size of the candidate grid")
    p.add_argument("--mode", default="linear", choices=["linear", "slerp"])
    p.add_argument("--seed", type=seed_value, default=0, help="seed of the noise")
    p.add_argument("--zoom", type=integer, default=1, help="integer upscaling of the picture")
    p.add_argument("--out", required=True, help=".png grid, one row per pair")
    p.set_defaults(func=cmd_interpolate)


def _add_arithmetic_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("arithmetic", help="G(mean z_A - mean z_B + mean z_C) (DCGAN Figure 7)")
    p.add_argument("run_dir", help="run folder (or checkpoint file) of an image run")
    p.add_argument(
        "--show-grid",
        action="store_true",
        help="write the numbered candidate samples to pick --a/--b/--c from",
    )
    for name in "abc":
        p.add_argument(
            f"--{name}",
            metavar="I,J,...",
            help=f"indices of concept {name.upper()} in the candidate grid",
        )
    for name in "abc":
        p.add_argument(
            f"--{name}-images",
            metavar="X.npy|X.png",
            help=f"vae / vaegan runs: concept {name.upper()} as the mean code of these images "
            f"(on [0, 1], or --range)",
        )
    add_image_input_arguments(p)
    p.add_argument("--grid", type=integer, default=100, help="size of the candidate grid")
    p.add_argument("--seed", type=seed_value, default=0, help="seed of the candidate grid's noise")
    p.add_argument(
        "--radius",
        type=distance,
        default=0.25,
        help="the 8 samples around Y are G(Y + U(-radius, radius))",
    )
    p.add_argument("--zoom", type=integer, default=1, help="integer upscaling of the picture")
    p.add_argument("--out", required=True, help=".png picture")
    p.set_defaults(func=cmd_arithmetic)


def _add_plot_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="training curves from metrics.jsonl, samples as a GIF")
    p.add_argument("run_dir", help="run folder")
    p.add_argument("--out", help=".png of the curves (default: RUN_DIR/curves.png)")
    p.add_argument("--gif", metavar="FILE.gif", help="animate RUN_DIR/samples/epoch_*.png")
    p.add_argument("--frame-ms", type=integer, default=500, help="GIF frame duration")
    p.set_defaults(func=cmd_plot)


def _add_figure1_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("figure1", help="the paper's Figure 1 from a real gan-1d training run")
    p.add_argument("--out", default="figure1.png", help=".png picture (four panels)")
    p.add_argument("--steps", type=integer, default=2000, help="Algorithm-1 iterations")
    p.add_argument("--seed", type=seed_value, default=0)
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override the run's config (gan-1d with data.mean=0.0, data.std=1.0, "
        "model.generator.hidden=[64,64]), e.g. --set data.mean=4 (repeatable)",
    )
    p.set_defaults(func=cmd_figure1)


def _add_theory_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("theory", help="Proposition 1, Theorem 1 and saturation, checked in 1-D")
    p.add_argument(
        "--out",
        default="theory",
        metavar="PREFIX",
        help="writes PREFIX_prop1.png and PREFIX_saturation.png",
    )
    p.add_argument("--steps", type=integer, default=3000, help="D updates for Proposition 1")
    p.add_argument("--seed", type=seed_value, default=0)
    p.set_defaults(func=cmd_theory)


def add_picture_commands(sub: argparse._SubParsersAction) -> None:
    """interpolate, arithmetic, plot, figure1, theory: pictures of runs and of the theory."""
    _add_interpolate_command(sub)
    _add_arithmetic_command(sub)
    _add_plot_command(sub)
    _add_figure1_command(sub)
    _add_theory_command(sub)
