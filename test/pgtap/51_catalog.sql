-- The resource catalog (billy.resources, issue 16): the apply functions are
-- generated from it, a child follows its parent (issue 15 item 7), and a
-- resource added as rows is synced and read without any other change.
-- One transaction, rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(28);

SELECT billy_test.clear_faults();
SELECT billy.connect(billy_test.token(1));
SET LOCAL client_min_messages = warning;
SELECT count(*) FROM billy.sync_now(billy_test.org(1), ARRAY['contacts', 'invoices', 'bills']);

-- every resource's apply function is the one generated from its rows
SELECT is((SELECT count(*)::int FROM billy.resources r
           WHERE to_regprocedure(format('billy.%I(text, bigint, jsonb, bytea[], timestamptz)', '_apply_' || r.table_name)) IS NOT NULL),
          (SELECT count(*)::int FROM billy.resources), 'every resource of the catalog has its apply function');
SELECT is(billy._resource_include('invoices'), 'invoice.lines:embed,invoice.balanceModifiers:embed',
          'the include parameter is derived from the children');
SELECT is(ARRAY(SELECT x FROM unnest(billy._sync_resources()) x
                WHERE x = ANY (ARRAY['organization', 'accounts', 'taxRates', 'salesTaxRulesets', 'salesTaxReturns',
                                     'contacts', 'products', 'invoices', 'bills', 'bankPayments'])),
          ARRAY['organization', 'accounts', 'taxRates', 'salesTaxRulesets', 'salesTaxReturns',
                'contacts', 'products', 'invoices', 'bills', 'bankPayments'],
          'a full sync takes the catalog''s resources in sync_order, after the organization');

-- the lists of resources and tables elsewhere are queries over the catalog
SELECT ok(ARRAY['accounts', 'tax_rates', 'sales_tax_rulesets', 'sales_tax_rules', 'sales_tax_returns',
                'contacts', 'contact_persons', 'products', 'product_prices', 'invoices', 'invoice_lines',
                'balance_modifiers', 'bills', 'bill_lines', 'bank_payments'] <@ ARRAY(SELECT billy._mirror_tables()),
          'the mirror tables are the catalog''s resources and children');
SELECT ok((SELECT bool_and(c.relrowsecurity) FROM billy._mirror_tables() t JOIN pg_class c ON c.oid = ('billy.' || t)::regclass),
          'each has row-level security');
SELECT throws_ok($$INSERT INTO billy.mcp_tools (name, title, description, input_schema, function, project)
                   VALUES ('x', 'x', 'x', '{"type": "object"}', 'billy.get_invoice', 'invoicez')$$,
                 '23503', NULL, 'an MCP tool projects only a resource of the catalog');

------------------------------------------------------------------------------
-- A child follows its parent: a line id that turns up under another invoice
-- (books replaced upstream) moves to it; the hand-written apply functions
-- deleted a changed invoice's lines and inserted the page's, and failed on
-- invoice_lines_pkey, and so did every later sync of invoices.
------------------------------------------------------------------------------
SELECT a.id AS inv_a, b.id AS inv_b, (SELECT l.id FROM billy.invoice_lines l
                                      WHERE l.organization_id = a.organization_id AND l.invoice_id = a.id
                                      ORDER BY l.id LIMIT 1) AS line
FROM billy.invoices a, billy.invoices b
WHERE a.organization_id = billy_test.org(1) AND b.organization_id = a.organization_id
  AND a.id < b.id AND jsonb_array_length(a.raw -> 'lines') >= 2 AND jsonb_array_length(b.raw -> 'lines') >= 1
ORDER BY a.id, b.id LIMIT 1
\gset
SELECT (SELECT count(*) FROM billy.invoice_lines WHERE organization_id = billy_test.org(1) AND invoice_id = :'inv_a') AS a_lines,
       (SELECT min(x ->> 'id') FROM billy.invoices, jsonb_array_elements(raw -> 'lines') x
        WHERE organization_id = billy_test.org(1) AND id = :'inv_a' AND x ->> 'id' <> :'line') AS second_line
\gset
-- invoice B's page now lists A's first line too
SELECT lives_ok(format($$SELECT billy._apply_invoices(%L, NULL, %L::jsonb, ARRAY['\x00'::bytea], now())$$, billy_test.org(1),
                       (SELECT jsonb_build_array(b.raw || jsonb_build_object('lines', (b.raw -> 'lines') || jsonb_build_array(l.raw)))
                        FROM billy.invoices b, billy.invoice_lines l
                        WHERE b.organization_id = billy_test.org(1) AND b.id = :'inv_b'
                          AND l.organization_id = b.organization_id AND l.id = :'line')),
                'a page listing a line under another invoice than the mirror has it is stored');
