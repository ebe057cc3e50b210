-- billy.search against the mirror of the sandbox's organization 1: real
-- hits by number, amount, name and words (each checked against the mirror
-- asked directly), real misses, ranking, other organizations and roles
-- that may not see them, bad input.  One transaction, rolled back.
\set ON_ERROR_STOP 1
SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url'));
SELECT billy.connect(billy_test.token(2), billy_test.setting('api_url'));
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(29);
SET LOCAL client_min_messages = warning;
SELECT count(*) FROM billy.sync_now(billy_test.org(1), ARRAY['contacts', 'products', 'invoices', 'bills']);
SELECT count(*) FROM billy.sync_now(billy_test.org(2), ARRAY['contacts', 'invoices']);
SELECT billy_test.org(1) AS org \gset

CREATE FUNCTION pg_temp.first(q text, k text[] DEFAULT NULL) RETURNS text LANGUAGE sql
RETURN (SELECT s.kind || ':' || s.id FROM billy.search(billy_test.org(1), q, k, 1) s);
CREATE FUNCTION pg_temp.hits(q text, k text[] DEFAULT NULL) RETURNS text[] LANGUAGE sql
RETURN ARRAY(SELECT s.kind || ':' || s.id FROM billy.search(billy_test.org(1), q, k, 200) s ORDER BY 1);

-- numbers: an approved invoice's number puts it first
SELECT id AS iid, invoice_no AS ino, gross_amount AS igross, contact_id AS icontact
FROM billy.invoices WHERE organization_id = :'org' AND state = 'approved' AND invoice_no::integer > 100
  AND NOT EXISTS (SELECT 1 FROM billy.bills b WHERE b.organization_id = :'org' AND b.voucher_no = invoice_no)
ORDER BY invoice_no::integer LIMIT 1 \gset
SELECT is(pg_temp.first(:'ino'), 'invoice:' || :'iid', 'an invoice number finds the invoice first');
SELECT is((SELECT reason FROM billy.search(:'org', :'ino', NULL, 1)), 'invoice number', 'and says why');
SELECT is((SELECT score FROM billy.search(:'org', :'ino', NULL, 1)), 1.000, 'an exact number scores 1');
-- a bill's voucher number and its supplier's invoice number
SELECT id AS bid, voucher_no AS bvno, suppliers_invoice_no AS bsino, contact_name AS bname
FROM billy.bills WHERE organization_id = :'org' AND suppliers_invoice_no IS NOT NULL AND state = 'approved'
ORDER BY voucher_no::integer DESC LIMIT 1 \gset
SELECT ok('bill:' || :'bid' = ANY (pg_temp.hits(:'bvno', ARRAY['bill'])), 'a bill''s voucher number finds it');
SELECT is(pg_temp.first(:'bsino'), 'bill:' || :'bid', 'the supplier''s invoice number finds the bill first');
-- a contact's CVR number
SELECT id AS cid, registration_no AS ccvr, name AS cname FROM billy.contacts
WHERE organization_id = :'org' AND registration_no ~ '^[0-9]{8}$' AND is_customer ORDER BY id LIMIT 1 \gset
SELECT is(pg_temp.first(:'ccvr'), 'contact:' || :'cid', 'a CVR number finds the contact first');
SELECT is((SELECT reason FROM billy.search(:'org', :'ccvr', NULL, 1)), 'CVR number', 'as a CVR number');
-- a product number
SELECT id AS pid, product_no AS pno, name AS pname FROM billy.products WHERE organization_id = :'org' ORDER BY product_no DESC LIMIT 1 \gset
SELECT is(pg_temp.first(:'pno', ARRAY['product']), 'product:' || :'pid', 'a product number finds the product');

-- amounts: Danish, English and plain forms all mean the same amount
SELECT ok('invoice:' || :'iid' = ANY (pg_temp.hits(to_char(:'igross'::numeric, 'FM999G999G990D00'), ARRAY['invoice'])),
          'the gross amount as the locale writes it finds the invoice');
SELECT is(pg_temp.hits(replace(replace(replace(to_char(:'igross'::numeric, 'FM999,999,990.00'), ',', '#'), '.', ','), '#', '.'), ARRAY['invoice']),
          ARRAY(SELECT 'invoice:' || id FROM billy.invoices WHERE organization_id = :'org' AND deleted_at IS NULL
                  AND (gross_amount = :'igross'::numeric OR balance = :'igross'::numeric
                       OR invoice_no = replace(replace(replace(to_char(:'igross'::numeric, 'FM999,999,990.00'), ',', '#'), '.', ','), '#', '.'))
                ORDER BY 1),
          'Danish form (1.250,00): exactly the invoices whose gross amount or balance it is');
SELECT is(pg_temp.hits(to_char(:'igross'::numeric, 'FM999,999,990.00'), ARRAY['invoice']),
          pg_temp.hits(replace(replace(replace(to_char(:'igross'::numeric, 'FM999,999,990.00'), ',', '#'), '.', ','), '#', '.'), ARRAY['invoice']),
          'English form (1,250.00): the same hits');
SELECT is(ARRAY[billy._search_amount('1.250,00'), billy._search_amount('1250'), billy._search_amount('1,250.00 kr'),
                billy._search_amount('1250,5'), billy._search_amount('12.50'), billy._search_amount('DKK'), billy._search_amount('1.2.3')],
          ARRAY[1250.00, 1250, 1250.00, 1250.5, 12.50, NULL, NULL]::numeric[],
          'amounts read: 1.250,00 1250 1,250.00 kr 1250,5 12.50 are amounts; DKK and 1.2.3 are not');
