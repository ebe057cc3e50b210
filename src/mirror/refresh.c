/*-------------------------------------------------------------------------
 *
 * mirror/refresh.c
 *	  Looking records up in Billy and storing what changed: one by one
 *	  (billy_sync_refresh_records: a scan's missing records, the read
 *	  path's confirmations and misses, the cache's refresh jobs) or as one
 *	  filtered list (billy_sync_refresh_list, e.g. a contact's invoices).
 *	  The same comparison with the mirror's hashes as a scan's pages, so a
 *	  later unchanged sync writes nothing.
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


#include "http.h"
#include "jobs.h"
#include "json.h"
#include "mirror/mirror.h"
#include "mirror/mirror_internal.h"
#include "module.h"
#include "organizations.h"
#include "pagescan.h"
#include "resources.h"
#include "sqlexec.h"

/* settings (mirror_define_settings) */
int			billy_sync_concurrency = 4;
int			billy_sync_page_size = 1000;
int			billy_sync_verify_limit = 1000;

/* mirror_define_settings: how a scan reads Billy */
static void
mirror_define_settings(void)
{
	DefineCustomIntVariable("billy.sync_concurrency",
							"Pages a sync downloads at once.",
							"Page 1 tells the page count; the rest are fetched this many at a time.",
							&billy_sync_concurrency,
							4, 1, 32,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.sync_page_size",
							"Records per page a sync asks Billy for (Billy's maximum is 1000).",
							NULL,
							&billy_sync_page_size,
							1000, 1, 1000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.sync_verify_limit",
							"Records missing from a complete scan that are looked up one by one before being marked deleted.",
							"More missing records than this wait for the next scan.",
							&billy_sync_verify_limit,
							1000, 0, 1000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
}

const BillyModule billy_mirror_module = {
	.name = "mirror",
	.define_settings = mirror_define_settings,
};

/*
 * billy_record_path is the path of one record (GET /<resource>/<id>), its
 * children embedded as the sync reads them
 */
char *
billy_record_path(const BillyResource *res, const char *id)
{
	StringInfoData p;

	initStringInfo(&p);
	appendStringInfo(&p, "/%s/", res->name);
	billy_http_append_escaped(&p, id);
	if (res->include)
		appendStringInfo(&p, "?include=%s", res->include);
	return p.data;
}

/*
 * mirror_fail_request raises a failed request's error, noting that the failure
 * was Billy's (for the circuit breaker).
 */
void
mirror_fail_request(SyncScan *scan, BillyHttpRequest *req)
{
	BillyHttpError err;

	billy_http_describe(req, &err);
	scan->api_failure = true;
	scan->cause = err.cause;
	billy_http_raise(req);
}

/* what billy_sync_refresh_records keeps while its requests run */
typedef struct RefreshState
{
	BillyRefresh *r;
	const BillyResource *res;
	HTAB	   *known;			/* id -> KnownEntry: the mirror's hashes */
	BillyRecord **changed;		/* found records to store, copied */
	int			nchanged;
	char	  **gone;
	int			ngone;
	char	  **unchanged;
	int			nunchanged;
	MemoryContext cxt;
} RefreshState;

/* refresh_failed records one failed look-up; the first failure is kept */
static void
refresh_failed(RefreshState *rs, int i, BillyHttpError *err)
{
	rs->r->outcomes[i] = BILLY_RECORD_FAILED;
	if (rs->r->failed++ == 0)
		rs->r->error = *err;
}

/* refresh_done: one looked-up record: found (changed or not), gone, or failed */
static void
refresh_done(BillyHttpRequest *req, void *arg)
{
	RefreshState *rs = arg;
	BillyRefresh *r = rs->r;
	int			i = (int) (intptr_t) req->arg;
	MemoryContext old = MemoryContextSwitchTo(rs->cxt);
	BillyHttpError err;
	BillyPage	page;
	char	   *problem = NULL;

	r->requests += req->attempts;
	r->bytes += req->response.len;
	if (req->failure == BILLY_HTTP_STATUS && req->status == 404)
	{
		r->outcomes[i] = BILLY_RECORD_GONE;
		rs->gone[rs->ngone++] = r->ids[i];
	}
	else if (req->failure != BILLY_HTTP_OK)
	{
		billy_http_describe(req, &err);
		refresh_failed(rs, i, &err);
	}
	else
	{
		if (!pg_verifymbstr(req->response.data, req->response.len, true))
			problem = pstrdup("The body is not valid UTF-8.");
		else
			problem = billy_scan_page(req->response.data, req->response.len, rs->res->singular, &page);
		if (problem == NULL && (page.nrecords != 1 || strcmp(page.records[0].id, r->ids[i]) != 0))
			problem = psprintf("It holds %d records instead of the one asked for.", page.nrecords);
		if (problem != NULL)
		{
			memset(&err, 0, sizeof(err));
			err.sqlerrcode = ERRCODE_EXTERNAL_ROUTINE_EXCEPTION;
			err.message = pstrdup("Billy returned invalid JSON");
			err.detail = psprintf("%s %s%s answered HTTP %ld with a body billy cannot use: %s",
								  billy_http_method_name(req->method), req->base_url, req->path,
								  req->status, problem);
			err.hint = pstrdup("Billy or a proxy in between may be failing; try again later.");
			err.cause = "invalid_json";
			refresh_failed(rs, i, &err);
		}
		else
		{
			BillyRecord *rec = palloc(sizeof(BillyRecord));
			KnownEntry *e = hash_search(rs->known, r->ids[i], HASH_FIND, NULL);

			/* the record's text outlives the response */
			*rec = page.records[0];
			rec->json = pnstrdup(rec->json, rec->len);
			if (r->keep_json)
				r->records[i] = billy_jsonb_parse(rec->json, rec->len, "a record Billy returned");
			if (e != NULL && memcmp(e->hash, rec->hash, BILLY_HASH_BYTES) == 0)
			{
				r->outcomes[i] = BILLY_RECORD_UNCHANGED;
				rs->unchanged[rs->nunchanged++] = r->ids[i];
			}
			else
			{
				r->outcomes[i] = BILLY_RECORD_STORED;
				rs->changed[rs->nchanged++] = rec;
			}
		}
	}
	pfree(req->response.data);
	req->response.data = NULL;
	MemoryContextSwitchTo(old);
}

/*
 * billy_sync_refresh_records looks up records one by one (GET
 * /<resource>/<id> with the embeds a sync asks for, billy.sync_concurrency
 * at a time) and stores them exactly as a sync would: the content hash of
 * the record as Billy sent it, compared with the mirror's, and the
 * resource's apply function for the changed ones, so a later sync of the
 * same records writes nothing.  A 404 marks the record deleted.  Failures
 * are reported per record, never raised: r->outcomes says what happened to
 * each id, r->error describes the first failure.  The sync's deletion
 * checks (verify_missing), the read path and the cache's refresh jobs all
 * come through here.
 */
void
billy_sync_refresh_records(BillyRefresh *r)
{
	const BillyResource *res = billy_resource(r->resource);
	RefreshState rs = {0};
	BillyHttpRequest **reqs;
	char	   *api_url = NULL;
	char	   *volatile token = NULL;
	const char *base_url = r->base_url;
	BillyOwner	owner;
	int			n = r->nids;
	TimestampTz sent;

	if (res == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown resource \"%s\"", r->resource)));
	r->outcomes = palloc0(sizeof(BillyRecordOutcome) * Max(n, 1));
	if (r->keep_json)
		r->records = palloc0(sizeof(Jsonb *) * Max(n, 1));
	if (n == 0)
		return;

	rs.r = r;
	rs.res = res;
	rs.cxt = CurrentMemoryContext;
	rs.changed = palloc(sizeof(BillyRecord *) * n);
	rs.gone = palloc(sizeof(char *) * n);
	rs.unchanged = palloc(sizeof(char *) * n);

	/* what the mirror holds for them */
	rs.known = mirror_load_hashes(res, r->org, mirror_ids_array(r->ids, n), n, CurrentMemoryContext);

	if (base_url == NULL)
	{
		token = billy_load_token(r->org, &api_url);
		base_url = billy_effective_api_url(api_url);
	}
	reqs = palloc(sizeof(BillyHttpRequest *) * n);
	for (int i = 0; i < n; i++)
	{
		reqs[i] = billy_http_request_new(BILLY_GET, base_url, billy_record_path(res, r->ids[i]),
										 token ? token : r->token);
		reqs[i]->arg = (void *) (intptr_t) i;
		reqs[i]->retryable = r->retry;
		reqs[i]->timeout_ms = r->timeout_ms;
	}
	sent = GetCurrentTimestamp();
	PG_TRY();
	{
		billy_http_run(reqs, n, billy_sync_concurrency, refresh_done, &rs);
	}
	PG_FINALLY();
	{
		if (token)
			explicit_bzero(token, strlen(token));
	}
	PG_END_TRY();

	if (!r->store)
		return;
	if (rs.nchanged > 0)
	{
		int64		before_ins = r->inserted;
		int64		before_upd = r->updated;

		mirror_apply_records(res, r->org, r->run_id, rs.changed, rs.nchanged, sent, &r->inserted, &r->updated);
		mirror_notify_changes(res, r->org, r->run_id, r->inserted - before_ins, r->updated - before_upd, 0);
	}
	if (rs.ngone > 0)
	{
		Oid			dtypes[4] = {TEXTOID, TEXTOID, INT8OID, TEXTARRAYOID};
		Datum		dvalues[4];
		bool		isnull;
		Datum		d;

		dvalues[0] = CStringGetTextDatum(r->org);
		dvalues[1] = CStringGetTextDatum(res->name);
		dvalues[2] = Int64GetDatum(r->run_id);
		dvalues[3] = mirror_ids_array(rs.gone, rs.ngone);
		billy_become_owner(&owner);
		d = billy_sql_datum("SELECT billy._mark_deleted($1, $2, $3, $4)", 4, dtypes, dvalues,
							r->run_id ? NULL : "  n ", &isnull);
		billy_end_owner(&owner);
		if (!isnull)
		{
			r->deleted += DatumGetInt32(d);
			mirror_notify_changes(res, r->org, r->run_id, 0, 0, DatumGetInt32(d));
		}
	}
	if (r->confirm && rs.nunchanged > 0)
		mirror_confirm_records(res, r->org, mirror_ids_array(rs.unchanged, rs.nunchanged), sent);
}

