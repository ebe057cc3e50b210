-- The list functions: every filter against the same question asked of the
-- mirror tables directly, paging, the list's freshness, stale rows, bad
-- input.  One transaction, rolled back.
\set ON_ERROR_STOP 1
SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url'));
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(40);
SET LOCAL client_min_messages = warning;
SELECT count(*) FROM billy.sync_now(billy_test.org(1), ARRAY['contacts', 'products', 'invoices', 'bills', 'bankPayments']);
SELECT billy_test.org(1) AS org \gset

CREATE FUNCTION pg_temp.ids(answer jsonb, root text) RETURNS text[] LANGUAGE sql
RETURN ARRAY(SELECT e ->> 'id' FROM jsonb_array_elements(answer -> root) e);

-- all, paged, newest first
SELECT is((billy.list_invoices(:'org') ->> 'total')::bigint,
          (SELECT count(*) FROM billy.invoices WHERE organization_id = :'org' AND deleted_at IS NULL),
          'total is every invoice of the organization');
SELECT is(pg_temp.ids(billy.list_invoices(:'org', "limit" => 5, "offset" => 3), 'invoices'),
          ARRAY(SELECT id FROM billy.invoices WHERE organization_id = :'org'
                ORDER BY entry_date DESC, invoice_no DESC, id LIMIT 5 OFFSET 3),
          'a page: newest first, limit and offset');
SELECT is(billy.list_invoices(:'org', "limit" => 1) -> 'invoices' -> 0,
          (SELECT raw FROM billy.invoices WHERE organization_id = :'org' ORDER BY entry_date DESC, invoice_no DESC, id LIMIT 1),
          'each element is Billy''s JSON as mirrored');
SELECT is(jsonb_array_length(billy.list_invoices(:'org') -> 'invoices'), 50, 'the default page is 50');

-- filters, each against the mirror asked directly
SELECT is((billy.list_invoices(:'org', min_amount => 1000, max_amount => 5000) ->> 'total')::bigint,
          (SELECT count(*) FROM billy.invoices WHERE organization_id = :'org' AND deleted_at IS NULL
             AND gross_amount BETWEEN 1000 AND 5000),
          'min_amount and max_amount: the gross amount, both ends included');
SELECT cmp_ok((billy.list_invoices(:'org', min_amount => 1000, max_amount => 5000) ->> 'total')::bigint, '>', 0::bigint,
          'the amount range matches some invoices (the case above is not vacuous)');
SELECT throws_ok($$SELECT billy.list_invoices(billy_test.org(1), min_amount => 5000, max_amount => 1000)$$, '22023',
          'min_amount 5000 is above max_amount 1000', 'min_amount above max_amount: an error naming both');
SELECT is((billy.list_invoices(:'org', paid => false) ->> 'total')::bigint,
          (SELECT count(*) FROM billy.invoices WHERE organization_id = :'org' AND is_paid IS NOT TRUE), 'paid => false');
SELECT is((billy.list_invoices(:'org', state => 'draft') ->> 'total')::bigint,
          (SELECT count(*) FROM billy.invoices WHERE organization_id = :'org' AND state = 'draft'), 'state => draft');
SELECT is((billy.list_invoices(:'org', overdue => true) ->> 'total')::bigint,
          (SELECT count(*) FROM billy.invoices WHERE organization_id = :'org' AND state = 'approved'
             AND NOT is_paid AND due_date < current_date), 'overdue => true: approved, unpaid, past due');
SELECT ok((SELECT count(*) FROM billy.invoices WHERE organization_id = :'org' AND state = 'approved'
             AND NOT is_paid AND due_date < current_date) > 0, 'and there are some');
SELECT id AS cid, name AS cname FROM billy.contacts c WHERE organization_id = :'org'
   AND (SELECT count(*) FROM billy.invoices i WHERE i.contact_id = c.id) >= 2 ORDER BY id LIMIT 1 \gset
SELECT is((billy.list_invoices(:'org', contact => :'cid') ->> 'total')::bigint,
          (SELECT count(*) FROM billy.invoices WHERE organization_id = :'org' AND contact_id = :'cid'), 'contact by id');
SELECT is((billy.list_invoices(:'org', contact => upper(:'cname')) ->> 'total')::bigint,
          (SELECT count(*) FROM billy.invoices WHERE organization_id = :'org' AND contact_id = :'cid'), 'contact by name, any case');
SELECT is((billy.list_invoices(:'org', from_date => '2025-01-01', to_date => '2025-03-31') ->> 'total')::bigint,
          (SELECT count(*) FROM billy.invoices WHERE organization_id = :'org' AND entry_date BETWEEN '2025-01-01' AND '2025-03-31'),
          'an entry date range, both ends included');
SELECT invoice_no AS ino, id AS iid FROM billy.invoices WHERE organization_id = :'org' AND invoice_no IS NOT NULL ORDER BY id LIMIT 1 \gset
SELECT ok(:'iid' = ANY (pg_temp.ids(billy.list_invoices(:'org', search => :'ino', "limit" => 1000), 'invoices')),
          'search finds an invoice by its number');
SELECT is((billy.list_invoices(:'org', search => lower(:'cname')) ->> 'total')::bigint,
          (SELECT count(*) FROM billy.invoices i WHERE organization_id = :'org'
             AND (i.contact_id = :'cid' OR i.invoice_no ILIKE '%' || :'cname' || '%' OR i.line_description ILIKE '%' || :'cname' || '%'
                  OR i.order_no ILIKE '%' || :'cname' || '%' OR i.external_id ILIKE '%' || :'cname' || '%')),
          'and by its contact''s name');
SELECT is((billy.list_invoices(:'org', search => '100%_') ->> 'total')::bigint, 0::bigint, '% and _ in search are literal');

