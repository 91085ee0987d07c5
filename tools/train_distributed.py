"""Training on several processes or machines through MLX's own launcher, `mlx.launch`.

The launching side (`launch`) turns `distributed` / `hosts` / `hostfile` into an
`mlx.launch` host file for the ring backend (IP addresses: names are resolved here, and a
loopback address runs its rank on this machine without ssh), reserves a block of free ports
(`reserve_ports`: two runs at once never share one), and starts every rank as
`python -P -m sprintboard.tools.train_distributed` with the config as JSON.

Each rank (`main`) joins the ring, runs `train.train_rank` as its `World`, waits for the
others at the end, and prints one completion record (`RankRecord`) on stdout: ok, or the
error it stopped with. `mlx.launch` exits 0 even when a rank fails or is killed, so its exit
status proves nothing: the run succeeded only when every rank's ok record arrived. Rank 0's
record carries the report.

Files: the model and the data must be at the same paths on every host (a shared mount or
copies; nothing is copied here). Each rank checks its own copy: a missing file is that
rank's error record, and a copy whose contents differ from rank 0's (the config fingerprint
covers the data and weights) is refused before the first step. Only rank 0 writes the
output directory, and a resumed run's checkpoint reaches the other ranks through the ring
(`share_resume_point`), so `output` needs to exist on rank 0's host only.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from sprintboard.errors import ToolError
from sprintboard.tools.train_config import LaunchInfo, TrainConfig, TrainReport
from sprintboard.tools.train_resume import Checkpoint

if TYPE_CHECKING:
    from sprintboard.tools.train import World

__all__ = [
    "RankHost",
    "RankRecord",
    "launch",
    "main",
    "planned_world_size",
    "rank_hosts",
    "reserve_ports",
    "share_resume_point",
]

RECORD = "@@sprintboard-train "
"""Prefix of a rank's completion record on its stdout."""
_MODULE = "sprintboard.tools.train_distributed"
_LOCAL = "127.0.0.1"  # mlx.launch runs a rank whose ssh name is exactly this without ssh
# Below Linux's (32768-60999) and macOS's (49152-) ephemeral ranges, so the ranks' own
# outgoing connections never take a port another run has reserved.
_PORTS = (20000, 32000)
_PORT_LOCKS = Path(tempfile.gettempdir()) / "sprintboard-ports"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# mlx.launch (0.29-0.32) polls with select() on its own stdin and on each rank's stdin pipe;
# /dev/null is always readable and an empty pipe always writable, so its loops spin and burn
# most of a core (on 2 cores, a third of the machine; benchmarks/bench_train_distributed.py).
# An open stdin stops the first spin. Local ranks never read their stdin, so filling their
# pipes (newlines, more than a pipe holds) stops the others. Ranks over ssh -tt would see
# the bytes on their terminal, so they get none: there the launcher keeps spinning.
_STDIN_FILL = 256 * 1024


class RankRecord(BaseModel, frozen=True, extra="forbid"):
    """The one line a rank prints when it ends (after `RECORD`)."""

    run: str
    """The launch's id, so a record from another run is never taken for this one's."""
    rank: int
    host: str
    ok: bool
    error: str = ""
    report: TrainReport | None = None
    """Rank 0's report; None on the other ranks."""


# -- which ranks run where -----------------------------------------------------------------------


@dataclass(frozen=True)
class RankHost:
    """Where one rank runs: the name mlx.launch reaches it by, and its IP for the ring."""

    ssh: str
    ip: str

    def __str__(self) -> str:
        return self.ip if self.ssh == self.ip else f"{self.ssh} ({self.ip})"


def _resolve(name: str, where: str) -> RankHost:
    try:
        ip = str(ipaddress.ip_address(name))
    except ValueError:
        try:
            ip = socket.gethostbyname(name)
        except OSError as exc:
            raise ToolError(
                "train",
                f"{where}: host {name!r} does not resolve to an IP address ({exc}); the ring "
                "backend needs one: give the IP, or set `ssh` of the host in sprintboard.toml",
            ) from None
    if ipaddress.ip_address(ip).is_loopback:
        return RankHost(_LOCAL, _LOCAL)
    return RankHost(name, ip)


class _HostEntry(BaseModel, frozen=True):
    ssh: str
    ips: list[str] = []


class _HostFile(BaseModel, frozen=True):
    hosts: list[_HostEntry]
    backend: str = ""
    envs: list[str] = []
    """`NAME=value` for every rank; passed on to the host file mlx.launch gets."""


