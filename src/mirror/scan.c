/*-------------------------------------------------------------------------
 *
 * mirror/scan.c
 *	  A scan: every page of one resource of one organization read and
 *	  stored (billy_sync_one), the records it no longer holds looked up
 *	  before they are marked deleted.  The sync (sync.c) runs scans for the
 *	  worker and billy.sync_now; the read path (cache.c) runs hot ones in a
 *	  reader's transaction.
 *
 * Billy has no updatedTime and no change feed, so a sync reads every page of
 * a resource.  What makes that cheap:
 *
 *	- the mirror's content hashes of the resource are loaded once into a hash
 *	  table; each record on a page is scanned (pagescan.c) and its hash
 *	  looked up: an unchanged record costs nothing more, writes nothing;
 *	- the changed records of a page are parsed into one jsonb array and
 *	  stored by one SQL function per resource (billy._apply_<resource>,
 *	  store.c), which upserts them, replaces their children and logs the
 *	  changes;
 *	- once page 1 tells the page count, the other pages are fetched
 *	  billy.sync_concurrency at a time (curl multi, http.c) and processed as
 *	  they arrive.
 *
 * Correctness after failures:
 *
 *	- in the worker each page commits on its own, so a failure keeps what
 *	  was synced; inline (billy.sync_now) the caller's transaction does;
 *	- only a complete scan (every page read) decides deletions, and a record
 *	  missing from it is first looked up on its own (GET /<resource>/<id>,
 *	  refresh.c): records shifted between pages by concurrent changes
 *	  upstream are found again, not deleted; deletions set deleted_at, never
 *	  delete rows;
 *	- a record seen twice (pages shifting the other way) is written once;
 *	- "running" is committed before a scan starts, so a crash leaves a trace
 *	  that the next scan of the resource closes;
 *	- one scan per organization and resource at a time (advisory lock).
 *
 * A resource Billy lists only per parent (bank lines: accountId is
 * required) names the query parameter and the mirror query of its values in
 * the catalog (billy.resources.scope_param, scope_source): its scan is one
 * scan per value, page 1 first each time, with page numbers unique across
 * them; the mirror's hashes are those of the scanned values' rows, so only
 * those can be found missing and looked up for deletion.
 *
 * A hot scan reads only unpaid and draft documents (isPaid=false) between
 * full sweeps; mirror rows that were unpaid and are missing from it (paid
 * since, or deleted) are looked up on their own.
 *
 * The scan's memory lives in a context under TopMemoryContext, because each
 * page commit in the worker ends the transaction; it is deleted when the
 * scan ends and handed to the aborting transaction when it fails.
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
#include "mirror/mirror.h"
#include "mirror/mirror_internal.h"
#include "module.h"
#include "organizations.h"
#include "pagescan.h"
#include "resources.h"
#include "sqlexec.h"

/*
 * scan_commit makes a page's work durable in the worker; inline, the
 * caller's transaction decides.
 */
static void
scan_commit(SyncScan *scan)
{
	if (scan->commit == BILLY_COMMIT_WORKER)
		billy_job_commit_and_continue();
}

static void
progress(SyncScan *scan, const char *phase)
{
	billy_progress_update(scan->progress, phase, scan->pages_done, scan->page_count,
						  scan->rows_seen, scan->inserted + scan->updated + scan->deleted,
						  scan->bytes);
}

/* list_path is the path of page n of the resource */
static char *
list_path(SyncScan *scan, int page)
{
	StringInfoData p;

	initStringInfo(&p);
	appendStringInfo(&p, "/%s?page=%d&pageSize=%d", scan->res->name, page, billy_sync_page_size);
	if (scan->res->include)
		appendStringInfo(&p, "&include=%s", scan->res->include);
	if (scan->res->sort)
		appendStringInfo(&p, "&sortProperty=%s&sortDirection=ASC", scan->res->sort);
	if (scan->hot && scan->res->hot_filter)
		appendStringInfo(&p, "&%s", scan->res->hot_filter);
	if (scan->scope != NULL)
	{
		appendStringInfo(&p, "&%s=", scan->res->scope_param);
		for (const char *c = scan->scope; *c; c++)
		{
			if (isalnum((unsigned char) *c) || *c == '-' || *c == '_' || *c == '.' || *c == '~')
				appendStringInfoChar(&p, *c);
			else
				appendStringInfo(&p, "%%%02X", (unsigned char) *c);
		}
	}
	return p.data;
}

