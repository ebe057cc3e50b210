------------------------------------------------------------------------------
-- Safe writes to Billy: local validation, gating, preview and commit with an
-- operation hash, and an outbox that reconciles unknown outcomes.
--
--   billy.preview_write(operation, args)   validate, say what would be sent,
--                                          return a one-time operation hash
--   billy.commit_write(hash)               send it, if the mirror state it was
--                                          planned on is unchanged and the
--                                          hash unused (C: src/writes.c)
--   billy.create_invoice(...) and friends  preview + commit in one call
--
-- An operation's plan (billy._plan_write) is a JSON object: the request
-- (method, path, body), the records it touches with their content hashes
-- (the fingerprint the hash binds), how to find its result upstream when the
-- outcome is unknown (lookup), and a summary.  billy.write_ops is the
-- outbox: pending -> sent -> done | failed | unknown.
------------------------------------------------------------------------------

CREATE TABLE billy.write_previews (
    hash            text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    operation       text NOT NULL,
    args            jsonb NOT NULL,
    plan            jsonb NOT NULL,
    fingerprint     text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by      name NOT NULL DEFAULT CURRENT_USER,
    expires_at      timestamptz NOT NULL DEFAULT pg_catalog.now() OPERATOR(pg_catalog.+) '1 hour'::pg_catalog.interval
);
COMMENT ON TABLE billy.write_previews IS
'Previews made by billy.preview_write: the operation, its arguments, the plan (what would be sent) and the fingerprint of the mirror state it was planned on. The hash is the one-time key billy.commit_write takes; it expires after an hour. Expired previews are forgotten by the worker.';

CREATE TABLE billy.write_ops (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    operation       text NOT NULL,
    preview_hash    text UNIQUE,
    bulk_job_id     bigint,
    bulk_line       integer,
    args            jsonb NOT NULL,
    request         jsonb NOT NULL,
    lookup          jsonb,
    summary         text,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'sent', 'done', 'failed', 'unknown'])),
    attempts        integer NOT NULL DEFAULT 0,
    requested_by    name NOT NULL,
    session_role    name NOT NULL,
    client          text,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    sent_at         timestamptz,
    finished_at     timestamptz,
    http_status     integer,
    billy_error_code text,
    error           text,
    error_detail    text,
    reconciliation  text,
    needs_decision  boolean NOT NULL DEFAULT false,
    record_id       text,
    result          jsonb
);
CREATE INDEX write_ops_open ON billy.write_ops (state) WHERE state OPERATOR(pg_catalog.<>) ALL (ARRAY['done', 'failed']);
CREATE INDEX write_ops_org ON billy.write_ops (organization_id, created_at);
CREATE INDEX write_ops_bulk ON billy.write_ops (bulk_job_id, bulk_line) WHERE bulk_job_id IS NOT NULL;
COMMENT ON TABLE billy.write_ops IS
'The outbox: one row per write sent to Billy (billy.commit_write, imports). state: pending (recorded, not sent), sent (on its way; committed before the request leaves), done (Billy answered with success; its records are in the mirror), failed (Billy refused, e.g. 422, or nothing was sent), unknown (a timeout, a broken connection or a sender that died after sending: Billy may or may not have done it; the worker looks the record up no sooner than billy.reconcile_delay_ms after sent_at, resends only when Billy does not have it, and looks again after a resend). needs_decision: billy gave up finding out (the result cannot be looked up, or several records in Billy match it, e.g. two invoices with its externalId): a person checks in Billy and records the outcome with billy.resolve_write. While a write is unknown, a new preview of the same write is refused. reconciliation says what the look-ups found. record_id is the record written; result holds it as Billy returned it.';

DO $rls$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['write_previews', 'write_ops']
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE billy.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY visible ON billy.%I FOR SELECT USING ((SELECT billy._sees_all()) '
            'OR organization_id OPERATOR(pg_catalog.=) ANY ((SELECT billy._visible_orgs())::pg_catalog.text[]))', t);
    END LOOP;
END
$rls$;

------------------------------------------------------------------------------
-- Gating
------------------------------------------------------------------------------