def _parse_hostfile(path: Path) -> _HostFile:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        parsed = _HostFile.model_validate({"hosts": data} if isinstance(data, list) else data)
    except OSError as exc:
        raise ToolError("train", f"{path}: cannot read the host file: {exc.strerror}") from None
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ToolError(
            "train",
            f"{path}: not an mlx.launch host file ({exc}); expected "
            '{"hosts": [{"ssh": "name", "ips": ["10.0.0.2"]}, ...]}',
        ) from None
    if parsed.backend not in ("", "ring"):
        raise ToolError("train", f"{path}: backend {parsed.backend!r}; only `ring` is supported")
    if not parsed.hosts:
        raise ToolError("train", f"{path}: lists no hosts")
    return parsed


def _read_hostfile(path: Path) -> list[RankHost]:
    hosts = []
    for entry in _parse_hostfile(path).hosts:
        host = _resolve(entry.ips[0] if entry.ips else entry.ssh, str(path))
        hosts.append(host if host.ssh == _LOCAL else RankHost(entry.ssh, host.ip))
    return hosts


def rank_hosts(config: TrainConfig) -> list[RankHost]:
    """One entry per rank, in rank order.

    Raises:
        ToolError: a host name does not resolve, the host file is unreadable or malformed,
            or loopback and other hosts are mixed (the others cannot reach 127.0.0.1).
    """
    if config.hostfile is not None:
        hosts = _read_hostfile(config.hostfile)
    elif config.hosts:
        hosts = [_resolve(name, "hosts") for name in config.hosts]
    else:
        return [RankHost(_LOCAL, _LOCAL)] * config.distributed
    local = {h.ssh == _LOCAL for h in hosts}
    if len(local) > 1:
        raise ToolError(
            "train",
            "hosts mix this machine's loopback address with other hosts, which cannot reach "
            "127.0.0.1 in the ring; name this machine by its network IP instead",
        )
    return hosts


def planned_world_size(config: TrainConfig) -> int:
    """How many ranks the config asks for (reads the host file when there is one)."""
    return len(rank_hosts(config))


# -- ports ---------------------------------------------------------------------------------------


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("", port))
        except OSError:
            return False
    return True


def _lock_ports(first: int, count: int, locks: contextlib.ExitStack) -> bool:
    for port in range(first, first + count):
        lock = locks.enter_context((_PORT_LOCKS / f"{port}.lock").open("ab"))
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
    return True


@contextlib.contextmanager
def reserve_ports(count: int, *, attempts: int = 200) -> Iterator[int]:
    """The first of `count` consecutive free TCP ports, held until the block exits.

    A port is taken only when it binds here and its lock file under the temp directory is
    free; the locks stay held while the run lasts, so concurrent launches on this machine
    pick disjoint blocks even before their ranks bind.

    Raises:
        ToolError: no free block was found.
    """
    _PORT_LOCKS.mkdir(exist_ok=True)
    for _ in range(attempts):
        first = random.randrange(_PORTS[0], _PORTS[1] - count)
        with contextlib.ExitStack() as locks:  # closing a lock file releases its lock
            if _lock_ports(first, count, locks) and all(
                _bindable(port) for port in range(first, first + count)
            ):
                yield first
                return
    raise ToolError(
        "train", f"no {count} consecutive free ports in {_PORTS[0]}-{_PORTS[1]}; retry later"
    )


# -- the launching side --------------------------------------------------------------------------


def _launcher() -> str:
    beside = Path(sys.executable).parent / "mlx.launch"
    found = str(beside) if beside.is_file() else shutil.which("mlx.launch")
    if found is None:
        raise ToolError(
            "train",
            "mlx.launch not found beside this Python or on PATH; install mlx (it ships the "
            "launcher) to train on several ranks",
        )
    return found


def _absolute(config: TrainConfig) -> TrainConfig:
    """The config each rank gets: absolute paths, and no launch fields (it is one rank)."""
    update: dict[str, Any] = {"distributed": 1, "hosts": [], "hostfile": None}
    for name in ("model", "data", "output"):
        update[name] = Path(getattr(config, name)).resolve()
    return config.model_copy(update=update)


