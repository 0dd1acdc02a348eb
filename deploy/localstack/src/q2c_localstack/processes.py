"""Detached processes with pid files. A pid file records the process start time as well,
so `down` never signals an unrelated process that happens to reuse the pid."""

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); the command name in field 2 may hold spaces, so split after ')'.
    return stat.rsplit(")", 1)[1].split()[19]


def is_zombie(pid: int) -> bool:
    """Exited (or gone), not yet reaped by its parent."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _pidfile(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid"


def running_pid(run_dir: Path, name: str) -> int | None:
    """The pid of our process `name`, if it is still alive."""
    path = _pidfile(run_dir, name)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    pid = int(record["pid"])
    if _start_time(pid) != record["start_time"]:
        path.unlink(missing_ok=True)
        return None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
    if state == "Z":  # exited, not yet reaped by its parent
        return None
    return pid


def start(
    run_dir: Path, name: str, argv: Sequence[str], *, log: Path,
    env: Mapping[str, str] | None = None, cwd: Path | None = None,
) -> int:
    run_dir.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True,
        )
    start_time = None
    for _ in range(50):
        start_time = _start_time(proc.pid)
        if start_time:
            break
        time.sleep(0.01)
    _pidfile(run_dir, name).write_text(
        json.dumps({"pid": proc.pid, "start_time": start_time, "argv": list(argv)})
    )
    return proc.pid


def stop(run_dir: Path, name: str, *, timeout: float = 20.0) -> bool:
    """SIGTERM the process group, SIGKILL after `timeout`. True if something was stopped."""
    pid = running_pid(run_dir, name)
    if pid is None:
        _pidfile(run_dir, name).unlink(missing_ok=True)
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_pid(run_dir, name) is None:
            break
        time.sleep(0.1)
    else:
        _signal_group(pid, signal.SIGKILL)
        time.sleep(0.2)
    _pidfile(run_dir, name).unlink(missing_ok=True)
    return True


def terminate(run_dir: Path, name: str) -> None:
    """SIGTERM without waiting: several processes that must stop together (a Kafka cluster's
    last node would otherwise wait for a quorum that has already gone)."""
    pid = running_pid(run_dir, name)
    if pid is not None:
        _signal_group(pid, signal.SIGTERM)


def kill(run_dir: Path, name: str) -> None:
    """SIGKILL, for crash tests: no shutdown hooks run."""
    pid = running_pid(run_dir, name)
    if pid is not None:
        _signal_group(pid, signal.SIGKILL)
        for _ in range(100):
            if running_pid(run_dir, name) is None:
                break
            time.sleep(0.05)
    _pidfile(run_dir, name).unlink(missing_ok=True)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def tail(path: Path, lines: int = 30, window: int = 64 * 1024) -> str:
    """The last lines of a log, read from its last `window` bytes only: a service that keeps
    failing to start (no broker, during `make soak`) grows its log by megabytes, and decoding
    all of it on every try held the GIL long enough to stall the soak's event loop."""
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - window))
            text = log.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0
