-- bench/analytics/queries.sql: each analytics function against the same
-- answer computed by a plain GROUP BY over the mirror, in one session.
-- psql variables: org, today, fruns, pruns.  Prints one line per question:
-- question, p50 of the function, p50 of the plain query, the ratio, and
-- whether both gave the same answer.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET jit = off;

-- p50 (ms) of running a statement runs times, after one warm-up run
CREATE FUNCTION pg_temp.p50(statement text, runs integer) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE
    t timestamptz;
    times numeric[] := '{}';
BEGIN
    EXECUTE statement;
    FOR i IN 1..runs LOOP
        t := clock_timestamp();
        EXECUTE statement;
        times := times || (extract(epoch FROM clock_timestamp() - t) * 1000)::numeric;
    END LOOP;
    RETURN (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(times) x);
END $$;

CREATE TEMP TABLE results (n serial, question text, function_ms numeric, plain_ms numeric, same boolean);

-- the summary: this month to date (the default) and the year to date
CREATE FUNCTION pg_temp.plain_summary(o text, period text, as_of date) RETURNS TABLE (
    net numeric, vat numeric, invoices bigint, credit_notes bigint, customers bigint, average numeric,
    previous_net numeric, previous_gross numeric, outstanding numeric, outstanding_invoices bigint,
    overdue numeric, overdue_invoices bigint, paid numeric, costs numeric)
LANGUAGE sql STABLE AS $$
    WITH p AS (SELECT * FROM billy._analytics_period(period, as_of)),
    inv AS (
        SELECT i.type, i.entry_date, i.contact_id, round(i.amount * i.exchange_rate, 2) AS nb,
               round(i.tax * i.exchange_rate, 2) AS tb,
               i.entry_date BETWEEN p.period_start AND p.period_end AS cur
        FROM billy.invoices i, p
        WHERE i.organization_id = o AND i.state = 'approved' AND i.deleted_at IS NULL
          AND (i.entry_date BETWEEN p.period_start AND p.period_end OR i.entry_date BETWEEN p.previous_start AND p.previous_end)
    ), sums AS (
        SELECT COALESCE(sum(CASE WHEN type = 'creditNote' THEN -nb ELSE nb END) FILTER (WHERE cur), 0) AS net,
               COALESCE(sum(CASE WHEN type = 'creditNote' THEN -tb ELSE tb END) FILTER (WHERE cur), 0) AS vat,
               count(*) FILTER (WHERE cur AND type = 'invoice') AS invoices,
               count(*) FILTER (WHERE cur AND type = 'creditNote') AS credit_notes,
               count(DISTINCT contact_id) FILTER (WHERE cur AND type = 'invoice') AS customers,
               round(sum(nb) FILTER (WHERE cur AND type = 'invoice') / nullif(count(*) FILTER (WHERE cur AND type = 'invoice'), 0), 2) AS average,
               COALESCE(sum(CASE WHEN type = 'creditNote' THEN -nb ELSE nb END) FILTER (WHERE NOT cur), 0) AS previous_net,
               COALESCE(sum(CASE WHEN type = 'creditNote' THEN -(nb + tb) ELSE nb + tb END) FILTER (WHERE NOT cur), 0) AS previous_gross
        FROM inv
    ), open AS (
        SELECT COALESCE(sum(CASE WHEN type = 'creditNote' THEN -b ELSE b END), 0) AS outstanding,
               count(*) FILTER (WHERE type = 'invoice') AS outstanding_invoices,
               COALESCE(sum(CASE WHEN type = 'creditNote' THEN -b ELSE b END) FILTER (WHERE due < as_of), 0) AS overdue,
               count(*) FILTER (WHERE type = 'invoice' AND due < as_of) AS overdue_invoices
        FROM (SELECT type, COALESCE(due_date, entry_date) AS due, round(balance * exchange_rate, 2) AS b
              FROM billy.invoices WHERE organization_id = o AND state = 'approved' AND deleted_at IS NULL AND balance <> 0) x
    ), paid AS (
        SELECT COALESCE(sum(CASE WHEN i.type = 'creditNote' THEN -1 ELSE 1 END * round(-m.amount * i.exchange_rate, 2)), 0) AS paid
        FROM billy.balance_modifiers m, p, billy.invoices i
        WHERE m.organization_id = o AND m.subject_type = 'invoice' AND m.modifier_type = 'bankPayment' AND NOT m.is_voided
          AND m.entry_date BETWEEN p.period_start AND p.period_end
          AND i.organization_id = o AND i.id = m.subject_id AND i.state = 'approved' AND i.deleted_at IS NULL
    ), costs AS (
        SELECT COALESCE(sum(CASE WHEN b.type = 'creditNote' THEN -1 ELSE 1 END * round(b.amount * b.exchange_rate, 2)), 0) AS costs
        FROM billy.bills b, p
        WHERE b.organization_id = o AND b.state = 'approved' AND b.deleted_at IS NULL
          AND b.entry_date BETWEEN p.period_start AND p.period_end
    )
    SELECT sums.*, open.*, paid.paid, costs.costs FROM sums, open, paid, costs
