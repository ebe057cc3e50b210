-- Fidelity: after a sync, every resource of the mirror equals billy-sandbox's
-- own truth (/_sandbox/dump) record by record, for each organization; a
-- second sync of unchanged books writes nothing; children match their
-- parents.  Runs inline (billy.sync_now) in one transaction, rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(37);

SELECT billy_test.clear_faults();
SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url'));
SELECT billy.connect(billy_test.token(2), billy_test.setting('api_url'));
SET LOCAL client_min_messages = warning;

CREATE TEMP TABLE first_sync AS SELECT * FROM billy.sync_now();
SELECT is((SELECT count(*) FROM first_sync), (SELECT 2 * (1 + count(*)) FROM billy.resources),
          'one row per organization and resource');
SELECT ok((SELECT bool_and(rows_inserted = rows_seen AND rows_updated = 0 AND rows_deleted = 0)
           FROM first_sync WHERE resource <> 'organization'), 'a first sync inserts every record it sees');
SELECT cmp_ok((SELECT sum(rows_seen) FROM first_sync WHERE resource = 'invoices'), '>=', 800::numeric,
              'both organizations'' invoices were read');

-- the truth, per organization
CREATE TEMP TABLE truth AS
SELECT o.n, o.id AS org, billy_test.sandbox('GET', '/dump?org=' || o.id)::jsonb AS d
FROM billy_test.orgs o WHERE o.n IN (1, 2);

