/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The billy background worker: a loop that runs queued jobs, one at a
 *	  time, each isolated from the others' failures.
 *
 * One worker per cluster, registered at server start, connected to the
 * database named by billy.database_name.  It sleeps on its latch until a
 * job is due, woken at once when a transaction that queued a job commits
 * (billy_wake_worker_at_commit, a transaction callback: pg_net's model).
 *
 * A job's life (the state column of billy.jobs):
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
 * An ERROR inside a job aborts that job's transaction and is recorded on the
 * job; the worker goes on with the next one.  Only FATAL (SIGTERM,
 * postmaster death) ends the worker; the postmaster restarts it after a
 * crash.  Dropping another database is never blocked: the worker holds a
 * connection to its own database only.
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
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "budget.h"
#include "bulk.h"
#include "cache.h"
#include "testclock.h"
#include "organizations.h"
#include "sync.h"
#include "sqlexec.h"
#include "worker.h"
#include "writes.h"

PG_FUNCTION_INFO_V1(billy_worker_status);
PG_FUNCTION_INFO_V1(billy_wake_at_commit);
PG_FUNCTION_INFO_V1(billy_warn_if_unserved_sql);
PG_FUNCTION_INFO_V1(billy_queued_sync_at);

#define RESTART_SECONDS 5
#define MAX_CRASHES 3
#define MAINTENANCE_INTERVAL_MS (60 * 60 * 1000)
#define HOT_CHECK_INTERVAL_MS (30 * 1000)
#define AUDIT_CHAIN_INTERVAL_MS 1000
#define WRITE_CHECK_INTERVAL_MS (10 * 1000)

typedef struct BillyJobKind
{
	const char *name;
	BillyJobHandler handler;
	BillyShare	share;			/* whose API budget its GETs spend (budget.c) */
} BillyJobKind;

static void run_refresh_organization(BillyJob *job);
static long cache_interval_ms(void);

/* the job kinds; later concerns add theirs here */
static const BillyJobKind job_kinds[] = {
	{"refresh_organization", run_refresh_organization, BILLY_SHARE_EXEMPT},
	{"sync", billy_sync_job, BILLY_SHARE_EXEMPT},
	/* refreshes of what reads found stale: the readers' share */
	{"cache_refresh", billy_cache_refresh_job, BILLY_SHARE_READER},
	{"reconcile_write", billy_reconcile_write_job, BILLY_SHARE_EXEMPT},
	{"bulk_import", billy_bulk_import_job, BILLY_SHARE_EXEMPT},
};

static bool in_worker = false;
static bool wake_pending = false;
static bool wake_callback_registered = false;

bool
billy_in_worker(void)
{
	return in_worker;
}

/*
 * The message the postmaster logs each time a child exits with a status
 * other than 0 (postmaster.c, LogChildExit), untranslated; for a background
 * worker the first %s is 'background worker "<type>"'.
 */
#define WORKER_EXIT_MESSAGE "%s (PID %d) exited with exit code %d"

static emit_log_hook_type prev_emit_log_hook = NULL;

/*
 * worker_log_hook keeps a missing database from filling the log.  While
 * billy.database_name names no database, every start of the worker ends in
 * PostgreSQL's FATAL "database ... does not exist", and the postmaster starts
 * it again RESTART_SECONDS later and logs its exit: the first FATAL is
 * reported, with a hint saying what to do, and the repeats (the FATAL and the
 * postmaster's exit line) are not, until the worker connects.  Installed in
 * the postmaster, so the worker inherits it.
 */
static void
worker_log_hook(ErrorData *edata)
{
	if (billy_worker_state != NULL && !proc_exit_inprogress && edata->output_to_server)
	{
		if (in_worker && edata->elevel == FATAL &&
			edata->sqlerrcode == ERRCODE_UNDEFINED_DATABASE)
		{
			if (billy_worker_state->missing_database_reported)
				edata->output_to_server = false;
			else
			{
				billy_worker_state->missing_database_reported = true;
				if (edata->hint == NULL)
					edata->hint = psprintf("billy.database_name names the database billy's worker serves: "
										   "create it (CREATE DATABASE %s) and run CREATE EXTENSION billy there, "
										   "or set billy.database_name to the database billy is installed in "
										   "and restart the server. The worker tries again every %d seconds; "
										   "this is logged once.",
										   quote_identifier(billy_database_name), RESTART_SECONDS);
			}
		}
		else if (!IsUnderPostmaster && billy_worker_state->missing_database_reported &&
				 edata->message_id != NULL &&
				 strcmp(edata->message_id, WORKER_EXIT_MESSAGE) == 0 &&
				 edata->message != NULL && strstr(edata->message, "\"billy worker\"") != NULL)
			edata->output_to_server = false;
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
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
 * billy_register_worker registers the one worker; called from _PG_init.
 */
void
billy_register_worker(void)
{
	BackgroundWorker worker;

	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = worker_log_hook;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = RESTART_SECONDS;
	strlcpy(worker.bgw_library_name, "billy", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "billy_worker_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "billy worker", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "billy worker", BGW_MAXLEN);
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

static void
set_state(const char *state, int64 job_id)
{
	LWLockAcquire(billy_worker_state->lock, LW_EXCLUSIVE);
	strlcpy(billy_worker_state->state, state, sizeof(billy_worker_state->state));
	billy_worker_state->current_job_id = job_id;
	LWLockRelease(billy_worker_state->lock);
}

/* worker_exit clears the published pid and latch when the worker ends */
static void
worker_exit(int code, Datum arg)
{
	LWLockAcquire(billy_worker_state->lock, LW_EXCLUSIVE);
	billy_worker_state->pid = 0;
	billy_worker_state->latch = NULL;
	billy_worker_state->current_job_id = 0;
	strlcpy(billy_worker_state->state, "stopped", sizeof(billy_worker_state->state));
	LWLockRelease(billy_worker_state->lock);
}

static void
begin_xact(void)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
}

static void
commit_xact(void)
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
	commit_xact();
	begin_xact();
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
	begin_xact();
}

/*
 * have_function says whether the installed version of billy's SQL has a
 * function, so the worker runs with an older version installed too.
 */
static bool
have_function(const char *signature)
{
	bool		isnull;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(signature)};

	return DatumGetBool(billy_sql_datum("SELECT pg_catalog.to_regprocedure($1) IS NOT NULL",
										1, types, values, NULL, &isnull));
}

/*
 * extension_ready says whether billy is installed in the worker's database,
 * with the job table this library needs.
 */
static bool
extension_ready(void)
{
	bool		ready;

	begin_xact();
	ready = OidIsValid(get_extension_oid("billy", true));
	if (ready)
	{
		bool		isnull;

		ready = DatumGetBool(billy_sql_datum("SELECT pg_catalog.to_regclass('billy.jobs') IS NOT NULL",
											 0, NULL, NULL, NULL, &isnull));
	}
	commit_xact();
	return ready;
}

/*
 * recover_crashed_jobs finds jobs left "running" by a worker that died and
 * queues them again with a backoff, or fails them after MAX_CRASHES.
 */
static void
recover_crashed_jobs(void)
{
	uint64		n;

	begin_xact();
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
	commit_xact();
	if (n > 0)
		ereport(LOG,
				(errmsg("billy worker found %llu job(s) interrupted by a crash or restart",
						(unsigned long long) n)));
}

/*
 * maintenance forgets finished jobs after a week, and changes and sync runs
 * after billy.changes_retention_days.
 */
static void
maintenance(void)
{
	begin_xact();
	if (have_function("billy._forget_old_changes(integer)"))
	{
		Oid			types[1] = {INT4OID};
		Datum		values[1] = {Int32GetDatum(billy_changes_retention_days)};

		billy_sql_exec("SELECT billy._forget_old_changes($1)", 1, types, values, NULL);
	}
	billy_sql_exec("DELETE FROM billy.jobs WHERE state OPERATOR(pg_catalog.=) ANY "
				   "('{done,failed,cancelled}'::pg_catalog.text[]) AND finished_at OPERATOR(pg_catalog.<) "
				   "(pg_catalog.now() OPERATOR(pg_catalog.-) '7 days'::pg_catalog.interval)",
				   0, NULL, NULL, NULL);
	commit_xact();
}

/* how often the worker looks for organizations due a hot scan */
static long
hot_check_interval_ms(void)
{
	return Min(HOT_CHECK_INTERVAL_MS, (long) billy_hot_sync_interval * 1000);
}

/*
 * chain_audit moves audit entries queued by hot paths (MCP tool calls) into
 * their hash chains; returns whether some were.
 */
static bool
chain_audit(void)
{
	bool		isnull;
	Datum		d = (Datum) 0;

	/* entries queued from now on wake the worker again */
	pg_atomic_write_u32(&billy_worker_state->audit_queued, 0);
	begin_xact();
	if (have_function("billy._audit_chain_pending(integer)"))
		d = billy_sql_datum("SELECT billy._audit_chain_pending(5000)", 0, NULL, NULL, NULL, &isnull);
	else
		isnull = true;
	commit_xact();
	return !isnull && DatumGetInt32(d) > 0;
}

/*
 * queue_hot_scans asks for hot scans of the organizations due one
 * (billy.hot_sync_interval); they run like any queued job.
 */
static void
queue_hot_scans(void)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(billy_hot_sync_interval)};

	if (billy_hot_sync_interval <= 0)
		return;
	begin_xact();
	if (have_function("billy._queue_hot_scans(interval)"))
		billy_sql_exec("SELECT billy._queue_hot_scans(pg_catalog.make_interval(secs => $1))",
					   1, types, values, NULL);
	commit_xact();
}

