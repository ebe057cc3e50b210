/*-------------------------------------------------------------------------
 *
 * sync.c
 *	  The sync as users and the worker see it: billy.sync_now (scans inline,
 *	  in the caller's transaction), the worker's "sync" jobs (a page committed
 *	  at a time; an open circuit breaker postpones them), the hot scans it
 *	  queues between full sweeps (billy.hot_sync_interval), and forgetting
 *	  old changes and runs (billy.changes_retention_days).
 *
 * A scan itself, and storing what it finds, is the mirror's (src/mirror/:
 * scan.c, refresh.c, store.c; README.md there).
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "breaker.h"
#include "budget.h"
#include "http.h"
#include "jobs.h"
#include "json.h"
#include "module.h"
#include "organizations.h"
#include "pagescan.h"
#include "resources.h"
#include "sqlexec.h"
#include "mirror/mirror.h"
#include "sync.h"

PG_FUNCTION_INFO_V1(billy_sync_now);

#define HOT_CHECK_INTERVAL_MS (30 * 1000)
#define FORGET_INTERVAL_MS (60 * 60 * 1000)

/* settings (sync_define_settings) */
int			billy_hot_sync_interval = 300;
int			billy_changes_retention_days = 90;

static long hot_check_interval_ms(void);
static bool queue_hot_scans(void);
static long forget_interval_ms(void);
static bool forget_old_changes(void);

/* sync_define_settings: how often hot scans run, how long changes are kept */
static void
sync_define_settings(void)
{
	DefineCustomIntVariable("billy.hot_sync_interval",
							"How often unpaid and draft invoices and bills are scanned between full syncs.",
							"0 turns hot scans off.",
							&billy_hot_sync_interval,
							300, 0, 86400,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.changes_retention_days",
							"Days billy.changes and finished sync runs are kept.",
							NULL,
							&billy_changes_retention_days,
							90, 1, 36500,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
}

static const BillyJobKind sync_jobs[] = {
	{"sync", billy_sync_job, BILLY_SHARE_EXEMPT},
	{NULL}
};

static const BillyPeriodic sync_periodic[] = {
	{"queuing hot scans", hot_check_interval_ms, 0, true, false, NULL, queue_hot_scans},
	{"forgetting old changes and runs", forget_interval_ms, 0, false, false, NULL, forget_old_changes},
	{NULL}
};

const BillyModule billy_sync_module = {
	.name = "sync",
	.define_settings = sync_define_settings,
	.jobs = sync_jobs,
	.periodic = sync_periodic,
};

/* how often the worker looks for organizations due a hot scan (0: never) */
static long
hot_check_interval_ms(void)
{
	if (billy_hot_sync_interval <= 0)
		return 0;
	return Min(HOT_CHECK_INTERVAL_MS, (long) billy_hot_sync_interval * 1000);
}

/*
 * queue_hot_scans asks for hot scans of the organizations due one
 * (billy.hot_sync_interval); they run like any queued job.  A periodic step
 * of the worker.
 */
static bool
queue_hot_scans(void)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(billy_hot_sync_interval)};

	if (billy_have_function("billy._queue_hot_scans(interval)"))
		billy_sql_exec("SELECT billy._queue_hot_scans(pg_catalog.make_interval(secs => $1))",
					   1, types, values, NULL);
	return false;
}

static long
forget_interval_ms(void)
{
	return FORGET_INTERVAL_MS;
}

/*
 * forget_old_changes forgets changes and sync runs after
 * billy.changes_retention_days; hourly, in the worker.
 */
static bool
forget_old_changes(void)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(billy_changes_retention_days)};

	if (billy_have_function("billy._forget_old_changes(integer)"))
		billy_sql_exec("SELECT billy._forget_old_changes($1)", 1, types, values, NULL);
	return false;
}


/* a job whose resource a sync job scans, its own or one it took up */
typedef struct JobTarget
{
	BillyJob   *job;
	bool		own;
	int			order;			/* in billy._sync_resources() */
} JobTarget;

/*
 * take_siblings claims the organization's other sync jobs of the same mode
 * that are due now (running, committed, as billy_jobs_claim would), to be
 * scanned with the job's own resource (billy_sync_group): a target each,
 * in the catalog's sync order.  Returns how many targets (1: none taken).
 */
