"""One process of the data-parallel tests: `advnets train ...` (the argv after the
options below), launched by torch.distributed.run or alone.

--fixed-alpha: the gradient penalty's interpolation weight of each sample is a function of
    that sample, so a split run and one process interpolate at the same points;
--writes DIR: every checkpoint write is recorded in DIR/writes-rank<RANK>.txt;
--desync: rank 0's hooks draw random numbers without the fence that keeps the shared
    stream of batches in step (the run must stop at once, saying so);
--die RANK: that rank is killed (SIGKILL) after step 2, as the system kills a process;
--families OUT NAME...: instead of `advnets train`, trains each named entry of FAMILIES
    (one process group for all) and rank 0 saves every one's weights to OUT.
--plan DIR [NAME...]: one launch for every scenario of tests/test_distributed.py, one after
    another: PLAN's runs into DIR/<scenario>,
    each rank's exit status, stdout and stderr of each into DIR/<scenario>-rank<R>.json,
    then the FAMILIES named into DIR/split.pt; the run that stops rank 0 alone comes last.
    One process group serves them all.
"""

import contextlib
import io
import json
import os
import sys
from pathlib import Path

import torch

import advnets.methods.gan as gan
import advnets.methods.vaegan as vaegan
import advnets.training.hooks as hooks
from advnets import load_preset
from advnets.cli import main
from advnets.training import build_run, run_loop
from advnets.training.distributed import join, place_from_env

STEPS = 3
SGD = ["optim.D.name=sgd", "optim.D.lr=0.01", "optim.G.name=sgd", "optim.G.lr=0.01"]
COMMON = [*SGD, "train.batch_size=32", "train.threads=1", "train.progress=false"]
TOY = [*COMMON, "model.generator.hidden=[32]", "model.discriminator.hidden=[32]"]
CONV = [*COMMON, "model.generator.channels=8", "model.discriminator.channels=8"]
CONV += ["model.generator.norm=none", "model.discriminator.norm=none", "model.z_dim=8"]
# method families whose split run draws nothing that depends on the split (no dropout,
# batch norm or per-batch statistics; the VAE's eps a function of the sample)
FAMILIES: dict[str, tuple[str, list[str]]] = {
    "simultaneous": ("gan-grid", [*TOY, "train.update=simultaneous"]),
    "reuse_fakes": ("gan-grid", [*TOY, "train.update=reuse_fakes"]),
    "pacgan": ("gan-grid", [*TOY, "model.discriminator.pack=2"]),
    "conditional": ("cgan-mnist", [*COMMON, "model.discriminator.input_dropout=0",
                                   "model.discriminator.hidden_dropout=0"]),
    "sgan": ("sgan-mnist", CONV),
    "vaegan": ("vaegan-mnist", [*CONV, "model.encoder.channels=8", "model.encoder.norm=none",
                                "optim.E.name=sgd", "optim.E.lr=0.01"]),
}  # fmt: skip
MNIST = ("conditional", "sgan", "vaegan")
# per-batch computations that each process does on its share (documented, not the same
# numbers as one process): they must train, with DDP following their own paths
FAMILIES.update(
    {
        "unrolled": ("gan-grid", [*TOY, "options.unroll_steps=2"]),
        "feature_matching": ("gan-grid", [*TOY, "loss.generator=feature_matching"]),
        "minibatch": ("gan-grid", [*TOY, "model.discriminator.minibatch_kernels=4"]),
    }
)
PER_RANK = ("unrolled", "feature_matching", "minibatch")


def sample_eps_reparameterize(mean, logvar):
    """z = mean + sigma * eps with eps a function of the sample (not of the batch split)."""
    return mean + (0.5 * logvar).exp() * torch.sin(1000 * mean.detach())


def family_weights(name: str, data_root: str | None, team_place=None) -> dict:
    """Train family `name` for STEPS steps (split when `team_place`); its nets' weights."""
    preset, overrides = FAMILIES[name]
    root = [f"data.root={data_root}"] if name in MNIST and data_root else []
    run = build_run(load_preset(preset, [*overrides, *root]))
    team = join(team_place, run) if team_place is not None else None
    run_loop(run, [], STEPS, team)
    if team is not None:  # the process group stays for the next family
        team.release()
    return {player: net.state_dict() for player, net in run.nets.items()}


def fixed_alpha_penalty(D, real, fake, alpha=None, pack=1):
    """The gradient penalty at alpha = sigmoid(sum of the real sample's values)."""
    alpha = torch.sigmoid(real.detach().flatten(1).sum(1))
    return fixed_alpha_penalty.original(D, real, fake, alpha, pack)


def desync() -> None:
    import contextlib

    import advnets.training.loop as loop
    from advnets.training.distributed import Team

    class Draw(hooks.Hook):
        def after_step(self, run, stats):
            torch.rand(1)

    Team.shared_stream_kept = lambda self: contextlib.nullcontext()
    original = loop.default_hooks
    loop.default_hooks = lambda *args: [Draw(), *original(*args)]


