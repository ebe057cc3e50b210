/*-------------------------------------------------------------------------
 *
 * cache_refresh.c
 *	  The worker's side of the cache: flushing the read counters
 *	  (cache_counters.c) into billy.cache_stats and planning refreshes
 *	  within the API budget (billy._cache_flush, billy._cache_plan), the
 *	  "cache_refresh" jobs that plan queues, and billy.warm_cache.
 *
 * The worker calls billy_cache_tick between jobs: every
 * billy.cache_flush_interval_ms, or sooner when a read asked for a refresh
 * (billy_cache_flush_wanted).  A cache_refresh job looks its records up
 * one by one (billy_sync_refresh_records, as the sync stores them, the
 * unchanged ones confirmed), or one list request per contact for invoices
 * and bills of one contact due together; an open breaker postpones it.
 *
 * For the module table: the job kind "cache_refresh"
 * (billy_cache_refresh_job, charged to the readers' share of the budget)
 * and the periodic step billy_cache_tick.  No settings of its own: it
 * reads billy.cache_flush_interval_ms (cache_counters.c) and
 * billy.api_budget_per_minute (budget.c).
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "breaker.h"
#include "cache.h"
#include "json.h"
#include "module.h"
#include "organizations.h"
#include "sqlexec.h"
#include "visibility.h"
#include "mirror/mirror.h"
#include "jobs.h"

PG_FUNCTION_INFO_V1(billy_warm_cache);

/* text_array makes a text[] of the drained entries' organizations, resources or ids */
static Datum
text_array(BillyCacheDrained *d, int n, int which)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(which == 0 ? d[i].org : which == 1 ? d[i].resource : d[i].id);
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static Datum
int8_array(BillyCacheDrained *d, int n, size_t offset)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = Int64GetDatum(*(int64 *) ((char *) &d[i].counts + offset));
	return PointerGetDatum(construct_array(elems, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * billy_cache_tick is the worker's periodic cache work, in a transaction
 * of the worker's: flush the counters when due (or asked), then plan
 * refreshes within the API budget (billy._cache_plan queues the jobs).
 */
void
billy_cache_tick(bool flush)
{
	if (flush)
	{
		int			n;
		BillyCacheDrained *d = billy_cache_drain(&n);

		if (n > 0)
		{
			Oid			types[12] = {TEXTOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
				INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
			INT8ARRAYOID, INT8ARRAYOID, TEXTOID};
			Datum		values[12];
			StringInfoData lasts;
			StringInfoData wants;

			initStringInfo(&lasts);
			initStringInfo(&wants);
			appendStringInfoChar(&lasts, '[');
			appendStringInfoChar(&wants, '[');
			for (int i = 0; i < n; i++)
			{
				char		buf[MAXDATELEN + 1];

				if (i > 0)
				{
					appendStringInfoChar(&lasts, ',');
					appendStringInfoChar(&wants, ',');
				}
				if (d[i].last_access)
					appendStringInfo(&lasts, "\"%s\"",
									 JsonEncodeDateTime(buf, TimestampTzGetDatum(d[i].last_access), TIMESTAMPTZOID, NULL));
				else
					appendStringInfoString(&lasts, "null");
				appendStringInfoString(&wants, d[i].refresh_wanted ? "true" : "false");
			}
			appendStringInfoChar(&lasts, ']');
			appendStringInfoChar(&wants, ']');

			values[0] = CStringGetTextDatum(wants.data);
			values[1] = text_array(d, n, 0);
			values[2] = text_array(d, n, 1);
			values[3] = text_array(d, n, 2);
			values[4] = int8_array(d, n, offsetof(BillyCacheCounts, reads));
			values[5] = int8_array(d, n, offsetof(BillyCacheCounts, fresh));
			values[6] = int8_array(d, n, offsetof(BillyCacheCounts, stale));
			values[7] = int8_array(d, n, offsetof(BillyCacheCounts, misses));
			values[8] = int8_array(d, n, offsetof(BillyCacheCounts, refetches));
			values[9] = int8_array(d, n, offsetof(BillyCacheCounts, api_calls));
			values[10] = int8_array(d, n, offsetof(BillyCacheCounts, refresh_calls));
			values[11] = CStringGetTextDatum(lasts.data);
			billy_sql_exec("SELECT billy._cache_flush($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
						   "$12::pg_catalog.jsonb, $1::pg_catalog.jsonb)",
						   12, types, values, NULL);
		}
		{
			uint64		dropped = billy_cache_dropped_counts();

			if (dropped > 0)
				ereport(LOG,
						(errmsg("billy: %llu cache counts were dropped: the counter table was full",
								(unsigned long long) dropped),
						 errhint("Raise billy.cache_max_entries or lower billy.cache_flush_interval_ms.")));
		}
	}
	{
		Oid			types[1] = {INT4OID};
		Datum		values[1] = {Int32GetDatum(billy_api_budget_per_minute)};

		billy_sql_exec("SELECT billy._cache_plan($1)", 1, types, values, NULL);
	}
}

/*
 * refresh_group looks up records of one resource (billy_sync_refresh_records,
 * confirming the unchanged ones) and counts the API calls it spent.
 */
static void
refresh_group(const char *org, const char *resource, char **ids, int n, StringInfo report)
{
	BillyRefresh r = {0};
	BillyCacheCounts counts = {0};
	int			unchanged = 0;
	int			stored = 0;
	int			gone = 0;

	billy_cache_refresh_ids(&r, org, resource, ids, n, 0);
	billy_sync_refresh_records(&r);
	for (int i = 0; i < n; i++)
	{
		if (r.outcomes[i] == BILLY_RECORD_UNCHANGED)
			unchanged++;
		else if (r.outcomes[i] == BILLY_RECORD_STORED)
			stored++;
		else if (r.outcomes[i] == BILLY_RECORD_GONE)
			gone++;
	}
	counts.refresh_calls = r.requests;
	billy_cache_count(org, resource, "", &counts, false);
	if (r.failed > 0 && strcmp(r.error.cause, "timeout") != 0)
		billy_breaker_record(org, false);
	else if (r.failed < n)
		billy_breaker_record(org, true);
	appendStringInfo(report, "\"%s\":{\"looked_up\":%d,\"unchanged\":%d,\"changed\":%d,\"gone\":%d,\"failed\":%d,\"requests\":%d",
					 resource, n, unchanged, stored, gone, r.failed, r.requests);
	if (r.failed > 0)
	{
		appendStringInfoString(report, ",\"error\":");
		escape_json(report, r.error.message);
	}
	appendStringInfoChar(report, '}');
}

/*
 * billy_cache_refresh_job is the handler of "cache_refresh" jobs
 * ({"resource": ..., "ids": [...]}), queued by billy._cache_plan.  An open
 * breaker postpones it.
 */
void
billy_cache_refresh_job(BillyJob *job)
{
	Jsonb	   *args = billy_jsonb_parse(job->args, strlen(job->args), "a cache_refresh job's args");
	JsonbValue	resource;
	JsonbValue	idsv;
	JsonbValue	contacts;
	TimestampTz retry_at = 0;
	char	  **ids = NULL;
	int			n = 0;
	int			lists = 0;
	int			capacity;
	char	   *res;
	StringInfoData report;

	if (job->organization_id == NULL ||
		!getKeyJsonValueFromContainer(&args->root, "resource", 8, &resource) ||
		resource.type != jbvString ||
		!getKeyJsonValueFromContainer(&args->root, "ids", 3, &idsv) ||
		idsv.type != jbvBinary || !JsonContainerIsArray(idsv.val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a cache_refresh job needs an organization, a resource and an array of ids")));
	if (!billy_breaker_allows(job->organization_id, &retry_at))
	{
		job->postpone_until = retry_at;
		return;
	}
	res = pnstrdup(resource.val.string.val, resource.val.string.len);
	capacity = JsonContainerSize(idsv.val.binary.data) + 16;
	ids = palloc(sizeof(char *) * capacity);
	for (uint32 i = 0; i < JsonContainerSize(idsv.val.binary.data); i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(idsv.val.binary.data, i);

		if (v && v->type == jbvString)
			ids[n++] = pnstrdup(v->val.string.val, v->val.string.len);
	}
	initStringInfo(&report);
	appendStringInfoChar(&report, '{');

	/* one list request per contact; what it did not hold is looked up alone */
	if (getKeyJsonValueFromContainer(&args->root, "contacts", 8, &contacts) &&
		contacts.type == jbvBinary && JsonContainerIsObject(contacts.val.binary.data))
	{
		JsonbIterator *it = JsonbIteratorInit(contacts.val.binary.data);
		JsonbValue	v;
		JsonbIteratorToken tok;
		char	   *contact = NULL;
		BillyRefresh r = {0};
		BillyCacheCounts counts = {0};
		List	   *seen = NIL;

		r.org = job->organization_id;
		r.resource = res;
		r.retry = true;
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
			{
				contact = pnstrdup(v.val.string.val, v.val.string.len);
				seen = billy_sync_refresh_list(&r, "contactId", contact);
				lists++;
			}
			else if (tok == WJB_VALUE && v.type == jbvBinary && JsonContainerIsArray(v.val.binary.data))
			{
				for (uint32 i = 0; i < JsonContainerSize(v.val.binary.data); i++)
				{
					JsonbValue *e = getIthJsonbValueFromContainer(v.val.binary.data, i);
					char	   *id;
					bool		found = false;
					ListCell   *lc;

					if (e == NULL || e->type != jbvString)
						continue;
					id = pnstrdup(e->val.string.val, e->val.string.len);
					foreach(lc, seen)
						found |= strcmp(lfirst(lc), id) == 0;
					if (!found)
					{
						if (n == capacity)
							ids = repalloc(ids, sizeof(char *) * (capacity *= 2));
						ids[n++] = id;
					}
				}
			}
		}
		counts.refresh_calls = r.requests;
		billy_cache_count(job->organization_id, res, "", &counts, false);
		if (r.failed > 0 && strcmp(r.error.cause, "timeout") != 0)
			billy_breaker_record(job->organization_id, false);
		appendStringInfo(&report, "\"lists\":{\"contacts\":%d,\"requests\":%d,\"changed\":%lld,\"failed\":%d},",
						 lists, r.requests, (long long) (r.inserted + r.updated), r.failed);
	}
	refresh_group(job->organization_id, res, ids, n, &report);
	appendStringInfoChar(&report, '}');
	job->result = report.data;
}

/*
 * billy_warm_cache: billy.warm_cache(org text, top_n int) RETURNS jsonb.
 * Refreshes now, in this session, the organization's top_n most read rows
 * (by accesses per hour), and says what it did.
 */
Datum
billy_warm_cache(PG_FUNCTION_ARGS)
{
	char	   *org;
	int			top_n = PG_ARGISNULL(1) ? 100 : PG_GETARG_INT32(1);
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2];
	StringInfoData report;
	int			groups = 0;
	int			total = 0;
	List	   *resources = NIL;
	List	   *idlists = NIL;
	ListCell   *lc1;
	ListCell   *lc2;
	TimestampTz t0 = GetCurrentTimestamp();

	billy_require_preload();
	if (top_n < 1 || top_n > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("top_n must be between 1 and 100000")));
	org = billy_resolve_organization(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)));
	values[0] = CStringGetTextDatum(org);
	values[1] = Int32GetDatum(top_n);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	if (SPI_execute_with_args("SELECT resource, pg_catalog.array_agg(record_id) FROM billy._cache_hottest($1, $2) "
							  "GROUP BY resource ORDER BY resource",
							  2, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "billy: could not find the hottest rows");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);

		resources = lappend(resources, pstrdup(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1)));
		idlists = lappend(idlists, DatumGetArrayTypePCopy(d));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();

	initStringInfo(&report);
	appendStringInfoString(&report, "{\"organization_id\":");
	escape_json(&report, org);
	appendStringInfoString(&report, ",\"refreshed\":{");
	forboth(lc1, resources, lc2, idlists)
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		char	  **ids;

		deconstruct_array(lfirst(lc2), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		ids = palloc(sizeof(char *) * Max(n, 1));
		for (int i = 0; i < n; i++)
			ids[i] = TextDatumGetCString(elems[i]);
		if (groups++ > 0)
			appendStringInfoChar(&report, ',');
		refresh_group(org, lfirst(lc1), ids, n, &report);
		total += n;
	}
	appendStringInfo(&report, "},\"rows\":%d,\"ms\":%lld}", total,
					 (long long) ((GetCurrentTimestamp() - t0) / 1000));
	PG_RETURN_JSONB_P(billy_jsonb_parse(report.data, report.len, "warm_cache's report"));
}