/*
 * billy_sync_scopes: the values a resource listed only per parent is
 * scanned with (its scope_source over the mirror, as the extension owner),
 * in cxt; NIL for an organization without any.  False for a resource
 * listed whole.
 */
bool
billy_sync_scopes(const char *org, const BillyResource *res, MemoryContext cxt, List **values)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	BillyOwner	owner;

	*values = NIL;
	if (res->scope_param == NULL)
		return false;
	args[0] = CStringGetTextDatum(org);
	billy_become_owner(&owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");

	/*
	 * Not read-only: a new snapshot sees the parents billy.sync_now stored
	 * earlier in its statement.  As a subquery, it can only be a query.
	 */
	if (SPI_execute_with_args(psprintf("SELECT s.v::pg_catalog.text FROM (%s) s(v)", res->scope_source),
							  1, types, args, NULL, false, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("scope_source of resource %s is not a query", res->name)));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		if (v != NULL)
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			*values = lappend(*values, pstrdup(v));
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	billy_end_owner(&owner);
	return true;
}

/*
 * billy_sync_scoped_path is the path of page n of a full scan of a resource
 * for one value of its scope (NULL: a resource listed whole).
 */
char *
billy_sync_scoped_path(const char *resource, const char *scope, int page)
{
	SyncScan	scan = {0};

	scan.res = billy_resource(resource);
	if (scan.res == NULL)
		return NULL;
	scan.scope = scope;
	return list_path(&scan, page);
}

/*
 * billy_sync_page_path is the path of page n of a full scan of a resource,
 * as the sync asks for it (testing.c's floor fetches the same pages), or
 * NULL for a resource the sync does not mirror.
 */
char *
billy_sync_page_path(const char *resource, int page)
{
	SyncScan	scan = {0};

	scan.res = billy_resource(resource);
	if (scan.res == NULL)
		return NULL;
	return list_path(&scan, page);
}

/*
 * checked_page validates a page's body and scans it.  Any problem raises:
 * a page is applied whole or not at all.
 */
static void
checked_page(SyncScan *scan, BillyHttpRequest *req, const char *root, BillyPage *page)
{
	char	   *problem;

	if (!pg_verifymbstr(req->response.data, req->response.len, true))
		problem = pstrdup("The body is not valid UTF-8.");
	else
		problem = billy_scan_page(req->response.data, req->response.len, root, page);
	if (problem != NULL)
	{
		scan->api_failure = true;
		scan->cause = "invalid_json";
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("Billy returned invalid JSON"),
				 errdetail("%s %s%s answered HTTP %ld with a body billy cannot use: %s",
						   billy_http_method_name(req->method), req->base_url, req->path,
						   req->status, problem),
				 errhint("Billy or a proxy in between may be failing; the next sync tries again."),
				 errhidestmt(true)));
	}
}

/*
 * mirror_scan_page_done handles one page as soon as it arrives: check,
 * compare, store, commit.  It runs inside billy_http_run_fed's loop; the
 * request (mirror_scan_next's) is freed.
 */
