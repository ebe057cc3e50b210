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

-- mask replaces what changes from run to run (the sandbox's port)
CREATE FUNCTION billy_test.mask(t text) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN regexp_replace(t, '127\.0\.0\.1:[0-9]+', '127.0.0.1:PORT', 'g');

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
CREATE FUNCTION billy_test.sandbox(method text, path text, body text DEFAULT NULL)
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
                  billy_test.quote_shell(billy_test.setting('control') || path));
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
