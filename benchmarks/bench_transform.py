"""The `transform` DAG under Airflow's scheduler against a plain `dbt build`, and a day's refresh latency.

A harness, not a test: it prints figures from one run. It uses the configured services
(`make services-up`) through scratch databases (shop, warehouse, Airflow metadata) and a scratch bucket,
all dropped at the end, and runs its own local Airflow (`shopflow airflow up`: the LocalExecutor with the
parallelism `make airflow` uses) in a scratch state directory, on a free port.

    .venv/bin/python benchmarks/bench_transform.py [--scale 1] [--history-days 364] [--repeat 3]

1. Data: the shop simulated for `--history-days` days up to the day before yesterday (UTC); that last day
   is extracted, gated and loaded as the demo does, so the warehouse holds the whole history.
2. One day through Airflow: the six DAGs are unpaused with yesterday as their start date, so the daily
   DAGs run that day (simulate, extract, gate, load), the five raw-table assets trigger `transform` and
   the marts asset triggers `dashboards`. Latency = end of the day's last `load_*` task to the end of
   `dashboards.render_html`, split into its stages.
3. `--repeat` rounds, each: a plain `dbt build` (the dbt CLI in a fresh process on the same project,
   profile and warehouse, partial parsing warm, as the DAG's producer runs it), then a manually triggered
   `transform` run, waiting for the `dashboards` run it triggers so that nothing overlaps the next round.

Figures are medians over the rounds: wall seconds, and CPU seconds (user + system of the process trees:
the dbt process or every Airflow process, plus the PostgreSQL server both query), which a machine shared
with other work inflates less than wall time. The DAG's time is its run's start to end (as the UI shows
it); "dbt part" ends with its last dbt task, before `publish_marts` emits the marts asset.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psutil
import psycopg2

from shopflow.config import Settings, load_settings, replace_database
from shopflow.contracts import LOAD_ORDER
from shopflow.orchestration import local_airflow as la
from shopflow.pipeline import Pipeline, open_lake
from shopflow.services.s3 import ensure_bucket
from shopflow.telemetry import DBT_NO_USAGE_STATS_FLAG
from shopflow.transform.runner import TRANSFORM_DIR, dbt_env

DAGS = ("simulate_shop", "ingest_fakestore", "ingest_shop", "ingest_clickstream", "transform", "dashboards")
INGESTION = ("ingest_fakestore", "ingest_shop", "ingest_clickstream")
BIN = Path(sys.executable).parent
TIMEOUT_SECONDS = 3600
PRODUCER_TASK = "dbt.dbt_producer_watcher"


# --- process-tree CPU ---------------------------------------------------------------------------------
def tree_cpu(root_pid: int) -> float:
    """User + system seconds of a process and its descendants, reaped children included."""
    try:
        root = psutil.Process(root_pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def component_cpu(root_pid: int) -> dict[str, float]:
    """CPU seconds of each Airflow component's process tree (the tasks run under the scheduler's executor)."""
    cpu: dict[str, float] = {}
    with contextlib.suppress(psutil.NoSuchProcess):
        for child in psutil.Process(root_pid).children():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
                line = " ".join(child.cmdline())
                # A command line as the launcher gave it, or as the component retitled itself (api_server).
                name = next(
                    (
                        c
                        for c, cmd in la.COMPONENT_COMMANDS.items()
                        if " ".join(cmd[1:]) in line or c.replace("-", "_") in line
                    ),
                    "other",
                )
                cpu[name] = cpu.get(name, 0.0) + tree_cpu(child.pid)
    return cpu


def postmaster_pid(port: int) -> int:
    """The PostgreSQL server listening on `port` (its postmaster, parent of every backend)."""
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.info["name"] == "postgres" and f"-p {port}" in cmdline:
            return proc.pid
    raise SystemExit(f"no PostgreSQL server with '-p {port}' in its command line: is `make services-up` running?")


# --- scratch databases, bucket and data ---------------------------------------------------------------
@dataclasses.dataclass
class Scratch:
    settings: Settings
    tag: str
    admin_dsn: str
    state_dir: Path
    airflow_dsn: str


@contextlib.contextmanager
def scratch_stack(base: Settings, keep_logs: bool = False) -> Iterator[Scratch]:
    tag = f"bench_transform_{uuid.uuid4().hex[:6]}"
    admin_dsn = replace_database(base.warehouse_dsn, "postgres")
    names = {kind: f"{tag}_{kind}" for kind in ("shop", "warehouse", "airflow")}
    _admin(admin_dsn, *(f'create database "{name}"' for name in names.values()))
    state_dir = Path(tempfile.mkdtemp(prefix="shopflow-bench-transform-"))
    airflow_dsn = replace_database(base.warehouse_dsn, names["airflow"])
    settings = base.replace(
        state_dir=state_dir,
        shop_dsn_external=replace_database(base.warehouse_dsn, names["shop"]),
        warehouse_dsn_external=replace_database(base.warehouse_dsn, names["warehouse"]),
        airflow_db_external=airflow_dsn.replace("postgresql://", "postgresql+psycopg2://", 1),
        s3_endpoint_external=base.s3_endpoint_url,
        fakestore_url_external=base.fakestore_api_url,
        lake_bucket=tag.replace("_", "-"),
    )
    ensure_bucket(settings)
    try:
        yield Scratch(settings, tag, admin_dsn, state_dir, airflow_dsn)
    finally:
        lake = open_lake(settings)
        lake.delete_keys(lake.list_keys(""))
        lake.client.delete_bucket(Bucket=settings.lake_bucket)
        _admin(admin_dsn, *(f'drop database if exists "{name}" with (force)' for name in names.values()))
        if keep_logs:
            print(f"the runs' logs (Airflow's task logs under logs/airflow/tasks) are kept in {state_dir}")
        else:
            shutil.rmtree(state_dir, ignore_errors=True)


def _admin(dsn: str, *statements: str) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def prepare_history(settings: Settings, last: date, days: int, scale: float, seed: int) -> None:
    """The shop simulated over `days` days ending `last`; `last` extracted, gated and loaded."""
    started = time.monotonic()
    pipeline = Pipeline.from_settings(settings.with_simulation(scale=scale, seed=seed))
    pipeline.simulate(last - timedelta(days=days - 1), last)
    pipeline.run_date(last, LOAD_ORDER)
    print(f"history: {days} days at scale {scale} simulated, {last} loaded ({time.monotonic() - started:.0f} s)")


# --- plain dbt build ----------------------------------------------------------------------------------
def plain_dbt_build(settings: Settings, artifacts: Path, pg_pid: int) -> tuple[float, float]:
    """`dbt build` in a fresh process on the same project and warehouse; (wall s, CPU s incl. PostgreSQL)."""
    env = {
        **os.environ,
        **dbt_env(settings),
        "DBT_TARGET_PATH": str(artifacts / "target"),
        "DBT_LOG_PATH": str(artifacts / "logs"),
    }
    command = [str(BIN / "dbt"), DBT_NO_USAGE_STATS_FLAG, "build", "--project-dir", str(TRANSFORM_DIR)]
    command += ["--profiles-dir", str(TRANSFORM_DIR), "--quiet"]
    pg_before = tree_cpu(pg_pid)
    before = _children_cpu()
    started = time.monotonic()
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(
            f"plain dbt build failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
        )
    return wall, _children_cpu() - before + tree_cpu(pg_pid) - pg_before


def warm_up_partial_parse(settings: Settings, artifacts: Path) -> None:
    """`dbt parse` once, so the measured builds parse partially, as the DAG's producer does (Cosmos' cache)."""
    env = {**os.environ, **dbt_env(settings), "DBT_TARGET_PATH": str(artifacts / "target")}
    env["DBT_LOG_PATH"] = str(artifacts / "logs")
    command = [str(BIN / "dbt"), DBT_NO_USAGE_STATS_FLAG, "parse", "--project-dir", str(TRANSFORM_DIR)]
    subprocess.run([*command, "--profiles-dir", str(TRANSFORM_DIR), "--quiet"], env=env, check=True)


def _children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


# --- the local Airflow ----------------------------------------------------------------------------------
class Airflow:
    """`shopflow airflow up` on the scratch stack, driven through its REST API and read from its database."""

    def __init__(self, scratch: Scratch, start: date, scale: float, seed: int):
        self.scratch = scratch
        port = _free_port()
        s = scratch.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "METABASE_", "SHOPFLOW_"))}
        env.update(
            {
                "SHOP_DSN": s.shop_dsn,
                "WAREHOUSE_DSN": s.warehouse_dsn,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": s.airflow_sqlalchemy_conn,
                "S3_ENDPOINT_URL": s.s3_endpoint_url,
                "AWS_ACCESS_KEY_ID": s.s3_access_key or "",
                "AWS_SECRET_ACCESS_KEY": s.s3_secret_key or "",
                "LAKE_BUCKET": s.lake_bucket,
                "FAKESTORE_API_URL": s.fakestore_api_url,
                "SHOPFLOW_STATE_DIR": str(s.state_dir),
                "SHOPFLOW_AIRFLOW_PORT": str(port),
                "SHOPFLOW_START_DATE": start.isoformat(),
                "SHOPFLOW_SIMULATION_SCALE": str(scale),
                "SHOPFLOW_SIMULATION_SEED": str(seed),
            }
        )
        self.env = env
        self.local = la.local_airflow(Settings.from_env(env), start)
        self.log = s.state_dir / "airflow-up.log"
        self.process: subprocess.Popen | None = None
        self.token = ""

    def __enter__(self) -> Airflow:
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [str(BIN / "shopflow"), "airflow", "up"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 300
        while not _all_healthy(la.health(self.local)):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the local Airflow did not come up; see {self.log}:\n{self.log.read_text()[-3000:]}")
            time.sleep(2)
        self.token = self._token()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def _token(self) -> str:
        body = {"username": la.ADMIN_USER, "password": la.admin_password(self.local)}
        return self._request("POST", "/auth/token", body, auth=False)["access_token"]

    def _request(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> dict:
        request = urllib.request.Request(
            self.local.url + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {self.token}"} if auth else {})},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def query(self, statement: str, params: tuple = ()) -> list[tuple]:
        conn = psycopg2.connect(self.scratch.airflow_dsn)
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall()
        finally:
            conn.close()

    def wait_for_dags(self) -> None:
        deadline = time.monotonic() + 300
        while {r[0] for r in self.query("select dag_id from dag")} < set(DAGS):
            if time.monotonic() > deadline:
                raise SystemExit(f"the DAGs were not all parsed within 300 s; see {self.local.logs_dir}")
            time.sleep(2)

    def unpause(self, dag_id: str) -> None:
        self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str) -> str:
        return self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})["dag_run_id"]

    def wait_for_run(self, dag_id: str, *, run_id: str | None = None, after: datetime | None = None) -> dict:
        """Wait until the run (by id, or the first one queued after `after`) ends; fail loudly if it failed."""
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if run_id is not None:
                rows = self.query(
                    "select run_id, state, queued_at, start_date, end_date from dag_run where dag_id = %s and run_id = %s",
                    (dag_id, run_id),
                )
            else:
                rows = self.query(
                    "select run_id, state, queued_at, start_date, end_date from dag_run where dag_id = %s "
                    "and queued_at >= %s order by queued_at limit 1",
                    (dag_id, after),
                )
            if rows and rows[0][1] in ("success", "failed"):
                run = dict(zip(("run_id", "state", "queued_at", "start_date", "end_date"), rows[0], strict=True))
                if run["state"] != "success":
                    failed = self.query(
                        "select task_id, state from task_instance where dag_id = %s and run_id = %s "
                        "and state not in ('success', 'skipped')",
                        (dag_id, run["run_id"]),
                    )
                    raise SystemExit(f"{dag_id} run {run['run_id']} failed: {failed}; logs in {self.local.logs_dir}")
                return run
            time.sleep(1)
        raise SystemExit(f"no finished {dag_id} run within {TIMEOUT_SECONDS} s; logs in {self.local.logs_dir}")

    def task_times(self, dag_id: str, run_id: str) -> dict[str, tuple[datetime, datetime]]:
        rows = self.query(
            "select task_id, start_date, end_date from task_instance where dag_id = %s and run_id = %s",
            (dag_id, run_id),
        )
        return {task_id: (start, end) for task_id, start, end in rows}

    def task_hops(self, dag_id: str, run_id: str) -> dict[str, list[float]]:
        """Where the time of each task after the first goes: the scheduler noticing its upstream done
        (upstream end -> queued), the executor starting it (queued -> running), and its run."""
        upstream: dict[str, list[str]] = {}
        for task in self._request("GET", f"/api/v2/dags/{dag_id}/tasks")["tasks"]:
            for child in task["downstream_task_ids"]:
                upstream.setdefault(child, []).append(task["task_id"])
        rows = self.query(
            "select task_id, queued_dttm, start_date, end_date from task_instance where dag_id = %s and run_id = %s",
            (dag_id, run_id),
        )
        times = {task_id: (queued, start, end) for task_id, queued, start, end in rows}
        hops: dict[str, list[float]] = {"scheduler": [], "executor": [], "task": []}
        for task_id, (queued, start, end) in times.items():
            parents = [times[p][2] for p in upstream.get(task_id, ()) if p in times and times[p][2]]
            if not parents or None in (queued, start, end):
                continue
            hops["scheduler"].append(_seconds(queued, max(parents)))
            hops["executor"].append(_seconds(start, queued))
            hops["task"].append(_seconds(end, start))
        return hops

    def timeline(self, dag_id: str, run_id: str) -> list[tuple[str, float | None, float | None, float | None]]:
        """Each task's start and end, and when the producer reported its model (the XCom `..._status`
        or `..._tests_status` of the model), in seconds from the run's start."""
        [(run_start,)] = self.query(
            "select start_date from dag_run where dag_id = %s and run_id = %s", (dag_id, run_id)
        )
        reported = dict(
            self.query(
                "select key, max(timestamp) from xcom where dag_id = %s and run_id = %s and task_id = %s group by key",
                (dag_id, run_id, PRODUCER_TASK),
            )
        )
        rows = self.query(
            "select task_id, start_date, end_date from task_instance where dag_id = %s and run_id = %s order by end_date",
            (dag_id, run_id),
        )

        def offset(moment: datetime | None) -> float | None:
            return None if moment is None else _seconds(moment, run_start)

        lines = []
        for task_id, start, end in rows:
            model = task_id.removeprefix("dbt.").removesuffix("_model_build")
            keys = (f"model__shopflow__{model}_tests_status", f"model__shopflow__{model}_status")
            report = next((reported[k] for k in keys if k in reported), None)
            lines.append((task_id, offset(report), offset(start), offset(end)))
        return lines


