"""Results files of the benchmarks: one JSON line per finished run. A benchmark that is
stopped loses at most the run in progress; run again with the same file, it reuses every run
already there (same key) and trains only the missing ones, so long tables can be built over
several sittings and printed again without training."""

import argparse
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from advnets.checkpoint import load_checkpoint
from advnets.config import Config, load_preset
from advnets.errors import ConfigError
from advnets.files import atomic_write
from advnets.runs import checkpoint_config
from advnets.training import train

# train.* keys that set a run's budget or where it computes, not what it learns: a run
# folder may be extended or continued with other values of these
BUDGET_KEYS = {
    "train.epochs",
    "train.steps",
    "train.progress",
    "train.threads",
    "train.device",
    "train.checkpoint_every",
    "train.log_every",
    "train.samples_per_epoch",
}
FREE_KEYS = BUDGET_KEYS | {"data.root"}  # and where this machine keeps the data


class Results:
    """The runs of one results file (or of none: `path=None` keeps them in memory only),
    each a dict, found by the values of its `key` fields; a key field that older rows lack
    takes its value from `defaults`."""

    def __init__(
        self, path: Path | None, key: tuple[str, ...], defaults: dict | None = None
    ) -> None:
        if path is not None and path.exists() and not path.is_file():
            raise ConfigError(f"--results {path} is not a file; name a .jsonl file")
        self.path, self.key, self.defaults = path, key, defaults or {}
        self.runs: dict[tuple, dict] = {}
        if path is not None and path.is_file():
            self._drop_cut_line(path)
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    self.runs[self._key(row)] = row
                except (json.JSONDecodeError, KeyError) as e:
                    raise SystemExit(
                        f"{path}, line {number}: not a results row of this "
                        f"benchmark ({e}); pass another --results file"
                    ) from e

    @staticmethod
    def _drop_cut_line(path: Path) -> None:
        """A last line without its newline that is not a whole row was cut off when its
        writer was killed mid-append: it is dropped (its run trains again). A whole row
        gets its newline. Either way the file then ends where the next row goes."""
        text = path.read_text()
        if not text or text.endswith("\n"):
            return
        kept, last = text[: text.rfind("\n") + 1], text[text.rfind("\n") + 1 :]
        try:
            json.loads(last)
            kept = text + "\n"
        except json.JSONDecodeError:
            print(f"{path}: dropping its last line, cut off mid-row; that run trains again")
        atomic_write(path, lambda f: f.write(kept.encode()))

    def _key(self, row: dict) -> tuple:
        return tuple(row[k] if k in row else self.defaults[k] for k in self.key)

    def get(self, **key) -> dict | None:
        """The saved run with these key values, if any."""
        return self.runs.get(tuple(key[k] for k in self.key))

    def add(self, row: dict) -> None:
        """Keep `row` and append it to the file at once."""
        self.runs[self._key(row)] = row
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")

    def get_or_run(self, key: dict, run: Callable[[], dict]) -> tuple[dict, bool]:
        """The saved run with these key values, or a new one: `run()`'s fields joined to the
        key, saved at once. Returns (the run, whether it was run now)."""
        row = self.get(**key)
        if row is not None:
            return row, False
        row = {**key, **run()}
        self.add(row)
        return row, True


def add_methods_option(parser: argparse.ArgumentParser, methods: Iterable[str]) -> None:
    """`--methods`: some of a benchmark's methods (all of them by default)."""
    methods = list(methods)
    parser.add_argument(
        "--methods",
        nargs="+",
        default=methods,
        choices=methods,
        metavar="METHOD",
        help=f"some of: {', '.join(methods)}",
    )


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options of a benchmark built from seeded runs: where its runs start, the config
    keys every run changes, and the results file they are kept in."""
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="start the seeds here, e.g. to share seeds 0-9 out between two processes (and files)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config override for every run (repeatable)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="JSON lines of finished runs: "
        "appended to, and runs already there are not trained again",
    )


def check_overrides(
    parser: argparse.ArgumentParser, presets: list[str], overrides: list[str]
) -> None:
    """Stop with one line, before any training, if --set does not apply to every preset."""
    try:
        for preset in presets:
            load_preset(preset, overrides)
    except ConfigError as err:
        parser.error(f"--set: {err}")


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least `minimum` (a count of seeds, steps, ...)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


positive_int = at_least(1)  # seeds, steps, repeats
nonnegative_int = at_least(0)  # steps timed where 0 means none


def train_or_continue(cfg: Config, run_dir: Path, overrides: list[str]) -> tuple[int, Any]:
    """Train `cfg` into `run_dir`, or continue the run already there (an interrupted one, or
    a shorter budget's, extended: resume is exact) if it is the same run and not past this
    budget. Returns the step it started from and the run."""
    if not (run_dir / "checkpoint.pt").is_file():
        return 0, train(cfg, run_dir)
    ckpt = load_checkpoint(run_dir)
    check_same_run(cfg, checkpoint_config(ckpt), run_dir)
    run = train(None, run_dir, resume=True, overrides=budget_overrides(overrides))
    check_not_past(run_dir, run, cfg)
    return ckpt["counters"]["step"], run


def budget_overrides(overrides: list[str]) -> list[str]:
    """The overrides a resumed run may take: those of FREE_KEYS."""
    return [o for o in overrides if o.split("=", 1)[0].strip() in FREE_KEYS]


def check_same_run(wanted: Config, saved: Config, run_dir: Path) -> None:
    """A run folder is continued or extended only if it holds the run asked for: the same
    config but for FREE_KEYS."""
    a, b = _flat(wanted.to_dict()), _flat(saved.to_dict())
    keys = sorted(a.keys() | b.keys())
    differ = [k for k in keys if k not in FREE_KEYS and a.get(k) != b.get(k)]
    if differ:
        k = differ[0]
        raise ConfigError(
            f"{run_dir} holds a run with {k}={b.get(k)!r}, not the {a.get(k)!r} asked "
            f"for ({len(differ)} key(s) differ); give this configuration another --out"
        )


def check_not_past(run_dir: Path, run, cfg: Config) -> None:
    """A folder's run that went further than `cfg`'s budget (train.steps, else
    train.epochs) would be scored under it: refused."""
    t = cfg.train
    done, asked, unit = (
        (run.counters.step, t.steps, "steps")
        if t.steps is not None
        else (run.counters.epoch, t.epochs, "epochs")
    )
    if asked is not None and done > asked + 1e-9:
        raise ConfigError(
            f"{run_dir} holds a run of {done:g} {unit}, past the {asked:g} asked for; "
            f"give this budget another --out"
        )


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