/* what billy_sync_refresh_list keeps while its pages arrive */
typedef struct ListRefreshState
{
	BillyRefresh *r;
	const BillyResource *res;
	int			page_count;
	List	   *seen;			/* ids the list held */
	MemoryContext cxt;			/* the caller's: seen lives there */
	MemoryContext page_cxt;		/* reset for every page */
} ListRefreshState;

/*
 * list_refresh_page compares one page of a filtered list with the mirror:
 * the changed records are stored (mirror_apply_records), the unchanged ones
 * confirmed, both as of when the page was asked for.  Failures are
 * recorded, not raised.
 */
static void
list_refresh_page(BillyHttpRequest *req, void *arg)
{
	ListRefreshState *ls = arg;
	BillyRefresh *r = ls->r;
	MemoryContext old = MemoryContextSwitchTo(ls->page_cxt);
	BillyPage	page;
	char	   *problem;
	BillyHttpError err;

	r->requests += req->attempts;
	r->bytes += req->response.len;
	if (req->failure != BILLY_HTTP_OK)
	{
		billy_http_describe(req, &err);
		if (r->failed++ == 0)
			r->error = err;
	}
	else if ((problem = pg_verifymbstr(req->response.data, req->response.len, true) ?
			  billy_scan_page(req->response.data, req->response.len, ls->res->name, &page) :
			  pstrdup("The body is not valid UTF-8.")) != NULL)
	{
		memset(&err, 0, sizeof(err));
		err.sqlerrcode = ERRCODE_EXTERNAL_ROUTINE_EXCEPTION;
		err.message = pstrdup("Billy returned invalid JSON");
		err.detail = psprintf("GET %s%s: %s", req->base_url, req->path, problem);
		err.cause = "invalid_json";
		if (r->failed++ == 0)
			r->error = err;
	}
	else if (page.nrecords > 0)
	{
		Datum	   *ids = palloc(sizeof(Datum) * page.nrecords);
		BillyRecord **changed = palloc(sizeof(BillyRecord *) * page.nrecords);
		char	  **unchanged = palloc(sizeof(char *) * page.nrecords);
		int			nchanged = 0;
		int			nunchanged = 0;
		HTAB	   *known;

		if (page.page_count > ls->page_count)
			ls->page_count = page.page_count;
		for (int i = 0; i < page.nrecords; i++)
			ids[i] = CStringGetTextDatum(page.records[i].id);
		known = mirror_load_hashes(ls->res, r->org,
								   PointerGetDatum(construct_array(ids, page.nrecords, TEXTOID, -1, false, TYPALIGN_INT)),
								   page.nrecords, ls->page_cxt);

		for (int i = 0; i < page.nrecords; i++)
		{
			KnownEntry *e = hash_search(known, page.records[i].id, HASH_FIND, NULL);

			if (e != NULL && memcmp(e->hash, page.records[i].hash, BILLY_HASH_BYTES) == 0)
				unchanged[nunchanged++] = page.records[i].id;
			else
				changed[nchanged++] = &page.records[i];
			ls->seen = lappend(ls->seen, MemoryContextStrdup(ls->cxt, page.records[i].id));
		}
		if (nchanged > 0)
		{
			int64		before_ins = r->inserted;
			int64		before_upd = r->updated;

			mirror_apply_records(ls->res, r->org, r->run_id, changed, nchanged, req->started_at, &r->inserted, &r->updated);
			mirror_notify_changes(ls->res, r->org, r->run_id, r->inserted - before_ins, r->updated - before_upd, 0);
		}
		if (nunchanged > 0)
			mirror_confirm_records(ls->res, r->org, mirror_ids_array(unchanged, nunchanged), req->started_at);
	}
	pfree(req->response.data);
	req->response.data = NULL;
	MemoryContextSwitchTo(old);
	MemoryContextReset(ls->page_cxt);
}