$$;
CREATE FUNCTION pg_temp.summary_same(o text, period text, as_of date) RETURNS boolean LANGUAGE sql AS $$
    SELECT (s.net_revenue, s.vat, s.invoices::bigint, s.credit_notes::bigint, s.customers::bigint, s.average_invoice,
            s.previous_net_revenue, s.previous_gross_revenue, s.outstanding, s.outstanding_invoices::bigint, s.overdue,
            s.overdue_invoices::bigint, s.paid, s.costs)
           IS NOT DISTINCT FROM (SELECT p FROM pg_temp.plain_summary(o, period, as_of) p)
    FROM billy.analytics_summary(o, period, as_of) s
$$;
INSERT INTO results (question, function_ms, plain_ms, same)
SELECT 'summary, this month to date',
       pg_temp.p50(format('SELECT * FROM billy.analytics_summary(%L, %L, %L)', :'org', 'month', :'today'), :fruns),
       pg_temp.p50(format('SELECT * FROM pg_temp.plain_summary(%L, %L, %L)', :'org', 'month', :'today'), :pruns),
       pg_temp.summary_same(:'org', 'month', :'today');
INSERT INTO results (question, function_ms, plain_ms, same)
SELECT 'summary, this year to date',
       pg_temp.p50(format('SELECT * FROM billy.analytics_summary(%L, %L, %L)', :'org', 'year', :'today'), :fruns),
       pg_temp.p50(format('SELECT * FROM pg_temp.plain_summary(%L, %L, %L)', :'org', 'year', :'today'), :pruns),
       pg_temp.summary_same(:'org', 'year', :'today');

-- trends: three years by month, with moving averages and growth
CREATE FUNCTION pg_temp.plain_trends(o text, from_date date, to_date date) RETURNS TABLE (
    period_start date, net numeric, vat numeric, invoices bigint, credit_notes bigint, moving_average numeric,
    growth_pct numeric, yoy_pct numeric)