/*
 * claim_job marks the next due job running (committed) and returns it, or
 * NULL when none is due.
 */
static BillyJob *
claim_job(MemoryContext mcxt)
{
	BillyJob   *job = NULL;

	begin_xact();
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
	commit_xact();
	return job;
}

static void
finish_job(BillyJob *job)
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
 * postpone_job puts a job back in the queue, uncounted: a handler found it
 * should not run yet (an open circuit breaker).
 */
static void
postpone_job(BillyJob *job)
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

static void
record_failure(BillyJob *job, ErrorData *edata)
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

	begin_xact();
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
	commit_xact();

	ereport(LOG,
			(errmsg("billy job %lld (%s) failed%s: %s",
					(long long) job->id, job->kind,
					retry ? ", will retry" : "", edata->message),
			 edata->detail ? errdetail("%s", edata->detail) : 0));
}

/*
 * find_handler returns the handler of a job kind, or raises; the worker's
 * calls to Billy are charged to the kind's share from then on.
 */
static BillyJobHandler
find_handler(const char *kind)
{
	for (int i = 0; i < lengthof(job_kinds); i++)
		if (strcmp(job_kinds[i].name, kind) == 0)
		{
			billy_budget_set_process_share(job_kinds[i].share);
			return job_kinds[i].handler;
		}
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("unknown job kind \"%s\"", kind),
			 errhint("The job was queued by a newer or older version of billy.")));
	return NULL;
}

