"""Load check of `advnets demo` on loopback: the page served in this process on 127.0.0.1,
then generate requests through the Python client (gradio_client), first one at a time,
then from concurrent clients; none may fail.

Prints, per run: the CPU model and torch's threads, the latency of a request alone
(median of --alone requests), and for --requests requests from --clients clients the
failures, median, 95th percentile and largest latency, the requests per second, the CPU
time a request took (this process: server and clients) and the machine's load average,
which tells whether other work shared the cores. A run
folder is trained for --steps steps when none is given (what is measured is serving, which
costs the same for a young G as for a trained one). Exits 1 if a request failed.

    python benchmarks/demo_load.py [RUN_DIR ...] [--presets gan-mnist,dcgan-mnist]
        [--requests 200] [--clients 8] [--n 64] [--alone 20] [--steps 20] [--data DIR]
"""

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

TIMEOUT_S = 120  # one request's bound: a request that takes longer counts as failed


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    """The q-quantile of the values (linear interpolation between order statistics)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def one_request(client, run: str, seed: int, n: int) -> float:
    """Seconds one generate request took (raises if it failed)."""
    start = time.perf_counter()
    job = client.submit(run, seed, n, 1.0, "", api_name="/generate")
    grid, downloads = job.result(timeout=TIMEOUT_S)
    if not grid or len(downloads) != 2:
        raise RuntimeError(f"an incomplete answer: {grid!r}, {downloads!r}")
    return time.perf_counter() - start


def load(url: str, run: str, requests: int, clients: int, n: int) -> tuple[list[float], list[str]]:
    """(latencies, failures) of `requests` generate requests from `clients` clients, each
    client in a thread of its own taking the next request number until none is left."""
    from gradio_client import Client

    latencies, failures, lock = [], [], threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        client = Client(url, verbose=False, download_files=tempfile.mkdtemp())
        while True:
            with lock:
                seed = next(counter, None)
            if seed is None:
                return
            try:
                seconds = one_request(client, run, seed, n)
                with lock:
                    latencies.append(seconds)
            except Exception as err:  # counted and shown, never hidden
                with lock:
                    failures.append(f"request {seed}: {type(err).__name__}: {err}")

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, failures


def measure(url: str, run: str, args: argparse.Namespace) -> bool:
    """Print one run's numbers; False if a request failed."""
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=tempfile.mkdtemp())
    one_request(client, run, 0, args.n)  # warm-up
    alone = [one_request(client, run, seed, args.n) for seed in range(args.alone)]
    start, cpu = time.perf_counter(), time.process_time()
    latencies, failures = load(url, run, args.requests, args.clients, args.n)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"{run}: a request alone (n={args.n}): median {statistics.median(alone):.3f} s")
    print(
        f"{run}: {args.requests} requests from {args.clients} clients: {len(failures)} failed; "
        f"latency median {statistics.median(latencies):.3f} s, "
        f"p95 {percentile(latencies, 0.95):.3f} s, max {max(latencies):.3f} s; "
        f"{len(latencies) / wall:.1f} requests/s; {1000 * cpu / args.requests:.0f} ms of CPU "
        f"a request (server and clients); load average {os.getloadavg()[0]:.1f}"
    )
    for line in failures[:5]:
        print(f"  {line}")
    return not failures


def trained_runs(args: argparse.Namespace, root: Path) -> list[Path]:
    """The run folders given, or one per preset trained for --steps steps."""
    if args.runs:
        return [Path(r) for r in args.runs]
    from advnets import train

    folders = []
    for preset in args.presets.split(","):
        overrides = {"train.steps": args.steps, "train.progress": False, "train.eval_every": 0}
        if args.data:
            overrides["data.root"] = args.data
        train(preset, root / preset, overrides=overrides)
        folders.append(root / preset)
    return folders


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", metavar="RUN_DIR")
    parser.add_argument("--presets", default="gan-mnist,dcgan-mnist")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--n", type=int, default=64, help="samples a request asks for")
    parser.add_argument("--alone", type=int, default=20, help="requests timed one at a time")
    parser.add_argument("--steps", type=int, default=20, help="training steps of a new run")
    parser.add_argument("--data", help="data folder (else $ADVNETS_DATA)")
    args = parser.parse_args()
    if min(args.requests, args.clients, args.n, args.alone) < 1:
        parser.error("--requests, --clients, --n and --alone must be at least 1")
    from advnets.demo import serve

    with tempfile.TemporaryDirectory() as tmp:
        folders = trained_runs(args, Path(tmp))
        port = free_port()
        app, demo = serve(folders, "127.0.0.1", port, block=False)
        print(
            f"CPU: {cpu_model()} ({os.cpu_count()} logical cores), torch threads: "
            f"{torch.get_num_threads()}"
        )
        try:
            ok = all([measure(f"http://127.0.0.1:{port}", run.name, args) for run in demo.runs])
        finally:
            app.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