def launch(config: TrainConfig, *, show_progress: bool = False) -> TrainReport:
    """Train on every rank the config names, through `mlx.launch`; return rank 0's report.

    `launch.log` in `output` (on this machine) keeps everything the ranks printed.

    Raises:
        ToolError: the hosts cannot be used, a rank reported an error, or a rank ended
            without its completion record (killed, crashed); the message names the ranks.
    """
    hosts = rank_hosts(config)
    size = len(hosts)
    if config.batch_size % size:
        raise ToolError(
            "train",
            f"`batch_size` {config.batch_size} is the global batch and does not divide among "
            f"{size} ranks; pick a multiple of {size}",
        )
    rank_config = _absolute(config)
    output = rank_config.output
    output.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:12]
    log_path = output / "launch.log"
    with reserve_ports(size) as port, tempfile.TemporaryDirectory(prefix="sb-launch-") as tmp:
        hostfile = Path(tmp) / "hosts.json"
        entries = [{"ssh": h.ssh, "ips": [h.ip]} for h in hosts]
        envs = _parse_hostfile(config.hostfile).envs if config.hostfile is not None else []
        text = json.dumps({"backend": "ring", "envs": envs, "hosts": entries})
        hostfile.write_text(text, encoding="utf-8")
        argv = [
            _launcher(), "--hostfile", str(hostfile), "--backend", "ring",
            "--starting-port", str(port), "--python", sys.executable, "--",
            "-P", "-m", _MODULE, "--run", run_id, "--world-size", str(size),
            rank_config.model_dump_json(),
        ]  # fmt: skip
        local = all(h.ssh == _LOCAL for h in hosts)
        records, notes = _run_launcher(argv, log_path, run_id, local=local, echo=show_progress)
    report = _verdict(records, notes, size, log_path, output)
    info = LaunchInfo(hosts=[str(h) for h in hosts], port=port, log=log_path)
    return report.model_copy(update={"launch": info})


def _fill(stdin: IO[bytes]) -> None:
    with contextlib.suppress(OSError, ValueError):  # mlx.launch ended early: the verdict says why
        stdin.write(b"\n" * _STDIN_FILL)
        stdin.flush()


def _run_launcher(
    argv: list[str], log_path: Path, run_id: str, *, local: bool, echo: bool
) -> tuple[dict[int, RankRecord], list[str]]:
    """Run mlx.launch to the end; return this run's records by rank and its warnings."""
    records: dict[int, RankRecord] = {}
    notes: list[str] = []
    with log_path.open("a", encoding="utf-8") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,  # open and silent: see _STDIN_FILL
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: the ranks stop with the launcher
        )
        assert proc.stdin is not None and proc.stdout is not None
        filler = threading.Thread(target=_fill, args=(proc.stdin,), daemon=True)
        if local:
            filler.start()
        try:
            for raw in proc.stdout:
                line = _ANSI.sub("", raw.decode("utf-8", errors="replace")).rstrip("\r\n")
                log.write(line + "\n")
                at = line.find(RECORD)
                if at >= 0:
                    record = _parse_record(line[at + len(RECORD) :])
                    if record is not None and record.run == run_id:
                        records[record.rank] = record
                    continue
                if "Node with rank" in line or "[ERROR]" in line:
                    notes.append(line.replace("[WARN]", "").strip())
                if echo:
                    sys.stderr.write(line + "\n")
            proc.wait()
        finally:
            if proc.poll() is None:  # interrupted: stop every rank, not only the launcher
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()
            proc.stdout.close()
            if local:
                filler.join(timeout=10)  # its write ends once mlx.launch has gone
            with contextlib.suppress(OSError):
                proc.stdin.close()
    return records, notes


def _parse_record(text: str) -> RankRecord | None:
    try:
        return RankRecord.model_validate_json(text)
    except ValidationError:
        return None  # torn by another rank's output: counts as no record


def _verdict(
    records: dict[int, RankRecord], notes: list[str], size: int, log_path: Path, output: Path
) -> TrainReport:
    """Rank 0's report when every rank sent its ok record; else why not, rank by rank."""
    failed = [r for r in records.values() if not r.ok]
    missing = sorted(set(range(size)) - set(records))
    report = records[0].report if 0 in records else None
    if not failed and not missing and report is not None:
        return report
    parts = []
    if missing:  # first: a rank that died is why the others lost their ring
        said = f" (mlx.launch: {'; '.join(notes)})" if notes else ""
        ranks = ", ".join(map(str, missing))
        parts.append(f"rank(s) {ranks} of {size} ended without finishing, killed or crashed{said}")
    parts += [f"rank {r.rank} on {r.host}: {r.error}" for r in failed]
    if not parts:
        parts.append("rank 0 sent no report")
    resume = (
        f"; run the same command again to resume from the newest checkpoint in {output}"
        if missing
        else ""
    )
    raise ToolError("train", f"{'; '.join(parts)}{resume} (the ranks' output is in {log_path})")


