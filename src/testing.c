/*-------------------------------------------------------------------------
 *
 * testing.c
 *	  What only tests and benchmarks call: the faster clock, the sync's
 *	  floor, an immediate flush of the read counters.
 *
 * Every SQL function here is granted to nobody (superusers and the
 * extension owner only; extension/0.2.0/99-testing.sql) and checks for a
 * superuser itself too.  Nothing else in billy calls into this file.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include <math.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "cache.h"
#include "clock.h"
#include "http.h"
#include "json.h"
#include "organizations.h"
#include "mirror/mirror.h"
#include "resources.h"

PG_FUNCTION_INFO_V1(billy_set_clock_rate);
PG_FUNCTION_INFO_V1(billy_cache_flush_now);
PG_FUNCTION_INFO_V1(billy_sync_floor);

/* require_superuser refuses everyone else, naming the function */
static void
require_superuser(const char *what)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers may call %s", what),
				 errdetail("It exists for billy's tests and benchmarks.")));
}

/*
 * billy_set_clock_rate: billy._set_clock_rate(rate float8) RETURNS
 * timestamptz.  From now on the cache's clock (clock.c) runs rate times
 * faster than the wall clock.  Returns the cache's now.
 */
Datum
billy_set_clock_rate(PG_FUNCTION_ARGS)
{
	double		rate = PG_GETARG_FLOAT8(0);

	billy_require_preload();
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers may set billy's test clock")));
	if (isnan(rate) || rate < 1.0 || rate > 100000.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate must be between 1 and 100000"),
				 errhint("1 is the wall clock; the test clock only runs faster.")));
	billy_clock_set_rate(rate);
	PG_RETURN_TIMESTAMPTZ(billy_cache_clock_now());
}

/*
 * billy_cache_flush_now: billy._cache_flush_now() RETURNS void: asks the
 * worker for a flush of the read counters at once.
 */
Datum
billy_cache_flush_now(PG_FUNCTION_ARGS)
{
	require_superuser("billy._cache_flush_now()");
	billy_cache_want_flush();
	PG_RETURN_VOID();
}

typedef struct FloorState
{
	bool		parse;
	int			pages;
	int			page_count;
	int64		bytes;
	int64		records;
	MemoryContext page_cxt;
} FloorState;

/* floor_done: one page of the floor measurement */
static void
floor_done(BillyHttpRequest *req, void *arg)
{
	FloorState *fs = arg;
	MemoryContext old = MemoryContextSwitchTo(fs->page_cxt);
	const char *pc;

	if (req->failure != BILLY_HTTP_OK)
		billy_http_raise(req);
	fs->pages++;
	fs->bytes += req->response.len;
	if (fs->parse)
		(void) billy_jsonb_parse(req->response.data, req->response.len, "a page");
	/* the page count, the cheapest way there is: this is a measurement */
	pc = strstr(req->response.data, "\"pageCount\":");
	if (pc)
		fs->page_count = Max(fs->page_count, atoi(pc + 12));
	pfree(req->response.data);
	req->response.data = NULL;
	MemoryContextSwitchTo(old);
	MemoryContextReset(fs->page_cxt);
}

/*
 * billy_sync_floor: billy._sync_floor(org, resource, parse) RETURNS record.
 * Downloads every page of a resource exactly as a full sync does (same
 * paths, page size and concurrency) and, with parse, parses each page into
 * jsonb, storing nothing: the floor a sync's time is measured against.
 */
Datum
billy_sync_floor(PG_FUNCTION_ARGS)
{
	char	   *org;
	char	   *resource;
	char	   *api_url = NULL;
	char	   *token;
	FloorState	fs = {0};
	BillyHttpRequest *first;
	BillyHttpRequest **reqs;
	int			fetched = 1;
	int			total = 0;
	List	   *scopes;
	ListCell   *lc;
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {0};
	TimestampTz t0 = GetCurrentTimestamp();

	billy_require_preload();
	require_superuser("billy._sync_floor()");
	org = billy_resolve_organization(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)));
	resource = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (billy_sync_page_path(resource, 1) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown resource \"%s\"", resource)));
	token = billy_load_token(org, &api_url);
	fs.parse = PG_GETARG_BOOL(2);
	fs.page_cxt = AllocSetContextCreate(CurrentMemoryContext, "billy floor page", ALLOCSET_DEFAULT_SIZES);

	/* a resource listed per parent: every value's pages, as the sync */
	if (!billy_sync_scopes(org, billy_resource(resource), CurrentMemoryContext, &scopes))
		scopes = list_make1(NULL);
	foreach(lc, scopes)
	{
		const char *scope = lfirst(lc);

		fs.page_count = 0;
		fetched = 1;
		first = billy_http_request_new(BILLY_GET, billy_effective_api_url(api_url),
									   billy_sync_scoped_path(resource, scope, 1), token);
		billy_http_run(&first, 1, 1, floor_done, &fs);
		total += Max(fs.page_count, 1);
		while (fetched < fs.page_count)
		{
			int			n = fs.page_count - fetched;

			reqs = palloc(sizeof(BillyHttpRequest *) * n);
			for (int i = 0; i < n; i++)
				reqs[i] = billy_http_request_new(BILLY_GET, billy_effective_api_url(api_url),
												 billy_sync_scoped_path(resource, scope, fetched + 1 + i), token);
			billy_http_run(reqs, n, billy_sync_concurrency, floor_done, &fs);
			fetched += n;
		}
	}
	fs.page_count = total;
	explicit_bzero(token, strlen(token));

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "billy: _sync_floor must return a composite");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = Int32GetDatum(fs.pages);
	values[1] = Int64GetDatum(fs.bytes);
	values[2] = Int32GetDatum(fs.page_count);
	values[3] = Float8GetDatum((double) (GetCurrentTimestamp() - t0) / 1000.0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
