"""Data-parallel training: one run on N processes launched by `torchrun` (torch.distributed).

    torchrun --nproc_per_node 2 -m advnets train gan-grid --out runs/grid

Every process builds the same run (same seed, same initial weights) and holds every player;
each player's network is synchronised by a DistributedDataParallel (DDP) instance whose
gradient all-reduce overlaps the backward pass. The methods keep calling their plain
networks: DDP's forward bookkeeping is attached to each network as forward hooks (the
mechanism of torch's composable `replicate`), switched on only in the phases that train
that player, so frozen players, `D.features`, `torch.func.functional_call` (unrolled D)
and `autograd.grad` paths (the gradient penalty) see the unwrapped module.

What each process sees:
- batches: `train.batch_size` stays the total of one step. Every process draws that total
  batch from the run's shared stream (data permutation, noise, labels: the stream of a
  single-process run) and keeps its own contiguous 1/N share, so the union over processes
  is the batch one process would train on, and DDP's averaged gradient is its gradient;
- its own randomness: inside a phase (dropout, the gradient penalty's interpolation
  weights, a VAE's sampling) each process draws from its own stream, seeded by (seed,
  rank, step), so shares are not masked alike; a checkpoint therefore holds every rank's
  generator state implicitly, and the shared stream and sampler state are the same on
  every rank by construction (checked at every step);
- writing: only rank 0 writes checkpoints, metrics, TensorBoard and pictures; the logged
  losses are the mean over processes.
Per-batch computations (batch norm without `train.sync_bn`, minibatch discrimination,
feature matching's means, the unrolled D's look-ahead) see the process's share only.
"""

import gc
import hashlib
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from advnets.errors import ConfigError, TeamError
from advnets.methods.base import Counters, Phase, Stats

if TYPE_CHECKING:
    from advnets.config import Config
    from advnets.training.run import Run


@dataclass(frozen=True)
class Place:
    """Where this process sits in the job, as torchrun's environment says."""

    rank: int
    world: int
    local_rank: int