SELECT is((SELECT invoice_id FROM billy.invoice_lines WHERE organization_id = billy_test.org(1) AND id = :'line'), :'inv_b',
          'the line moved to its new invoice');
SELECT is((SELECT count(*) FROM billy.invoice_lines WHERE organization_id = billy_test.org(1) AND invoice_id = :'inv_a'),
          :a_lines::bigint - 1, 'and left the old one');
-- invoice A's page (as the mirror had it: the moved line listed) without
-- another of its lines: that line goes, the others stay
SELECT lives_ok(format($$SELECT billy._apply_invoices(%L, NULL, %L::jsonb, ARRAY['\x00'::bytea], now())$$, billy_test.org(1),
                       (SELECT jsonb_build_array(a.raw || jsonb_build_object('lines',
                                   (SELECT jsonb_agg(x ORDER BY n) FROM jsonb_array_elements(a.raw -> 'lines') WITH ORDINALITY e(x, n)
                                    WHERE x ->> 'id' <> :'second_line')))
                        FROM billy.invoices a WHERE a.organization_id = billy_test.org(1) AND a.id = :'inv_a')),
                'a page with one line fewer is stored');
SELECT is((SELECT count(*) FROM billy.invoice_lines WHERE organization_id = billy_test.org(1) AND id = :'second_line'), 0::bigint,
          'a line no longer listed is deleted');
SELECT is((SELECT count(*) FROM billy.invoice_lines WHERE organization_id = billy_test.org(1) AND invoice_id = :'inv_a'),
          :a_lines::bigint - 1, 'the others are kept, the moved line back among them');

-- a balance modifier of an invoice listed under a bill (a child table shared by two resources)
SELECT m.id AS modifier, m.subject_id AS modifier_invoice, b.id AS bill
FROM billy.balance_modifiers m, billy.bills b
WHERE m.organization_id = billy_test.org(1) AND m.subject_type = 'invoice'
  AND b.organization_id = m.organization_id
ORDER BY m.id, b.id LIMIT 1
\gset
SELECT lives_ok(format($$SELECT billy._apply_bills(%L, NULL, %L::jsonb, ARRAY['\x00'::bytea], now())$$, billy_test.org(1),
                       (SELECT jsonb_build_array(b.raw || jsonb_build_object('balanceModifiers',
                                   coalesce(b.raw -> 'balanceModifiers', '[]') || jsonb_build_array(m.raw)))
                        FROM billy.bills b, billy.balance_modifiers m
                        WHERE b.organization_id = billy_test.org(1) AND b.id = :'bill'
                          AND m.organization_id = b.organization_id AND m.id = :'modifier')),
                'a page listing an invoice''s balance modifier under a bill is stored');
SELECT is((SELECT subject_type || ' ' || subject_id FROM billy.balance_modifiers WHERE organization_id = billy_test.org(1) AND id = :'modifier'),
          'bill ' || :'bill', 'the modifier moved to the bill');

-- the next sync puts Billy's books back, without failing on a key
UPDATE billy.invoices SET content_hash = '\x00' WHERE organization_id = billy_test.org(1) AND id IN (:'inv_a', :'inv_b', :'modifier_invoice');
UPDATE billy.bills SET content_hash = '\x00' WHERE organization_id = billy_test.org(1) AND id = :'bill';
SELECT lives_ok(format('SELECT count(*) FROM billy.sync_now(%L, ARRAY[''invoices'', ''bills''])', billy_test.org(1)),
                'the next sync of invoices and bills succeeds');
SELECT is((SELECT invoice_id FROM billy.invoice_lines WHERE organization_id = billy_test.org(1) AND id = :'line'), :'inv_a',
          'the line is back under the invoice Billy lists it under');
SELECT is((SELECT count(*) FROM billy.invoice_lines WHERE organization_id = billy_test.org(1) AND invoice_id = :'inv_a'),
          :a_lines::bigint, 'and that invoice has all its lines again');
SELECT is((SELECT count(*)::int FROM billy.invoice_lines l, billy.invoices i
           WHERE i.organization_id = billy_test.org(1) AND i.id = :'inv_b' AND l.organization_id = i.organization_id AND l.invoice_id = i.id),
          (SELECT jsonb_array_length(raw -> 'lines') FROM billy.invoices WHERE organization_id = billy_test.org(1) AND id = :'inv_b'),
          'the other invoice has exactly the lines Billy lists');
SELECT is((SELECT subject_type || ' ' || subject_id FROM billy.balance_modifiers WHERE organization_id = billy_test.org(1) AND id = :'modifier'),
          'invoice ' || :'modifier_invoice', 'the modifier is back under its invoice');

