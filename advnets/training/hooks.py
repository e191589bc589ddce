"""What the loop does around each step: progress bar, metrics, sample pictures, checkpoints.

Each hook has `after_step(run, stats)` and `close(run)`; the loop knows nothing else of them.
"""

import math
import sys
import time
from pathlib import Path

import torch
from torch import Tensor

from advnets.checkpoint import CHECKPOINT, load_checkpoint, save_atomic
from advnets.data.registry import DATASETS
from advnets.errors import CheckpointError, DivergedError
from advnets.files import append_row, finite_or_none, save_image
from advnets.methods.base import Stats
from advnets.sampling import SAMPLES_PER_CLASS, check_finite, draw_samples, generate
from advnets.training.guard import check_weights
from advnets.training.run import Run
from advnets.validation import periodic_metric
from advnets.viz import image_grid, save_points_plot

BAR = ("loss_d", "loss_g", "d_real", "d_fake")  # the progress bar's postfix


class Hook:
    def after_step(self, run: Run, stats: Stats) -> None:
        """Called after every completed iteration."""

    def close(self, run: Run) -> None:
        """Called once when the loop ends between steps (done, or stopped by Ctrl-C)."""

    def abort(self, run: Run) -> None:
        """Called instead of `close` when a step raised: release resources, save nothing."""


class MetricsLog(Hook):
    """Averages the step statistics over `every` steps; writes metrics.jsonl, TensorBoard and
    the tqdm bar's postfix."""

    def __init__(
        self,
        run_dir: Path,
        every: int,
        total: int,
        start: int,
        progress: bool = True,
        tensorboard: bool = True,
    ) -> None:
        self.every = max(1, every)
        self.path = Path(run_dir) / "metrics.jsonl"
        self.sums: dict[str, Tensor] = {}
        self.count = 0
        self.t0 = time.perf_counter()
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # a resumed run hides the events a killed run logged after its checkpoint
            self.writer = SummaryWriter(
                str(Path(run_dir) / "tb"), purge_step=start + 1 if start else None
            )
        self.bar = None
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)

    def after_step(self, run: Run, stats: Stats) -> None:
        for key, v in stats.items():
            self.sums[key] = self.sums.get(key, 0) + v
        self.count += 1
        if self.bar is not None:
            self.bar.update(1)
        if run.counters.step % self.every == 0:
            self.flush(run)

    def flush(self, run: Run) -> None:
        if not self.count:
            return
        c = run.counters
        row = finite_or_none({k: round(float(v) / self.count, 6) for k, v in self.sums.items()})
        elapsed = time.perf_counter() - self.t0
        row.update(step=c.step, epoch=round(c.epoch, 4), seconds=round(elapsed, 2))
        append_row(self.path, row)
        if self.writer is not None:
            for key, v in row.items():
                if key not in ("step", "seconds") and v is not None:
                    self.writer.add_scalar(f"train/{key}", v, c.step)
        if self.bar is not None:
            self.bar.set_postfix(
                {k: f"{row[k] if row[k] is not None else math.nan:.3f}" for k in BAR if k in row}
            )
        self.sums, self.count = {}, 0

    def close(self, run: Run) -> None:
        self.flush(run)
        self.abort(run)

    def abort(self, run: Run) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.bar is not None:
            self.bar.close()


