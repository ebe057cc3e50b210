-- VAT periods, deadlines and the small helpers: the deadline examples of
-- spec/moms.md §3, Danish holidays with Easter computed, the period-type
-- thresholds (T13), period parsing and its errors, VAT from gross and net;
-- and every deadline billy computes against the deadline billy-sandbox's own
-- sales tax returns state (an independent implementation) for a monthly,
-- a quarterly and a half-yearly organization.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(68);

-- the spec's deadline examples
SELECT is(billy.vat_deadline('2025-Q1'), '2025-06-02'::date, 'Q1-2025: 1 June is a Sunday, due Monday 2 June');
SELECT is(billy.vat_deadline('2025-Q2'), '2025-09-01'::date, 'Q2-2025 is due 1 September');
SELECT is(billy.vat_deadline('2025-H1'), '2025-09-01'::date, 'H1-2025 is due 1 September');
SELECT is(billy.vat_deadline('2020-06'), '2020-08-17'::date, 'June 2020 (monthly) is due 17 August');
SELECT is(billy.vat_deadline('2019-H2'), '2020-03-02'::date, 'H2-2019: 1 March 2020 is a Sunday, due 2 March (SKAT''s table)');
-- worked out by hand from the calendar
SELECT is(billy.vat_deadline('2025-03'), '2025-04-25'::date, 'March 2025 is due Friday 25 April');
SELECT is(billy.vat_deadline('2025-Q4'), '2026-03-02'::date, 'Q4-2025: 1 March 2026 is a Sunday, due 2 March');
SELECT is(billy.vat_deadline('2025-11'), '2025-12-29'::date, 'November 2025: 25 and 26 December are holidays, then a weekend: due 29 December');
SELECT is(billy.vat_deadline('2011-03'), '2011-04-26'::date, 'March 2011: 25 April 2011 is 2. påskedag, due 26 April');
SELECT is(billy.vat_deadline('2017-04'), '2017-05-26'::date, 'April 2017: 25 May 2017 is Kristi himmelfartsdag, due 26 May');
SELECT is(billy.vat_deadline('2020-Q1'), '2020-06-02'::date, 'Q1-2020: 1 June 2020 is 2. pinsedag, due 2 June');
SELECT is(billy.vat_deadline('2024-06'), '2024-08-19'::date, 'June 2024: 17 August is a Saturday, due Monday 19 August');
SELECT throws_ok($$SELECT billy.vat_deadline('2025')$$, '22023', 'VAT period "2025" is a year and has no deadline',
                 'a year has no VAT deadline');

-- Easter and the holidays
SELECT is(ARRAY(SELECT billy._easter_sunday(y) FROM unnest(ARRAY[1818, 2000, 2008, 2019, 2024, 2025, 2026, 2038]) y),
          ARRAY['1818-03-22', '2000-04-23', '2008-03-23', '2019-04-21', '2024-03-31', '2025-04-20', '2026-04-05', '2038-04-25']::date[],
          'Easter Sunday, earliest and latest possible dates included');
SELECT is(ARRAY(SELECT billy.danish_holidays(2025)),
          ARRAY['2025-01-01', '2025-04-17', '2025-04-18', '2025-04-20', '2025-04-21', '2025-05-29', '2025-06-05',
                '2025-06-08', '2025-06-09', '2025-12-24', '2025-12-25', '2025-12-26', '2025-12-31']::date[],
          'the Danish holidays and bank closing days of 2025');
SELECT ok('2023-05-05'::date IN (SELECT billy.danish_holidays(2023)), 'store bededag 2023 (5 May) is a holiday');
SELECT ok('2024-04-26'::date NOT IN (SELECT billy.danish_holidays(2024)), 'store bededag is abolished from 2024');
SELECT throws_ok($$SELECT billy.danish_holidays(1500)$$, '22023', 'year 1500 is out of range', 'years before 1700 are refused');