SELECT is((billy.list_bills(:'org', paid => false) ->> 'total')::bigint,
          (SELECT count(*) FROM billy.bills WHERE organization_id = :'org' AND is_paid IS NOT TRUE), 'bills: paid => false');
SELECT is((billy.list_contacts(:'org', supplier => true, archived => NULL) ->> 'total')::bigint,
          (SELECT count(*) FROM billy.contacts WHERE organization_id = :'org' AND is_supplier), 'contacts: suppliers');
SELECT is((billy.list_contacts(:'org') ->> 'total')::bigint,
          (SELECT count(*) FROM billy.contacts WHERE organization_id = :'org' AND NOT coalesce(is_archived, false)),
          'contacts: archived ones left out by default');
SELECT is(pg_temp.ids(billy.list_contacts(:'org', search => :'cname', archived => NULL), 'contacts'), ARRAY[:'cid'],
          'contacts: search by name');
SELECT is((billy.list_products(:'org', archived => NULL) ->> 'total')::bigint,
          (SELECT count(*) FROM billy.products WHERE organization_id = :'org'), 'products: all');
SELECT is((billy.list_bank_payments(:'org', side => 'credit') ->> 'total')::bigint,
          (SELECT count(*) FROM billy.bank_payments WHERE organization_id = :'org' AND cash_side = 'credit' AND NOT is_voided),
          'bank payments: money out');

-- freshness of a list
SELECT billy.list_invoices(:'org', paid => false, "limit" => 10) -> 'freshness' AS f \gset
SELECT is((:'f'::jsonb) ->> 'source', 'mirror', 'a list comes from the mirror');
SELECT is((:'f'::jsonb) ->> 'fresh', 'true', 'fresh right after a sync');
SELECT is(((:'f'::jsonb) ->> 'complete_scan_at')::timestamptz,
          (SELECT last_complete_scan_at FROM billy.sync_state WHERE organization_id = :'org' AND resource = 'invoices'),
          'with the complete scan that decided which rows exist');
UPDATE billy.sync_state SET last_complete_scan_at = now() - interval '2 days', last_hot_scan_at = now() - interval '2 days'
WHERE organization_id = :'org' AND resource = 'invoices';
UPDATE billy.invoices SET confirmed_at = now() - interval '2 days' WHERE organization_id = :'org';
SELECT billy.list_invoices(:'org', paid => false, "limit" => 10) -> 'freshness' AS s \gset
SELECT is((:'s'::jsonb) ->> 'fresh', 'false', 'two days later the unpaid ones are stale');
SELECT is(((:'s'::jsonb) ->> 'stale_rows')::integer, 10, 'all ten of the page');
SELECT is((:'s'::jsonb) ->> 'refresh', 'queued', 'and a refresh is queued');

-- the count stops billy.list_total_limit rows past the page: total_at_least
SELECT count(*) AS n_inv FROM billy.invoices WHERE organization_id = :'org' AND deleted_at IS NULL \gset
SET LOCAL billy.list_total_limit = 5;
SELECT is(billy.list_invoices(:'org', "limit" => 10, "offset" => 20) - 'invoices' - 'freshness',
          jsonb_build_object('total_at_least', 35, 'limit', 10, 'offset', 20),
          'past the limit: total_at_least (offset 20 + limit 10 + 5), no total');
SELECT is(pg_temp.ids(billy.list_invoices(:'org', "limit" => 10, "offset" => 20), 'invoices'),
          ARRAY(SELECT id FROM billy.invoices WHERE organization_id = :'org'
                ORDER BY entry_date DESC, invoice_no DESC, id LIMIT 10 OFFSET 20),
          'the page itself is the same');
SELECT is((billy.list_invoices(:'org', "limit" => 10, "offset" => :n_inv - 12) ->> 'total')::bigint, :'n_inv'::bigint,
          'near the end the count is exact again: total');
SELECT is((billy.list_invoices(:'org', paid => false, "limit" => 1000) ->> 'total')::bigint,
          (SELECT count(*) FROM billy.invoices WHERE organization_id = :'org' AND is_paid IS NOT TRUE),
          'a filter matching fewer than the page and the limit: total, exact');
SELECT ok(billy.list_contacts(:'org', "limit" => 1) ? 'total_at_least' AND billy.list_bills(:'org', "limit" => 1) ? 'total_at_least'
          AND billy.list_products(:'org', "limit" => 1) ? 'total_at_least',
          'every list counts the same way (contacts, bills, products)');
SET LOCAL billy.list_total_limit = 1000000;
SELECT is((billy.list_invoices(:'org', "limit" => 10, "offset" => 20) ->> 'total')::bigint, :'n_inv'::bigint,
          'with a higher limit the same page has its exact total');
RESET billy.list_total_limit;
SELECT throws_ok($$SET billy.list_total_limit = 0$$, '22023', NULL, 'billy.list_total_limit is at least 1');

-- bad input
SELECT throws_ok(format($$SELECT billy.list_invoices(%L, "limit" => 0)$$, :'org'), '22023',
                 'limit must be between 1 and 1000, not 0', 'limit 0');
SELECT throws_ok(format($$SELECT billy.list_invoices(%L, state => 'paid')$$, :'org'), '22023',
                 'state must be draft, approved or voided, not "paid"', 'a state that is not one');
SELECT throws_ok(format($$SELECT billy.list_invoices(%L, from_date => '2025-02-01', to_date => '2025-01-01')$$, :'org'), '22023',
                 'from_date (2025-02-01) is after to_date (2025-01-01)', 'a date range backwards');
SELECT throws_ok($$SELECT billy.list_invoices('no such organization')$$, '42704', NULL, 'an unknown organization');

SELECT * FROM finish();
ROLLBACK;