void
mirror_scan_page_done(BillyHttpRequest *req, void *arg)
{
	ScanPage   *sp = req->arg;
	SyncScan   *scan = sp->scan;
	int			page_no = sp->page;
	MemoryContext old;
	BillyPage	page;

	scan->in_flight--;
	old = MemoryContextSwitchTo(scan->page_cxt);
	scan->requests += req->attempts;
	scan->bytes += req->response.len;
	if (req->failure != BILLY_HTTP_OK)
		mirror_fail_request(scan, req);
	if (scan->res == NULL)
	{
		/* the organization: GET /organization, one record */
		billy_store_organization_answer(scan->org, req);
		scan->page_count = 1;
		scan->rows_seen = 1;
	}
	else
	{
		checked_page(scan, req, scan->res->name, &page);
		mirror_process_records(scan, &page, page_no, req->started_at);
		/* (a scoped scan asks the next scope only when this one is done) */
		if (page.page_count > scan->scope_pages)
			scan->scope_pages = page.page_count;
		if (scan->page_base + page.page_count > scan->page_count)
			scan->page_count = scan->page_base + page.page_count;
	}
	scan->pages_done++;

	/* the request is done with; the page's own memory goes with the reset */
	MemoryContextSwitchTo(old);
	mirror_scan_free_request(req);
	MemoryContextReset(scan->page_cxt);

	progress(scan, "listing");
	scan_commit(scan);
	if (scan->verbose)
		ereport(NOTICE,
				(errmsg("billy: %s of %s: page %d of %d, %lld records seen, %lld written",
						scan->resource, scan->org, scan->pages_done, Max(scan->page_count, 1),
						(long long) scan->rows_seen,
						(long long) (scan->inserted + scan->updated)),
				 errhidestmt(true)));
}

/*
 * next_scope: whether a scoped scan has a page to ask now (scan->scope,
 * scan->scope_next), moving to the next value of its scope when the pages
 * of the one before are all done (their page counts are the scope's own)
 */
static bool
next_scope(SyncScan *scan)
{
	for (;;)
	{
		if (scan->scope == NULL)
		{
			if (scan->in_flight > 0 || scan->scope_i >= scan->nscopes)
				return false;
			scan->scope = scan->scopes[scan->scope_i++];
			scan->page_base = scan->pages_done;
			scan->scope_pages = 0;
			scan->scope_next = 1;
		}
		if (scan->scope_next == 1 || scan->scope_next <= scan->scope_pages)
			return true;
		if (scan->in_flight > 0)
			return false;
		scan->scope = NULL;
	}
}

/*
 * mirror_scan_next is the request of the scan's next page, or NULL when it
 * has none to ask now.  Page 1 tells how many pages there are; until then a
 * first sync asks page 1 alone.  When the mirror already holds the
 * resource, its size predicts the count, and the predicted pages are asked
 * from the start (a page past the end is empty): a resync keeps every slot
 * busy from its first page to its last.  New records upstream may add pages
 * as the scan goes.  A scoped resource asks each value's page 1, then its
 * other pages, and the next value once they are all done.
 */
BillyHttpRequest *
mirror_scan_next(SyncScan *scan)
{
	MemoryContext old;
	BillyHttpRequest *req;
	ScanPage   *sp;

	if (scan->res != NULL && scan->res->scope_param != NULL)
	{
		if (!next_scope(scan))
			return NULL;
	}
	else if (scan->next_page > Max(scan->first_batch, scan->page_count))
		return NULL;
	old = MemoryContextSwitchTo(scan->cxt);
	sp = palloc(sizeof(ScanPage));
	sp->scan = scan;
	sp->page = scan->scope ? scan->page_base + scan->scope_next : scan->next_page;
	req = billy_http_request_new(BILLY_GET, scan->base_url,
								 scan->res ? list_path(scan, scan->scope ? scan->scope_next : sp->page)
								 : "/organization", scan->token);
	req->arg = sp;
	if (scan->scope)
		scan->scope_next++;
	else
		scan->next_page++;
	MemoryContextSwitchTo(old);
	scan->in_flight++;
	return req;
}

/* mirror_scan_free_request frees a request of mirror_scan_next */
void
mirror_scan_free_request(BillyHttpRequest *req)
{
	if (req->response.data)
		pfree(req->response.data);
	if (req->curl_error)
		pfree(req->curl_error);
	pfree(req->arg);
	pfree(req->base_url);
	pfree(req->path);
	pfree(req);
}