LANGUAGE sql STABLE AS $$
    WITH m AS (
        SELECT date_trunc('month', entry_date)::date AS ps,
               sum(CASE WHEN type = 'creditNote' THEN -1 ELSE 1 END * round(amount * exchange_rate, 2)) AS net,
               sum(CASE WHEN type = 'creditNote' THEN -1 ELSE 1 END * round(tax * exchange_rate, 2)) AS vat,
               count(*) FILTER (WHERE type = 'invoice') AS invoices, count(*) FILTER (WHERE type = 'creditNote') AS credit_notes
        FROM billy.invoices
        WHERE organization_id = o AND state = 'approved' AND deleted_at IS NULL
          AND entry_date >= date_trunc('month', from_date) - interval '1 year' AND entry_date <= to_date
        GROUP BY 1
    ), s AS (
        SELECT g::date AS ps, COALESCE(m.net, 0) AS net, COALESCE(m.vat, 0) AS vat, COALESCE(m.invoices, 0) AS invoices,
               COALESCE(m.credit_notes, 0) AS credit_notes
        FROM generate_series(date_trunc('month', from_date) - interval '1 year', date_trunc('month', to_date), interval '1 month') g
        LEFT JOIN m ON m.ps = g::date
    ), w AS (
        SELECT s.*, round(avg(net) OVER (ORDER BY ps ROWS 2 PRECEDING), 2) AS ma, lag(net) OVER (ORDER BY ps) AS prev,
               lag(net, 12) OVER (ORDER BY ps) AS year_ago
        FROM s
    )
    SELECT ps, net, vat, invoices, credit_notes, ma,
           CASE WHEN prev <> 0 THEN round(100 * (net - prev) / abs(prev), 1) END,
           CASE WHEN year_ago <> 0 THEN round(100 * (net - year_ago) / abs(year_ago), 1) END
    FROM w WHERE ps >= date_trunc('month', from_date) ORDER BY ps
$$;
INSERT INTO results (question, function_ms, plain_ms, same)
SELECT 'revenue trends, 36 months',
       pg_temp.p50(format('SELECT * FROM billy.revenue_trends(%L, %L, %L)', :'org', (:'today'::date - 1094), :'today'), :fruns),
       pg_temp.p50(format('SELECT * FROM pg_temp.plain_trends(%L, %L, %L)', :'org', (:'today'::date - 1094), :'today'), :pruns),
       NOT EXISTS (
           (SELECT period_start, net, vat, invoices::bigint, credit_notes::bigint, moving_average, growth_pct, yoy_pct
            FROM billy.revenue_trends(:'org', (:'today'::date - 1094), :'today')
            EXCEPT SELECT * FROM pg_temp.plain_trends(:'org', (:'today'::date - 1094), :'today'))
           UNION ALL
           (SELECT * FROM pg_temp.plain_trends(:'org', (:'today'::date - 1094), :'today')
            EXCEPT SELECT period_start, net, vat, invoices::bigint, credit_notes::bigint, moving_average, growth_pct, yoy_pct
                   FROM billy.revenue_trends(:'org', (:'today'::date - 1094), :'today')));
INSERT INTO results (question, function_ms, plain_ms, same)
SELECT 'revenue trends, 90 days by day',
       pg_temp.p50(format('SELECT * FROM billy.revenue_trends(%L, %L, %L, %L)', :'org', (:'today'::date - 89), :'today', 'day'), :fruns),
       pg_temp.p50(format($q$SELECT entry_date, sum(CASE WHEN type = 'creditNote' THEN -1 ELSE 1 END * round(amount * exchange_rate, 2))
                            FROM billy.invoices WHERE organization_id = %L AND state = 'approved' AND deleted_at IS NULL
                              AND entry_date BETWEEN %L::date - 89 - 365 AND %L GROUP BY 1$q$, :'org', :'today', :'today'), :pruns),
       (SELECT bool_and(t.net IS NOT DISTINCT FROM COALESCE(p.net, 0))
        FROM billy.revenue_trends(:'org', (:'today'::date - 89), :'today', 'day') t
        LEFT JOIN (SELECT entry_date, sum(CASE WHEN type = 'creditNote' THEN -1 ELSE 1 END * round(amount * exchange_rate, 2)) AS net
                   FROM billy.invoices WHERE organization_id = :'org' AND state = 'approved' AND deleted_at IS NULL
                   GROUP BY 1) p ON p.entry_date = t.period_start);