/*
 * run_job runs one claimed job.  An ERROR is caught here: the job's
 * transaction is rolled back, the error recorded on the job, and the worker
 * carries on.  This is the isolation pg_net lacks.
 */
static void
run_job(BillyJob *job, MemoryContext job_cxt)
{
	char		activity[256];

	snprintf(activity, sizeof(activity), "billy: job %lld %s %s",
			 (long long) job->id, job->kind,
			 job->organization_id ? job->organization_id : "");
	pgstat_report_activity(STATE_RUNNING, activity);
	set_state("running job", job->id);

	PG_TRY();
	{
		begin_xact();
		find_handler(job->kind) (job);
		if (job->postpone_until != 0)
			postpone_job(job);
		else
			finish_job(job);
		commit_xact();

		LWLockAcquire(billy_worker_state->lock, LW_EXCLUSIVE);
		billy_worker_state->jobs_done++;
		billy_worker_state->last_job_finished_at = GetCurrentTimestamp();
		LWLockRelease(billy_worker_state->lock);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(job_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		RESUME_INTERRUPTS();

		record_failure(job, edata);

		LWLockAcquire(billy_worker_state->lock, LW_EXCLUSIVE);
		billy_worker_state->jobs_failed++;
		billy_worker_state->last_job_finished_at = GetCurrentTimestamp();
		LWLockRelease(billy_worker_state->lock);
	}
	PG_END_TRY();

	/* "" and not NULL: NULL would leave the job's text in pg_stat_activity */
	pgstat_report_activity(STATE_IDLE, "");
	set_state("idle", 0);

	/*
	 * The job's table statistics to shared memory (at most once a second
	 * here, and forced before the worker sleeps): autovacuum and
	 * pg_stat_user_tables see its writes now, not when the worker exits.
	 */
	pgstat_report_stat(false);
}

/*
 * next_wait_ms is how long to sleep: until the next queued job is due,
 * bounded by billy.worker_naptime_ms.
 */
static long
next_wait_ms(void)
{
	bool		isnull;
	Datum		d;
	long		wait = billy_worker_naptime_ms;

	if (billy_hot_sync_interval > 0)
		wait = Min(wait, hot_check_interval_ms());
	wait = Min(wait, cache_interval_ms());

	begin_xact();
	d = billy_sql_datum("SELECT (pg_catalog.date_part('epoch', pg_catalog.min(run_after) "
						"OPERATOR(pg_catalog.-) pg_catalog.clock_timestamp()) "
						"OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8 "
						"FROM billy.jobs WHERE state OPERATOR(pg_catalog.=) 'queued'",
						0, NULL, NULL, NULL, &isnull);
	commit_xact();
	if (!isnull)
		wait = Max(0, Min(wait, DatumGetInt64(d) + 1));
	return wait;
}

/*
 * isolated runs one of the worker's own housekeeping steps the way run_job
 * runs a job: an ERROR is logged, its transaction rolled back, and the
 * worker carries on.  Returns false when the step failed.
 */
static bool
isolated(bool (*step) (void), const char *name, bool *result)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		bool		r = step();

		if (result)
			*result = r;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		RESUME_INTERRUPTS();
		ereport(LOG,
				(errmsg("billy worker: %s failed: %s", name, edata->message),
				 edata->detail ? errdetail("%s", edata->detail) : 0));
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

static bool
step_recover(void)
{
	recover_crashed_jobs();
	return true;
}

static bool
step_maintenance(void)
{
	maintenance();
	return true;
}

static bool
step_hot_scans(void)
{
	queue_hot_scans();
	return true;
}

static bool
step_writes(void)
{
	begin_xact();
	billy_writes_housekeeping();
	commit_xact();
	return true;
}

/* the job context the step below uses, set by the loop */
static MemoryContext job_context;
static long next_wait = 0;

/* how often the cache's counters are flushed, on the cache's (test) clock */
static long
cache_interval_ms(void)
{
	return Max(10L, (long) (billy_cache_flush_interval_ms / billy_cache_rate()));
}

static TimestampTz last_cache_work = 0;

/*
 * step_cache flushes the read counters and plans refreshes (cache_refresh.c) when
 * billy.cache_flush_interval_ms has passed, or sooner when a read asked for
 * a refresh.  The counts it held are lost if it fails.
 */
static bool
step_cache(void)
{
	long		interval = cache_interval_ms();
	TimestampTz now = GetCurrentTimestamp();

	if (!TimestampDifferenceExceeds(last_cache_work, now, interval) &&
		!(billy_cache_flush_wanted() && TimestampDifferenceExceeds(last_cache_work, now, Min(interval, 200L))))
		return true;
	last_cache_work = now;
	begin_xact();
	if (have_function("billy._cache_plan(integer)"))
		billy_cache_tick(true);
	commit_xact();
	return true;
}

/* step_jobs runs every due job; each is isolated on its own (run_job) */
static bool
step_jobs(void)
{
	for (;;)
	{
		BillyJob   *job;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(job_context);
		job = claim_job(job_context);
		if (job == NULL)
			break;
		run_job(job, job_context);
		isolated(step_cache, "cache flush and refresh planning", NULL);
	}
	return true;
}

static bool
step_next_wait(void)
{
	next_wait = next_wait_ms();
	return true;
}

/*
 * billy_worker_main is the worker's entry point: connect, publish, loop.
 */
void
billy_worker_main(Datum main_arg)
{
	MemoryContext job_cxt;
	bool		recovered = false;
	TimestampTz last_maintenance = 0;
	TimestampTz last_hot_check = 0;
	bool		chained = false;
	TimestampTz last_chain = 0;
	TimestampTz last_write_check = 0;
	long		wait_ms = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	in_worker = true;
	BackgroundWorkerInitializeConnection(billy_database_name, NULL, 0);
	pgstat_report_appname("billy worker");
	/* the worker resolves nothing through a search_path it did not choose */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);

	LWLockAcquire(billy_worker_state->lock, LW_EXCLUSIVE);
	billy_worker_state->pid = MyProcPid;
	billy_worker_state->latch = MyLatch;
	billy_worker_state->started_at = GetCurrentTimestamp();
	billy_worker_state->starts++;
	billy_worker_state->current_job_id = 0;
	billy_worker_state->missing_database_reported = false;
	strlcpy(billy_worker_state->state, "starting", sizeof(billy_worker_state->state));
	LWLockRelease(billy_worker_state->lock);
	before_shmem_exit(worker_exit, (Datum) 0);

	ereport(LOG,
			(errmsg("billy worker started in database \"%s\"", billy_database_name)));

	job_cxt = AllocSetContextCreate(TopMemoryContext, "billy job",
									ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		int			rc;

		/* everything the last round wrote, counted before sleeping */
		pgstat_report_stat(true);
		rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		(void) rc;

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		LWLockAcquire(billy_worker_state->lock, LW_EXCLUSIVE);
		billy_worker_state->last_wakeup = GetCurrentTimestamp();
		LWLockRelease(billy_worker_state->lock);

		if (!extension_ready())
		{
			set_state("waiting for CREATE EXTENSION billy", 0);
			recovered = false;
			wait_ms = billy_worker_naptime_ms;
			continue;
		}
		if (!recovered)
			recovered = isolated(step_recover, "recovering interrupted jobs", NULL);
		if (TimestampDifferenceExceeds(last_maintenance, GetCurrentTimestamp(),
									   MAINTENANCE_INTERVAL_MS))
		{
			isolated(step_maintenance, "maintenance", NULL);
			last_maintenance = GetCurrentTimestamp();
		}
		if (TimestampDifferenceExceeds(last_hot_check, GetCurrentTimestamp(),
									   hot_check_interval_ms()))
		{
			isolated(step_hot_scans, "queuing hot scans", NULL);
			last_hot_check = GetCurrentTimestamp();
		}
		isolated(step_cache, "cache flush and refresh planning", NULL);
		if (TimestampDifferenceExceeds(last_write_check, GetCurrentTimestamp(),
									   WRITE_CHECK_INTERVAL_MS))
		{
			isolated(step_writes, "write housekeeping", NULL);
			last_write_check = GetCurrentTimestamp();
		}

		job_context = job_cxt;
		if (!isolated(step_jobs, "claiming jobs", NULL))
			wait_ms = billy_worker_naptime_ms;
		set_state("idle", 0);
		if (!isolated(step_next_wait, "scheduling", NULL))
			next_wait = billy_worker_naptime_ms;
		wait_ms = next_wait;

		/*
		 * Queued audit entries are chained within a second or two, in
		 * batches: under a stream of MCP calls every commit could wake the
		 * worker, and chaining a handful of entries per wake cost more than
		 * the calls themselves.  So at most one chaining per interval.
		 */
		{
			long		since = TimestampDifferenceMilliseconds(last_chain, GetCurrentTimestamp());

			if (since >= AUDIT_CHAIN_INTERVAL_MS)
			{
				if (!isolated(chain_audit, "chaining queued audit entries", &chained) || chained)
					wait_ms = Min(wait_ms, AUDIT_CHAIN_INTERVAL_MS);
				last_chain = GetCurrentTimestamp();
			}
			else if (chained || pg_atomic_read_u32(&billy_worker_state->audit_queued) != 0)
				wait_ms = Min(wait_ms, AUDIT_CHAIN_INTERVAL_MS - since);
		}
	}
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
 * billy_worker_status: billy.worker_status() RETURNS one row about the
 * worker, from shared memory, plus the job queue's depth.
 */
Datum
billy_worker_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[12];
	bool		nulls[12] = {0};
	BillyWorkerState snap;
	bool		isnull;
	Datum		d;
	BillyOwner	owner;

	billy_require_preload();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "billy: worker_status must return a composite");
	tupdesc = BlessTupleDesc(tupdesc);

	LWLockAcquire(billy_worker_state->lock, LW_SHARED);
	memcpy(&snap, billy_worker_state, sizeof(snap));
	LWLockRelease(billy_worker_state->lock);

	values[0] = BoolGetDatum(snap.pid != 0);
	if (snap.pid != 0)
		values[1] = Int32GetDatum(snap.pid);
	else
		nulls[1] = true;
	values[2] = CStringGetTextDatum(snap.state);
	values[3] = CStringGetTextDatum(billy_database_name);
	if (snap.started_at)
		values[4] = TimestampTzGetDatum(snap.started_at);
	else
		nulls[4] = true;
	if (snap.last_wakeup)
		values[5] = TimestampTzGetDatum(snap.last_wakeup);
	else
		nulls[5] = true;
	if (snap.last_job_finished_at)
		values[6] = TimestampTzGetDatum(snap.last_job_finished_at);
	else
		nulls[6] = true;
	values[7] = Int64GetDatum(snap.starts);
	values[8] = Int64GetDatum(snap.jobs_done);
	values[9] = Int64GetDatum(snap.jobs_failed);
	if (snap.current_job_id)
		values[10] = Int64GetDatum(snap.current_job_id);
	else
		nulls[10] = true;

	billy_become_owner(&owner);
	d = billy_sql_datum("SELECT pg_catalog.count(*) FROM billy.jobs "
						"WHERE state OPERATOR(pg_catalog.=) 'queued'",
						0, NULL, NULL, NULL, &isnull);
	billy_end_owner(&owner);
	values[11] = isnull ? Int64GetDatum(0) : d;

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
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

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	org = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!billy_org_visible(org))
		PG_RETURN_NULL();
	billy_become_owner(&owner);
	d = billy_sql_datum_cached("SELECT pg_catalog.min(j.run_after) FROM billy.jobs j "
							   "WHERE j.kind OPERATOR(pg_catalog.=) 'sync' "
							   "AND j.organization_id OPERATOR(pg_catalog.=) $1 "
							   "AND j.args OPERATOR(pg_catalog.->>) 'resource' OPERATOR(pg_catalog.=) $2 "
							   "AND j.state OPERATOR(pg_catalog.=) 'queued'",
							   2, (Oid[]) {TEXTOID, TEXTOID},
							   (Datum[]) {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)}, NULL, &isnull);
	billy_end_owner(&owner);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(d);
}

/* the refresh_organization job: fetch the organization's settings again */
static void
run_refresh_organization(BillyJob *job)
{
	if (job->organization_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a refresh_organization job needs an organization")));
	billy_refresh_organization(job->organization_id);
}