# -- the rank side -------------------------------------------------------------------------------


def _from_rank0(world: World, value: Any) -> Any:
    # mlx loads only when a model runs: `import sprintboard` works without it
    import mlx.core as mx

    return mx.distributed.all_sum(value if world.writes else mx.zeros_like(value))


def share_resume_point(world: World, start: Checkpoint, model: Any, optimizer: Any) -> Checkpoint:
    """Rank 0's starting point (and, when resuming, its restored weights and optimizer
    state) on every rank; refuses a rank whose model or data differ from rank 0's.

    Raises:
        ToolError: this rank's config fingerprint (settings, data, weights) is not rank 0's.
    """
    # mlx loads only when a model runs: `import sprintboard` works without it
    import mlx.core as mx
    from mlx.utils import tree_map

    mine = int(start.fingerprint[:12], 16)  # 48 bits: fits the int64 the ring sums
    numbers = mx.array([start.step, start.consumed, start.trained_tokens, mine], mx.int64)
    step, consumed, tokens, theirs = (int(n) for n in _from_rank0(world, numbers).tolist())
    if theirs != mine:
        raise ToolError(
            "train",
            "the model or data on this host differ from rank 0's (their fingerprints "
            "differ); every host needs the same files at the same paths",
        )
    if step:
        if not world.writes:
            optimizer.init(model.trainable_parameters())
        model.update(tree_map(lambda x: _from_rank0(world, x), model.trainable_parameters()))
        optimizer.state = tree_map(lambda x: _from_rank0(world, x), optimizer.state)
        mx.eval(model.parameters(), optimizer.state)
    return Checkpoint(start.path, step, consumed, start.fingerprint, tokens, world.size)


def _check_files(config: TrainConfig) -> None:
    """Fail fast, before mlx-lm loads (seconds), where this host lacks the model or data."""
    needed = [
        config.model / "config.json",
        config.data / "train.jsonl",
        config.data / "valid.jsonl",
    ]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise ToolError(
            "train",
            f"{', '.join(missing)}: missing on this host; every host needs the model and data "
            "at the same paths (a shared mount, or copies made before the run)",
        )


def _join(world_size: int) -> World:
    # mlx only where a model runs; sprintboard.tools.train imports this module (a cycle)
    import mlx.core as mx

    from sprintboard.tools.train import World

    try:
        group = mx.distributed.init(strict=True, backend="ring")
    except RuntimeError as exc:
        raise ToolError("train", f"cannot join the ring: {exc}") from None
    if group.size() != world_size:
        raise ToolError(
            "train", f"the ring has {group.size()} ranks but the launcher started {world_size}"
        )
    return World(group.rank(), group.size())


def _print_record(record: RankRecord) -> None:
    sys.stdout.flush()
    # One write, on a fresh line, so another rank's output cannot tear it.
    os.write(sys.stdout.fileno(), f"\n{RECORD}{record.model_dump_json()}\n".encode())


def main(argv: list[str] | None = None) -> None:
    """One rank: join the ring, train, wait for the others, print the completion record."""
    # mlx only where a model runs; sprintboard.tools.train imports this module (a cycle)
    import mlx.core as mx

    from sprintboard.tools.train import train_rank

    parser = argparse.ArgumentParser(prog=f"python -m {_MODULE}")
    parser.add_argument("--run", required=True)
    parser.add_argument("--world-size", type=int, required=True)
    parser.add_argument("config", help="TrainConfig as JSON")
    args = parser.parse_args(argv)
    rank = int(os.environ.get("MLX_RANK", "-1"))
    host = socket.gethostname()
    try:
        config = TrainConfig.model_validate_json(args.config)
        _check_files(config)
        world = _join(args.world_size)
        report = train_rank(config, world)
        mx.eval(mx.distributed.all_sum(mx.array(1)))  # every rank got to the end
    except Exception as exc:  # reported to the launcher, which fails the command
        if not isinstance(exc, ToolError):
            traceback.print_exc()  # a bug, not a refusal: keep its traceback in the log
        _print_record(RankRecord(run=args.run, rank=rank, host=host, ok=False, error=str(exc)))
        sys.exit(1)
    _print_record(
        RankRecord(
            run=args.run, rank=rank, host=host, ok=True, report=report if world.writes else None
        )
    )


if __name__ == "__main__":
    main()
