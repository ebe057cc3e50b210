-- One parser of periods (billy._period, issue 16) behind the VAT return
-- (billy._vat_period), the statements (billy._ledger_period) and analytics
-- (billy._analytics_period): each keeps its own relative periods, its
-- comparison period and its errors.  One transaction, rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(16);

-- the parser: every spelling, the edges of months and leap years, never an error
SELECT is(ARRAY(SELECT coalesce((p).key, '-') || ' ' || coalesce((p).period_type, '-') || ' '
                       || coalesce((p).start_date::text, '-') || ' ' || coalesce((p).end_date::text, '-') || ' ' || (p).ranged
                FROM (SELECT billy._period(x) AS p
                      FROM unnest(ARRAY['2024-02', 'year:2024', '2024-Q4', 'halfyear:2024-1', '2024-01-01..2024-12-31',
                                        '2024-02-01/2024-02-29', '2024-03-01..2024-02-01', '2024-13', '2024-02-30..2024-03-01',
                                        '0000', 'fy2024', 'month', '']) WITH ORDINALITY u(x, n) ORDER BY n) s),
          ARRAY['2024-02 month 2024-02-01 2024-02-29 false', '2024 year 2024-01-01 2024-12-31 false',
                '2024-Q4 quarter 2024-10-01 2024-12-31 false', '2024-H1 half-year 2024-01-01 2024-06-30 false',
                '2024 year 2024-01-01 2024-12-31 true', '2024-02 month 2024-02-01 2024-02-29 true',
                '- reversed 2024-03-01 2024-02-01 true', '- - - - false', '- - - - true',
                '- - - - false', '- - - - false', '- - - - false', '- - - - false'],
          'billy._period: spellings, leap February, ranges named when standard, reversed ranges, nothing for the rest');

-- the VAT return: its own error, and no range before 1700
SELECT throws_ok($$SELECT billy._vat_period('2024-13')$$, '22023', 'invalid VAT period "2024-13"', 'VAT: a month 13 is refused');
SELECT throws_ok($$SELECT billy._vat_period('1600-01')$$, '22023', 'invalid VAT period "1600-01"', 'VAT: before 1700 is refused');
SELECT throws_ok($$SELECT billy._vat_period('2024-03-01..2024-02-01')$$, '22023', 'invalid VAT period "2024-03-01..2024-02-01"',
                 'VAT: a reversed range is refused');

-- the statements: the same period a year before; fiscal years their own
SELECT billy.connect(billy_test.token(1));
SELECT is((SELECT (label, start_date, end_date, previous_start, previous_end)::text
           FROM billy._ledger_period(billy_test.org(1), '2024-02', NULL)),
          '(2024-02,2024-02-01,2024-02-29,2023-02-01,2023-02-28)', 'statements: leap February against February a year before');
SELECT is((SELECT (label, start_date, end_date, previous_start, previous_end)::text
           FROM billy._ledger_period(billy_test.org(1), '2024-01-01..2024-01-10', NULL)),
          '(2024-01-01..2024-01-10,2024-01-01,2024-01-10,2023-01-01,2023-01-10)', 'statements: a range against the same dates a year before');
SELECT is((SELECT start_date FROM billy._ledger_period(billy_test.org(1), 'fy', '2025-06-01')),
          (SELECT start_date FROM billy.fiscal_year(billy_test.org(1), '2025-06-01')), 'statements: fy is the organization''s fiscal year');
SELECT throws_ok($$SELECT billy._ledger_period(billy_test.org(1), '2024-13', NULL)$$, '22023', 'invalid period "2024-13"',
                 'statements: their own error');

-- analytics: the period before (as many days before, for a range), its errors
SELECT is((SELECT (period_start, period_end, previous_start, previous_end)::text FROM billy._analytics_period('2024-02', '2020-01-01')),
          '(2024-02-01,2024-02-29,2024-01-01,2024-01-31)', 'analytics: leap February against January');
SELECT is((SELECT (period_start, period_end, previous_start, previous_end)::text FROM billy._analytics_period('2024', '2020-01-01')),
          '(2024-01-01,2024-12-31,2023-01-01,2023-12-31)', 'analytics: a year against the year before');
SELECT is((SELECT (period_start, period_end, previous_start, previous_end)::text FROM billy._analytics_period('2024-h2', '2020-01-01')),
          '(2024-07-01,2024-12-31,2024-01-01,2024-06-30)', 'analytics: a half-year against the half before');
SELECT is((SELECT (period_start, period_end, previous_start, previous_end)::text
           FROM billy._analytics_period('2024-01-01..2024-03-31', '2020-01-01')),
          '(2024-01-01,2024-03-31,2023-10-02,2023-12-31)', 'analytics: a range that is a quarter is compared as a range (its 91 days just before)');
SELECT is((SELECT (period_start, period_end)::text FROM billy._analytics_period('fy2024', '2020-01-01', 6)),
          '(2023-07-01,2024-06-30)', 'analytics: fy2024 ends in the fiscal year''s end month of 2024');
SELECT throws_ok($$SELECT billy._analytics_period('2024-03-01..2024-02-01', '2020-01-01')$$, '22023',
                 'period "2024-03-01..2024-02-01" ends before it starts', 'analytics: a reversed range, said so');
SELECT throws_ok($$SELECT billy._analytics_period('2024-13', '2020-01-01')$$, '22023',
                 'period "2024-13" is not a valid date or range', 'analytics: a month 13, said so');
SELECT throws_ok($$SELECT billy._analytics_period('someday', '2020-01-01')$$, '22023',
                 'unknown period "someday"', 'analytics: anything else is unknown');

SELECT * FROM finish();
ROLLBACK;