-- period types (T13)
SELECT is(billy.vat_period_type(5000000), 'half-year', 'T13: turnover 5,000,000 files half-yearly');
SELECT is(billy.vat_period_type(5000001), 'quarter', 'T13: 5,000,001 files quarterly');
SELECT is(billy.vat_period_type(50000000), 'quarter', 'T13: 50,000,000 files quarterly');
SELECT is(billy.vat_period_type(50000001), 'month', 'T13: 50,000,001 files monthly');
SELECT is(billy.vat_period_type(1000000, interval '8 months'), 'quarter', 'T13: a new business (under 18 months) files quarterly');
SELECT is(billy.vat_period_type(60000000, interval '8 months'), 'month', 'a new business above 50 mio. files monthly');
SELECT is(billy.vat_period_type(1000000, interval '2 years'), 'half-year', 'after 18 months a small business files half-yearly');
SELECT throws_ok($$SELECT billy.vat_period_type(-1)$$, '22023', NULL, 'a negative turnover is refused');
SELECT throws_ok($$SELECT billy.vat_period_type(100, interval '-1 day')$$, '22023', NULL, 'a negative age is refused');

-- VAT from gross and net, to the øre, half away from zero
SELECT is(billy.vat_from_gross(1234.56), 246.91, 'VAT in 1,234.56 incl. 25% is 246.91');
SELECT is(billy.vat_from_gross(125), 25.00, 'VAT in 125.00 incl. 25% is 25.00');
SELECT is(billy.vat_from_net(987.65), 246.91, '25% of 987.65 is 246.91 (246.9125)');
SELECT is(billy.vat_from_net(0.02), 0.01, '25% of 0.02 rounds half away from zero to 0.01');
SELECT is(billy.vat_from_net(-0.02), -0.01, 'and -0.02 to -0.01');
SELECT throws_ok($$SELECT billy.vat_from_net(100, 25)$$, '22023', 'rate must be a fraction from 0 to 1 (0.25 is 25%), not 25',
                 'a rate given in percent is refused with a hint');

-- period parsing
SELECT is(ARRAY(SELECT (p).key || ' ' || (p).period_type || ' ' || (p).start_date || ' ' || (p).end_date
                FROM (SELECT billy._vat_period(x) AS p FROM unnest(ARRAY['2025-Q1', ' 2025q1 ', 'quarter:2025-1', '2025-H2',
                      'halfYear:2025-2', '2025-02', 'month:2024-02', '2025', '2025-04-01..2025-06-30', '2025-02-03..2025-02-20']) x) s),
          ARRAY['2025-Q1 quarter 2025-01-01 2025-03-31', '2025-Q1 quarter 2025-01-01 2025-03-31',
                '2025-Q1 quarter 2025-01-01 2025-03-31', '2025-H2 half-year 2025-07-01 2025-12-31',
                '2025-H2 half-year 2025-07-01 2025-12-31', '2025-02 month 2025-02-01 2025-02-28',
                '2024-02 month 2024-02-01 2024-02-29', '2025 year 2025-01-01 2025-12-31',
                '2025-Q2 quarter 2025-04-01 2025-06-30', '2025-02-03..2025-02-20 custom 2025-02-03 2025-02-20'],
          'periods in every accepted spelling');
SELECT throws_ok($$SELECT billy.vat_return(NULL, '2025-Q5')$$, '22023', 'invalid VAT period "2025-Q5"', 'quarter 5 is refused');
SELECT throws_ok($$SELECT billy.vat_return('no such org', '2025-Q5')$$, '22023', 'invalid VAT period "2025-Q5"',
                 'a bad period is named first, whatever the organization (this file alone connects none before)');
-- every vat_* function that takes an organization and a period checks them
-- in that order (billy._vat_args): a bad period is named before an unknown
-- organization, which is named with a good period
SELECT throws_ok(format('SELECT * FROM billy.' || f, 'no such org', v.period), v.code, v.message,
                 format('%s: %s', split_part(f, '(', 1), v.what))
FROM unnest(ARRAY['vat_return(%L, %L)', 'vat_return_form(%L, %L)', 'vat_return_lines(%L, %L)', 'vat_eu_sales(%L, %L)',
                  'vat_check(%L, %L)', 'vat_set_adjustment(%L, %L, ''elafgift'', 1)', 'vat_file(%L, %L)']) f,
     (VALUES ('garbage period', '22023', 'invalid VAT period "garbage period"', 'a bad period is named before an unknown organization'),
             ('2025-Q1', '42704', NULL, 'with a good period, the unknown organization is named')) v(period, code, message, what);
SELECT throws_ok($$SELECT billy.vat_deadline('2025-13')$$, '22023', 'invalid VAT period "2025-13"', 'month 13 is refused');
SELECT throws_ok($$SELECT billy.vat_deadline('2025-03-31..2025-01-01')$$, '22023', 'invalid VAT period "2025-03-31..2025-01-01"',
                 'a range that ends before it starts is refused');
