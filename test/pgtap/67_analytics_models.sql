-- The C parts on their own, with answers worked out by hand: the forecast
-- models (series that are exactly a line, a line plus a season, a constant,
-- too short for a trend, a single value), the customer bitmaps and the
-- aging buckets; and their bad input.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(27);

-- y = 100 + 10 t for t = 0..29 with a season of 12: Holt-Winters (30 >= 24)
-- fits it exactly, whatever the parameters: the next values are 400, 410, 420,
-- with no error, so the intervals collapse onto them and the backtest is exact
SELECT results_eq(
    $$SELECT step, forecast, lower_95, upper_95, method, sigma, mape, backtest_periods
      FROM billy._forecast(ARRAY(SELECT (100 + 10 * t)::numeric FROM generate_series(0, 29) t), 12, 3)$$,
    $$VALUES (1, 400.00, 400.00, 400.00, 'holt_winters', 0.00, 0.00, 3),
             (2, 410.00, 410.00, 410.00, 'holt_winters', 0.00, 0.00, 3),
             (3, 420.00, 420.00, 420.00, 'holt_winters', 0.00, 0.00, 3)$$,
    'Holt-Winters continues a straight line exactly');
-- y = 1000 + 5 t + s(t mod 4), s = (100, -50, 20, -70), t = 0..15: the next
-- five are t = 16..20: 1080 + 100, 1085 - 50, 1090 + 20, 1095 - 70, 1100 + 100
SELECT results_eq(
    $$SELECT step, forecast, method, mape
      FROM billy._forecast(ARRAY(SELECT (1000 + 5 * t + (ARRAY[100, -50, 20, -70])[t % 4 + 1])::numeric
                                 FROM generate_series(0, 15) t), 4, 5)$$,
    $$VALUES (1, 1180.00, 'holt_winters', 0.00), (2, 1035.00, 'holt_winters', 0.00), (3, 1110.00, 'holt_winters', 0.00),
             (4, 1025.00, 'holt_winters', 0.00), (5, 1200.00, 'holt_winters', 0.00)$$,
    'Holt-Winters continues a trend with a season exactly');
-- five values of 500 with a season of 12 (too short): Holt, a flat line
SELECT results_eq(
    $$SELECT step, forecast, method, lower_80, upper_80 FROM billy._forecast('{500, 500, 500, 500, 500}', 12, 2)$$,
    $$VALUES (1, 500.00, 'holt', 500.00, 500.00), (2, 500.00, 'holt', 500.00, 500.00)$$,
    'a short constant history: Holt''s method, a flat forecast');
-- 100, 200: the mean, 150.00; sigma = sqrt(((-50)^2 + 50^2) / 1) = 70.71;
-- 95%: 150 +- 1.96 * 70.7107 * sqrt(1 + 1/2) = 150 +- 169.74; the backtest
-- forecasts 200 from 100: 50% off
SELECT results_eq(
    $$SELECT step, forecast, lower_95, upper_95, method, sigma, mape, backtest_periods FROM billy._forecast('{100, 200}', 12, 1)$$,
    $$VALUES (1, 150.00, -19.74, 319.74, 'mean', 70.71, 50.00, 1)$$,
    'two values: their mean, with the interval of a mean, and a backtest');
SELECT results_eq(
    $$SELECT step, forecast, lower_95, method, sigma, mape, backtest_periods FROM billy._forecast('{42}', 12, 2)$$,
    $$VALUES (1, 42.00, NULL::numeric, 'mean', NULL::numeric, NULL::numeric, 0), (2, 42.00, NULL, 'mean', NULL, NULL, 0)$$,
    'one value: no interval and no backtest to speak of');
-- a noisy seasonal series: the fitted parameters are in [0, 1] and the
-- intervals widen with the horizon
SELECT ok((SELECT bool_and(alpha BETWEEN 0 AND 1 AND beta BETWEEN 0 AND 1 AND gamma BETWEEN 0 AND 1)
           FROM billy._forecast(ARRAY(SELECT (1000 + 300 * sin(t * pi() / 6) + 40 * sin(t * 7.3))::numeric(12, 2)
                                      FROM generate_series(0, 47) t), 12, 12)), 'fitted parameters stay in [0, 1]');
CREATE TEMP TABLE seasonal AS
SELECT * FROM billy._forecast(ARRAY(SELECT (1000 + 300 * sin(t * pi() / 6) + 40 * sin(t * 7.3))::numeric(12, 2)
                                    FROM generate_series(0, 47) t), 12, 24);
SELECT ok((SELECT bool_and(f.upper_95 - f.lower_95 <= g.upper_95 - g.lower_95)
           FROM seasonal f JOIN seasonal g ON g.step = f.step + 1)
          AND (SELECT max(upper_95 - lower_95) FILTER (WHERE step = 24) > max(upper_95 - lower_95) FILTER (WHERE step = 1)
               FROM seasonal),
          'intervals never narrow with the horizon, and widen over two seasons');
SELECT cmp_ok((SELECT max(mape) FROM billy._forecast(ARRAY(SELECT (1000 + 300 * sin(t * pi() / 6) + 40 * sin(t * 7.3))::numeric(12, 2)
                                                           FROM generate_series(0, 47) t), 12, 12)), '<', 10::numeric,
              'a seasonal series with a little noise is forecast within 10%');