static int
take_siblings(BillyJob *job, const char *resource, bool hot, BillySyncTarget **out)
{
	MemoryContext mcxt = GetMemoryChunkContext(job);
	Oid			types[4] = {TEXTOID, INT8OID, TEXTOID, TEXTOID};
	Datum		values[4];
	BillySyncTarget *t;
	int			n;

	values[0] = CStringGetTextDatum(job->organization_id);
	values[1] = Int64GetDatum(job->id);
	values[2] = CStringGetTextDatum(hot ? "hot" : "full");
	values[3] = CStringGetTextDatum(resource);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	if (SPI_execute_with_args("WITH taken AS (UPDATE billy.jobs j SET state = 'running', "
							  "  started_at = pg_catalog.now(), finished_at = NULL, "
							  "  attempts = j.attempts OPERATOR(pg_catalog.+) 1 "
							  "  WHERE j.id OPERATOR(pg_catalog.=) ANY (ARRAY("
							  "    SELECT q.id FROM billy.jobs q "
							  "    WHERE q.kind OPERATOR(pg_catalog.=) 'sync' "
							  "    AND q.state OPERATOR(pg_catalog.=) 'queued' "
							  "    AND q.organization_id OPERATOR(pg_catalog.=) $1 "
							  "    AND q.id OPERATOR(pg_catalog.<>) $2 "
							  "    AND q.run_after OPERATOR(pg_catalog.<=) pg_catalog.now() "
							  "    AND COALESCE(q.args OPERATOR(pg_catalog.->>) 'mode', 'full') OPERATOR(pg_catalog.=) $3 "
							  "    AND q.args OPERATOR(pg_catalog.->>) 'resource' OPERATOR(pg_catalog.<>) $4 "
							  "    FOR UPDATE SKIP LOCKED)) "
							  "  RETURNING j.id, j.args OPERATOR(pg_catalog.->>) 'resource' AS resource, "
							  "  j.attempts, j.max_attempts) "
							  "SELECT x.id, x.resource, x.attempts, x.max_attempts, "
							  "  COALESCE(pg_catalog.array_position(billy._sync_resources(), x.resource), 0) "
							  "FROM (SELECT $2 AS id, $4 AS resource, 0 AS attempts, 0 AS max_attempts "
							  "      UNION ALL SELECT * FROM taken) x ORDER BY 5, 1",
							  4, types, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "billy: could not take up an organization's sync jobs");
	n = (int) SPI_processed;
	t = MemoryContextAllocZero(mcxt, sizeof(BillySyncTarget) * n);
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		JobTarget  *jt = MemoryContextAllocZero(mcxt, sizeof(JobTarget));

		t[i].job_id = pg_strtoint64(SPI_getvalue(tup, desc, 1));
		t[i].resource = MemoryContextStrdup(mcxt, SPI_getvalue(tup, desc, 2));
		t[i].caller = jt;
		jt->own = (t[i].job_id == job->id);
		if (jt->own)
		{
			jt->job = job;
			t[i].allowed = true;	/* billy_sync_job asked the breaker */
		}
		else
		{
			jt->job = MemoryContextAllocZero(mcxt, sizeof(BillyJob));
			jt->job->id = t[i].job_id;
			jt->job->kind = job->kind;
			jt->job->organization_id = job->organization_id;
			jt->job->attempts = pg_strtoint32(SPI_getvalue(tup, desc, 3));
			jt->job->max_attempts = pg_strtoint32(SPI_getvalue(tup, desc, 4));
		}
	}
	SPI_finish();
	/* the jobs taken up are seen running, as a crash would leave them */
	billy_job_commit_and_continue();
	*out = t;
	return n;
}

/*
 * sibling_done finishes, as its scan ends, a job taken up by another's
 * (done, failed or retried, or postponed by the breaker) and commits; the
 * handler's own job is finished by the worker.
 */
static void
sibling_done(BillySyncTarget *t, void *arg)
{
	JobTarget  *jt = t->caller;

	if (jt->own)
		return;
	if (t->postpone_until != 0)
	{
		jt->job->postpone_until = t->postpone_until;
		billy_jobs_postpone(jt->job);
	}
	else if (t->error != NULL)
		billy_jobs_fail(jt->job, t->error);
	else
		billy_jobs_finish(jt->job);
	billy_job_commit_and_continue();
}