/* list_fetch_pages fetches every page of a filtered list, page 1 first */
static void
list_fetch_pages(ListRefreshState *ls, const char *base_url, const char *token, const char *filter)
{
	BillyRefresh *r = ls->r;
	int			fetched = 1;

	while (fetched == 1 || fetched <= ls->page_count)
	{
		int			first = fetched;
		int			last = Max(first, ls->page_count);
		int			n = last - first + 1;
		BillyHttpRequest **reqs = palloc(sizeof(BillyHttpRequest *) * n);

		for (int i = 0; i < n; i++)
		{
			char	   *path = psprintf("/%s?%s&page=%d&pageSize=%d%s%s", ls->res->name, filter,
										first + i, billy_sync_page_size,
										ls->res->include ? "&include=" : "",
										ls->res->include ? ls->res->include : "");

			reqs[i] = billy_http_request_new(BILLY_GET, base_url, path, token);
			reqs[i]->retryable = r->retry;
			reqs[i]->timeout_ms = r->timeout_ms;
		}
		billy_http_run(reqs, n, billy_sync_concurrency, list_refresh_page, ls);
		fetched = last + 1;
		if (r->failed > 0)
			break;
	}
}

/*
 * billy_sync_refresh_list refreshes the records one filtered list returns
 * (GET /<resource>?<name>=<value>, every page, with the sync's embeds and
 * page size): each is compared with the mirror's hash, the changed ones
 * stored as a sync stores them, the unchanged ones confirmed.  Nothing is
 * marked deleted (a filtered list is not a complete scan).  One request
 * instead of a look-up per record, where Billy's filters allow it (e.g.
 * invoices?contactId=...).  Returns the ids the list held; failures are in
 * r->failed and r->error, never raised.
 */
