-- The TTL policy: billy.ttl_rules (the original plan's table by default),
-- billy.optimal_ttl's adjustments for change rate and state, the GUC
-- bounds, bad input, who may change the rules; billy.cache_state and
-- billy.effective_confirmed_at.  Every expected value is worked out by hand
-- from the rules.  Not one transaction: the bounds are set with ALTER
-- SYSTEM (the harness resets them after this file).
\set ON_ERROR_STOP 1
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(42);

-- the rule table by access rate (state '*'), boundaries inclusive
SELECT is(billy.optimal_ttl(12, NULL, NULL), interval '60 minutes', '12 reads an hour: 60 minutes');
SELECT is(billy.optimal_ttl(10, NULL, NULL), interval '60 minutes', '10 reads an hour: 60 minutes (>= 10)');
SELECT is(billy.optimal_ttl(9.99, NULL, NULL), interval '15 minutes', '9.99 reads an hour: 15 minutes');
SELECT is(billy.optimal_ttl(2, NULL, NULL), interval '15 minutes', '2 reads an hour: 15 minutes');
SELECT is(billy.optimal_ttl(1.99, NULL, NULL), interval '5 minutes', '1.99 reads an hour: 5 minutes');
SELECT is(billy.optimal_ttl(0.5, NULL, NULL), interval '5 minutes', 'a read every 2 hours: 5 minutes');
SELECT is(billy.optimal_ttl(0.49, NULL, NULL), interval '2 minutes', 'rarer: 2 minutes');
SELECT is(billy.optimal_ttl(NULL, NULL, NULL), interval '2 minutes', 'unknown access rate counts as none');
SELECT is(billy.optimal_ttl(12, NULL, 'open'), interval '60 minutes', 'a state without rules of its own uses the ''*'' rules');

-- state: settled documents barely change
SELECT is(billy.optimal_ttl(0, NULL, 'paid'), interval '6 hours', 'a paid document: 6 hours');
SELECT is(billy.optimal_ttl(50, NULL, 'paid'), interval '6 hours', 'however often it is read');
SELECT is(billy.optimal_ttl(0, NULL, 'voided'), interval '24 hours', 'a voided one: 24 hours (also billy.cache_max_ttl)');
SELECT is(billy.optimal_ttl(1, NULL, 'old'), interval '6 hours', 'an approved one more than a year old: 6 hours');
SELECT is(billy.optimal_ttl(1, NULL, 'booked'), interval '6 hours', 'a booked bank payment: 6 hours');

-- change rate: at most 0.04 / changes_per_day days
SELECT is(billy.optimal_ttl(12, 4, NULL), interval '14 minutes 24 seconds', '4 changes a day cap 60 minutes at 0.01 day = 14.4 minutes');
SELECT is(billy.optimal_ttl(12, 0.5, NULL), interval '60 minutes', '0.5 changes a day (cap 115.2 minutes) leave 60 minutes');
SELECT is(billy.optimal_ttl(0, 100, NULL), interval '34.56 seconds', '100 changes a day cap 2 minutes at 34.56 seconds');
SELECT is(billy.optimal_ttl(0, 1000, NULL), interval '30 seconds', '1000 a day would be 3.456 seconds: raised to billy.cache_min_ttl (30 s)');
SELECT is(billy.optimal_ttl(0, 24, 'paid'), interval '2 minutes 24 seconds', 'a paid invoice that keeps changing loses its long TTL: 0.04/24 day');
SELECT is(billy.optimal_ttl(0, 0, 'paid'), interval '6 hours', 'no change: no cap');

-- bad input names the argument
SELECT throws_like($$SELECT billy.optimal_ttl(-1, NULL, NULL)$$, 'accesses_per_hour must be a number >= 0%', 'negative accesses are refused');
SELECT throws_like($$SELECT billy.optimal_ttl('NaN', NULL, NULL)$$, 'accesses_per_hour must be a number >= 0%', 'NaN accesses are refused');
SELECT throws_like($$SELECT billy.optimal_ttl(1, -0.5, NULL)$$, 'changes_per_day must be a number >= 0%', 'negative changes are refused');
SELECT throws_ok($$INSERT INTO billy.ttl_rules (state, min_accesses_per_hour, ttl) VALUES ('x', 1, '0')$$, '23514', NULL,
                 'a rule''s TTL must be positive');
SELECT throws_ok($$INSERT INTO billy.ttl_rules (state, min_accesses_per_hour, ttl) VALUES ('x', -1, '1 minute')$$, '23514', NULL,
                 'a rule''s access rate must not be negative');

-- the rules are the administrators' to change
SET ROLE billy_reader;
SELECT throws_ok($$UPDATE billy.ttl_rules SET ttl = '1 day'$$, '42501', NULL, 'billy_reader cannot change the rules');
SELECT is((SELECT count(*) FROM billy.ttl_rules WHERE state = '*'), 4::bigint, 'but reads them: the four rules of the original plan');
RESET ROLE;
BEGIN;
SET LOCAL ROLE billy_admin;
UPDATE billy.ttl_rules SET ttl = '90 minutes' WHERE state = '*' AND min_accesses_per_hour = 10;
INSERT INTO billy.ttl_rules (state, min_accesses_per_hour, ttl) VALUES ('open', 0, '10 minutes');
SELECT is(billy.optimal_ttl(12, NULL, NULL), interval '90 minutes', 'billy_admin changes a rule and optimal_ttl follows');
SELECT is(billy.optimal_ttl(20, NULL, 'open'), interval '10 minutes', 'a state''s own rules replace the ''*'' rules');
DELETE FROM billy.ttl_rules WHERE state = '*';
SELECT is(billy.optimal_ttl(5, NULL, NULL), interval '30 seconds', 'with no rule that matches: billy.cache_min_ttl');
ROLLBACK;

-- the GUC bounds
ALTER SYSTEM SET billy.cache_max_ttl = '1h';
ALTER SYSTEM SET billy.cache_min_ttl = '5min';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
SELECT is(billy.optimal_ttl(0, NULL, 'voided'), interval '1 hour', 'billy.cache_max_ttl caps every TTL');
SELECT is(billy.optimal_ttl(0, NULL, NULL), interval '5 minutes', 'billy.cache_min_ttl raises every TTL');
SELECT is(billy.optimal_ttl(12, 4, NULL), interval '14 minutes 24 seconds', 'and leaves those between alone');
ALTER SYSTEM RESET billy.cache_max_ttl;
ALTER SYSTEM RESET billy.cache_min_ttl;
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);

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
