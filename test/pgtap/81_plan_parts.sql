-- The parts the invoice and bill planners share (83-write-ops.sql, issue
-- 16): a credit note's source (billy._plan_credited), the look-ups of a new
-- invoice or bill, the plan of a change to a draft.  Each plan is checked
-- against the mirror it was made from.  One transaction, rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(14);

SELECT billy.connect(billy_test.token(1));
SET LOCAL client_min_messages = warning;
SELECT count(*) FROM billy.sync_now(billy_test.org(1), ARRAY['contacts', 'products', 'invoices', 'bills']);

-- an approved invoice with two lines or more, and an approved bill with lines
SELECT i.id AS inv, coalesce(i.invoice_no, i.id) AS inv_label,
       (SELECT count(*) FROM billy.invoice_lines l WHERE l.organization_id = i.organization_id AND l.invoice_id = i.id) AS inv_lines,
       (SELECT min(l.id) FROM billy.invoice_lines l WHERE l.organization_id = i.organization_id AND l.invoice_id = i.id) AS inv_line
FROM billy.invoices i
WHERE i.organization_id = billy_test.org(1) AND i.state = 'approved' AND i.type = 'invoice' AND i.deleted_at IS NULL
  AND (SELECT count(*) FROM billy.invoice_lines l WHERE l.organization_id = i.organization_id AND l.invoice_id = i.id) >= 2
ORDER BY i.id LIMIT 1
\gset
SELECT b.id AS bill, b.contact_id AS supplier,
       (SELECT count(*) FROM billy.bill_lines l WHERE l.organization_id = b.organization_id AND l.bill_id = b.id) AS bill_lines
FROM billy.bills b
WHERE b.organization_id = billy_test.org(1) AND b.state = 'approved' AND b.type = 'bill' AND b.deleted_at IS NULL
  AND EXISTS (SELECT 1 FROM billy.bill_lines l WHERE l.organization_id = b.organization_id AND l.bill_id = b.id)
ORDER BY b.id LIMIT 1
\gset

-- crediting an invoice: all its lines, found again by the externalId it is given
SELECT billy._plan_credit_invoice(billy_test.org(1), jsonb_build_object('invoiceId', :'inv')) AS ci \gset
SELECT is(:'ci'::jsonb -> 'problems', '[]'::jsonb, 'credit_invoice: an approved invoice can be credited');
SELECT is(jsonb_array_length(:'ci'::jsonb -> 'body' -> 'invoice' -> 'lines'), :inv_lines, 'all its lines are credited');
SELECT is((:'ci'::jsonb -> 'lookup') - 'path',
          jsonb_build_object('kind', 'list', 'root', 'invoices',
                             'match', jsonb_build_object('externalId', :'ci'::jsonb -> 'body' -> 'invoice' ->> 'externalId')),
          'its look-up finds the credit note by the externalId the body sends');
SELECT is(:'ci'::jsonb -> 'lookup' ->> 'path', '/invoices?externalId=' || (:'ci'::jsonb -> 'body' -> 'invoice' ->> 'externalId'),
          'at /invoices?externalId=');
SELECT ok(:'ci'::jsonb ->> 'summary' LIKE 'create a draft credit note for invoice ' || :'inv_label' || ' (' || :inv_lines || ' of its ' || :inv_lines || ' lines)%',
          'its summary names the invoice and the lines');
SELECT ok(NOT (:'ci'::jsonb ? 'document') AND NOT (:'ci'::jsonb ? 'lines'), 'the helper''s working members are not in the plan');
-- one line named, and one that is not the invoice's
SELECT is(jsonb_array_length(billy._plan_credit_invoice(billy_test.org(1), jsonb_build_object('invoiceId', :'inv', 'lineIds', jsonb_build_array(:'inv_line')))
                             -> 'body' -> 'invoice' -> 'lines'), 1, 'a line named: only that one');
SELECT is(billy._plan_credit_invoice(billy_test.org(1), jsonb_build_object('invoiceId', :'inv', 'lineIds', '["nope"]'::jsonb)) -> 'problems' -> 0 ->> 'field',
          'lineIds', 'a line that is not the invoice''s is a problem of lineIds');

-- crediting a bill: found again by supplier and date, the bills there before excluded
SELECT billy._plan_credit_bill(billy_test.org(1), jsonb_build_object('billId', :'bill', 'entryDate', '2026-06-30')) AS cb \gset
SELECT is(:'cb'::jsonb -> 'problems', '[]'::jsonb, 'credit_bill: an approved bill can be credited');
SELECT is(jsonb_array_length(:'cb'::jsonb -> 'body' -> 'bill' -> 'lines'), :bill_lines, 'all its lines are credited');
SELECT is(:'cb'::jsonb -> 'lookup' ->> 'path', format('/bills?contactId=%s&minEntryDate=2026-06-30&maxEntryDate=2026-06-30', :'supplier'),
          'its look-up lists the supplier''s bills of that day');
SELECT is(:'cb'::jsonb -> 'lookup' -> 'match',
          jsonb_build_object('contactId', :'supplier', 'entryDate', '2026-06-30', 'creditedBillId', :'bill'),
          'and matches the one that credits this bill');
SELECT ok(:'cb'::jsonb -> 'lookup' -> 'exclude' @> to_jsonb(ARRAY[:'bill']), 'the supplier''s bills already there are excluded');

-- a change to a draft: an approved bill is not one
SELECT is(billy._plan_update_draft_bill(billy_test.org(1), jsonb_build_object('billId', :'bill', 'changes', '{"dueDate": "2026-07-31"}'::jsonb))
          -> 'problems' -> 0 ->> 'field', 'billId', 'update_draft_bill: an approved bill is refused, on billId');

SELECT * FROM finish();
ROLLBACK;
