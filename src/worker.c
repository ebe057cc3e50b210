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
 * The queue itself (claiming, finishing, retrying, recovering, waking) is
 * jobs.c; this file is the loop that dispatches.  It knows no concern by
 * name: job kinds and periodic steps come from the modules of billy.c
 * (module.h), so a new kind of job is a row in its own module.
 *
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
#include "jobs.h"
#include "module.h"
#include "sqlexec.h"
#include "worker.h"

PG_FUNCTION_INFO_V1(billy_worker_status);

#define RESTART_SECONDS 5
#define MAINTENANCE_INTERVAL_MS (60 * 60 * 1000)

int			billy_worker_naptime_ms = 10000;

static void worker_define_settings(void);
static long maintenance_interval_ms(void);
static bool forget_old_jobs(void);

static const BillyPeriodic worker_periodic[] = {
	{"forgetting old jobs", maintenance_interval_ms, 0, false, false, NULL, forget_old_jobs},
	{NULL}
};

const BillyModule billy_worker_module = {
	.name = "worker",
	.define_settings = worker_define_settings,
	.periodic = worker_periodic,
};

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
		if (billy_in_worker() && edata->elevel == FATAL &&
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


/* worker_define_settings: the loop's own setting */
static void
worker_define_settings(void)
{
	DefineCustomIntVariable("billy.worker_naptime_ms",
							"Longest time the worker sleeps when it has nothing to do.",
							"Queued jobs wake it at once; this bounds how late a "
							"job scheduled for later starts.",
							&billy_worker_naptime_ms,
							10000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

static long
maintenance_interval_ms(void)
{
	return MAINTENANCE_INTERVAL_MS;
}

/* forget_old_jobs forgets finished jobs after a week */
static bool
forget_old_jobs(void)
{
	billy_sql_exec("DELETE FROM billy.jobs WHERE state OPERATOR(pg_catalog.=) ANY "
				   "('{done,failed,cancelled}'::pg_catalog.text[]) AND finished_at OPERATOR(pg_catalog.<) "
				   "(pg_catalog.now() OPERATOR(pg_catalog.-) '7 days'::pg_catalog.interval)",
				   0, NULL, NULL, NULL);
	return false;
}

/*
 * find_handler returns the handler of a job kind, looked up in the modules'
 * job kinds (billy.c), or raises; the worker's calls to Billy are charged
 * to the kind's share from then on.
 */
static BillyJobHandler
find_handler(const char *kind)
{
	for (int m = 0; m < billy_nmodules; m++)
	{
		const BillyJobKind *k = billy_modules[m]->jobs;

		for (; k != NULL && k->name != NULL; k++)
			if (strcmp(k->name, kind) == 0)
			{
				billy_budget_set_process_share(k->share);
				return k->handler;
			}
	}
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("unknown job kind \"%s\"", kind),
			 errhint("The job was queued by a newer or older version of billy.")));
	return NULL;
}

/*
 * check_handler_memory makes sure a handler returned in memory of the
 * current transaction (its context or one under it), as the job's own
 * statements after it need.  A handler that commits as it goes
 * (billy_job_commit_and_continue) and then switches back to the context it
 * started in would leave a deleted context current: PostgreSQL detaches a
 * deleted context from its parent (and keeps its memory for the next one),
 * so that shows here as a context outside the transaction.  Logged as a bug
 * and repaired; the job goes on.
 */
static void
check_handler_memory(BillyJob *job)
{
	for (MemoryContext c = CurrentMemoryContext; c != NULL; c = c->parent)
		if (c == TopTransactionContext)
			return;
	ereport(WARNING,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("billy job %lld (%s) returned outside its transaction's memory",
					(long long) job->id, job->kind),
			 errdetail("This is a bug in the job's handler; the worker switched back to the transaction's memory.")));
	MemoryContextSwitchTo(CurTransactionContext);
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
		billy_job_begin_xact();
		find_handler(job->kind) (job);
		check_handler_memory(job);
		if (job->postpone_until != 0)
			billy_jobs_postpone(job);
		else
			billy_jobs_finish(job);
		billy_job_commit_xact();

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

		billy_jobs_record_failure(job, edata);

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
 * The periodic steps of every module (module.h), with when each last ran
 * and whether it asked to come back soon.  Numbered in the order of
 * billy_modules[] and of each module's steps.
 */
#define MAX_PERIODIC 32

typedef struct PeriodicState
{
	const BillyPeriodic *step;
	TimestampTz last;
	bool		again;			/* it asked to come back soon */
	bool		failed;			/* its last run failed: retried after its
								 * interval */
} PeriodicState;

static PeriodicState periodic[MAX_PERIODIC];
static int	nperiodic = 0;

static void
collect_periodic(void)
{
	for (int m = 0; m < billy_nmodules; m++)
		for (const BillyPeriodic *p = billy_modules[m]->periodic; p != NULL && p->name != NULL; p++)
		{
			if (nperiodic == MAX_PERIODIC)
				elog(ERROR, "billy: more than %d periodic steps", MAX_PERIODIC);
			periodic[nperiodic++].step = p;
		}
}

/* the step isolated() runs: one periodic step in a transaction of its own */
static const BillyPeriodic *running_step;

static bool
run_periodic_step(void)
{
	bool		again;

	billy_job_begin_xact();
	again = running_step->run();
	billy_job_commit_xact();
	return again;
}

/*
 * periodic_due says whether a step should run now: its interval is over, or
 * it is wanted (asked for by another process, or by its own last run) and
 * soon_ms has passed.  *remaining is how long until it is due, when the
 * worker should wake for it (it bounds the sleep, it is wanted, or its last
 * run failed), else -1.
 */
static bool
periodic_due(PeriodicState *ps, TimestampTz now, long *remaining)
{
	const BillyPeriodic *p = ps->step;
	long		interval = p->interval_ms();
	long		since = TimestampDifferenceMilliseconds(ps->last, now);
	bool		wanted = ps->again || (p->wanted != NULL && p->wanted());
	long		rest = -1;

	if (interval <= 0)
	{
		*remaining = -1;
		return false;
	}
	if (since >= interval)
		return true;
	if (p->bounds_sleep || ps->failed)
		rest = interval - since;
	if (wanted && p->soon_ms > 0)
	{
		long		soon = Min(interval, p->soon_ms);

		if (since >= soon)
			return true;
		rest = rest < 0 ? soon - since : Min(rest, soon - since);
	}
	*remaining = rest;
	return false;
}

/*
 * run_periodic runs the steps that are due (only those run after jobs, with
 * after_jobs) and returns how long the worker may sleep as far as they are
 * concerned (-1: they do not mind).
 */
static long
run_periodic(bool after_jobs)
{
	long		wait = -1;

	for (int i = 0; i < nperiodic; i++)
	{
		PeriodicState *ps = &periodic[i];
		long		remaining;

		if (after_jobs && !ps->step->after_jobs)
			continue;
		if (periodic_due(ps, GetCurrentTimestamp(), &remaining))
		{
			bool		again = false;

			ps->last = GetCurrentTimestamp();
			running_step = ps->step;
			ps->failed = !isolated(run_periodic_step, ps->step->name, &again);
			ps->again = !ps->failed && again;
			(void) periodic_due(ps, GetCurrentTimestamp(), &remaining);
		}
		if (remaining >= 0)
			wait = wait < 0 ? remaining : Min(wait, remaining);
	}
	return wait;
}

/* the job context the step below uses, set by the loop */
static MemoryContext job_context;
static long next_wait = 0;

static bool
step_recover(void)
{
	billy_jobs_recover_crashed();
	return true;
}

/*
 * step_jobs runs every due job; each is isolated on its own (run_job), and
 * the steps that want it get their chance after each
 */
static bool
step_jobs(void)
{
	for (;;)
	{
		BillyJob   *job;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(job_context);
		job = billy_jobs_claim(job_context);
		if (job == NULL)
			break;
		run_job(job, job_context);
		(void) run_periodic(true);
	}
	return true;
}

/* step_next_wait: until the next queued job is due, at most the naptime */
static bool
step_next_wait(void)
{
	next_wait = billy_jobs_next_due_ms(next_wait);
	return true;
}

/*
 * billy_worker_main is the worker's entry point: connect, publish, loop.
 * Each round: the modules' periodic steps that are due, then every due job,
 * then sleep until the next job or step is due (at most the naptime).
 */
void
billy_worker_main(Datum main_arg)
{
	MemoryContext job_cxt;
	bool		recovered = false;
	long		wait_ms = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	billy_jobs_enter_worker();
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
	collect_periodic();

	for (;;)
	{
		long		steps_wait;

		/* everything the last round wrote, counted before sleeping */
		pgstat_report_stat(true);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		LWLockAcquire(billy_worker_state->lock, LW_EXCLUSIVE);
		billy_worker_state->last_wakeup = GetCurrentTimestamp();
		LWLockRelease(billy_worker_state->lock);

		if (!billy_jobs_extension_ready())
		{
			set_state("waiting for CREATE EXTENSION billy", 0);
			recovered = false;
			wait_ms = billy_worker_naptime_ms;
			continue;
		}
		if (!recovered)
			recovered = isolated(step_recover, "recovering interrupted jobs", NULL);
		(void) run_periodic(false);

		job_context = job_cxt;
		if (!isolated(step_jobs, "claiming jobs", NULL))
			wait_ms = billy_worker_naptime_ms;
		set_state("idle", 0);

		/* the steps last: a job may have asked for one (an audit entry) */
		steps_wait = run_periodic(false);
		next_wait = billy_worker_naptime_ms;
		if (steps_wait >= 0)
			next_wait = Min(next_wait, steps_wait);
		if (!isolated(step_next_wait, "scheduling", NULL))
			next_wait = billy_worker_naptime_ms;
		wait_ms = next_wait;
	}
}