/* mirror_scan_listed says whether every page of the scan has been read */
bool
mirror_scan_listed(SyncScan *scan)
{
	if (scan->in_flight > 0)
		return false;
	if (scan->res != NULL && scan->res->scope_param != NULL)
		return scan->scope == NULL && scan->scope_i >= scan->nscopes;
	return scan->next_page > Max(scan->first_batch, scan->page_count);
}

/*
 * mirror_scan_missing counts the records the mirror holds and the scan did
 * not see: closing the scan looks them up (HTTP).
 */
int
mirror_scan_missing(SyncScan *scan)
{
	HASH_SEQ_STATUS seq;
	KnownEntry *e;
	int			missing = 0;

	if (scan->known == NULL)
		return 0;
	hash_seq_init(&seq, scan->known);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->stored && !e->seen)
			missing++;
	return missing;
}

/*
 * verify_missing looks up, one by one, the records the scan should have
 * seen and did not (billy_sync_refresh_records): those Billy no longer
 * knows (404) are marked deleted, the others stored as they are now.  At
 * most billy.sync_verify_limit.  A failed look-up fails the scan.
 */
static void
verify_missing(SyncScan *scan)
{
	HASH_SEQ_STATUS seq;
	KnownEntry *e;
	BillyRefresh r = {0};
	int			n = 0;
	int			missing = mirror_scan_missing(scan);

	if (missing == 0)
		return;
	if (missing > billy_sync_verify_limit)
		scan->leftover = missing - billy_sync_verify_limit;

	r.ids = palloc(sizeof(char *) * Max(1, Min(missing, billy_sync_verify_limit)));
	hash_seq_init(&seq, scan->known);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->stored && !e->seen && n < billy_sync_verify_limit)
			r.ids[n++] = e->id;
	if (n == 0)
		return;
	r.org = scan->org;
	r.resource = scan->res->name;
	r.nids = n;
	r.base_url = scan->base_url;
	r.token = scan->token;
	r.run_id = scan->run_id;
	r.retry = true;
	r.store = true;

	progress(scan, "verifying");
	billy_sync_refresh_records(&r);
	scan->requests += r.requests;
	scan->bytes += r.bytes;
	scan->verified += n;
	scan->inserted += r.inserted;
	scan->updated += r.updated;
	scan->deleted += r.deleted;
	if (r.failed > 0)
	{
		scan->api_failure = true;
		scan->cause = r.error.cause;
		ereport(ERROR,
				(errcode(r.error.sqlerrcode),
				 errmsg("%s", r.error.message),
				 r.error.detail ? errdetail("%s", r.error.detail) : 0,
				 r.error.hint ? errhint("%s", r.error.hint) : 0,
				 errhidestmt(true)));
	}
}

/*
 * begin_run takes the resource's lock, closes runs a crash left open, and
 * records this one as running (committed in the worker, so a crash shows).
 */
static void
begin_run(SyncScan *scan)
{
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, INT8OID, BOOLOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	Datum		d;
	BillyOwner	owner;

	values[0] = CStringGetTextDatum(scan->org);
	values[1] = CStringGetTextDatum(scan->res ? scan->res->name : "organization");
	values[2] = CStringGetTextDatum(scan->hot ? "hot" : "full");
	if (scan->job_id)
		values[3] = Int64GetDatum(scan->job_id);
	else
		nulls[3] = 'n';
	values[4] = BoolGetDatum(scan->commit == BILLY_COMMIT_WORKER);

	billy_become_owner(&owner);
	d = billy_sql_datum("SELECT billy._begin_sync_run($1, $2, $3, $4, $5)",
						5, types, values, nulls, &isnull);
	billy_end_owner(&owner);
	if (isnull)
	{
		char	   *what = psprintf("%s of organization \"%s\"",
									scan->res ? scan->res->name : "organization", scan->org);

		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("a sync of %s is already running", what),
				 errhint("billy.sync_progress shows it; try again when it is done.")));
	}
	scan->locked = (scan->commit == BILLY_COMMIT_WORKER);
	scan->run_id = DatumGetInt64(d);
	scan_commit(scan);
}

