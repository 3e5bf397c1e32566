"""docker-compose.yml started natively: each service's command and environment, on 127.0.0.1.

No Docker engine runs here, so tests/test_compose_rehearsal.py plays the compose stack with
processes. What comes from the compose file (through `docker-compose config` and a `.env` written
by `make compose-env`) and from docker/Dockerfile is used as it is; `Rehearsal` changes only what a
container network gives and one machine cannot:

- addresses: a service name and container port (`postgres`, `http://seaweedfs:8333`, `--port 8000`)
  become 127.0.0.1 and a free port; a `<X>_HOST=<service>` variable gets its `<X>_PORT` beside it;
- files: /opt/shopflow is the rehearsed image root (tests/image_build.py), /opt/airflow a home
  folder per service, whose logs/ is one folder shared by all (the `airflow-logs` volume), and
  TMPDIR a folder per service (a container's own /tmp);
- host names: each container has its own, so each Airflow component gets one (REHEARSAL_HOSTNAME,
  read by the hostname callable in tests/rehearsal_airflow/) and each Celery worker its node name;
- servers that would listen on every interface are bound to 127.0.0.1 or not started: the
  api-server (AIRFLOW__API__HOST), the scheduler's health check, the log servers of the triggerer
  and workers (`--skip-serve-logs`: the api-server reads the shared log folder, as in compose);
- `REHEARSAL_SETTINGS`: the few settings that make one day fit in a CI test (see there).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml

from shopflow.deploy.compose_env import write_env_file
from tests.conftest import free_port_block as free_port

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
PG_INIT = ROOT / "docker" / "postgres" / "init-databases.sh"
POLICY_DIR = Path(__file__).resolve().parent / "rehearsal_airflow"
# The repository's scripts under the names and modes the Dockerfile gives them in /usr/local/bin.
IMAGE_SCRIPTS = {
    "shopflow-entrypoint": ROOT / "docker" / "entrypoint.py",
    "airflow-init": ROOT / "docker" / "airflow-init.sh",
}
# Where each service listens inside the compose network.
CONTAINER_PORTS = {
    "postgres": 5432,
    "redis": 6379,
    "seaweedfs": 8333,
    "fakestore-api": 8000,
    "airflow-apiserver": 8080,
    "metabase": 3000,
}
SCHEDULER_HEALTH_PORT = 8974
# Test-only settings, each shortening a wait that is minutes long in production:
REHEARSAL_SETTINGS = {
    # A worker killed with SIGKILL is noticed when its task stops heart-beating (default 300 s).
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    # A task whose Celery message died with a killed worker (prefetched, not started) is queued again
    # after task_queued_timeout (default 600 s; CI once waited that long after the kill below).
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "60",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
    # Sensors poke every few seconds and retries wait seconds (cluster policy, see POLICY_DIR).
    "PYTHONPATH": str(POLICY_DIR),
    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "airflow_local_settings.container_hostname",
}


def compose_config(folder: Path, env_overrides: Mapping[str, str]) -> dict:
    """`make compose-env`, the given .env values changed, then `docker-compose config`: the services."""
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is not installed (make system-deps installs it)"
    shutil.copy(COMPOSE_FILE, folder / "docker-compose.yml")
    env_file = folder / ".env"
    assert write_env_file(env_file)
    lines = [line for line in env_file.read_text().splitlines() if line.split("=", 1)[0] not in env_overrides]
    env_file.write_text("\n".join([*lines, *(f"{k}={v}" for k, v in env_overrides.items())]) + "\n")
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    result = subprocess.run([binary, "config"], cwd=folder, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return _unescape(yaml.safe_load(result.stdout)["services"])


def _unescape(value):
    """`config` prints `$$` (compose's escape of a literal `$`) as written; the container gets `$`."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    if isinstance(value, dict):
        return {k: _unescape(v) for k, v in value.items()}
    return value


def dockerfile_runtime_env() -> dict[str, str]:
    """The ENV instructions of the Dockerfile's runtime stage, unexpanded."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    stage = text.split(" AS runtime", 1)[1]
    values: dict[str, str] = {}
    for line in stage.splitlines():
        if line.startswith("ENV "):
            for item in shlex.split(line[4:]):
                name, value = item.split("=", 1)
                values[name] = value
    return values


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log: Path
    one_shot: bool = False  # a job expected to exit 0 (compose: restart "no")
    started: float = field(default_factory=time.monotonic)


class Rehearsal:
    """The compose services of `services`, run as processes from the image root `image_root`."""

    def __init__(self, services: dict, image_root: Path, workdir: Path):
        self.services = services
        self.image_root = image_root
        self.workdir = workdir
        self.ports = {name: free_port() for name in CONTAINER_PORTS}
        self.ports["seaweedfs"] = free_port(10)  # weed mini: S3, master, volume, filer, admin and gRPC
        self.scheduler_health_port = free_port()
        self.logs_dir = workdir / "airflow-logs"  # the airflow-logs volume
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.bin_dir = workdir / "usr-local-bin"
        self.bin_dir.mkdir(exist_ok=True)
        for name, source in IMAGE_SCRIPTS.items():
            target = self.bin_dir / name
            shutil.copy(source, target)
            target.chmod(0o755)  # COPY --chmod=0755
        self.running: dict[str, Service] = {}
        self.finished: dict[str, tuple[int, float]] = {}

    # --- translation -------------------------------------------------------------------------------
    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def _address(self, value: str) -> str:
        for service, port in CONTAINER_PORTS.items():
            value = value.replace(f"://{service}:{port}", f"://127.0.0.1:{self.ports[service]}")
        return value

    def home(self, label: str) -> Path:
        """/opt/airflow of one container: its own folder, logs/ shared (the airflow-logs volume)."""
        home = self.workdir / "containers" / label
        if not home.exists():
            home.mkdir(parents=True)
            (home / "logs").symlink_to(self.logs_dir, target_is_directory=True)
        return home

    def _path(self, value: str, home: Path) -> str:
        return value.replace("/opt/shopflow", str(self.image_root)).replace("/opt/airflow", str(home))

    def environment(self, name: str, label: str | None = None) -> dict[str, str]:
        """The container's environment: Dockerfile ENV, then the service's, translated (module docstring)."""
        label = label or name
        home = self.home(label)
        # A container's own /tmp (Cosmos keeps its dbt partial-parse cache under it).
        (home / "tmp").mkdir(exist_ok=True)
        env: dict[str, str] = {"HOME": str(home), "LANG": "C.UTF-8", "TMPDIR": str(home / "tmp")}
        for key, value in dockerfile_runtime_env().items():
            value = value.replace("$PATH", f"{self.bin_dir}:{os.environ['PATH']}")
            env[key] = self._path(value, home)
        for key, raw in (self.services[name].get("environment") or {}).items():
            value = self._path(self._address(str(raw)), home)
            if key.endswith("_HOST") and value in CONTAINER_PORTS:
                env[key.removesuffix("_HOST") + "_PORT"] = str(self.ports[value])
                value = "127.0.0.1"
            elif key.endswith("_PORT") and key.removesuffix("_PORT") + "_HOST" in env:
                continue  # set from its _HOST above
            env[key] = value
        if "AIRFLOW__CORE__EXECUTOR" in env:
            image_path = env.get("PYTHONPATH")
            env.update(REHEARSAL_SETTINGS)
            # The policy folder first, then the image's own path (the DAG folder, for the triggerer).
            env["PYTHONPATH"] = os.pathsep.join(p for p in (REHEARSAL_SETTINGS["PYTHONPATH"], image_path) if p)
            env["REHEARSAL_HOSTNAME"] = label
            env["AIRFLOW__API__HOST"] = "127.0.0.1"
            env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST"] = "127.0.0.1"
            env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"] = str(self.scheduler_health_port)
        leftovers = [f"{k}={v}" for k, v in env.items() if re.search(rf"\b({'|'.join(CONTAINER_PORTS)})\b:", v)]
        assert not leftovers, f"{name}: addresses of the compose network left untranslated: {leftovers}"
        return env

    def command(self, name: str) -> list[str]:
        """The service's command with its listening address translated."""
        command = [str(part) for part in self.services[name]["command"]]
        if "--host" in command:
            command[command.index("--host") + 1] = "127.0.0.1"
        if "--port" in command:
            command[command.index("--port") + 1] = str(self.ports[name])
        return command

    # --- processes ---------------------------------------------------------------------------------
    def start(
        self, name: str, argv: list[str], env: dict[str, str], label: str | None = None, cwd=None, one_shot=False
    ) -> Service:
        label = label or name
        log = self.workdir / f"{label}.log"
        handle = open(log, "ab")  # noqa: SIM115 - the child holds it; closed by the OS when it exits
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd or self.home(label),
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a container: its own process group, killed as a whole
        )
        handle.close()
        service = Service(label, process, log, one_shot)
        self.running[label] = service
        return service

    def start_image_service(self, name: str, label: str | None = None, extra_args: tuple[str, ...] = ()) -> Service:
        """Start a project-image service: ENTRYPOINT shopflow-entrypoint, then the service's command."""
        label = label or name
        env = self.environment(name, label)
        one_shot = self.services[name].get("restart") == "no"
        return self.start(name, ["shopflow-entrypoint", *self.command(name), *extra_args], env, label, None, one_shot)

    def wait_exit(self, label: str, timeout: float) -> int:
        service = self.running[label]
        try:
            code = service.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{label} still runs after {timeout:.0f} s:\n{self.tail(label)}") from None
        self.finished[label] = (code, time.monotonic() - service.started)
        del self.running[label]
        assert code == 0, f"{label} exited with {code}:\n{self.tail(label)}"
        return code

    def tail(self, label: str, lines: int = 30) -> str:
        path = self.workdir / f"{label}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def check_alive(self) -> None:
        for label, service in self.running.items():
            code = service.process.poll()
            if code is not None and not (service.one_shot and code == 0):
                raise AssertionError(f"{label} exited with {code}:\n{self.tail(label)}")

    def wait_until(self, what: str, ready: Callable[[], bool], timeout: float, interval: float = 0.5) -> float:
        started = time.monotonic()
        while not ready():
            self.check_alive()
            if time.monotonic() - started > timeout:
                logs = "\n".join(f"--- {label}\n{self.tail(label, 12)}" for label in self.running)
                raise AssertionError(f"{what}: not within {timeout:.0f} s\n{logs}")
            time.sleep(interval)
        return time.monotonic() - started

    def kill(self, label: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the container's processes: its group and any descendant that left it."""
        service = self.running.pop(label)
        descendants: list[psutil.Process] = []
        with contextlib.suppress(psutil.NoSuchProcess):
            descendants = psutil.Process(service.process.pid).children(recursive=True)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.process.pid, sig)
        # Most descendants died with the group and their pids may already be reused by another
        # test's process: psutil signals a pid only while it still names the process it listed.
        for child in descendants:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.send_signal(sig)
        service.process.wait(timeout=30)

    def stop_all(self) -> None:
        """Stop every container: SIGTERM, a grace period, then SIGKILL (what `docker compose down` does)."""
        for service in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for label in list(self.running):
            service = self.running[label]
            with contextlib.suppress(subprocess.TimeoutExpired):
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            self.kill(label)
        # Helpers a task started in a session of its own (multiprocessing's resource tracker...) and
        # that outlived their parents: anything still running from this rehearsal's image root.
        for process in psutil.process_iter(["cmdline"]):
            if any(str(self.image_root) in part for part in process.info["cmdline"] or ()):
                with contextlib.suppress(psutil.Error):
                    process.kill()


def http_ok(url: str, timeout: float = 3) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False
