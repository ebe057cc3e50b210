------------------------------------------------------------------------------
-- Bulk: CSV import of contacts and products as worker jobs, CSV export
------------------------------------------------------------------------------

CREATE TABLE billy.bulk_jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id  text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    kind             text NOT NULL DEFAULT 'import',
    resource         text NOT NULL,
    options          jsonb NOT NULL DEFAULT '{}',
    dry_run          boolean NOT NULL DEFAULT false,
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['queued', 'running', 'done', 'failed', 'cancelled'])),
    total            integer NOT NULL DEFAULT 0,
    invalid          integer NOT NULL DEFAULT 0,
    skipped          integer NOT NULL DEFAULT 0,
    done             integer NOT NULL DEFAULT 0,
    failed           integer NOT NULL DEFAULT 0,
    created          integer NOT NULL DEFAULT 0,
    updated          integer NOT NULL DEFAULT 0,
    cancel_requested boolean NOT NULL DEFAULT false,
    note             text,
    created_by       name NOT NULL,
    session_role     name NOT NULL,
    client           text,
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
COMMENT ON TABLE billy.bulk_jobs IS
'CSV imports (billy.import_csv): the organization, resource (contacts or products), options, state (queued, running, done, failed, cancelled), row counts (total, invalid: refused by the checks, skipped: duplicates left alone, done, failed: refused by Billy, created, updated) and times. billy.bulk_job_status adds the rate and the time left. Jobs and their rows are forgotten 30 days after they finish.';

CREATE TABLE billy.bulk_job_items (
    job_id      bigint NOT NULL REFERENCES billy.bulk_jobs (id) ON DELETE CASCADE,
    line        integer NOT NULL,
    organization_id text NOT NULL,
    action      text NOT NULL DEFAULT 'create' CHECK (action OPERATOR(pg_catalog.=) ANY (ARRAY['create', 'update', 'skip'])),
    state       text NOT NULL DEFAULT 'pending'
                CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'sending', 'done', 'failed', 'invalid', 'skipped', 'cancelled', 'checked'])),
    record      jsonb,
    target_id   text,
    plan        jsonb,
    write_op_id bigint,
    record_id   text,
    error       text,
    PRIMARY KEY (job_id, line)
);
COMMENT ON TABLE billy.bulk_job_items IS
'The rows of a CSV import, by line (the line of the file the row starts on): action (create, update an existing duplicate, skip it), state (pending, sending, done, failed: Billy refused it, invalid: the checks refused it, skipped, cancelled, checked: a dry run found it good), the record as read, the matched record (target_id), the write (write_op_id, record_id) and, for invalid and failed rows, the reason naming the field.';

DO $rls$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['bulk_jobs', 'bulk_job_items']
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE billy.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY visible ON billy.%I FOR SELECT USING ((SELECT billy._sees_all()) '
            'OR organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]))', t);
    END LOOP;
END
$rls$;

CREATE FUNCTION billy.parse_csv(csv text, options jsonb DEFAULT '{}') RETURNS TABLE (line integer, fields text[])
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'billy_parse_csv';
COMMENT ON FUNCTION billy.parse_csv(text, jsonb) IS
'Reads CSV text (RFC 4180: quoted fields, doubled quotes, line breaks inside quotes, CRLF/LF/CR; a UTF-8 byte order mark is skipped; empty lines are skipped) and returns each record with the line it starts on. options: {"delimiter": "," | ";" | "\t" | "auto" (default: the most frequent in the first line)}. A malformed record raises an error naming its line. For looking at a file before importing it.';

CREATE FUNCTION billy._csv_records(resource text, csv text, options jsonb) RETURNS TABLE (line integer, record jsonb, problems jsonb)
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'billy_csv_records';
COMMENT ON FUNCTION billy._csv_records(text, text, jsonb) IS
'The data rows of an import CSV: the record each row makes (the JSON of its write) or its problems ({line, column, field, message}). Internal.';

