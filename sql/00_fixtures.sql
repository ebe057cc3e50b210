-- the test-only helpers (test/fixtures.sql, schema billy_test) and the
-- sandbox's address, in the database pg_regress made (scripts/installcheck)
\set ECHO none
\i test/fixtures.sql
INSERT INTO billy_test.settings VALUES ('api_url', current_setting('billy.api_url'));
