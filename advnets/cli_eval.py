"""`advnets eval`: score a run (samples, a classifier's accuracy, reconstructions, a
restorer's PSNR) or a .npy file of samples from anywhere."""

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from advnets.api import eval_settings, resolve_device, run_samples, score_samples
from advnets.checkpoint import checkpoint_path
from advnets.cli_args import add_device_argument, add_truncation_argument, count, seed_value
from advnets.cli_restore import eval_psnr
from advnets.errors import ConfigError
from advnets.files import read_npy
from advnets.metrics.evaluate import METRICS, scorable

if TYPE_CHECKING:
    from advnets.runs import LoadedRun


def _print_scores(scores: dict) -> None:
    for key, value in scores.items():
        print(f"{key:<16} {value:.4f}" if isinstance(value, float) else f"{key:<16} {value}")


def _append_eval(run_dir: Path, step: int, scores: dict) -> None:
    """One `{"eval": ..., "step": ...}` row in the run's metrics.jsonl."""
    from advnets.files import append_row

    append_row(run_dir / "metrics.jsonl", {"eval": scores, "step": step})


def _eval_run(args: argparse.Namespace, what: str) -> "LoadedRun":
    """The run a run-only metric scores, loaded once onto --device."""
    from advnets.runs import load_run

    if args.samples or not args.run_dir:
        raise ConfigError(f"--metric {what}: pass a run folder")
    return load_run(args.run_dir, resolve_device(args.device, "--device"))


def _eval_reconstruction(args: argparse.Namespace) -> None:
    """`advnets eval RUN --metric reconstruction`: a vae / vaegan run on the test split."""
    from advnets.reconstruction import reconstruction_scores

    run = _eval_run(args, "reconstruction scores a run's encoder")
    scores = reconstruction_scores(run.encoder(), run.sampler(), run.cfg, args.n, args.data)
    _print_scores(scores)
    _append_eval(run.folder, run.step, scores)
    print(
        f"recon_psnr {scores['recon_psnr']:.2f} recon_sharpness {scores['recon_sharpness']:.3f}"
        f" sample_sharpness {scores['sample_sharpness']:.3f}"
    )


