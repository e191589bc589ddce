"""The Watch tab: a run folder read while it trains (its newest sample picture and its
curves from metrics.jsonl), never written to."""

from __future__ import annotations

import numpy as np
from PIL import Image

from advnets.demo.runs import DemoRun
from advnets.demo.uploads import Outbox
from advnets.errors import AdvnetsError


def latest_samples(run: DemoRun) -> tuple[np.ndarray | None, str]:
    """The newest samples/epoch_*.png of the run as pixels, and its file name."""
    pictures = sorted((run.folder / "samples").glob("epoch_*.png"))
    for path in reversed(pictures):  # one being written may not read yet
        try:
            with Image.open(path) as img:
                return np.asarray(img.convert("RGB")), path.name
        except OSError:
            continue
    return None, ""


def status_line(rows: list[dict], eval_rows: list[dict]) -> str:
    """The last logged step, epoch and losses (and the newest scores) as one line."""
    if not rows:
        return "no training rows yet"
    last = rows[-1]
    shown = ", ".join(
        f"{k} {v:.4g}"
        for k, v in last.items()
        if k.startswith(("loss", "d_")) and isinstance(v, float)
    )
    text = f"step {last['step']}, epoch {last.get('epoch', 0):.2f}: {shown}"
    if eval_rows:
        scores = eval_rows[-1]["eval"]
        text += "; scores at step {}: {}".format(
            eval_rows[-1]["step"],
            ", ".join(f"{k} {v:.4g}" for k, v in scores.items() if isinstance(v, int | float)),
        )
    return text


def watch(run: DemoRun, outbox: Outbox) -> tuple[np.ndarray | None, str | None, str]:
    """(the newest sample picture, a picture of the curves, a status line), each as far as
    the run has written it."""
    from advnets.viz import read_metrics, save_training_curves

    samples, name = latest_samples(run)
    metrics = run.folder / "metrics.jsonl"
    try:
        rows, eval_rows = read_metrics(metrics)
        stat = metrics.stat()
    except (AdvnetsError, OSError) as err:
        return samples, None, f"{run.name}: {err}".replace(str(run.folder), run.name)
    key = (stat.st_size, stat.st_mtime_ns)
    if not run.curves or run.curves[0] != key or not run.curves[1].is_file():
        path = outbox.path(f"{run.name}-curves", ".png")  # drawn again only when it grew
        run.curves = (key, save_training_curves(rows, eval_rows, path, run.name))
    curves = run.curves[1]
    line = status_line(rows, eval_rows) + (f" (samples: {name})" if name else "")
    return samples, str(curves), f"{run.name}: {line}"
