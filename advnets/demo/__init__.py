"""`advnets demo`: a web page (Gradio) showing trained runs to others: generate, walk,
arithmetic, restore, classify, reconstruct, and watch a run train.

The handlers (advnets.demo.handlers, .restore, .watch) are plain functions of a loaded run
(advnets.demo.runs); advnets.demo.app wires them into the page. Gradio is imported only by
`serve` and advnets.demo.app (install it with `pip install -e ".[demo]"`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from advnets.errors import ConfigError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def where_line(host: str, port: int, runs: int) -> str:
    """What the server says on start: where it listens, and who can reach it."""
    shown = f"[{host}]" if ":" in host else host
    reach = (
        "only this machine can reach it; --host 0.0.0.0 serves the network"
        if host in LOOPBACK
        else "anyone who can reach this address can use the page"
    )
    return f"advnets demo: {runs} run(s) at http://{shown}:{port} ({reach})"


def serve(
    folders: Sequence[str | Path],
    host: str = "127.0.0.1",
    port: int = 7860,
    device: str = "cpu",
    block: bool = True,
):
    """Load each run folder once (a line on stderr for each that does not load) and serve
    the page on host:port; with block=False, return (app, demo) with the server running."""
    from advnets.api import resolve_device
    from advnets.demo.runs import load_runs

    if not 1 <= int(port) <= 65535:
        raise ConfigError(f"--port must be between 1 and 65535, got {port}")
    dev = resolve_device(device, "--device")
    runs, problems = load_runs([Path(f) for f in folders], dev)
    for line in problems:
        print(f"advnets demo: {line}", file=sys.stderr)
    if not runs:
        raise ConfigError("none of the run folders could be loaded; see the lines above")
    try:
        from advnets.demo.app import Demo, build_app, launch
    except ImportError as err:
        raise ConfigError(
            f'advnets demo needs Gradio ({err.name} is missing): pip install -e ".[demo]"'
        ) from None
    demo = Demo(runs, problems, dev)
    app = build_app(demo)
    print(where_line(host, port, len(runs)), flush=True)
    launch(app, demo, host, int(port), block)
    return app, demo
