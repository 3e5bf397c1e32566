-- Roles per job in the warehouse database. Idempotent: every statement can run again.
--
-- Run against the warehouse by `shopflow warehouse roles` (shopflow.warehouse.roles) and by the
-- compose PostgreSQL init (docker/postgres/init-databases.sh), as a superuser or the database owner.
-- No password is in this file: the roles are created NOLOGIN and each caller sets LOGIN and the
-- password from the environment afterwards.
--
--   shopflow_loader       writes raw and ops (extract/load, quality gate); reads nothing else
--   shopflow_transformer  dbt: reads raw, owns staging/intermediate/marts; no ops, cannot write raw
--   metabase_reader       BI reader (Metabase, HTML dashboards): reads marts and ops, writes nowhere
--   shopflow_analyst      reads marts with the customer PII columns hidden (column privileges)

do $$
declare
    wanted text;
begin
    foreach wanted in array array['shopflow_loader', 'shopflow_transformer', 'metabase_reader', 'shopflow_analyst']
    loop
        if not exists (select from pg_roles where rolname = wanted) then
            begin
                execute format('create role %I nologin', wanted);
            exception when duplicate_object or unique_violation then
                null;  -- created by a concurrent run in another database of this server
            end;
        end if;
        execute format('alter role %I nosuperuser nocreatedb nocreaterole', wanted);
    end loop;
end
$$;

-- Defence in depth: even a mistaken grant cannot let the readers write.
alter role metabase_reader set default_transaction_read_only = on;
alter role shopflow_analyst set default_transaction_read_only = on;

create schema if not exists raw;
create schema if not exists ops;
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;

-- The transformer owns what dbt builds (a schema owner may drop and replace its objects).
alter schema staging owner to shopflow_transformer;
alter schema intermediate owner to shopflow_transformer;
alter schema marts owner to shopflow_transformer;

do $$
declare
    db text := current_database();
    r text;
