/*-------------------------------------------------------------------------
 *
 * jobs.c
 *	  The job queue (billy.jobs): claiming, finishing, retrying and
 *	  recovering jobs; a handler's commit-and-continue; waking the worker at
 *	  COMMIT; the worker's shared state.
 *
 * This is the lower half of the worker: what the concerns that queue or run
 * jobs (sync.c, cache.c, writes/, bulk.c, audit.c) need, without the loop
 * that dispatches to them (worker.c).  A job's life (the state column of
 * billy.jobs):
 *
 *	  queued --claim--> running --ok--> done
 *	     ^                 |
 *	     |                 +--error, transient, attempts left--> queued (backoff)
 *	     |                 +--error otherwise-------------------> failed
 *	     +--worker died while running (crash counted, backoff)--+
 *	                                       (3 crashes: failed)
 *
 * "running" is committed before the job starts, so a job that takes the
 * worker down is found at the next start and counted (timescaledb's way).
 *
 * Shared memory: BillyWorkerState (jobs.h), one LWLock of the tranche
 * "billy jobs".
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "jobs.h"
#include "module.h"
#include "sqlexec.h"
#include "visibility.h"

PG_FUNCTION_INFO_V1(billy_wake_at_commit);
PG_FUNCTION_INFO_V1(billy_warn_if_unserved_sql);
PG_FUNCTION_INFO_V1(billy_queued_sync_at);

char	   *billy_database_name = NULL;
BillyWorkerState *billy_worker_state = NULL;

static bool in_worker = false;
static bool wake_pending = false;
static bool wake_callback_registered = false;

static bool
check_database_name(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
	{
		GUC_check_errdetail("billy.database_name must name a database.");
		return false;
	}
	if (strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errdetail("A database name is shorter than %d bytes.", NAMEDATALEN);
		return false;
	}
	return true;
}

/*
 * jobs_define_settings: billy.database_name, read only at server start, so
 * it exists only when billy is preloaded.
 */
static void
jobs_define_settings(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomStringVariable("billy.database_name",
							   "Database the billy background worker serves.",
							   "billy must be installed in this database "
							   "(CREATE EXTENSION billy).",
							   &billy_database_name,
							   "postgres",
							   PGC_POSTMASTER, 0,
							   check_database_name, NULL, NULL);
}

static Size
jobs_shmem_size(void)
{
	return MAXALIGN(sizeof(BillyWorkerState));
}

/*
 * jobs_shmem_forget runs when the postmaster lets go of shared memory (at
 * shutdown, and before a crash restart creates it anew): registered after
 * the segment's own detach, it runs before it.  The worker's log hook runs
 * in the postmaster and must not read the state then.
 */
static void
jobs_shmem_forget(int code, Datum arg)
{
	billy_worker_state = NULL;
}

static void
jobs_shmem_init(LWLockPadded *locks)
{
	bool		found;

	billy_worker_state = ShmemInitStruct("billy worker state",
										 sizeof(BillyWorkerState), &found);
	if (!found)
	{
		memset(billy_worker_state, 0, sizeof(BillyWorkerState));
		billy_worker_state->lock = &locks[0].lock;
		strlcpy(billy_worker_state->state, "not started",
				sizeof(billy_worker_state->state));
	}
	on_shmem_exit(jobs_shmem_forget, (Datum) 0);
}

const BillyModule billy_jobs_module = {
	.name = "jobs",
	.define_settings = jobs_define_settings,
	.shmem_size = jobs_shmem_size,
	.lwlocks = 1,
	.shmem_init = jobs_shmem_init,
};

/* billy_in_worker says whether this process is billy's worker */
bool
billy_in_worker(void)
{
	return in_worker;
}

/* billy_jobs_enter_worker: the worker says it is the worker, at its start */
void
billy_jobs_enter_worker(void)
{
	in_worker = true;
}

/*
 * billy_warn_if_unserved warns that what the caller is about to do in this
 * database will wait forever: the worker serves billy.database_name only.
 * connect, sync and schedule_sync call it (a dead end a new user met).
 */
void
billy_warn_if_unserved(const char *action)
{
	char	   *here;

	if (!process_shared_preload_libraries_done || billy_database_name == NULL ||
		!OidIsValid(MyDatabaseId))
		return;
	here = get_database_name(MyDatabaseId);
	if (here == NULL || strcmp(here, billy_database_name) == 0)
		return;
	ereport(WARNING,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("billy's worker serves database \"%s\", not \"%s\"",
					billy_database_name, here),
			 errdetail("The worker syncs only database \"%s\": after %s here, nothing in \"%s\" is synced and queued jobs wait forever.",
					   billy_database_name, action, here),
			 errhint("Set billy.database_name = '%s' in postgresql.conf and restart the server, "
					 "or use billy in database \"%s\".",
					 here, billy_database_name)));
}