def _eval_fidelity(args: argparse.Namespace) -> None:
    """`advnets eval RUN --metric fidelity`: a conditional run's label fidelity, read by
    the data set's shipped classifier or the folder's own."""
    from advnets.metrics.fidelity import label_fidelity
    from advnets.sampling import truncated

    run = _eval_run(args, "fidelity scores a conditional run")
    G, cfg = run.sampler(), truncated(run.cfg, args.truncation)
    if not cfg.model.num_classes:
        raise ConfigError("--metric fidelity scores conditional runs (model.num_classes > 0)")
    per_class = max(1, (args.n or 1000) // cfg.model.num_classes)
    scores = label_fidelity(G, cfg, per_class, args.seed) | _truncation(cfg.model.truncation)
    _print_scores(scores)
    _append_eval(run.folder, run.step, scores)
    worst = min((v, k) for k, v in scores.items() if k.startswith("fidelity_"))
    name = worst[1].removeprefix("fidelity_")
    print(f"fidelity {scores['fidelity']:.4f} worst {name} {worst[0]:.4f}")


def _truncation(psi: float) -> dict[str, float]:
    """The truncation psi samples were drawn at, for the scores' row (none when 1: off)."""
    return {} if psi == 1 else {"truncation": psi}


def _eval_accuracy(args: argparse.Namespace) -> None:
    """`advnets eval RUN --metric accuracy`: the classifier on the test split."""
    from advnets.metrics.accuracy import accuracy

    run = _eval_run(args, "accuracy scores a run's classifier")
    scores = accuracy(run.classifier(), run.cfg, "test", args.n, args.data)
    _print_scores(scores)
    _append_eval(run.folder, run.step, scores)
    print(f"accuracy {scores['accuracy']:.4f} errors {scores['errors']}")


def _eval_samples(args: argparse.Namespace):
    """(samples, dataset, settings, (run_dir, step) or None) for `advnets eval`."""
    from advnets.metrics.evaluate import check_samples

    settings = eval_settings(args.n, args.data)
    if args.samples:
        if not args.dataset:
            raise ConfigError(f"--samples needs --dataset ({', '.join(scorable())})")
        if args.run_dir:
            raise ConfigError("pass either a run folder or --samples, not both")
        if args.truncation is not None:
            raise ConfigError("--truncation draws from a run's G; --samples are drawn already")
        return check_samples(read_npy(args.samples), args.dataset), args.dataset, settings, None
    if not args.run_dir:
        raise ConfigError("pass a run folder, or --samples FILE.npy --dataset NAME")
    if args.dataset:
        raise ConfigError("--dataset goes with --samples; a run knows its data set")
    device = resolve_device(args.device, "--device")
    samples, dataset, step = run_samples(args.run_dir, settings, args.seed, device, args.truncation)
    run_dir = checkpoint_path(Path(args.run_dir)).parent
    if args.metric in ("memorization", "all"):  # the nearest pairs, beside the scores
        settings.picture = str(run_dir / "memorization.png")
    return samples, dataset, settings, (run_dir, step)


def _warn_below_protocol(dataset: str, settings, given: int) -> None:
    """A note on stderr when fewer samples are scored than the published protocol's."""
    from advnets.metrics.evaluate import EvalSettings, sample_count

    protocol = sample_count(dataset, EvalSettings())
    scored = min(given, sample_count(dataset, settings))
    if scored < protocol:
        print(
            f"advnets: warning: scoring {scored:,} samples, fewer than the protocol's "
            f"{protocol:,}; the scores are not comparable to published ones",
            file=sys.stderr,
        )


def cmd_eval(args: argparse.Namespace) -> None:
    """Print the chosen scores (and add them to the run's metrics.jsonl), then one
    machine-readable summary line per metric."""
    from advnets.metrics.evaluate import jsonable, summary_line

    if args.truncation is not None and args.metric in ("accuracy", "reconstruction", "psnr"):
        raise ConfigError(f"--truncation applies to G's samples; --metric {args.metric} "
                          f"scores no draws of z")  # fmt: skip
    if args.metric == "accuracy":
        return _eval_accuracy(args)
    if args.metric == "fidelity":
        return _eval_fidelity(args)
    if args.metric == "reconstruction":
        return _eval_reconstruction(args)
    if args.metric == "psnr":
        return eval_psnr(args)
    samples, dataset, settings, run = _eval_samples(args)
    _warn_below_protocol(dataset, settings, len(samples))
    rows = score_samples(samples, dataset, args.metric, settings)
    if "parzen" in rows and settings.trained_on in ("full", "valid"):
        print(
            f"advnets: warning: Parzen's sigma is chosen on validation images that this run "
            f"trained on (data.split={settings.trained_on}); its score is optimistic",
            file=sys.stderr,
        )
    for scores in rows.values():
        _print_scores(scores)
    if run is not None:
        run_dir, step = run
        drawn = _truncation(settings.truncation)
        _print_scores(drawn)
        flat = {k: v for r in rows.values() for k, v in r.items()}
        _append_eval(run_dir, step, jsonable(flat | drawn))
    for name, scores in rows.items():
        print(summary_line(name, scores))


def add_eval_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="score a run, or a .npy file of samples from anywhere")
    p.add_argument("run_dir", nargs="?", help="run folder (samples are drawn from its G)")
    p.add_argument("--samples", metavar="FILE.npy", help="score these samples instead")
    p.add_argument(
        "--dataset",
        help=f"what --samples are samples of: {', '.join(scorable())} (a run knows its own)",
    )
    p.add_argument(
        "--metric",
        default="all",
        choices=[*METRICS, "accuracy", "fidelity", "reconstruction", "psnr", "all"],
        help="accuracy: a semi-supervised run's classifier on the test split; "
        "reconstruction: a vae / vaegan run's PSNR and sharpness on the test split; "
        "psnr: a restoration run against every classical restorer of its task",
    )
    p.add_argument(
        "--compare",
        action="append",
        metavar="RUN",
        help="psnr: other restoration runs of the same task and data for the table",
    )
    p.add_argument(
        "--n",
        type=count,
        help="samples scored (default: the protocol's: 10,000 Parzen, 2,500 modes, "
        "26,000 stacked MNIST modes)",
    )
    p.add_argument("--seed", type=seed_value, default=0, help="seed of the noise")
    add_truncation_argument(p)
    add_device_argument(p, "where a run's G draws the samples", "; the metrics run on the CPU")
    p.add_argument("--data", metavar="DIR", help="data folder (else $ADVNETS_DATA)")
    p.set_defaults(func=cmd_eval)
