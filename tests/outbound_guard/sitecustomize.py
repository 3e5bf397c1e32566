"""Test-only: record every attempt of a Python process to reach a host outside this machine.

Put this directory on PYTHONPATH and set SHOPFLOW_OUTBOUND_LOG to a file: Python imports `sitecustomize`
at start-up, in every interpreter that inherits the environment (the dbt CLI the watcher producer starts
included). It wraps name resolution and socket connections, and appends one line per non-local host to
the file. Nothing is blocked, so the code under test behaves as it would; the test reads the file.
"""

from __future__ import annotations

import os
import socket

_LOG = os.environ.get("SHOPFLOW_OUTBOUND_LOG")
_LOCAL_NAMES = {"", "localhost", "0.0.0.0", "::", "::1", socket.gethostname()}


def _is_local(host: object) -> bool:
    if host is None:
        return True
    name = host.decode(errors="replace") if isinstance(host, bytes) else str(host)
    return name in _LOCAL_NAMES or name.startswith("127.") or name.endswith(".localhost")


def _record(what: str, host: object, port: object) -> None:
    if _LOG and not _is_local(host):
        with open(_LOG, "a", encoding="utf-8") as handle:
            handle.write(f"pid {os.getpid()} {what} {host}:{port}\n")


def _wrap_resolver(name: str) -> None:
    original = getattr(socket, name)

    def resolve(host, *args, **kwargs):
        _record(name, host, args[0] if args else "")
        return original(host, *args, **kwargs)

    setattr(socket, name, resolve)


def _wrap_connect(name: str) -> None:
    original = getattr(socket.socket, name)

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            _record(name, address[0], address[1])
        return original(self, address)

    setattr(socket.socket, name, connect)


if _LOG:
    for _name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        _wrap_resolver(_name)
    for _name in ("connect", "connect_ex"):
        _wrap_connect(_name)