/*
 * billy_warn_if_unserved_sql: billy._warn_if_unserved(action text), the same
 * for the SQL functions.
 */
Datum
billy_warn_if_unserved_sql(PG_FUNCTION_ARGS)
{
	billy_warn_if_unserved(PG_ARGISNULL(0) ? "this" : text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/*
 * billy_job_begin_xact opens one of the worker's transactions, with an
 * active snapshot as handlers and periodic steps expect
 */
void
billy_job_begin_xact(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
}

/* billy_job_commit_xact commits it */
void
billy_job_commit_xact(void)
{
	if (ActiveSnapshotSet())
		PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * billy_job_commit_and_continue commits a job's work so far and opens a
 * fresh transaction; outside the worker it does nothing (an inline caller's
 * transaction is not ours to commit).
 */
void
billy_job_commit_and_continue(void)
{
	if (!in_worker)
		return;
	billy_job_commit_xact();
	billy_job_begin_xact();
}

/*
 * billy_job_abort_and_continue rolls back a job's current transaction and
 * opens a fresh one, so a handler can record its own failure before it
 * re-raises the error.
 */
void
billy_job_abort_and_continue(void)
{
	if (!in_worker)
		return;
	AbortCurrentTransaction();
	billy_job_begin_xact();
}

/*
 * billy_have_function says whether the installed version of billy's SQL has
 * a function, so the worker runs with an older version installed too.
 */
bool
billy_have_function(const char *signature)
{
	bool		isnull;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(signature)};

	return DatumGetBool(billy_sql_datum("SELECT pg_catalog.to_regprocedure($1) IS NOT NULL",
										1, types, values, NULL, &isnull));
}

/*
 * billy_jobs_extension_ready says whether billy is installed in the
 * worker's database, with the job table this library needs.
 */
bool
billy_jobs_extension_ready(void)
{
	bool		ready;

	billy_job_begin_xact();
	ready = OidIsValid(get_extension_oid("billy", true));
	if (ready)
	{
		bool		isnull;

		ready = DatumGetBool(billy_sql_datum("SELECT pg_catalog.to_regclass('billy.jobs') IS NOT NULL",
											 0, NULL, NULL, NULL, &isnull));
	}
	billy_job_commit_xact();
	return ready;
}

/*
 * billy_jobs_recover_crashed finds jobs left "running" by a worker that died
 * and queues them again with a backoff, or fails them after three crashes.
 */
void
billy_jobs_recover_crashed(void)
{
	uint64		n;

	billy_job_begin_xact();
	n = billy_sql_exec("UPDATE billy.jobs SET crashes = crashes OPERATOR(pg_catalog.+) 1, "
					   "state = CASE WHEN crashes OPERATOR(pg_catalog.+) 1 OPERATOR(pg_catalog.>=) 3 "
					   "THEN 'failed' ELSE 'queued' END, "
					   "run_after = pg_catalog.now() OPERATOR(pg_catalog.+) "
					   "pg_catalog.make_interval(secs => 10 OPERATOR(pg_catalog.*) "
					   "pg_catalog.power(2, crashes)), "
					   "finished_at = CASE WHEN crashes OPERATOR(pg_catalog.+) 1 OPERATOR(pg_catalog.>=) 3 "
					   "THEN pg_catalog.now() END, "
					   "last_error = 'the worker stopped while running this job (crash or restart)', "
					   "last_sqlstate = NULL, last_error_detail = NULL "
					   "WHERE state OPERATOR(pg_catalog.=) 'running'",
					   0, NULL, NULL, NULL);
	billy_job_commit_xact();
	if (n > 0)
		ereport(LOG,
				(errmsg("billy worker found %llu job(s) interrupted by a crash or restart",
						(unsigned long long) n)));
}

/*
 * billy_jobs_claim marks the next due job running (committed) and returns
 * it, or NULL when none is due.
 */
BillyJob *
billy_jobs_claim(MemoryContext mcxt)
{
	BillyJob   *job = NULL;

	billy_job_begin_xact();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	if (SPI_execute("UPDATE billy.jobs j SET state = 'running', "
					"started_at = pg_catalog.now(), finished_at = NULL, "
					"attempts = j.attempts OPERATOR(pg_catalog.+) 1 "
					"WHERE j.id OPERATOR(pg_catalog.=) ("
					"  SELECT q.id FROM billy.jobs q "
					"  WHERE q.state OPERATOR(pg_catalog.=) 'queued' "
					"  AND q.run_after OPERATOR(pg_catalog.<=) pg_catalog.now() "
					"  ORDER BY q.priority, q.id LIMIT 1 FOR UPDATE SKIP LOCKED) "
					"RETURNING j.id, j.kind, j.organization_id, j.args::text, "
					"j.attempts, j.max_attempts",
					false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "billy: could not claim a job");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(mcxt);
		char	   *org;

		job = palloc0(sizeof(BillyJob));
		job->id = pg_strtoint64(SPI_getvalue(tup, desc, 1));
		job->kind = pstrdup(SPI_getvalue(tup, desc, 2));
		org = SPI_getvalue(tup, desc, 3);
		job->organization_id = org ? pstrdup(org) : NULL;
		job->args = pstrdup(SPI_getvalue(tup, desc, 4));
		job->attempts = pg_strtoint32(SPI_getvalue(tup, desc, 5));
		job->max_attempts = pg_strtoint32(SPI_getvalue(tup, desc, 6));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	billy_job_commit_xact();
	return job;
}

/* billy_jobs_finish marks a job done, with the result its handler set */
void
billy_jobs_finish(BillyJob *job)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};

	values[0] = Int64GetDatum(job->id);
	if (job->result)
		values[1] = CStringGetTextDatum(job->result);
	else
		nulls[1] = 'n';
	billy_sql_exec("UPDATE billy.jobs SET state = 'done', finished_at = pg_catalog.now(), "
				   "result = $2::jsonb, last_error = NULL, last_error_detail = NULL, "
				   "last_sqlstate = NULL WHERE id OPERATOR(pg_catalog.=) $1",
				   2, types, values, nulls);
}

/*
 * billy_jobs_postpone puts a job back in the queue, uncounted: a handler
 * found it should not run yet (an open circuit breaker).
 */
void
billy_jobs_postpone(BillyJob *job)
{
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];

	values[0] = Int64GetDatum(job->id);
	values[1] = TimestampTzGetDatum(job->postpone_until);
	billy_sql_exec("UPDATE billy.jobs SET state = 'queued', started_at = NULL, run_after = $2, "
				   "attempts = attempts OPERATOR(pg_catalog.-) 1, "
				   "last_error = 'postponed: the organization''s circuit breaker is open' "
				   "WHERE id OPERATOR(pg_catalog.=) $1",
				   2, types, values, NULL);
}