def _all_healthy(document: dict | None) -> bool:
    parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    return bool(document) and all((document.get(p) or {}).get("status") == "healthy" for p in parts)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


# --- the measurements -----------------------------------------------------------------------------------
def day_latency(airflow: Airflow, day: date) -> dict[str, float]:
    """Run `day` through the unpaused DAGs; seconds from its last raw load to its refreshed dashboards."""
    unpaused = datetime.now(UTC)
    for dag_id in DAGS:
        airflow.unpause(dag_id)
    dashboards = airflow.wait_for_run("dashboards", after=unpaused)
    loads = airflow.query(
        "select max(ti.end_date) from task_instance ti join dag_run r on r.dag_id = ti.dag_id and r.run_id = ti.run_id "
        "where ti.dag_id = any(%s) and ti.task_id like 'load_%%' and r.logical_date = %s",
        (list(INGESTION), datetime(day.year, day.month, day.day, tzinfo=UTC)),
    )[0][0]
    transform = airflow.wait_for_run("transform", after=unpaused)
    marts_emitted = airflow.task_times("transform", transform["run_id"])["publish_marts"][1]
    render_end = airflow.task_times("dashboards", dashboards["run_id"])["render_html"][1]
    return {
        "last raw load -> transform run starts": _seconds(transform["start_date"], loads),
        "transform run (start to end)": _seconds(transform["end_date"], transform["start_date"]),
        "marts asset (publish_marts done) -> dashboards run": _seconds(dashboards["start_date"], marts_emitted),
        "dashboards run start -> render_html done": _seconds(render_end, dashboards["start_date"]),
        "total: last raw load -> dashboards refreshed": _seconds(render_end, loads),
    }


