-- billy 0.1.0: the foundation.  Organizations and their sealed tokens, the
-- job queue of the background worker, roles and privileges.
--
-- Every name is schema-qualified (operators too, outside function bodies);
-- every function body runs with search_path = pg_catalog, pg_temp.

\echo Use "CREATE EXTENSION billy" to load this file. \quit

-- Roles: created when missing, never dropped (they are cluster-wide).
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'billy_reader') THEN
        CREATE ROLE billy_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'billy_admin') THEN
        CREATE ROLE billy_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'billy_mcp') THEN
        CREATE ROLE billy_mcp NOLOGIN;
    END IF;
    IF NOT pg_catalog.pg_has_role('billy_admin', 'billy_reader', 'MEMBER') THEN
        GRANT billy_reader TO billy_admin;
    END IF;
    IF NOT pg_catalog.pg_has_role('billy_mcp', 'billy_reader', 'MEMBER') THEN
        GRANT billy_reader TO billy_mcp;
    END IF;
END
$roles$;

COMMENT ON SCHEMA billy IS
'billy: Billy (billy.dk) books mirrored in PostgreSQL. Roles: billy_reader reads, billy_admin also connects organizations, syncs and writes, billy_mcp serves MCP clients.';

REVOKE ALL ON SCHEMA billy FROM PUBLIC;
GRANT USAGE ON SCHEMA billy TO billy_reader, billy_admin, billy_mcp;

------------------------------------------------------------------------------
-- Lenient converters for Billy's JSON values
------------------------------------------------------------------------------