SELECT is((SELECT reason FROM billy.search(:'org', to_char(:'igross'::numeric, 'FM999,999,990.00'), ARRAY['invoice'], 200) WHERE id = :'iid'),
          'gross amount', 'an amount hit says it was the gross amount');

-- names: a customer's name finds the contact first and then its invoices
SELECT is(pg_temp.first(:'cname'), 'contact:' || :'cid', 'a name finds the contact first');
SELECT is((SELECT array_agg(s.id ORDER BY s.id) FROM billy.search(:'org', :'cname', ARRAY['invoice'], 200) s),
          (SELECT array_agg(i.id ORDER BY i.id) FROM billy.invoices i WHERE i.organization_id = :'org' AND i.contact_id = :'cid' AND i.deleted_at IS NULL),
          'and, among invoices, exactly that customer''s');
SELECT ok('contact:' || :'cid' = ANY (pg_temp.hits(lower(left(:'cname', 4)), ARRAY['contact'])),
          'the start of a name in lower case finds the contact (the last word is a prefix)');
SELECT ok('contact:' || :'cid' = ANY (pg_temp.hits(substr(:'cname', 3, 4), ARRAY['contact'])),
          'a part from inside the name finds it too');
SELECT ok((SELECT bool_and(s.score < 1) FROM billy.search(:'org', substr(:'cname', 3, 4), ARRAY['contact'], 200) s),
          'a part of a name scores below an exact number');
-- words of a text: a bill's line text
SELECT line_description AS btext FROM billy.bills WHERE organization_id = :'org' AND id = :'bid' \gset
SELECT ok('bill:' || :'bid' = ANY (pg_temp.hits(:'btext', ARRAY['bill'])), 'the words of a bill''s text find it');
SELECT is((SELECT count(*) FROM billy.search(:'org', :'btext', ARRAY['bill'], 200) s
           JOIN billy.bills b ON b.organization_id = :'org' AND b.id = s.id
           WHERE billy._search_vector(coalesce(b.contact_name, '') || ' ' || coalesce(b.suppliers_invoice_no, '') || ' ' || coalesce(b.line_description, ''))
                 @@ billy._search_query(:'btext') IS NOT TRUE AND s.reason LIKE 'words%'),
          0::bigint, 'every bill found by words has those words');

-- a common word: many invoices have it; a small limit gives the newest of
-- them in order (each way of matching keeps only its best before the rest
-- is read), asked of the mirror directly with a query written by hand
SELECT w.word AS cword, w.ndoc AS cndoc
FROM ts_stat(format($q$SELECT billy._search_vector(coalesce(invoice_no, '') || ' ' || coalesce(order_no, '') || ' ' || coalesce(line_description, ''))
                      FROM billy.invoices WHERE organization_id = %L AND deleted_at IS NULL$q$, :'org')) w
WHERE w.word ~ '^[a-zæøå]{4,}$'
  AND NOT EXISTS (SELECT 1 FROM billy.contacts c WHERE c.organization_id = :'org'
                  AND billy._search_vector(c.name) @@ to_tsquery('simple', w.word || ':*'))
ORDER BY w.ndoc DESC, w.word LIMIT 1 \gset
SELECT ok(:cndoc > 10, format('the books have a common word (%s, in %s invoices)', :'cword', :cndoc));
SELECT is(ARRAY(SELECT s.id FROM billy.search(:'org', :'cword', ARRAY['invoice'], 5) s),
          ARRAY(SELECT i.id FROM billy.invoices i
                WHERE i.organization_id = :'org' AND i.deleted_at IS NULL
                  AND to_tsvector('simple', coalesce(i.invoice_no, '') || ' ' || coalesce(i.order_no, '') || ' ' || coalesce(i.line_description, ''))
                      @@ to_tsquery('simple', :'cword' || ':*')
                ORDER BY i.entry_date DESC, i.id LIMIT 5),
          'a common word gives the newest five of its matches, newest first');

-- misses
SELECT is(pg_temp.hits('zqxwv'), '{}'::text[], 'a word found nowhere finds nothing');
SELECT is(pg_temp.hits('987654321'), '{}'::text[], 'a number no record has finds nothing');
-- the other organization's records are not found in this one
SELECT name AS other_name FROM billy.contacts WHERE organization_id = billy_test.org(2)
  AND lower(name) NOT IN (SELECT lower(name) FROM billy.contacts WHERE organization_id = :'org') ORDER BY id LIMIT 1 \gset
SELECT ok(NOT EXISTS (SELECT 1 FROM billy.search(:'org', :'other_name', NULL, 200) s WHERE s.kind = 'contact' AND lower(s.label) LIKE '%' || lower(:'other_name')),
          'a name of another organization''s contact is not found in this one');

-- visibility: a role granted organization 2 only cannot search organization 1
CREATE ROLE search_client_b IN ROLE billy_reader;
SELECT billy.grant_organization('search_client_b', billy_test.org(2));
SET LOCAL ROLE search_client_b;
SELECT throws_ok(format('SELECT * FROM billy.search(%L, %L)', billy_test.org(1), :'ino'), '42704', NULL,
          'a role that may not see the organization cannot search it');
SELECT ok((SELECT count(*) FROM billy.search(billy_test.org(2), :'other_name')) > 0, 'but searches its own');
RESET ROLE;

-- bad input
SELECT throws_ok($$SELECT * FROM billy.search(billy_test.org(1), '  ')$$, '22023', 'query must not be empty', 'an empty query is refused');
SELECT throws_ok($$SELECT * FROM billy.search(billy_test.org(1), 'x', ARRAY['invoices'])$$, '22023', 'unknown kind "invoices"',
          'an unknown kind is refused by name');

SELECT * FROM finish();
ROLLBACK;