CREATE FUNCTION billy.check_csv(resource text, csv text, options jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'billy_check_csv';
COMMENT ON FUNCTION billy.check_csv(text, text, jsonb) IS
'Checks an import CSV of contacts or products without touching anything: the header (Danish and English names: navn/name, cvr/registrationNo, adresse/street, postnr/zipcode, by/city, land/country, telefon/phone, email, ean, type, kundenr/contactNo; varenr/productNo, pris/unitPrice, valuta/currency, konto/account, moms/ruleset...) and every row (required fields, country and currency codes, CVR numbers by modulus 11, e-mail addresses, EAN numbers, amounts with a decimal comma or point). Returns {"rows", "valid", "invalid", "delimiter", "decimal", "problems": the first 100, each with line, column, field and message}. options as billy.import_csv.';

-- _bulk_resolve fills in what rows name by number or name (products'
-- account number and sales tax ruleset) and decides create/update/skip
CREATE FUNCTION billy._bulk_prepare(job bigint) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j billy.bulk_jobs;
    it record;
    p_plan jsonb;
    dup text;
    how text;
    op text;
    args jsonb;
    rec jsonb;
BEGIN
    SELECT * INTO j FROM billy.bulk_jobs WHERE id = job;
    FOR it IN SELECT * FROM billy.bulk_job_items WHERE job_id = job AND state = 'pending' ORDER BY line LOOP
        rec := it.record;
        dup := NULL;
        IF j.resource = 'products' THEN
            IF rec ? 'accountNo' THEN
                rec := (rec - 'accountNo') || jsonb_build_object('accountId', (SELECT a.id FROM billy.accounts a
                    WHERE a.organization_id = j.organization_id AND a.account_no::text = rec ->> 'accountNo' AND a.deleted_at IS NULL));
                IF rec ->> 'accountId' IS NULL THEN
                    UPDATE billy.bulk_job_items SET state = 'invalid', error = format('accountNo: no account %s in the mirror', it.record ->> 'accountNo')
                    WHERE job_id = job AND line = it.line;
                    CONTINUE;
                END IF;
            END IF;
            IF rec ? 'salesTaxRuleset' THEN
                rec := (rec - 'salesTaxRuleset') || jsonb_build_object('salesTaxRulesetId', (SELECT r.id FROM billy.sales_tax_rulesets r
                    WHERE r.organization_id = j.organization_id AND r.deleted_at IS NULL
                      AND (lower(r.name) = lower(rec ->> 'salesTaxRuleset') OR lower(r.abbreviation) = lower(rec ->> 'salesTaxRuleset'))
                    LIMIT 1));
                IF rec ->> 'salesTaxRulesetId' IS NULL THEN
                    UPDATE billy.bulk_job_items SET state = 'invalid', error = format('salesTaxRuleset: no sales tax ruleset named "%s" in the mirror', it.record ->> 'salesTaxRuleset')
                    WHERE job_id = job AND line = it.line;
                    CONTINUE;
                END IF;
            END IF;
            -- duplicates: by product number, else by name
            SELECT p.id, CASE WHEN rec ? 'productNo' THEN 'productNo ' || (rec ->> 'productNo') ELSE 'name' END INTO dup, how
            FROM billy.products p WHERE p.organization_id = j.organization_id AND p.deleted_at IS NULL
              AND CASE WHEN rec ? 'productNo' THEN p.product_no = rec ->> 'productNo' ELSE lower(p.name) = lower(rec ->> 'name') END
            LIMIT 1;
        ELSE
            -- duplicates: by CVR, else by name
            SELECT c.id, CASE WHEN rec ? 'registrationNo' THEN 'registrationNo ' || (rec ->> 'registrationNo') ELSE 'name' END INTO dup, how
            FROM billy.contacts c WHERE c.organization_id = j.organization_id AND c.deleted_at IS NULL
              AND CASE WHEN rec ? 'registrationNo' THEN c.registration_no = rec ->> 'registrationNo'
                       ELSE lower(c.name) = lower(rec ->> 'name') END
            LIMIT 1;
        END IF;
        -- the same record twice in the file
        IF EXISTS (SELECT 1 FROM billy.bulk_job_items o WHERE o.job_id = job AND o.line < it.line AND o.state <> 'invalid'
                   AND CASE WHEN j.resource = 'products' AND rec ? 'productNo' THEN o.record ->> 'productNo' = rec ->> 'productNo'
                            WHEN j.resource = 'contacts' AND rec ? 'registrationNo' THEN o.record ->> 'registrationNo' = rec ->> 'registrationNo'
                            ELSE lower(o.record ->> 'name') = lower(rec ->> 'name') END) THEN
            UPDATE billy.bulk_job_items SET state = 'invalid',
                error = format('the same %s as line %s of this file', CASE WHEN j.resource = 'products' THEN 'product' ELSE 'contact' END,
                    (SELECT min(o.line) FROM billy.bulk_job_items o WHERE o.job_id = job AND o.line < it.line
                       AND CASE WHEN j.resource = 'products' AND rec ? 'productNo' THEN o.record ->> 'productNo' = rec ->> 'productNo'
                                WHEN j.resource = 'contacts' AND rec ? 'registrationNo' THEN o.record ->> 'registrationNo' = rec ->> 'registrationNo'
                                ELSE lower(o.record ->> 'name') = lower(rec ->> 'name') END))
            WHERE job_id = job AND line = it.line;
            CONTINUE;
        END IF;
        IF dup IS NOT NULL AND coalesce(j.options ->> 'on_duplicate', 'skip') = 'skip' THEN
            UPDATE billy.bulk_job_items SET action = 'skip', state = 'skipped', target_id = dup,
                error = format('matches existing %s %s by %s', CASE WHEN j.resource = 'products' THEN 'product' ELSE 'contact' END, dup, how)
            WHERE job_id = job AND line = it.line;
            CONTINUE;
        END IF;
        IF j.resource = 'products' THEN
            op := CASE WHEN dup IS NULL THEN 'create_product' ELSE 'update_product' END;
            args := jsonb_build_object('org', j.organization_id, 'product', rec)
                    || CASE WHEN dup IS NULL THEN '{}' ELSE jsonb_build_object('productId', dup) END;
        ELSE
            op := CASE WHEN dup IS NULL THEN 'create_contact' ELSE 'update_contact' END;
            args := jsonb_build_object('org', j.organization_id, 'contact', rec)
                    || CASE WHEN dup IS NULL THEN '{}' ELSE jsonb_build_object('contactId', dup) END;
        END IF;
        p_plan := billy._plan_write(op, args);
        IF jsonb_array_length(p_plan -> 'problems') > 0 THEN
            UPDATE billy.bulk_job_items SET state = 'invalid',
                error = (SELECT string_agg(regexp_replace(e ->> 'field', '^(contact|product)\.', '') || ': ' || (e ->> 'message'), '; ')
                         FROM jsonb_array_elements(p_plan -> 'problems') e)
            WHERE job_id = job AND line = it.line;
        ELSE
            UPDATE billy.bulk_job_items SET action = CASE WHEN dup IS NULL THEN 'create' ELSE 'update' END, target_id = dup,
                plan = (p_plan - 'problems') || jsonb_build_object('args', args),
                state = CASE WHEN j.dry_run THEN 'checked' ELSE 'pending' END
            WHERE job_id = job AND line = it.line;
        END IF;
    END LOOP;
    UPDATE billy.bulk_jobs b SET
        invalid = (SELECT count(*) FROM billy.bulk_job_items i WHERE i.job_id = job AND i.state = 'invalid'),
        skipped = (SELECT count(*) FROM billy.bulk_job_items i WHERE i.job_id = job AND i.state = 'skipped')
    WHERE b.id = job;
END
$$;
COMMENT ON FUNCTION billy._bulk_prepare(bigint) IS
'Prepares an import''s rows: resolves account numbers and ruleset names, finds duplicates (in the mirror by CVR or product number, else by name; and in the file itself), applies on_duplicate, and plans each write (the same checks as billy.preview_write). Internal.';

CREATE FUNCTION billy.import_csv(org text, resource text, csv text, options jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target text := billy._resolve_org(org);
    job bigint;
    opts jsonb := coalesce(options, '{}');
    dry boolean;
    bad record;
    n_bad integer;
    unknown_keys text;
BEGIN
    IF resource IS NULL OR resource NOT IN ('contacts', 'products') THEN
        RAISE EXCEPTION 'resource must be contacts or products, not %', coalesce('"' || resource || '"', 'NULL')
            USING ERRCODE = '22023';
    END IF;
    IF csv IS NULL THEN
        RAISE EXCEPTION 'csv must not be null' USING ERRCODE = '22004';
    END IF;
    IF jsonb_typeof(opts) <> 'object' THEN
        RAISE EXCEPTION 'options must be a JSON object' USING ERRCODE = '22023';
    END IF;
    SELECT string_agg(k, ', ') INTO unknown_keys FROM jsonb_object_keys(opts) k
    WHERE k NOT IN ('dry_run', 'continue_on_error', 'on_duplicate', 'delimiter', 'decimal', 'country', 'currency', 'ignore_unknown_columns');
    IF unknown_keys IS NOT NULL THEN
        RAISE EXCEPTION 'unknown option(s): %', unknown_keys USING ERRCODE = '22023',
            HINT = 'Options: dry_run, continue_on_error, on_duplicate (skip or update), delimiter, decimal, country, currency, ignore_unknown_columns.';
    END IF;
    IF coalesce(opts ->> 'on_duplicate', 'skip') NOT IN ('skip', 'update') THEN
        RAISE EXCEPTION 'options.on_duplicate must be skip or update, not "%"', opts ->> 'on_duplicate' USING ERRCODE = '22023';
    END IF;
    dry := coalesce((opts ->> 'dry_run')::boolean, false);
    IF NOT dry THEN
        PERFORM billy._require_writable(target);
    END IF;
    job := billy._bulk_create(target, resource, opts, dry, csv, CURRENT_USER);
    IF NOT dry AND NOT coalesce((opts ->> 'continue_on_error')::boolean, false) THEN
        SELECT count(*) INTO n_bad FROM billy.bulk_job_items WHERE job_id = job AND state = 'invalid';
        IF n_bad > 0 THEN
            SELECT line, error INTO bad FROM billy.bulk_job_items WHERE job_id = job AND state = 'invalid' ORDER BY line LIMIT 1;
            RAISE EXCEPTION 'line %: %', bad.line, bad.error
                USING ERRCODE = '22023',
                      DETAIL = format('%s of %s rows are invalid: %s. Nothing was imported.', n_bad,
                          (SELECT count(*) FROM billy.bulk_job_items WHERE job_id = job),
                          (SELECT string_agg('line ' || line || ': ' || error, '; ' ORDER BY line)
                           FROM (SELECT * FROM billy.bulk_job_items WHERE job_id = job AND state = 'invalid' ORDER BY line LIMIT 10) x)),
                      HINT = 'Correct the rows, or import the valid ones with {"continue_on_error": true}; {"dry_run": true} records every problem in billy.bulk_job_items.';
        END IF;
    END IF;
    IF NOT dry THEN
        PERFORM billy._enqueue('bulk_import', target, jsonb_build_object('bulk_job_id', job), NULL, 110);
    END IF;
    RETURN job;
END
$$;
COMMENT ON FUNCTION billy.import_csv(text, text, text, jsonb) IS
'Imports contacts or products from CSV text into Billy as a background job and returns its id (billy.bulk_job_status shows it). The first line names the columns (Danish or English, see billy.check_csv); every row is checked first, with errors naming line, column and field. options: dry_run (check everything and decide what would happen; nothing is sent; no writes permission needed), continue_on_error (import the good rows, record the bad ones; without it one bad row refuses the whole file and nothing is sent), on_duplicate: skip (default) or update (a row matching an existing contact by CVR, else by name, or product by product number, else by name), delimiter ("," ";" tab, default detected), decimal ("," or ".", default "," for ";" files), country (for rows without one, default DK), currency (for prices without one, default DKK), ignore_unknown_columns. The worker sends the rows at most billy.import_rate per second and billy.import_concurrency at a time, each through the outbox (never twice) and the audit trail; billy.cancel_bulk_job stops it.';

CREATE FUNCTION billy._bulk_create(org text, res text, opts jsonb, dry boolean, csv text, actor name) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job bigint;
BEGIN
    INSERT INTO billy.bulk_jobs (organization_id, resource, options, dry_run, created_by, session_role, client)
    VALUES (org, res, opts, dry, actor, session_user,
            nullif(concat_ws(' ', nullif(current_setting('application_name'), ''), inet_client_addr()::text), ''))
    RETURNING id INTO job;
    INSERT INTO billy.bulk_job_items (job_id, line, organization_id, state, record, error)
    SELECT job, r.line, org, CASE WHEN r.problems IS NULL THEN 'pending' ELSE 'invalid' END, r.record,
           (SELECT string_agg(CASE WHEN p ->> 'field' = '' THEN p ->> 'message'
                                   ELSE format('%s (column %s) %s', p ->> 'field', p ->> 'column', p ->> 'message') END, '; ')
            FROM jsonb_array_elements(r.problems) p)
    FROM billy._csv_records(res, csv, opts - 'dry_run' - 'continue_on_error' - 'on_duplicate') r;
    UPDATE billy.bulk_jobs SET total = (SELECT count(*) FROM billy.bulk_job_items WHERE job_id = job) WHERE id = job;
    PERFORM billy._bulk_prepare(job);
    IF dry THEN
        PERFORM billy._bulk_finish(job);
    END IF;
    RETURN job;
END
$$;
-- SECURITY DEFINER: this runs as the table owner, but the caller stays the recorded creator
COMMENT ON FUNCTION billy._bulk_create(text, text, jsonb, boolean, text, name) IS
'Records an import and its rows (as the extension owner), checked and prepared. Internal.';

CREATE FUNCTION billy._bulk_start(job bigint) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- rows a stopped slice left sending: recorded writes are followed up, the others go again
    PERFORM billy._bulk_progress(job);
    UPDATE billy.bulk_job_items i SET state = 'pending'
    WHERE i.job_id = job AND i.state = 'sending'
      AND NOT EXISTS (SELECT 1 FROM billy.write_ops w WHERE w.bulk_job_id = job AND w.bulk_line = i.line);
    UPDATE billy.bulk_jobs SET state = 'running', started_at = coalesce(started_at, now())
    WHERE id = job AND state IN ('queued', 'running');
    RETURN CASE WHEN FOUND THEN true END;
END
$$;
COMMENT ON FUNCTION billy._bulk_start(bigint) IS 'Marks an import running; NULL when it is finished or cancelled. Internal.';

CREATE FUNCTION billy._bulk_should_stop(job bigint) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j billy.bulk_jobs;
    o billy.organizations;
BEGIN
    SELECT * INTO j FROM billy.bulk_jobs WHERE id = job;
    SELECT * INTO o FROM billy.organizations WHERE id = j.organization_id;
    IF j.cancel_requested THEN
        RETURN 'cancelled';
    ELSIF coalesce(current_setting('billy.enable_writes', true), 'off') NOT IN ('on', 'true', '1', 'yes') THEN
        RETURN 'stopped: billy.enable_writes was turned off';
    ELSIF o.read_only OR o.disconnected_at IS NOT NULL THEN
        RETURN 'stopped: the organization is read-only or disconnected';
    ELSIF NOT coalesce((j.options ->> 'continue_on_error')::boolean, false) AND j.failed > 0 THEN
        RETURN 'stopped: Billy refused a row (continue_on_error is off)';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION billy._bulk_should_stop(bigint) IS 'Why an import must stop now (cancelled, writes off, read-only, a refused row), or NULL. Internal.';

CREATE FUNCTION billy._bulk_stop(job bigint, why text) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    UPDATE billy.bulk_job_items SET state = 'cancelled', error = 'not sent: the import ' || why
    WHERE job_id = job AND state = 'pending';
    UPDATE billy.bulk_jobs SET state = CASE WHEN why = 'cancelled' THEN 'cancelled' ELSE 'failed' END,
        note = why, finished_at = now()
    WHERE id = job;
END;
COMMENT ON FUNCTION billy._bulk_stop(bigint, text) IS 'Stops an import: rows not sent are cancelled. Internal.';

CREATE FUNCTION billy._bulk_next_batch(job bigint, n integer) RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH b AS (
        UPDATE billy.bulk_job_items i SET state = 'sending'
        WHERE (i.job_id, i.line) IN (SELECT x.job_id, x.line FROM billy.bulk_job_items x
                                    WHERE x.job_id = job AND x.state = 'pending' ORDER BY x.line LIMIT n)
        RETURNING i.line, i.plan)
    SELECT jsonb_agg(jsonb_build_array(line, plan) ORDER BY line) FROM b;
END;
COMMENT ON FUNCTION billy._bulk_next_batch(bigint, integer) IS 'The next rows of an import to send, marked sending: [[line, plan], ...], or NULL when none is left. Internal.';

CREATE FUNCTION billy._bulk_progress(job bigint) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    UPDATE billy.bulk_job_items i SET write_op_id = w.id, record_id = w.record_id,
        state = CASE w.state WHEN 'done' THEN 'done' WHEN 'failed' THEN 'failed' ELSE 'sending' END,
        error = CASE WHEN w.state = 'failed' THEN w.error WHEN w.state = 'unknown' THEN 'outcome unknown, being reconciled: ' || w.error END
    FROM billy.write_ops w
    WHERE i.job_id = job AND w.bulk_job_id = job AND w.bulk_line = i.line AND i.state = 'sending';
    UPDATE billy.bulk_jobs b SET
        done = (SELECT count(*) FROM billy.bulk_job_items i WHERE i.job_id = job AND i.state = 'done'),
        failed = (SELECT count(*) FROM billy.bulk_job_items i WHERE i.job_id = job AND i.state = 'failed'),
        created = (SELECT count(*) FROM billy.bulk_job_items i WHERE i.job_id = job AND i.state = 'done' AND i.action = 'create'),
        updated = (SELECT count(*) FROM billy.bulk_job_items i WHERE i.job_id = job AND i.state = 'done' AND i.action = 'update')
    WHERE b.id = job;
END;
COMMENT ON FUNCTION billy._bulk_progress(bigint) IS 'Copies the outcome of an import''s sent rows from the outbox and updates its counts. Internal.';

CREATE FUNCTION billy._bulk_finish(job bigint) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT billy._bulk_progress(job);
    UPDATE billy.bulk_jobs SET
        state = CASE WHEN dry_run OR failed = 0 OR coalesce((options ->> 'continue_on_error')::boolean, false)
                     THEN 'done' ELSE 'failed' END,
        started_at = coalesce(started_at, now()), finished_at = now()
    WHERE id = job AND state IN ('queued', 'running');
END;
COMMENT ON FUNCTION billy._bulk_finish(bigint) IS 'Ends an import whose rows were all sent (or a dry run). Internal.';

CREATE FUNCTION billy.bulk_job_status(job_id bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j billy.bulk_jobs;
    pending integer;
    checked integer;
    sent integer;
    secs numeric;
    rate numeric;
BEGIN
    SELECT * INTO j FROM billy.bulk_jobs b WHERE b.id = bulk_job_status.job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no import job %', job_id USING ERRCODE = '42704',
            HINT = 'SELECT id, state FROM billy.bulk_jobs lists them (they are kept 30 days).';
    END IF;
    SELECT count(*) FILTER (WHERE i.state IN ('pending', 'sending')), count(*) FILTER (WHERE i.state = 'checked')
    INTO pending, checked FROM billy.bulk_job_items i WHERE i.job_id = j.id;
    sent := j.done + j.failed;
    secs := extract(epoch FROM coalesce(j.finished_at, now()) - j.started_at);
    rate := CASE WHEN secs > 0 AND sent > 0 THEN round(sent / secs, 2) END;
    RETURN jsonb_build_object(
        'id', j.id, 'organization_id', j.organization_id, 'resource', j.resource, 'state', j.state,
        'dry_run', j.dry_run, 'total', j.total, 'done', j.done, 'failed', j.failed, 'invalid', j.invalid,
        'skipped', j.skipped, 'pending', pending, 'created', j.created, 'updated', j.updated,
        'would_create', CASE WHEN j.dry_run THEN (SELECT count(*) FROM billy.bulk_job_items i WHERE i.job_id = j.id AND i.state = 'checked' AND i.action = 'create') END,
        'would_update', CASE WHEN j.dry_run THEN (SELECT count(*) FROM billy.bulk_job_items i WHERE i.job_id = j.id AND i.state = 'checked' AND i.action = 'update') END,
        'rate_per_s', rate,
        'eta_s', CASE WHEN j.state IN ('queued', 'running') AND rate > 0 THEN ceil(pending / rate) END,
        'started_at', j.started_at, 'finished_at', j.finished_at, 'note', j.note,
        'cancel_requested', j.cancel_requested,
        'problems', (SELECT coalesce(jsonb_agg(jsonb_build_object('line', x.line, 'state', x.state, 'error', x.error) ORDER BY x.line), '[]')
                     FROM (SELECT * FROM billy.bulk_job_items i WHERE i.job_id = j.id AND i.state IN ('invalid', 'failed')
                           ORDER BY i.line LIMIT 20) x));
END
$$;
COMMENT ON FUNCTION billy.bulk_job_status(bigint) IS
'An import''s progress, read fresh at each call (VOLATILE: a job created in the same statement is seen): state, total rows, done, failed (refused by Billy), invalid (refused by the checks), skipped (duplicates), pending, created, updated (dry runs: would_create, would_update), rate_per_s, eta_s (seconds left at that rate), times, why it stopped (note), and the first 20 problems with their lines. billy.bulk_job_items has every row.';

CREATE FUNCTION billy.cancel_bulk_job(job_id bigint) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM billy._bulk_cancel(job_id);
    RETURN billy.bulk_job_status(job_id);
END
$$;
COMMENT ON FUNCTION billy.cancel_bulk_job(bigint) IS
'Cancels an import: a queued one at once, a running one before its next row (within about a second). Rows already sent stay done (billy.bulk_job_items says which, with their record ids); the rest are marked cancelled. Returns billy.bulk_job_status.';

CREATE FUNCTION billy._bulk_cancel(job bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st text;
BEGIN
    SELECT state INTO st FROM billy.bulk_jobs WHERE id = job FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no import job %', job USING ERRCODE = '42704';
    END IF;
    UPDATE billy.bulk_jobs SET cancel_requested = true WHERE id = job;
    IF st = 'queued' THEN
        PERFORM billy._bulk_stop(job, 'cancelled');
    END IF;
END
$$;
COMMENT ON FUNCTION billy._bulk_cancel(bigint) IS 'Asks an import to stop (as the extension owner). Internal.';

CREATE FUNCTION billy._forget_bulk_jobs() RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH d AS (DELETE FROM billy.bulk_jobs WHERE finished_at < now() - interval '30 days' RETURNING 1)
    SELECT count(*)::integer FROM d;
END;
COMMENT ON FUNCTION billy._forget_bulk_jobs() IS 'Deletes imports (and their rows) finished more than 30 days ago; the worker calls it. Internal.';

------------------------------------------------------------------------------
-- Export
------------------------------------------------------------------------------

CREATE FUNCTION billy._csv_quote(v text, delim text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN strpos(v, delim) > 0 OR strpos(v, '"') > 0 OR strpos(v, E'\n') > 0 OR strpos(v, E'\r') > 0
                 OR v ~ '^\s|\s$' THEN '"' || replace(v, '"', '""') || '"'
            ELSE v END;
COMMENT ON FUNCTION billy._csv_quote(text, text) IS 'One CSV field, quoted as RFC 4180 asks. Internal.';

-- Formula cells: a text cell that begins with =, +, -, @, a tab or a
-- carriage return gets a leading apostrophe, so a spreadsheet shows it as
-- text instead of running it (a customer named =HYPERLINK(...) in Billy must
-- not run on the accountant's machine).  Every text cell of every export
-- comes here; numbers (billy._num) and dates do not, so a negative amount
-- stays a number.  The import reader drops the apostrophe again (csv.c).
CREATE FUNCTION billy._csv_field(v text, delim text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN v IS NULL THEN ''
            WHEN left(v, 1) IN ('=', '+', '-', '@', E'\t', E'\r') THEN billy._csv_quote('''' || v, delim)
            ELSE billy._csv_quote(v, delim) END;
COMMENT ON FUNCTION billy._csv_field(text, text) IS 'One CSV text cell: with a leading apostrophe when it begins with =, +, -, @, a tab or a carriage return (a spreadsheet shows it as text instead of running it as a formula), quoted as RFC 4180 asks. Internal.';

-- The export's filters and options, declared once as JSON Schemas: the
-- functions check what they are given against them, and the MCP tool
-- export_invoices_csv advertises them (90-mcp.sql), so the two cannot drift.
CREATE FUNCTION billy._export_invoices_filters() RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN $j${"type": "object", "additionalProperties": false,
  "description": "Which invoices: from and to (entry dates), state, type, contact_id, is_paid, currency.",
  "properties": {
    "from": {"type": "string", "format": "date", "description": "The first entry date (YYYY-MM-DD)."},
    "to": {"type": "string", "format": "date", "description": "The last entry date (YYYY-MM-DD)."},
    "state": {"type": "string", "enum": ["draft", "approved", "voided"]},
    "type": {"type": "string", "enum": ["invoice", "creditNote"]},
    "contact_id": {"type": "string", "minLength": 1, "maxLength": 100, "description": "The customer's Billy id."},
    "is_paid": {"type": "boolean"},
    "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "A currency code, e.g. DKK or EUR."}}}$j$::jsonb;
COMMENT ON FUNCTION billy._export_invoices_filters() IS
'The JSON Schema of billy.export_invoices''s filters: what the function accepts and what the MCP tool export_invoices_csv advertises. Internal.';

CREATE FUNCTION billy._csv_options_schema() RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN $j${"type": "object", "additionalProperties": false,
  "description": "How to write the CSV: {\"format\": \"danish\"} for Excel in Denmark (; separated, decimal comma, a byte order mark, Danish column names), or delimiter, decimal, header, bom, newline, language.",
  "properties": {
    "format": {"type": "string", "enum": ["standard", "danish"]},
    "delimiter": {"type": "string", "enum": [",", ";", "\t"]},
    "decimal": {"type": "string", "enum": [".", ","]},
    "header": {"type": "boolean", "description": "A header line first (default true)."},
    "bom": {"type": "boolean", "description": "A UTF-8 byte order mark first (default false; true with format danish)."},
    "newline": {"type": "string", "enum": ["crlf", "lf"]},
    "language": {"type": "string", "enum": ["en", "da"], "description": "The column names' language."}}}$j$::jsonb;
COMMENT ON FUNCTION billy._csv_options_schema() IS
'The JSON Schema of the CSV exports'' options: what billy._csv_options accepts and what the MCP tool export_invoices_csv advertises. Internal.';

CREATE FUNCTION billy._check_args(what text, given jsonb, schema jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    problem text := billy._mcp_validate(schema, given);
    names text;
BEGIN
    IF problem IS NOT NULL THEN
        SELECT string_agg(k, ', ' ORDER BY n) INTO names
        FROM jsonb_object_keys(schema -> 'properties') WITH ORDINALITY AS x(k, n);
        RAISE EXCEPTION '%: %', what, problem USING ERRCODE = '22023',
            HINT = format('%s: %s.', initcap(what), names);
    END IF;
END
$$;
COMMENT ON FUNCTION billy._check_args(text, jsonb, jsonb) IS
'Raises 22023 naming what is wrong when a JSON object of filters or options does not conform to its schema. Internal.';

CREATE FUNCTION billy._csv_options(options jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o jsonb := coalesce(options, '{}');
BEGIN
    IF jsonb_typeof(o) <> 'object' THEN
        RAISE EXCEPTION 'options must be a JSON object' USING ERRCODE = '22023';
    END IF;
    PERFORM billy._check_args('options', o, billy._csv_options_schema());
    IF o ->> 'format' = 'danish' THEN
        o := '{"delimiter": ";", "decimal": ",", "bom": true, "language": "da"}'::jsonb || (o - 'format');
    ELSIF o ? 'format' AND o ->> 'format' <> 'standard' THEN
        RAISE EXCEPTION 'options.format must be standard or danish' USING ERRCODE = '22023';
    END IF;
    IF coalesce(o ->> 'delimiter', ',') NOT IN (',', ';', E'\t') THEN
        RAISE EXCEPTION 'options.delimiter must be ",", ";" or a tab' USING ERRCODE = '22023';
    END IF;
    IF coalesce(o ->> 'decimal', '.') NOT IN (',', '.') THEN
        RAISE EXCEPTION 'options.decimal must be "," or "."' USING ERRCODE = '22023';
    END IF;
    IF coalesce(o ->> 'delimiter', ',') = ',' AND o ->> 'decimal' = ',' THEN
        RAISE EXCEPTION 'a decimal comma needs another delimiter' USING ERRCODE = '22023',
            HINT = 'Use {"delimiter": ";", "decimal": ","} or {"format": "danish"}.';
    END IF;
    RETURN jsonb_build_object('delimiter', coalesce(o ->> 'delimiter', ','), 'decimal', coalesce(o ->> 'decimal', '.'),
        'header', coalesce((o ->> 'header')::boolean, true), 'bom', coalesce((o ->> 'bom')::boolean, false),
        'newline', CASE coalesce(o ->> 'newline', 'crlf') WHEN 'lf' THEN E'\n' WHEN 'crlf' THEN E'\r\n'
                   ELSE billy._bad_option('newline', o ->> 'newline') END,
        'language', coalesce(o ->> 'language', 'en'));
END
$$;
COMMENT ON FUNCTION billy._csv_options(jsonb) IS 'Checks and completes export options. Internal.';

CREATE FUNCTION billy._bad_option(name text, value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'options.% cannot be "%"', name, value USING ERRCODE = '22023';
END
$$;
COMMENT ON FUNCTION billy._bad_option(text, text) IS 'Raises a bad option. Internal.';

CREATE FUNCTION billy._num(v numeric, dmark text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN dmark = ',' THEN replace(v::text, '.', ',') ELSE v::text END;
COMMENT ON FUNCTION billy._num(numeric, text) IS 'A number as CSV text with the chosen decimal mark. Internal.';

CREATE FUNCTION billy.export_invoices(org text, filters jsonb DEFAULT '{}')
RETURNS TABLE (invoice_id text, invoice_no text, type text, state text, sent_state text, entry_date date,
               due_date date, contact_id text, contact_name text, contact_no text, registration_no text,
               currency text, exchange_rate numeric, amount numeric, tax numeric, gross_amount numeric,
               balance numeric, is_paid boolean, external_id text, line_description text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target text := billy._resolve_org(org);
    f jsonb := coalesce(filters, '{}');
BEGIN
    IF jsonb_typeof(f) <> 'object' THEN
        RAISE EXCEPTION 'filters must be a JSON object' USING ERRCODE = '22023';
    END IF;
    IF f ? 'from' AND NOT billy._is_date(f ->> 'from') THEN
        RAISE EXCEPTION 'filters.from "%" is not a date (YYYY-MM-DD)', f ->> 'from' USING ERRCODE = '22007';
    END IF;
    IF f ? 'to' AND NOT billy._is_date(f ->> 'to') THEN
        RAISE EXCEPTION 'filters.to "%" is not a date (YYYY-MM-DD)', f ->> 'to' USING ERRCODE = '22007';
    END IF;
    -- unknown filters, a state or type that does not exist: an error, never an empty export
    PERFORM billy._check_args('filters', f, billy._export_invoices_filters());
    RETURN QUERY
    SELECT i.id, i.invoice_no, i.type, i.state, i.sent_state, i.entry_date, i.due_date, i.contact_id, c.name,
           c.contact_no, c.registration_no, i.currency_id, i.exchange_rate, i.amount, i.tax, i.gross_amount,
           i.balance, i.is_paid, i.external_id, i.line_description
    FROM billy.invoices i
    LEFT JOIN billy.contacts c ON c.organization_id = i.organization_id AND c.id = i.contact_id
    WHERE i.organization_id = target AND i.deleted_at IS NULL
      AND (NOT f ? 'from' OR i.entry_date >= (f ->> 'from')::date)
      AND (NOT f ? 'to' OR i.entry_date <= (f ->> 'to')::date)
      AND (NOT f ? 'state' OR i.state = f ->> 'state')
      AND (NOT f ? 'type' OR i.type = f ->> 'type')
      AND (NOT f ? 'contact_id' OR i.contact_id = f ->> 'contact_id')
      AND (NOT f ? 'is_paid' OR i.is_paid = (f ->> 'is_paid')::boolean)
      AND (NOT f ? 'currency' OR i.currency_id = f ->> 'currency')
    ORDER BY i.entry_date, i.invoice_no NULLS LAST, i.id;
END
$$;
COMMENT ON FUNCTION billy.export_invoices(text, jsonb) IS
'The mirror''s invoices of an organization as rows for COPY: COPY (SELECT * FROM billy.export_invoices(''org'', ''{"from": "2026-01-01"}'')) TO STDOUT WITH (FORMAT csv, HEADER). filters: from, to (entry dates), state (draft, approved or voided), type (invoice or creditNote), contact_id, is_paid, currency; an unknown filter or value is an error. Amounts are exact numerics in the invoice''s currency (amount net, tax, gross_amount, balance unpaid). Values are as stored: a text beginning with = is not neutralized here (billy.export_invoices_csv does that for spreadsheets).';

CREATE FUNCTION billy.export_invoices_csv(org text, filters jsonb DEFAULT '{}', options jsonb DEFAULT '{}') RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o jsonb := billy._csv_options(options);
    d text := o ->> 'delimiter';
    dmark text := o ->> 'decimal';
    nl text := o ->> 'newline';
    head text[] := CASE WHEN o ->> 'language' = 'da' THEN
        ARRAY['Fakturanr', 'Type', 'Status', 'Sendt', 'Dato', 'Forfaldsdato', 'Kunde-id', 'Kunde', 'Kundenr', 'CVR',
              'Valuta', 'Kurs', 'Beløb ekskl. moms', 'Moms', 'Beløb inkl. moms', 'Restbeløb', 'Betalt', 'Ekstern id', 'Tekst']
        ELSE ARRAY['invoiceNo', 'type', 'state', 'sentState', 'entryDate', 'dueDate', 'contactId', 'contactName', 'contactNo',
                   'registrationNo', 'currency', 'exchangeRate', 'amount', 'tax', 'grossAmount', 'balance', 'isPaid',
                   'externalId', 'lineDescription'] END;
    body text;
BEGIN
    SELECT string_agg(concat_ws(d, billy._csv_field(e.invoice_no, d), billy._csv_field(e.type, d), billy._csv_field(e.state, d),
                                billy._csv_field(e.sent_state, d), e.entry_date::text,
                                e.due_date::text, billy._csv_field(e.contact_id, d), billy._csv_field(e.contact_name, d),
                                billy._csv_field(e.contact_no, d), billy._csv_field(e.registration_no, d), billy._csv_field(e.currency, d),
                                billy._num(e.exchange_rate, dmark), billy._num(e.amount, dmark), billy._num(e.tax, dmark),
                                billy._num(e.gross_amount, dmark), billy._num(e.balance, dmark),
                                CASE WHEN e.is_paid THEN 'true' ELSE 'false' END,
                                billy._csv_field(e.external_id, d), billy._csv_field(e.line_description, d)) || nl, '')
    INTO body FROM billy.export_invoices(org, filters) e;
    RETURN CASE WHEN (o ->> 'bom')::boolean THEN E'\uFEFF' ELSE '' END
        || CASE WHEN (o ->> 'header')::boolean THEN
                (SELECT string_agg(billy._csv_field(h, d), d ORDER BY n) FROM unnest(head) WITH ORDINALITY u(h, n)) || nl
           ELSE '' END
        || coalesce(body, '');
END
$$;
COMMENT ON FUNCTION billy.export_invoices_csv(text, jsonb, jsonb) IS
'The mirror''s invoices of an organization as CSV text (RFC 4180, CRLF line ends, a header line), filtered as billy.export_invoices. options: {"format": "danish"} for Excel in Denmark (";" delimiter, decimal comma, byte order mark, Danish column names), or delimiter, decimal, header, bom, newline ("crlf" or "lf"), language ("en" or "da"). A text cell beginning with =, +, -, @, a tab or a carriage return gets a leading apostrophe, so a spreadsheet does not run it as a formula; numbers, negative amounts included, and dates are written as they are. For COPY, use billy.export_invoices.';

CREATE FUNCTION billy.export_contacts_csv(org text, filters jsonb DEFAULT '{}', options jsonb DEFAULT '{}') RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target text := billy._resolve_org(org);
    o jsonb := billy._csv_options(options);
    f jsonb := coalesce(filters, '{}');
    d text := o ->> 'delimiter';
    nl text := o ->> 'newline';
    body text;
    bad text;
BEGIN
    SELECT string_agg(k, ', ') INTO bad FROM jsonb_object_keys(f) k WHERE k NOT IN ('is_customer', 'is_supplier', 'include_archived');
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'unknown filter(s): %', bad USING ERRCODE = '22023', HINT = 'Filters: is_customer, is_supplier, include_archived.';
    END IF;
    SELECT string_agg(concat_ws(d, billy._csv_field(c.name, d), billy._csv_field(c.type, d),
                                billy._csv_field(c.country_id, d), billy._csv_field(c.street, d),
                                billy._csv_field(c.zipcode, d), billy._csv_field(c.city, d),
                                billy._csv_field(c.registration_no, d), billy._csv_field(c.ean, d),
                                billy._csv_field(c.phone, d),
                                billy._csv_field((SELECT p.email FROM billy.contact_persons p WHERE p.organization_id = c.organization_id
                                                  AND p.contact_id = c.id ORDER BY p.is_primary DESC NULLS LAST, p.id LIMIT 1), d),
                                billy._csv_field(c.contact_no, d),
                                CASE WHEN c.is_customer THEN 'true' ELSE 'false' END,
                                CASE WHEN c.is_supplier THEN 'true' ELSE 'false' END,
                                c.payment_terms_days::text, billy._csv_field(c.currency_id, d),
                                billy._csv_field(c.locale_id, d)) || nl, ''
                      ORDER BY c.created_time, c.id)
    INTO body FROM billy.contacts c
    WHERE c.organization_id = target AND c.deleted_at IS NULL
      AND (coalesce((f ->> 'include_archived')::boolean, false) OR c.is_archived IS NOT TRUE)
      AND (NOT f ? 'is_customer' OR c.is_customer = (f ->> 'is_customer')::boolean)
      AND (NOT f ? 'is_supplier' OR c.is_supplier = (f ->> 'is_supplier')::boolean);
    RETURN CASE WHEN (o ->> 'bom')::boolean THEN E'\uFEFF' ELSE '' END
        || CASE WHEN (o ->> 'header')::boolean THEN
                array_to_string(CASE WHEN o ->> 'language' = 'da' THEN
                    ARRAY['navn', 'type', 'land', 'adresse', 'postnr', 'by', 'cvr', 'ean', 'telefon', 'email', 'kundenr',
                          'kunde', 'leverandør', 'betalingsfrist', 'valuta', 'sprog']
                    ELSE ARRAY['name', 'type', 'countryId', 'street', 'zipcode', 'city', 'registrationNo', 'ean', 'phone',
                               'email', 'contactNo', 'isCustomer', 'isSupplier', 'paymentTermsDays', 'currencyId', 'localeId'] END, d) || nl
           ELSE '' END
        || coalesce(body, '');
END
$$;
COMMENT ON FUNCTION billy.export_contacts_csv(text, jsonb, jsonb) IS
'The mirror''s contacts of an organization as CSV text whose columns billy.import_csv reads back (name, type, country, street, zipcode, city, CVR, EAN, phone, the primary person''s e-mail, contactNo, customer/supplier, payment terms, currency, locale). filters: is_customer, is_supplier, include_archived (default false). options as billy.export_invoices_csv; text cells that a spreadsheet would run as a formula get a leading apostrophe, which billy.import_csv drops again.';

GRANT SELECT ON billy.bulk_jobs, billy.bulk_job_items TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.parse_csv(text, jsonb), billy.check_csv(text, text, jsonb),
    billy.bulk_job_status(bigint), billy.export_invoices(text, jsonb),
    billy.export_invoices_csv(text, jsonb, jsonb), billy.export_contacts_csv(text, jsonb, jsonb),
    billy._csv_field(text, text), billy._csv_quote(text, text), billy._csv_options(jsonb),
    billy._export_invoices_filters(), billy._csv_options_schema(), billy._check_args(text, jsonb, jsonb), billy._bad_option(text, text),
    billy._num(numeric, text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.import_csv(text, text, text, jsonb), billy.cancel_bulk_job(bigint),
    billy._bulk_create(text, text, jsonb, boolean, text, name), billy._bulk_cancel(bigint) TO billy_admin;

REVOKE ALL ON ALL TABLES IN SCHEMA billy FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA billy FROM PUBLIC;