------------------------------------------------------------------------------
-- A resource added as catalog rows: Billy's contactPersons list (which billy
-- otherwise mirrors only embedded in contacts), as a resource of its own.
-- "Without any other change" means: no C, no change to any function of
-- billy.  What adding a resource does take is here, and only this: its
-- mirror table (DDL is part of adding a resource: the catalog generates
-- functions, never tables, whose indexes, checks, comments and row-level
-- security are written with them), its rows in the catalog, and its read
-- function, billy.get_<singular>, one line pointing at the read path's C.
-- tools/list is not derived from the catalog (MCP tools are rows of
-- billy.mcp_tools with their own descriptions), so a new resource appears
-- there only with a tool row; billy.mcp_tools.project names catalog rows.
------------------------------------------------------------------------------
CREATE TABLE billy.dummy_persons (
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id              text NOT NULL,
    contact_id      text,
    name            text,
    is_primary      boolean,
    raw             jsonb NOT NULL,
    content_hash    bytea NOT NULL,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    confirmed_at    timestamptz NOT NULL DEFAULT now(),
    changed_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    sync_run_id     bigint,
    PRIMARY KEY (organization_id, id)
);
INSERT INTO billy.resources (name, singular, table_name, noun, sync_order, read_function)
VALUES ('contactPersons', 'contactPerson', 'dummy_persons', 'contact person', 1000, 'get_contact_person');
INSERT INTO billy.resource_columns (resource, position, column_name, json_key, type) VALUES
    ('contactPersons', 1, 'contact_id', 'contactId', 'text'),
    ('contactPersons', 2, 'name', 'name', 'text'),
    ('contactPersons', 3, 'is_primary', 'isPrimary', 'boolean');
SELECT throws_ok($$INSERT INTO billy.resource_columns (resource, position, column_name, json_key) VALUES ('contactPersons', 4, 'emial', 'email')$$,
                 '42703', 'column "emial" of billy.dummy_persons does not exist',
                 'a catalog column its table lacks is refused, named');
DO $$
BEGIN
    EXECUTE format('CREATE FUNCTION billy.get_contact_person(org text, id text, max_age interval DEFAULT NULL) RETURNS jsonb '
                   'LANGUAGE C AS %L, %L', (SELECT probin FROM pg_proc WHERE oid = 'billy.get_invoice'::regproc), 'billy_get');
END
$$;

SELECT ok(to_regprocedure('billy._apply_dummy_persons(text, bigint, jsonb, bytea[], timestamptz)') IS NOT NULL,
          'its apply function was generated when its rows were added');
SELECT ok('contactPersons' = ANY (billy._sync_resources()), 'a full sync covers it');
SELECT lives_ok(format('SELECT count(*) FROM billy.sync_now(%L, ARRAY[''contact_persons''])', billy_test.org(1)),
                'it syncs');
SELECT is((SELECT count(*) FROM billy.dummy_persons WHERE organization_id = billy_test.org(1)),
          (SELECT count(*) FROM billy.contact_persons WHERE organization_id = billy_test.org(1)),
          'its records land in its table, as many as the contacts embed');
SELECT is((SELECT count(*)::int FROM billy.dummy_persons d JOIN billy.contact_persons p USING (organization_id, id)
           WHERE d.organization_id = billy_test.org(1) AND d.contact_id = p.contact_id AND d.name IS NOT DISTINCT FROM p.name
             AND d.is_primary IS NOT DISTINCT FROM p.is_primary),
          (SELECT count(*)::int FROM billy.dummy_persons WHERE organization_id = billy_test.org(1)),
          'with their columns filled from the catalog''s JSON keys');
SELECT is((SELECT count(*)::int FROM billy.changes WHERE organization_id = billy_test.org(1) AND resource = 'contactPersons' AND operation = 'insert'),
          (SELECT count(*)::int FROM billy.dummy_persons WHERE organization_id = billy_test.org(1)),
          'and in the change log');
SELECT id AS person FROM billy.dummy_persons WHERE organization_id = billy_test.org(1) ORDER BY id LIMIT 1
\gset
SELECT is((billy.get_contact_person(billy_test.org(1), :'person') -> 'freshness' ->> 'source') || ' '
          || (billy.get_contact_person(billy_test.org(1), :'person') -> 'contactPerson' ->> 'id'),
          'mirror ' || :'person', 'the read path serves it from the mirror');
DELETE FROM billy.dummy_persons WHERE organization_id = billy_test.org(1) AND id = :'person';
SELECT is(billy.get_contact_person(billy_test.org(1), :'person') -> 'contactPerson' ->> 'name',
          (SELECT name FROM billy.contact_persons WHERE organization_id = billy_test.org(1) AND id = :'person'),
          'and asks Billy for one the mirror does not have');

SELECT * FROM finish();
ROLLBACK;
