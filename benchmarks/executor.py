"""Where a benchmark's runs train: one after another in this process (`--executor local`),
or as Ray tasks (`--executor ray`), one task per run, on a Ray started in this process or on
the cluster at `--address`.

Either way this process, the driver, writes each finished row into the benchmark's results
file as it arrives, so a stopped sweep loses only the runs in flight, and the same command
trains what is missing and prints the table from the file. Rows hold seeds and settings,
never the order in which runs finished, so both executors give the same file up to order.

    python benchmarks/mode_collapse.py --executor ray [--cpus-per-task 1] [--gpus-per-task 0]
    python benchmarks/mode_collapse.py --executor ray --address auto   # an existing cluster

Ray is an optional dependency: `pip install -e ".[sweep]"`. On a cluster every node needs
the same environment (advnets installed); submit the driver with `ray job submit
--working-dir . -- python benchmarks/...` or run it on the head node.
"""

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from results import Results

EXECUTORS = ("local", "ray")
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Job:
    """One run of a benchmark: its results-file key, and the function that trains and
    scores it (it returns the row's other fields; fields named `_...` reach `report` but
    not the file, e.g. samples for a picture)."""

    key: dict
    run: Callable[[], dict]


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """--executor, --address and the resources of one task."""
    parser.add_argument(
        "--executor",
        default="local",
        choices=EXECUTORS,
        help="local: the runs one after another here; ray: one Ray task per run",
    )
    parser.add_argument(
        "--address",
        help="Ray cluster address (auto, or ray://HEAD:10001); default: a Ray started here",
    )
    parser.add_argument("--cpus-per-task", type=share, default=1.0, help="Ray CPUs per run")
    parser.add_argument("--gpus-per-task", type=share, default=0.0, help="Ray GPUs per run")


def share(text: str) -> float:
    """An argparse type: a finite amount of a resource, at least 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be finite and >= 0, got {text}")
    return value


def check_executor(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Stop with one line before any work when Ray is asked for but not installed."""
    if args.executor != "ray":
        return
    try:
        import ray  # noqa: F401
    except ImportError:
        parser.error('--executor ray needs Ray: pip install -e ".[sweep]"')


def run_jobs(
    results: Results,
    jobs: list[Job],
    args: argparse.Namespace,
    report: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Train the jobs whose key is not in `results` yet (each row written as it arrives, then
    passed to `report`); return every job's row, in the jobs' order."""
    todo = list({tuple(j.key.values()): j for j in jobs if results.get(**j.key) is None}.values())
    if todo:
        rows = _on_ray(todo, args) if args.executor == "ray" else _here(todo)
        failed = []
        for job, row in rows:
            if isinstance(row, Exception):
                failed.append((job, row))
                continue
            results.add({**job.key, **{k: v for k, v in row.items() if not k.startswith("_")}})
            if report is not None:
                report({**job.key, **row})
        if failed:
            job, err = failed[0]
            raise SystemExit(
                f"{len(failed)} of {len(todo)} runs failed, first {job.key}: "
                f"{(str(err).strip().splitlines() or [type(err).__name__])[-1]}; finished "
                f"rows are saved, run again"
            )
    return [results.get(**j.key) for j in jobs]


def _here(jobs: list[Job]):
    """The jobs one after another in this process, (job, row or its error) as each
    finishes. A run that fails (diverges, or raises) is reported and the sweep goes on, as
    on Ray; bad input (advnets' other one-line errors: a folder holding another run,
    missing data) would stop every run alike, so it ends the sweep at once."""
    from advnets.errors import AdvnetsError, DivergedError

    for job in jobs:
        try:
            row = job.run()
        except DivergedError as err:
            row = err
        except AdvnetsError:
            raise
        except Exception as err:  # noqa: BLE001 - reported, and counted at the end
            traceback.print_exc()
            row = err
        if isinstance(row, Exception):
            print(f"run {job.key} failed: {row}", file=sys.stderr, flush=True)
        yield job, row


def _call(run: Callable[[], dict], threads: int) -> dict:
    """A Ray task: one run with the task's CPUs as torch threads."""
    import torch

    torch.set_num_threads(threads)
    return run()


def _on_ray(jobs: list[Job], args: argparse.Namespace):
    """The jobs as Ray tasks, (job, row or the task's error) in the order they finish."""
    import ray

    if not ray.is_initialized():
        # a Ray started here: its workers import advnets and these modules as we do; a
        # cluster's workers use their own environment
        local = {"env_vars": {"PYTHONPATH": _worker_path()}} if args.address is None else None
        ray.init(
            address=args.address, include_dashboard=False, log_to_driver=False, runtime_env=local
        )
        if args.address is None:  # a Ray of this machine's: a task it cannot place would wait
            _check_fits(ray.cluster_resources(), args)
    for name in ("executor", "results", *_benchmark_modules(jobs)):
        ray.cloudpickle.register_pickle_by_value(sys.modules[name])
    task = ray.remote(num_cpus=args.cpus_per_task, num_gpus=args.gpus_per_task)(_call)
    threads = max(1, int(args.cpus_per_task))
    pending = {task.remote(job.run, threads): job for job in jobs}
    while pending:
        (done,), _ = ray.wait(list(pending), num_returns=1)
        job = pending.pop(done)
        try:
            yield job, ray.get(done)
        except ray.exceptions.RayError as err:
            yield job, err


def _check_fits(resources: dict, args: argparse.Namespace) -> None:
    """Stop with one line when one task asks for more CPUs or GPUs than the Ray has."""
    for name, asked in (("CPU", args.cpus_per_task), ("GPU", args.gpus_per_task)):
        if asked > resources.get(name, 0):
            raise SystemExit(
                f"--{name.lower()}s-per-task {asked:g}: this machine's Ray has "
                f"{resources.get(name, 0):g} {name}s, so no run could start; ask for less"
            )


def _benchmark_modules(jobs: list[Job]) -> set[str]:
    """Modules of this folder that the jobs' functions live in (sent by value, so that a
    worker need not find benchmarks/ on its path)."""
    names = set()
    for job in jobs:
        fn = getattr(job.run, "func", job.run)
        module = sys.modules.get(getattr(fn, "__module__", ""), None)
        path = getattr(module, "__file__", None)
        if module is not None and path and Path(path).resolve().parent == HERE:
            names.add(module.__name__)
    return names - {"__main__"}


def _worker_path() -> str:
    """The driver's import path for local workers: advnets as this process imports it."""
    import advnets

    root = str(Path(advnets.__file__).resolve().parents[1])
    return os.pathsep.join([root, str(HERE), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