/* end_run records a scan's outcome in billy.sync_runs and billy.sync_state */
static void
end_run(SyncScan *scan, ErrorData *edata, const char *cause)
{
	Oid			types[14] = {INT8OID, BOOLOID, INT4OID, INT4OID, INT4OID, INT8OID, INT8OID,
	INT8OID, INT8OID, INT8OID, INT8OID, BOOLOID, TEXTOID, TEXTOID};
	Datum		values[14];
	char		nulls[14];
	Oid			etypes[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		evalues[4];
	char		enulls[4] = {' ', ' ', ' ', ' '};
	BillyOwner	owner;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(scan->run_id);
	values[1] = BoolGetDatum(edata == NULL);
	values[2] = Int32GetDatum(scan->pages_done);
	values[3] = Int32GetDatum(scan->page_count);
	values[4] = Int32GetDatum(scan->requests);
	values[5] = Int64GetDatum(scan->bytes);
	values[6] = Int64GetDatum(scan->rows_seen);
	values[7] = Int64GetDatum(scan->inserted);
	values[8] = Int64GetDatum(scan->updated);
	values[9] = Int64GetDatum(scan->deleted);
	values[10] = Int64GetDatum(scan->verified);
	values[11] = BoolGetDatum(scan->complete && scan->leftover == 0);
	values[12] = CStringGetTextDatum(scan->hot ? "hot" : "full");
	if (scan->leftover > 0)
		values[13] = CStringGetTextDatum(psprintf("%lld records missing from the scan were not looked up (billy.sync_verify_limit); the next scan goes on",
												  (long long) scan->leftover));
	else
		nulls[13] = 'n';

	billy_become_owner(&owner);
	billy_sql_exec("SELECT billy._end_sync_run($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
				   14, types, values, nulls);
	if (edata != NULL)
	{
		evalues[0] = CStringGetTextDatum(edata->message ? edata->message : "unknown error");
		evalues[1] = CStringGetTextDatum(cause);
		if (edata->detail)
			evalues[2] = CStringGetTextDatum(edata->detail);
		else
			enulls[2] = 'n';
		evalues[3] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
		billy_sql_exec(psprintf("SELECT billy._fail_sync_run(%lld, $1, $2, $3, $4)",
								(long long) scan->run_id),
					   4, etypes, evalues, enulls);
	}
	billy_end_owner(&owner);
}

/* error_cause classifies a failure in the words billy.sync_status uses */
static const char *
error_cause(SyncScan *scan, ErrorData *edata)
{
	if (scan->cause != NULL)
		return scan->cause;
	if (edata->sqlerrcode == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION)
		return "http_401";
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		return "cancelled";
	if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
		return "busy";
	if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_CONNECTION_EXCEPTION)
		return "connect";
	if (edata->sqlerrcode == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE)
		return "not_connected";
	return "database";
}

/*
 * derived_step calls billy._derived_begin or billy._derived_finish for the
 * scan (75-derived.sql): a first sync fills the tables derived from its
 * records in one pass at its end instead of page by page.
 */
static void
derived_step(SyncScan *scan, bool begin)
{
	Oid			types[3] = {TEXTOID, TEXTOID, INT8OID};
	Datum		values[3];
	BillyOwner	owner;

	values[0] = CStringGetTextDatum(scan->org);
	values[1] = CStringGetTextDatum(scan->res->name);
	values[2] = Int64GetDatum(scan->run_id);
	billy_become_owner(&owner);
	billy_sql_exec(begin ? "SELECT billy._derived_begin($1, $2, $3)" : "SELECT billy._derived_finish($1, $2)",
				   begin ? 3 : 2, types, values, NULL);
	billy_end_owner(&owner);
}

/*
 * mirror_scan_new sets up a scan of one resource of one organization
 * ("organization": GET /organization); nothing is asked or recorded yet.
 * Bad arguments raise.
 */
