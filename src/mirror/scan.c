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
 * page_done handles one page as soon as it arrives: check, compare, store,
 * commit.  It runs inside billy_http_run's loop.
 */
static void
page_done(BillyHttpRequest *req, void *arg)
{
	SyncScan   *scan = arg;
	MemoryContext old = MemoryContextSwitchTo(scan->page_cxt);
	BillyPage	page;
	int			page_no = (int) (intptr_t) req->arg;

	scan->requests += req->attempts;
	scan->bytes += req->response.len;
	if (req->failure != BILLY_HTTP_OK)
		mirror_fail_request(scan, req);
	checked_page(scan, req, scan->res->name, &page);
	mirror_process_records(scan, &page, page_no);

	if (page.page_count > scan->scope_pages)
		scan->scope_pages = page.page_count;
	if (scan->page_base + page.page_count > scan->page_count)
		scan->page_count = scan->page_base + page.page_count;
	scan->pages_done++;

	/* the body is done with; the page's own memory goes with the reset */
	pfree(req->response.data);
	req->response.data = NULL;
	MemoryContextSwitchTo(old);
	MemoryContextReset(scan->page_cxt);

	progress(scan, "listing");
	scan_commit(scan);
	if (scan->verbose)
		ereport(NOTICE,
				(errmsg("billy: %s of %s: page %d of %d, %lld records seen, %lld written",
						scan->res->name, scan->org, scan->pages_done, Max(scan->page_count, 1),
						(long long) scan->rows_seen,
						(long long) (scan->inserted + scan->updated)),
				 errhidestmt(true)));
}

/*
 * fetch_pages fetches pages first..last (of the scope being scanned),
 * sync_concurrency at a time.
 */
static void
fetch_pages(SyncScan *scan, int first, int last)
{
	int			n = last - first + 1;
	BillyHttpRequest **reqs;
	MemoryContext old;

	if (n <= 0)
		return;
	old = MemoryContextSwitchTo(scan->cxt);
	reqs = palloc(sizeof(BillyHttpRequest *) * n);
	for (int i = 0; i < n; i++)
	{
		reqs[i] = billy_http_request_new(BILLY_GET, scan->base_url,
										 list_path(scan, first + i), scan->token);
		reqs[i]->arg = (void *) (intptr_t) (scan->page_base + first + i);
	}
	MemoryContextSwitchTo(old);
	billy_http_run(reqs, n, billy_sync_concurrency, page_done, scan);
	for (int i = 0; i < n; i++)
	{
		if (reqs[i]->response.data)
			pfree(reqs[i]->response.data);
		pfree(reqs[i]);
	}
	pfree(reqs);
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
	int			missing = 0;

	hash_seq_init(&seq, scan->known);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->stored && !e->seen)
			missing++;
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
 * run_scoped_scans: a resource Billy lists only per parent (bank lines per
 * bank account) is read as one scan per value of its scope, each page 1
 * first, then the rest; the deletions are decided once every value's scan
 * is complete, among the rows of those values only (mirror_load_known).
 * The derived tables of a first sync are not built from such a resource.
 */
static void
run_scoped_scans(SyncScan *scan)
{
	for (int i = 0; i < scan->nscopes; i++)
	{
		int			fetched;

		scan->scope = scan->scopes[i];
		scan->page_base = scan->pages_done;
		scan->scope_pages = 0;
		fetch_pages(scan, 1, 1);
		fetched = 1;
		while (fetched < scan->scope_pages)
		{
			int			target = scan->scope_pages;

			fetch_pages(scan, fetched + 1, target);
			fetched = target;
		}
	}
	scan->scope = NULL;
	scan->complete = true;
	verify_missing(scan);
	progress(scan, "finishing");
}

/*
 * run_scan reads every page of the resource, then decides deletions when
 * the scan was complete.
 */
static void
run_scan(SyncScan *scan)
{
	int			fetched;
	int			predicted;
	int			first_batch;

	progress(scan, "loading");
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
	scan->analyze_after = Max(SYNC_ANALYZE_MIN, (int64) hash_get_num_entries(scan->known));
	if (scan->res->scope_param != NULL)
	{
		run_scoped_scans(scan);
		return;
	}
	if (!scan->hot && hash_get_num_entries(scan->known) == 0)
		derived_step(scan, true);

	/*
	 * Page 1 tells how many pages there are.  When the mirror already holds
	 * the resource, its size predicts that, and the predicted pages are
	 * fetched in one go (a page past the end is empty): a resync keeps
	 * billy.sync_concurrency requests in flight from its first page to its
	 * last.  A first sync asks page 1 alone.
	 */
	predicted = (int) Min((hash_get_num_entries(scan->known) + billy_sync_page_size - 1) /
						  billy_sync_page_size, INT_MAX);
	first_batch = Max(1, predicted);
	fetch_pages(scan, 1, first_batch);
	fetched = first_batch;

	/* the rest, concurrently; new records upstream may add pages as we go */
	while (fetched < scan->page_count)
	{
		int			target = scan->page_count;

		fetch_pages(scan, fetched + 1, target);
		fetched = target;
	}
	scan->complete = true;

	/* what the mirror has and the scan did not see: gone, or moved */
	verify_missing(scan);
	progress(scan, "finishing");
	derived_step(scan, false);
}

