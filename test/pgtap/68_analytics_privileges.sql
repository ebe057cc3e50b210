-- Who sees which analytics: the rollups and dashboard views follow the
-- mirror's row-level security (a role sees the organizations granted to it),
-- the functions run as their caller, readers may read and not rebuild.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(18);
SET LOCAL client_min_messages = warning;

SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url')) IS NOT NULL AS c1 \gset
SELECT billy.connect(billy_test.token(2), billy_test.setting('api_url')) IS NOT NULL AS c2 \gset
SELECT count(*) AS n FROM billy.sync_now(NULL, ARRAY['contacts', 'invoices', 'bills']) \gset
CREATE ROLE analytics_viewer NOLOGIN;
GRANT billy_reader TO analytics_viewer;
SELECT billy.grant_organization('analytics_viewer', billy_test.org(1));

SET LOCAL ROLE analytics_viewer;
SELECT is((SELECT array_agg(DISTINCT organization_id) FROM billy.analytics_daily), ARRAY[billy_test.org(1)],
          'a reader sees the daily rollup of its organization only');
SELECT is((SELECT count(DISTINCT organization_id) FROM billy.analytics_customer_months), 1::bigint, 'and its customer rollup only');
SELECT is((SELECT array_agg(DISTINCT organization_id) FROM billy.dashboard_monthly), ARRAY[billy_test.org(1)],
          'billy.dashboard_monthly shows its organization only');
SELECT is((SELECT array_agg(organization_id) FROM billy.dashboard_summary), ARRAY[billy_test.org(1)],
          'billy.dashboard_summary too');
SELECT is((SELECT count(DISTINCT organization_id) FROM billy.dashboard_receivables), 1::bigint, 'billy.dashboard_receivables too');
SELECT is((SELECT count(DISTINCT organization_id) FROM billy.dashboard_top_customers), 1::bigint, 'billy.dashboard_top_customers too');
SELECT ok((SELECT net_revenue IS NOT NULL FROM billy.analytics_summary(billy_test.org(1), '2026', '2026-06-30')),
          'a reader may ask for the summary of its organization');
SELECT ok((SELECT count(*) > 0 FROM billy.revenue_trends(billy_test.org(1), '2026-01-01', '2026-06-30')), 'and its trends');
SELECT ok(billy.customer_insights(billy_test.org(1), 3) ? 'top', 'and its customers');
SELECT ok((SELECT count(*) > 0 FROM billy.receivables_aging(billy_test.org(1), '2026-06-30')), 'and its receivables');
SELECT ok((SELECT count(*) = 2 FROM billy.forecast_revenue(billy_test.org(1), 2, 'month', '2026-06-30')), 'and a forecast');
SELECT throws_ok(format('SELECT * FROM billy.analytics_summary(%L)', billy_test.org(2)), '42704', NULL,
                 'the summary of another organization is refused as unknown');
SELECT throws_ok(format('SELECT billy.customer_insights(%L)', billy_test.org(2)), '42704', NULL,
                 'and its customers');
SELECT throws_ok('SELECT billy.analytics_rebuild()', '42501', NULL, 'a reader may not rebuild the rollups');
SELECT throws_ok('INSERT INTO billy.analytics_daily (organization_id, day, currency_id, kind) VALUES (''x'', ''2026-01-01'', ''DKK'', ''invoice'')',
                 '42501', NULL, 'nor write them');
RESET ROLE;

SET LOCAL ROLE billy_admin;
SELECT is(billy.analytics_rebuild(billy_test.org(1)), 1, 'billy_admin may rebuild an organization''s rollups');
RESET ROLE;

-- realtime: the rollups join the mirror's publication
SELECT is(billy.enable_dashboard_realtime(), 'billy_realtime', 'enable_dashboard_realtime uses the publication of enable_realtime');
SELECT is(ARRAY(SELECT tablename::text FROM pg_publication_tables
                WHERE pubname = 'billy_realtime' AND tablename::text LIKE 'analytics\_%' ORDER BY 1),
          ARRAY['analytics_customer_months', 'analytics_daily', 'analytics_open'],
          'and adds the rollups a dashboard subscribes to');

SELECT * FROM finish();
ROLLBACK;