CREATE FUNCTION billy._ts(value text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE
    WHEN value IS NULL OR value = '' THEN NULL
    WHEN value ~ '(Z|[+-]\d\d(:?\d\d)?)$' THEN value::timestamptz
    ELSE value::timestamp AT TIME ZONE 'UTC'
END;
COMMENT ON FUNCTION billy._ts(text) IS
'Billy datetime text (YYYY-MM-DDTHH:MM:SS, no zone, meaning UTC; a zone or fraction is accepted) as timestamptz.';

------------------------------------------------------------------------------
-- Organizations
------------------------------------------------------------------------------

CREATE TABLE billy.organizations (
    id                      text PRIMARY KEY,
    name                    text NOT NULL,
    base_currency           text,
    vat_period              text,
    has_vat                 boolean,
    fiscal_year_end_month   integer,
    first_fiscal_year_start date,
    first_fiscal_year_end   date,
    registration_no         text,
    country_id              text,
    locale_id               text,
    default_tax_mode        text,
    payment_terms_mode      text,
    payment_terms_days      integer,
    is_locked               boolean,
    is_terminated           boolean,
    created_time            timestamptz,
    raw                     jsonb NOT NULL,
    read_only               boolean NOT NULL DEFAULT false,
    connected_at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
    token_updated_at        timestamptz,
    disconnected_at         timestamptz,
    refreshed_at            timestamptz NOT NULL DEFAULT pg_catalog.now(),
    changed_at              timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE billy.organizations IS
'The Billy organizations billy knows, as GET /organization last described them. raw holds Billy''s JSON; the typed columns are the fields queries need. disconnected_at is set by billy.disconnect(); the mirrored data stays.';
COMMENT ON COLUMN billy.organizations.vat_period IS 'Billy''s VAT period setting as Billy names it.';
COMMENT ON COLUMN billy.organizations.read_only IS 'When true, billy refuses every write to this organization.';
COMMENT ON COLUMN billy.organizations.refreshed_at IS 'When Billy last confirmed these settings.';
COMMENT ON COLUMN billy.organizations.changed_at IS 'When Billy''s answer last differed from the stored one.';

-- The sealed tokens.  No role but the extension owner may read this table.
CREATE TABLE billy._credentials (
    organization_id text PRIMARY KEY REFERENCES billy.organizations (id) ON DELETE CASCADE,
    sealed_token    bytea,
    key_id          text,
    vault_secret_id uuid,
    api_url         text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK ((sealed_token IS NOT NULL AND key_id IS NOT NULL) OR vault_secret_id IS NOT NULL)
);
REVOKE ALL ON TABLE billy._credentials FROM PUBLIC;
COMMENT ON TABLE billy._credentials IS
'Access tokens, sealed with AES-256-GCM under the key in billy.key_file (key_id is that key''s fingerprint), or kept in Supabase Vault (vault_secret_id). Readable by the extension owner only.';

SELECT pg_catalog.pg_extension_config_dump('billy.organizations', '');
SELECT pg_catalog.pg_extension_config_dump('billy._credentials', '');

CREATE FUNCTION billy._upsert_organization(response jsonb) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o jsonb := response -> 'organization';
    result text;
BEGIN
    IF o IS NULL OR jsonb_typeof(o) <> 'object' OR coalesce(o ->> 'id', '') = '' THEN
        RAISE EXCEPTION 'Billy''s answer to GET /organization holds no organization'
            USING ERRCODE = '38000',
                  DETAIL = 'Expected an object whose "organization" member has an id.';
    END IF;
    INSERT INTO billy.organizations AS t (
        id, name, base_currency, vat_period, has_vat, fiscal_year_end_month,
        first_fiscal_year_start, first_fiscal_year_end, registration_no, country_id,
        locale_id, default_tax_mode, payment_terms_mode, payment_terms_days,
        is_locked, is_terminated, created_time, raw, token_updated_at)
    VALUES (
        o ->> 'id', coalesce(o ->> 'name', o ->> 'id'), o ->> 'baseCurrencyId', o ->> 'vatPeriod',
        (o ->> 'hasVat')::boolean, (o ->> 'fiscalYearEndMonth')::integer,
        (o ->> 'firstFiscalYearStart')::date, (o ->> 'firstFiscalYearEnd')::date,
        o ->> 'registrationNo', o ->> 'countryId', o ->> 'localeId', o ->> 'defaultTaxMode',
        o ->> 'paymentTermsMode', (o ->> 'paymentTermsDays')::integer,
        (o ->> 'isLocked')::boolean, (o ->> 'isTerminated')::boolean,
        billy._ts(o ->> 'createdTime'), o, now())
    ON CONFLICT (id) DO UPDATE SET
        name = EXCLUDED.name, base_currency = EXCLUDED.base_currency,
        vat_period = EXCLUDED.vat_period, has_vat = EXCLUDED.has_vat,
        fiscal_year_end_month = EXCLUDED.fiscal_year_end_month,
        first_fiscal_year_start = EXCLUDED.first_fiscal_year_start,
        first_fiscal_year_end = EXCLUDED.first_fiscal_year_end,
        registration_no = EXCLUDED.registration_no, country_id = EXCLUDED.country_id,
        locale_id = EXCLUDED.locale_id, default_tax_mode = EXCLUDED.default_tax_mode,
        payment_terms_mode = EXCLUDED.payment_terms_mode,
        payment_terms_days = EXCLUDED.payment_terms_days,
        is_locked = EXCLUDED.is_locked, is_terminated = EXCLUDED.is_terminated,
        created_time = EXCLUDED.created_time,
        changed_at = CASE WHEN t.raw IS DISTINCT FROM EXCLUDED.raw THEN now() ELSE t.changed_at END,
        raw = EXCLUDED.raw,
        refreshed_at = now()
    RETURNING t.id INTO result;
    RETURN result;
END
$$;
COMMENT ON FUNCTION billy._upsert_organization(jsonb) IS
'Stores what GET /organization answered; returns the organization id. Internal.';

CREATE FUNCTION billy._store_sealed_credential(org text, sealed bytea, key text, url text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old_vault uuid;
BEGIN
    SELECT vault_secret_id INTO old_vault FROM billy._credentials WHERE organization_id = org;
    INSERT INTO billy._credentials AS c (organization_id, sealed_token, key_id, api_url)
    VALUES (org, sealed, key, url)
    ON CONFLICT (organization_id) DO UPDATE SET
        sealed_token = EXCLUDED.sealed_token, key_id = EXCLUDED.key_id,
        vault_secret_id = NULL, api_url = coalesce(EXCLUDED.api_url, c.api_url),
        updated_at = now();
    IF old_vault IS NOT NULL THEN
        EXECUTE 'DELETE FROM vault.secrets WHERE id = $1' USING old_vault;
    END IF;
    UPDATE billy.organizations SET disconnected_at = NULL, token_updated_at = now() WHERE id = org;
END
$$;
COMMENT ON FUNCTION billy._store_sealed_credential(text, bytea, text, text) IS
'Stores a sealed token for an organization, replacing the previous one. Internal.';

CREATE FUNCTION billy._store_vault_credential(org text, token text, url text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    secret uuid;
    secret_name text := 'billy:' || org;
BEGIN
    EXECUTE 'SELECT id FROM vault.secrets WHERE name = $1' INTO secret USING secret_name;
    IF secret IS NULL THEN
        EXECUTE 'SELECT vault.create_secret($1, $2, $3)' INTO secret
            USING token, secret_name, 'Billy access token of organization ' || org || ' (billy extension)';
    ELSE
        EXECUTE 'SELECT vault.update_secret($1, $2)' USING secret, token;
    END IF;
    INSERT INTO billy._credentials AS c (organization_id, vault_secret_id, api_url)
    VALUES (org, secret, url)
    ON CONFLICT (organization_id) DO UPDATE SET
        sealed_token = NULL, key_id = NULL, vault_secret_id = EXCLUDED.vault_secret_id,
        api_url = coalesce(EXCLUDED.api_url, c.api_url), updated_at = now();
    UPDATE billy.organizations SET disconnected_at = NULL, token_updated_at = now() WHERE id = org;
END
$$;
COMMENT ON FUNCTION billy._store_vault_credential(text, text, text) IS
'Stores an organization''s token in Supabase Vault (secret named billy:<organization id>). Internal.';

CREATE FUNCTION billy._vault_secret(secret uuid) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result text;
BEGIN
    IF secret IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE 'SELECT decrypted_secret FROM vault.decrypted_secrets WHERE id = $1' INTO result USING secret;
    RETURN result;
END
$$;
COMMENT ON FUNCTION billy._vault_secret(uuid) IS 'Reads a token kept in Supabase Vault. Internal.';

CREATE FUNCTION billy._remove_credential(org text) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    secret uuid;
    found_one boolean;
BEGIN
    DELETE FROM billy._credentials WHERE organization_id = org RETURNING vault_secret_id, true
        INTO secret, found_one;
    IF secret IS NOT NULL THEN
        EXECUTE 'DELETE FROM vault.secrets WHERE id = $1' USING secret;
    END IF;
    UPDATE billy.organizations SET disconnected_at = coalesce(disconnected_at, now()) WHERE id = org;
    UPDATE billy.jobs SET state = 'cancelled', finished_at = now(),
        last_error = 'the organization was disconnected'
        WHERE organization_id = org AND state = 'queued';
    RETURN coalesce(found_one, false);
END
$$;
COMMENT ON FUNCTION billy._remove_credential(text) IS
'Forgets an organization''s token and cancels its queued jobs; keeps its data. Internal.';

CREATE FUNCTION billy._resolve_org(org text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
    found_id text;
BEGIN
    IF org IS NULL THEN
        SELECT count(*), min(id) INTO n, found_id
        FROM billy.organizations WHERE disconnected_at IS NULL;
        IF n = 1 THEN
            RETURN found_id;
        ELSIF n = 0 THEN
            RAISE EXCEPTION 'no Billy organization is connected'
                USING ERRCODE = '55000', HINT = 'Call billy.connect(api_token) first.';
        END IF;
        RAISE EXCEPTION '% Billy organizations are connected; name one', n
            USING ERRCODE = '22023',
                  HINT = 'Pass its id or name. SELECT id, name FROM billy.organizations lists them.';
    END IF;
    IF EXISTS (SELECT 1 FROM billy.organizations WHERE id = org) THEN
        RETURN org;
    END IF;
    SELECT count(*), min(id) INTO n, found_id
    FROM billy.organizations WHERE lower(name) = lower(btrim(org));
    IF n = 1 THEN
        RETURN found_id;
    ELSIF n > 1 THEN
        RAISE EXCEPTION 'several Billy organizations are named "%"', org
            USING ERRCODE = '22023', HINT = 'Pass the organization id instead.';
    END IF;
    RAISE EXCEPTION 'unknown Billy organization "%"', org
        USING ERRCODE = '42704',
              HINT = 'Pass an id or a name from SELECT id, name FROM billy.organizations.';
END
$$;
COMMENT ON FUNCTION billy._resolve_org(text) IS
'An organization id from an id, a name (case-insensitive), or NULL when exactly one organization is connected. Internal.';

CREATE FUNCTION billy.connect(api_token text, api_url text DEFAULT NULL) RETURNS text
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_connect';
COMMENT ON FUNCTION billy.connect(text, text) IS
'Connects a Billy organization: asks Billy (GET /organization) which organization api_token opens, stores the organization and the token (sealed with the key in billy.key_file, or in Supabase Vault), and returns the organization id. Connecting again replaces the token. api_url (superusers only) points one organization at another server, such as billy-sandbox. The token never appears in a log, an error or a readable column.';

CREATE FUNCTION billy.disconnect(org text) RETURNS boolean
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_disconnect';
COMMENT ON FUNCTION billy.disconnect(text) IS
'Forgets an organization''s access token (org is an id or a name) and cancels its queued jobs; the mirrored data stays. Returns whether a token was stored.';

CREATE FUNCTION billy.check_connection(org text DEFAULT NULL) RETURNS jsonb
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_check_connection';
COMMENT ON FUNCTION billy.check_connection(text) IS
'Calls GET /organization with the stored token and answers {"ok": true|false, "organization_id", "api_url", "http_status", "attempts", "latency_ms"} plus "cause", "error", "detail" and "billy_error_code" when it failed. org is an id or a name; NULL when only one organization is connected.';

CREATE FUNCTION billy.rotate_key() RETURNS integer
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_rotate_key';
COMMENT ON FUNCTION billy.rotate_key() IS
'Re-seals every stored token under the key in billy.key_file, opening old seals with billy.old_key_file. All or nothing. Returns how many tokens were re-sealed. Superusers only.';

CREATE FUNCTION billy.api_get(org text, path text) RETURNS jsonb
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_api_get';
COMMENT ON FUNCTION billy.api_get(text, text) IS
'One GET to Billy''s API with the organization''s stored token, answered as Billy answered (the whole JSON envelope), e.g. billy.api_get(NULL, ''/invoices?pageSize=5''). path is relative to the API URL and starts with /. Retried like every read; failures raise with Billy''s errorCode in the detail. For looking at what Billy says; billy''s other functions read the mirror.';

------------------------------------------------------------------------------
-- Jobs and the background worker
------------------------------------------------------------------------------

CREATE TABLE billy.jobs (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind              text NOT NULL,
    organization_id   text REFERENCES billy.organizations (id) ON DELETE CASCADE,
    args              jsonb NOT NULL DEFAULT '{}'::jsonb,
    state             text NOT NULL DEFAULT 'queued'
                      CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['queued', 'running', 'done', 'failed', 'cancelled']::text[])),
    priority          integer NOT NULL DEFAULT 100,
    queued_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    queued_by         name NOT NULL DEFAULT CURRENT_USER,
    run_after         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    attempts          integer NOT NULL DEFAULT 0,
    max_attempts      integer NOT NULL DEFAULT 3 CHECK (max_attempts OPERATOR(pg_catalog.>=) 1),
    crashes           integer NOT NULL DEFAULT 0,
    last_error        text,
    last_error_detail text,
    last_sqlstate     text,
    result            jsonb
);
CREATE INDEX jobs_due ON billy.jobs (priority, id) WHERE state OPERATOR(pg_catalog.=) 'queued';
CREATE INDEX jobs_organization ON billy.jobs (organization_id, kind);
COMMENT ON TABLE billy.jobs IS
'Work for the background worker. state: queued, running (recorded before the job starts, so a crash is counted in crashes), done, failed (last_error, last_sqlstate say why) or cancelled. Transient failures are retried with exponential backoff up to max_attempts. Finished jobs are kept 7 days.';

CREATE FUNCTION billy._wake_worker_at_commit() RETURNS void
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_wake_at_commit';
COMMENT ON FUNCTION billy._wake_worker_at_commit() IS
'Wakes the worker when the current transaction commits. Internal.';

CREATE FUNCTION billy._enqueue(job_kind text, org text, job_args jsonb DEFAULT '{}'::jsonb,
                               not_before timestamptz DEFAULT NULL, job_priority integer DEFAULT 100)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job_id bigint;
BEGIN
    INSERT INTO billy.jobs (kind, organization_id, args, run_after, priority)
    VALUES (job_kind, org, coalesce(job_args, '{}'::jsonb), coalesce(not_before, now()), job_priority)
    RETURNING id INTO job_id;
    PERFORM billy._wake_worker_at_commit();
    RETURN job_id;
END
$$;
COMMENT ON FUNCTION billy._enqueue(text, text, jsonb, timestamptz, integer) IS
'Queues a job and wakes the worker at commit. Internal.';

CREATE FUNCTION billy.refresh_organization(org text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint := 0;
    o record;
BEGIN
    FOR o IN
        SELECT id FROM billy.organizations
        WHERE disconnected_at IS NULL AND (org IS NULL OR id = billy._resolve_org(org))
        ORDER BY id
    LOOP
        PERFORM billy._enqueue('refresh_organization', o.id);
        n := n + 1;
    END LOOP;
    IF org IS NOT NULL AND n = 0 THEN
        RAISE EXCEPTION 'organization "%" is not connected', org
            USING ERRCODE = '55000', HINT = 'Call billy.connect() with an access token for it.';
    END IF;
    RETURN n;
END
$$;
COMMENT ON FUNCTION billy.refresh_organization(text) IS
'Queues a job per connected organization (or for org, an id or a name) that fetches its settings from Billy again; the worker starts at commit. Returns how many jobs were queued.';

CREATE FUNCTION billy.worker_status(
    OUT running boolean, OUT pid integer, OUT state text, OUT database text,
    OUT started_at timestamptz, OUT last_wakeup timestamptz, OUT last_job_finished_at timestamptz,
    OUT starts bigint, OUT jobs_done bigint, OUT jobs_failed bigint, OUT current_job bigint,
    OUT queued bigint)
RETURNS record
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_worker_status';
COMMENT ON FUNCTION billy.worker_status() IS
'The background worker as it sees itself: whether it runs, its pid and state, the database it serves, when it started and last woke, how many times it has started since the server did (a crash restarts it), jobs done and failed since then, the job it runs now, and how many jobs are queued.';

------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; each role gets what it needs.
------------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA billy FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA billy FROM PUBLIC;

GRANT SELECT ON billy.organizations TO billy_reader;
GRANT SELECT ON billy.jobs TO billy_admin;

GRANT EXECUTE ON FUNCTION billy.worker_status() TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.check_connection(text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._resolve_org(text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy._ts(text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.connect(text, text) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.disconnect(text) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.refresh_organization(text) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.api_get(text, text) TO billy_admin;
GRANT INSERT ON billy.jobs TO billy_admin;
GRANT EXECUTE ON FUNCTION billy._enqueue(text, text, jsonb, timestamptz, integer) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy._wake_worker_at_commit() TO billy_admin;