/* sync_organization is the "organization" resource: GET /organization */
static void
sync_organization(SyncScan *scan)
{
	billy_refresh_organization(scan->org);
	scan->pages_done = scan->page_count = 1;
	scan->requests = 1;
	scan->rows_seen = 1;
	scan->complete = true;
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
 * billy_sync_one scans one resource of one organization; see the file
 * header.  Returns normally on success; a failure is recorded (in the
 * worker) and re-raised.
 */
void
billy_sync_one(const char *org, const char *resource, bool hot,
			   BillyCommitMode commit, int64 job_id, bool verbose,
			   BillySyncResult *result)
{
	SyncScan   *scan;
	MemoryContext cxt;
	MemoryContext caller = CurrentMemoryContext;
	char	   *api_url = NULL;
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

	/* a sync keeps its own share: not charged to the API budget */
	billy_budget_exempt_this_transaction();
	cxt = AllocSetContextCreate(TopMemoryContext, "billy sync", ALLOCSET_DEFAULT_SIZES);
	scan = MemoryContextAllocZero(cxt, sizeof(SyncScan));
	scan->cxt = cxt;
	scan->page_cxt = AllocSetContextCreate(cxt, "billy sync page", ALLOCSET_DEFAULT_SIZES);
	/* the caller's strings may live in a transaction a page commit ends */
	scan->org = MemoryContextStrdup(cxt, org);
	scan->resource = MemoryContextStrdup(cxt, resource);
	resource = scan->resource;
	scan->hot = hot;
	scan->verbose = verbose;
	scan->commit = commit;
	scan->job_id = job_id;
	scan->progress = -1;
	/* the scan outlives the transaction that looked its resource up */
	scan->res = res ? billy_resource_copy(res, cxt) : NULL;

	PG_TRY();
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		char	   *token = billy_load_token(scan->org, &api_url);

		scan->token = token;
		scan->base_url = pstrdup(billy_effective_api_url(api_url));
		MemoryContextSwitchTo(old);

		begin_run(scan);
		scan->progress = billy_progress_begin(scan->org, resource, hot ? "hot" : "full");
		if (scan->res == NULL)
			sync_organization(scan);
		else
			run_scan(scan);
		end_run(scan, NULL, NULL);
		if (scan->locked)
			release_sync_lock(scan->org, resource);
		scan_commit(scan);
		billy_breaker_record(scan->org, true);
		if (scan->leftover > 0)
			ereport(WARNING,
					(errmsg("billy: %lld %s of organization \"%s\" missing from the scan were not looked up yet",
							(long long) scan->leftover, resource, scan->org),
					 errhint("billy.sync_verify_limit bounds the look-ups per scan; the next scan goes on.")));
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		const char *cause;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		cause = error_cause(scan, edata);
		billy_progress_end(scan->progress);
		scan->progress = -1;
		if (scan->api_failure || ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_CONNECTION_EXCEPTION)
			billy_breaker_record(scan->org, false);
		if (scan->token)
			explicit_bzero((char *) scan->token, strlen(scan->token));

		/* in the worker, record the failure before the job's error handling */
		if (commit == BILLY_COMMIT_WORKER && scan->run_id != 0)
		{
			billy_job_abort_and_continue();
			end_run(scan, edata, cause);
			release_sync_lock(scan->org, resource);
			billy_job_commit_and_continue();
		}
		/*
		 * The scan's memory (edata among it) goes with the transaction the
		 * error aborts: the worker's current one (a page commit replaced the
		 * one the job began in), or billy.sync_now's (sub)transaction.
		 * ReThrowError copies edata before that.
		 */
		MemoryContextSwitchTo(commit == BILLY_COMMIT_WORKER ? CurTransactionContext : caller);
		MemoryContextSetParent(cxt, CurTransactionContext);
		ReThrowError(edata);
	}
	PG_END_TRY();

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

	/*
	 * Back to a context that is alive: in the worker the first page commit
	 * ended the transaction the caller's context belonged to (PostgreSQL 15
	 * deletes it; that its memory usually comes back as the next
	 * transaction's context is luck, not a promise), so the current
	 * transaction's; inline nothing was committed and the caller's is alive.
	 */
	MemoryContextSwitchTo(commit == BILLY_COMMIT_WORKER ? CurTransactionContext : caller);
	MemoryContextDelete(cxt);
}