CREATE FUNCTION pg_temp.mismatches(res text, tbl text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    EXECUTE format($q$
        SELECT count(*) FROM truth t
        CROSS JOIN LATERAL (
            SELECT coalesce(x.r ->> 'id', m.id) AS id
            FROM (SELECT e AS r FROM jsonb_array_elements(t.d -> %L) e) x
            FULL JOIN (SELECT id, raw - 'downloadUrl' AS raw FROM billy.%I
                       WHERE organization_id = t.org AND deleted_at IS NULL) m
              ON m.id = x.r ->> 'id'
            WHERE m.raw IS DISTINCT FROM x.r) bad$q$, res, tbl) INTO n;
    RETURN n;
END $$;

SELECT is(pg_temp.mismatches('invoices', 'invoices'), 0::bigint, 'invoices equal the sandbox''s, lines and balance modifiers included');
SELECT is(pg_temp.mismatches('bills', 'bills'), 0::bigint, 'bills equal the sandbox''s');
SELECT is(pg_temp.mismatches('contacts', 'contacts'), 0::bigint, 'contacts equal the sandbox''s, contact persons included');
SELECT is(pg_temp.mismatches('products', 'products'), 0::bigint, 'products equal the sandbox''s, prices included');
SELECT is(pg_temp.mismatches('bankPayments', 'bank_payments'), 0::bigint, 'bank payments equal the sandbox''s');
SELECT is(pg_temp.mismatches('accounts', 'accounts'), 0::bigint, 'accounts equal the sandbox''s');
SELECT is(pg_temp.mismatches('taxRates', 'tax_rates'), 0::bigint, 'tax rates equal the sandbox''s');
SELECT is(pg_temp.mismatches('salesTaxRulesets', 'sales_tax_rulesets'), 0::bigint, 'sales tax rulesets equal the sandbox''s');
SELECT is(pg_temp.mismatches('salesTaxReturns', 'sales_tax_returns'), 0::bigint, 'sales tax returns equal the sandbox''s');
SELECT is((SELECT count(*) FROM truth t JOIN billy.organizations o ON o.id = t.org
           WHERE o.raw = t.d -> 'organization'), 2::bigint, 'both organizations equal the sandbox''s');

-- the typed columns and the children say what the JSON says
SELECT is((SELECT count(*) FROM billy.invoices i
           WHERE i.amount IS DISTINCT FROM (i.raw ->> 'amount')::numeric
              OR i.tax IS DISTINCT FROM (i.raw ->> 'tax')::numeric
              OR i.balance IS DISTINCT FROM (i.raw ->> 'balance')::numeric
              OR i.entry_date IS DISTINCT FROM (i.raw ->> 'entryDate')::date
              OR i.state IS DISTINCT FROM i.raw ->> 'state'), 0::bigint,
          'invoice amounts, dates and states are typed exactly');
SELECT is((SELECT sum(jsonb_array_length(e -> 'lines'))::numeric FROM truth t, jsonb_array_elements(t.d -> 'invoices') e),
          (SELECT count(*)::numeric FROM billy.invoice_lines), 'every invoice line is mirrored');
SELECT is((SELECT sum((l ->> 'amount')::numeric) FROM truth t, jsonb_array_elements(t.d -> 'invoices') e,
                  jsonb_array_elements(e -> 'lines') l),
          (SELECT sum(amount) FROM billy.invoice_lines), 'invoice line amounts add up to the øre');
SELECT is((SELECT sum(jsonb_array_length(e -> 'lines'))::numeric FROM truth t, jsonb_array_elements(t.d -> 'bills') e),
          (SELECT count(*)::numeric FROM billy.bill_lines), 'every bill line is mirrored');
SELECT is((SELECT sum(jsonb_array_length(e -> 'contactPersons'))::numeric FROM truth t, jsonb_array_elements(t.d -> 'contacts') e),
          (SELECT count(*)::numeric FROM billy.contact_persons), 'every contact person is mirrored');
SELECT is((SELECT sum(jsonb_array_length(e -> 'prices'))::numeric FROM truth t, jsonb_array_elements(t.d -> 'products') e),
          (SELECT count(*)::numeric FROM billy.product_prices), 'every product price is mirrored');
SELECT is((SELECT sum(jsonb_array_length(e -> 'rules'))::numeric FROM truth t, jsonb_array_elements(t.d -> 'salesTaxRulesets') e),
          (SELECT count(*)::numeric FROM billy.sales_tax_rules), 'every sales tax rule is mirrored');
SELECT is((SELECT coalesce(sum(jsonb_array_length(e -> 'balanceModifiers')), 0)::numeric FROM truth t,
                  jsonb_array_elements((t.d -> 'invoices') || (t.d -> 'bills')) e),
          (SELECT count(*)::numeric FROM billy.balance_modifiers), 'every balance modifier is mirrored');
SELECT is((SELECT count(*) FROM billy.invoices i WHERE i.is_paid AND i.balance <> 0), 0::bigint,
          'paid invoices have no balance left');

-- the change log and the bookkeeping
SELECT is((SELECT count(*) FROM billy.changes WHERE operation = 'insert' AND resource = 'invoices'
             AND changed_at = now()),
          (SELECT count(*) FROM billy.invoices), 'every invoice insert is in billy.changes');
SELECT is((SELECT count(*) FROM billy.sync_runs WHERE state = 'succeeded' AND complete),
          (SELECT 2 * (1 + count(*)) FROM billy.resources), 'every run succeeded and was complete');
SELECT ok((SELECT bool_and(state = 'ok' AND last_complete_scan_at IS NOT NULL) FROM billy.sync_status
           WHERE resource <> 'organization'), 'billy.sync_status says ok, with the time of the complete scan');

-- a second sync of unchanged books writes nothing
SELECT pg_current_wal_insert_lsn() AS wal_before \gset
CREATE TEMP TABLE second_sync AS SELECT * FROM billy.sync_now(billy_test.org(1), ARRAY['invoices', 'contacts', 'bills']);
SELECT is((SELECT sum(rows_inserted + rows_updated + rows_deleted) FROM second_sync), 0::numeric,
          'a resync of unchanged books changes no record');
SELECT is((SELECT sum(rows_seen) FROM second_sync),
          (SELECT count(*)::numeric FROM billy.invoices WHERE organization_id = billy_test.org(1))
          + (SELECT count(*) FROM billy.contacts WHERE organization_id = billy_test.org(1))
          + (SELECT count(*) FROM billy.bills WHERE organization_id = billy_test.org(1)),
          'while it saw every record');
SELECT is((SELECT count(*) FROM billy.invoices WHERE organization_id = billy_test.org(1)
             AND sync_run_id > (SELECT min(id) FROM billy.sync_runs r
                                WHERE r.organization_id = billy_test.org(1) AND r.resource = 'invoices')),
          0::bigint, 'no invoice row was rewritten');

-- upstream changes: exactly those are written, and logged
SELECT billy_test.sandbox('POST', '/mutate', format('{"org":"%s","n":12,"seed":5}', billy_test.org(1)))::jsonb AS m \gset
CREATE TEMP TABLE changed AS
SELECT DISTINCT c ->> 'resource' AS resource, c ->> 'id' AS id,
       CASE c ->> 'op' WHEN 'created' THEN 'insert' WHEN 'updated' THEN 'update' ELSE 'delete' END AS op
FROM jsonb_array_elements((:'m'::jsonb) -> 'changes') c
WHERE c ->> 'resource' IN (SELECT name FROM billy.resources);
SELECT max(id) AS before_third FROM billy.sync_runs \gset
CREATE TEMP TABLE third_sync AS SELECT * FROM billy.sync_now(billy_test.org(1));
SELECT ok((SELECT count(*) FROM changed) > 0, 'the sandbox made upstream changes');
UPDATE truth SET d = billy_test.sandbox('GET', '/dump?org=' || org)::jsonb WHERE n = 1;
SELECT is(pg_temp.mismatches('invoices', 'invoices'), 0::bigint, 'after the changes, invoices equal the sandbox''s again');
SELECT is(pg_temp.mismatches('contacts', 'contacts'), 0::bigint, 'and contacts');
SELECT is(pg_temp.mismatches('products', 'products'), 0::bigint, 'and products');
SELECT is(pg_temp.mismatches('bills', 'bills'), 0::bigint, 'and bills');
SELECT is(pg_temp.mismatches('bankPayments', 'bank_payments'), 0::bigint, 'and bank payments');
SELECT is((SELECT count(*) FROM changed c JOIN billy.invoices i ON i.id = c.id
           WHERE c.resource = 'invoices' AND c.op = 'delete' AND i.deleted_at IS NULL), 0::bigint,
          'deleted drafts are marked deleted, not removed');
SELECT is((SELECT count(*) FROM changed c
           WHERE NOT EXISTS (SELECT 1 FROM billy.changes ch
                             WHERE ch.record_id = c.id AND ch.resource = c.resource AND ch.operation = c.op
                               AND ch.sync_run_id > :before_third)),
          0::bigint, 'every upstream change is in the change log, with its operation');
SELECT is((SELECT count(*) FROM billy.changes ch
           WHERE ch.sync_run_id > :before_third
             AND NOT EXISTS (SELECT 1 FROM changed c WHERE c.id = ch.record_id)),
          0::bigint, 'and nothing else was written');

SELECT * FROM finish();
ROLLBACK;
