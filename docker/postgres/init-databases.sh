#!/bin/bash
# Creates shopflow's databases and roles on one PostgreSQL server; run by the postgres image on first
# start (/docker-entrypoint-initdb.d). Idempotent, so it can also be re-run by hand to rotate passwords.
#
# One server, separate databases: the source system (shop), the warehouse, Airflow's metadata and
# Metabase's application database have different owners, lifecycles and blast radii. A dbt
# `drop schema ... cascade` cannot touch Airflow's tables, each database is backed up and restored
# on its own, and each maps to the separate service it becomes in AWS (the shop's own database,
# RDS warehouse, Airflow metadata RDS).
#
# Passwords arrive as environment variables and are passed to psql as variables (:'name'), so they
# are quoted by psql and never spliced into SQL text.
set -euo pipefail

# The warehouse's roles per job; the same SQL `shopflow warehouse roles` runs (compose mounts it here).
ROLES_SQL="${WAREHOUSE_ROLES_SQL:-/opt/shopflow/warehouse-roles.sql}"

for var in SHOP_DB_PASSWORD WAREHOUSE_DB_PASSWORD METABASE_DB_PASSWORD AIRFLOW_DB_PASSWORD \
    METABASE_APP_DB_PASSWORD WAREHOUSE_LOADER_PASSWORD WAREHOUSE_TRANSFORMER_PASSWORD \
    WAREHOUSE_ANALYST_PASSWORD; do
    if [ -z "${!var:-}" ]; then
        echo "init-databases: $var is empty; set it in .env" >&2
        exit 2
    fi
done
if [ ! -r "$ROLES_SQL" ]; then
    echo "init-databases: cannot read the warehouse roles SQL at $ROLES_SQL" >&2
    exit 2
fi

psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v shop_pw="$SHOP_DB_PASSWORD" \
    -v warehouse_pw="$WAREHOUSE_DB_PASSWORD" \
    -v airflow_pw="$AIRFLOW_DB_PASSWORD" \
    -v metabase_pw="$METABASE_APP_DB_PASSWORD" <<'SQL'
-- role name, password variable, database it owns (null: owns none)
create temporary table wanted (role text, password text, db text);
insert into wanted values
    ('shop_app', :'shop_pw', 'shop'),
    ('warehouse_app', :'warehouse_pw', 'warehouse'),
    ('airflow', :'airflow_pw', 'airflow'),
    ('metabase', :'metabase_pw', 'metabase');

select format('create role %I login', role) from wanted
where not exists (select from pg_roles where rolname = wanted.role)
\gexec
-- Always (re)set passwords: re-running the script after changing .env rotates them.
select format('alter role %I with login password %L', role, password) from wanted
\gexec
select format('create database %I owner %I', db, role) from wanted
where db is not null and not exists (select from pg_database where datname = wanted.db)
\gexec
select format('alter database %I owner to %I', db, role) from wanted where db is not null
\gexec
-- Nobody connects to a database by default; owners can, and the reader may read the warehouse.
select format('revoke all on database %I from public', db) from wanted where db is not null
\gexec
SQL

# Roles per job in the warehouse (loader, transformer, BI reader metabase_reader, analyst): Metabase
# reads the marts and the quality record only, never raw (which holds customers' e-mails and phones).
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:-postgres}" --dbname warehouse \
    --file "$ROLES_SQL"
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:-postgres}" --dbname warehouse \
    -v loader_pw="$WAREHOUSE_LOADER_PASSWORD" \
    -v transformer_pw="$WAREHOUSE_TRANSFORMER_PASSWORD" \
    -v reader_pw="$METABASE_DB_PASSWORD" \
    -v analyst_pw="$WAREHOUSE_ANALYST_PASSWORD" <<'SQL'
alter role shopflow_loader with login password :'loader_pw';
alter role shopflow_transformer with login password :'transformer_pw';
alter role metabase_reader with login password :'reader_pw';
alter role shopflow_analyst with login password :'analyst_pw';
SQL

# Region roles (row-level security) are optional: each one whose password is set may log in.
for region in americas europe apac; do
    var="WAREHOUSE_REGION_${region^^}_PASSWORD"
    if [ -n "${!var:-}" ]; then
        psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:-postgres}" --dbname warehouse \
            -v role="shopflow_region_$region" -v pw="${!var}" <<'SQL'
alter role :"role" with login password :'pw';
SQL
    fi
done

echo "init-databases: databases shop, warehouse, airflow, metabase, their owners and the warehouse job roles are ready"
