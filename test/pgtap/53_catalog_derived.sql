-- What the writes and the cache derive from the resource catalog (issue 16):
-- the records a write's answer touched (billy._write_affected) and the
-- cache's policy and refresh candidates (billy._cache_recompute,
-- billy._cache_candidates) name no resource and no resource's column.  A
-- resource added as catalog rows, with a child Billy sideloads, a contact
-- column and a hot set, is found by each of them; a list of resources or
-- columns written into one of them would miss it.  One transaction, rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(13);

SELECT billy.connect(billy_test.token(1));
SET LOCAL client_min_messages = warning;

-- Billy's own children, as Billy sideloads them in a write's answer
SELECT is(ARRAY(SELECT resource || ' ' || record_id || ' ' || deleted FROM billy._write_affected(
              '{"invoices": [{"id": "i0"}],
                "invoiceLines": [{"id": "l1", "invoiceId": "i1"}], "billLines": [{"id": "l2", "billId": "b1"}],
                "contactPersons": [{"id": "p1", "contactId": "c1"}], "productPrices": [{"id": "q1", "productId": "r1"}],
                "balanceModifiers": [{"id": "m1", "subjectReference": "invoice:i2"}, {"id": "m2", "subjectReference": "bill:b2"},
                                     {"id": "m3", "subjectReference": "contact:c9"}],
                "meta": {"deletedRecords": {"invoices": ["i3"]}}}'::jsonb) ORDER BY 1),
          ARRAY['bills b1 false', 'bills b2 false', 'contacts c1 false', 'invoices i0 false', 'invoices i1 false',
                'invoices i2 false', 'invoices i3 true', 'products r1 false'],
          'a write''s answer: its records, its children''s parents, the documents a modifier names, deletions');

-- a resource of rows only: gadgets, with parts (sideloaded as gadgetParts)
-- and owners of several kinds (by an ownerReference "gadget:<id>")
CREATE TABLE billy.dummy_gadgets (
    organization_id text NOT NULL REFERENCES billy.organizations (id) ON DELETE CASCADE,
    id text NOT NULL, holder text, is_paid boolean,
    raw jsonb NOT NULL, content_hash bytea NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(), confirmed_at timestamptz NOT NULL DEFAULT now(),
    changed_at timestamptz NOT NULL DEFAULT now(), deleted_at timestamptz, sync_run_id bigint,
    PRIMARY KEY (organization_id, id));
CREATE TABLE billy.dummy_gadget_parts (
    organization_id text NOT NULL, id text NOT NULL, gadget_id text, raw jsonb NOT NULL,
    PRIMARY KEY (organization_id, id));
CREATE TABLE billy.dummy_gadget_owners (
    organization_id text NOT NULL, id text NOT NULL, owner_id text, owner_type text, raw jsonb NOT NULL,
    PRIMARY KEY (organization_id, id));
INSERT INTO billy.resources (name, singular, table_name, noun, sync_order, hot_filter, hot_where, read_function)
VALUES ('gadgets', 'gadget', 'dummy_gadgets', 'gadget', 1001, 'isPaid=false', 'is_paid IS NOT TRUE', 'get_gadget');
INSERT INTO billy.resource_children (resource, key, position, table_name, parent_column, kind_column, kind) VALUES
    ('gadgets', 'parts', 1, 'dummy_gadget_parts', 'gadget_id', NULL, NULL),
    ('gadgets', 'gadgetOwners', 2, 'dummy_gadget_owners', 'owner_id', 'owner_type', 'gadget');
INSERT INTO billy.resource_columns (resource, position, column_name, json_key, type) VALUES
    ('gadgets', 1, 'holder', 'contactId', 'text'),
    ('gadgets', 2, 'is_paid', 'isPaid', 'boolean');

SELECT is(ARRAY(SELECT resource || ' ' || record_id FROM billy._write_affected(
              '{"gadgetParts": [{"id": "p1", "gadgetId": "g1"}],
                "gadgetOwners": [{"id": "o1", "ownerReference": "gadget:g2"}, {"id": "o2", "ownerReference": "invoice:i9"}]}'::jsonb)
              ORDER BY 1),
          ARRAY['gadgets g1', 'gadgets g2'],
          'a new resource''s sideloaded children point at their parent gadgets');

-- the cache: a stale, paid gadget a read asked to refresh, and an unpaid one
INSERT INTO billy.dummy_gadgets (organization_id, id, holder, is_paid, raw, content_hash, confirmed_at, first_seen_at, changed_at)
VALUES (billy_test.org(1), 'g1', 'c7', true, '{"id": "g1"}', '\x00', now() - interval '30 days', now() - interval '30 days', now() - interval '30 days'),
       (billy_test.org(1), 'g2', NULL, false, '{"id": "g2"}', '\x00', now() - interval '30 days', now() - interval '30 days', now() - interval '30 days');
SELECT is(billy._cache_recompute(ARRAY[billy_test.org(1), billy_test.org(1)], ARRAY['gadgets', 'gadgets'], ARRAY['g1', 'g2']), 2,
          'billy._cache_recompute computes the policy of a new resource''s rows');
SELECT ok((SELECT count(*) = 2 FROM billy.cache_policy WHERE organization_id = billy_test.org(1) AND resource = 'gadgets'),
          'both have a policy row');
UPDATE billy.cache_policy SET refresh_wanted = true WHERE organization_id = billy_test.org(1) AND resource = 'gadgets';
SELECT is((SELECT count(*)::int FROM billy._cache_candidates(billy_test.org(1), '0'::interval) WHERE resource = 'gadgets'), 2,
          'billy._cache_candidates finds the new resource''s stale rows');
SELECT is((SELECT contact_id FROM billy._cache_candidates(billy_test.org(1), '0'::interval) WHERE resource = 'gadgets' AND record_id = 'g1'),
          'c7', 'with the contact of its column whose JSON key is contactId');
SELECT is((SELECT in_hot_set FROM billy._cache_candidates(billy_test.org(1), '0'::interval) WHERE resource = 'gadgets' AND record_id = 'g1'),
          false, 'a paid gadget is out of its hot set (hot_where)');
SELECT is((SELECT in_hot_set FROM billy._cache_candidates(billy_test.org(1), '0'::interval) WHERE resource = 'gadgets' AND record_id = 'g2'),
          true, 'an unpaid one is in it');
-- a contact's rows counted in the column whose JSON key is contactId (holder)
SELECT is(ARRAY[billy._contact_page_fits(billy_test.org(1), 'gadgets', 'c7', 1),
                billy._contact_page_fits(billy_test.org(1), 'gadgets', 'c7', 0)],
          ARRAY[true, false], 'billy._contact_page_fits counts a new resource''s rows of one contact');
-- a hot scan after its last confirmation confirms the unpaid gadget, not the paid one
INSERT INTO billy.sync_state (organization_id, resource, last_hot_scan_at)
VALUES (billy_test.org(1), 'gadgets', billy._cache_now())
ON CONFLICT (organization_id, resource) DO UPDATE SET last_hot_scan_at = EXCLUDED.last_hot_scan_at;
UPDATE billy.cache_policy SET refresh_wanted = false, accesses_per_hour = 1000
WHERE organization_id = billy_test.org(1) AND resource = 'gadgets';
SELECT is(ARRAY(SELECT record_id FROM billy._cache_candidates(billy_test.org(1), '0'::interval) WHERE resource = 'gadgets'),
          ARRAY['g1'], 'a hot scan confirms the unpaid gadget only: the paid one is still due');

-- and Billy's own resources as before
SELECT is(ARRAY(SELECT c.resource FROM billy.resource_columns c JOIN billy.resources r ON r.name = c.resource
                WHERE r.read_function IS NOT NULL AND r.name <> 'gadgets' AND c.child = '' AND c.json_key = 'contactId' ORDER BY 1),
          ARRAY(SELECT r.name FROM billy.resources r
                WHERE r.read_function IS NOT NULL AND r.name <> 'gadgets' AND billy._resource_has_column(r.name, 'contact_id') ORDER BY 1),
          'Billy''s resources grouped by contact are those with a contact_id column, as before');
SELECT is(ARRAY(SELECT name FROM billy.resources WHERE contact_filter ORDER BY 1), ARRAY['bills', 'invoices'],
          'the lists Billy filters by contactId: invoices and bills (billy.resources.contact_filter)');
SELECT ok(NOT EXISTS (SELECT 1 FROM billy.resources r WHERE r.read_function IS NOT NULL
                      AND r.hot_where IS NOT NULL AND NOT billy._resource_has_column(r.name, 'is_paid')),
          'Billy''s hot sets are the rows not known to be paid (the read path''s C form of hot_where)');

SELECT * FROM finish();
ROLLBACK;
