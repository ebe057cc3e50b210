-- Freshness windows: billy.ttl_rules by class (change likelihood),
-- billy.freshness_window's 'recent' rule for rows billy saw change in the
-- last hour (not the insert that first stored them), bad rules, who may
-- change the rules (and that every backend's copy follows at once);
-- billy.cache_state and billy.effective_confirmed_at.  Every expected
-- value is worked out by hand from the rules.
\set ON_ERROR_STOP 1
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(31);

-- a window per class: seconds for what changes any moment, hours for what does not
SELECT is(billy.freshness_window('open'), interval '15 seconds', 'an unpaid approved document: 15 seconds');
SELECT is(billy.freshness_window('draft'), interval '15 seconds', 'a draft: 15 seconds');
SELECT is(billy.freshness_window('active'), interval '10 minutes', 'a contact or product in use: 10 minutes');
SELECT is(billy.freshness_window('paid'), interval '6 hours', 'a paid document: 6 hours');
SELECT is(billy.freshness_window('old'), interval '6 hours', 'an unpaid one entered more than a year ago: 6 hours');
SELECT is(billy.freshness_window('archived'), interval '6 hours', 'an archived contact or product: 6 hours');
SELECT is(billy.freshness_window('booked'), interval '6 hours', 'a booked bank payment: 6 hours');
SELECT is(billy.freshness_window('voided'), interval '24 hours', 'a voided one: 24 hours');
SELECT is(billy.freshness_window('no such class'), interval '2 minutes', 'a class without a rule: the ''*'' rule');
SELECT is(billy.freshness_window(NULL), interval '2 minutes', 'no class: the ''*'' rule');

-- changed in the last hour: at most 60 seconds
SELECT is(billy.freshness_window('paid', now() - interval '5 minutes', now() - interval '3 days'), interval '60 seconds',
          'a paid invoice billy saw change 5 minutes ago: 60 seconds');
SELECT is(billy.freshness_window('open', now() - interval '5 minutes', now() - interval '3 days'), interval '15 seconds',
          'a shorter window stays');
SELECT is(billy.freshness_window('paid', now() - interval '61 minutes', now() - interval '3 days'), interval '6 hours',
          'a change more than an hour old no longer counts');
SELECT is(billy.freshness_window('paid', now() - interval '5 minutes', now() - interval '5 minutes'), interval '6 hours',
          'the insert that first stored it is no change');
SELECT is(billy.freshness_window('active', now() - interval '5 minutes'), interval '60 seconds',
          'without first_seen_at, changed_at counts');

-- bad rules
SELECT throws_ok($$INSERT INTO billy.ttl_rules (state, ttl) VALUES ('x', '0')$$, '23514', NULL,
                 'a rule''s window must be positive');
SELECT throws_ok($$INSERT INTO billy.ttl_rules (state, ttl) VALUES ('paid', '1 hour')$$, '23505', NULL,
                 'one rule per class');

-- the rules are the administrators' to change; reads follow at once
SET ROLE billy_reader;
SELECT throws_ok($$UPDATE billy.ttl_rules SET ttl = '1 day'$$, '42501', NULL, 'billy_reader cannot change the rules');
SELECT is((SELECT count(*) FROM billy.ttl_rules), 10::bigint, 'but reads them: ten rules');
RESET ROLE;
BEGIN;
SET LOCAL ROLE billy_admin;
UPDATE billy.ttl_rules SET ttl = '30 seconds' WHERE state = 'open';
SELECT is(billy.freshness_window('open'), interval '30 seconds', 'billy_admin changes a rule and the window follows');
DELETE FROM billy.ttl_rules;
SELECT is(billy.freshness_window('paid'), interval '2 minutes', 'with no rules at all: 2 minutes');
ROLLBACK;
SELECT is(billy.freshness_window('open'), interval '15 seconds', 'a rolled-back change is forgotten');

-- a record's state, from its JSON
SELECT is(billy.cache_state('invoices', '{"state":"approved","isPaid":true,"entryDate":"2020-01-01"}'), 'paid', 'a paid invoice is paid, however old');
SELECT is(billy.cache_state('invoices', format('{"state":"approved","isPaid":false,"entryDate":"%s"}', current_date - 400)::jsonb), 'old',
          'an unpaid one entered more than a year ago is old');
SELECT is(billy.cache_state('bills', format('{"state":"approved","isPaid":false,"entryDate":"%s"}', current_date - 10)::jsonb), 'open',
          'a recent unpaid bill is open');
SELECT is(billy.cache_state('invoices', '{"state":"voided","isPaid":false}'), 'voided', 'voided');
SELECT is(billy.cache_state('contacts', '{"isArchived":true}') || '/' || billy.cache_state('products', '{"isArchived":false}')
          || '/' || billy.cache_state('bankPayments', '{"isVoided":false}'), 'archived/active/booked',
          'contacts and products are active or archived; bank payments booked or voided');

-- the effective confirmation: the latest of the row's, the complete scan's,
-- and the hot scan's when the row is in the hot set
SELECT is(billy.effective_confirmed_at('invoices', '2026-01-01 10:00+00', false, '2026-01-01 11:00+00', '2026-01-01 12:00+00'),
          '2026-01-01 12:00+00'::timestamptz, 'an unpaid invoice was confirmed by the hot scan');
SELECT is(billy.effective_confirmed_at('invoices', '2026-01-01 10:00+00', true, '2026-01-01 11:00+00', '2026-01-01 12:00+00'),
          '2026-01-01 11:00+00'::timestamptz, 'a paid one only by the complete scan (a hot scan does not cover it)');
SELECT is(billy.effective_confirmed_at('contacts', '2026-01-01 10:00+00', NULL, NULL, '2026-01-01 12:00+00'),
          '2026-01-01 10:00+00'::timestamptz, 'contacts have no hot scans: their own confirmation');
SELECT is(billy.effective_confirmed_at('bills', '2026-01-01 13:00+00', NULL, '2026-01-01 11:00+00', '2026-01-01 12:00+00'),
          '2026-01-01 13:00+00'::timestamptz, 'a row written after both scans: its own');

SELECT * FROM finish();