def transform_round(airflow: Airflow, pg_pid: int) -> dict[str, float]:
    """One manually triggered `transform` run: wall and CPU seconds, split at its last dbt task."""
    cpu_before = tree_cpu(airflow.pid) + tree_cpu(pg_pid)
    components_before, pg_before = component_cpu(airflow.pid), tree_cpu(pg_pid)
    requested = datetime.now(UTC)
    run = airflow.wait_for_run("transform", run_id=airflow.trigger("transform"))
    cpu = tree_cpu(airflow.pid) + tree_cpu(pg_pid) - cpu_before
    components = {k: v - components_before.get(k, 0.0) for k, v in component_cpu(airflow.pid).items()}
    components["postgresql"] = tree_cpu(pg_pid) - pg_before
    tasks = airflow.task_times("transform", run["run_id"])
    dbt_end = max(end for task_id, (_start, end) in tasks.items() if task_id.startswith("dbt.") and end)
    publish_start, publish_end = tasks["publish_marts"]
    # The marts asset triggers a dashboards run: let it finish before the next round.
    airflow.wait_for_run("dashboards", after=requested)
    figures = {
        "wall": _seconds(run["end_date"], run["start_date"]),
        "wall from trigger": _seconds(run["end_date"], run["queued_at"]),
        "dbt part": _seconds(dbt_end, run["start_date"]),
        "publish_marts": _seconds(publish_end, publish_start),
        "cpu": cpu,
        "tasks": len(tasks),
    }
    # Watcher mode only: the one dbt build, and what the model tasks add after it. Without a producer
    # (a DAG of one dbt invocation per model, to compare designs) these figures are left out.
    for stage, seconds in airflow.task_hops("transform", run["run_id"]).items():
        figures[f"hop: {stage}"] = statistics.median(seconds)
    figures["timeline"] = airflow.timeline("transform", run["run_id"])
    for name, seconds in components.items():
        figures[f"cpu: {name}"] = seconds
    if PRODUCER_TASK in tasks:
        producer_start, producer_end = tasks[PRODUCER_TASK]
        figures["producer"] = _seconds(producer_end, producer_start)
        figures["model tasks after the build"] = _seconds(dbt_end, producer_end)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--history-days", type=int, default=364)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--timeline", action="store_true", help="print the last round's tasks in time order")
    parser.add_argument("--keep-logs", action="store_true", help="keep the scratch state directory and its logs")
    args = parser.parse_args()

    # A SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C: Airflow is stopped, scratch databases and bucket dropped.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    base = load_settings()
    pg_pid = postmaster_pid(base.pg_port)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    print(
        f"bench_transform: scale {args.scale}, {args.history_days} days of history, {args.repeat} rounds, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start"
    )
    with scratch_stack(base, keep_logs=args.keep_logs) as scratch:
        prepare_history(scratch.settings, yesterday - timedelta(days=1), args.history_days, args.scale, args.seed)
        with Airflow(scratch, yesterday, args.scale, args.seed) as airflow:
            airflow.wait_for_dags()
            latency = day_latency(airflow, yesterday)
            plain, rounds = [], []
            warm_up_partial_parse(scratch.settings, scratch.state_dir / "plain-dbt")
            for _ in range(args.repeat):
                plain.append(plain_dbt_build(scratch.settings, scratch.state_dir / "plain-dbt", pg_pid))
                rounds.append(transform_round(airflow, pg_pid))
        load = os.getloadavg()[0]

    med = statistics.median
    dbt_wall, dbt_cpu = med(p[0] for p in plain), med(p[1] for p in plain)
    hops = ("hop: scheduler", "hop: executor", "hop: task")
    keys = (
        "wall",
        "wall from trigger",
        "dbt part",
        "producer",
        "model tasks after the build",
        "publish_marts",
        "cpu",
        *hops,
    )
    dag = {key: med(r[key] for r in rounds) for key in keys if key in rounds[0]}
    print(f"\nday {yesterday} through the DAGs (LocalExecutor, parallelism {la.PARALLELISM}):")
    for name, seconds in latency.items():
        print(f"  {name:<54}{seconds:>8.1f} s")
    print(f"\nmedians of {args.repeat} rounds (plain dbt build, then a triggered transform run):")
    print(f"  {'':<46}{'wall s':>8}{'CPU s':>9}")
    print(f"  {'plain dbt build (dbt CLI, fresh process)':<46}{dbt_wall:>8.1f}{dbt_cpu:>9.1f}")
    label = f"transform DAG run ({rounds[0]['tasks']} tasks)"
    print(f"  {label:<46}{dag['wall']:>8.1f}{dag['cpu']:>9.1f}")
    print(f"  {'  of which its dbt part':<46}{dag['dbt part']:>8.1f}")
    if "producer" in dag:
        print(f"  {'    the producer task (the one dbt build)':<46}{dag['producer']:>8.1f}")
        print(f"  {'    model tasks after the build':<46}{dag['model tasks after the build']:>8.1f}")
    print(f"  {'  of which publish_marts':<46}{dag['publish_marts']:>8.1f}")
    print(f"  {'  from the trigger request':<46}{dag['wall from trigger']:>8.1f}")
    print("  its CPU by process tree (the tasks run under the scheduler's executor):")
    for key in sorted(k for k in rounds[0] if k.startswith("cpu: ")):
        print(f"  {'    ' + key.removeprefix('cpu: '):<46}{'':>8}{med(r.get(key, 0.0) for r in rounds):>9.1f}")
    print("  a task after its upstream (medians over the tasks, then the rounds):")
    print(f"  {'    upstream done -> queued (scheduler)':<46}{dag['hop: scheduler']:>8.2f}")
    print(f"  {'    queued -> running (executor)':<46}{dag['hop: executor']:>8.2f}")
    print(f"  {'    running -> done (the task)':<46}{dag['hop: task']:>8.2f}")
    print(
        f"ratio transform DAG / plain dbt build: {dag['wall'] / dbt_wall:.2f} (wall), {dag['cpu'] / dbt_cpu:.2f} (CPU); "
        f"dbt part / plain dbt build: {dag['dbt part'] / dbt_wall:.2f}"
    )
    print(
        f"rounds (plain s, DAG s): {[(round(p[0], 1), round(r['wall'], 1)) for p, r in zip(plain, rounds, strict=True)]}"
    )
    # Each round's pair ran back to back: its ratio is less exposed to a machine whose speed drifts.
    per_round = sorted(r["wall"] / p[0] for p, r in zip(plain, rounds, strict=True))
    print(
        f"ratio per round (wall): median {statistics.median(per_round):.2f}, "
        f"from {per_round[0]:.2f} to {per_round[-1]:.2f}"
    )
    print(f"load average at the end: {load:.1f}")
    if args.timeline:
        print("\nthe last round's tasks, seconds from the run's start: dbt reported its model, task start, task end")
        for task_id, reported, start, end in rounds[-1]["timeline"]:
            cells = "".join("       -" if v is None else f"{v:>8.1f}" for v in (reported, start, end))
            print(f"  {task_id:<54}{cells}")


if __name__ == "__main__":
    main()