def die(rank: str) -> None:
    """Rank `rank` is killed (SIGKILL: no error of its own) as it ends step 2."""
    import signal

    from advnets.training.distributed import Team

    original = Team.agree

    def agree(self, stats, stop):
        if self.counters.step == 2 and os.environ.get("RANK") == rank:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, stats, stop)

    Team.agree = agree


def record_writes(folder: str) -> None:
    original, rank = hooks.save_atomic, os.environ.get("RANK", "0")

    def save(obj, path):
        with open(os.path.join(folder, f"writes-rank{rank}.txt"), "a") as f:
            f.write(f"{path}\n")
        original(obj, path)

    hooks.save_atomic = save


def train_families(out: str, names: list[str], keep: bool = False) -> None:
    vaegan.reparameterize = sample_eps_reparameterize
    place = place_from_env()
    weights = {n: family_weights(n, os.environ.get("ADVNETS_DATA"), place) for n in names}
    if place is None or place.rank == 0:
        torch.save(weights, out)
    if place is not None and place.rank > 0:  # to check that every rank holds the same
        torch.save(weights, f"{out}.rank{place.rank}")
    if torch.distributed.is_initialized() and not keep:  # each run ended with a barrier
        torch.distributed.destroy_process_group()


@contextlib.contextmanager
def patched(*options: str):
    """The module-level patches of the options above, undone afterwards."""
    import advnets.training.loop as loop
    from advnets.training.distributed import Team

    saved = (gan.gradient_penalty, hooks.save_atomic, Team.shared_stream_kept)
    saved_hooks = loop.default_hooks
    try:
        if "--fixed-alpha" in options:
            fixed_alpha_penalty.original = gan.gradient_penalty
            gan.gradient_penalty = fixed_alpha_penalty
        if "--desync" in options:
            desync()
        if "--writes" in options:
            record_writes(options[options.index("--writes") + 1])
        yield
    finally:
        gan.gradient_penalty, hooks.save_atomic, Team.shared_stream_kept = saved
        loop.default_hooks = saved_hooks


# (scenario, patches, `advnets train` argv after the folder; {out}: the plan's folder)
GRID = ["train", "gan-grid", "--out"]
NOISY = ["--set", "model.discriminator.hidden_dropout=0.5"]


def plan(toy: list[str]) -> list[tuple[str, list[str], list[str]]]:
    every = ["--set", "train.checkpoint_every=2"]
    return [
        ("two", ["--fixed-alpha", "--writes", "{out}"], [*GRID, "{out}/two", "--steps", "4"]
         + toy + every),
        ("straight", [], [*GRID, "{out}/straight", "--steps", "6", *toy, *NOISY]),
        ("halves", [], [*GRID, "{out}/halves", "--steps", "3", *toy, *NOISY]),
        ("resumed", [], ["train", "--steps", "6", "--resume", "{out}/halves"]),
        ("desync", ["--desync"], [*GRID, "{out}/desync", "--steps", "3", *toy]),
    ]  # fmt: skip


RANK0_FAILS = ("rank0", [], [*GRID, "{out}/rank0", "--steps", "5", "--set", "train.max_loss=0.01"])


def run_scenario(out: str, name: str, options: list[str], argv: list[str]) -> None:
    """One `advnets train` of the plan, its status and output saved for the test."""
    rank = os.environ.get("RANK", "0")
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        patched(*[o.format(out=out) for o in options]),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        code = main([a.format(out=out) for a in argv])
    record = {"code": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}
    Path(out, f"{name}-rank{rank}.json").write_text(json.dumps(record))


def run_plan(out: str, toy: list[str], families: list[str]) -> None:
    """The scenarios in one process group, both ranks in step at each one's start (a group
    started afresh for each could meet a peer's address of the last one)."""
    from advnets.training.distributed import Team

    Team.close = Team.release  # the group stays for the next scenario
    torch.distributed.init_process_group("gloo")
    for name, options, argv in plan(toy):
        run_scenario(out, name, options, argv)
        torch.distributed.barrier()
    train_families(os.path.join(out, "split.pt"), families, keep=True)
    torch.distributed.barrier()
    run_scenario(out, *RANK0_FAILS[:2], [*RANK0_FAILS[2][:4], *toy, *RANK0_FAILS[2][4:]])


if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv[0] == "--plan":  # DIR FAMILY... -- TOY-ARGS
        split = argv.index("--")
        run_plan(argv[1], argv[split + 1 :], argv[2:split])
        sys.exit(0)
    if argv[0] == "--families":
        train_families(argv[1], argv[2:])
        sys.exit(0)
    if argv[0] == "--fixed-alpha":
        fixed_alpha_penalty.original = gan.gradient_penalty
        gan.gradient_penalty = fixed_alpha_penalty
        argv = argv[1:]
    if argv[0] == "--desync":
        desync()
        argv = argv[1:]
    if argv[0] == "--die":
        die(argv[1])
        argv = argv[2:]
    if argv[0] == "--writes":
        record_writes(argv[1])
        argv = argv[2:]
    sys.exit(main(argv))
