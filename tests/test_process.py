"""Process supervision helpers (shopflow.services.process) on real child processes: no service needed."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from shopflow.services.process import ServiceError, pid_alive, poll_until, read_pid, spawn, terminate, wait_until

# A child that ignores SIGTERM, so only the SIGKILL after the grace period stops it.
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
)


def test_a_zombie_is_not_alive_and_a_reaped_pid_is_gone():
    child = subprocess.Popen(["true"])
    assert poll_until(lambda: not pid_alive(child.pid), 5)  # exited, not yet reaped: a zombie
    assert child.poll() == 0  # reaped now
    assert not pid_alive(child.pid)


def test_read_pid_needs_a_live_process_whose_command_line_has_the_marker(tmp_path):
    pidfile = tmp_path / "svc.pid"
    assert read_pid(pidfile, "anything") is None  # no file
    pidfile.write_text("not a pid")
    assert read_pid(pidfile, "anything") is None
    child = subprocess.Popen(["sleep", "30"])
    try:
        pidfile.write_text(str(child.pid))
        assert read_pid(pidfile, "sleep 30") == child.pid
        assert read_pid(pidfile, "shopflow.services.fakestore_api") is None  # a recycled pid is not ours
    finally:
        child.kill()
        child.wait()
    assert read_pid(pidfile, "sleep 30") is None  # a stale pid file


def test_wait_until_names_what_and_the_log_on_timeout(tmp_path):
    calls = []
    with pytest.raises(ServiceError, match=r"api did not become ready within 0 s; see .*api\.log"):
        wait_until(lambda: calls.append(1) and False, 0.3, "api", tmp_path / "api.log")
    assert len(calls) >= 2  # polled, not checked once
    wait_until(lambda: True, 0.3, "api")  # ready at once: no error


def test_terminate_kills_what_ignores_sigterm_after_the_grace_period(tmp_path):
    log, pidfile = tmp_path / "stubborn.log", tmp_path / "stubborn.pid"
    pid = spawn([sys.executable, "-c", STUBBORN], log=log, pidfile=pidfile)
    wait_until(lambda: "ready" in log.read_text(), 10, "the stubborn child")
    started = time.monotonic()
    terminate(pid, timeout=0.5)
    assert 0.5 <= time.monotonic() - started < 5
    assert not pid_alive(pid)