/*
 * transient says whether an error is worth another attempt.  Errors in what
 * was asked (bad data, refused access, a missing prerequisite such as a
 * credential) will fail again the same way; anything else (lost connections,
 * timeouts, Billy's rate limit or its 5xx answers, invalid JSON, conflicts)
 * may pass later.
 */
static bool
transient(int sqlerrcode)
{
	int			category = ERRCODE_TO_CATEGORY(sqlerrcode);

	return !(category == ERRCODE_DATA_EXCEPTION ||
			 category == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION ||
			 category == ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION ||
			 category == ERRCODE_FEATURE_NOT_SUPPORTED ||
			 category == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE ||
			 category == ERRCODE_CONFIG_FILE_ERROR ||
			 category == ERRCODE_INTERNAL_ERROR);
}

/*
 * billy_jobs_record_failure records a job's error on it: queued again with
 * a backoff when the error is transient and attempts are left, else failed
 */
void
billy_jobs_record_failure(BillyJob *job, ErrorData *edata)
{
	billy_job_begin_xact();
	billy_jobs_fail(job, edata);
	billy_job_commit_xact();
}

/*
 * billy_jobs_fail is billy_jobs_record_failure in the current transaction
 * (a handler finishing jobs it took up besides its own, sync.c)
 */