SyncScan *
mirror_scan_new(const char *org, const char *resource, bool hot,
				BillyCommitMode commit, int64 job_id, bool verbose)
{
	SyncScan   *scan;
	MemoryContext cxt;
	const BillyResource *res = NULL;

	/* bad arguments before the scan's memory exists, which they would leak */
	if (strcmp(resource, "organization") != 0)
	{
		res = billy_resource(resource);
		if (res == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown resource \"%s\"", resource)));
		if (hot && res->hot_filter == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s have no hot scan", resource)));
	}

	cxt = AllocSetContextCreate(TopMemoryContext, "billy sync", ALLOCSET_DEFAULT_SIZES);
	scan = MemoryContextAllocZero(cxt, sizeof(SyncScan));
	scan->cxt = cxt;
	scan->page_cxt = AllocSetContextCreate(cxt, "billy sync page", ALLOCSET_DEFAULT_SIZES);
	/* the caller's strings may live in a transaction a page commit ends */
	scan->org = MemoryContextStrdup(cxt, org);
	scan->resource = MemoryContextStrdup(cxt, resource);
	scan->hot = hot;
	scan->verbose = verbose;
	scan->commit = commit;
	scan->job_id = job_id;
	scan->progress = -1;
	/* the scan outlives the transaction that looked its resource up */
	scan->res = res ? billy_resource_copy(res, cxt) : NULL;
	return scan;
}

/*
 * mirror_scan_open records the scan as running and gets it ready to ask
 * its pages (mirror_scan_next; the organization's one page is GET
 * /organization).
 */
void
mirror_scan_open(SyncScan *scan)
{
	MemoryContext old = MemoryContextSwitchTo(scan->cxt);
	char	   *api_url = NULL;
	int64		known;

	scan->token = billy_load_token(scan->org, &api_url);
	scan->base_url = pstrdup(billy_effective_api_url(api_url));
	MemoryContextSwitchTo(old);

	begin_run(scan);
	scan->progress = billy_progress_begin(scan->org, scan->resource, scan->hot ? "hot" : "full");
	scan->next_page = 1;
	scan->first_batch = 1;
	if (scan->res == NULL)
		return;
	progress(scan, "loading");

	/*
	 * A resource Billy lists only per parent: the values of its scope, one
	 * scan each (next_scope); the mirror's hashes are those of their rows.
	 */
	if (!scan->hot)
	{
		MemoryContext old = MemoryContextSwitchTo(scan->cxt);
		List	   *values;

		if (billy_sync_scopes(scan->org, scan->res, scan->cxt, &values))
		{
			ListCell   *lc;

			scan->scopes = palloc(sizeof(char *) * Max(list_length(values), 1));
			foreach(lc, values)
				scan->scopes[scan->nscopes++] = lfirst(lc);
		}
		MemoryContextSwitchTo(old);
	}
	mirror_load_known(scan);
	known = hash_get_num_entries(scan->known);
	scan->analyze_after = Max(SYNC_ANALYZE_MIN, known);
	if (!scan->hot && known == 0)
		derived_step(scan, true);
	scan->first_batch = (int) Max(1, Min((known + billy_sync_page_size - 1) / billy_sync_page_size,
										 INT_MAX));
}

/* release_sync_lock releases the lock a scan of (org, resource) held */
static void
release_sync_lock(const char *org, const char *resource)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(org), CStringGetTextDatum(resource)};

	billy_sql_exec("SELECT billy._release_sync_lock($1, $2)", 2, types, values, NULL);
}

/*
 * mirror_scan_close ends a scan whose pages are all read: the records it
 * did not see looked up (HTTP: never inside a run's callbacks unless
 * mirror_scan_missing is 0), the derived tables of a first sync built, the
 * outcome recorded and committed.
 */
void
mirror_scan_close(SyncScan *scan)
{
	scan->complete = true;
	if (scan->res != NULL)
	{
		/* what the mirror has and the scan did not see: gone, or moved */
		verify_missing(scan);
		progress(scan, "finishing");
		derived_step(scan, false);
	}
	end_run(scan, NULL, NULL);
	if (scan->locked)
		release_sync_lock(scan->org, scan->resource);
	scan_commit(scan);
	billy_breaker_record(scan->org, true);
	if (scan->leftover > 0)
		ereport(WARNING,
				(errmsg("billy: %lld %s of organization \"%s\" missing from the scan were not looked up yet",
						(long long) scan->leftover, scan->resource, scan->org),
				 errhint("billy.sync_verify_limit bounds the look-ups per scan; the next scan goes on.")));
}