CREATE FUNCTION billy._require_writable(org text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    o billy.organizations;
BEGIN
    IF coalesce(current_setting('billy.enable_writes', true), 'off') NOT IN ('on', 'true', '1', 'yes') THEN
        RAISE EXCEPTION 'writes to Billy are disabled'
            USING ERRCODE = '55000',
                  DETAIL = 'billy.enable_writes is off.',
                  HINT = 'A superuser turns writes on with ALTER SYSTEM SET billy.enable_writes = on and SELECT pg_reload_conf(), or SET billy.enable_writes = on in one session.';
    END IF;
    IF NOT pg_has_role(CURRENT_USER, 'billy_admin', 'MEMBER') THEN
        RAISE EXCEPTION 'role "%" may not write to Billy', CURRENT_USER
            USING ERRCODE = '42501', HINT = 'Writes need the billy_admin role.';
    END IF;
    SELECT * INTO o FROM billy.organizations WHERE id = org;
    IF NOT FOUND OR o.disconnected_at IS NOT NULL THEN
        RAISE EXCEPTION 'organization "%" is not connected', org
            USING ERRCODE = '55000', HINT = 'Call billy.connect() with an access token for it.';
    END IF;
    IF o.read_only THEN
        RAISE EXCEPTION 'organization "%" (%) is read-only in billy', o.name, org
            USING ERRCODE = '25006', HINT = 'billy_admin can allow writes with SELECT billy.set_read_only(org, false).';
    END IF;
    IF o.is_locked OR o.is_terminated THEN
        RAISE EXCEPTION 'Billy has % organization "%"', CASE WHEN o.is_locked THEN 'locked' ELSE 'terminated' END, o.name
            USING ERRCODE = '55000', HINT = 'Billy refuses writes to it; see the organization in Billy.';
    END IF;
END
$$;
COMMENT ON FUNCTION billy._require_writable(text) IS
'Raises unless a write to the organization is allowed: billy.enable_writes on, the role a member of billy_admin, the organization connected, not read-only, not locked or terminated in Billy. Internal.';

CREATE FUNCTION billy.set_read_only(org text, read_only boolean DEFAULT true) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target text := billy._resolve_org(org);
    before boolean;
BEGIN
    IF read_only IS NULL THEN
        RAISE EXCEPTION 'read_only must not be null' USING ERRCODE = '22004';
    END IF;
    SELECT o.read_only INTO before FROM billy.organizations o WHERE o.id = target;
    PERFORM billy._set_read_only(target, read_only);
    PERFORM billy.audit(CASE WHEN read_only THEN 'set_read_only' ELSE 'set_writable' END, target,
                        'organizations/' || target, jsonb_build_object('read_only', read_only), 'ok');
    RETURN before;
END
$$;
COMMENT ON FUNCTION billy.set_read_only(text, boolean) IS
'Marks an organization (id or name) read-only in billy (default) or writable again: billy refuses every write to a read-only organization, imports included. Recorded in the audit trail. Returns the previous setting.';

CREATE FUNCTION billy._set_read_only(org text, flag boolean) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    UPDATE billy.organizations SET read_only = flag WHERE id = org;
END;
COMMENT ON FUNCTION billy._set_read_only(text, boolean) IS 'Sets organizations.read_only (as the extension owner). Internal.';

------------------------------------------------------------------------------
-- Local validation: each operation's arguments are checked against field
-- rules and the mirror before anything is sent; every problem names its
-- field (invoice.lines[1].productId).
------------------------------------------------------------------------------

-- _check_fields checks obj against a spec {field: {type, required, max, values}}:
-- types text, id, date, int, numeric, money, rate, bool, enum, currency,
-- country, email, array, object.  Unknown fields are problems too.
CREATE FUNCTION billy._check_fields(obj jsonb, path text, spec jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    problems jsonb := '[]';
    k text;
    v jsonb;
    s jsonb;
    t text;
    txt text;
    known text;
    suggestion text;
BEGIN
    IF obj IS NULL OR jsonb_typeof(obj) <> 'object' THEN
        RETURN jsonb_build_array(jsonb_build_object('field', path, 'message', 'must be a JSON object'));
    END IF;
    FOR k, s IN SELECT * FROM jsonb_each(spec) LOOP
        IF (s ->> 'required')::boolean AND (NOT obj ? k OR obj -> k = 'null' OR obj ->> k = '') THEN
            problems := problems || jsonb_build_object('field', path || '.' || k, 'message', 'is required');
        END IF;
    END LOOP;
    FOR k, v IN SELECT * FROM jsonb_each(obj) LOOP
        s := spec -> k;
        IF s IS NULL THEN
            known := (SELECT string_agg(x, ', ' ORDER BY x) FROM jsonb_object_keys(spec) x);
            suggestion := (SELECT x FROM jsonb_object_keys(spec) x WHERE lower(x) = lower(k) LIMIT 1);
            problems := problems || jsonb_build_object('field', path || '.' || k, 'message',
                'is not a field billy sends' || CASE WHEN suggestion IS NOT NULL THEN format(' (did you mean %s?)', suggestion)
                                                     ELSE format(' (known: %s)', known) END);
            CONTINUE;
        END IF;
        IF v = 'null' THEN
            CONTINUE;
        END IF;
        t := s ->> 'type';
        txt := CASE WHEN jsonb_typeof(v) IN ('string', 'number', 'boolean') THEN v #>> '{}' END;
        IF t IN ('array', 'object') THEN
            IF jsonb_typeof(v) <> t THEN
                problems := problems || jsonb_build_object('field', path || '.' || k, 'message', 'must be a JSON ' || t);
            END IF;
            CONTINUE;
        END IF;
        IF txt IS NULL THEN
            problems := problems || jsonb_build_object('field', path || '.' || k, 'message', 'must be a single value, not ' || jsonb_typeof(v));
            CONTINUE;
        END IF;
        IF t IN ('text', 'id', 'email') AND jsonb_typeof(v) = 'string' AND length(txt) > coalesce((s ->> 'max')::int, 1000) THEN
            problems := problems || jsonb_build_object('field', path || '.' || k, 'message',
                format('is longer than %s characters', coalesce((s ->> 'max')::int, 1000)));
        ELSIF t = 'id' AND (txt = '' OR txt !~ '^[A-Za-z0-9_-]{1,64}$') THEN
            problems := problems || jsonb_build_object('field', path || '.' || k, 'message', format('"%s" is not a Billy id', txt));
        ELSIF t = 'date' AND (txt !~ '^\d{4}-\d{2}-\d{2}$' OR NOT billy._is_date(txt)) THEN
            problems := problems || jsonb_build_object('field', path || '.' || k, 'message', format('"%s" is not a date (YYYY-MM-DD)', txt));
        ELSIF t = 'int' AND (txt !~ '^-?\d{1,9}$' OR txt::int < coalesce((s ->> 'min')::int, -999999999)
                             OR txt::int > coalesce((s ->> 'max')::int, 999999999)) THEN
            problems := problems || jsonb_build_object('field', path || '.' || k, 'message',
                format('"%s" is not a whole number from %s to %s', txt, coalesce(s ->> 'min', '-999999999'), coalesce(s ->> 'max', '999999999')));
        ELSIF t IN ('numeric', 'money', 'rate') AND txt !~ '^-?\d{1,15}(\.\d+)?$' THEN
            problems := problems || jsonb_build_object('field', path || '.' || k, 'message', format('"%s" is not a number', txt));
        ELSIF t = 'money' AND txt::numeric <> round(txt::numeric, 2) THEN
            problems := problems || jsonb_build_object('field', path || '.' || k, 'message', format('%s has more than 2 decimals', txt));
        ELSIF t IN ('numeric', 'money', 'rate') AND s ? 'min' AND txt::numeric < (s ->> 'min')::numeric THEN
            problems := problems || jsonb_build_object('field', path || '.' || k, 'message', format('%s is less than %s', txt, s ->> 'min'));
        ELSIF t = 'bool' AND jsonb_typeof(v) <> 'boolean' THEN
            problems := problems || jsonb_build_object('field', path || '.' || k, 'message', 'must be true or false');
        ELSIF t = 'enum' AND NOT (s -> 'values') ? txt THEN
            problems := problems || jsonb_build_object('field', path || '.' || k, 'message',
                format('"%s" is not one of %s', txt, (SELECT string_agg(x, ', ') FROM jsonb_array_elements_text(s -> 'values') x)));
        ELSIF t = 'currency' AND txt !~ '^[A-Z]{3}$' THEN
            problems := problems || jsonb_build_object('field', path || '.' || k, 'message', format('"%s" is not a currency code (DKK, EUR...)', txt));
        ELSIF t = 'country' AND txt !~ '^[A-Z]{2}$' THEN
            problems := problems || jsonb_build_object('field', path || '.' || k, 'message', format('"%s" is not a two-letter country code (DK, SE...)', txt));
        ELSIF t = 'email' AND txt !~ '^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>.]+$' THEN
            problems := problems || jsonb_build_object('field', path || '.' || k, 'message', format('"%s" is not an e-mail address', txt));
        END IF;
    END LOOP;
    RETURN problems;
END
$$;
COMMENT ON FUNCTION billy._check_fields(jsonb, text, jsonb) IS
'Checks a JSON object against a field spec and returns the problems, each {"field", "message"}; unknown fields are problems. Internal.';

CREATE FUNCTION billy._is_date(t text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN t::date BETWEEN '1900-01-01' AND '2199-12-31';
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END
$$;
COMMENT ON FUNCTION billy._is_date(text) IS 'Whether text is a real date between 1900 and 2199. Internal.';

CREATE FUNCTION billy._cvr_valid(cvr text) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN cvr ~ '^[1-9]\d{7}$' AND (
    SELECT sum(substr(cvr, i, 1)::int * (ARRAY[2, 7, 6, 5, 4, 3, 2, 1])[i]) % 11 = 0
    FROM generate_series(1, 8) i);
COMMENT ON FUNCTION billy._cvr_valid(text) IS 'Whether text is a Danish CVR number: 8 digits passing the modulus 11 check. Internal.';

-- _problem is one problem object
CREATE FUNCTION billy._problem(field text, message text) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN jsonb_build_array(jsonb_build_object('field', field, 'message', message));
COMMENT ON FUNCTION billy._problem(text, text) IS 'One validation problem, as a one-element array. Internal.';

-- _touch is one record a plan depends on, with its mirror content hash
CREATE FUNCTION billy._touch(tbl text, org text, rid text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    h text;
BEGIN
    IF tbl = 'organizations' THEN
        SELECT md5(raw::text) || CASE WHEN read_only THEN ':ro' ELSE '' END INTO h FROM billy.organizations WHERE id = org;
    ELSE
        EXECUTE format('SELECT encode(content_hash, ''hex'') || CASE WHEN deleted_at IS NULL THEN '''' ELSE '':deleted'' END '
                       'FROM billy.%I WHERE organization_id = $1 AND id = $2', tbl)
            INTO h USING org, rid;
    END IF;
    RETURN jsonb_build_array(tbl, rid, h);
END
$$;
COMMENT ON FUNCTION billy._touch(text, text, text) IS 'A record a write depends on: [table, id, content hash in the mirror]. Internal.';

-- the records of a table that match a where clause (a JSON array of ids)
CREATE FUNCTION billy._ids(tbl text, org text, cond text, val text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result jsonb;
BEGIN
    EXECUTE format('SELECT coalesce(jsonb_agg(id ORDER BY id), ''[]'') FROM billy.%I WHERE organization_id = $1 AND %s', tbl, cond)
        INTO result USING org, val;
    RETURN result;
END
$$;
COMMENT ON FUNCTION billy._ids(text, text, text, text) IS 'Ids of mirror records matching a condition on $2. Internal.';

CREATE FUNCTION billy._live(tbl text, org text, rid text) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ok boolean;
BEGIN
    IF rid IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM billy.%I WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL)', tbl)
        INTO ok USING org, rid;
    RETURN ok;
END
$$;
COMMENT ON FUNCTION billy._live(text, text, text) IS 'Whether the mirror has a live record with this id. Internal.';

CREATE FUNCTION billy._missing(what text, org text, rid text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN format('no %s "%s" in the mirror of organization %s (sync it, or check the id)', what, rid, org);
COMMENT ON FUNCTION billy._missing(text, text, text) IS 'The message for a referenced record the mirror does not have. Internal.';

-- _plan_write validates an operation's arguments and plans its request
CREATE FUNCTION billy._plan_write(operation text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    org text;
    o billy.organizations;
    p jsonb := '[]';            -- problems
    touches jsonb := '[]';
    body jsonb;
    req jsonb;
    lookup jsonb;
    summary text;
    rec jsonb;
    rid text;
    x jsonb;
    i integer;
    cur text;
    ext text;
    inv billy.invoices;
    bil billy.bills;
    ct billy.contacts;
    price numeric;
    subj_kind text;
    subj_ids text[] := '{}';
    subj_cur text;
    open_balance numeric := 0;
    main_resource text;
    known_ops text[] := ARRAY['create_invoice', 'approve_invoice', 'send_invoice', 'delete_draft_invoice',
                              'create_contact', 'update_contact', 'create_product', 'update_product',
                              'create_bill', 'approve_bill', 'create_bank_payment', 'update_organization'];
    contact_spec jsonb := '{
        "name": {"type": "text", "max": 255}, "type": {"type": "enum", "values": ["company", "person"]},
        "countryId": {"type": "country"}, "street": {"type": "text", "max": 255},
        "cityText": {"type": "text", "max": 255}, "zipcodeText": {"type": "text", "max": 32},
        "stateText": {"type": "text", "max": 255}, "contactNo": {"type": "text", "max": 64},
        "phone": {"type": "text", "max": 64}, "fax": {"type": "text", "max": 64},
        "registrationNo": {"type": "text", "max": 32}, "ean": {"type": "text", "max": 13},
        "localeId": {"type": "enum", "values": ["da_DK", "en_US", "de_DE", "fr_FR", "nl_NL"]},
        "currencyId": {"type": "currency"}, "isCustomer": {"type": "bool"}, "isSupplier": {"type": "bool"},
        "isArchived": {"type": "bool"}, "isSalesTaxExempt": {"type": "bool"},
        "paymentTermsMode": {"type": "enum", "values": ["net"]},
        "paymentTermsDays": {"type": "int", "min": 0, "max": 3650}, "contactPersons": {"type": "array"}}';
    product_spec jsonb := '{
        "name": {"type": "text", "max": 255}, "description": {"type": "text", "max": 1000},
        "productNo": {"type": "text", "max": 64}, "suppliersProductNo": {"type": "text", "max": 64},
        "accountId": {"type": "id"}, "salesTaxRulesetId": {"type": "id"}, "isArchived": {"type": "bool"},
        "prices": {"type": "array"}}';
BEGIN
    IF operation IS NULL OR NOT operation = ANY (known_ops) THEN
        RAISE EXCEPTION 'unknown write operation "%"', operation
            USING ERRCODE = '22023', HINT = 'Known operations: ' || array_to_string(known_ops, ', ') || '.';
    END IF;
    IF args IS NULL OR jsonb_typeof(args) <> 'object' THEN
        RAISE EXCEPTION 'args must be a JSON object' USING ERRCODE = '22023',
            HINT = 'For example {"org": "<organization>", "invoice": {...}}; billy.write_operations() lists each operation''s arguments.';
    END IF;
    org := billy._resolve_org(args ->> 'org');
    SELECT * INTO o FROM billy.organizations WHERE id = org;
    touches := touches || jsonb_build_array(billy._touch('organizations', org, org));

    IF operation = 'create_invoice' THEN
        main_resource := 'invoices';
        rec := args -> 'invoice';
        p := p || billy._check_fields(args - 'org', 'args', '{"invoice": {"type": "object", "required": true}}');
        p := p || billy._check_fields(rec, 'invoice', '{
            "contactId": {"type": "id", "required": true}, "entryDate": {"type": "date", "required": true},
            "currencyId": {"type": "currency"}, "exchangeRate": {"type": "rate", "min": 0},
            "paymentTermsMode": {"type": "enum", "values": ["net"]},
            "paymentTermsDays": {"type": "int", "min": 0, "max": 3650},
            "taxMode": {"type": "enum", "values": ["incl", "excl"]}, "invoiceNo": {"type": "text", "max": 64},
            "externalId": {"type": "text", "max": 255}, "orderNo": {"type": "text", "max": 255},
            "contactMessage": {"type": "text", "max": 5000}, "attContactPersonId": {"type": "id"},
            "type": {"type": "enum", "values": ["invoice", "creditNote"]}, "creditedInvoiceId": {"type": "id"},
            "state": {"type": "enum", "values": ["draft"]}, "lines": {"type": "array", "required": true}}');
        IF jsonb_typeof(rec) = 'object' THEN
            SELECT * INTO ct FROM billy.contacts WHERE organization_id = org AND id = rec ->> 'contactId' AND deleted_at IS NULL;
            IF rec ? 'contactId' AND NOT FOUND AND rec ->> 'contactId' ~ '^[A-Za-z0-9_-]{1,64}$' THEN
                p := p || billy._problem('invoice.contactId', billy._missing('contact', org, rec ->> 'contactId'));
            ELSIF FOUND THEN
                touches := touches || jsonb_build_array(billy._touch('contacts', org, ct.id));
            END IF;
            cur := coalesce(rec ->> 'currencyId', ct.currency_id, o.base_currency, 'DKK');
            IF rec ? 'invoiceNo' AND EXISTS (SELECT 1 FROM billy.invoices WHERE organization_id = org
                                             AND invoice_no = rec ->> 'invoiceNo' AND deleted_at IS NULL) THEN
                p := p || billy._problem('invoice.invoiceNo', format('%s is already the number of another invoice', rec ->> 'invoiceNo'));
            END IF;
            ext := coalesce(rec ->> 'externalId', 'billy-' || gen_random_uuid()::text);
            IF rec ? 'externalId' AND EXISTS (SELECT 1 FROM billy.invoices WHERE organization_id = org
                                              AND external_id = rec ->> 'externalId' AND deleted_at IS NULL) THEN
                p := p || billy._problem('invoice.externalId', format('"%s" is already the externalId of another invoice', rec ->> 'externalId'));
            END IF;
            IF rec ? 'creditedInvoiceId' AND NOT billy._live('invoices', org, rec ->> 'creditedInvoiceId') THEN
                p := p || billy._problem('invoice.creditedInvoiceId', billy._missing('invoice', org, rec ->> 'creditedInvoiceId'));
            END IF;
            IF rec ? 'attContactPersonId' AND NOT EXISTS (SELECT 1 FROM billy.contact_persons WHERE organization_id = org
                    AND id = rec ->> 'attContactPersonId' AND contact_id = rec ->> 'contactId') THEN
                p := p || billy._problem('invoice.attContactPersonId', 'is not a contact person of the invoice''s contact');
            END IF;
            body := (rec - 'lines') || jsonb_build_object('currencyId', cur, 'state', 'draft', 'externalId', ext);
            IF jsonb_typeof(rec -> 'lines') = 'array' THEN
                IF jsonb_array_length(rec -> 'lines') = 0 THEN
                    p := p || billy._problem('invoice.lines', 'needs at least one line');
                END IF;
                body := body || '{"lines": []}';
                FOR x, i IN SELECT e, n - 1 FROM jsonb_array_elements(rec -> 'lines') WITH ORDINALITY t(e, n) LOOP
                    p := p || billy._check_fields(x, format('invoice.lines[%s]', i), '{
                        "productId": {"type": "id", "required": true}, "description": {"type": "text", "max": 1000},
                        "quantity": {"type": "numeric"}, "unitPrice": {"type": "money"},
                        "discountMode": {"type": "enum", "values": ["cash", "percent"]},
                        "discountValue": {"type": "numeric", "min": 0}, "discountText": {"type": "text", "max": 255},
                        "priority": {"type": "int"}}');
                    IF jsonb_typeof(x) <> 'object' THEN
                        CONTINUE;
                    END IF;
                    IF x ? 'productId' AND NOT billy._live('products', org, x ->> 'productId') THEN
                        p := p || billy._problem(format('invoice.lines[%s].productId', i), billy._missing('product', org, x ->> 'productId'));
                    ELSIF x ? 'productId' THEN
                        touches := touches || jsonb_build_array(billy._touch('products', org, x ->> 'productId'));
                    END IF;
                    IF x ->> 'discountMode' = 'percent' AND (x ->> 'discountValue') ~ '^\d+(\.\d+)?$' AND (x ->> 'discountValue')::numeric > 100 THEN
                        p := p || billy._problem(format('invoice.lines[%s].discountValue', i), 'a percent discount is at most 100');
                    END IF;
                    IF x ? 'discountValue' AND NOT x ? 'discountMode' THEN
                        p := p || billy._problem(format('invoice.lines[%s].discountMode', i), 'is required with discountValue (cash or percent)');
                    END IF;
                    IF NOT x ? 'unitPrice' THEN
                        SELECT pp.unit_price INTO price FROM billy.product_prices pp
                        WHERE pp.organization_id = org AND pp.product_id = x ->> 'productId' AND pp.currency_id = cur;
                        IF price IS NULL AND x ? 'productId' THEN
                            p := p || billy._problem(format('invoice.lines[%s].unitPrice', i),
                                format('is required: product "%s" has no %s price', x ->> 'productId', cur));
                        END IF;
                        x := x || jsonb_build_object('unitPrice', price);
                    ELSE
                        x := jsonb_set(x, '{unitPrice}', to_jsonb((x ->> 'unitPrice')::numeric));
                    END IF;
                    IF x ? 'quantity' THEN
                        x := jsonb_set(x, '{quantity}', to_jsonb((x ->> 'quantity')::numeric));
                    END IF;
                    body := jsonb_set(body, '{lines}', (body -> 'lines') || jsonb_build_array(x));
                END LOOP;
            END IF;
            req := jsonb_build_object('method', 'POST', 'path', '/invoices', 'body', jsonb_build_object('invoice', body));
            lookup := jsonb_build_object('kind', 'list', 'path', '/invoices?externalId=' || billy._urlencode(ext),
                                         'root', 'invoices', 'match', jsonb_build_object('externalId', ext));
            summary := format('create a draft invoice for %s dated %s in %s with %s line(s)',
                              coalesce(ct.name, rec ->> 'contactId'), rec ->> 'entryDate', cur,
                              coalesce(jsonb_array_length(CASE WHEN jsonb_typeof(rec -> 'lines') = 'array' THEN rec -> 'lines' END), 0));
        END IF;

    ELSIF operation IN ('approve_invoice', 'send_invoice', 'delete_draft_invoice') THEN
        main_resource := 'invoices';
        p := p || billy._check_fields(args - 'org', 'args', CASE operation
            WHEN 'send_invoice' THEN '{"invoiceId": {"type": "id", "required": true}, "contactPersonId": {"type": "id"},
                                      "emailSubject": {"type": "text", "max": 255}, "emailBody": {"type": "text", "max": 20000}}'
            ELSE '{"invoiceId": {"type": "id", "required": true}}' END::jsonb);
        rid := args ->> 'invoiceId';
        SELECT * INTO inv FROM billy.invoices WHERE organization_id = org AND id = rid AND deleted_at IS NULL;
        IF rid IS NOT NULL AND NOT FOUND THEN
            p := p || billy._problem('invoiceId', billy._missing('invoice', org, rid));
        ELSIF FOUND THEN
            touches := touches || jsonb_build_array(billy._touch('invoices', org, rid));
            IF operation IN ('approve_invoice', 'delete_draft_invoice') AND inv.state <> 'draft' THEN
                p := p || billy._problem('invoiceId', format('invoice %s is %s, not a draft', coalesce(inv.invoice_no, rid), inv.state));
            ELSIF operation = 'send_invoice' AND inv.state <> 'approved' THEN
                p := p || billy._problem('invoiceId', format('invoice %s is %s: only approved invoices can be sent', coalesce(inv.invoice_no, rid), inv.state));
            END IF;
        END IF;
        IF operation = 'approve_invoice' THEN
            req := jsonb_build_object('method', 'PUT', 'path', '/invoices/' || rid,
                                      'body', jsonb_build_object('invoice', jsonb_build_object('state', 'approved')));
            lookup := jsonb_build_object('kind', 'record', 'path', '/invoices/' || rid, 'root', 'invoice',
                                         'expect', jsonb_build_object('state', 'approved'));
            summary := format('approve draft invoice %s (books it; cannot be undone)', rid);
        ELSIF operation = 'delete_draft_invoice' THEN
            req := jsonb_build_object('method', 'DELETE', 'path', '/invoices/' || rid);
            lookup := jsonb_build_object('kind', 'gone', 'path', '/invoices/' || rid);
            summary := format('delete draft invoice %s', rid);
        ELSE
            IF args ? 'contactPersonId' AND NOT EXISTS (SELECT 1 FROM billy.contact_persons cp WHERE cp.organization_id = org
                    AND cp.id = args ->> 'contactPersonId' AND cp.contact_id = inv.contact_id) THEN
                p := p || billy._problem('contactPersonId', 'is not a contact person of the invoice''s contact');
            ELSIF NOT args ? 'contactPersonId' AND inv.id IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM billy.contact_persons cp WHERE cp.organization_id = org
                    AND cp.contact_id = inv.contact_id AND coalesce(cp.email, '') <> '') THEN
                p := p || billy._problem('contactPersonId', 'is required: the invoice''s contact has no contact person with an e-mail address');
            END IF;
            req := jsonb_build_object('method', 'POST', 'path', '/invoices/' || rid || '/emails',
                                      'body', jsonb_build_object('email', jsonb_strip_nulls(jsonb_build_object(
                                          'contactPersonId', args ->> 'contactPersonId',
                                          'emailSubject', args ->> 'emailSubject', 'emailBody', args ->> 'emailBody'))));
            -- whether it went out can be seen only when it was never sent before
            lookup := CASE WHEN inv.sent_state IN ('unsent', 'printed') THEN
                jsonb_build_object('kind', 'record', 'path', '/invoices/' || rid, 'root', 'invoice',
                                   'expect_in', jsonb_build_object('sentState', jsonb_build_array('sent', 'opened', 'viewed'))) END;
            summary := format('e-mail invoice %s to its contact', coalesce(inv.invoice_no, rid));
        END IF;

    ELSIF operation IN ('create_contact', 'update_contact') THEN
        main_resource := 'contacts';
        rec := args -> 'contact';
        p := p || billy._check_fields(args - 'org', 'args', CASE operation
            WHEN 'create_contact' THEN '{"contact": {"type": "object", "required": true}}'
            ELSE '{"contactId": {"type": "id", "required": true}, "contact": {"type": "object", "required": true}}' END::jsonb);
        p := p || billy._check_fields(rec, 'contact', CASE operation
            WHEN 'create_contact' THEN jsonb_set(contact_spec, '{name,required}', 'true') ELSE contact_spec END);
        IF operation = 'update_contact' THEN
            rid := args ->> 'contactId';
            SELECT * INTO ct FROM billy.contacts WHERE organization_id = org AND id = rid AND deleted_at IS NULL;
            IF rid IS NOT NULL AND NOT FOUND THEN
                p := p || billy._problem('contactId', billy._missing('contact', org, rid));
            ELSIF FOUND THEN
                touches := touches || jsonb_build_array(billy._touch('contacts', org, rid));
            END IF;
        END IF;
        IF jsonb_typeof(rec) = 'object' THEN
            body := rec;
            IF operation = 'create_contact' AND NOT rec ? 'countryId' THEN
                body := body || jsonb_build_object('countryId', coalesce(o.country_id, 'DK'));
            END IF;
            IF body ? 'name' AND btrim(body ->> 'name') = '' THEN
                p := p || billy._problem('contact.name', 'must not be blank');
            END IF;
            IF coalesce(body ->> 'registrationNo', '') <> '' THEN
                IF coalesce(body ->> 'countryId', ct.country_id) = 'DK' AND NOT billy._cvr_valid(body ->> 'registrationNo') THEN
                    p := p || billy._problem('contact.registrationNo', format('"%s" is not a valid CVR number (8 digits passing the modulus 11 check)', body ->> 'registrationNo'));
                ELSIF EXISTS (SELECT 1 FROM billy.contacts c WHERE c.organization_id = org AND c.deleted_at IS NULL
                              AND c.registration_no = body ->> 'registrationNo' AND c.id IS DISTINCT FROM rid) THEN
                    p := p || billy._problem('contact.registrationNo', format('contact "%s" already has registrationNo %s',
                        (SELECT c.name FROM billy.contacts c WHERE c.organization_id = org AND c.deleted_at IS NULL
                           AND c.registration_no = body ->> 'registrationNo' LIMIT 1), body ->> 'registrationNo'));
                END IF;
            END IF;
            IF coalesce(body ->> 'ean', '') <> '' AND body ->> 'ean' !~ '^\d{13}$' THEN
                p := p || billy._problem('contact.ean', format('"%s" is not an EAN number (13 digits)', body ->> 'ean'));
            END IF;
            IF coalesce(body ->> 'contactNo', '') <> '' AND EXISTS (SELECT 1 FROM billy.contacts c WHERE c.organization_id = org
                    AND c.deleted_at IS NULL AND c.contact_no = body ->> 'contactNo' AND c.id IS DISTINCT FROM rid) THEN
                p := p || billy._problem('contact.contactNo', format('%s is already the number of another contact', body ->> 'contactNo'));
            END IF;
            IF jsonb_typeof(rec -> 'contactPersons') = 'array' THEN
                FOR x, i IN SELECT e, n - 1 FROM jsonb_array_elements(rec -> 'contactPersons') WITH ORDINALITY t(e, n) LOOP
                    p := p || billy._check_fields(x, format('contact.contactPersons[%s]', i),
                        '{"name": {"type": "text", "max": 255}, "email": {"type": "email", "max": 255}, "isPrimary": {"type": "bool"}}');
                    IF jsonb_typeof(x) = 'object' AND coalesce(x ->> 'name', '') = '' AND coalesce(x ->> 'email', '') = '' THEN
                        p := p || billy._problem(format('contact.contactPersons[%s]', i), 'needs a name or an e-mail address');
                    END IF;
                END LOOP;
            END IF;
        END IF;
        IF operation = 'create_contact' THEN
            req := jsonb_build_object('method', 'POST', 'path', '/contacts', 'body', jsonb_build_object('contact', body));
            IF coalesce(body ->> 'registrationNo', '') <> '' THEN
                lookup := jsonb_build_object('kind', 'list', 'path', '/contacts?registrationNo=' || billy._urlencode(body ->> 'registrationNo'),
                    'root', 'contacts', 'match', jsonb_build_object('registrationNo', body ->> 'registrationNo', 'name', body ->> 'name'),
                    'exclude', billy._ids('contacts', org, 'registration_no = $2', body ->> 'registrationNo'));
            ELSE
                lookup := jsonb_build_object('kind', 'list', 'path', '/contacts?q=' || billy._urlencode(body ->> 'name'),
                    'root', 'contacts', 'match', jsonb_build_object('name', body ->> 'name'),
                    'exclude', billy._ids('contacts', org, 'name = $2', body ->> 'name'));
            END IF;
            summary := format('create contact "%s" (%s)', body ->> 'name', body ->> 'countryId');
        ELSE
            req := jsonb_build_object('method', 'PUT', 'path', '/contacts/' || rid, 'body', jsonb_build_object('contact', body));
            lookup := jsonb_build_object('kind', 'record', 'path', '/contacts/' || rid, 'root', 'contact',
                                         'expect', (SELECT coalesce(jsonb_object_agg(k, v), '{}') FROM jsonb_each(body) e(k, v)
                                                    WHERE jsonb_typeof(v) NOT IN ('array', 'object')));
            summary := format('update contact "%s": %s', coalesce(ct.name, rid),
                              (SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(body) k));
        END IF;

    ELSIF operation IN ('create_product', 'update_product') THEN
        main_resource := 'products';
        rec := args -> 'product';
        p := p || billy._check_fields(args - 'org', 'args', CASE operation
            WHEN 'create_product' THEN '{"product": {"type": "object", "required": true}}'
            ELSE '{"productId": {"type": "id", "required": true}, "product": {"type": "object", "required": true}}' END::jsonb);
        p := p || billy._check_fields(rec, 'product', CASE operation
            WHEN 'create_product' THEN jsonb_set(product_spec, '{name,required}', 'true') ELSE product_spec END);
        IF operation = 'update_product' THEN
            rid := args ->> 'productId';
            IF rid IS NOT NULL AND NOT billy._live('products', org, rid) THEN
                p := p || billy._problem('productId', billy._missing('product', org, rid));
            ELSIF rid IS NOT NULL THEN
                touches := touches || jsonb_build_array(billy._touch('products', org, rid));
            END IF;
        END IF;
        IF jsonb_typeof(rec) = 'object' THEN
            body := rec;
            IF body ? 'name' AND btrim(body ->> 'name') = '' THEN
                p := p || billy._problem('product.name', 'must not be blank');
            END IF;
            IF coalesce(body ->> 'productNo', '') <> '' AND EXISTS (SELECT 1 FROM billy.products x WHERE x.organization_id = org
                    AND x.deleted_at IS NULL AND x.product_no = body ->> 'productNo' AND x.id IS DISTINCT FROM rid) THEN
                p := p || billy._problem('product.productNo', format('%s is already the number of another product', body ->> 'productNo'));
            END IF;
            IF body ? 'accountId' AND NOT billy._live('accounts', org, body ->> 'accountId') THEN
                p := p || billy._problem('product.accountId', billy._missing('account', org, body ->> 'accountId'));
            END IF;
            IF body ? 'salesTaxRulesetId' AND NOT billy._live('sales_tax_rulesets', org, body ->> 'salesTaxRulesetId') THEN
                p := p || billy._problem('product.salesTaxRulesetId', billy._missing('sales tax ruleset', org, body ->> 'salesTaxRulesetId'));
            END IF;
            IF jsonb_typeof(rec -> 'prices') = 'array' THEN
                FOR x, i IN SELECT e, n - 1 FROM jsonb_array_elements(rec -> 'prices') WITH ORDINALITY t(e, n) LOOP
                    p := p || billy._check_fields(x, format('product.prices[%s]', i),
                        '{"unitPrice": {"type": "money", "required": true}, "currencyId": {"type": "currency", "required": true}}');
                END LOOP;
                IF (SELECT count(*) <> count(DISTINCT e ->> 'currencyId') FROM jsonb_array_elements(rec -> 'prices') e) THEN
                    p := p || billy._problem('product.prices', 'has more than one price in a currency');
                END IF;
                body := jsonb_set(body, '{prices}', (SELECT coalesce(jsonb_agg(CASE WHEN (e ->> 'unitPrice') ~ '^-?\d+(\.\d+)?$'
                    THEN jsonb_set(e, '{unitPrice}', to_jsonb((e ->> 'unitPrice')::numeric)) ELSE e END), '[]')
                    FROM jsonb_array_elements(rec -> 'prices') e));
            END IF;
        END IF;
        IF operation = 'create_product' THEN
            req := jsonb_build_object('method', 'POST', 'path', '/products', 'body', jsonb_build_object('product', body));
            IF coalesce(body ->> 'productNo', '') <> '' THEN
                lookup := jsonb_build_object('kind', 'list', 'path', '/products?productNo=' || billy._urlencode(body ->> 'productNo'),
                    'root', 'products', 'match', jsonb_build_object('productNo', body ->> 'productNo', 'name', body ->> 'name'),
                    'exclude', billy._ids('products', org, 'product_no = $2', body ->> 'productNo'));
            ELSE
                lookup := jsonb_build_object('kind', 'list', 'path', '/products?q=' || billy._urlencode(body ->> 'name'),
                    'root', 'products', 'match', jsonb_build_object('name', body ->> 'name'),
                    'exclude', billy._ids('products', org, 'name = $2', body ->> 'name'));
            END IF;
            summary := format('create product "%s"', body ->> 'name');
        ELSE
            req := jsonb_build_object('method', 'PUT', 'path', '/products/' || rid, 'body', jsonb_build_object('product', body));
            lookup := jsonb_build_object('kind', 'record', 'path', '/products/' || rid, 'root', 'product',
                                         'expect', (SELECT coalesce(jsonb_object_agg(k, v), '{}') FROM jsonb_each(body) e(k, v)
                                                    WHERE jsonb_typeof(v) NOT IN ('array', 'object')));
            summary := format('update product %s: %s', rid, (SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(body) k));
        END IF;

    ELSIF operation = 'create_bill' THEN
        main_resource := 'bills';
        rec := args -> 'bill';
        p := p || billy._check_fields(args - 'org', 'args', '{"bill": {"type": "object", "required": true}}');
        p := p || billy._check_fields(rec, 'bill', '{
            "contactId": {"type": "id", "required": true}, "entryDate": {"type": "date", "required": true},
            "dueDate": {"type": "date"}, "currencyId": {"type": "currency"}, "exchangeRate": {"type": "rate", "min": 0},
            "taxMode": {"type": "enum", "values": ["incl", "excl"]}, "suppliersInvoiceNo": {"type": "text", "max": 255},
            "voucherNo": {"type": "text", "max": 64}, "state": {"type": "enum", "values": ["draft"]},
            "type": {"type": "enum", "values": ["bill", "creditNote"]}, "creditedBillId": {"type": "id"},
            "lines": {"type": "array", "required": true}}');
        IF jsonb_typeof(rec) = 'object' THEN
            IF rec ? 'contactId' AND NOT billy._live('contacts', org, rec ->> 'contactId') THEN
                p := p || billy._problem('bill.contactId', billy._missing('contact', org, rec ->> 'contactId'));
            ELSIF rec ? 'contactId' THEN
                touches := touches || jsonb_build_array(billy._touch('contacts', org, rec ->> 'contactId'));
            END IF;
            IF rec ? 'dueDate' AND rec ? 'entryDate' AND billy._is_date(rec ->> 'dueDate') AND billy._is_date(rec ->> 'entryDate')
               AND (rec ->> 'dueDate')::date < (rec ->> 'entryDate')::date THEN
                p := p || billy._problem('bill.dueDate', 'is before entryDate');
            END IF;
            body := (rec - 'lines') || jsonb_build_object('state', 'draft');
            IF jsonb_typeof(rec -> 'lines') = 'array' THEN
                IF jsonb_array_length(rec -> 'lines') = 0 THEN
                    p := p || billy._problem('bill.lines', 'needs at least one line');
                END IF;
                body := body || '{"lines": []}';
                FOR x, i IN SELECT e, n - 1 FROM jsonb_array_elements(rec -> 'lines') WITH ORDINALITY t(e, n) LOOP
                    p := p || billy._check_fields(x, format('bill.lines[%s]', i), '{
                        "accountId": {"type": "id", "required": true}, "taxRateId": {"type": "id", "required": true},
                        "description": {"type": "text", "required": true, "max": 1000},
                        "amount": {"type": "money", "required": true}, "priority": {"type": "int"}}');
                    IF jsonb_typeof(x) <> 'object' THEN
                        CONTINUE;
                    END IF;
                    IF x ? 'accountId' AND NOT billy._live('accounts', org, x ->> 'accountId') THEN
                        p := p || billy._problem(format('bill.lines[%s].accountId', i), billy._missing('account', org, x ->> 'accountId'));
                    END IF;
                    IF x ? 'taxRateId' AND NOT EXISTS (SELECT 1 FROM billy.tax_rates t WHERE t.organization_id = org
                            AND t.id = x ->> 'taxRateId' AND t.deleted_at IS NULL) THEN
                        p := p || billy._problem(format('bill.lines[%s].taxRateId', i), billy._missing('tax rate', org, x ->> 'taxRateId'));
                    ELSIF x ? 'taxRateId' AND EXISTS (SELECT 1 FROM billy.tax_rates t WHERE t.organization_id = org
                            AND t.id = x ->> 'taxRateId' AND t.applies_to_purchases IS FALSE) THEN
                        p := p || billy._problem(format('bill.lines[%s].taxRateId', i), 'is a sales tax rate; a bill line needs a purchase rate');
                    END IF;
                    IF (x ->> 'amount') ~ '^-?\d+(\.\d+)?$' THEN
                        x := jsonb_set(x, '{amount}', to_jsonb((x ->> 'amount')::numeric));
                    END IF;
                    body := jsonb_set(body, '{lines}', (body -> 'lines') || jsonb_build_array(x));
                END LOOP;
            END IF;
            req := jsonb_build_object('method', 'POST', 'path', '/bills', 'body', jsonb_build_object('bill', body));
            lookup := jsonb_build_object('kind', 'list',
                'path', format('/bills?contactId=%s&minEntryDate=%s&maxEntryDate=%s', billy._urlencode(rec ->> 'contactId'),
                               billy._urlencode(rec ->> 'entryDate'), billy._urlencode(rec ->> 'entryDate')),
                'root', 'bills', 'match', jsonb_build_object('contactId', rec ->> 'contactId', 'entryDate', rec ->> 'entryDate'),
                'exclude', billy._ids('bills', org, 'contact_id = $2', rec ->> 'contactId'));
            summary := format('create a draft bill from %s dated %s', rec ->> 'contactId', rec ->> 'entryDate');
        END IF;

    ELSIF operation = 'approve_bill' THEN
        main_resource := 'bills';
        p := p || billy._check_fields(args - 'org', 'args', '{"billId": {"type": "id", "required": true}}');
        rid := args ->> 'billId';
        SELECT * INTO bil FROM billy.bills WHERE organization_id = org AND id = rid AND deleted_at IS NULL;
        IF rid IS NOT NULL AND NOT FOUND THEN
            p := p || billy._problem('billId', billy._missing('bill', org, rid));
        ELSIF FOUND THEN
            touches := touches || jsonb_build_array(billy._touch('bills', org, rid));
            IF bil.state <> 'draft' THEN
                p := p || billy._problem('billId', format('bill %s is %s, not a draft', rid, bil.state));
            END IF;
        END IF;
        req := jsonb_build_object('method', 'PUT', 'path', '/bills/' || rid,
                                  'body', jsonb_build_object('bill', jsonb_build_object('state', 'approved')));
        lookup := jsonb_build_object('kind', 'record', 'path', '/bills/' || rid, 'root', 'bill',
                                     'expect', jsonb_build_object('state', 'approved'));
        summary := format('approve draft bill %s (books it; cannot be undone)', rid);

    ELSIF operation = 'create_bank_payment' THEN
        main_resource := 'bankPayments';
        rec := args -> 'payment';
        p := p || billy._check_fields(args - 'org', 'args', '{"payment": {"type": "object", "required": true}}');
        p := p || billy._check_fields(rec, 'payment', '{
            "entryDate": {"type": "date", "required": true}, "cashAmount": {"type": "money", "required": true, "min": 0.01},
            "cashAccountId": {"type": "id"}, "cashSide": {"type": "enum", "values": ["debit", "credit"]},
            "cashExchangeRate": {"type": "rate", "min": 0}, "feeAmount": {"type": "money", "min": 0},
            "feeAccountId": {"type": "id"}, "contactId": {"type": "id"},
            "associations": {"type": "array", "required": true}}');
        IF jsonb_typeof(rec) = 'object' AND jsonb_typeof(rec -> 'associations') = 'array' THEN
            IF jsonb_array_length(rec -> 'associations') NOT BETWEEN 1 AND 16 THEN
                p := p || billy._problem('payment.associations', 'needs 1 to 16 invoices or bills');
            END IF;
            FOR x, i IN SELECT e, n - 1 FROM jsonb_array_elements(rec -> 'associations') WITH ORDINALITY t(e, n) LOOP
                p := p || billy._check_fields(x, format('payment.associations[%s]', i),
                    '{"subjectReference": {"type": "text", "required": true, "max": 100}}');
                IF jsonb_typeof(x) <> 'object' OR NOT x ? 'subjectReference' THEN
                    CONTINUE;
                END IF;
                IF (x ->> 'subjectReference') !~ '^(invoice|bill):[A-Za-z0-9_-]+$' THEN
                    p := p || billy._problem(format('payment.associations[%s].subjectReference', i), 'must be invoice:<id> or bill:<id>');
                    CONTINUE;
                END IF;
                IF subj_kind IS NOT NULL AND subj_kind <> split_part(x ->> 'subjectReference', ':', 1) THEN
                    p := p || billy._problem(format('payment.associations[%s].subjectReference', i), 'one payment pays either invoices or bills');
                END IF;
                subj_kind := split_part(x ->> 'subjectReference', ':', 1);
                rid := split_part(x ->> 'subjectReference', ':', 2);
                IF subj_kind = 'invoice' THEN
                    SELECT state, balance, currency_id, id INTO inv.state, inv.balance, inv.currency_id, inv.id
                    FROM billy.invoices WHERE organization_id = org AND id = rid AND deleted_at IS NULL;
                ELSE
                    SELECT state, balance, currency_id, id INTO inv.state, inv.balance, inv.currency_id, inv.id
                    FROM billy.bills WHERE organization_id = org AND id = rid AND deleted_at IS NULL;
                END IF;
                IF inv.id IS NULL THEN
                    p := p || billy._problem(format('payment.associations[%s].subjectReference', i), billy._missing(subj_kind, org, rid));
                    CONTINUE;
                END IF;
                touches := touches || jsonb_build_array(billy._touch(subj_kind || 's', org, rid));
                subj_ids := subj_ids || rid;
                IF inv.state <> 'approved' THEN
                    p := p || billy._problem(format('payment.associations[%s].subjectReference', i), format('%s %s is %s, not approved', subj_kind, rid, inv.state));
                ELSIF inv.balance = 0 THEN
                    p := p || billy._problem(format('payment.associations[%s].subjectReference', i), format('%s %s is paid already', subj_kind, rid));
                END IF;
                IF subj_cur IS NOT NULL AND subj_cur <> inv.currency_id THEN
                    p := p || billy._problem(format('payment.associations[%s].subjectReference', i), 'all invoices or bills of one payment must be in one currency');
                END IF;
                subj_cur := inv.currency_id;
                open_balance := open_balance + abs(coalesce(inv.balance, 0));
                inv.id := NULL;
            END LOOP;
            body := rec || jsonb_build_object('cashSide', coalesce(rec ->> 'cashSide', CASE WHEN subj_kind = 'bill' THEN 'credit' ELSE 'debit' END));
            IF NOT rec ? 'cashAccountId' THEN
                body := body || jsonb_build_object('cashAccountId', (
                    SELECT a.id FROM billy.accounts a WHERE a.organization_id = org AND a.is_payment_enabled AND a.deleted_at IS NULL
                    ORDER BY (a.currency_id IS NOT DISTINCT FROM subj_cur) DESC, a.account_no LIMIT 1));
                IF body ->> 'cashAccountId' IS NULL THEN
                    p := p || billy._problem('payment.cashAccountId', 'is required: the organization has no payment-enabled account in the mirror');
                END IF;
            ELSIF NOT EXISTS (SELECT 1 FROM billy.accounts a WHERE a.organization_id = org AND a.id = rec ->> 'cashAccountId'
                              AND a.deleted_at IS NULL) THEN
                p := p || billy._problem('payment.cashAccountId', billy._missing('account', org, rec ->> 'cashAccountId'));
            ELSIF NOT EXISTS (SELECT 1 FROM billy.accounts a WHERE a.organization_id = org AND a.id = rec ->> 'cashAccountId'
                              AND a.is_payment_enabled) THEN
                p := p || billy._problem('payment.cashAccountId', 'is not a payment-enabled (bank) account');
            END IF;
            IF (rec ->> 'cashAmount') ~ '^\d+(\.\d+)?$' AND subj_cur IS NOT NULL
               AND (SELECT a.currency_id FROM billy.accounts a WHERE a.organization_id = org AND a.id = body ->> 'cashAccountId') IS NOT DISTINCT FROM subj_cur
               AND (rec ->> 'cashAmount')::numeric + coalesce((rec ->> 'feeAmount')::numeric, 0) > open_balance THEN
                p := p || billy._problem('payment.cashAmount', format('%s is more than the open balance %s %s', rec ->> 'cashAmount', open_balance, subj_cur));
            END IF;
            body := jsonb_set(body, '{cashAmount}', to_jsonb(CASE WHEN (rec ->> 'cashAmount') ~ '^-?\d+(\.\d+)?$' THEN (rec ->> 'cashAmount')::numeric END));
            req := jsonb_build_object('method', 'POST', 'path', '/bankPayments', 'body', jsonb_build_object('bankPayment', body));
            IF array_length(subj_ids, 1) > 0 THEN
                lookup := jsonb_build_object('kind', 'list',
                    'path', '/balanceModifiers?subjectReference=' || billy._urlencode(subj_kind || ':' || subj_ids[1]),
                    'root', 'balanceModifiers', 'match_prefix', jsonb_build_object('modifierReference', 'bankPayment:'),
                    'id_from', 'modifierReference',
                    'exclude', (SELECT coalesce(jsonb_agg(m.id), '[]') FROM billy.balance_modifiers m
                                WHERE m.organization_id = org AND m.subject_id = subj_ids[1]));
            END IF;
            summary := format('register a payment of %s %s on %s for %s %s(s)', rec ->> 'cashAmount', coalesce(subj_cur, ''),
                              rec ->> 'entryDate', coalesce(array_length(subj_ids, 1), 0), coalesce(subj_kind, 'document'));
        END IF;

    ELSIF operation = 'update_organization' THEN
        main_resource := 'organization';
        rec := args -> 'organization';
        p := p || billy._check_fields(args - 'org', 'args', '{"organization": {"type": "object", "required": true}}');
        p := p || billy._check_fields(rec, 'organization', '{
            "name": {"type": "text", "max": 255}, "street": {"type": "text", "max": 255},
            "zipcode": {"type": "text", "max": 32}, "city": {"type": "text", "max": 255},
            "phone": {"type": "text", "max": 64}, "email": {"type": "email", "max": 255},
            "registrationNo": {"type": "text", "max": 32},
            "paymentTermsDays": {"type": "int", "min": 0, "max": 3650},
            "defaultTaxMode": {"type": "enum", "values": ["incl", "excl"]}}');
        IF jsonb_typeof(rec) = 'object' THEN
            IF rec = '{}' THEN
                p := p || billy._problem('organization', 'names no field to change');
            END IF;
            IF rec ? 'name' AND btrim(rec ->> 'name') = '' THEN
                p := p || billy._problem('organization.name', 'must not be blank');
            END IF;
            IF coalesce(rec ->> 'registrationNo', '') <> '' AND coalesce(o.country_id, 'DK') = 'DK' AND NOT billy._cvr_valid(rec ->> 'registrationNo') THEN
                p := p || billy._problem('organization.registrationNo', format('"%s" is not a valid CVR number (8 digits passing the modulus 11 check)', rec ->> 'registrationNo'));
            END IF;
        END IF;
        req := jsonb_build_object('method', 'PUT', 'path', '/organizations/' || org, 'body', jsonb_build_object('organization', rec));
        lookup := jsonb_build_object('kind', 'record', 'path', '/organization', 'root', 'organization',
                                     'expect', (SELECT coalesce(jsonb_object_agg(k, v), '{}') FROM jsonb_each(CASE WHEN jsonb_typeof(rec) = 'object' THEN rec END) e(k, v)));
        summary := format('update the organization''s settings: %s',
                          (SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(CASE WHEN jsonb_typeof(rec) = 'object' THEN rec END) k));
    END IF;

    RETURN jsonb_build_object(
        'operation', operation, 'organization_id', org, 'organization', o.name,
        'problems', p, 'resource', main_resource, 'record_id', rid,
        'request', req, 'lookup', lookup, 'touches', touches, 'summary', summary,
        'fingerprint', encode(sha256(convert_to(operation || (args - 'org')::text || touches::text, 'UTF8')), 'hex'));
END
$$;
COMMENT ON FUNCTION billy._plan_write(text, jsonb) IS
'Validates a write operation''s arguments against field rules and the mirror and plans it: the request, the records it touches with their content hashes, the fingerprint binding both, how to look its result up, a summary, and the problems found (each naming its field). Internal.';

CREATE FUNCTION billy._urlencode(t text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT coalesce(string_agg(CASE WHEN b ~ '^[A-Za-z0-9._~-]$' THEN b
                                        ELSE (SELECT string_agg('%' || upper(lpad(to_hex(get_byte(convert_to(b, 'UTF8'), k)), 2, '0')), '')
                                              FROM generate_series(0, octet_length(convert_to(b, 'UTF8')) - 1) k) END, '' ORDER BY n), '')
        FROM regexp_split_to_table(coalesce(t, ''), '') WITH ORDINALITY AS s(b, n));
COMMENT ON FUNCTION billy._urlencode(text) IS 'Percent-encodes text for a URL query (UTF-8). Internal.';

-- _raise_problems turns a plan's problems into one error naming every field
CREATE FUNCTION billy._raise_problems(plan jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer := jsonb_array_length(plan -> 'problems');
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    RAISE EXCEPTION '%: % %', replace(plan ->> 'operation', '_', ' '), plan -> 'problems' -> 0 ->> 'field', plan -> 'problems' -> 0 ->> 'message'
        USING ERRCODE = '22023',
              DETAIL = CASE WHEN n > 1 THEN format('%s problems: %s.', n,
                  (SELECT string_agg(e ->> 'field' || ' ' || (e ->> 'message'), '; ') FROM jsonb_array_elements(plan -> 'problems') e))
                  ELSE 'Nothing was sent to Billy.' END,
              HINT = 'Correct the named fields; nothing was sent to Billy. billy.write_operations() describes each operation''s arguments.';
END
$$;
COMMENT ON FUNCTION billy._raise_problems(jsonb) IS 'Raises the validation problems of a plan as one error (the first in the message, all in the detail). Internal.';

CREATE FUNCTION billy.preview_write(operation text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    plan jsonb := billy._plan_write(operation, args);
    stored billy.write_previews;
BEGIN
    PERFORM billy._require_writable(plan ->> 'organization_id');
    -- before the problems: an unsettled identical write matters more
    PERFORM billy._refuse_if_unsettled(plan ->> 'organization_id', operation, args);
    PERFORM billy._raise_problems(plan);
    stored := billy._store_preview(operation, args);
    RETURN jsonb_build_object(
        'operation_hash', stored.hash, 'operation', operation, 'organization_id', stored.organization_id,
        'organization', stored.plan ->> 'organization', 'summary', stored.plan ->> 'summary',
        'request', stored.plan -> 'request', 'touches', stored.plan -> 'touches', 'expires_at', stored.expires_at);
END
$$;
COMMENT ON FUNCTION billy.preview_write(text, jsonb) IS
'Previews a write to Billy without sending anything: validates args locally (every problem names its field), checks that writes are allowed, refuses while an identical write (same organization, operation and args) is pending, sent or unknown (sending it again could make a duplicate), and returns {"operation_hash", "operation", "organization_id", "summary", "request": {"method", "path", "body"} exactly as it would be sent, "touches": the mirror records it depends on with their content hashes, "expires_at"}. billy.commit_write(operation_hash) then sends it, once, if those records are unchanged. Operations: create_invoice {org, invoice}, approve_invoice {org, invoiceId}, send_invoice {org, invoiceId, contactPersonId?, emailSubject?, emailBody?}, delete_draft_invoice {org, invoiceId}, create_contact {org, contact}, update_contact {org, contactId, contact}, create_product {org, product}, update_product {org, productId, product}, create_bill {org, bill}, approve_bill {org, billId}, create_bank_payment {org, payment}, update_organization {org, organization}; see billy.write_operations().';

-- _refuse_if_unsettled: a write identical to one whose outcome is not known
-- yet (same organization, operation and arguments) could make a duplicate
CREATE FUNCTION billy._refuse_if_unsettled(org text, op text, a jsonb) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w billy.write_ops;
BEGIN
    SELECT * INTO w FROM billy.write_ops x
    WHERE x.organization_id = org AND x.operation = op AND x.state IN ('pending', 'sent', 'unknown')
      AND (x.args - 'org') = (coalesce(a, '{}') - 'org')
    ORDER BY x.id DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF w.state <> 'unknown' THEN
        RAISE EXCEPTION 'an identical write (write %) is being sent to Billy now', w.id
            USING ERRCODE = '55000',
                  DETAIL = format('Write %s (%s) was committed at %s and has no outcome yet.', w.id, w.summary, w.created_at),
                  HINT = format('Do not send it again: wait for write %s to end (billy.write_ops shows it).', w.id);
    END IF;
    RAISE EXCEPTION 'an identical write (write %) has an unknown outcome: it may already be in Billy', w.id
        USING ERRCODE = '55000',
              DETAIL = format('Write %s (%s) was sent at %s; %s. %s', w.id, w.summary, w.sent_at, coalesce(w.error, 'Billy did not answer'),
                  CASE WHEN w.needs_decision THEN 'billy could not find out whether Billy did it: a person must decide.'
                       ELSE 'billy looks it up in Billy by itself and resends it only if Billy does not have it.' END),
              HINT = CASE WHEN w.needs_decision
                  THEN format('Do not retry; a person must decide: sending it again could make a duplicate. The person checks in Billy whether write %s was done and records it with billy.resolve_write(%s, ''done'' or ''failed''); preview again only if it was not done.', w.id, w.id)
                  ELSE format('Do not retry: sending it again could make a duplicate. Wait until write %s is done or failed (billy.write_ops); preview again only if it failed.', w.id) END;
END
$$;
COMMENT ON FUNCTION billy._refuse_if_unsettled(text, text, jsonb) IS
'Raises when a write identical to the one being previewed (same organization, operation and arguments) is still pending, sent or unknown: sending it again could make a duplicate. Internal.';

-- _store_preview plans the write itself (as the extension owner): what is
-- stored, and later sent, is billy's plan, never one a caller made up
CREATE FUNCTION billy._store_preview(op text, a jsonb) RETURNS billy.write_previews
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    plan jsonb := billy._plan_write(op, a);
    result billy.write_previews;
BEGIN
    PERFORM billy._raise_problems(plan);
    INSERT INTO billy.write_previews (hash, organization_id, operation, args, plan, fingerprint, created_by)
    VALUES (encode(sha256(convert_to(plan ->> 'fingerprint' || gen_random_uuid()::text || clock_timestamp()::text, 'UTF8')), 'hex'),
            plan ->> 'organization_id', op, a, plan - 'problems', plan ->> 'fingerprint', session_user)
    RETURNING * INTO result;
    RETURN result;
END
$$;
COMMENT ON FUNCTION billy._store_preview(text, jsonb) IS 'Plans a write and stores it as a preview with a fresh random hash (as the extension owner). Internal.';

-- _commit_plan is commit_write's SQL half: the checks, in the caller's session
CREATE FUNCTION billy._commit_plan(h text) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pv billy.write_previews;
    plan jsonb;
    used bigint;
    changed text;
BEGIN
    IF h IS NULL OR h !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION 'operation hash must be the 64 hexadecimal characters billy.preview_write returned'
            USING ERRCODE = '22023';
    END IF;
    SELECT * INTO pv FROM billy.write_previews WHERE hash = h;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown operation hash %', left(h, 12) || '…'
            USING ERRCODE = '22023', HINT = 'Preview the write with billy.preview_write() and commit the hash it returns.';
    END IF;
    PERFORM billy._require_writable(pv.organization_id);
    SELECT id INTO used FROM billy.write_ops WHERE preview_hash = h;
    IF FOUND THEN
        RAISE EXCEPTION 'operation hash % was used already (write %)', left(h, 12) || '…', used
            USING ERRCODE = '55000', HINT = 'A preview can be committed once. billy.write_ops shows that write; preview again for another.';
    END IF;
    IF pv.expires_at < now() THEN
        RAISE EXCEPTION 'operation hash % expired at %', left(h, 12) || '…', pv.expires_at
            USING ERRCODE = '55000', HINT = 'Preview the write again.';
    END IF;
    plan := billy._plan_write(pv.operation, pv.args);
    PERFORM billy._raise_problems(plan);
    IF plan ->> 'fingerprint' <> pv.fingerprint THEN
        SELECT string_agg(format('%s %s', n ->> 0, n ->> 1), ', ') INTO changed
        FROM jsonb_array_elements(plan -> 'touches') n
        WHERE NOT (pv.plan -> 'touches') @> jsonb_build_array(n);
        RAISE EXCEPTION 'the preview is stale: what the write depends on changed since it was previewed'
            USING ERRCODE = '40001',
                  DETAIL = coalesce('Changed in the mirror: ' || changed || '.', 'The records the write depends on changed.'),
                  HINT = 'Preview the write again and check it before committing.';
    END IF;
    RETURN pv.plan || jsonb_build_object('hash', h, 'args', pv.args);
END
$$;
COMMENT ON FUNCTION billy._commit_plan(text) IS
'Checks an operation hash for billy.commit_write: known, writes allowed, unused, not expired, still valid, and the mirror records it touches unchanged; returns the stored plan. Internal.';

CREATE FUNCTION billy.commit_write(operation_hash text) RETURNS jsonb
LANGUAGE C
AS 'MODULE_PATHNAME', 'billy_commit_write';
COMMENT ON FUNCTION billy.commit_write(text) IS
'Sends a previewed write to Billy, once: only if writes are allowed, the hash (from billy.preview_write) is unused and unexpired, and the mirror records the write depends on are unchanged since the preview (else it refuses: preview again). The write is recorded in billy.write_ops and the audit trail whatever happens, committed on its own (a rollback of the caller''s transaction does not hide it). Returns {"write_op_id", "state": "done", "operation", "record_id", "record": the record as now in the mirror, "changed": ids per resource}; Billy''s refusals (422) raise an error naming the fields Billy named. When the outcome is unknown (timeout, connection lost or Billy''s gateway failing after sending) it returns "state": "unknown" with a warning: do not run the write again. The worker looks the record up in Billy no sooner than billy.reconcile_delay_ms after it was sent, resends only when Billy does not have it, and looks again after a resend; when it cannot tell, the write stays unknown with needs_decision for a person (billy.write_checks, billy.resolve_write).';

-- the one-call functions: preview and commit in one go
CREATE FUNCTION billy._write_now(operation text, args jsonb) RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN billy.commit_write(billy.preview_write(operation, args) ->> 'operation_hash');
COMMENT ON FUNCTION billy._write_now(text, jsonb) IS 'Previews and commits a write in one call. Internal.';

CREATE FUNCTION billy.create_invoice(org text, invoice jsonb) RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN billy._write_now('create_invoice', jsonb_build_object('org', org, 'invoice', invoice));
COMMENT ON FUNCTION billy.create_invoice(text, jsonb) IS
'Creates a draft invoice in Billy and in the mirror. invoice: {"contactId", "entryDate", "currencyId" (default the contact''s, else the base currency), "lines": [{"productId", "unitPrice" (default the product''s price in that currency), "quantity", "description", "discountMode": cash|percent, "discountValue"}], optional "paymentTermsDays", "taxMode": incl|excl, "invoiceNo", "externalId" (default a generated billy-<uuid>, used to find it again), "orderNo", "contactMessage", "attContactPersonId"}. Checked locally first (every problem names its field); needs billy.enable_writes and billy_admin. Returns what billy.commit_write returns. For a two-step confirmation use billy.preview_write(''create_invoice'', {"org", "invoice"}) and billy.commit_write.';

CREATE FUNCTION billy.approve_invoice(org text, invoice_id text) RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN billy._write_now('approve_invoice', jsonb_build_object('org', org, 'invoiceId', invoice_id));
COMMENT ON FUNCTION billy.approve_invoice(text, text) IS
'Approves a draft invoice in Billy (it gets its number and is booked; this cannot be undone) and updates the mirror. Returns what billy.commit_write returns.';

CREATE FUNCTION billy.send_invoice(org text, invoice_id text, email jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN billy._write_now('send_invoice', jsonb_build_object('org', org, 'invoiceId', invoice_id) || coalesce(email, '{}'));
COMMENT ON FUNCTION billy.send_invoice(text, text, jsonb) IS
'E-mails an approved invoice through Billy. email: optional {"contactPersonId" (default: the contact''s first person with an e-mail), "emailSubject", "emailBody"}. Its sentState becomes sent. Returns what billy.commit_write returns.';

CREATE FUNCTION billy.delete_draft_invoice(org text, invoice_id text) RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN billy._write_now('delete_draft_invoice', jsonb_build_object('org', org, 'invoiceId', invoice_id));
COMMENT ON FUNCTION billy.delete_draft_invoice(text, text) IS
'Deletes a draft invoice in Billy (approved invoices cannot be deleted) and marks it deleted in the mirror. Returns what billy.commit_write returns.';

CREATE FUNCTION billy.create_contact(org text, contact jsonb) RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN billy._write_now('create_contact', jsonb_build_object('org', org, 'contact', contact));
COMMENT ON FUNCTION billy.create_contact(text, jsonb) IS
'Creates a contact (customer or supplier) in Billy and in the mirror. contact: {"name", "countryId" (default the organization''s), "type": company|person, "street", "zipcodeText", "cityText", "registrationNo" (a Danish CVR number is checked; one already used by another contact is refused), "ean", "phone", "contactNo", "isCustomer", "isSupplier", "paymentTermsDays", "currencyId", "localeId", "contactPersons": [{"name", "email", "isPrimary"}]}. Returns what billy.commit_write returns.';

CREATE FUNCTION billy.update_contact(org text, contact_id text, contact jsonb) RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN billy._write_now('update_contact', jsonb_build_object('org', org, 'contactId', contact_id, 'contact', contact));
COMMENT ON FUNCTION billy.update_contact(text, text, jsonb) IS
'Changes the given fields of a contact in Billy and in the mirror (fields as in billy.create_contact; contactPersons, when given, replace the old ones). Returns what billy.commit_write returns.';

CREATE FUNCTION billy.create_product(org text, product jsonb) RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN billy._write_now('create_product', jsonb_build_object('org', org, 'product', product));
COMMENT ON FUNCTION billy.create_product(text, jsonb) IS
'Creates a product in Billy and in the mirror. product: {"name", "productNo" (unique), "description", "accountId" (revenue account), "salesTaxRulesetId", "suppliersProductNo", "prices": [{"unitPrice", "currencyId"}]}. Returns what billy.commit_write returns.';

CREATE FUNCTION billy.update_product(org text, product_id text, product jsonb) RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN billy._write_now('update_product', jsonb_build_object('org', org, 'productId', product_id, 'product', product));
COMMENT ON FUNCTION billy.update_product(text, text, jsonb) IS
'Changes the given fields of a product in Billy and in the mirror (prices, when given, replace the old ones). Returns what billy.commit_write returns.';

CREATE FUNCTION billy.create_bill(org text, bill jsonb) RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN billy._write_now('create_bill', jsonb_build_object('org', org, 'bill', bill));
COMMENT ON FUNCTION billy.create_bill(text, jsonb) IS
'Creates a draft bill (a purchase) in Billy and in the mirror. bill: {"contactId" (the supplier), "entryDate", "lines": [{"accountId", "taxRateId" (a purchase rate), "description", "amount" (gross when taxMode is incl)}], optional "dueDate", "currencyId", "taxMode", "suppliersInvoiceNo"}. Returns what billy.commit_write returns.';

CREATE FUNCTION billy.approve_bill(org text, bill_id text) RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN billy._write_now('approve_bill', jsonb_build_object('org', org, 'billId', bill_id));
COMMENT ON FUNCTION billy.approve_bill(text, text) IS
'Approves a draft bill in Billy (it is booked; this cannot be undone) and updates the mirror. Returns what billy.commit_write returns.';

CREATE FUNCTION billy.create_bank_payment(org text, payment jsonb) RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN billy._write_now('create_bank_payment', jsonb_build_object('org', org, 'payment', payment));
COMMENT ON FUNCTION billy.create_bank_payment(text, jsonb) IS
'Registers a payment against approved invoices or bills in Billy, and updates their balances in the mirror. payment: {"entryDate", "cashAmount", "associations": [{"subjectReference": "invoice:<id>" or "bill:<id>"}], optional "cashAccountId" (default: a payment-enabled account in the documents'' currency), "cashSide" (default debit for invoices, credit for bills), "cashExchangeRate", "feeAmount", "feeAccountId"}. More than the open balance is refused. Returns what billy.commit_write returns.';

CREATE FUNCTION billy.update_organization(org text, organization jsonb) RETURNS jsonb
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
RETURN billy._write_now('update_organization', jsonb_build_object('org', org, 'organization', organization));
COMMENT ON FUNCTION billy.update_organization(text, jsonb) IS
'Changes the organization''s settings in Billy: {"name", "street", "zipcode", "city", "phone", "email", "registrationNo", "paymentTermsDays", "defaultTaxMode"}, any of them; billy.organizations is refreshed. Returns what billy.commit_write returns.';

CREATE FUNCTION billy.write_operations() RETURNS TABLE (operation text, function_name text, args text, description text)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT * FROM (VALUES
    ('create_invoice', 'billy.create_invoice', '{"org", "invoice": {"contactId", "entryDate", "lines": [{"productId", "unitPrice"?, "quantity"?}], ...}}', 'create a draft invoice'),
    ('approve_invoice', 'billy.approve_invoice', '{"org", "invoiceId"}', 'approve (book) a draft invoice'),
    ('send_invoice', 'billy.send_invoice', '{"org", "invoiceId", "contactPersonId"?, "emailSubject"?, "emailBody"?}', 'e-mail an approved invoice'),
    ('delete_draft_invoice', 'billy.delete_draft_invoice', '{"org", "invoiceId"}', 'delete a draft invoice'),
    ('create_contact', 'billy.create_contact', '{"org", "contact": {"name", "countryId"?, ...}}', 'create a customer or supplier'),
    ('update_contact', 'billy.update_contact', '{"org", "contactId", "contact": {...}}', 'change a contact'),
    ('create_product', 'billy.create_product', '{"org", "product": {"name", "productNo"?, "prices"?: [...]}}', 'create a product'),
    ('update_product', 'billy.update_product', '{"org", "productId", "product": {...}}', 'change a product'),
    ('create_bill', 'billy.create_bill', '{"org", "bill": {"contactId", "entryDate", "lines": [{"accountId", "taxRateId", "description", "amount"}]}}', 'create a draft bill'),
    ('approve_bill', 'billy.approve_bill', '{"org", "billId"}', 'approve (book) a draft bill'),
    ('create_bank_payment', 'billy.create_bank_payment', '{"org", "payment": {"entryDate", "cashAmount", "associations": [{"subjectReference"}]}}', 'register a payment of invoices or bills'),
    ('update_organization', 'billy.update_organization', '{"org", "organization": {"name"?, "street"?, ...}}', 'change the organization''s settings')
) v(operation, function_name, args, description)
$$;
COMMENT ON FUNCTION billy.write_operations() IS
'The write operations billy.preview_write accepts, with the function that runs each in one call, the shape of its args and what it does. The names are stable: the MCP write tools use them.';

CREATE FUNCTION billy._forget_previews() RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH d AS (DELETE FROM billy.write_previews WHERE expires_at < now() - interval '1 day' RETURNING 1)
    SELECT count(*)::integer FROM d;
END;
COMMENT ON FUNCTION billy._forget_previews() IS 'Deletes previews expired more than a day ago (the worker calls it). Internal.';

-- the worker: sent ops no process holds are unknown (their sender died)
CREATE FUNCTION billy._orphaned_writes() RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w record;
    n integer := 0;
BEGIN
    FOR w IN SELECT id, organization_id, state FROM billy.write_ops
             WHERE state IN ('pending', 'sent') AND created_at < now() - interval '2 seconds'
             ORDER BY id FOR UPDATE SKIP LOCKED
    LOOP
        IF NOT pg_try_advisory_xact_lock(hashtext('billy write'), w.id::integer) THEN
            CONTINUE;
        END IF;
        IF w.state = 'pending' THEN
            UPDATE billy.write_ops SET state = 'failed', finished_at = now(),
                error = 'the process sending this write stopped before it was sent; nothing was sent'
            WHERE id = w.id;
        ELSE
            UPDATE billy.write_ops SET state = 'unknown',
                error = 'the process sending this write stopped before Billy answered'
            WHERE id = w.id;
            PERFORM billy._enqueue('reconcile_write', w.organization_id, jsonb_build_object('write_op_id', w.id), NULL, 20);
        END IF;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION billy._orphaned_writes() IS
'Finds writes left pending or sent by a process that stopped (no one holds their lock): pending ones failed (never sent), sent ones unknown and queued for reconciliation (which looks them up no sooner than billy.reconcile_delay_ms after they were sent: Billy may still be working on them). The worker calls it. Internal.';


------------------------------------------------------------------------------
-- The outbox's state changes, called by the C code that sends writes (as the
-- extension owner); each records its audit entry.
------------------------------------------------------------------------------

CREATE FUNCTION billy._write_begin(plan jsonb, actor name, sess name, client_info text,
                                   job bigint DEFAULT NULL, line integer DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    op bigint;
BEGIN
    INSERT INTO billy.write_ops (organization_id, operation, preview_hash, bulk_job_id, bulk_line, args,
                                 request, lookup, summary, requested_by, session_role, client, record_id)
    VALUES (plan ->> 'organization_id', plan ->> 'operation', plan ->> 'hash', job, line,
            coalesce(plan -> 'args', '{}'), plan -> 'request', plan -> 'lookup', plan ->> 'summary',
            actor, sess, client_info, plan ->> 'record_id')
    RETURNING id INTO op;
    -- held by the sending process until it is done: see billy._orphaned_writes
    PERFORM pg_advisory_lock(hashtext('billy write'), op::integer);
    RETURN op;
END
$$;
COMMENT ON FUNCTION billy._write_begin(jsonb, name, name, text, bigint, integer) IS
'Records a write as pending in the outbox (the preview hash, unique, makes a second use fail) and takes its lock for the sending process. Internal.';

CREATE FUNCTION billy._write_sent(op bigint) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    UPDATE billy.write_ops SET state = 'sent', sent_at = now(), attempts = attempts + 1 WHERE id = op;
END;
COMMENT ON FUNCTION billy._write_sent(bigint) IS 'Marks a write sent, before its request leaves. Internal.';

CREATE FUNCTION billy._write_audit(w billy.write_ops, what text, result text) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT billy._audit_append(w.requested_by, w.session_role, w.client, what || ':' || w.operation,
        w.organization_id, coalesce(split_part(w.request ->> 'path', '?', 1), w.operation)
            || CASE WHEN w.record_id IS NOT NULL AND position(w.record_id IN coalesce(w.request ->> 'path', '')) = 0
                    THEN ' -> ' || w.record_id ELSE '' END,
        jsonb_build_object('write_op_id', w.id, 'method', w.request ->> 'method', 'body', w.request -> 'body')
            || CASE WHEN w.bulk_job_id IS NOT NULL THEN jsonb_build_object('bulk_job_id', w.bulk_job_id, 'line', w.bulk_line) ELSE '{}' END,
        result);
END;
COMMENT ON FUNCTION billy._write_audit(billy.write_ops, text, text) IS 'Records a write''s outcome in the audit trail. Internal.';

CREATE FUNCTION billy._write_done(op bigint, status integer, rid text, changed jsonb, note text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w billy.write_ops;
    tbl text;
    rec jsonb;
BEGIN
    SELECT * INTO w FROM billy.write_ops WHERE id = op;
    tbl := billy._resource_table(CASE w.operation
        WHEN 'create_contact' THEN 'contacts' WHEN 'update_contact' THEN 'contacts'
        WHEN 'create_product' THEN 'products' WHEN 'update_product' THEN 'products'
        WHEN 'create_bill' THEN 'bills' WHEN 'approve_bill' THEN 'bills'
        WHEN 'create_bank_payment' THEN 'bankPayments' WHEN 'update_organization' THEN NULL
        ELSE 'invoices' END);
    IF tbl IS NOT NULL AND rid IS NOT NULL THEN
        EXECUTE format('SELECT raw FROM billy.%I WHERE organization_id = $1 AND id = $2', tbl)
            INTO rec USING w.organization_id, rid;
    ELSIF w.operation = 'update_organization' THEN
        SELECT raw INTO rec FROM billy.organizations WHERE id = w.organization_id;
    END IF;
    UPDATE billy.write_ops SET state = 'done', finished_at = now(), http_status = status, needs_decision = false,
        record_id = coalesce(rid, record_id), reconciliation = note, error = NULL, error_detail = NULL,
        result = jsonb_build_object('changed', coalesce(changed, '{}'), 'record', rec)
    WHERE id = op RETURNING * INTO w;
    PERFORM billy._write_audit(w, CASE WHEN note IS NULL THEN 'write' ELSE 'reconcile' END,
                               'done' || coalesce(': ' || note, ''));
    IF w.bulk_job_id IS NOT NULL AND EXISTS (SELECT 1 FROM billy.bulk_jobs b WHERE b.id = w.bulk_job_id
                                              AND b.state NOT IN ('queued', 'running')) THEN
        -- an import's row reconciled after its import ended (a running import counts its own)
        PERFORM billy._bulk_progress(w.bulk_job_id);
    END IF;
    PERFORM pg_advisory_unlock(hashtext('billy write'), op::integer);
END
$$;
COMMENT ON FUNCTION billy._write_done(bigint, integer, text, jsonb, text) IS 'Marks a write done with the record it wrote (as now in the mirror), audits it, releases its lock. Internal.';

CREATE FUNCTION billy._write_failed(op bigint, status integer, code text, msg text, detail text, note text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w billy.write_ops;
BEGIN
    UPDATE billy.write_ops SET state = 'failed', finished_at = now(), http_status = status, needs_decision = false,
        billy_error_code = code, error = msg, error_detail = detail, reconciliation = coalesce(note, reconciliation)
    WHERE id = op RETURNING * INTO w;
    PERFORM billy._write_audit(w, CASE WHEN note IS NULL THEN 'write' ELSE 'reconcile' END,
                               'failed: ' || msg || coalesce(' (' || code || ')', ''));
    IF w.bulk_job_id IS NOT NULL AND EXISTS (SELECT 1 FROM billy.bulk_jobs b WHERE b.id = w.bulk_job_id
                                              AND b.state NOT IN ('queued', 'running')) THEN
        PERFORM billy._bulk_progress(w.bulk_job_id);
    END IF;
    PERFORM pg_advisory_unlock(hashtext('billy write'), op::integer);
END
$$;
COMMENT ON FUNCTION billy._write_failed(bigint, integer, text, text, text, text) IS 'Marks a write failed (Billy refused it, or nothing was sent), audits it, releases its lock. Internal.';

CREATE FUNCTION billy._write_unknown(op bigint, msg text, delay_ms integer, note text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w billy.write_ops;
BEGIN
    UPDATE billy.write_ops SET state = 'unknown', error = msg, reconciliation = coalesce(note, reconciliation),
        needs_decision = delay_ms IS NULL, finished_at = NULL
    WHERE id = op RETURNING * INTO w;
    PERFORM billy._write_audit(w, CASE WHEN note IS NULL THEN 'write' ELSE 'reconcile' END, 'unknown: ' || msg);
    IF delay_ms IS NOT NULL THEN
        PERFORM billy._enqueue('reconcile_write', w.organization_id, jsonb_build_object('write_op_id', op),
                               clock_timestamp() + make_interval(secs => delay_ms / 1000.0), 20);
    END IF;
    PERFORM pg_advisory_unlock(hashtext('billy write'), op::integer);
END
$$;
COMMENT ON FUNCTION billy._write_unknown(bigint, text, integer, text) IS 'Marks a write''s outcome unknown, audits it and queues its reconciliation (after delay_ms); without delay_ms billy gives up and the write needs a person''s decision. Internal.';

-- _write_affected: the records a write's answer says changed, as the
-- mirror's parents (children point to their parent), and deletions
CREATE FUNCTION billy._write_affected(response jsonb) RETURNS TABLE (resource text, record_id text, deleted boolean)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT DISTINCT ON (r, i) r, i, d FROM (
    SELECT k AS r, e ->> 'id' AS i, false AS d
    FROM jsonb_each(response) AS t(k, v), jsonb_array_elements(CASE WHEN jsonb_typeof(v) = 'array' THEN v ELSE '[]' END) e
    WHERE k IN ('invoices', 'contacts', 'products', 'bills', 'bankPayments')
    UNION ALL
    SELECT split_part(e ->> 'subjectReference', ':', 1) || 's', split_part(e ->> 'subjectReference', ':', 2), false
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(response -> 'balanceModifiers') = 'array' THEN response -> 'balanceModifiers' ELSE '[]' END) e
    WHERE e ->> 'subjectReference' ~ '^(invoice|bill):'
    UNION ALL
    SELECT p.r, e ->> p.f, false
    FROM (VALUES ('invoiceLines', 'invoices', 'invoiceId'), ('billLines', 'bills', 'billId'),
                 ('contactPersons', 'contacts', 'contactId'), ('productPrices', 'products', 'productId')) p(k, r, f),
         jsonb_array_elements(CASE WHEN jsonb_typeof(response -> p.k) = 'array' THEN response -> p.k ELSE '[]' END) e
    UNION ALL
    SELECT k, x, true
    FROM jsonb_each(coalesce(response -> 'meta' -> 'deletedRecords', '{}')) AS t(k, v),
         jsonb_array_elements_text(CASE WHEN jsonb_typeof(v) = 'array' THEN v ELSE '[]' END) x
    WHERE k IN ('invoices', 'contacts', 'products', 'bills', 'bankPayments')
) a(r, i, d)
WHERE i IS NOT NULL AND i <> ''
ORDER BY r, i, d DESC
$$;
COMMENT ON FUNCTION billy._write_affected(jsonb) IS
'The mirrored records a write''s answer changed (plural roots, children mapped to their parents) or deleted (meta.deletedRecords). Internal.';

-- _write_matches: the records in a look-up's answer that are the write's
CREATE FUNCTION billy._write_matches(lookup jsonb, response jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids text[];
    rec jsonb;
BEGIN
    IF lookup ->> 'kind' = 'record' THEN
        rec := response -> (lookup ->> 'root');
        IF rec IS NULL THEN
            RETURN '{}';
        END IF;
        IF lookup ? 'expect' AND NOT (SELECT bool_and(rec -> k = v OR (rec ->> k) = (v #>> '{}'))
                                      FROM jsonb_each(lookup -> 'expect') e(k, v)) THEN
            RETURN '{}';
        END IF;
        IF lookup ? 'expect_in' AND NOT (SELECT bool_and(v ? (rec ->> k)) FROM jsonb_each(lookup -> 'expect_in') e(k, v)) THEN
            RETURN '{}';
        END IF;
        RETURN ARRAY[coalesce(rec ->> 'id', '')];
    END IF;
    SELECT array_agg(CASE WHEN lookup ? 'id_from' THEN split_part(e ->> (lookup ->> 'id_from'), ':', 2) ELSE e ->> 'id' END ORDER BY n)
    INTO ids
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(response -> (lookup ->> 'root')) = 'array' THEN response -> (lookup ->> 'root') ELSE '[]' END)
         WITH ORDINALITY AS t(e, n)
    WHERE NOT coalesce(lookup -> 'exclude', '[]') ? (e ->> 'id')
      AND (NOT lookup ? 'match' OR (SELECT bool_and((e ->> k) IS NOT DISTINCT FROM (v #>> '{}')) FROM jsonb_each(lookup -> 'match') m(k, v)))
      AND (NOT lookup ? 'match_prefix' OR (SELECT bool_and(starts_with(e ->> k, v #>> '{}')) FROM jsonb_each(lookup -> 'match_prefix') m(k, v)));
    RETURN coalesce(ids, '{}');
END
$$;
COMMENT ON FUNCTION billy._write_matches(jsonb, jsonb) IS
'The ids of the records in Billy''s answer to a reconciliation look-up that match the write (none, one, or several: a duplicate or an ambiguity). Internal.';

------------------------------------------------------------------------------
-- What a person does about writes billy could not settle
------------------------------------------------------------------------------

CREATE FUNCTION billy.resolve_write(write_op_id bigint, outcome text, record_id text DEFAULT NULL, note text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w billy.write_ops;
BEGIN
    IF outcome IS NULL OR outcome NOT IN ('done', 'failed') THEN
        RAISE EXCEPTION 'outcome must be ''done'' or ''failed''' USING ERRCODE = '22023',
            HINT = 'done: the write is in Billy (pass record_id when it created a record); failed: Billy does not have it.';
    END IF;
    IF NOT pg_has_role(CURRENT_USER, 'billy_admin', 'MEMBER') THEN
        RAISE EXCEPTION 'role "%" may not decide the outcome of a write', CURRENT_USER
            USING ERRCODE = '42501', HINT = 'It needs the billy_admin role.';
    END IF;
    -- as the caller: row-level security says which writes it sees
    SELECT * INTO w FROM billy.write_ops x WHERE x.id = write_op_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no write %', write_op_id USING ERRCODE = '22023', HINT = 'billy.write_ops lists the writes.';
    END IF;
    IF w.state <> 'unknown' THEN
        RAISE EXCEPTION 'write % is %, not unknown', write_op_id, w.state USING ERRCODE = '55000',
            HINT = 'Only a write whose outcome is unknown can be decided.';
    END IF;
    RETURN billy._write_resolve(write_op_id, outcome, record_id, note, CURRENT_USER);
END
$$;
COMMENT ON FUNCTION billy.resolve_write(bigint, text, text, text) IS
'Records what a person found in Billy about a write whose outcome is unknown (billy.write_ops state unknown, typically needs_decision): outcome ''done'' (it is in Billy; record_id names the record it made, when it made one) or ''failed'' (Billy does not have it; a new preview of the same write is then allowed). Nothing is sent to Billy; the decision is audited. For billy_admin. Returns the write''s row as JSON.';

CREATE FUNCTION billy._write_resolve(op bigint, outcome text, rid text, note text, actor name) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    w billy.write_ops;
BEGIN
    UPDATE billy.write_ops SET state = outcome, needs_decision = false, finished_at = now(),
        record_id = coalesce(rid, record_id),
        reconciliation = format('decided by %s: %s%s', actor, outcome, coalesce(' (' || note || ')', ''))
    WHERE id = op AND state = 'unknown'
    RETURNING * INTO w;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'write % is no longer unknown', op USING ERRCODE = '55000';
    END IF;
    PERFORM billy._audit_append(actor, session_user, NULL, 'resolve:' || w.operation, w.organization_id,
        coalesce(split_part(w.request ->> 'path', '?', 1), w.operation),
        jsonb_build_object('write_op_id', w.id, 'outcome', outcome, 'record_id', rid, 'note', note), outcome);
    RETURN to_jsonb(w) - 'request' - 'args';
END
$$;
COMMENT ON FUNCTION billy._write_resolve(bigint, text, text, text, name) IS 'Sets an unknown write''s outcome as a person decided it, and audits that (as the extension owner). Internal.';

CREATE FUNCTION billy.write_checks(org text DEFAULT NULL)
RETURNS TABLE (check_name text, organization_id text, write_op_id bigint, record_ids text[], detail text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT 'write_needs_decision', w.organization_id, w.id, CASE WHEN w.record_id IS NOT NULL THEN ARRAY[w.record_id] END,
       format('write %s (%s) has an unknown outcome billy could not settle: %s; %s. A person checks in Billy and calls billy.resolve_write.',
              w.id, w.summary, coalesce(w.error, 'no answer'), coalesce(w.reconciliation, 'not reconciled'))
FROM billy.write_ops w
WHERE w.state = 'unknown' AND w.needs_decision AND (org IS NULL OR w.organization_id = billy._resolve_org(org))
UNION ALL
SELECT 'write_unknown_long', w.organization_id, w.id, NULL,
       format('write %s (%s) has been unknown since %s; the worker should have settled it (is it running?).', w.id, w.summary, w.sent_at)
FROM billy.write_ops w
WHERE w.state = 'unknown' AND NOT w.needs_decision AND w.sent_at < now() - interval '1 hour'
  AND (org IS NULL OR w.organization_id = billy._resolve_org(org))
UNION ALL
SELECT 'duplicate_external_id', d.organization_id,
       (SELECT max(x.id) FROM billy.write_ops x WHERE x.organization_id = d.organization_id AND x.operation = 'create_invoice'
          AND x.request -> 'body' -> 'invoice' ->> 'externalId' = d.external_id),
       d.ids,
       format('%s invoices in Billy share the externalId %s (%s): a write made one of them twice, or they were made so in Billy; delete the extra one in Billy.',
              cardinality(d.ids), d.external_id, array_to_string(d.ids, ', '))
FROM (SELECT i.organization_id, i.external_id, array_agg(i.id ORDER BY i.id) AS ids
      FROM billy.invoices i
      WHERE i.deleted_at IS NULL AND coalesce(i.external_id, '') <> ''
        AND (org IS NULL OR i.organization_id = billy._resolve_org(org))
      GROUP BY i.organization_id, i.external_id HAVING count(*) > 1) d
ORDER BY 1, 2, 3
$$;
COMMENT ON FUNCTION billy.write_checks(text) IS
'What needs a person about writes, for one organization (id or name) or all the caller sees: write_needs_decision (an unknown outcome billy could not settle by looking in Billy, e.g. two records with the write''s externalId), write_unknown_long (unknown for over an hour: is the worker running?), duplicate_external_id (invoices in the mirror sharing an externalId, with the write that made them when billy did). No rows: nothing to do.';

GRANT SELECT ON billy.write_ops, billy.write_previews TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.write_checks(text) TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.resolve_write(bigint, text, text, text) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.preview_write(text, jsonb) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.commit_write(text) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.set_read_only(text, boolean) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy.write_operations() TO billy_reader;
GRANT EXECUTE ON FUNCTION billy.create_invoice(text, jsonb), billy.approve_invoice(text, text),
    billy.send_invoice(text, text, jsonb), billy.delete_draft_invoice(text, text),
    billy.create_contact(text, jsonb), billy.update_contact(text, text, jsonb),
    billy.create_product(text, jsonb), billy.update_product(text, text, jsonb),
    billy.create_bill(text, jsonb), billy.approve_bill(text, text),
    billy.create_bank_payment(text, jsonb), billy.update_organization(text, jsonb) TO billy_admin;
-- what the public functions above call as their invoker
GRANT EXECUTE ON FUNCTION billy._plan_write(text, jsonb), billy._require_writable(text),
    billy._raise_problems(jsonb), billy._commit_plan(text), billy._write_now(text, jsonb),
    billy._store_preview(text, jsonb), billy._write_resolve(bigint, text, text, text, name),
    billy._refuse_if_unsettled(text, text, jsonb),
    billy._set_read_only(text, boolean), billy._check_fields(jsonb, text, jsonb), billy._is_date(text),
    billy._cvr_valid(text), billy._problem(text, text), billy._touch(text, text, text),
    billy._ids(text, text, text, text), billy._live(text, text, text), billy._missing(text, text, text),
    billy._urlencode(text) TO billy_admin;
GRANT EXECUTE ON FUNCTION billy._is_date(text) TO billy_reader;

REVOKE ALL ON ALL TABLES IN SCHEMA billy FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA billy FROM PUBLIC;