List *
billy_sync_refresh_list(BillyRefresh *r, const char *name, const char *value)
{
	const BillyResource *res = billy_resource(r->resource);
	ListRefreshState ls = {0};
	StringInfoData filter;
	char	   *api_url = NULL;
	char	   *volatile token = NULL;
	const char *volatile base_url = r->base_url;

	if (res == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown resource \"%s\"", r->resource)));
	initStringInfo(&filter);
	appendStringInfo(&filter, "%s=", name);
	billy_http_append_escaped(&filter, value);
	ls.r = r;
	ls.res = res;
	ls.cxt = CurrentMemoryContext;
	ls.page_cxt = AllocSetContextCreate(CurrentMemoryContext, "billy list refresh page", ALLOCSET_DEFAULT_SIZES);
	if (base_url == NULL)
	{
		token = billy_load_token(r->org, &api_url);
		base_url = billy_effective_api_url(api_url);
	}
	PG_TRY();
	{
		list_fetch_pages(&ls, base_url, token ? token : r->token, filter.data);
	}
	PG_FINALLY();
	{
		if (token)
			explicit_bzero(token, strlen(token));
	}
	PG_END_TRY();
	MemoryContextDelete(ls.page_cxt);
	return ls.seen;
}

/*
 * billy_sync_in_hot_set says whether a mirror row of resource is one a hot
 * scan confirms: the C form of the resource's hot_where (unpaid invoices
 * and bills, drafts included).
 */
bool
billy_sync_in_hot_set(const char *resource, bool is_paid_known, bool is_paid)
{
	const BillyResource *res = billy_resource(resource);

	if (res == NULL || res->hot_where == NULL)
		return false;
	return !(is_paid_known && is_paid);
}

/* billy_sync_table is the mirror table of a resource (Billy's name), or NULL */
const char *
billy_sync_table(const char *resource)
{
	const BillyResource *res = billy_resource(resource);

	return res ? res->table : NULL;
}

/* billy_sync_singular is the root of a single-record answer, or NULL */
const char *
billy_sync_singular(const char *resource)
{
	const BillyResource *res = billy_resource(resource);

	return res ? res->singular : NULL;
}

/*
 * billy_sync_resource tells other concerns (writes) how the sync reads and
 * stores a resource (billy.resources): its singular root, its apply
 * function and includes.  Returns false for a name the sync does not mirror.
 */
bool
billy_sync_resource(const char *name, const char **singular, const char **apply,
					const char **include)
{
	const BillyResource *res = billy_resource(name);

	if (res == NULL)
		return false;
	*singular = res->singular;
	*apply = res->apply;
	*include = res->include;
	return true;
}