-- customers, all history: the top 10, totals and concentration
CREATE FUNCTION pg_temp.plain_customers(o text) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH c AS (
        SELECT contact_id, sum(CASE WHEN type = 'creditNote' THEN -1 ELSE 1 END * round(amount * exchange_rate, 2)) AS net
        FROM billy.invoices WHERE organization_id = o AND state = 'approved' AND deleted_at IS NULL AND contact_id IS NOT NULL
        GROUP BY 1
    )
    SELECT jsonb_build_object(
        'net_revenue', (SELECT sum(net) FROM c),
        'customers', (SELECT count(DISTINCT contact_id) FROM billy.invoices
                      WHERE organization_id = o AND state = 'approved' AND deleted_at IS NULL AND type = 'invoice'),
        'hhi', (SELECT round(sum((100 * net / (SELECT sum(net) FROM c WHERE net > 0)) ^ 2), 1) FROM c WHERE net > 0),
        'top', (SELECT jsonb_agg(x.contact_id ORDER BY x.net DESC, x.contact_id)
                FROM (SELECT * FROM c ORDER BY net DESC, contact_id LIMIT 10) x))
$$;
INSERT INTO results (question, function_ms, plain_ms, same)
SELECT 'customer insights, all history',
       pg_temp.p50(format('SELECT billy.customer_insights(%L, 10, NULL, %L)', :'org', :'today'), :fruns),
       pg_temp.p50(format('SELECT pg_temp.plain_customers(%L)', :'org'), :pruns),
       (SELECT jsonb_build_object('net_revenue', ci -> 'net_revenue', 'customers', ci -> 'customers',
                                  'hhi', ci -> 'concentration' -> 'hhi',
                                  'top', (SELECT jsonb_agg(t -> 'contact_id' ORDER BY (t ->> 'rank')::int)
                                          FROM jsonb_array_elements(ci -> 'top') t))
               = pg_temp.plain_customers(:'org')
        FROM billy.customer_insights(:'org', 10, NULL, :'today') ci);
INSERT INTO results (question, function_ms, plain_ms, same)
SELECT 'customer insights, last 12 months',
       pg_temp.p50(format('SELECT billy.customer_insights(%L, 10, %L, %L)', :'org', (date_trunc('month', :'today'::date) - interval '11 months')::date, :'today'), :fruns),
       pg_temp.p50(format($q$SELECT contact_id, sum(CASE WHEN type = 'creditNote' THEN -1 ELSE 1 END * round(amount * exchange_rate, 2)) AS net
                            FROM billy.invoices WHERE organization_id = %L AND state = 'approved' AND deleted_at IS NULL
                              AND entry_date BETWEEN %L AND %L GROUP BY 1 ORDER BY 2 DESC LIMIT 10$q$,
                          :'org', (date_trunc('month', :'today'::date) - interval '11 months')::date, :'today'), :pruns),
       (SELECT (SELECT jsonb_agg(t -> 'net_revenue' ORDER BY (t ->> 'rank')::int) FROM jsonb_array_elements(ci -> 'top') t)
               = (SELECT jsonb_agg(to_jsonb(x.net) ORDER BY x.net DESC)
                  FROM (SELECT sum(CASE WHEN type = 'creditNote' THEN -1 ELSE 1 END * round(amount * exchange_rate, 2)) AS net
                        FROM billy.invoices WHERE organization_id = :'org' AND state = 'approved' AND deleted_at IS NULL
                          AND entry_date BETWEEN (date_trunc('month', :'today'::date) - interval '11 months')::date AND :'today'
                        GROUP BY contact_id ORDER BY 1 DESC LIMIT 10) x)
        FROM billy.customer_insights(:'org', 10, (date_trunc('month', :'today'::date) - interval '11 months')::date, :'today') ci);

-- receivables aging today, every customer and the total
CREATE FUNCTION pg_temp.plain_aging(o text, as_of date) RETURNS TABLE (contact_id text, total numeric, over_90 numeric, documents bigint)
LANGUAGE sql STABLE AS $$
    SELECT contact_id, sum(b), COALESCE(sum(b) FILTER (WHERE as_of - due > 90), 0), count(*)
    FROM (SELECT contact_id, COALESCE(due_date, entry_date) AS due,
                 CASE WHEN type = 'creditNote' THEN -1 ELSE 1 END * round(balance * exchange_rate, 2) AS b
          FROM billy.invoices WHERE organization_id = o AND state = 'approved' AND deleted_at IS NULL AND balance <> 0
            AND entry_date <= as_of) x
    GROUP BY GROUPING SETS ((contact_id), ())
