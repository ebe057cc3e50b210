-- The background worker: runs queued jobs as soon as the queuing transaction
-- commits, records a failing job without dying, retries what may pass later,
-- and never runs work that was rolled back.  Commits as it goes.
\set ON_ERROR_STOP 1
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(15);

SELECT billy_test.clear_faults();
SELECT billy.connect(billy_test.token(1), billy_test.setting('api_url'));
DELETE FROM billy.jobs;

SELECT ok((SELECT running FROM billy.worker_status()), 'the worker runs');
SELECT is((SELECT database FROM billy.worker_status()), current_database()::text, 'it serves this database');
SELECT pid AS worker_pid, jobs_failed AS failed_before FROM billy.worker_status() \gset

-- woken at commit: billy.worker_naptime_ms is a minute in this cluster, so
-- a job done within seconds was started by the wake-up, not by a timeout
SELECT is(billy.refresh_organization(), 1::bigint, 'one organization, one refresh job');
SELECT ok(billy_test.wait_for($$SELECT state = 'done' FROM billy.jobs ORDER BY id DESC LIMIT 1$$, '10 s'),
          'the job runs as soon as the queuing transaction commits');
SELECT ok((SELECT confirmed_at > now() - interval '30 s' FROM billy.organizations WHERE id = billy_test.org(1)),
          'the refresh stored the organization again');

-- a rolled-back queue runs nothing
BEGIN;
SELECT billy.refresh_organization();
ROLLBACK;
SELECT is((SELECT count(*) FROM billy.jobs WHERE state = 'queued'), 0::bigint, 'a rolled-back queue leaves no job');

-- a failing job: recorded with its cause, the worker lives on
SELECT billy_test.fault(format('{"kind":"revoke_token","org":"%s"}', billy_test.org(1)));
SELECT billy.refresh_organization();
SELECT ok(billy_test.wait_for($$SELECT state = 'failed' FROM billy.jobs ORDER BY id DESC LIMIT 1$$, '10 s'),
          'a job whose token is refused fails (no retry: it would fail the same way)');
SELECT is((SELECT last_sqlstate || ' ' || last_error FROM billy.jobs ORDER BY id DESC LIMIT 1),
          '28000 Billy refused the access token', 'the failure is recorded with its SQLSTATE and message');
SELECT matches((SELECT last_error_detail FROM billy.jobs ORDER BY id DESC LIMIT 1), 'OAUTH_INVALID_ACCESS_TOKEN',
          'and with Billy''s errorCode in the detail');
SELECT is((SELECT pid FROM billy.worker_status()), :worker_pid, 'the worker survived the failing job');
SELECT is((SELECT jobs_failed FROM billy.worker_status()), :failed_before::bigint + 1, 'and counted it');
SELECT billy_test.clear_faults();

-- a transient failure is retried later
SELECT billy_test.fault('{"kind":"status","status":503,"path":"/v2/organization","count":5}');
SELECT billy.refresh_organization();
SELECT ok(billy_test.wait_for($$SELECT attempts = 1 AND state = 'queued' AND run_after > now() FROM billy.jobs ORDER BY id DESC LIMIT 1$$, '15 s'),
          'a job failing on Billy''s 5xx is queued again with a backoff');
UPDATE billy.jobs SET run_after = now() WHERE id = (SELECT max(id) FROM billy.jobs);
SELECT billy._wake_worker_at_commit();
SELECT ok(billy_test.wait_for($$SELECT state = 'done' AND attempts = 2 FROM billy.jobs ORDER BY id DESC LIMIT 1$$, '15 s'),
          'and succeeds on its next attempt once Billy answers again');

-- DROP DATABASE of another database is never blocked by the worker
CREATE DATABASE billy_other;
DROP DATABASE billy_other;
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'billy_other'), 'another database can be dropped');
SELECT is((SELECT pid FROM billy.worker_status()), :worker_pid, 'the worker is still the same process');

SELECT * FROM finish();