class SamplePictures(Hook):
    """A picture of G(fixed noise) after each epoch: an image grid (one row per class for a
    conditional run), or a plot for toy data.

    Uses its own seeded generator for extra noise, so pictures never shift the training RNG.
    """

    def __init__(self, run_dir: Path, metrics: MetricsLog | None = None) -> None:
        self.folder = Path(run_dir) / "samples"
        self.writer = metrics.writer if metrics is not None else None

    def after_step(self, run: Run, stats: Stats) -> None:
        c = run.counters
        if c.step % c.steps_per_epoch == 0:
            self.write(run, c.step // c.steps_per_epoch)

    def write(self, run: Run, epoch: int) -> Path:
        path = self.folder / f"epoch_{epoch:04d}.png"
        if len(run.data.shape) == 3:  # conditional runs: one row per class
            images = finite(generate(run.G_sample, run.fixed_noise, run.fixed_labels), epoch)
            nrow = 8 if run.fixed_labels is None else SAMPLES_PER_CLASS
            grid = image_grid(images, run.data.value_range, nrow=nrow)
            save_image(grid, path)
            if self.writer is not None:
                self.writer.add_image(
                    "samples", grid, epoch, dataformats="HW" if grid.ndim == 2 else "HWC"
                )
            return path
        samples = finite(draw_samples(run.G_sample, run.cfg, 2000, run.cfg.train.seed + 2), epoch)
        reference = run.data.distribution.means if run.data.distribution else None
        return save_points_plot(samples, path, reference, title=f"epoch {epoch}")

    def close(self, run: Run) -> None:
        c = run.counters
        if c.step % c.steps_per_epoch != 0:
            self.write(run, c.step // c.steps_per_epoch + 1)


def finite(samples: Tensor, epoch: int) -> Tensor:
    """`samples` for a picture if all finite, else a DivergedError (NaN would draw black)."""
    try:
        return check_finite(samples, f"G's samples for the picture of epoch {epoch}")
    except CheckpointError as err:
        raise DivergedError(str(err)) from None


class DivergenceCheck(Hook):
    """Stops the run (DivergedError, one line) at the first NaN, Inf or exploding loss:
    checked every step on the CPU; on a GPU at the steps that log, evaluate, draw pictures
    or save, so that no step waits for the device."""

    def __init__(self, run: Run) -> None:
        t = run.cfg.train
        self.every_step = run.device.type == "cpu"
        self.periods = [t.log_every, t.checkpoint_every, t.eval_every]

    def after_step(self, run: Run, stats: Stats) -> None:
        c = run.counters
        periods = [*self.periods, c.steps_per_epoch]
        if self.every_step or any(p and c.step % p == 0 for p in periods):
            self.check(run)

    def check(self, run: Run) -> None:
        if run.step.guard is not None:
            run.step.guard.check()

    def close(self, run: Run) -> None:
        self.check(run)


class Checkpointer(Hook):
    """Writes checkpoint.pt every `every` steps and at the end, atomically, and only from
    finite weights (after the loss guard's check), so a divergence never replaces it."""

    def __init__(self, run_dir: Path, every: int, start: int = 0) -> None:
        self.path = Path(run_dir) / CHECKPOINT
        self.every = every
        self.saved = start if self.path.is_file() else None  # the step checkpoint.pt holds

    def after_step(self, run: Run, stats: Stats) -> None:
        if self.every and run.counters.step % self.every == 0:
            self.save(run)

    def close(self, run: Run) -> None:
        self.save(run)

    def save(self, run: Run) -> None:
        if run.step.guard is not None:
            run.step.guard.check()
        check_weights(run.players, run.counters.step)
        save_atomic(run.state_dict(), self.path)
        self.saved = run.counters.step

    def kept(self) -> str:
        """What a stopped run leaves: the last good checkpoint, untouched."""
        if self.saved is None:
            return "no checkpoint was written"
        return f"{self.path} keeps the last good state (step {self.saved})"


class PeriodicEval(Hook):
    """Every `every` steps, a cheap evaluation of G (e.g. FID on 2,000 samples), logged to
    metrics.jsonl and TensorBoard; the checkpoint with the best score is kept as best.pt
    (which records its score, so a resumed run keeps comparing against it). Images are
    scored against the validation split: choosing best.pt never looks at the test set."""

    def __init__(self, run_dir: Path, run: Run, metrics: MetricsLog | None = None) -> None:
        from advnets.metrics.evaluate import EvalSettings

        t, data = run.cfg.train, run.cfg.data
        self.every, self.n = t.eval_every, t.eval_samples
        self.dataset = data.name
        self.metric = periodic_metric(run.cfg)  # one that scores the data: validated
        self.settings = EvalSettings(
            parzen_samples=self.n,
            parzen_test=2000,
            mode_samples=self.n,
            stacked_samples=self.n,
            fid_samples=self.n,
            data_root=data.root,
            reference="valid",
            toy=data if DATASETS.get(data.name).mixture is not None else None,
            data=data,
        )
        self.path, self.best_path = Path(run_dir) / "metrics.jsonl", Path(run_dir) / "best.pt"
        self.writer = metrics.writer if metrics is not None else None
        self.best = self._saved_best()
        self.reader = None  # a conditional run's label fidelity, where a classifier reads it
        if run.cfg.model.num_classes:
            from advnets.metrics.fidelity import fidelity_reader

            self.reader = fidelity_reader(data)

    def _saved_best(self) -> float | None:
        """The rank of the best.pt a resumed run left, if it was scored as this run scores
        (the metric and the sample count are train.* keys, which a resume may change)."""
        if not self.best_path.is_file():
            return None
        saved = load_checkpoint(self.best_path)
        scored = (saved.get("eval_metric", self.metric), saved.get("eval_samples", self.n))
        return saved.get("eval_rank") if scored == (self.metric, self.n) else None

    def after_step(self, run: Run, stats: Stats) -> None:
        if self.every and run.counters.step % self.every == 0:
            self.evaluate(run)

    def _rank(self, scores: dict) -> float:
        """Higher is better: -FID, -KID, Parzen, or modes + high-quality fraction."""
        if self.metric == "modes":
            return scores["modes"] + scores.get("high_quality", 0.0)
        value = scores[self.metric]
        return -value if self.metric in ("fid", "kid") else value

    def evaluate(self, run: Run) -> dict:
        from advnets.metrics.evaluate import jsonable

        scores, rank = self.score(run)
        warning = self.label_fidelity(run, scores) if self.reader is not None else {}
        append_row(self.path, {"eval": jsonable(scores), "step": run.counters.step, **warning})
        if self.writer is not None:
            for key in (self.metric, "label_fidelity"):
                if key in scores:
                    self.writer.add_scalar(f"eval/{key}", scores[key], run.counters.step)
        if rank is not None and (self.best is None or rank > self.best):
            self.best = rank
            check_weights(run.players, run.counters.step)
            scored = {"eval": scores, "eval_rank": rank, "eval_metric": self.metric}
            save_atomic({**run.state_dict(), **scored, "eval_samples": self.n}, self.best_path)
        return scores

    def label_fidelity(self, run: Run, scores: dict) -> dict:
        """A conditional run's label fidelity (into `scores`, with its worst class), and
        the warning, printed and returned for the row, if G is ignoring its label."""
        from advnets.metrics.fidelity import fidelity_warning, label_fidelity

        classes = run.cfg.model.num_classes
        per_class = max(1, self.n // classes)
        seed = run.cfg.train.seed + 4
        read = label_fidelity(run.G_sample, run.cfg, per_class, seed, self.reader)
        worst = min((v, k.removeprefix("fidelity_")) for k, v in read.items() if k != "fidelity")
        scores["label_fidelity"] = read["fidelity"]
        scores["label_fidelity_worst"], scores["label_fidelity_worst_class"] = worst
        warning = fidelity_warning(read["fidelity"], classes, run.counters.step)
        if warning is None:
            return {}
        print(f"advnets: warning: {warning}", file=sys.stderr)
        return {"warning": warning}

    def score(self, run: Run) -> tuple[dict, float | None]:
        """The scores now, and their rank (None for non-finite samples)."""
        from advnets.metrics.accuracy import accuracy
        from advnets.metrics.evaluate import METRICS

        if self.metric == "accuracy":  # the classifier on the first validation images
            scores = accuracy(run.classifier, run.cfg, "valid", self.n)
            return scores, scores["accuracy"]
        samples = draw_samples(run.G_sample, run.cfg, self.n, run.cfg.train.seed + 3)
        if not torch.isfinite(samples).all():
            scores, rank = {self.metric: float("nan")}, None
        else:
            lo, hi = run.data.value_range
            if samples.ndim == 4:
                samples = ((samples - lo) / (hi - lo)).clamp_(0, 1)
            scores = METRICS[self.metric](samples, self.dataset, self.settings)
            rank = self._rank(scores)
        return scores, rank
