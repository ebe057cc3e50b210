------------------------------------------------------------------------------
-- billy's write operations: a row of billy.write_catalog (81-writes.sql)
-- and a plan function each.  The shape of the arguments is checked before a
-- plan function runs (against the row's input_schema, in C); a plan function
-- checks them against the mirror and builds the body:
--
--   billy._plan_<operation>(org text, args jsonb) RETURNS jsonb
--       {"problems": [{"field", "message"}], "touches": [billy._touch()...],
--        "body", "params"?, "lookup"?, "expect"?, "record_id"?, "summary"}
--
-- The one-call SQL functions (billy.create_invoice...) and their grants are
-- generated from the rows at the end of this file; the MCP tools in
-- 90-mcp.sql.
------------------------------------------------------------------------------

-- _plan_draft: a document that must be a live draft ("invoices" or "bills")
CREATE FUNCTION billy._plan_draft(tbl text, org text, rid text, field text, need text DEFAULT 'draft') RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st text;
    label text;
    noun text := rtrim(tbl, 's');
BEGIN
    EXECUTE format('SELECT state, coalesce(%s, id) FROM billy.%I WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL',
                   CASE WHEN tbl = 'invoices' THEN 'invoice_no' ELSE 'NULL::text' END, tbl)
        INTO st, label USING org, rid;
    IF st IS NULL THEN
        RETURN jsonb_build_object('problems', billy._problem(field, billy._missing(noun, org, rid)), 'touches', '[]'::jsonb);
    END IF;
    RETURN jsonb_build_object(
        'problems', CASE WHEN st = need THEN '[]'::jsonb
                         WHEN need = 'approved' THEN billy._problem(field, format('%s %s is %s: only approved %ss can be %s', noun, label, st, noun, 'credited'))
                         ELSE billy._problem(field, format('%s %s is %s, not a draft', noun, label, st)) END,
        'touches', jsonb_build_array(billy._touch(tbl, org, rid)),
        'label', label);
END
$$;
COMMENT ON FUNCTION billy._plan_draft(text, text, text, text, text) IS
'Checks that an invoice or bill is in the mirror and in the state a write needs (a draft by default): its problems, its touch and its label (the invoice number, else the id). Internal.';

-- the look-up of an update: the record with the scalar fields sent
CREATE FUNCTION billy._plan_expect(body jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT coalesce(jsonb_object_agg(k, v), '{}') FROM jsonb_each(body) e(k, v) WHERE jsonb_typeof(v) NOT IN ('array', 'object'));
COMMENT ON FUNCTION billy._plan_expect(jsonb) IS 'The scalar members of an update''s body: what its record must show when it was done. Internal.';

-- the summary of an update: the fields it changes
CREATE FUNCTION billy._plan_keys(body jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(body) k);
COMMENT ON FUNCTION billy._plan_keys(jsonb) IS 'The members of an update''s body, in order, for its summary. Internal.';

-- the look-ups of a new invoice (by the externalId billy gives it) and of a
-- new bill (by its supplier and date, the bills there before excluded): the
-- planners of invoices and of bills, credit notes among them, share them
CREATE FUNCTION billy._plan_invoice_lookup(ext text) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN jsonb_build_object('kind', 'list', 'path', '/invoices?externalId=' || billy._urlencode(ext),
                          'root', 'invoices', 'match', jsonb_build_object('externalId', ext));
COMMENT ON FUNCTION billy._plan_invoice_lookup(text) IS 'The look-up that finds a new invoice by the externalId billy gave it. Internal.';

CREATE FUNCTION billy._plan_bill_lookup(org text, contact text, day text, match jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN jsonb_build_object('kind', 'list',
    'path', format('/bills?contactId=%s&minEntryDate=%s&maxEntryDate=%s', billy._urlencode(contact),
                   billy._urlencode(day), billy._urlencode(day)),
    'root', 'bills', 'match', jsonb_build_object('contactId', contact, 'entryDate', day) || match,
    'exclude', billy._ids('bills', org, 'contact_id = $2', contact));
COMMENT ON FUNCTION billy._plan_bill_lookup(text, text, text, jsonb) IS
'The look-up that finds a new bill: the supplier''s bills of its date (and the other members of match) that were not there when it was planned. Internal.';

-- _plan_credited: what crediting an invoice or a bill starts with
CREATE FUNCTION billy._plan_credited(tbl text, org text, rid text, field text, line_ids jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d jsonb := billy._plan_draft(tbl, org, rid, field, 'approved');
    doc jsonb;
    cl jsonb;
BEGIN
    EXECUTE format('SELECT to_jsonb(x) FROM billy.%I x WHERE x.organization_id = $1 AND x.id = $2', tbl) INTO doc USING org, rid;
    IF d -> 'problems' = '[]' AND doc ->> 'type' = 'creditNote' THEN
        d := d || jsonb_build_object('problems', billy._problem(field, format('%s is a credit note itself', d ->> 'label')));
    END IF;
    IF d -> 'problems' <> '[]' THEN
        RETURN d;
    END IF;
    cl := billy._plan_credited_lines(rtrim(tbl, 's') || '_lines', org, rid, line_ids, 'lineIds');
    RETURN d || jsonb_build_object('problems', cl -> 'problems', 'document', doc, 'lines', cl -> 'lines');
END
$$;
COMMENT ON FUNCTION billy._plan_credited(text, text, text, text, jsonb) IS
'What a credit note of an invoice or bill starts from: the document must be approved and not a credit note itself; its row (document) and the lines credited (all, or line_ids), with their problems. Internal.';

------------------------------------------------------------------------------
-- invoices
------------------------------------------------------------------------------

CREATE FUNCTION billy._plan_invoice_lines(org text, lines jsonb, cur text, prefix text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p jsonb := '[]';
    t jsonb := '[]';
    out jsonb := '[]';
    x jsonb;
    i integer;
    f text;
    price numeric;
BEGIN
    FOR x, i IN SELECT e, n - 1 FROM jsonb_array_elements(lines) WITH ORDINALITY t(e, n) LOOP
        f := format('%s[%s]', prefix, i);
        IF NOT billy._live('products', org, x ->> 'productId') THEN
            p := p || billy._problem(f || '.productId', billy._missing('product', org, x ->> 'productId'));
            CONTINUE;
        END IF;
        t := t || jsonb_build_array(billy._touch('products', org, x ->> 'productId'));
        IF x ->> 'discountMode' = 'percent' AND (x ->> 'discountValue')::numeric > 100 THEN
            p := p || billy._problem(f || '.discountValue', 'a percent discount is at most 100');
        END IF;
        IF x ? 'discountValue' AND NOT x ? 'discountMode' THEN
            p := p || billy._problem(f || '.discountMode', 'is required with discountValue (cash or percent)');
        END IF;
        IF NOT x ? 'unitPrice' THEN
            SELECT pp.unit_price INTO price FROM billy.product_prices pp
            WHERE pp.organization_id = org AND pp.product_id = x ->> 'productId' AND pp.currency_id = cur;
            IF price IS NULL THEN
                p := p || billy._problem(f || '.unitPrice', format('is required: product "%s" has no %s price', x ->> 'productId', cur));
            END IF;
            x := x || jsonb_build_object('unitPrice', price);
        END IF;
        out := out || jsonb_build_array(x);
    END LOOP;
    RETURN jsonb_build_object('problems', p, 'touches', t, 'lines', out);
END
$$;
COMMENT ON FUNCTION billy._plan_invoice_lines(text, jsonb, text, text) IS
'Checks invoice lines against the mirror (products, discounts) and fills each unitPrice left out with the product''s price in the currency. Internal.';

CREATE FUNCTION billy._plan_create_invoice(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rec jsonb := args -> 'invoice';
    p jsonb := '[]';
    t jsonb := '[]';
    ct billy.contacts;
    cur text;
    ext text := coalesce(rec ->> 'externalId', 'billy-' || gen_random_uuid()::text);
    lines jsonb;
BEGIN
    SELECT * INTO ct FROM billy.contacts WHERE organization_id = org AND id = rec ->> 'contactId' AND deleted_at IS NULL;
    IF NOT FOUND THEN
        p := p || billy._problem('invoice.contactId', billy._missing('contact', org, rec ->> 'contactId'));
    ELSE
        t := t || jsonb_build_array(billy._touch('contacts', org, ct.id));
    END IF;
    cur := coalesce(rec ->> 'currencyId', ct.currency_id, (SELECT o.base_currency FROM billy.organizations o WHERE o.id = org), 'DKK');
    IF rec ? 'invoiceNo' AND EXISTS (SELECT 1 FROM billy.invoices WHERE organization_id = org
                                     AND invoice_no = rec ->> 'invoiceNo' AND deleted_at IS NULL) THEN
        p := p || billy._problem('invoice.invoiceNo', format('%s is already the number of another invoice', rec ->> 'invoiceNo'));
    END IF;
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
    lines := billy._plan_invoice_lines(org, rec -> 'lines', cur, 'invoice.lines');
    RETURN jsonb_build_object(
        'problems', p || (lines -> 'problems'), 'touches', t || (lines -> 'touches'),
        'body', jsonb_build_object('invoice', (rec - 'lines') || jsonb_build_object(
            'currencyId', cur, 'state', 'draft', 'externalId', ext, 'lines', lines -> 'lines')),
        'lookup', billy._plan_invoice_lookup(ext),
        'summary', format('create a draft %s for %s dated %s in %s with %s line(s)',
                          CASE WHEN rec ->> 'type' = 'creditNote' THEN 'credit note' ELSE 'invoice' END,
                          coalesce(ct.name, rec ->> 'contactId'), rec ->> 'entryDate', cur, jsonb_array_length(rec -> 'lines')));
END
$$;
COMMENT ON FUNCTION billy._plan_create_invoice(text, jsonb) IS
'Plans create_invoice: the contact, products, numbers and references checked against the mirror; currency and prices filled in; a generated externalId to find it again. Internal.';

-- approving and deleting a draft: the same plan for invoices and bills,
-- told apart by the member that names the document
CREATE FUNCTION billy._plan_approve_draft(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind text := CASE WHEN args ? 'invoiceId' THEN 'invoice' ELSE 'bill' END;
    rid text := args ->> (kind || 'Id');
BEGIN
    RETURN billy._plan_draft(kind || 's', org, rid, kind || 'Id') || jsonb_build_object('record_id', rid,
        'body', jsonb_build_object(kind, '{"state": "approved"}'::jsonb),
        'summary', format('approve draft %s %s (books it; cannot be undone)', kind, rid));
END
$$;
COMMENT ON FUNCTION billy._plan_approve_draft(text, jsonb) IS 'Plans approve_invoice and approve_bill: the document (invoiceId or billId) must be a draft in the mirror. Internal.';

CREATE FUNCTION billy._plan_delete_draft(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kind text := CASE WHEN args ? 'invoiceId' THEN 'invoice' ELSE 'bill' END;
    rid text := args ->> (kind || 'Id');
BEGIN
    RETURN billy._plan_draft(kind || 's', org, rid, kind || 'Id') || jsonb_build_object('record_id', rid,
        'summary', format('delete draft %s %s', kind, rid));
END
$$;
COMMENT ON FUNCTION billy._plan_delete_draft(text, jsonb) IS 'Plans delete_draft_invoice and delete_draft_bill: the document (invoiceId or billId) must be a draft in the mirror. Internal.';

CREATE FUNCTION billy._plan_send_invoice(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rid text := args ->> 'invoiceId';
    inv billy.invoices;
    p jsonb := '[]';
    t jsonb := '[]';
BEGIN
    SELECT * INTO inv FROM billy.invoices WHERE organization_id = org AND id = rid AND deleted_at IS NULL;
    IF NOT FOUND THEN
        p := billy._problem('invoiceId', billy._missing('invoice', org, rid));
    ELSE
        t := jsonb_build_array(billy._touch('invoices', org, rid));
        IF inv.state <> 'approved' THEN
            p := p || billy._problem('invoiceId', format('invoice %s is %s: only approved invoices can be sent', coalesce(inv.invoice_no, rid), inv.state));
        END IF;
        IF args ? 'contactPersonId' AND NOT EXISTS (SELECT 1 FROM billy.contact_persons cp WHERE cp.organization_id = org
                AND cp.id = args ->> 'contactPersonId' AND cp.contact_id = inv.contact_id) THEN
            p := p || billy._problem('contactPersonId', 'is not a contact person of the invoice''s contact');
        ELSIF NOT args ? 'contactPersonId' AND NOT EXISTS (SELECT 1 FROM billy.contact_persons cp WHERE cp.organization_id = org
                AND cp.contact_id = inv.contact_id AND coalesce(cp.email, '') <> '') THEN
            p := p || billy._problem('contactPersonId', 'is required: the invoice''s contact has no contact person with an e-mail address');
        END IF;
    END IF;
    RETURN jsonb_build_object('problems', p, 'touches', t, 'record_id', rid,
        'body', jsonb_build_object('email', jsonb_strip_nulls(jsonb_build_object(
            'contactPersonId', args ->> 'contactPersonId', 'emailSubject', args ->> 'emailSubject', 'emailBody', args ->> 'emailBody'))),
        -- whether it went out can be seen only when it was never sent before
        'lookup', CASE WHEN inv.sent_state IN ('unsent', 'printed') THEN
            jsonb_build_object('kind', 'record', 'path', '/invoices/{invoiceId}', 'root', 'invoice',
                               'expect_in', jsonb_build_object('sentState', jsonb_build_array('sent', 'opened', 'viewed'))) ELSE 'null' END,
        'summary', format('e-mail invoice %s to its contact', coalesce(inv.invoice_no, rid)));
END
$$;
COMMENT ON FUNCTION billy._plan_send_invoice(text, jsonb) IS 'Plans send_invoice: the invoice must be approved, the contact person one of its contact''s (or the contact must have one with an e-mail). Internal.';

------------------------------------------------------------------------------
-- contacts and products
------------------------------------------------------------------------------

-- _plan_contact: the checks a contact's fields get on create and update
CREATE FUNCTION billy._plan_contact(org text, body jsonb, rid text, country text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p jsonb := '[]';
    x jsonb;
    i integer;
    other text;
BEGIN
    IF body ? 'name' AND btrim(body ->> 'name') = '' THEN
        p := p || billy._problem('contact.name', 'must not be blank');
    END IF;
    IF coalesce(body ->> 'registrationNo', '') <> '' THEN
        SELECT c.name INTO other FROM billy.contacts c WHERE c.organization_id = org AND c.deleted_at IS NULL
          AND c.registration_no = body ->> 'registrationNo' AND c.id IS DISTINCT FROM rid LIMIT 1;
        IF country = 'DK' AND NOT billy._cvr_valid(body ->> 'registrationNo') THEN
            p := p || billy._problem('contact.registrationNo', format('"%s" is not a valid CVR number (8 digits passing the modulus 11 check)', body ->> 'registrationNo'));
        ELSIF other IS NOT NULL THEN
            p := p || billy._problem('contact.registrationNo', format('contact "%s" already has registrationNo %s', other, body ->> 'registrationNo'));
        END IF;
    END IF;
    IF coalesce(body ->> 'contactNo', '') <> '' AND EXISTS (SELECT 1 FROM billy.contacts c WHERE c.organization_id = org
            AND c.deleted_at IS NULL AND c.contact_no = body ->> 'contactNo' AND c.id IS DISTINCT FROM rid) THEN
        p := p || billy._problem('contact.contactNo', format('%s is already the number of another contact', body ->> 'contactNo'));
    END IF;
    FOR x, i IN SELECT e, n - 1 FROM jsonb_array_elements(coalesce(body -> 'contactPersons', '[]')) WITH ORDINALITY t(e, n) LOOP
        IF coalesce(x ->> 'name', '') = '' AND coalesce(x ->> 'email', '') = '' THEN
            p := p || billy._problem(format('contact.contactPersons[%s]', i), 'needs a name or an e-mail address');
        END IF;
    END LOOP;
    RETURN p;
END
$$;
COMMENT ON FUNCTION billy._plan_contact(text, jsonb, text, text) IS
'The problems of a contact''s fields against the mirror: a blank name, a CVR number failing modulus 11 (Danish contacts) or another contact''s, another contact''s number, a contact person with neither name nor e-mail. Internal.';

CREATE FUNCTION billy._plan_create_contact(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    body jsonb := args -> 'contact';
    reg text := nullif(body ->> 'registrationNo', '');
BEGIN
    IF NOT body ? 'countryId' THEN
        body := body || jsonb_build_object('countryId', coalesce((SELECT o.country_id FROM billy.organizations o WHERE o.id = org), 'DK'));
    END IF;
    RETURN jsonb_build_object('problems', billy._plan_contact(org, body, NULL, body ->> 'countryId'),
        'body', jsonb_build_object('contact', body),
        'lookup', CASE WHEN reg IS NOT NULL THEN
            jsonb_build_object('kind', 'list', 'path', '/contacts?registrationNo=' || billy._urlencode(reg),
                'root', 'contacts', 'match', jsonb_build_object('registrationNo', reg, 'name', body ->> 'name'),
                'exclude', billy._ids('contacts', org, 'registration_no = $2', reg))
            ELSE jsonb_build_object('kind', 'list', 'path', '/contacts?q=' || billy._urlencode(body ->> 'name'),
                'root', 'contacts', 'match', jsonb_build_object('name', body ->> 'name'),
                'exclude', billy._ids('contacts', org, 'name = $2', body ->> 'name')) END,
        'summary', format('create contact "%s" (%s)', body ->> 'name', body ->> 'countryId'));
END
$$;
COMMENT ON FUNCTION billy._plan_create_contact(text, jsonb) IS 'Plans create_contact: the country defaults to the organization''s; found again by CVR number or name. Internal.';

CREATE FUNCTION billy._plan_update_contact(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rid text := args ->> 'contactId';
    body jsonb := args -> 'contact';
    ct billy.contacts;
BEGIN
    SELECT * INTO ct FROM billy.contacts WHERE organization_id = org AND id = rid AND deleted_at IS NULL;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('problems', billy._problem('contactId', billy._missing('contact', org, rid)));
    END IF;
    RETURN jsonb_build_object('problems', billy._plan_contact(org, body, rid, coalesce(body ->> 'countryId', ct.country_id)),
        'touches', jsonb_build_array(billy._touch('contacts', org, rid)), 'record_id', rid,
        'body', jsonb_build_object('contact', body), 'expect', billy._plan_expect(body),
        'summary', format('update contact "%s": %s', ct.name, billy._plan_keys(body)));
END
$$;
COMMENT ON FUNCTION billy._plan_update_contact(text, jsonb) IS 'Plans update_contact: the contact must be in the mirror; its changed fields checked as on create. Internal.';

-- _plan_product: the checks a product's fields get on create and update,
-- and its body with the prices as numbers
CREATE FUNCTION billy._plan_product(org text, body jsonb, rid text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p jsonb := '[]';
BEGIN
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
    IF (SELECT count(*) <> count(DISTINCT e ->> 'currencyId') FROM jsonb_array_elements(coalesce(body -> 'prices', '[]')) e) THEN
        p := p || billy._problem('product.prices', 'has more than one price in a currency');
    END IF;
    RETURN p;
END
$$;
COMMENT ON FUNCTION billy._plan_product(text, jsonb, text) IS
'The problems of a product''s fields against the mirror: a blank name, another product''s number, an unknown account or ruleset, two prices in one currency. Internal.';

CREATE FUNCTION billy._plan_create_product(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    body jsonb := args -> 'product';
    no text := nullif(body ->> 'productNo', '');
BEGIN
    RETURN jsonb_build_object('problems', billy._plan_product(org, body, NULL),
        'body', jsonb_build_object('product', body),
        'lookup', CASE WHEN no IS NOT NULL THEN
            jsonb_build_object('kind', 'list', 'path', '/products?productNo=' || billy._urlencode(no),
                'root', 'products', 'match', jsonb_build_object('productNo', no, 'name', body ->> 'name'),
                'exclude', billy._ids('products', org, 'product_no = $2', no))
            ELSE jsonb_build_object('kind', 'list', 'path', '/products?q=' || billy._urlencode(body ->> 'name'),
                'root', 'products', 'match', jsonb_build_object('name', body ->> 'name'),
                'exclude', billy._ids('products', org, 'name = $2', body ->> 'name')) END,
        'summary', format('create product "%s"', body ->> 'name'));
END
$$;
COMMENT ON FUNCTION billy._plan_create_product(text, jsonb) IS 'Plans create_product: found again by product number or name. Internal.';

CREATE FUNCTION billy._plan_update_product(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rid text := args ->> 'productId';
    body jsonb := args -> 'product';
BEGIN
    IF NOT billy._live('products', org, rid) THEN
        RETURN jsonb_build_object('problems', billy._problem('productId', billy._missing('product', org, rid)));
    END IF;
    RETURN jsonb_build_object('problems', billy._plan_product(org, body, rid),
        'touches', jsonb_build_array(billy._touch('products', org, rid)), 'record_id', rid,
        'body', jsonb_build_object('product', body), 'expect', billy._plan_expect(body),
        'summary', format('update product %s: %s', rid, billy._plan_keys(body)));
END
$$;
COMMENT ON FUNCTION billy._plan_update_product(text, jsonb) IS 'Plans update_product: the product must be in the mirror; its changed fields checked as on create. Internal.';

------------------------------------------------------------------------------
-- bills, payments, the organization
------------------------------------------------------------------------------

CREATE FUNCTION billy._plan_bill_lines(org text, lines jsonb, prefix text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p jsonb := '[]';
    x jsonb;
    i integer;
    purchase boolean;
BEGIN
    FOR x, i IN SELECT e, n - 1 FROM jsonb_array_elements(lines) WITH ORDINALITY t(e, n) LOOP
        IF NOT billy._live('accounts', org, x ->> 'accountId') THEN
            p := p || billy._problem(format('%s[%s].accountId', prefix, i), billy._missing('account', org, x ->> 'accountId'));
        END IF;
        SELECT coalesce(t.applies_to_purchases, true) INTO purchase FROM billy.tax_rates t
        WHERE t.organization_id = org AND t.id = x ->> 'taxRateId' AND t.deleted_at IS NULL;
        IF purchase IS NULL THEN
            p := p || billy._problem(format('%s[%s].taxRateId', prefix, i), billy._missing('tax rate', org, x ->> 'taxRateId'));
        ELSIF NOT purchase THEN
            p := p || billy._problem(format('%s[%s].taxRateId', prefix, i), 'is a sales tax rate; a bill line needs a purchase rate');
        END IF;
    END LOOP;
    RETURN p;
END
$$;
COMMENT ON FUNCTION billy._plan_bill_lines(text, jsonb, text) IS 'The problems of bill lines against the mirror: unknown accounts, unknown or sales tax rates. Internal.';

CREATE FUNCTION billy._plan_create_bill(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rec jsonb := args -> 'bill';
    p jsonb := '[]';
    t jsonb := '[]';
BEGIN
    IF NOT billy._live('contacts', org, rec ->> 'contactId') THEN
        p := p || billy._problem('bill.contactId', billy._missing('contact', org, rec ->> 'contactId'));
    ELSE
        t := jsonb_build_array(billy._touch('contacts', org, rec ->> 'contactId'));
    END IF;
    IF (rec ->> 'dueDate')::date < (rec ->> 'entryDate')::date THEN
        p := p || billy._problem('bill.dueDate', 'is before entryDate');
    END IF;
    IF rec ? 'creditedBillId' AND NOT billy._live('bills', org, rec ->> 'creditedBillId') THEN
        p := p || billy._problem('bill.creditedBillId', billy._missing('bill', org, rec ->> 'creditedBillId'));
    END IF;
    RETURN jsonb_build_object('problems', p || billy._plan_bill_lines(org, rec -> 'lines', 'bill.lines'), 'touches', t,
        'body', jsonb_build_object('bill', rec || '{"state": "draft"}'),
        'lookup', billy._plan_bill_lookup(org, rec ->> 'contactId', rec ->> 'entryDate'),
        'summary', format('create a draft %s from %s dated %s', CASE WHEN rec ->> 'type' = 'creditNote' THEN 'credit note' ELSE 'bill' END,
                          rec ->> 'contactId', rec ->> 'entryDate'));
END
$$;
COMMENT ON FUNCTION billy._plan_create_bill(text, jsonb) IS 'Plans create_bill: the supplier, accounts and purchase tax rates checked against the mirror. Internal.';

CREATE FUNCTION billy._plan_create_bank_payment(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rec jsonb := args -> 'payment';
    p jsonb := '[]';
    t jsonb := '[]';
    x jsonb;
    i integer;
    f text;
    kind text;
    rid text;
    d record;
    ids text[] := '{}';
    cur text;
    open_balance numeric := 0;
    body jsonb;
    cash_cur text;
BEGIN
    FOR x, i IN SELECT e, n - 1 FROM jsonb_array_elements(rec -> 'associations') WITH ORDINALITY t(e, n) LOOP
        f := format('payment.associations[%s].subjectReference', i);
        IF kind IS NOT NULL AND kind <> split_part(x ->> 'subjectReference', ':', 1) THEN
            p := p || billy._problem(f, 'one payment pays either invoices or bills');
        END IF;
        kind := split_part(x ->> 'subjectReference', ':', 1);
        rid := split_part(x ->> 'subjectReference', ':', 2);
        EXECUTE format('SELECT state, balance, currency_id FROM billy.%I WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL', kind || 's')
            INTO d USING org, rid;
        IF d.state IS NULL THEN
            p := p || billy._problem(f, billy._missing(kind, org, rid));
            CONTINUE;
        END IF;
        t := t || jsonb_build_array(billy._touch(kind || 's', org, rid));
        ids := ids || rid;
        IF d.state <> 'approved' THEN
            p := p || billy._problem(f, format('%s %s is %s, not approved', kind, rid, d.state));
        ELSIF d.balance = 0 THEN
            p := p || billy._problem(f, format('%s %s is paid already', kind, rid));
        END IF;
        IF cur IS NOT NULL AND cur <> d.currency_id THEN
            p := p || billy._problem(f, 'all invoices or bills of one payment must be in one currency');
        END IF;
        cur := d.currency_id;
        open_balance := open_balance + abs(coalesce(d.balance, 0));
    END LOOP;
    body := rec || jsonb_build_object('cashSide', coalesce(rec ->> 'cashSide', CASE WHEN kind = 'bill' THEN 'credit' ELSE 'debit' END));
    IF NOT rec ? 'cashAccountId' THEN
        body := body || jsonb_build_object('cashAccountId', (
            SELECT a.id FROM billy.accounts a WHERE a.organization_id = org AND a.is_payment_enabled AND a.deleted_at IS NULL
            ORDER BY (a.currency_id IS NOT DISTINCT FROM cur) DESC, a.account_no LIMIT 1));
        IF body ->> 'cashAccountId' IS NULL THEN
            p := p || billy._problem('payment.cashAccountId', 'is required: the organization has no payment-enabled account in the mirror');
        END IF;
    ELSIF NOT billy._live('accounts', org, rec ->> 'cashAccountId') THEN
        p := p || billy._problem('payment.cashAccountId', billy._missing('account', org, rec ->> 'cashAccountId'));
    ELSIF NOT EXISTS (SELECT 1 FROM billy.accounts a WHERE a.organization_id = org AND a.id = rec ->> 'cashAccountId' AND a.is_payment_enabled) THEN
        p := p || billy._problem('payment.cashAccountId', 'is not a payment-enabled (bank) account');
    END IF;
    SELECT a.currency_id INTO cash_cur FROM billy.accounts a WHERE a.organization_id = org AND a.id = body ->> 'cashAccountId';
    IF cur IS NOT NULL AND cash_cur IS NOT DISTINCT FROM cur
       AND (rec ->> 'cashAmount')::numeric + coalesce((rec ->> 'feeAmount')::numeric, 0) > open_balance THEN
        p := p || billy._problem('payment.cashAmount', format('%s is more than the open balance %s %s', rec ->> 'cashAmount', open_balance, cur));
    END IF;
    RETURN jsonb_build_object('problems', p, 'touches', t, 'body', jsonb_build_object('bankPayment', body),
        'lookup', CASE WHEN cardinality(ids) > 0 THEN jsonb_build_object('kind', 'list',
            'path', '/balanceModifiers?subjectReference=' || billy._urlencode(kind || ':' || ids[1]),
            'root', 'balanceModifiers', 'match_prefix', jsonb_build_object('modifierReference', 'bankPayment:'),
            'id_from', 'modifierReference',
            'exclude', (SELECT coalesce(jsonb_agg(m.id), '[]') FROM billy.balance_modifiers m
                        WHERE m.organization_id = org AND m.subject_id = ids[1])) ELSE 'null' END,
        'summary', format('register a payment of %s %s on %s for %s %s(s)', rec ->> 'cashAmount', coalesce(cur, ''),
                          rec ->> 'entryDate', cardinality(ids), coalesce(kind, 'document')));
END
$$;
COMMENT ON FUNCTION billy._plan_create_bank_payment(text, jsonb) IS
'Plans create_bank_payment: every invoice or bill approved, unpaid, of one kind and currency; the cash account payment-enabled (default: one in that currency); no more than the open balance. Found again through the first document''s balance modifiers. Internal.';

CREATE FUNCTION billy._plan_update_organization(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rec jsonb := args -> 'organization';
    p jsonb := '[]';
BEGIN
    IF rec = '{}' THEN
        p := p || billy._problem('organization', 'names no field to change');
    END IF;
    IF rec ? 'name' AND btrim(rec ->> 'name') = '' THEN
        p := p || billy._problem('organization.name', 'must not be blank');
    END IF;
    IF coalesce(rec ->> 'registrationNo', '') <> ''
       AND coalesce((SELECT o.country_id FROM billy.organizations o WHERE o.id = org), 'DK') = 'DK'
       AND NOT billy._cvr_valid(rec ->> 'registrationNo') THEN
        p := p || billy._problem('organization.registrationNo', format('"%s" is not a valid CVR number (8 digits passing the modulus 11 check)', rec ->> 'registrationNo'));
    END IF;
    RETURN jsonb_build_object('problems', p, 'body', jsonb_build_object('organization', rec), 'expect', rec,
        'summary', format('update the organization''s settings: %s', billy._plan_keys(rec)));
END
$$;
COMMENT ON FUNCTION billy._plan_update_organization(text, jsonb) IS 'Plans update_organization: a name not blank, a Danish CVR number passing modulus 11. Internal.';

------------------------------------------------------------------------------
-- the documents' lifecycle: drafts changed and deleted, credit notes
------------------------------------------------------------------------------

-- _plan_draft_change: the plan of a change to a draft invoice or bill, from
-- its _plan_draft (with the lines' problems and touches added) and the body
CREATE FUNCTION billy._plan_draft_change(d jsonb, noun text, rid text, body jsonb, note text DEFAULT '') RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN d || jsonb_build_object('record_id', rid, 'body', jsonb_build_object(noun, body), 'expect', billy._plan_expect(body),
                               'summary', format('change draft %s %s: %s%s', noun, rid, billy._plan_keys(body), note));
COMMENT ON FUNCTION billy._plan_draft_change(jsonb, text, text, jsonb, text) IS
'The plan of a change to a draft invoice or bill: its _plan_draft (problems, touches), the record, the body, the fields a done change shows and the summary. Internal.';

CREATE FUNCTION billy._plan_update_draft_invoice(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rid text := args ->> 'invoiceId';
    body jsonb := args -> 'changes';
    d jsonb := billy._plan_draft('invoices', org, rid, 'invoiceId');
    lines jsonb;
BEGIN
    IF d -> 'problems' <> '[]' OR NOT body ? 'lines' THEN
        RETURN billy._plan_draft_change(d, 'invoice', rid, body);
    END IF;
    lines := billy._plan_invoice_lines(org, body -> 'lines',
        coalesce(body ->> 'currencyId', (SELECT i.currency_id FROM billy.invoices i WHERE i.organization_id = org AND i.id = rid)), 'changes.lines');
    RETURN billy._plan_draft_change(
        jsonb_build_object('problems', lines -> 'problems', 'touches', (d -> 'touches') || (lines -> 'touches')),
        'invoice', rid, body || jsonb_build_object('lines', lines -> 'lines'), ' (its lines replaced)');
END
$$;
COMMENT ON FUNCTION billy._plan_update_draft_invoice(text, jsonb) IS 'Plans update_draft_invoice: the invoice must be a draft; lines, when given, are checked as on create and replace the old ones. Internal.';

CREATE FUNCTION billy._plan_update_draft_bill(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rid text := args ->> 'billId';
    body jsonb := args -> 'changes';
    d jsonb := billy._plan_draft('bills', org, rid, 'billId');
BEGIN
    RETURN billy._plan_draft_change(d || jsonb_build_object(
        'problems', (d -> 'problems') || CASE WHEN d -> 'problems' = '[]' AND body ? 'lines'
                                              THEN billy._plan_bill_lines(org, body -> 'lines', 'changes.lines') ELSE '[]' END),
        'bill', rid, body);
END
$$;
COMMENT ON FUNCTION billy._plan_update_draft_bill(text, jsonb) IS 'Plans update_draft_bill: the bill must be a draft; lines, when given, are checked as on create and replace the old ones. Internal.';

-- _plan_credited_lines: the lines of a document a credit note takes (all,
-- or those named), as the mirror has them, and the names not found
CREATE FUNCTION billy._plan_credited_lines(tbl text, org text, doc text, ids jsonb, field text) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lines jsonb;
    missing text;
BEGIN
    EXECUTE format('SELECT coalesce(jsonb_agg(to_jsonb(l) ORDER BY l.priority, l.id), ''[]'') FROM billy.%I l
                    WHERE l.organization_id = $1 AND l.%I = $2 AND ($3 IS NULL OR $3 ? l.id)',
                   tbl, CASE WHEN tbl = 'invoice_lines' THEN 'invoice_id' ELSE 'bill_id' END)
        INTO lines USING org, doc, ids;
    SELECT string_agg(x, ', ') INTO missing FROM jsonb_array_elements_text(coalesce(ids, '[]')) x
    WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(lines) l WHERE l ->> 'id' = x);
    RETURN jsonb_build_object('lines', lines, 'problems', CASE
        WHEN missing IS NOT NULL THEN billy._problem(field, format('%s: no such line of %s %s (get it for its lines'' ids)', missing, rtrim(split_part(tbl, '_', 1), 's'), doc))
        WHEN jsonb_array_length(lines) = 0 THEN billy._problem(field, format('%s %s has no lines in the mirror', split_part(tbl, '_', 1), doc))
        ELSE '[]' END);
END
$$;
COMMENT ON FUNCTION billy._plan_credited_lines(text, text, text, jsonb, text) IS
'The lines of an invoice or bill that a credit note credits (all, or the ids given), as the mirror has them, with a problem for an id that is not one of its lines. Internal.';

CREATE FUNCTION billy._plan_credit_invoice(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rid text := args ->> 'invoiceId';
    cl jsonb := billy._plan_credited('invoices', org, rid, 'invoiceId', args -> 'lineIds');
    inv jsonb := cl -> 'document';
    ext text := 'billy-' || gen_random_uuid()::text;
BEGIN
    IF NOT cl ? 'lines' THEN
        RETURN cl;
    END IF;
    RETURN (cl - 'document' - 'lines') || jsonb_build_object(
        'body', jsonb_build_object('invoice', jsonb_strip_nulls(jsonb_build_object(
            'type', 'creditNote', 'creditedInvoiceId', rid, 'contactId', inv ->> 'contact_id', 'currencyId', inv ->> 'currency_id',
            'taxMode', inv ->> 'tax_mode', 'entryDate', coalesce(args ->> 'entryDate', current_date::text), 'state', 'draft',
            'externalId', ext, 'contactMessage', args ->> 'contactMessage',
            'lines', (SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                          'productId', l ->> 'product_id', 'description', l ->> 'description',
                          'quantity', (l ->> 'quantity')::numeric, 'unitPrice', (l ->> 'unit_price')::numeric,
                          'discountMode', l ->> 'discount_mode', 'discountValue', (l ->> 'discount_value')::numeric))), '[]')
                      FROM jsonb_array_elements(cl -> 'lines') l)))),
        'lookup', billy._plan_invoice_lookup(ext),
        'summary', format('create a draft credit note for invoice %s (%s of its %s lines); approve_invoice books it', cl ->> 'label',
                          jsonb_array_length(cl -> 'lines'),
                          (SELECT count(*) FROM billy.invoice_lines l WHERE l.organization_id = org AND l.invoice_id = rid)));
END
$$;
COMMENT ON FUNCTION billy._plan_credit_invoice(text, jsonb) IS
'Plans credit_invoice: a draft credit note of an approved invoice for the same customer and currency, crediting all its lines or those named (as the mirror has them). Internal.';

CREATE FUNCTION billy._plan_credit_bill(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rid text := args ->> 'billId';
    cl jsonb := billy._plan_credited('bills', org, rid, 'billId', args -> 'lineIds');
    b jsonb := cl -> 'document';
    day text := coalesce(args ->> 'entryDate', current_date::text);
BEGIN
    IF NOT cl ? 'lines' THEN
        RETURN cl;
    END IF;
    RETURN (cl - 'document' - 'lines') || jsonb_build_object(
        'body', jsonb_build_object('bill', jsonb_build_object(
            'type', 'creditNote', 'creditedBillId', rid, 'contactId', b ->> 'contact_id', 'currencyId', b ->> 'currency_id',
            'taxMode', 'excl', 'entryDate', day, 'state', 'draft',
            'lines', (SELECT coalesce(jsonb_agg(jsonb_build_object('accountId', l ->> 'account_id', 'taxRateId', l ->> 'tax_rate_id',
                          'description', coalesce(l ->> 'description', ''), 'amount', (l ->> 'amount')::numeric)), '[]')
                      FROM jsonb_array_elements(cl -> 'lines') l))),
        'lookup', billy._plan_bill_lookup(org, b ->> 'contact_id', day, jsonb_build_object('creditedBillId', rid)),
        'summary', format('create a draft credit note for bill %s (%s of its lines, net); approve_bill books it', rid, jsonb_array_length(cl -> 'lines')));
END
$$;
COMMENT ON FUNCTION billy._plan_credit_bill(text, jsonb) IS
'Plans credit_bill: a draft credit note of an approved bill from the same supplier in its currency, crediting all its lines or those named (net amounts, as the mirror has them). Internal.';

------------------------------------------------------------------------------
-- deleting contacts and products: only those no live document uses
------------------------------------------------------------------------------

CREATE FUNCTION billy._plan_delete_master(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    contact boolean := args ? 'contactId';
    rid text := CASE WHEN contact THEN args ->> 'contactId' ELSE args ->> 'productId' END;
    f text := CASE WHEN contact THEN 'contactId' ELSE 'productId' END;
    name text;
    uses text;
BEGIN
    IF contact THEN
        SELECT c.name INTO name FROM billy.contacts c WHERE c.organization_id = org AND c.id = rid AND c.deleted_at IS NULL;
        SELECT nullif(concat_ws(', ',
                   (SELECT nullif(count(*), 0) || ' invoice(s)' FROM billy.invoices i WHERE i.organization_id = org AND i.contact_id = rid AND i.deleted_at IS NULL),
                   (SELECT nullif(count(*), 0) || ' bill(s)' FROM billy.bills b WHERE b.organization_id = org AND b.contact_id = rid AND b.deleted_at IS NULL),
                   (SELECT nullif(count(*), 0) || ' bank payment(s)' FROM billy.bank_payments p WHERE p.organization_id = org AND p.contact_id = rid AND p.deleted_at IS NULL)), '')
        INTO uses;
    ELSE
        SELECT p.name INTO name FROM billy.products p WHERE p.organization_id = org AND p.id = rid AND p.deleted_at IS NULL;
        SELECT nullif(count(*), 0) || ' invoice line(s)' INTO uses FROM billy.invoice_lines l JOIN billy.invoices i
            ON i.organization_id = l.organization_id AND i.id = l.invoice_id AND i.deleted_at IS NULL
        WHERE l.organization_id = org AND l.product_id = rid;
    END IF;
    IF name IS NULL THEN
        RETURN jsonb_build_object('problems', billy._problem(f, billy._missing(CASE WHEN contact THEN 'contact' ELSE 'product' END, org, rid)));
    END IF;
    RETURN jsonb_build_object(
        'problems', CASE WHEN uses IS NULL THEN '[]'::jsonb ELSE billy._problem(f, format(
            '%s "%s" is in use (%s): Billy refuses to delete it; archive it instead (isArchived true)',
            CASE WHEN contact THEN 'contact' ELSE 'product' END, name, uses)) END,
        'touches', jsonb_build_array(billy._touch(CASE WHEN contact THEN 'contacts' ELSE 'products' END, org, rid)),
        'record_id', rid, 'summary', format('delete %s "%s" (%s)', CASE WHEN contact THEN 'contact' ELSE 'product' END, name, rid));
END
$$;
COMMENT ON FUNCTION billy._plan_delete_master(text, jsonb) IS
'Plans delete_contact and delete_product: the record must be in the mirror and used by no live invoice, bill or bank payment (a contact) or invoice line (a product): Billy refuses those, and the problem says so and how to archive instead. Internal.';

------------------------------------------------------------------------------
-- contact persons: a contact's persons are replaced as a whole (Billy's
-- contact.contactPersons is has-many, replace-on-set), so adding, changing
-- or removing one sends the contact's new list
------------------------------------------------------------------------------

CREATE FUNCTION billy._plan_contact_person(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pid text := args ->> 'contactPersonId';
    cid text := coalesce(args ->> 'contactId',
                         (SELECT p.contact_id FROM billy.contact_persons p WHERE p.organization_id = org AND p.id = pid));
    cname text;
    field text := CASE WHEN args ? 'person' THEN 'person' ELSE 'changes' END;
    person jsonb;               -- the person added or changed, as it will be
    persons jsonb;              -- the others, as the mirror has them
BEGIN
    SELECT c.name INTO cname FROM billy.contacts c WHERE c.organization_id = org AND c.id = cid AND c.deleted_at IS NULL;
    IF cname IS NULL THEN
        RETURN jsonb_build_object('problems', CASE WHEN pid IS NOT NULL THEN billy._problem('contactPersonId', billy._missing('contact person', org, pid))
                                                   ELSE billy._problem('contactId', billy._missing('contact', org, cid)) END);
    END IF;
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('name', p.name, 'email', p.email, 'phone', p.raw ->> 'phone', 'isPrimary', p.is_primary)) ORDER BY p.id), '[]')
    INTO persons FROM billy.contact_persons p WHERE p.organization_id = org AND p.contact_id = cid AND p.id IS DISTINCT FROM pid;
    SELECT jsonb_strip_nulls(jsonb_build_object('name', p.name, 'email', p.email, 'phone', p.raw ->> 'phone', 'isPrimary', p.is_primary)) || (args -> 'changes')
    INTO person FROM billy.contact_persons p WHERE p.organization_id = org AND p.id = pid AND args ? 'changes';
    person := coalesce(person, args -> 'person');
    IF (person ->> 'isPrimary')::boolean THEN
        -- one primary person: the one given
        persons := (SELECT jsonb_agg(e || '{"isPrimary": false}' ORDER BY n) FROM jsonb_array_elements(persons) WITH ORDINALITY x(e, n));
    END IF;
    RETURN jsonb_build_object(
        'problems', CASE WHEN person IS NOT NULL AND coalesce(person ->> 'name', '') = '' AND coalesce(person ->> 'email', '') = ''
                         THEN billy._problem(field, 'needs a name or an e-mail address')
                         WHEN pid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM billy.contact_persons p WHERE p.organization_id = org AND p.id = pid)
                         THEN billy._problem('contactPersonId', billy._missing('contact person', org, pid))
                         ELSE '[]'::jsonb END,
        'touches', jsonb_build_array(billy._touch('contacts', org, cid)), 'record_id', cid, 'params', jsonb_build_object('contactId', cid),
        'body', jsonb_build_object('contact', jsonb_build_object('contactPersons', coalesce(persons, '[]') || CASE WHEN person IS NULL THEN '[]' ELSE jsonb_build_array(person) END)),
        'summary', format('%s contact "%s" (its persons are sent anew)',
                          CASE WHEN args ? 'person' THEN 'add a contact person to' WHEN args ? 'changes' THEN 'change a contact person of'
                               ELSE 'remove a contact person from' END, cname));
END
$$;
COMMENT ON FUNCTION billy._plan_contact_person(text, jsonb) IS
'Plans add_contact_person (person), update_contact_person (changes) and delete_contact_person: the contact''s persons as the mirror has them, with the one added, changed or removed, sent as its new list (Billy replaces them; isPrimary on one clears it on the others). Internal.';

------------------------------------------------------------------------------
-- journal entries (daybook transactions): balanced before they are sent,
-- VAT per line (a line with a tax rate is gross: Billy splits the VAT off)
------------------------------------------------------------------------------

-- _amounts_by_currency: {"DKK": 100, "EUR": 20.5} as "100 + 20.5 EUR" (the
-- base currency unnamed, zeros left out; NULL when nothing is left)
CREATE FUNCTION billy._amounts_by_currency(amounts jsonb, base text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT string_agg(t.v || CASE WHEN t.k <> base THEN ' ' || t.k ELSE '' END, ' + ' ORDER BY t.k <> base, t.k)
        FROM jsonb_each_text(amounts) t(k, v) WHERE t.v::numeric <> 0);
COMMENT ON FUNCTION billy._amounts_by_currency(jsonb, text) IS 'Amounts per currency ({"DKK": 100, "EUR": 20.5}) as text for a summary: "100 + 20.5 EUR", the base currency unnamed, zeros left out; NULL when none is left. Internal.';

CREATE FUNCTION billy._plan_create_journal_entry(org text, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p jsonb := '[]';
    x jsonb;
    i integer;
    f text;
    rate numeric;
    rc boolean;
    cur text;
    -- per currency (amounts in two currencies never add up)
    sides jsonb := '{}';
    vat jsonb := '{}';
    rc_vat jsonb := '{}';
    b record;
    base text := COALESCE((SELECT o.base_currency FROM billy.organizations o WHERE o.id = org), 'DKK');
    body jsonb := args - 'approve';
BEGIN
    FOR x, i IN SELECT e, n - 1 FROM jsonb_array_elements(args -> 'lines') WITH ORDINALITY t(e, n) LOOP
        f := format('lines[%s]', i);
        IF NOT billy._live('accounts', org, x ->> 'accountId') THEN
            p := p || billy._problem(f || '.accountId', billy._missing('account', org, x ->> 'accountId'));
        END IF;
        IF x ? 'contraAccountId' AND NOT billy._live('accounts', org, x ->> 'contraAccountId') THEN
            p := p || billy._problem(f || '.contraAccountId', billy._missing('account', org, x ->> 'contraAccountId'));
        END IF;
        IF x ? 'contraAccountId' AND x ->> 'contraAccountId' = x ->> 'accountId' THEN
            p := p || billy._problem(f || '.contraAccountId', 'is the line''s own account');
        END IF;
        rate := NULL;
        rc := false;
        IF x ? 'taxRateId' THEN
            SELECT t.rate, COALESCE(m.reverse_charge, false) INTO rate, rc
            FROM billy.tax_rates t
            LEFT JOIN billy.vat_rate_map m ON m.organization_id = t.organization_id AND m.tax_rate_id = t.id
            WHERE t.organization_id = org AND t.id = x ->> 'taxRateId' AND t.deleted_at IS NULL;
            IF rate IS NULL THEN
                p := p || billy._problem(f || '.taxRateId', billy._missing('tax rate', org, x ->> 'taxRateId'));
            END IF;
        END IF;
        cur := coalesce(x ->> 'currencyId', base);
        IF rc THEN
            -- reverse charge (billy.vat_rate_map): the amount is the net and
            -- nothing is split off it; the buyer books the VAT on top (the
            -- rate, 25% when it is 0, of the amount), owed and deducted
            rc_vat := rc_vat || jsonb_build_object(cur, coalesce((rc_vat ->> cur)::numeric, 0)
                                                        + round((x ->> 'amount')::numeric * CASE WHEN rate > 0 THEN rate ELSE 0.25 END, 2));
        ELSE
            -- VAT per line: the gross amount's share at the line's rate
            vat := vat || jsonb_build_object(cur, coalesce((vat ->> cur)::numeric, 0)
                                                  + round((x ->> 'amount')::numeric * coalesce(rate, 0) / (1 + coalesce(rate, 0)), 2));
        END IF;
    END LOOP;
    -- a line with a contra account balances itself; the others must balance
    -- together, in each currency (Billy converts each line to the base
    -- currency itself: lines in two currencies never balance each other)
    FOR b IN SELECT coalesce(e ->> 'currencyId', base) AS currency,
                    coalesce(sum((e ->> 'amount')::numeric) FILTER (WHERE e ->> 'side' = 'debit'), 0) AS debit,
                    coalesce(sum((e ->> 'amount')::numeric) FILTER (WHERE e ->> 'side' IS DISTINCT FROM 'debit'), 0) AS credit
             FROM jsonb_array_elements(args -> 'lines') e
             WHERE NOT e ? 'contraAccountId'
             GROUP BY 1 ORDER BY 1 LOOP
        IF b.debit <> b.credit THEN
            p := p || billy._problem('lines', format('do not balance%s: debits %s, credits %s (lines without a contraAccountId must balance each other%s; off by %s)',
                                                      CASE WHEN b.currency <> base THEN ' in ' || b.currency ELSE '' END, b.debit, b.credit,
                                                      CASE WHEN b.currency <> base THEN ' in their currency' ELSE '' END, abs(b.debit - b.credit)));
        END IF;
        sides := sides || jsonb_build_object(b.currency, b.debit);
    END LOOP;
    RETURN jsonb_build_object('problems', p,
        'body', jsonb_build_object('daybookTransaction', body || jsonb_build_object('state',
            CASE WHEN (args ->> 'approve')::boolean THEN 'approved' ELSE 'draft' END)),
        'lookup', jsonb_build_object('kind', 'list',
            'path', format('/daybookTransactions?minEntryDate=%s&maxEntryDate=%s', args ->> 'entryDate', args ->> 'entryDate'),
            'root', 'daybookTransactions',
            'match', jsonb_strip_nulls(jsonb_build_object('entryDate', args ->> 'entryDate', 'description', args ->> 'description',
                                                          'voucherNo', args ->> 'voucherNo'))),
        'summary', format('%s a journal entry dated %s with %s line(s)%s%s%s',
                          CASE WHEN (args ->> 'approve')::boolean THEN 'book' ELSE 'draft' END, args ->> 'entryDate',
                          jsonb_array_length(args -> 'lines'),
                          coalesce(', ' || billy._amounts_by_currency(sides, base) || ' on each side', ''),
                          coalesce(', VAT ' || billy._amounts_by_currency(vat, base) || ' split off by the lines'' tax rates', ''),
                          coalesce(', reverse-charge VAT ' || billy._amounts_by_currency(rc_vat, base)
                                   || ' on top of the reverse-charge lines (owed and deducted, not split off)', '')));
END
$$;
COMMENT ON FUNCTION billy._plan_create_journal_entry(text, jsonb) IS
'Plans create_journal_entry: every account, contra account and tax rate in the mirror; the lines without a contra account balancing (debits = credits) in each currency, checked before anything is sent; in the summary, per currency, the VAT each taxed (gross) line splits off, and apart from it the VAT a reverse-charge line (billy.vat_rate_map) adds on top of its amount, the net (owed and deducted, nothing split off). Internal.';

-- approving and voiding a journal entry: Billy refuses one that does not
-- balance, or is not a draft (approve) or approved (void)
CREATE FUNCTION billy._plan_journal_entry_state(org text, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN jsonb_build_object('record_id', args ->> 'journalEntryId',
    'body', jsonb_build_object('daybookTransaction', jsonb_build_object('state', args ->> 'state')),
    'expect', jsonb_build_object('state', args ->> 'state'),
    'summary', format('%s journal entry %s', CASE args ->> 'state' WHEN 'approved' THEN 'book (approve)' ELSE 'void' END, args ->> 'journalEntryId'));
COMMENT ON FUNCTION billy._plan_journal_entry_state(text, jsonb) IS 'Plans set_journal_entry_state: approve (book) a draft journal entry or void an approved one. Internal.';

------------------------------------------------------------------------------
-- the rows
------------------------------------------------------------------------------

-- _args_schema: an operation's args schema from its members and the required ones
CREATE FUNCTION billy._args_schema(props jsonb, required text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN jsonb_build_object('type', 'object', 'properties', props, 'required', to_jsonb(required), 'additionalProperties', false);
COMMENT ON FUNCTION billy._args_schema(jsonb, text[]) IS 'The JSON Schema of a write operation''s args: an object of these members, the required ones named, no others. Internal.';

CREATE FUNCTION billy._contact_schema(creating boolean) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN jsonb_build_object('type', 'object',
    'description', CASE WHEN creating THEN 'The contact.' ELSE 'The fields to change; contactPersons, when given, replace the old ones.' END,
    'properties', $j${
        "name": {"type": "string", "minLength": 1, "maxLength": 255, "description": "Name."}, "type": {"enum": ["company", "person"]},
        "countryId": {"type": "string", "pattern": "^[A-Z]{2}$", "description": "Default: the organization's."},
        "street": {"type": "string", "maxLength": 255, "description": "Street address."}, "zipcodeText": {"type": "string", "maxLength": 32, "description": "Postal code."},
        "cityText": {"type": "string", "maxLength": 255, "description": "City."}, "stateText": {"type": "string", "maxLength": 255},
        "contactNo": {"type": "string", "maxLength": 64}, "phone": {"type": "string", "maxLength": 64, "description": "Phone."},
        "fax": {"type": "string", "maxLength": 64},
        "registrationNo": {"type": "string", "maxLength": 32, "description": "CVR number (checked for DK)."},
        "ean": {"type": "string", "pattern": "^[0-9]{13}$"},
        "localeId": {"enum": ["da_DK", "en_US", "de_DE", "fr_FR", "nl_NL"]},
        "currencyId": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "isCustomer": {"type": "boolean", "description": "Default true."}, "isSupplier": {"type": "boolean", "description": "A supplier."}, "isArchived": {"type": "boolean"},
        "isSalesTaxExempt": {"type": "boolean"}, "paymentTermsMode": {"enum": ["net"]},
        "paymentTermsDays": {"type": "integer", "minimum": 0, "maximum": 3650, "description": "Days to pay."},
        "contactPersons": {"type": "array", "description": "People with e-mails (invoices are sent to them).", "items": {"type": "object",
            "properties": {"name": {"type": "string", "maxLength": 255, "description": "Name."}, "email": {"type": "string", "format": "email", "description": "E-mail."},
                           "isPrimary": {"type": "boolean"}}, "additionalProperties": false}}}$j$::jsonb,
    'required', CASE WHEN creating THEN '["name"]'::jsonb ELSE '[]'::jsonb END,
    'minProperties', 1,
    'additionalProperties', false);
COMMENT ON FUNCTION billy._contact_schema(boolean) IS 'The JSON Schema of a contact in create_contact (name required) and update_contact. Internal.';

CREATE FUNCTION billy._product_schema(creating boolean) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN jsonb_build_object('type', 'object',
    'description', CASE WHEN creating THEN 'The product.' ELSE 'The fields to change; prices, when given, replace the old ones.' END,
    'properties', $j${
        "name": {"type": "string", "minLength": 1, "maxLength": 255, "description": "Name."}, "description": {"type": "string", "maxLength": 1000, "description": "Description."},
        "productNo": {"type": "string", "maxLength": 64, "description": "Product number."}, "suppliersProductNo": {"type": "string", "maxLength": 64},
        "accountId": {"type": "string", "description": "Its revenue account (list_accounts)."},
        "salesTaxRulesetId": {"type": "string"}, "isArchived": {"type": "boolean"},
        "prices": {"type": "array", "description": "One price per currency.", "items": {"type": "object",
            "properties": {"unitPrice": {"type": "number", "minimum": 0, "multipleOf": 0.01}, "currencyId": {"type": "string", "pattern": "^[A-Z]{3}$"}},
            "required": ["unitPrice", "currencyId"], "additionalProperties": false}}}$j$::jsonb,
    'required', CASE WHEN creating THEN '["name"]'::jsonb ELSE '[]'::jsonb END,
    'minProperties', 1,
    'additionalProperties', false);
COMMENT ON FUNCTION billy._product_schema(boolean) IS 'The JSON Schema of a product in create_product (name required) and update_product. Internal.';

INSERT INTO billy.write_catalog (operation, resource, method, path, lookup, input_schema, plan_function, description,
                                 wrapper, wrapper_args, wrapper_comment, mcp_tool, mcp_title, mcp_description, mcp_renames,
                                 mcp_sort, destructive, idempotent, subjects, builtin)
SELECT v.*, true FROM (VALUES
    ('create_invoice', 'invoices', 'POST', '/invoices', NULL::jsonb,
     billy._args_schema(jsonb_build_object(
        'invoice', $j${"type": "object", "description": "The draft invoice: customer, date, lines.",
            "properties": {
                "contactId": {"type": "string", "description": "The customer (a contact id)."},
                "entryDate": {"type": "string", "format": "date"},
                "currencyId": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "Default: the customer's, else the base currency."},
                "exchangeRate": {"type": "number", "minimum": 0},
                "paymentTermsMode": {"enum": ["net"]},
                "paymentTermsDays": {"type": "integer", "minimum": 0, "maximum": 3650, "description": "Days to pay."},
                "taxMode": {"enum": ["incl", "excl"], "description": "Whether prices include VAT (default excl)."},
                "invoiceNo": {"type": "string", "maxLength": 64},
                "externalId": {"type": "string", "maxLength": 255},
                "orderNo": {"type": "string", "maxLength": 255},
                "contactMessage": {"type": "string", "maxLength": 5000},
                "attContactPersonId": {"type": "string"},
                "type": {"enum": ["invoice", "creditNote"]},
                "creditedInvoiceId": {"type": "string"},
                "state": {"enum": ["draft"]},
                "lines": {"type": "array", "minItems": 1, "maxItems": 500, "items": {"type": "object",
                    "properties": {"productId": {"type": "string"}, "description": {"type": "string", "maxLength": 1000, "description": "Line text."},
                                   "quantity": {"type": "number", "description": "Default 1."}, "unitPrice": {"type": "number", "multipleOf": 0.01, "description": "Default: the product's price."},
                                   "discountMode": {"enum": ["cash", "percent"]}, "discountValue": {"type": "number", "minimum": 0},
                                   "discountText": {"type": "string", "maxLength": 255}, "priority": {"type": "integer"}},
                    "required": ["productId"], "additionalProperties": false}}},
            "required": ["contactId", "entryDate", "lines"], "additionalProperties": false}$j$::jsonb), ARRAY['invoice']),
     'billy._plan_create_invoice'::regproc, 'create a draft invoice', 'billy.create_invoice', ARRAY['invoice'],
     'Creates a draft invoice in Billy and in the mirror. invoice: {"contactId", "entryDate", "currencyId" (default the contact''s, else the base currency), "lines": [{"productId", "unitPrice" (default the product''s price in that currency), "quantity", "description", "discountMode": cash|percent, "discountValue"}], optional "paymentTermsDays", "taxMode": incl|excl, "invoiceNo", "externalId" (default a generated billy-<uuid>, used to find it again), "orderNo", "contactMessage", "attContactPersonId"}. Checked locally first (every problem names its field); needs billy.enable_writes and billy_admin. Returns what billy.commit_write returns. For a two-step confirmation use billy.preview_write(''create_invoice'', {"org", "invoice"}) and billy.commit_write.',
     'create_invoice', 'Create a draft invoice', 'Creates a draft invoice for a customer with product lines; approve_invoice books it.', '{}'::jsonb, 120, false, false, NULL),
    ('approve_invoice', 'invoices', 'PUT', '/invoices/{invoiceId}', '{"kind": "record", "path": "/invoices/{invoiceId}", "root": "invoice", "expect": {"state": "approved"}}'::jsonb,
     billy._args_schema(jsonb_build_object(
        'invoiceId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb), ARRAY['invoiceId']),
     'billy._plan_approve_draft'::regproc, 'approve (book) a draft invoice', 'billy.approve_invoice', ARRAY['invoiceId'],
     'Approves a draft invoice in Billy (it gets its number and is booked; this cannot be undone) and updates the mirror. Returns what billy.commit_write returns.',
     'approve_invoice', 'Approve an invoice', 'Approves (books) a draft invoice: it gets its number; only a credit note undoes it.', '{}'::jsonb, 130, true, true, NULL),
    ('send_invoice', 'invoices', 'POST', '/invoices/{invoiceId}/emails', NULL::jsonb,
     billy._args_schema(jsonb_build_object(
        'invoiceId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb,
        'contactPersonId', '{"type": "string", "maxLength": 64, "description": "Default: the customer''s first person with an e-mail."}'::jsonb,
        'emailSubject', '{"type": "string", "maxLength": 255}'::jsonb,
        'emailBody', '{"type": "string", "maxLength": 20000}'::jsonb), ARRAY['invoiceId']),
     'billy._plan_send_invoice'::regproc, 'e-mail an approved invoice', 'billy.send_invoice', ARRAY['invoiceId', '*email'],
     'E-mails an approved invoice through Billy. email: optional {"contactPersonId" (default: the contact''s first person with an e-mail), "emailSubject", "emailBody"}. Its sentState becomes sent. Returns what billy.commit_write returns.',
     'send_invoice', 'E-mail an invoice', 'E-mails an approved invoice to the customer through Billy; it cannot be recalled.', '{}'::jsonb, 140, true, false, NULL),
    ('delete_draft_invoice', 'invoices', 'DELETE', '/invoices/{invoiceId}', '{"kind": "gone", "path": "/invoices/{invoiceId}"}'::jsonb,
     billy._args_schema(jsonb_build_object(
        'invoiceId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb), ARRAY['invoiceId']),
     'billy._plan_delete_draft'::regproc, 'delete a draft invoice', 'billy.delete_draft_invoice', ARRAY['invoiceId'],
     'Deletes a draft invoice in Billy (approved invoices cannot be deleted) and marks it deleted in the mirror. Returns what billy.commit_write returns.',
     'delete_draft_invoice', 'Delete a draft invoice', 'Deletes a draft invoice in Billy (an approved one needs credit_invoice).', '{}'::jsonb, 150, true, true, NULL),
    ('create_contact', 'contacts', 'POST', '/contacts', NULL::jsonb,
     billy._args_schema(jsonb_build_object(
        'contact', billy._contact_schema(true)), ARRAY['contact']),
     'billy._plan_create_contact'::regproc, 'create a customer or supplier', 'billy.create_contact', ARRAY['contact'],
     'Creates a contact (customer or supplier) in Billy and in the mirror. contact: {"name", "countryId" (default the organization''s), "type": company|person, "street", "zipcodeText", "cityText", "registrationNo" (a Danish CVR number is checked; one already used by another contact is refused), "ean", "phone", "contactNo", "isCustomer", "isSupplier", "paymentTermsDays", "currencyId", "localeId", "contactPersons": [{"name", "email", "isPrimary"}]}. Returns what billy.commit_write returns.',
     'create_customer', 'Create a customer', 'Creates a customer (contact) in Billy; a CVR number already used is refused.', '{"contact": "customer"}'::jsonb, 220, false, false, NULL),
    ('update_contact', 'contacts', 'PUT', '/contacts/{contactId}', '{"kind": "record", "path": "/contacts/{contactId}", "root": "contact"}'::jsonb,
     billy._args_schema(jsonb_build_object(
        'contactId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb,
        'contact', billy._contact_schema(false)), ARRAY['contactId', 'contact']),
     'billy._plan_update_contact'::regproc, 'change a contact', 'billy.update_contact', ARRAY['contactId', 'contact'],
     'Changes the given fields of a contact in Billy and in the mirror (fields as in billy.create_contact; contactPersons, when given, replace the old ones). Returns what billy.commit_write returns.',
     'update_customer', 'Update a customer', 'Changes fields of a customer in Billy; the old values are overwritten.', '{"contactId": "customer_id", "contact": "changes"}'::jsonb, 230, true, true, NULL),
    ('create_product', 'products', 'POST', '/products', NULL::jsonb,
     billy._args_schema(jsonb_build_object(
        'product', billy._product_schema(true)), ARRAY['product']),
     'billy._plan_create_product'::regproc, 'create a product', 'billy.create_product', ARRAY['product'],
     'Creates a product in Billy and in the mirror. product: {"name", "productNo" (unique), "description", "accountId" (revenue account), "salesTaxRulesetId", "suppliersProductNo", "prices": [{"unitPrice", "currencyId"}]}. Returns what billy.commit_write returns.',
     'create_product', 'Create a product', 'Creates a product with its prices in Billy.', '{}'::jsonb, 320, false, false, NULL),
    ('update_product', 'products', 'PUT', '/products/{productId}', '{"kind": "record", "path": "/products/{productId}", "root": "product"}'::jsonb,
     billy._args_schema(jsonb_build_object(
        'productId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb,
        'product', billy._product_schema(false)), ARRAY['productId', 'product']),
     'billy._plan_update_product'::regproc, 'change a product', 'billy.update_product', ARRAY['productId', 'product'],
     'Changes the given fields of a product in Billy and in the mirror (prices, when given, replace the old ones). Returns what billy.commit_write returns.',
     'update_product', 'Update a product', 'Changes fields of a product in Billy; the old values are overwritten.', '{"product": "changes"}'::jsonb, 330, true, true, NULL),
    ('create_bill', 'bills', 'POST', '/bills', NULL::jsonb,
     billy._args_schema(jsonb_build_object(
        'bill', $j${"type": "object", "description": "The draft bill: supplier, date, lines.",
            "properties": {
                "contactId": {"type": "string", "description": "The supplier (a contact id)."},
                "entryDate": {"type": "string", "format": "date"}, "dueDate": {"type": "string", "format": "date", "description": "Default: by the terms."},
                "currencyId": {"type": "string", "pattern": "^[A-Z]{3}$"}, "exchangeRate": {"type": "number", "minimum": 0},
                "taxMode": {"enum": ["incl", "excl"], "description": "Whether amounts include VAT."}, "suppliersInvoiceNo": {"type": "string", "maxLength": 255, "description": "The suppliers invoice number."},
                "voucherNo": {"type": "string", "maxLength": 64}, "state": {"enum": ["draft"]},
                "type": {"enum": ["bill", "creditNote"]}, "creditedBillId": {"type": "string"},
                "lines": {"type": "array", "minItems": 1, "items": {"type": "object",
                    "properties": {"accountId": {"type": "string", "description": "An expense account (list_accounts)."},
                                   "taxRateId": {"type": "string", "description": "A purchase tax rate (list_tax_rates)."},
                                   "description": {"type": "string", "maxLength": 1000},
                                   "amount": {"type": "number", "multipleOf": 0.01, "description": "Gross when taxMode is incl."},
                                   "priority": {"type": "integer"}},
                    "required": ["accountId", "taxRateId", "description", "amount"], "additionalProperties": false}}},
            "required": ["contactId", "entryDate", "lines"], "additionalProperties": false}$j$::jsonb), ARRAY['bill']),
     'billy._plan_create_bill'::regproc, 'create a draft bill', 'billy.create_bill', ARRAY['bill'],
     'Creates a draft bill (a purchase) in Billy and in the mirror. bill: {"contactId" (the supplier), "entryDate", "lines": [{"accountId", "taxRateId" (a purchase rate), "description", "amount" (gross when taxMode is incl)}], optional "dueDate", "currencyId", "taxMode", "suppliersInvoiceNo"}. Returns what billy.commit_write returns.',
     'create_bill', 'Create a draft bill', 'Records a supplier''s bill as a draft (expense accounts: list_accounts; purchase tax rates: list_tax_rates).', '{}', 410, false, false, NULL),
    ('approve_bill', 'bills', 'PUT', '/bills/{billId}', '{"kind": "record", "path": "/bills/{billId}", "root": "bill", "expect": {"state": "approved"}}'::jsonb,
     billy._args_schema(jsonb_build_object(
        'billId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb), ARRAY['billId']),
     'billy._plan_approve_draft'::regproc, 'approve (book) a draft bill', 'billy.approve_bill', ARRAY['billId'],
     'Approves a draft bill in Billy (it is booked; this cannot be undone) and updates the mirror. Returns what billy.commit_write returns.',
     'approve_bill', 'Approve a bill', 'Approves (books) a draft bill; only credit_bill undoes it.', '{}'::jsonb, 420, true, true, NULL),
    ('create_bank_payment', 'bankPayments', 'POST', '/bankPayments', NULL::jsonb,
     billy._args_schema(jsonb_build_object(
        'payment', $j${"type": "object", "description": "The payment and the invoices or bills it settles.",
            "properties": {
                "entryDate": {"type": "string", "format": "date"},
                "cashAmount": {"type": "number", "minimum": 0.01, "multipleOf": 0.01},
                "cashAccountId": {"type": "string", "description": "Default: a bank account in the documents' currency."},
                "cashSide": {"enum": ["debit", "credit"], "description": "debit: money in (invoices, the default); credit: money out (bills)."},
                "cashExchangeRate": {"type": "number", "minimum": 0},
                "feeAmount": {"type": "number", "minimum": 0, "multipleOf": 0.01}, "feeAccountId": {"type": "string"},
                "contactId": {"type": "string"},
                "associations": {"type": "array", "minItems": 1, "maxItems": 16, "items": {"type": "object",
                    "properties": {"subjectReference": {"type": "string", "pattern": "^(invoice|bill):[A-Za-z0-9_-]+$", "description": "invoice:ID or bill:ID"}},
                    "required": ["subjectReference"], "additionalProperties": false}}},
            "required": ["entryDate", "cashAmount", "associations"], "additionalProperties": false}$j$::jsonb), ARRAY['payment']),
     'billy._plan_create_bank_payment'::regproc, 'register a payment of invoices or bills', 'billy.create_bank_payment', ARRAY['payment'],
     'Registers a payment against approved invoices or bills in Billy, and updates their balances in the mirror. payment: {"entryDate", "cashAmount", "associations": [{"subjectReference": "invoice:<id>" or "bill:<id>"}], optional "cashAccountId" (default: a payment-enabled account in the documents'' currency), "cashSide" (default debit for invoices, credit for bills), "cashExchangeRate", "feeAmount", "feeAccountId"}. More than the open balance is refused. Returns what billy.commit_write returns.',
     'create_bank_payment', 'Register a payment', 'Registers a payment of approved invoices or bills, lowering their balance.', '{}'::jsonb, 510, false, false, ARRAY['bankPayment', 'associations']),
    ('update_organization', NULL, 'PUT', '/organizations/{org}', '{"kind": "record", "path": "/organization", "root": "organization"}'::jsonb,
     billy._args_schema(jsonb_build_object(
        'organization', $j${"type": "object", "description": "The settings to change.",
            "properties": {
                "name": {"type": "string", "maxLength": 255}, "street": {"type": "string", "maxLength": 255},
                "zipcode": {"type": "string", "maxLength": 32}, "city": {"type": "string", "maxLength": 255},
                "phone": {"type": "string", "maxLength": 64, "description": "Phone."}, "email": {"type": "string", "format": "email", "description": "E-mail."},
                "registrationNo": {"type": "string", "maxLength": 32},
                "paymentTermsDays": {"type": "integer", "minimum": 0, "maximum": 3650, "description": "Default days to pay."},
                "defaultTaxMode": {"enum": ["incl", "excl"], "description": "Whether prices include VAT by default."}},
            "additionalProperties": false}$j$::jsonb), ARRAY['organization']),
     'billy._plan_update_organization'::regproc, 'change the organization''s settings', 'billy.update_organization', ARRAY['organization'],
     'Changes the organization''s settings in Billy: {"name", "street", "zipcode", "city", "phone", "email", "registrationNo", "paymentTermsDays", "defaultTaxMode"}, any of them; billy.organizations is refreshed. Returns what billy.commit_write returns.',
     'update_organization_settings', 'Update organization settings', 'Changes the organization''s settings in Billy; the old values are overwritten.', '{"organization": "settings"}', 520, true, true, NULL)
) v;

-- the lifecycle: its members reuse the create operations' schemas
INSERT INTO billy.write_catalog (operation, resource, method, path, lookup, input_schema, plan_function, description,
                                 wrapper, wrapper_args, wrapper_comment, mcp_tool, mcp_title, mcp_description, mcp_renames,
                                 mcp_sort, destructive, idempotent, builtin)
SELECT v.operation, v.resource, v.method, v.path, v.lookup::jsonb, billy._args_schema(v.props, v.required), v.plan_function::regproc,
       v.description, 'billy.' || v.operation, v.wrapper_args, v.wrapper_comment, v.mcp_tool, v.mcp_title, v.mcp_description,
       v.renames::jsonb, v.mcp_sort, v.destructive, v.idempotent, true
FROM (SELECT w.input_schema #> '{properties,invoice}' AS invoice, b.input_schema #> '{properties,bill}' AS bill
      FROM billy.write_catalog w, billy.write_catalog b WHERE w.operation = 'create_invoice' AND b.operation = 'create_bill') c,
LATERAL (VALUES
    ('update_draft_invoice', 'invoices', 'PUT', '/invoices/{invoiceId}', '{"kind": "record", "path": "/invoices/{invoiceId}", "root": "invoice"}',
     jsonb_build_object('invoiceId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb,
        'changes', jsonb_build_object('type', 'object', 'minProperties', 1, 'additionalProperties', false,
            'description', 'The fields to change; lines, when given, replace the old ones.',
            'properties', jsonb_build_object('lines', c.invoice #> '{properties,lines}') || (SELECT jsonb_object_agg(k, c.invoice #> ARRAY['properties', k])
                FROM unnest(ARRAY['currencyId', 'exchangeRate', 'paymentTermsDays', 'taxMode', 'invoiceNo', 'orderNo', 'contactMessage', 'attContactPersonId']) k))),
     ARRAY['invoiceId', 'changes'], ARRAY['invoiceId', 'changes'], 'billy._plan_update_draft_invoice', 'change a draft invoice',
     'Changes the given fields of a draft invoice in Billy and in the mirror (contact, type and date never change; lines, when given, replace the old ones, checked as in billy.create_invoice). Returns what billy.commit_write returns.',
     'update_draft_invoice', 'Update a draft invoice', 'Changes a draft invoice: terms, currency, numbers, message or its lines (replaced).', '{}', 125, true, true),
    ('update_draft_bill', 'bills', 'PUT', '/bills/{billId}', '{"kind": "record", "path": "/bills/{billId}", "root": "bill"}',
     jsonb_build_object('billId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb,
        'changes', jsonb_build_object('type', 'object', 'minProperties', 1, 'additionalProperties', false,
            'description', 'The fields to change; lines, when given, replace the old ones.',
            'properties', (SELECT jsonb_object_agg(k, c.bill #> ARRAY['properties', k])
                FROM unnest(ARRAY['entryDate', 'dueDate', 'currencyId', 'exchangeRate', 'taxMode', 'suppliersInvoiceNo', 'voucherNo', 'lines']) k))),
     ARRAY['billId', 'changes'], ARRAY['billId', 'changes'], 'billy._plan_update_draft_bill', 'change a draft bill',
     'Changes the given fields of a draft bill in Billy and in the mirror (the supplier never changes; lines, when given, replace the old ones, checked as in billy.create_bill). Returns what billy.commit_write returns.',
     'update_draft_bill', 'Update a draft bill', 'Changes a draft bill: dates, numbers, currency or its lines (replaced).', '{}', 412, true, true),
    ('delete_draft_bill', 'bills', 'DELETE', '/bills/{billId}', '{"kind": "gone", "path": "/bills/{billId}"}',
     jsonb_build_object('billId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb),
     ARRAY['billId'], ARRAY['billId'], 'billy._plan_delete_draft', 'delete a draft bill',
     'Deletes a draft bill in Billy (approved bills cannot be deleted: credit them) and marks it deleted in the mirror. Returns what billy.commit_write returns.',
     'delete_draft_bill', 'Delete a draft bill', 'Deletes a draft bill in Billy (an approved one needs credit_bill).', '{}', 414, true, true),
    ('credit_invoice', 'invoices', 'POST', '/invoices', NULL,
     jsonb_build_object('invoiceId', '{"type": "string", "minLength": 1, "maxLength": 64, "description": "The approved invoice."}'::jsonb,
        'lineIds', '{"type": "array", "minItems": 1, "uniqueItems": true, "items": {"type": "string"}, "description": "Only these lines (get_invoice); default all."}'::jsonb,
        'entryDate', '{"type": "string", "format": "date", "description": "Default today."}'::jsonb,
        'contactMessage', c.invoice #> '{properties,contactMessage}'),
     ARRAY['invoiceId', 'lineIds', 'entryDate', 'contactMessage'], ARRAY['invoiceId'], 'billy._plan_credit_invoice', 'credit an approved invoice, whole or some lines',
     'Creates a draft credit note in Billy for an approved invoice: the same customer and currency, all its lines or those of line_ids (as the mirror has them); billy.approve_invoice books it, settling it against the invoice. Returns what billy.commit_write returns.',
     'credit_invoice', 'Credit an invoice', 'Drafts a credit note for an approved invoice, whole or some lines; approve_invoice books it.', '{}', 135, false, false),
    ('delete_contact', 'contacts', 'DELETE', '/contacts/{contactId}', '{"kind": "gone", "path": "/contacts/{contactId}"}',
     jsonb_build_object('contactId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb),
     ARRAY['contactId'], ARRAY['contactId'], 'billy._plan_delete_master', 'delete a contact no document uses',
     'Deletes a contact (and its contact persons) in Billy and marks it deleted in the mirror. Billy refuses a contact that invoices, bills or payments use, and so does billy before sending: archive it instead (billy.update_contact with isArchived true). Returns what billy.commit_write returns.',
     'delete_customer', 'Delete a customer', 'Deletes a customer or supplier no invoice, bill or payment uses (else: archive it).', '{"contactId": "customer_id"}', 235, true, true),
    ('add_contact_person', 'contacts', 'PUT', '/contacts/{contactId}', '{"kind": "record", "path": "/contacts/{contactId}", "root": "contact"}',
     jsonb_build_object('contactId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb, 'person', '{"type": "object", "minProperties": 1, "additionalProperties": false,
         "properties": {"name": {"type": "string", "maxLength": 255}, "email": {"type": "string", "format": "email", "maxLength": 255},
                        "phone": {"type": "string", "maxLength": 64}, "isPrimary": {"type": "boolean", "description": "Invoices go to the primary person."}}}'::jsonb),
     ARRAY['contactId', 'person'], ARRAY['contactId', 'person'], 'billy._plan_contact_person', 'add a person to a contact',
     'Adds a contact person (name and/or e-mail, phone, isPrimary) to a contact in Billy and in the mirror; the contact''s persons are sent anew (Billy replaces them, with new ids). Returns what billy.commit_write returns.',
     'add_contact_person', 'Add a contact person', 'Adds a person (name, e-mail) to a customer; invoices are e-mailed to persons.', '{"contactId": "customer_id"}', 236, false, false),
    ('update_contact_person', 'contacts', 'PUT', '/contacts/{contactId}', '{"kind": "record", "path": "/contacts/{contactId}", "root": "contact"}',
     jsonb_build_object('contactPersonId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb, 'changes', '{"type": "object", "minProperties": 1, "additionalProperties": false,
         "properties": {"name": {"type": "string", "maxLength": 255}, "email": {"type": "string", "format": "email", "maxLength": 255},
                        "phone": {"type": "string", "maxLength": 64}, "isPrimary": {"type": "boolean", "description": "Invoices go to the primary person."}}}'::jsonb),
     ARRAY['contactPersonId', 'changes'], ARRAY['contactPersonId', 'changes'], 'billy._plan_contact_person', 'change a contact person',
     'Changes a contact person''s name, e-mail or isPrimary in Billy and in the mirror; the contact''s persons are sent anew (Billy replaces them, with new ids). Returns what billy.commit_write returns.',
     'update_contact_person', 'Update a contact person', 'Changes a customer''s contact person (get_customer lists them).', '{}', 237, true, true),
    ('delete_contact_person', 'contacts', 'PUT', '/contacts/{contactId}', '{"kind": "record", "path": "/contacts/{contactId}", "root": "contact"}',
     jsonb_build_object('contactPersonId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb),
     ARRAY['contactPersonId'], ARRAY['contactPersonId'], 'billy._plan_contact_person', 'remove a contact person',
     'Removes a contact person from its contact in Billy and in the mirror; the other persons are sent anew (Billy replaces them, with new ids). Returns what billy.commit_write returns.',
     'delete_contact_person', 'Delete a contact person', 'Removes a contact person from a customer.', '{}', 238, true, true),
    ('create_journal_entry', 'daybookTransactions', 'POST', '/daybookTransactions', NULL,
     jsonb_build_object('entryDate', '{"type": "string", "format": "date"}'::jsonb,
        'description', '{"type": "string", "maxLength": 255}'::jsonb, 'voucherNo', '{"type": "string", "maxLength": 64}'::jsonb,
        'daybookId', '{"type": "string", "maxLength": 64}'::jsonb,
        'approve', '{"type": "boolean", "description": "true: book it at once (default: a draft)."}'::jsonb,
        'lines', '{"type": "array", "minItems": 1, "maxItems": 200, "items": {"type": "object", "additionalProperties": false,
         "required": ["accountId", "side", "amount"],
         "properties": {"accountId": {"type": "string", "description": "The account (list_accounts)."},
                        "side": {"enum": ["debit", "credit"]},
                        "amount": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.01, "description": "Gross when taxRateId is given."},
                        "text": {"type": "string", "maxLength": 255},
                        "taxRateId": {"type": "string", "description": "VAT is split off this line at its rate."},
                        "contraAccountId": {"type": "string", "description": "Books the opposite side here."},
                        "currencyId": {"type": "string", "pattern": "^[A-Z]{3}$"},
                        "priority": {"type": "integer"}}}}'::jsonb),
     ARRAY['entryDate', 'lines', 'description', 'voucherNo', 'daybookId', 'approve'], ARRAY['entryDate', 'lines'],
     'billy._plan_create_journal_entry', 'make a journal entry (daybook transaction)',
     'Makes a journal entry (a daybook transaction) in Billy: lines with an account, side and amount (gross when a taxRateId splits VAT off; a contraAccountId books the opposite side); the lines without a contra account must balance, checked before anything is sent. A draft unless approve is true. Returns what billy.commit_write returns.',
     'create_journal_entry', 'Make a journal entry', 'Makes a journal entry (draft, or booked with approve): lines must balance; a taxRateId line is gross.', '{}', 737, false, false),
    ('set_journal_entry_state', 'daybookTransactions', 'PUT', '/daybookTransactions/{journalEntryId}',
     '{"kind": "record", "path": "/daybookTransactions/{journalEntryId}", "root": "daybookTransaction"}',
     jsonb_build_object('journalEntryId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb,
        'state', '{"type": "string", "enum": ["approved", "voided"], "description": "approved: book a draft; voided: void a booked one."}'::jsonb),
     ARRAY['journalEntryId', 'state'], ARRAY['journalEntryId', 'state'], 'billy._plan_journal_entry_state', 'approve or void a journal entry',
     'Books (state approved) a draft journal entry, or voids (state voided) a booked one, in Billy. Returns what billy.commit_write returns.',
     'set_journal_entry_state', 'Book or void a journal entry', 'Books (approved) a draft journal entry or voids (voided) a booked one.', '{}', 738, true, true),
    ('delete_product', 'products', 'DELETE', '/products/{productId}', '{"kind": "gone", "path": "/products/{productId}"}',
     jsonb_build_object('productId', '{"type": "string", "minLength": 1, "maxLength": 64}'::jsonb),
     ARRAY['productId'], ARRAY['productId'], 'billy._plan_delete_master', 'delete a product no invoice uses',
     'Deletes a product (and its prices) in Billy and marks it deleted in the mirror. Billy refuses a product on an invoice line, and so does billy before sending: archive it instead (billy.update_product with isArchived true). Returns what billy.commit_write returns.',
     'delete_product', 'Delete a product', 'Deletes a product no invoice uses (else: archive it).', '{}', 335, true, true),
    ('credit_bill', 'bills', 'POST', '/bills', NULL,
     jsonb_build_object('billId', '{"type": "string", "minLength": 1, "maxLength": 64, "description": "The approved bill."}'::jsonb,
        'lineIds', '{"type": "array", "minItems": 1, "uniqueItems": true, "items": {"type": "string"}, "description": "Only these lines (get_bill); default all."}'::jsonb,
        'entryDate', '{"type": "string", "format": "date", "description": "Default today."}'::jsonb),
     ARRAY['billId', 'lineIds', 'entryDate'], ARRAY['billId'], 'billy._plan_credit_bill', 'credit an approved bill, whole or some lines',
     'Creates a draft credit note in Billy for an approved bill: the same supplier and currency, all its lines or those of line_ids (net amounts, as the mirror has them); billy.approve_bill books it. Returns what billy.commit_write returns.',
     'credit_bill', 'Credit a bill', 'Drafts a credit note for an approved bill, whole or some lines; approve_bill books it.', '{}', 425, false, false)
) v(operation, resource, method, path, lookup, props, wrapper_args, required, plan_function, description, wrapper_comment,
    mcp_tool, mcp_title, mcp_description, renames, mcp_sort, destructive, idempotent);

-- the one-call SQL functions and their grants, generated from the rows
DO $gen$
DECLARE
    op text;
BEGIN
    FOR op IN SELECT c.operation FROM billy.write_catalog c WHERE c.wrapper IS NOT NULL ORDER BY 1 LOOP
        EXECUTE billy._write_wrapper_sql(op);
    END LOOP;
END
$gen$;

REVOKE ALL ON FUNCTION billy._contact_schema(boolean), billy._product_schema(boolean), billy._args_schema(jsonb, text[]) FROM PUBLIC;
-- the plan functions run as the caller of billy.preview_write: granted as
-- each row's wrapper is
DO $grant$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT w.plan_function, w.roles FROM billy.write_catalog w LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s(text, jsonb) TO %s', c.plan_function,
                       (SELECT string_agg(quote_ident(r), ', ') FROM unnest(c.roles) r));
    END LOOP;
END
$grant$;
GRANT EXECUTE ON FUNCTION billy._plan_draft(text, text, text, text, text), billy._plan_expect(jsonb), billy._plan_keys(jsonb),
    billy._plan_invoice_lines(text, jsonb, text, text), billy._plan_contact(text, jsonb, text, text),
    billy._plan_product(text, jsonb, text), billy._plan_bill_lines(text, jsonb, text),
    billy._plan_credited_lines(text, text, text, jsonb, text), billy._plan_credited(text, text, text, text, jsonb),
    billy._plan_invoice_lookup(text), billy._plan_bill_lookup(text, text, text, jsonb),
    billy._plan_draft_change(jsonb, text, text, jsonb, text), billy._amounts_by_currency(jsonb, text) TO billy_admin, billy_writer;
