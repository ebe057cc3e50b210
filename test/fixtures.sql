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

-- program runs a shell command on the server (COPY FROM PROGRAM) and returns
-- what it printed
CREATE FUNCTION billy_test.program(cmd text) RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    result text;
BEGIN
    IF to_regclass('pg_temp.program_out') IS NULL THEN
        CREATE TEMP TABLE program_out (n serial, line text);
    END IF;
    TRUNCATE program_out;
    EXECUTE format('COPY program_out (line) FROM PROGRAM %L WITH (FORMAT csv, DELIMITER %L, QUOTE %L)',
                   cmd, E'\x02', E'\x01');
    SELECT string_agg(line, E'\n' ORDER BY n) INTO result FROM program_out;
    RETURN result;
END
$$;

-- api calls billy-sandbox's /v2 API (…/v2<path>) with an organization's
-- access token, as a client of Billy would, and returns the JSON answer
-- (errors included: the envelope says what failed).  For building the exact
-- books a test needs through the sandbox's write API.
CREATE FUNCTION billy_test.api(token text, method text, path text, body jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql
RETURN billy_test.program(format('curl -s -S --max-time 60 -X %s -H %s -H %s %s %s',
                  method,
                  billy_test.quote_shell('Content-Type: application/json'),
                  billy_test.quote_shell('X-Access-Token: ' || token),
                  CASE WHEN body IS NULL THEN '' ELSE '--data-binary ' || billy_test.quote_shell(body::text) END,
                  billy_test.quote_shell(billy_test.setting('api_url') || path)))::jsonb;
GRANT EXECUTE ON FUNCTION billy_test.api(text, text, text, jsonb) TO PUBLIC;

-- the analytics rollups recomputed from the raw mirror with plain GROUP BYs,
-- written independently of the triggers that maintain them;
-- analytics_differences() counts the rows that differ, both ways, per rollup
-- (SQL bodies refer to billy's tables, which do not exist yet at this point)
SET check_function_bodies = off;
CREATE FUNCTION billy_test.analytics_expected_daily() RETURNS TABLE (organization_id text, day date, currency_id text, kind text,
    documents bigint, net numeric, tax numeric, net_base numeric, tax_base numeric, payments bigint, paid numeric,
    paid_base numeric)
LANGUAGE sql AS $$
    WITH docs AS (
        SELECT organization_id, id, 'invoice' AS subject,
               CASE WHEN type = 'creditNote' THEN 'creditNote' ELSE 'invoice' END AS kind,
               entry_date, currency_id, exchange_rate, amount, tax
        FROM billy.invoices WHERE state = 'approved' AND deleted_at IS NULL
        UNION ALL
        SELECT organization_id, id, 'bill', CASE WHEN type = 'creditNote' THEN 'billCreditNote' ELSE 'bill' END,
               entry_date, currency_id, exchange_rate, amount, tax
        FROM billy.bills WHERE state = 'approved' AND deleted_at IS NULL
    ), d AS (
        SELECT organization_id, entry_date AS day, currency_id, kind, count(*) AS documents, sum(amount) AS net,
               sum(tax) AS tax, sum(round(amount * exchange_rate, 2)) AS net_base, sum(round(tax * exchange_rate, 2)) AS tax_base
        FROM docs GROUP BY 1, 2, 3, 4
    ), p AS (
        SELECT x.organization_id, m.entry_date AS day, x.currency_id, x.kind, count(*) AS payments,
               sum(-m.amount) AS paid, sum(round(-m.amount * x.exchange_rate, 2)) AS paid_base
        FROM billy.balance_modifiers m
        JOIN docs x ON x.organization_id = m.organization_id AND x.id = m.subject_id AND x.subject = m.subject_type
        WHERE m.modifier_type = 'bankPayment' AND NOT m.is_voided
        GROUP BY 1, 2, 3, 4
    )
    SELECT COALESCE(d.organization_id, p.organization_id), COALESCE(d.day, p.day), COALESCE(d.currency_id, p.currency_id),
           COALESCE(d.kind, p.kind), COALESCE(d.documents, 0), COALESCE(d.net, 0), COALESCE(d.tax, 0),
           COALESCE(d.net_base, 0), COALESCE(d.tax_base, 0), COALESCE(p.payments, 0), COALESCE(p.paid, 0),
           COALESCE(p.paid_base, 0)
    FROM d FULL JOIN p ON p.organization_id = d.organization_id AND p.day = d.day AND p.currency_id = d.currency_id
                      AND p.kind = d.kind
$$;
CREATE FUNCTION billy_test.analytics_expected_open() RETURNS TABLE (organization_id text, due_date date, currency_id text, kind text,
    documents bigint, balance numeric, balance_base numeric)
LANGUAGE sql AS $$
    SELECT organization_id, COALESCE(due_date, entry_date), currency_id, kind, count(*), sum(balance),
           sum(round(balance * exchange_rate, 2))
    FROM (SELECT organization_id, due_date, entry_date, currency_id, exchange_rate, balance,
                 CASE WHEN type = 'creditNote' THEN 'creditNote' ELSE 'invoice' END AS kind
          FROM billy.invoices WHERE state = 'approved' AND deleted_at IS NULL AND balance <> 0
          UNION ALL
          SELECT organization_id, due_date, entry_date, currency_id, exchange_rate, balance,
                 CASE WHEN type = 'creditNote' THEN 'billCreditNote' ELSE 'bill' END
          FROM billy.bills WHERE state = 'approved' AND deleted_at IS NULL AND balance <> 0) x
    GROUP BY 1, 2, 3, 4
$$;
CREATE FUNCTION billy_test.analytics_expected_months() RETURNS TABLE (organization_id text, month date, contact_id text,
    invoices bigint, credit_notes bigint, net_base numeric, tax_base numeric)
LANGUAGE sql AS $$
    SELECT organization_id, date_trunc('month', entry_date)::date, contact_id,
           count(*) FILTER (WHERE type <> 'creditNote'), count(*) FILTER (WHERE type = 'creditNote'),
           sum(CASE WHEN type = 'creditNote' THEN -1 ELSE 1 END * round(amount * exchange_rate, 2)),
           sum(CASE WHEN type = 'creditNote' THEN -1 ELSE 1 END * round(tax * exchange_rate, 2))
    FROM billy.invoices WHERE state = 'approved' AND deleted_at IS NULL AND contact_id IS NOT NULL
    GROUP BY 1, 2, 3
$$;
-- differences, both ways, between a rollup and its recomputation
CREATE FUNCTION billy_test.analytics_differences() RETURNS TABLE (rollup text, rows bigint)
LANGUAGE sql AS $$
    SELECT 'daily', count(*) FROM (
        (SELECT organization_id, day, currency_id, kind, documents::bigint, net, tax, net_base, tax_base,
                payments::bigint, paid, paid_base FROM billy.analytics_daily
         EXCEPT SELECT * FROM billy_test.analytics_expected_daily())
        UNION ALL
        (SELECT * FROM billy_test.analytics_expected_daily()
         EXCEPT SELECT organization_id, day, currency_id, kind, documents::bigint, net, tax, net_base, tax_base,
                       payments::bigint, paid, paid_base FROM billy.analytics_daily)) x
    UNION ALL
    SELECT 'open', count(*) FROM (
        (SELECT organization_id, due_date, currency_id, kind, documents::bigint, balance, balance_base
         FROM billy.analytics_open EXCEPT SELECT * FROM billy_test.analytics_expected_open())
        UNION ALL
        (SELECT * FROM billy_test.analytics_expected_open()
         EXCEPT SELECT organization_id, due_date, currency_id, kind, documents::bigint, balance, balance_base
                FROM billy.analytics_open)) x
    UNION ALL
    SELECT 'customer months', count(*) FROM (
        (SELECT organization_id, month, contact_id, invoices::bigint, credit_notes::bigint, net_base, tax_base
         FROM billy.analytics_customer_months EXCEPT SELECT * FROM billy_test.analytics_expected_months())
        UNION ALL
        (SELECT * FROM billy_test.analytics_expected_months()
         EXCEPT SELECT organization_id, month, contact_id, invoices::bigint, credit_notes::bigint, net_base, tax_base
                FROM billy.analytics_customer_months)) x
    UNION ALL
    SELECT 'open documents', count(*) FROM (
        WITH want AS (
            SELECT organization_id, 'invoice' AS subject, id, CASE WHEN type = 'creditNote' THEN 'creditNote' ELSE 'invoice' END AS kind,
                   contact_id, entry_date, COALESCE(due_date, entry_date) AS due_date, currency_id, exchange_rate AS rate,
                   balance, round(balance * exchange_rate, 2) AS balance_base
            FROM billy.invoices WHERE state = 'approved' AND deleted_at IS NULL AND balance <> 0
            UNION ALL
            SELECT organization_id, 'bill', id, CASE WHEN type = 'creditNote' THEN 'billCreditNote' ELSE 'bill' END,
                   contact_id, entry_date, COALESCE(due_date, entry_date), currency_id, exchange_rate, balance,
                   round(balance * exchange_rate, 2)
            FROM billy.bills WHERE state = 'approved' AND deleted_at IS NULL AND balance <> 0
        ), have AS (
            SELECT organization_id, subject, id, kind, contact_id, entry_date, due_date, currency_id, rate, balance, balance_base
            FROM billy.analytics_open_documents
        )
        (SELECT * FROM have EXCEPT SELECT * FROM want) UNION ALL (SELECT * FROM want EXCEPT SELECT * FROM have)) x
    UNION ALL
    SELECT 'customers', count(*) FROM (
        WITH want AS (
            SELECT organization_id, contact_id,
                   count(*) FILTER (WHERE type <> 'creditNote') AS invoices, count(*) FILTER (WHERE type = 'creditNote') AS credit_notes,
                   sum(CASE WHEN type = 'creditNote' THEN -1 ELSE 1 END * round(amount * exchange_rate, 2)) AS net_base,
                   sum(CASE WHEN type = 'creditNote' THEN -1 ELSE 1 END * round(tax * exchange_rate, 2)) AS tax_base,
                   min(entry_date) FILTER (WHERE type <> 'creditNote') AS first_invoice,
                   max(entry_date) FILTER (WHERE type <> 'creditNote') AS last_invoice
            FROM billy.invoices WHERE state = 'approved' AND deleted_at IS NULL AND contact_id IS NOT NULL
            GROUP BY 1, 2
        ), have AS (
            SELECT organization_id, contact_id, invoices::bigint, credit_notes::bigint, net_base, tax_base, first_invoice, last_invoice
            FROM billy.analytics_customers
        )
        (SELECT * FROM have EXCEPT SELECT * FROM want) UNION ALL (SELECT * FROM want EXCEPT SELECT * FROM have)) x
    UNION ALL
    -- the customer bitmaps, read back as (organization, day, contact)
    SELECT 'customer days', count(*) FROM (
        WITH have AS (
            SELECT d.organization_id, d.day, c.contact_id
            FROM billy.analytics_customer_days d
            JOIN billy.analytics_contacts c ON c.organization_id = d.organization_id
            WHERE CASE WHEN c.ordinal / 8 < length(d.customers) THEN get_bit(d.customers, c.ordinal) = 1 ELSE false END
        ), want AS (
            SELECT DISTINCT organization_id, entry_date AS day, contact_id FROM billy.invoices
            WHERE state = 'approved' AND deleted_at IS NULL AND type <> 'creditNote' AND contact_id IS NOT NULL
        )
        (SELECT * FROM have EXCEPT SELECT * FROM want) UNION ALL (SELECT * FROM want EXCEPT SELECT * FROM have)) x
    UNION ALL
    -- nothing left at zero
    SELECT 'zero rows', (SELECT count(*) FROM billy.analytics_daily
                         WHERE documents = 0 AND payments = 0 AND net = 0 AND tax = 0 AND paid = 0)
                      + (SELECT count(*) FROM billy.analytics_open WHERE documents = 0 AND balance = 0)
                      + (SELECT count(*) FROM billy.analytics_customer_days WHERE customers = '\x'::bytea)
$$;
-- vat_fact_differences: rows of billy._vat_facts that differ, both ways, from
-- a recomputation from the mirror (billy._vat_fact_rows of every document),
-- without rebuilding anything
CREATE FUNCTION billy_test.vat_fact_differences() RETURNS bigint
LANGUAGE sql AS $$
    WITH want AS (
        SELECT f.* FROM billy.organizations o,
               LATERAL (SELECT * FROM billy._vat_fact_rows('invoice', o.id, ARRAY(SELECT i.id FROM billy.invoices i WHERE i.organization_id = o.id), NULL)
                        UNION ALL
                        SELECT * FROM billy._vat_fact_rows('bill', o.id, ARRAY(SELECT b.id FROM billy.bills b WHERE b.organization_id = o.id), NULL)) f
    )
    SELECT (SELECT count(*) FROM (SELECT * FROM billy._vat_facts EXCEPT ALL SELECT * FROM want) x)
         + (SELECT count(*) FROM (SELECT * FROM want EXCEPT ALL SELECT * FROM billy._vat_facts) y)
$$;
-- ledger_differences: rows of billy.ledger_sums that differ from a GROUP BY
-- over the postings of the transactions not marked deleted (both grains)
CREATE FUNCTION billy_test.ledger_differences() RETURNS bigint
LANGUAGE sql AS $$
    WITH want AS (
        SELECT p.organization_id, g.grain, g.day, p.account_id,
               sum(greatest(p.signed_amount, 0)) AS debit, sum(greatest(-p.signed_amount, 0)) AS credit,
               count(*)::integer AS postings
        FROM billy.postings p
        JOIN billy.transactions t ON t.organization_id = p.organization_id AND t.id = p.transaction_id
        CROSS JOIN LATERAL (VALUES ('day', p.entry_date), ('month', date_trunc('month', p.entry_date)::date)) g(grain, day)
        WHERE t.deleted_at IS NULL AND p.account_id IS NOT NULL AND p.entry_date IS NOT NULL
        GROUP BY 1, 2, 3, 4
    )
    SELECT count(*) FROM want w FULL JOIN billy.ledger_sums s
        ON (s.organization_id, s.grain, s.day, s.account_id) = (w.organization_id, w.grain, w.day, w.account_id)
    WHERE (s.debit, s.credit, s.postings) IS DISTINCT FROM (w.debit, w.credit, w.postings)
$$;
RESET check_function_bodies;
GRANT EXECUTE ON FUNCTION billy_test.ledger_differences() TO PUBLIC;
GRANT EXECUTE ON FUNCTION billy_test.analytics_differences() TO PUBLIC;
GRANT EXECUTE ON FUNCTION billy_test.vat_fact_differences() TO PUBLIC;