/* ------------------------------------------------------------------------
 * The cache's module: all four files' settings, the counters' memory, the
 * cache_refresh jobs and the periodic flush (module.h)
 * ------------------------------------------------------------------------
 */

/* cache_define_settings: the settings of the cache's four files */
static void
cache_define_settings(void)
{
	billy_cache_define_settings();
	billy_cache_confirm_define_settings();
	billy_cache_counters_define_settings();
}

/* how often the cache's counters are flushed, on the cache's (test) clock */
static long
cache_interval_ms(void)
{
	return Max(10L, (long) (billy_cache_flush_interval_ms / billy_cache_rate()));
}

/*
 * cache_step flushes the read counters and plans refreshes
 * (cache_refresh.c) when billy.cache_flush_interval_ms has passed, or
 * sooner when a read asked for a refresh: a periodic step of the worker.
 * The counts it held are lost if it fails.
 */
static bool
cache_step(void)
{
	if (billy_have_function("billy._cache_plan(integer)"))
		billy_cache_tick(true);
	return false;
}

static const BillyJobKind cache_jobs[] = {
	/* refreshes of what reads found stale: the readers' share */
	{"cache_refresh", billy_cache_refresh_job, BILLY_SHARE_READER},
	{NULL}
};

static const BillyPeriodic cache_periodic[] = {
	{"cache flush and refresh planning", cache_interval_ms, 200, true, true,
	billy_cache_flush_wanted, cache_step},
	{NULL}
};

const BillyModule billy_cache_module = {
	.name = "cache",
	.define_settings = cache_define_settings,
	.shmem_size = billy_cache_counters_shmem_size,
	.lwlocks = 1,
	.shmem_init = billy_cache_counters_shmem_init,
	.jobs = cache_jobs,
	.periodic = cache_periodic,
};