/*
 * billy_sync_job is the handler of "sync" jobs: {"resource": ..., "mode":
 * "full"|"hot"}.  An open circuit breaker postpones the job instead.  The
 * organization's other sync jobs of the same mode that are due are taken
 * up and their resources scanned together with this one (billy_sync_group:
 * several resources' pages in flight at once), each job finished as its
 * scan ends.
 */
void
billy_sync_job(BillyJob *job)
{
	static const char *const names[] = {"resource", "mode"};
	char	   *values[2];
	TimestampTz retry_at = 0;
	bool		hot;
	BillySyncTarget *targets;
	int			n;

	if (job->organization_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a sync job needs an organization")));
	if (!billy_json_top_fields(job->args, strlen(job->args), names, 2, values) || values[0] == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a sync job needs a resource in its args")));
	if (!billy_breaker_allows(job->organization_id, &retry_at))
	{
		job->postpone_until = retry_at;
		return;
	}
	hot = values[1] != NULL && strcmp(values[1], "hot") == 0;

	/* a trial of a half-open breaker goes alone */
	if (billy_breaker_is_open(job->organization_id, &retry_at) ||
		(n = take_siblings(job, values[0], hot, &targets)) == 1)
	{
		billy_sync_one(job->organization_id, values[0], hot,
					   BILLY_COMMIT_WORKER, job->id, false, NULL);
		return;
	}
	billy_sync_group(job->organization_id, targets, n, hot, sibling_done, NULL);
	for (int i = 0; i < n; i++)
	{
		JobTarget  *jt = targets[i].caller;

		if (!jt->own)
			continue;
		if (targets[i].error != NULL)
			ReThrowError(targets[i].error);
		job->postpone_until = targets[i].postpone_until;
	}
}

/*
 * billy_sync_now: billy.sync_now(org text, resources text[]) RETURNS TABLE.
 * Syncs inline, in the caller's transaction, with a NOTICE per page; one
 * row per organization and resource.
 */
Datum
billy_sync_now(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			types[2] = {TEXTOID, TEXTARRAYOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	List	   *pairs = NIL;
	ListCell   *lc;

	billy_require_preload();
	InitMaterializedSRF(fcinfo, 0);

	if (PG_ARGISNULL(0))
		nulls[0] = 'n';
	else
		values[0] = PG_GETARG_DATUM(0);
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';
	else
		values[1] = PG_GETARG_DATUM(1);

	/* which organizations and resources, checked in SQL */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	if (SPI_execute_with_args("SELECT o, r FROM billy._sync_targets($1, $2) t(o, r)",
							  2, types, values, nulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "billy: could not resolve what to sync");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);

		pairs = lappend(pairs, pstrdup(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1)));
		pairs = lappend(pairs, pstrdup(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2)));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();

	for (lc = list_head(pairs); lc != NULL; lc = lnext(pairs, lnext(pairs, lc)))
	{
		char	   *org = lfirst(lc);
		char	   *res = lfirst(lnext(pairs, lc));
		BillySyncResult r = {0};
		TimestampTz t0 = GetCurrentTimestamp();
		Datum		out[9];
		bool		outnulls[9] = {0};

		billy_sync_one(org, res, false, BILLY_COMMIT_NONE, 0, true, &r);
		ereport(NOTICE,
				(errmsg("billy: %s of %s synced: %lld seen, %lld new, %lld changed, %lld deleted, %d pages",
						res, org, (long long) r.rows_seen, (long long) r.inserted,
						(long long) r.updated, (long long) r.deleted, r.pages),
				 errhidestmt(true)));
		out[0] = CStringGetTextDatum(org);
		out[1] = CStringGetTextDatum(res);
		out[2] = Int64GetDatum(r.rows_seen);
		out[3] = Int64GetDatum(r.inserted);
		out[4] = Int64GetDatum(r.updated);
		out[5] = Int64GetDatum(r.deleted);
		out[6] = Int32GetDatum(r.pages);
		out[7] = Int64GetDatum(r.bytes);
		out[8] = DirectFunctionCall2(timestamp_mi,
									 TimestampTzGetDatum(GetCurrentTimestamp()),
									 TimestampTzGetDatum(t0));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnulls);
	}
	return (Datum) 0;
}