SELECT throws_ok($$SELECT billy.vat_deadline('2025-02-30..2025-03-31')$$, '22023', NULL, 'a date that does not exist is refused');
SELECT throws_ok($$SELECT billy.vat_deadline(NULL)$$, '22023', 'invalid VAT period "<NULL>"', 'no period is refused');

-- organizations: errors name what is wrong
SELECT throws_ok($$SELECT billy.vat_return('no such org', '2025-Q1')$$, '42704', 'unknown Billy organization "no such org"',
                 'an unknown organization is refused');
SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url')) AS org1 \gset
SELECT billy.connect(billy_test.token(2), billy_test.setting('api_url')) AS org2 \gset
SELECT throws_ok($$SELECT billy.vat_return(NULL, '2025-Q1')$$, '22023', '2 Billy organizations are connected; name one',
                 'with two organizations connected, one must be named');
SELECT throws_ok(format($$SELECT billy.vat_return(%L, '2025-03-01..2025-02-01')$$, :'org1'), '22023', NULL,
                 'the from/to form refuses a reversed range');
SELECT is((SELECT (period, period_type, deadline)::text FROM billy.vat_return(:'org1', '2025-04-01..2025-06-30')),
          '(2025-Q2,quarter,2025-09-01)', 'the from/to form recognises a quarter and gives its deadline');
SELECT is((SELECT (period, period_type, deadline)::text FROM billy.vat_return(:'org1', '2025-04-01..2025-05-15')),
          '(2025-04-01..2025-05-15,custom,)', 'any other range is custom, without a deadline');
SELECT is((SELECT count(*) FROM billy.vat_periods(:'org1')), 4::bigint, 'billy.vat_periods defaults to this year');

-- billy against billy-sandbox's own deadlines: a quarterly (1), a half-yearly
-- (2) and a new monthly organization, three years of returns each
SELECT billy_test.sandbox('POST', '/organizations', '{"name": "Moms Månedlig A/S", "vatPeriod": "month"}')::jsonb AS monthly \gset
SELECT billy.connect((:'monthly'::jsonb) ->> 'token', billy_test.setting('api_url')) AS org3 \gset
SET LOCAL client_min_messages = warning;
SELECT count(*) AS synced FROM unnest(ARRAY[:'org1', :'org2', :'org3']) o, billy.sync_now(o, ARRAY['salesTaxReturns']) \gset
SELECT is((SELECT array_agg(DISTINCT period_type ORDER BY period_type) FROM billy.sales_tax_returns
           WHERE organization_id IN (:'org1', :'org2', :'org3')), ARRAY['halfYear', 'month', 'quarter'],
          'the sandbox has monthly, quarterly and half-yearly returns');
SELECT cmp_ok((SELECT count(*) FROM billy.sales_tax_returns WHERE organization_id = :'org3'), '>=', 36::bigint,
              'three years of monthly returns');
SELECT is((SELECT count(*) FROM billy.sales_tax_returns s
           WHERE s.organization_id IN (:'org1', :'org2', :'org3')
             AND billy.vat_deadline(s.period) IS DISTINCT FROM s.report_deadline), 0::bigint,
          'every deadline billy computes equals the one Billy states (periods given in Billy''s own spelling)');
SELECT is((SELECT count(*) FROM billy.sales_tax_returns s
           WHERE s.organization_id IN (:'org1', :'org2', :'org3')
             AND (billy._vat_period(s.period)).start_date IS DISTINCT FROM s.start_date
              OR (billy._vat_period(s.period)).end_date IS DISTINCT FROM s.end_date), 0::bigint,
          'and every period''s dates equal Billy''s');
SELECT is((SELECT count(*) FROM billy.vat_periods(:'org1', 2025)), 4::bigint, 'a quarterly organization has 4 periods a year');
SELECT is((SELECT count(*) FROM billy.vat_periods(:'org2', 2025)), 2::bigint, 'a half-yearly organization has 2');
SELECT is((SELECT count(*) FROM billy.vat_periods(:'org3', 2025)), 12::bigint, 'a monthly organization has 12');
SELECT is((SELECT count(*) FROM unnest(ARRAY[:'org1', :'org2', :'org3']) o, billy.vat_periods(o, 2025) p
           WHERE p.billy_deadline IS NOT NULL AND p.billy_deadline = p.deadline), 18::bigint,
          'billy.vat_periods shows Billy''s deadline next to its own, equal for every period of 2025');

SELECT * FROM finish();
ROLLBACK;
