"""Supervising background processes: pid files, port checks, start, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from shopflow.errors import ShopflowError


class ServiceError(ShopflowError, RuntimeError):
    """A service could not be started, reached or stopped; the message says what to do."""


@dataclass(frozen=True)
class PortSpec:
    port: int
    variable: str  # the environment variable that moves this port


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port and we could bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_ports_free(service: str, host: str, ports: Sequence[PortSpec]) -> None:
    """Raise a ServiceError naming the first busy port and the variable that moves it."""
    for spec in ports:
        if not port_is_free(host, spec.port):
            raise ServiceError(
                f"{service}: port {host}:{spec.port} is already in use by another process. "
                f"Stop that process or set {spec.variable} to a free port."
            )


def poll_until(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Call `check` every `interval` seconds until it returns true (then True) or `timeout` passes (False)."""
    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(interval),
        retry=retry_if_result(lambda ready: not ready),
        retry_error_callback=lambda _state: False,
    )
    return bool(retrying(check))


def wait_until(check: Callable[[], bool], timeout: float, what: str, log: Path | None = None) -> None:
    """Poll `check` until it is true; on timeout raise naming `what` and the log to read."""
    if not poll_until(check, timeout):
        hint = f"; see {log}" if log else ""
        raise ServiceError(f"{what} did not become ready within {timeout:.0f} s{hint}")


def pid_alive(pid: int) -> bool:
    """True when `pid` runs; a zombie (killed, not yet reaped by its parent) does not."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def read_pid(pidfile: Path, marker: str) -> int | None:
    """The pid in `pidfile` if that process is alive and its command line contains `marker`."""
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        # The marker guards against a recycled pid: another program now running under our old number.
        return pid if marker in " ".join(process.cmdline()) else None
    except psutil.Error:  # gone, or not ours to inspect
        return None


def spawn(
    args: Sequence[str], *, log: Path, pidfile: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> int:
    """Start `args` detached in its own session, output appended to `log`; write and return its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            list(args),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    pidfile.write_text(str(proc.pid))
    return proc.pid


def terminate(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM the process group of `pid`, then SIGKILL what is left after `timeout` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    if poll_until(lambda: _reaped_or_gone(pid), timeout):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _reaped_or_gone(pid: int) -> bool:
    # Reap it when it is our child (else it stays a zombie); a zombie of another parent counts as gone.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return not pid_alive(pid)


class PidFileService:
    """A server we start in the background and track with a pid file: reuse, restart, stop.

    Subclasses set `name`, `marker` (a string in the process's command line, so a recycled pid is
    never mistaken for ours) and `startup_timeout`, and implement `_ready` and `_launch`.
    """

    name = ""
    marker = ""
    startup_timeout = 30.0

    def __init__(self, settings):
        self.settings = settings
        self.log = settings.logs_dir / f"{self.name}.log"
        self.pidfile = settings.run_dir / f"{self.name}.pid"

    def _ready(self) -> bool:
        raise NotImplementedError

    def _launch(self) -> None:
        """Check the ports and spawn the process (writing the pid file)."""
        raise NotImplementedError

    def _after_start(self) -> None:
        """Work once the server answers (idempotent; also run when an existing server is reused)."""

    def pid(self) -> int | None:
        return read_pid(self.pidfile, self.marker)

    def is_running(self) -> bool:
        return self.pid() is not None and self._ready()

    def start(self) -> str:
        """Start the server; return 'started', 'reused' or 'restarted' (after a crash or a hang)."""
        outcome = "started"
        pid = self.pid()
        if pid is not None:
            if self._ready():
                self._after_start()
                return "reused"
            terminate(pid)  # alive but not answering: a hung server is restarted
            outcome = "restarted"
        elif self.pidfile.exists():
            outcome = "restarted"  # a stale pid file: the previous server died
        self.pidfile.unlink(missing_ok=True)
        self._launch()
        wait_until(self._ready, self.startup_timeout, self.name, self.log)
        self._after_start()
        return outcome

    def stop(self) -> bool:
        """Stop the server if it runs; return whether it was running."""
        pid = self.pid()
        self.pidfile.unlink(missing_ok=True)
        if pid is None:
            return False
        terminate(pid)
        return True
