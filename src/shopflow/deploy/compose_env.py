"""Write the `.env` that docker-compose.yml needs, with fresh random secrets; never overwrite one.

Standard library only, so `make compose-env` works before any virtual environment exists:
`python3 -m shopflow.deploy.compose_env [PATH]` with `src/` on PYTHONPATH.
"""

from __future__ import annotations

import base64
import os
import secrets
import string
import sys
from datetime import date, timedelta
from pathlib import Path

# Letters and digits only: the values go into URLs (the entrypoint escapes them anyway), a Redis
# config line, Flower's user:password and compose's ${...} interpolation, where `$` would be special.
ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 32
# The DAGs start this many days before the day .env is written: catchup then runs a short week
# through Celery, while the seed job loads the year before it.
CATCHUP_DAYS = 7
SEED_REPLAY_DAYS = 30


def random_password(length: int = PASSWORD_LENGTH) -> str:
    """Letters and digits with at least one digit and one letter (Metabase requires a digit)."""
    while True:
        value = "".join(secrets.choice(ALPHABET) for _ in range(length))
        if any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
            return value


def fernet_key() -> str:
    """A Fernet key: 32 random bytes, URL-safe base64 (what cryptography's Fernet.generate_key makes)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def compose_environment(today: date) -> dict[str, str]:
    """Every variable docker-compose.yml requires, with new secrets, plus the stack's dates."""
    start = today - timedelta(days=CATCHUP_DAYS)
    return {
        "POSTGRES_PASSWORD": random_password(),
        "SHOP_DB_PASSWORD": random_password(),
        "WAREHOUSE_DB_PASSWORD": random_password(),
        "METABASE_DB_PASSWORD": random_password(),
        "WAREHOUSE_LOADER_PASSWORD": random_password(),
        "WAREHOUSE_TRANSFORMER_PASSWORD": random_password(),
        "WAREHOUSE_ANALYST_PASSWORD": random_password(),
        "AIRFLOW_DB_PASSWORD": random_password(),
        "METABASE_APP_DB_PASSWORD": random_password(),
        "REDIS_PASSWORD": random_password(),
        "S3_ACCESS_KEY": random_password(20),
        "S3_SECRET_KEY": random_password(40),
        "AIRFLOW_FERNET_KEY": fernet_key(),
        "AIRFLOW_JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW_API_SECRET_KEY": secrets.token_hex(32),
        "AIRFLOW_ADMIN_USERNAME": "admin",
        "AIRFLOW_ADMIN_PASSWORD": random_password(20),
        "METABASE_ADMIN_EMAIL": "admin@shopflow.example",
        "METABASE_ADMIN_PASSWORD": random_password(20),
        "MB_ENCRYPTION_SECRET_KEY": secrets.token_hex(32),
        "FLOWER_BASIC_AUTH": f"flower:{random_password(20)}",
        # Fixed when .env is written, never read from the clock later: the daily DAGs load every
        # day from SHOPFLOW_START_DATE, and the seed job loads the history up to the day before.
        "SHOPFLOW_START_DATE": start.isoformat(),
        "SHOPFLOW_SEED_END": (start - timedelta(days=1)).isoformat(),
        "SHOPFLOW_SEED_DAYS": str(SEED_REPLAY_DAYS),
    }


def render(values: dict[str, str]) -> str:
    lines = [
        "# Written by `make compose-env`: fresh random secrets for docker-compose.yml. Never commit it.",
        "# docs/deployment.md describes each variable; optional ones (host ports...) can be added below.",
    ]
    lines += [f"{name}={value}" for name, value in values.items()]
    return "\n".join(lines) + "\n"


def write_env_file(path: Path, today: date | None = None) -> bool:
    """Create `path` (mode 0600) with new secrets; return False, touching nothing, if it exists."""
    text = render(compose_environment(today or date.today()))
    try:
        # O_EXCL: an existing file, even one created a moment ago by someone else, is never replaced.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return True


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else ".env")
    if write_env_file(path):
        print(f"{path}: written with new random secrets (mode 0600); next: docker compose up -d")
    else:
        print(f"{path}: exists, left unchanged (delete it to generate new secrets; volumes keep the old ones)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
