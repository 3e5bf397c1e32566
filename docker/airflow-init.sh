#!/bin/sh
# One-off initialisation, run before any other Airflow component starts (compose: the airflow-init
# service; ECS: the "init" task definition, run by the deploy before services are updated).
# Idempotent: `airflow db migrate` only applies migrations that are missing.
set -eu

# Every component must share these, or tasks fail with signature/decryption errors long after start.
for var in AIRFLOW__CORE__FERNET_KEY AIRFLOW__API_AUTH__JWT_SECRET AIRFLOW__API__SECRET_KEY \
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN; do
    eval "value=\${$var:-}"
    if [ -z "$value" ]; then
        echo "airflow-init: $var is empty; set it (see docs/deployment.md, 'Environment')" >&2
        exit 2
    fi
done

# A malformed Fernet key is only noticed when the first connection or variable is encrypted.
python - <<'PY'
import os
import sys

from cryptography.fernet import Fernet

try:
    Fernet(os.environ["AIRFLOW__CORE__FERNET_KEY"])
except ValueError as err:
    sys.exit(f"airflow-init: AIRFLOW__CORE__FERNET_KEY is not a Fernet key ({err}); generate one with "
             "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'")
PY

airflow db migrate
airflow db check
echo "airflow-init: metadata database migrated; admin user: ${AIRFLOW_ADMIN_USERNAME:-admin} (SimpleAuthManager)"