/*
 * mirror_scan_fail records a scan's failure (edata, copied by the caller
 * out of the error state): counted by the breaker, and in the worker rolled
 * back and recorded in billy.sync_runs (committed).
 */
void
mirror_scan_fail(SyncScan *scan, ErrorData *edata)
{
	const char *cause = error_cause(scan, edata);

	billy_progress_end(scan->progress);
	scan->progress = -1;
	if (scan->api_failure || ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_CONNECTION_EXCEPTION)
		billy_breaker_record(scan->org, false);
	if (scan->token)
		explicit_bzero((char *) scan->token, strlen(scan->token));

	/* in the worker, record the failure before the job's error handling */
	if (scan->commit == BILLY_COMMIT_WORKER && scan->run_id != 0)
	{
		billy_job_abort_and_continue();
		end_run(scan, edata, cause);
		release_sync_lock(scan->org, scan->resource);
		billy_job_commit_and_continue();
	}
}

/*
 * mirror_scan_end hands a finished scan's counts to result (if given) and
 * frees it; the current memory context must not be the scan's.
 */
void
mirror_scan_end(SyncScan *scan, BillySyncResult *result)
{
	billy_progress_end(scan->progress);
	if (result)
	{
		result->run_id = scan->run_id;
		result->pages = scan->pages_done;
		result->bytes = scan->bytes;
		result->rows_seen = scan->rows_seen;
		result->inserted = scan->inserted;
		result->updated = scan->updated;
		result->deleted = scan->deleted;
	}
	if (scan->token)
		explicit_bzero((char *) scan->token, strlen(scan->token));
	MemoryContextDelete(scan->cxt);
}

static BillyHttpRequest *
one_next(void *arg)
{
	return mirror_scan_next((SyncScan *) arg);
}

/*
 * billy_sync_one scans one resource of one organization; see the file
 * header.  Returns normally on success; a failure is recorded (in the
 * worker) and re-raised.  The worker's jobs scan an organization's
 * resources together (billy_sync_group, group.c).
 */
void
billy_sync_one(const char *org, const char *resource, bool hot,
			   BillyCommitMode commit, int64 job_id, bool verbose,
			   BillySyncResult *result)
{
	SyncScan   *scan;
	MemoryContext caller = CurrentMemoryContext;

	scan = mirror_scan_new(org, resource, hot, commit, job_id, verbose);
	/* a sync keeps its own share: not charged to the API budget */
	billy_budget_exempt_this_transaction();

	PG_TRY();
	{
		mirror_scan_open(scan);
		billy_http_run_fed(billy_sync_concurrency, one_next, scan, mirror_scan_page_done, NULL);
		mirror_scan_close(scan);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(scan->cxt);
		edata = CopyErrorData();
		FlushErrorState();
		mirror_scan_fail(scan, edata);

		/*
		 * The scan's memory (edata among it) goes with the transaction the
		 * error aborts: the worker's current one (a page commit replaced the
		 * one the job began in), or billy.sync_now's (sub)transaction.
		 * ReThrowError copies edata before that.
		 */
		MemoryContextSwitchTo(commit == BILLY_COMMIT_WORKER ? CurTransactionContext : caller);
		MemoryContextSetParent(scan->cxt, CurTransactionContext);
		ReThrowError(edata);
	}
	PG_END_TRY();

	/*
	 * Back to a context that is alive: in the worker the first page commit
	 * ended the transaction the caller's context belonged to (PostgreSQL 15
	 * deletes it; that its memory usually comes back as the next
	 * transaction's context is luck, not a promise), so the current
	 * transaction's; inline nothing was committed and the caller's is alive.
	 */
	MemoryContextSwitchTo(commit == BILLY_COMMIT_WORKER ? CurTransactionContext : caller);
	mirror_scan_end(scan, result);
}