$$;
INSERT INTO results (question, function_ms, plain_ms, same)
SELECT 'receivables aging, today',
       pg_temp.p50(format('SELECT * FROM billy.receivables_aging(%L, %L)', :'org', :'today'), :fruns),
       pg_temp.p50(format('SELECT * FROM pg_temp.plain_aging(%L, %L)', :'org', :'today'), :pruns),
       NOT EXISTS ((SELECT contact_id, total, over_90, documents::bigint FROM billy.receivables_aging(:'org', :'today')
                    EXCEPT SELECT * FROM pg_temp.plain_aging(:'org', :'today'))
                   UNION ALL
                   (SELECT * FROM pg_temp.plain_aging(:'org', :'today')
                    EXCEPT SELECT contact_id, total, over_90, documents::bigint FROM billy.receivables_aging(:'org', :'today')));

-- the forecast: the plain way builds the monthly history from the invoices
CREATE FUNCTION pg_temp.plain_forecast(o text, as_of date) RETURNS SETOF numeric LANGUAGE sql STABLE AS $$
    WITH m AS (
        SELECT date_trunc('month', entry_date) AS ps,
               sum(CASE WHEN type = 'creditNote' THEN -1 ELSE 1 END * round(amount * exchange_rate, 2)) AS net
        FROM billy.invoices WHERE organization_id = o AND state = 'approved' AND deleted_at IS NULL
          AND entry_date < date_trunc('month', as_of)
        GROUP BY 1
    )
    SELECT f.forecast
    FROM (SELECT array_agg(COALESCE(m.net, 0) ORDER BY g) AS h
          FROM generate_series((SELECT min(ps) FROM m), date_trunc('month', as_of) - interval '1 month', interval '1 month') g
          LEFT JOIN m ON m.ps = g) x,
         billy._forecast(x.h, 12, 6) f
    ORDER BY f.step
$$;
INSERT INTO results (question, function_ms, plain_ms, same)
SELECT 'forecast, 6 months',
       pg_temp.p50(format('SELECT * FROM billy.forecast_revenue(%L, 6, %L, %L)', :'org', 'month', :'today'), :fruns),
       pg_temp.p50(format('SELECT * FROM pg_temp.plain_forecast(%L, %L)', :'org', :'today'), :pruns),
       ARRAY(SELECT forecast FROM billy.forecast_revenue(:'org', 6, 'month', :'today'))
       = ARRAY(SELECT * FROM pg_temp.plain_forecast(:'org', :'today'));

-- the summary as a reader with row-level security
CREATE ROLE bench_reader NOLOGIN;
GRANT billy_reader TO bench_reader;
SELECT billy.grant_organization('bench_reader', :'org') IS NULL AS granted \gset
SET ROLE bench_reader;
CREATE TEMP TABLE reader_ms AS
SELECT pg_temp.p50(format('SELECT * FROM billy.analytics_summary(%L, %L, %L)', :'org', 'month', :'today'), :fruns) AS ms;
RESET ROLE;
INSERT INTO results (question, function_ms, plain_ms, same)
SELECT 'summary, this month, as billy_reader (RLS)', (SELECT ms FROM reader_ms),
       (SELECT plain_ms FROM results WHERE n = 1), NULL;

\pset footer off
SELECT question AS "question", function_ms AS "billy p50 ms", plain_ms AS "plain GROUP BY p50 ms",
       round(plain_ms / nullif(function_ms, 0), 1) AS "ratio",
       CASE same WHEN true THEN 'yes' WHEN false THEN 'NO' ELSE '-' END AS "same answer"
FROM results ORDER BY n;
