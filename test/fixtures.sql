-- test/fixtures.sql: test-only helpers, loaded by scripts/test into the test
-- database before any suite runs.  They live in schema billy_test, never in
-- billy, and are not part of the extension.

CREATE SCHEMA billy_test;

-- the sandbox organizations (scripts/test fills this from the ready lines)
CREATE TABLE billy_test.orgs (
    n     serial PRIMARY KEY,
    id    text NOT NULL,
    token text NOT NULL,
    name  text NOT NULL
);

-- api_url (the sandbox's /v2), control (its /_sandbox), work (the work dir)
CREATE TABLE billy_test.settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE FUNCTION billy_test.setting(k text) RETURNS text
LANGUAGE sql STABLE
RETURN (SELECT value FROM billy_test.settings WHERE key = k);

CREATE FUNCTION billy_test.token(i int) RETURNS text
LANGUAGE sql STABLE
RETURN (SELECT token FROM billy_test.orgs WHERE n = i);

CREATE FUNCTION billy_test.org(i int) RETURNS text
LANGUAGE sql STABLE
RETURN (SELECT id FROM billy_test.orgs WHERE n = i);

-- mask replaces what changes from run to run (the sandbox's port, curl's timings)
CREATE FUNCTION billy_test.mask(t text) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN regexp_replace(regexp_replace(t, '127\.0\.0\.1:[0-9]+', '127.0.0.1:PORT', 'g'),
                      'after [0-9]+ ms', 'after N ms', 'g');

-- try runs a statement and says "ok" or what failed: SQLSTATE, message,
-- detail and hint, masked.
CREATE FUNCTION billy_test.try(statement text) RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    st text;
    msg text;
    det text;
    hnt text;
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
        det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN billy_test.mask(st || ': ' || msg
        || coalesce(E'\nDETAIL: ' || nullif(det, ''), '')
        || coalesce(E'\nHINT: ' || nullif(hnt, ''), ''));
END
$$;

-- sandbox calls billy-sandbox's control API (…/_sandbox<path>) with curl,
-- run by the server, and returns the response body.
CREATE FUNCTION billy_test.sandbox(method text, path text, body text DEFAULT NULL,
                                   control text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    cmd text;
    result text;
BEGIN
    cmd := format('curl -s -S --max-time 60 -X %s -H %s %s %s',
                  method,
                  billy_test.quote_shell('Content-Type: application/json'),
                  CASE WHEN body IS NULL THEN '' ELSE '--data-binary ' || billy_test.quote_shell(body) END,
                  billy_test.quote_shell(coalesce(control, billy_test.setting('control')) || path));
    IF to_regclass('pg_temp.sandbox_out') IS NULL THEN
        CREATE TEMP TABLE sandbox_out (n serial, line text);
    END IF;
    TRUNCATE sandbox_out;
    EXECUTE format('COPY sandbox_out (line) FROM PROGRAM %L WITH (FORMAT csv, DELIMITER %L, QUOTE %L)',
                   cmd, E'\x02', E'\x01');
    SELECT string_agg(line, E'\n' ORDER BY n) INTO result FROM sandbox_out;
    RETURN result;
END
$$;

CREATE FUNCTION billy_test.quote_shell(s text) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN '''' || replace(s, '''', $q$'\''$q$) || '''';

-- fault sets one sandbox fault; clear_faults clears them all
CREATE FUNCTION billy_test.fault(spec text) RETURNS void
LANGUAGE sql
BEGIN ATOMIC
    SELECT billy_test.sandbox('POST', '/faults', spec);
END;

CREATE FUNCTION billy_test.clear_faults() RETURNS void
LANGUAGE sql
BEGIN ATOMIC
    SELECT billy_test.sandbox('DELETE', '/faults');
END;

-- wait_for polls a boolean query until it holds or the timeout passes
CREATE FUNCTION billy_test.wait_for(condition text, timeout interval DEFAULT '20 s')
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + timeout;
    ok boolean;
BEGIN
    LOOP
        EXECUTE condition INTO ok;
        IF ok THEN
            RETURN true;
        END IF;
        IF clock_timestamp() > deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;

-- the privilege tests run parts as billy_reader and billy_admin
GRANT USAGE ON SCHEMA billy_test TO PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA billy_test TO PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA billy_test TO PUBLIC;

-- mirror_diff compares billy's mirror of one organization with the sandbox's
-- dump: per resource, records that differ or are missing on either side, and
-- records marked deleted that the sandbox still has (false deletions).
CREATE FUNCTION billy_test.mirror_diff(org text, control text DEFAULT NULL)
RETURNS TABLE (resource text, mismatches bigint, false_deletions bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    d jsonb := billy_test.sandbox('GET', '/dump?org=' || org, NULL, control)::jsonb;
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES ('invoices', 'invoices'), ('bills', 'bills'), ('contacts', 'contacts'),
                                   ('products', 'products'), ('bankPayments', 'bank_payments'),
                                   ('accounts', 'accounts'), ('taxRates', 'tax_rates'),
                                   ('salesTaxRulesets', 'sales_tax_rulesets'),
                                   ('salesTaxReturns', 'sales_tax_returns')) v(res, tbl)
    LOOP
        resource := r.res;
        EXECUTE format($q$
            SELECT count(*) FROM (SELECT e AS x FROM jsonb_array_elements($1) e) t
            FULL JOIN (SELECT id, raw - 'downloadUrl' AS raw FROM billy.%I
                       WHERE organization_id = $2 AND deleted_at IS NULL) m ON m.id = t.x ->> 'id'
            WHERE m.raw IS DISTINCT FROM t.x$q$, r.tbl)
            INTO mismatches USING d -> r.res, org;
        EXECUTE format($q$
            SELECT count(*) FROM billy.%I m
            WHERE m.organization_id = $2 AND m.deleted_at IS NOT NULL
              AND EXISTS (SELECT 1 FROM jsonb_array_elements($1) e WHERE e ->> 'id' = m.id)$q$, r.tbl)
            INTO false_deletions USING d -> r.res, org;
        RETURN NEXT;
    END LOOP;
END
$$;
GRANT EXECUTE ON FUNCTION billy_test.mirror_diff(text, text) TO PUBLIC;

-- mirror_equal: the whole mirror of an organization equals the sandbox's truth
CREATE FUNCTION billy_test.mirror_equal(org text, control text DEFAULT NULL) RETURNS boolean
LANGUAGE sql
RETURN (SELECT bool_and(mismatches = 0 AND false_deletions = 0) FROM billy_test.mirror_diff(org, control));
GRANT EXECUTE ON FUNCTION billy_test.mirror_equal(text, text) TO PUBLIC;

-- sync_and_wait queues a sync and waits for its jobs to finish; returns the
-- state of the last one (done, failed, or queued when it failed and will retry)
CREATE FUNCTION billy_test.job_outcome(first_job bigint, timeout interval DEFAULT '60 s') RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + timeout;
    s text;
BEGIN
    LOOP
        SELECT CASE WHEN bool_or(state = 'failed') THEN 'failed'
                    WHEN bool_and(state = 'done') THEN 'done'
                    WHEN bool_or(state = 'queued' AND attempts > 0) THEN 'retrying'
                    ELSE 'pending' END
        INTO s FROM billy.jobs WHERE id >= first_job AND kind = 'sync';
        IF s IN ('failed', 'done', 'retrying') OR clock_timestamp() > deadline THEN
            RETURN s;
        END IF;
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;

-- api calls billy-sandbox's /v2 API (…/v2<path>) with an organization's
-- access token, as a client of Billy would, and returns the JSON answer
-- (errors included: the envelope says what failed).  For building the exact
-- books a test needs through the sandbox's write API.
CREATE FUNCTION billy_test.api(token text, method text, path text, body jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    cmd text;
    result text;
BEGIN
    cmd := format('curl -s -S --max-time 60 -X %s -H %s -H %s %s %s',
                  method,
                  billy_test.quote_shell('Content-Type: application/json'),
                  billy_test.quote_shell('X-Access-Token: ' || token),
                  CASE WHEN body IS NULL THEN '' ELSE '--data-binary ' || billy_test.quote_shell(body::text) END,
                  billy_test.quote_shell(billy_test.setting('api_url') || path));
    IF to_regclass('pg_temp.sandbox_out') IS NULL THEN
        CREATE TEMP TABLE sandbox_out (n serial, line text);
    END IF;
    TRUNCATE sandbox_out;
    EXECUTE format('COPY sandbox_out (line) FROM PROGRAM %L WITH (FORMAT csv, DELIMITER %L, QUOTE %L)',
                   cmd, E'\x02', E'\x01');
    SELECT string_agg(line, E'\n' ORDER BY n) INTO result FROM sandbox_out;
    RETURN result::jsonb;
END
$$;
GRANT EXECUTE ON FUNCTION billy_test.api(text, text, text, jsonb) TO PUBLIC;