begin
    execute format('grant connect on database %I to shopflow_loader, shopflow_transformer, metabase_reader, shopflow_analyst', db);
    -- dbt creates its schemas when they are missing.
    execute format('grant create on database %I to shopflow_transformer', db);
    -- Where the jobs log in as the database owner (the compose stack's warehouse_app), the owner works
    -- through the loader's and transformer's grants on schemas it does not own.
    if not (select rolsuper from pg_roles where oid = (select datdba from pg_database where datname = db)) then
        execute format(
            'grant shopflow_loader, shopflow_transformer to %I',
            (select pg_get_userbyid(datdba) from pg_database where datname = db));
    end if;
    -- Temporary tables are writes too: nobody but the owner gets them by default.
    execute format('revoke temporary on database %I from public', db);
    execute format('grant temporary on database %I to shopflow_loader, shopflow_transformer', db);
end
$$;

-- Nobody reads or writes a schema unless granted below.
revoke all on schema raw, ops, staging, intermediate, marts from public;
revoke create on schema public from public;

-- loader: raw and ops, read and write, including the tables it creates itself.
grant usage, create on schema raw, ops to shopflow_loader;
grant select, insert, update, delete, truncate on all tables in schema raw, ops to shopflow_loader;
grant usage, select, update on all sequences in schema raw, ops to shopflow_loader;

-- transformer: reads raw (dbt sources and their freshness), builds the dbt schemas.
grant usage on schema raw to shopflow_transformer;
grant select on all tables in schema raw to shopflow_transformer;
grant usage, create on schema staging, intermediate, marts to shopflow_transformer;

-- BI reader: the marts and the quality gate's record in ops (the Data Quality dashboard).
grant usage on schema marts, ops to metabase_reader;
grant select on all tables in schema marts, ops to metabase_reader;

-- analyst: the marts; customer PII columns are withheld per table below.
grant usage on schema marts to shopflow_analyst;
grant select on all tables in schema marts to shopflow_analyst;

-- Columns the analyst never sees: names and the hashed contact identifiers. The masked contact
-- columns (email_masked, phone_masked) stay visible. dbt rebuilds each mart as a new table, so its
-- marts post-hook calls this function again after every build (transform/macros/).
create or replace function public.shopflow_hide_pii_from_analyst(target regclass) returns void
language plpgsql as $fn$
declare
    hidden text[] := array['full_name', 'first_name', 'last_name', 'email', 'phone', 'email_hash', 'phone_hash'];
    visible text;
begin
    if not exists (select from pg_roles where rolname = 'shopflow_analyst') then
        return;
    end if;
    if not exists (
        select from pg_attribute
        where attrelid = target and attnum > 0 and not attisdropped and attname = any(hidden)
    ) then
        return;
    end if;
    select string_agg(quote_ident(attname), ', ' order by attnum) into visible
    from pg_attribute
    where attrelid = target and attnum > 0 and not attisdropped and attname <> all(hidden);
    execute format('revoke select on %s from shopflow_analyst', target);
    if visible is not null then
        execute format('grant select (%s) on %s to shopflow_analyst', visible, target);
    end if;
end
$fn$;

select public.shopflow_hide_pii_from_analyst(c.oid)
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'marts' and c.relkind in ('r', 'v', 'm', 'p');

-- Tables created later get the same grants. Default privileges belong to the creating role: the
-- loader and transformer (when jobs log in as them), the database owner and whoever runs this file
-- (dbt and the loader connect as the owner in the embedded and compose setups).
do $$
declare
    creator text;
begin
    foreach creator in array array[
        'shopflow_loader',
        'shopflow_transformer',
        (select pg_get_userbyid(datdba) from pg_database where datname = current_database()),
        current_user
    ]
    loop
        execute format(
            'alter default privileges for role %I in schema raw, ops '
            'grant select, insert, update, delete, truncate on tables to shopflow_loader', creator);
        execute format(
            'alter default privileges for role %I in schema raw, ops '
            'grant usage, select, update on sequences to shopflow_loader', creator);
        execute format(
            'alter default privileges for role %I in schema raw grant select on tables to shopflow_transformer', creator);
        execute format(
            'alter default privileges for role %I in schema marts, ops grant select on tables to metabase_reader', creator);
        execute format(
            'alter default privileges for role %I in schema marts grant select on tables to shopflow_analyst', creator);
    end loop;
end
$$;

-- Row-level security by sales region (docs/governance.md). A region role reads what the BI reader
-- reads (it inherits metabase_reader's grants), but in a table with a `region` column only its own
-- region's rows. Membership of shopflow_regional is what restricts: roles outside it (the BI
-- reader, the analyst) see every row; table owners and superusers bypass the policy anyway.
-- The region list matches src/shopflow/regions.py and transform/macros/regions.sql.
do $$
declare
    wanted text;
begin
    foreach wanted in array array['shopflow_regional', 'shopflow_region_americas', 'shopflow_region_europe', 'shopflow_region_apac']
    loop
        if not exists (select from pg_roles where rolname = wanted) then
            begin
                execute format('create role %I nologin', wanted);
            exception when duplicate_object or unique_violation then
                null;
            end;
        end if;
        execute format('alter role %I nosuperuser nocreatedb nocreaterole', wanted);
        if wanted <> 'shopflow_regional' then
            -- SET FALSE: a region role must not SET ROLE metabase_reader to leave its region.
            execute format('grant shopflow_regional, metabase_reader to %I with inherit true, set false', wanted);
            execute format('alter role %I set default_transaction_read_only = on', wanted);
        end if;
    end loop;
end
$$;

create or replace function public.shopflow_restrict_rows_by_region(target regclass) returns void
language plpgsql as $fn$
begin
    if not exists (select from pg_roles where rolname = 'shopflow_regional') then
        return;
    end if;
    if not exists (
        select from pg_attribute where attrelid = target and attname = 'region' and not attisdropped
    ) then
        return;
    end if;
    execute format('alter table %s enable row level security', target);
    execute format('drop policy if exists region_rows on %s', target);
    -- Both sub-selects run once per query (init plans), not once per row.
    execute format(
        $policy$create policy region_rows on %s for select using (
            (select not pg_has_role('shopflow_regional', 'member'))
            or region = any (array(
                select substr(rolname, length('shopflow_region_') + 1) from pg_roles
                where rolname like 'shopflow\_region\_%%' and pg_has_role(oid, 'member')
            ))
        )$policy$,
        target);
end
$fn$;

select public.shopflow_restrict_rows_by_region(c.oid)
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'marts' and c.relkind in ('r', 'p');