def place_from_env() -> Place | None:
    """This process's place in a torchrun job of two or more processes; None otherwise (a
    plain run, or torchrun with one process: exactly the single-process run)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world < 2:
        return None
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if local < torch.cuda.device_count():
        torch.cuda.set_device(local)  # "cuda" then means this process's own GPU
    return Place(rank, world, local)


def stream_seed(seed: int, rank: int, step: int) -> int:
    """The seed of rank `rank`'s own stream for iteration `step` (independent of N)."""
    digest = hashlib.blake2b(f"{seed}/{rank}/{step}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class _DDPHook:
    """A forward (pre-)hook that runs a DDP instance's bookkeeping around the plain
    module's forward while its team says so; a deep copy (a weight average) gets none."""

    def __init__(self, team: "Team | None", name: str, post: bool) -> None:
        self.team, self.name, self.post = team, name, post

    def __call__(self, module: nn.Module, args: tuple, *rest: Any) -> Any:
        if self.team is None or self.name not in self.team.active:
            return None
        ddp = self.team.ddps[self.name]
        if self.post:
            return ddp._post_forward(rest[-1])
        if torch.is_grad_enabled():
            self.team.armed.add(self.name)
        return ddp._pre_forward(*args, **rest[0])

    def __deepcopy__(self, memo: dict) -> "_DDPHook":
        return _DDPHook(None, self.name, self.post)


def _states(cuda: bool) -> tuple[Tensor, Tensor | None]:
    """The global CPU generator's state, and the current GPU's when `cuda`."""
    return torch.get_rng_state(), torch.cuda.get_rng_state() if cuda else None


def _set_states(states: tuple[Tensor, Tensor | None]) -> None:
    torch.set_rng_state(states[0])
    if states[1] is not None:
        torch.cuda.set_rng_state(states[1])


@dataclass
class Team:
    """The processes of one data-parallel run, and what keeps them in step."""

    place: Place
    device: torch.device
    seed: int
    counters: Counters
    ddps: dict[str, DistributedDataParallel] = field(default_factory=dict)
    active: set[str] = field(default_factory=set)  # players whose forwards DDP follows now
    armed: set[str] = field(default_factory=set)  # players with a tracked forward pending
    _own: tuple[Tensor, Tensor | None] | None = None  # this rank's generator states now
    _own_step: int = -1

    @property
    def rank(self) -> int:
        return self.place.rank

    @property
    def world(self) -> int:
        return self.place.world

    @property
    def writes(self) -> bool:
        """Whether this process writes files (rank 0)."""
        return self.place.rank == 0

    def wrap(self, name: str, net: nn.Module) -> None:
        """Follow player `name`'s network with DDP (which broadcasts rank 0's weights)."""
        ids = [self.device.index or 0] if self.device.type == "cuda" else None
        self.ddps[name] = DistributedDataParallel(net, device_ids=ids)
        net.register_forward_pre_hook(_DDPHook(self, name, post=False), with_kwargs=True)
        net.register_forward_hook(_DDPHook(self, name, post=True))

    @contextmanager
    def phase(self, phase: Phase) -> Iterator[None]:
        """Around one phase's losses and update: DDP follows the forwards of the players the
        phase trains (or keeps a graph of, for a later phase), and randomness comes from
        this rank's own stream."""
        self.active = {n for n in (*phase.trains, *phase.keeps_graph) if n in self.ddps}
        try:
            with self._own_stream():
                yield
        finally:
            self.active = set()
        missed = [n for n in phase.trains if n in self.ddps and n not in self.armed]
        self.armed -= set(phase.trains)
        if missed:
            raise RuntimeError(
                f"player {missed[0]} was updated without a call of its network's forward in "
                f"this phase, so DDP could not average its gradients; call the network itself"
            )

    @contextmanager
    def _own_stream(self) -> Iterator[None]:
        """The global generator swapped for this rank's own stream; the shared stream of
        batches is put back after."""
        cuda = self.device.type == "cuda"
        shared = _states(cuda)
        if self.counters.step != self._own_step or self._own is None:
            seed = stream_seed(self.seed, self.rank, self.counters.step)
            torch.set_rng_state(torch.Generator().manual_seed(seed).get_state())
            if cuda:
                torch.cuda.manual_seed(seed)
            self._own_step = self.counters.step
        else:
            _set_states(self._own)
        try:
            yield
        finally:
            self._own = _states(cuda)
            _set_states(shared)

    def agree(self, stats: Stats, stop: bool) -> tuple[Stats, bool]:
        """The step's statistics averaged over the processes, and whether any of them was
        asked to stop (all then stop after the same step). The same all-reduce checks that
        every process's shared stream of batches is where rank 0's is."""
        keys = list(stats)
        values = [stats[k].detach().float().reshape(()).to(self.device) for k in keys]
        mine = float(torch.tensor(self._fingerprint(), dtype=torch.float32))
        extra = torch.tensor([float(stop), mine], device=self.device)
        both = torch.cat([torch.stack(values), extra]) if values else extra
        dist.all_reduce(both)
        if abs(float(both[-1]) / self.world - mine) > 1e-6:
            raise TeamError(
                f"the processes' streams of batches differ after step {self.counters.step} "
                f"(something drew random numbers on some ranks only); the run cannot go on"
            )
        mean = both[: len(keys)] / self.world
        return {k: mean[i] for i, k in enumerate(keys)}, bool(both[-2] > 0)

    def _fingerprint(self) -> float:
        """A number in [0, 1) that identifies the state of the shared generators."""
        states = _states(self.device.type == "cuda")
        data = b"".join(s.cpu().numpy().tobytes() for s in states if s is not None)
        digest = hashlib.blake2b(data, digest_size=4).digest()
        return int.from_bytes(digest, "little") / 2**32

    @contextmanager
    def shared_stream_kept(self) -> Iterator[None]:
        """Rank 0's hooks (pictures, evaluation) may draw numbers: the shared stream of
        batches is restored after them, so the ranks never drift apart."""
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            yield

    def finish(self) -> None:
        """Wait until every rank has finished the run (called by all of them after the same
        last step), so that no rank tears the group down while a peer still talks to it:
        gloo then aborts the peer at exit."""
        dist.barrier()

    def release(self) -> None:
        """Free DDP's reducers now. The networks' hooks and this team refer to each other,
        so without a collection the reducers would die whenever the cycle collector runs,
        possibly after the process group is gone or at interpreter exit, where a reducer's
        gloo work still pending makes the process abort."""
        self.ddps.clear()
        self.active.clear()
        self.armed.clear()
        gc.collect()

    def close(self) -> None:
        """Release DDP's reducers and leave the process group (after `finish`, or after an
        error, when a peer may never reach a barrier and torchrun stops the job anyway)."""
        self.release()
        if dist.is_initialized():
            dist.destroy_process_group()


def alone(run: "Run") -> None:
    """A run in one process: a data-parallel run resumed here says so, and records it."""
    if run.world_size != 1 and run.counters.step > 0:
        print(
            f"resuming a {run.world_size}-process run in one process: the same batches; "
            f"its own randomness and per-batch statistics now follow the whole batch"
        )
    if run.cfg.train.sync_bn:
        print("note: train.sync_bn synchronises batch norm across processes; one has none")
    run.world_size = 1


PEER_GONE = ("Connection closed by peer", "Connection reset by peer", "Broken pipe")


def peer_left(err: BaseException, team: "Team | None") -> TeamError | None:
    """One line for a collective that failed on any rank because a peer left the run (a
    failure of its own, such as rank 0's divergence check, or killed); None for any other
    error."""
    if team is None or not isinstance(err, RuntimeError):
        return None
    gone = [s for s in PEER_GONE if s in str(err)]
    if not gone:
        return None
    return TeamError(
        f"rank {team.rank}: another process left the run after step {team.counters.step} "
        f"({gone[0].lower()}); its own error above says why (none if it was killed)"
    )


@contextmanager
def stopped_by_launcher(team: "Team | None", run_dir: Path) -> Iterator[None]:
    """torchrun ends the other processes with SIGTERM when one fails or is killed: each
    then stops with one line of its own (no final checkpoint is written over the last good
    one) instead of dying without a word. Once an error is on its way out, SIGTERM is
    ignored so that the process can close its group and print that error's line."""
    if team is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise TeamError(
            f"rank {team.rank}: stopped by the launcher after step {team.counters.step}, "
            f"as another process of the run failed or was killed; {run_dir} keeps its last "
            f"checkpoint: continue with `advnets train --resume {run_dir}`"
        )

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    except BaseException:  # an error is on its way out: let it finish and print its line
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise
    signal.signal(signal.SIGTERM, previous)


def check_split(cfg: "Config", world: int, cuda: bool) -> None:
    """The config rules of a run split over `world` processes (one line each)."""
    m, pack = cfg.train.batch_size, cfg.model.discriminator.pack
    if m % world:
        raise ConfigError(
            f"train.batch_size={m} is the total of one step over {world} processes; "
            f"make it a multiple of {world}"
        )
    if (m // world) % pack:
        raise ConfigError(
            f"model.discriminator.pack={pack}: each process's share of train.batch_size "
            f"({m // world}) must be whole packs; make train.batch_size a multiple of "
            f"{world * pack}"
        )
    if cfg.train.sync_bn and not cuda:
        raise ConfigError(
            "train.sync_bn=true needs CUDA devices (torch's SyncBatchNorm does not run on "
            "CPU); set it false, and each process normalises its own share of the batch"
        )
    per_node, gpus = int(os.environ.get("LOCAL_WORLD_SIZE", 0)), torch.cuda.device_count()
    if cuda and per_node > gpus:  # torchrun sets LOCAL_WORLD_SIZE; other launchers may not
        raise ConfigError(
            f"{per_node} processes on this node for {gpus} GPU(s): a CUDA run takes one "
            f"GPU per process; pass --nproc_per_node {gpus}, or train.device=cpu"
        )


def join(place: Place, run: "Run") -> Team:
    """Start the process group (nccl for a CUDA run, gloo for a CPU one) and make `run`
    this process's part of a data-parallel run."""
    cuda = run.device.type == "cuda"
    check_split(run.cfg, place.world, cuda)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device("cuda", torch.cuda.current_device()) if cuda else run.device
    team = Team(place, device, run.cfg.train.seed, run.counters)
    if cuda and run.counters.step > 0:  # resumed: rank 0's stream is saved as GPU 0's
        torch.cuda.set_rng_state(torch.cuda.get_rng_state(0))
    for name, player in run.players.items():
        if run.cfg.train.sync_bn:
            player.net = nn.SyncBatchNorm.convert_sync_batchnorm(player.net)
        if any(p.requires_grad for p in player.net.parameters()):
            team.wrap(name, player.net)
    run.step.batches.shard = (place.rank, place.world)
    run.step.around = team.phase
    if run.world_size != place.world and run.counters.step > 0 and team.writes:
        print(
            f"resuming a {run.world_size}-process run on {place.world} processes: the same "
            f"batches; each process's own randomness and per-share statistics (batch norm, "
            f"minibatch discrimination, feature means) now follow the {place.world}-way split"
        )
    run.world_size = place.world
    return team