void
billy_jobs_fail(BillyJob *job, ErrorData *edata)
{
	Oid			types[5] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, BOOLOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	bool		retry = transient(edata->sqlerrcode) && job->attempts < job->max_attempts;

	values[0] = Int64GetDatum(job->id);
	values[1] = CStringGetTextDatum(edata->message ? edata->message : "unknown error");
	if (edata->detail)
		values[2] = CStringGetTextDatum(edata->detail);
	else
		nulls[2] = 'n';
	values[3] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
	values[4] = BoolGetDatum(retry);

	billy_sql_exec("UPDATE billy.jobs SET last_error = $2, last_error_detail = $3, "
				   "last_sqlstate = $4, "
				   "state = CASE WHEN $5 THEN 'queued' ELSE 'failed' END, "
				   "finished_at = CASE WHEN $5 THEN NULL ELSE pg_catalog.now() END, "
				   "run_after = CASE WHEN $5 THEN pg_catalog.now() OPERATOR(pg_catalog.+) "
				   "  pg_catalog.make_interval(secs => LEAST(3600, "
				   "  10 OPERATOR(pg_catalog.*) pg_catalog.power(2, attempts OPERATOR(pg_catalog.-) 1))) "
				   "  ELSE run_after END "
				   "WHERE id OPERATOR(pg_catalog.=) $1",
				   5, types, values, nulls);

	ereport(LOG,
			(errmsg("billy job %lld (%s) failed%s: %s",
					(long long) job->id, job->kind,
					retry ? ", will retry" : "", edata->message),
			 edata->detail ? errdetail("%s", edata->detail) : 0));
}

/*
 * wake_xact_callback sets the worker's latch once the transaction that
 * queued work has committed, so the worker sees the jobs at once and never
 * wakes for a transaction that rolled back.
 */
static void
wake_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_pending)
			{
				wake_pending = false;
				billy_wake_worker();
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			wake_pending = false;
			break;
		default:
			break;
	}
}

void
billy_wake_worker_at_commit(void)
{
	if (!wake_callback_registered)
	{
		RegisterXactCallback(wake_xact_callback, NULL);
		wake_callback_registered = true;
	}
	wake_pending = true;
}

/* billy_wake_worker sets the worker's latch now, if a worker runs */
void
billy_wake_worker(void)
{
	Latch	   *latch = NULL;

	if (billy_worker_state == NULL)
		return;
	LWLockAcquire(billy_worker_state->lock, LW_SHARED);
	if (billy_worker_state->pid != 0)
		latch = billy_worker_state->latch;
	LWLockRelease(billy_worker_state->lock);
	if (latch)
		SetLatch(latch);
}

/*
 * billy_wake_at_commit: billy._wake_worker_at_commit() RETURNS void, for the
 * SQL functions that queue jobs.
 */
Datum
billy_wake_at_commit(PG_FUNCTION_ARGS)
{
	billy_require_preload();
	billy_wake_worker_at_commit();
	PG_RETURN_VOID();
}

/*
 * billy_queued_sync_at: billy._queued_sync_at(org, resource) RETURNS
 * timestamptz: when the next queued sync of a resource may start, for
 * billy.sync_status.  billy.jobs is the owner's, so the query runs as the
 * owner, but only for an organization the caller sees (NULL otherwise): a
 * SECURITY DEFINER function could not tell who called it.
 */
Datum
billy_queued_sync_at(PG_FUNCTION_ARGS)
{
	char	   *org;
	Datum		d;
	bool		isnull;
	BillyOwner	owner;
	Oid			types[2];
	Datum		values[2];

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	org = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!billy_org_visible(org))
		PG_RETURN_NULL();
	types[0] = types[1] = TEXTOID;
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	billy_become_owner(&owner);
	d = billy_sql_datum_cached("SELECT pg_catalog.min(j.run_after) FROM billy.jobs j "
							   "WHERE j.kind OPERATOR(pg_catalog.=) 'sync' "
							   "AND j.organization_id OPERATOR(pg_catalog.=) $1 "
							   "AND j.args OPERATOR(pg_catalog.->>) 'resource' OPERATOR(pg_catalog.=) $2 "
							   "AND j.state OPERATOR(pg_catalog.=) 'queued'",
							   2, types, values, NULL, &isnull);
	billy_end_owner(&owner);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(d);
}


/*
 * billy_jobs_next_due_ms bounds wait (milliseconds) by when the next queued
 * job is due.
 */
long
billy_jobs_next_due_ms(long wait)
{
	bool		isnull;
	Datum		d;

	billy_job_begin_xact();
	d = billy_sql_datum("SELECT (pg_catalog.date_part('epoch', pg_catalog.min(run_after) "
						"OPERATOR(pg_catalog.-) pg_catalog.clock_timestamp()) "
						"OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8 "
						"FROM billy.jobs WHERE state OPERATOR(pg_catalog.=) 'queued'",
						0, NULL, NULL, NULL, &isnull);
	billy_job_commit_xact();
	if (!isnull)
		wait = Max(0, Min(wait, DatumGetInt64(d) + 1));
	return wait;
}