SELECT is(billy_test.try($$SELECT * FROM billy._forecast('{}', 12, 3)$$), 'P0002: history is empty: nothing to forecast from',
          'an empty history is refused');
SELECT is(billy_test.try($$SELECT * FROM billy._forecast('{1, NULL, 3}', 12, 3)$$),
          '22004: history element 2 is NULL' || E'\nHINT: Use 0 for a period without revenue.', 'a NULL in the history is refused');
SELECT is(billy_test.try($$SELECT * FROM billy._forecast('{1, 2, 3}', 12, 0)$$),
          '22023: horizon must be between 1 and 1000, not 0', 'a horizon of 0 is refused');
SELECT is(billy_test.try($$SELECT * FROM billy._forecast('{1, 2, 3}', 0, 3)$$),
          '22023: season must be between 1 and 366, not 0', 'a season of 0 is refused');

-- bitmaps: members 0 and 9 are bits 0 of byte 0 and 1 of byte 1
SELECT is(billy._bitmap_from(ARRAY[0, 9]), '\x0102'::bytea, 'a bitmap of {0, 9}');
SELECT is(billy._bitmap_from(ARRAY[]::integer[]), '\x'::bytea, 'the empty set is the empty bytea');
SELECT is(billy._bitmap_count(billy._bitmap_from(ARRAY[0, 9, 9, 700])), 3, 'duplicates count once');
SELECT is(billy._bitmap_apply(billy._bitmap_from(ARRAY[1, 2, 3]), billy._bitmap_from(ARRAY[40]), billy._bitmap_from(ARRAY[2, 40])),
          billy._bitmap_from(ARRAY[1, 3]), 'apply adds, then clears');
SELECT is(billy._bitmap_apply(billy._bitmap_from(ARRAY[100]), NULL, billy._bitmap_from(ARRAY[100])), '\x'::bytea,
          'clearing the last member trims the bitmap to nothing');
SELECT is((SELECT billy._bitmap_union(b) FROM (VALUES (billy._bitmap_from(ARRAY[1])), (NULL), (billy._bitmap_from(ARRAY[30, 1]))) v(b)),
          billy._bitmap_from(ARRAY[1, 30]), 'the union of bitmaps of different lengths');
SELECT is(billy._bitmap_andnot(billy._bitmap_from(ARRAY[1, 30, 50]), billy._bitmap_from(ARRAY[30])), billy._bitmap_from(ARRAY[1, 50]),
          'and not');
SELECT is(billy._bitmap_and(billy._bitmap_from(ARRAY[1, 30, 50]), billy._bitmap_from(ARRAY[30, 60])), billy._bitmap_from(ARRAY[30]),
          'and');
SELECT is(billy_test.try($$SELECT billy._bitmap_from(ARRAY[-1])$$),
          '22003: bitmap member -1 is out of range' || E'\nDETAIL: Members are from 0 to 67108863.', 'negative members are refused');

-- aging at 2026-06-30: due 06-30 is not due, 06-29 one day late, 05-31 30
-- days, 05-30 31 days, 04-01 90 days, 03-31 91 days
SELECT is((SELECT billy._aging(due, amount, '2026-06-30')
           FROM (VALUES ('2026-07-15'::date, 10.00), ('2026-06-30', 1.01), ('2026-06-29', 2.00), ('2026-05-31', 3.00),
                        ('2026-05-30', 4.00), ('2026-04-01', 5.00), ('2026-03-31', 6.00), ('2020-01-01', -0.5),
                        (NULL, 100), ('2026-01-01', NULL)) v(due, amount)),
          '{11.01,5.00,4.00,5.00,5.50,2,2,1,1,2}'::numeric[], 'aging buckets and counts, bounds included, NULLs skipped');
SELECT is((SELECT billy._aging(due, amount, '2026-06-30') FROM (SELECT NULL::date AS due, NULL::numeric AS amount WHERE false) x),
          '{0.00,0.00,0.00,0.00,0.00,0,0,0,0,0}'::numeric[], 'aging of nothing');
SELECT is(billy_test.try($$SELECT billy._aging('2026-01-01'::date, 1.00, NULL)$$),
          '22004: as_of must not be NULL' || E'\nHINT: Pass the date the receivables are aged at.', 'aging needs a date');

-- the periods of the summary
SELECT is((SELECT (period_start, period_end, previous_start, previous_end)::text FROM billy._analytics_period('month', '2026-03-31')),
          '(2026-03-01,2026-03-31,2026-02-01,2026-02-28)', 'March to date against February (clipped to its end)');
SELECT is((SELECT (period_start, period_end, previous_start, previous_end)::text FROM billy._analytics_period('year', '2024-02-29')),
          '(2024-01-01,2024-02-29,2023-01-01,2023-02-28)', 'a leap day against the year before');
SELECT is((SELECT (period_start, period_end, previous_start, previous_end)::text FROM billy._analytics_period(' 2026-q1 ', '2020-01-01')),
          '(2026-01-01,2026-03-31,2025-10-01,2025-12-31)', 'a quarter against the quarter before');

SELECT * FROM finish();
ROLLBACK;
