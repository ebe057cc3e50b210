/*-------------------------------------------------------------------------
 *
 * sync.c
 *	  The sync engine: Billy's resources mirrored into billy's tables by
 *	  full paged scans that write only what changed.
 *
 * Billy has no updatedTime and no change feed, so a sync reads every page of
 * a resource.  What makes that cheap:
 *
 *	- the mirror's content hashes of the resource are loaded once into a hash
 *	  table; each record on a page is scanned (pagescan.c) and its hash
 *	  looked up: an unchanged record costs nothing more, writes nothing;
 *	- the changed records of a page are parsed into one jsonb array and
 *	  stored by one SQL function per resource (billy._apply_<resource>),
 *	  which upserts them, replaces their children and logs the changes;
 *	- once page 1 tells the page count, the other pages are fetched
 *	  billy.sync_concurrency at a time (curl multi, http.c) and processed as
 *	  they arrive.
 *
 * Correctness after failures:
 *
 *	- in the worker each page commits on its own, so a failure keeps what
 *	  was synced; inline (billy.sync_now) the caller's transaction does;
 *	- only a complete scan (every page read) decides deletions, and a record
 *	  missing from it is first looked up on its own (GET /<resource>/<id>):
 *	  records shifted between pages by concurrent changes upstream are found
 *	  again, not deleted; deletions set deleted_at, never delete rows;
 *	- a record seen twice (pages shifting the other way) is written once;
 *	- "running" is committed before a scan starts, so a crash leaves a trace
 *	  that the next scan of the resource closes;
 *	- one scan per organization and resource at a time (advisory lock).
 *
 * A hot scan reads only unpaid and draft documents (isPaid=false) between
 * full sweeps; mirror rows that were unpaid and are missing from it (paid
 * since, or deleted) are looked up on their own.
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
#include "sqlexec.h"
#include "sync.h"

PG_FUNCTION_INFO_V1(billy_sync_now);

#define HOT_CHECK_INTERVAL_MS (30 * 1000)
#define FORGET_INTERVAL_MS (60 * 60 * 1000)

/* settings (sync_define_settings) */
int			billy_sync_concurrency = 4;
int			billy_sync_page_size = 1000;
int			billy_sync_verify_limit = 1000;
int			billy_hot_sync_interval = 300;
int			billy_changes_retention_days = 90;

static long hot_check_interval_ms(void);
static bool queue_hot_scans(void);
static long forget_interval_ms(void);
static bool forget_old_changes(void);

/* sync_define_settings: how a scan runs, how often hot scans do, what is kept */
static void
sync_define_settings(void)
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

typedef struct SyncResource
{
	const char *name;			/* Billy's plural: list root and path */
	const char *singular;		/* root of a single-record answer */
	const char *table;			/* billy.<table> */
	const char *apply;			/* billy._apply_<...> */
	const char *include;		/* embedded children, or NULL */
	const char *sort;			/* sortProperty, or NULL for Billy's order */
	const char *hot_filter;		/* query of a hot scan, or NULL: no hot scans */
	const char *hot_where;		/* the mirror's rows a hot scan covers */
} SyncResource;

static const SyncResource resources[] = {
	{"accounts", "account", "accounts", "billy._apply_accounts", NULL, NULL, NULL, NULL},
	{"taxRates", "taxRate", "tax_rates", "billy._apply_tax_rates", NULL, NULL, NULL, NULL},
	{"salesTaxRulesets", "salesTaxRuleset", "sales_tax_rulesets", "billy._apply_sales_tax_rulesets",
	"salesTaxRuleset.rules:embed", NULL, NULL, NULL},
	{"salesTaxReturns", "salesTaxReturn", "sales_tax_returns", "billy._apply_sales_tax_returns",
	NULL, NULL, NULL, NULL},
	{"contacts", "contact", "contacts", "billy._apply_contacts",
	"contact.contactPersons:embed", NULL, NULL, NULL},
	{"products", "product", "products", "billy._apply_products",
	"product.prices:embed", NULL, NULL, NULL},
	{"invoices", "invoice", "invoices", "billy._apply_invoices",
		"invoice.lines:embed,invoice.balanceModifiers:embed", "createdTime",
	"isPaid=false", "is_paid IS NOT TRUE"},
	{"bills", "bill", "bills", "billy._apply_bills",
		"bill.lines:embed,bill.balanceModifiers:embed", "createdTime",
	"isPaid=false", "is_paid IS NOT TRUE"},
	{"bankPayments", "bankPayment", "bank_payments", "billy._apply_bank_payments",
	"bankPayment.associations:embed", NULL, NULL, NULL},
};

/* what the mirror holds for one record of the resource being scanned */
typedef struct KnownEntry
{
	char		id[BILLY_MAX_ID];	/* hash key */
	uint8		hash[BILLY_HASH_BYTES];
	bool		stored;			/* in the mirror (or written by this scan) */
	bool		seen;			/* found by this scan */
	int			pending_page;	/* the page whose batch holds it, or 0 */
	int			pending_index;
} KnownEntry;

typedef struct SyncScan
{
	const SyncResource *res;
	const char *org;
	const char *resource;		/* the name asked for ("organization" too) */
	const char *base_url;
	const char *token;
	bool		hot;
	bool		verbose;		/* NOTICE progress (inline) */
	BillyCommitMode commit;
	int64		job_id;
	int64		run_id;
	HTAB	   *known;
	MemoryContext cxt;			/* lives as long as the scan */
	MemoryContext page_cxt;		/* reset for every page */
	int			progress;
	int			pages_done;
	int			page_count;
	int			requests;
	int64		bytes;
	int64		rows_seen;
	int64		inserted;
	int64		updated;
	int64		deleted;
	int64		verified;
	int64		leftover;		/* deletion candidates not verified */
	bool		complete;
	bool		api_failure;	/* the failure, if any, was Billy's */
	const char *cause;			/* its short cause, when known */
	bool		locked;
	/* the page being processed */
	int			batch_page;
	/* rows written since the statistics were refreshed, and when to again */
	int64		written_since_analyze;
	int64		analyze_after;
} SyncScan;

static const SyncResource *
find_resource(const char *name)
{
	for (int i = 0; i < lengthof(resources); i++)
		if (strcmp(resources[i].name, name) == 0)
			return &resources[i];
	return NULL;
}

/*
 * billy_sync_resource tells other concerns (writes) how the sync reads and
 * stores a resource: its singular root, its apply function and includes.
 * Returns false for a name the sync does not mirror.
 */
bool
billy_sync_resource(const char *name, const char **singular, const char **apply,
					const char **include)
{
	const SyncResource *res = find_resource(name);

	if (res == NULL)
		return false;
	*singular = res->singular;
	*apply = res->apply;
	*include = res->include;
	return true;
}

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

/* load_known reads the mirror's ids and hashes of the resource */
static void
load_known(SyncScan *scan)
{
	HASHCTL		ctl;
	Portal		portal;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(scan->org)};
	char	   *sql;
	MemoryContext old;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = BILLY_MAX_ID;
	ctl.entrysize = sizeof(KnownEntry);
	ctl.hcxt = scan->cxt;
	scan->known = hash_create("billy sync known records", 4096, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	sql = psprintf("SELECT id, content_hash FROM billy.%s "
				   "WHERE organization_id OPERATOR(pg_catalog.=) $1 AND deleted_at IS NULL%s%s",
				   scan->res->table,
				   scan->hot ? " AND " : "", scan->hot ? scan->res->hot_where : "");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	portal = SPI_cursor_open_with_args(NULL, sql, 1, types, values, NULL, true, 0);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		old = MemoryContextSwitchTo(scan->cxt);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			bool		isnull;
			char	   *id = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);
			Datum		h = SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull);
			KnownEntry *e;
			char		key[BILLY_MAX_ID] = {0};

			if (id == NULL || strlen(id) >= BILLY_MAX_ID)
				continue;
			strlcpy(key, id, BILLY_MAX_ID);
			e = hash_search(scan->known, key, HASH_ENTER, NULL);
			e->stored = true;
			e->seen = false;
			e->pending_page = 0;
			memset(e->hash, 0, BILLY_HASH_BYTES);
			if (!isnull)
			{
				bytea	   *b = DatumGetByteaPP(h);

				if (VARSIZE_ANY_EXHDR(b) == BILLY_HASH_BYTES)
					memcpy(e->hash, VARDATA_ANY(b), BILLY_HASH_BYTES);
			}
		}
		MemoryContextSwitchTo(old);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
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
	return p.data;
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

	scan.res = find_resource(resource);
	if (scan.res == NULL)
		return NULL;
	return list_path(&scan, page);
}

/* record_path is the path of one record, its children embedded */
static char *
record_path(const SyncResource *res, const char *id)
{
	StringInfoData p;

	initStringInfo(&p);
	appendStringInfo(&p, "/%s/", res->name);
	for (const char *c = id; *c; c++)
	{
		if (isalnum((unsigned char) *c) || *c == '-' || *c == '_' || *c == '.' || *c == '~')
			appendStringInfoChar(&p, *c);
		else
			appendStringInfo(&p, "%%%02X", (unsigned char) *c);
	}
	if (res->include)
		appendStringInfo(&p, "?include=%s", res->include);
	return p.data;
}

/*
 * fail_request raises a failed request's error, noting that the failure
 * was Billy's (for the circuit breaker).
 */
static void
fail_request(SyncScan *scan, BillyHttpRequest *req)
{
	BillyHttpError err;

	billy_http_describe(req, &err);
	scan->api_failure = true;
	scan->cause = err.cause;
	billy_http_raise(req);
}

/*
 * apply_records stores changed records (of a page, or looked up one by one):
 * one jsonb array, one call of the resource's apply function, as the
 * extension owner.  run_id 0 stores them outside any sync run.
 */
static void
apply_records(const SyncResource *res, const char *org, int64 run_id,
			  BillyRecord **recs, int n, int64 *inserted, int64 *updated)
{
	StringInfoData text;
	Datum	   *hashes;
	ArrayType  *harr;
	Oid			types[4] = {TEXTOID, INT8OID, JSONBOID, BYTEAARRAYOID};
	Datum		values[4];
	Datum		result;
	bool		isnull;
	BillyOwner	owner;
	char	   *sql;
	int			kept = 0;

	initStringInfo(&text);
	appendStringInfoChar(&text, '[');
	hashes = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
	{
		bytea	   *h;

		if (recs[i] == NULL)
			continue;			/* superseded by a later copy on the page */
		if (kept > 0)
			appendStringInfoChar(&text, ',');
		appendBinaryStringInfo(&text, recs[i]->text, recs[i]->len);
		h = palloc(VARHDRSZ + BILLY_HASH_BYTES);
		SET_VARSIZE(h, VARHDRSZ + BILLY_HASH_BYTES);
		memcpy(VARDATA(h), recs[i]->hash, BILLY_HASH_BYTES);
		hashes[kept++] = PointerGetDatum(h);
	}
	appendStringInfoChar(&text, ']');
	if (kept == 0)
		return;

	harr = construct_array(hashes, kept, BYTEAOID, -1, false, TYPALIGN_INT);
	values[0] = CStringGetTextDatum(org);
	values[1] = Int64GetDatum(run_id);
	values[2] = PointerGetDatum(billy_jsonb_parse(text.data, text.len,
												  psprintf("the changed %s of a page", res->name)));
	values[3] = PointerGetDatum(harr);
	sql = psprintf("SELECT %s($1, $2, $3, $4)", res->apply);

	billy_become_owner(&owner);
	result = billy_sql_datum(sql, 4, types, values, run_id ? NULL : " n  ", &isnull);
	billy_end_owner(&owner);

	if (!isnull)
	{
		ArrayType  *counts = DatumGetArrayTypeP(result);
		Datum	   *elems;
		bool	   *nulls;
		int			nelems;

		deconstruct_array(counts, INT4OID, 4, true, TYPALIGN_INT, &elems, &nulls, &nelems);
		if (nelems == 2)
		{
			*inserted += DatumGetInt32(elems[0]);
			*updated += DatumGetInt32(elems[1]);
		}
	}
}

/* notify tells listeners (LISTEN billy_changes) what a commit changed */
static void
notify_changes(const SyncResource *res, const char *org, int64 run_id,
			   int64 inserted, int64 updated, int64 deleted)
{
	StringInfoData payload;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	if (inserted + updated + deleted == 0)
		return;
	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"organization_id\":");
	escape_json(&payload, org);
	appendStringInfoString(&payload, ",\"resource\":");
	escape_json(&payload, res->name);
	appendStringInfo(&payload, ",\"inserted\":%lld,\"updated\":%lld,\"deleted\":%lld,\"sync_run_id\":",
					 (long long) inserted, (long long) updated, (long long) deleted);
	if (run_id != 0)
		appendStringInfo(&payload, "%lld}", (long long) run_id);
	else
		appendStringInfoString(&payload, "null}");
	values[0] = CStringGetTextDatum(payload.data);
	billy_sql_exec("SELECT pg_catalog.pg_notify('billy_changes', $1)", 1, types, values, NULL);
}

/*
 * refresh_statistics: the scan has written as many rows as the resource had
 * (at least SYNC_ANALYZE_MIN): billy._sync_analyze refreshes the statistics
 * of the tables it writes, so the plans of the apply and trigger functions
 * made for a near-empty mirror do not stay (see its comment).  Doubling each
 * time keeps it to O(log n) calls per first sync and none in a resync that
 * changes little.
 */
#define SYNC_ANALYZE_MIN 1000
static void
refresh_statistics(SyncScan *scan)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	BillyOwner	owner;

	values[0] = CStringGetTextDatum(scan->res->name);
	billy_become_owner(&owner);
	billy_sql_exec("SELECT billy._sync_analyze($1)", 1, types, values, NULL);
	billy_end_owner(&owner);
	scan->analyze_after = Max(SYNC_ANALYZE_MIN, (int64) hash_get_num_entries(scan->known));
	scan->written_since_analyze = 0;
}

/*
 * process_records compares a page's records with the mirror and stores the
 * changed ones.  A record seen twice on one page is stored once (its last
 * copy); one seen again on a later page is compared with what was stored.
 */
static void
process_records(SyncScan *scan, BillyPage *page, int page_no)
{
	BillyRecord **changed = palloc(sizeof(BillyRecord *) * Max(page->nrecords, 1));
	int			nchanged = 0;
	int64		before_ins = scan->inserted;
	int64		before_upd = scan->updated;

	for (int i = 0; i < page->nrecords; i++)
	{
		BillyRecord *rec = &page->records[i];
		KnownEntry *e;
		bool		found;

		e = hash_search(scan->known, rec->id, HASH_ENTER, &found);
		if (!found)
		{
			e->stored = false;
			e->seen = false;
			e->pending_page = 0;
		}
		if (!e->seen)
			scan->rows_seen++;
		e->seen = true;
		if (e->pending_page == page_no)
		{
			/* an earlier copy on this page: this one wins */
			changed[e->pending_index] = NULL;
		}
		else if (e->stored && memcmp(e->hash, rec->hash, BILLY_HASH_BYTES) == 0)
			continue;
		memcpy(e->hash, rec->hash, BILLY_HASH_BYTES);
		e->stored = true;
		e->pending_page = page_no;
		e->pending_index = nchanged;
		changed[nchanged++] = rec;
	}
	if (nchanged > 0)
	{
		apply_records(scan->res, scan->org, scan->run_id, changed, nchanged,
					  &scan->inserted, &scan->updated);
		notify_changes(scan->res, scan->org, scan->run_id,
					   scan->inserted - before_ins, scan->updated - before_upd, 0);
		scan->written_since_analyze += nchanged;
		if (scan->written_since_analyze >= scan->analyze_after)
			refresh_statistics(scan);
	}
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
		fail_request(scan, req);
	checked_page(scan, req, scan->res->name, &page);
	process_records(scan, &page, page_no);

	if (page.page_count > scan->page_count)
		scan->page_count = page.page_count;
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
 * fetch_pages fetches pages first..last, sync_concurrency at a time.
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
		reqs[i]->arg = (void *) (intptr_t) (first + i);
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

/* what billy_sync_refresh_records keeps while its requests run */
typedef struct RefreshState
{
	BillyRefresh *r;
	const SyncResource *res;
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
			rec->text = pnstrdup(rec->text, rec->len);
			if (r->keep_json)
				r->records[i] = billy_jsonb_parse(rec->text, rec->len, "a record Billy returned");
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

/* ids_array makes a text[] of n C strings */
static Datum
ids_array(char **ids, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(ids[i]);
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * load_hashes reads the mirror's content hashes of the given records (a
 * text[] of ids) into a hash table of KnownEntry in mcxt, as the owner.
 */
static HTAB *
load_hashes(const SyncResource *res, const char *org, Datum ids, long nids, MemoryContext mcxt)
{
	HASHCTL		ctl;
	HTAB	   *known;
	Oid			types[2] = {TEXTOID, TEXTARRAYOID};
	Datum		values[2];
	BillyOwner	owner;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = BILLY_MAX_ID;
	ctl.entrysize = sizeof(KnownEntry);
	ctl.hcxt = mcxt;
	known = hash_create("billy looked-up records", Max(nids, 1), &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	values[0] = CStringGetTextDatum(org);
	values[1] = ids;
	billy_become_owner(&owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	if (SPI_execute_with_args(psprintf("SELECT id, content_hash FROM billy.%s "
									   "WHERE organization_id OPERATOR(pg_catalog.=) $1 "
									   "AND id OPERATOR(pg_catalog.=) ANY ($2) AND deleted_at IS NULL",
									   res->table),
							  2, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "billy: could not read the mirror's hashes");
	for (uint64 k = 0; k < SPI_processed; k++)
	{
		char	   *id = SPI_getvalue(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 1);
		bool		isnull;
		Datum		h = SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 2, &isnull);
		KnownEntry *e;

		if (id == NULL || strlen(id) >= BILLY_MAX_ID || isnull ||
			VARSIZE_ANY_EXHDR(DatumGetByteaPP(h)) != BILLY_HASH_BYTES)
			continue;
		e = hash_search(known, id, HASH_ENTER, NULL);
		memcpy(e->hash, VARDATA_ANY(DatumGetByteaPP(h)), BILLY_HASH_BYTES);
	}
	SPI_finish();
	billy_end_owner(&owner);
	return known;
}

/*
 * confirm_records sets confirmed_at of records found unchanged upstream
 * (looked up on their own, or in a filtered list), as the owner.
 */
static void
confirm_records(const SyncResource *res, const char *org, Datum ids)
{
	Oid			types[2] = {TEXTOID, TEXTARRAYOID};
	Datum		values[2];
	BillyOwner	owner;

	values[0] = CStringGetTextDatum(org);
	values[1] = ids;
	billy_become_owner(&owner);
	billy_sql_exec(psprintf("UPDATE billy.%s SET confirmed_at = pg_catalog.now() "
							"WHERE organization_id OPERATOR(pg_catalog.=) $1 "
							"AND id OPERATOR(pg_catalog.=) ANY ($2) AND deleted_at IS NULL",
							res->table),
				   2, types, values, NULL);
	billy_end_owner(&owner);
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
	const SyncResource *res = find_resource(r->resource);
	RefreshState rs = {0};
	BillyHttpRequest **reqs;
	char	   *api_url = NULL;
	char	   *volatile token = NULL;
	const char *base_url = r->base_url;
	BillyOwner	owner;
	int			n = r->nids;

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
	rs.known = load_hashes(res, r->org, ids_array(r->ids, n), n, CurrentMemoryContext);

	if (base_url == NULL)
	{
		token = billy_load_token(r->org, &api_url);
		base_url = billy_effective_api_url(api_url);
	}
	reqs = palloc(sizeof(BillyHttpRequest *) * n);
	for (int i = 0; i < n; i++)
	{
		reqs[i] = billy_http_request_new(BILLY_GET, base_url, record_path(res, r->ids[i]),
										 token ? token : r->token);
		reqs[i]->arg = (void *) (intptr_t) i;
		reqs[i]->retryable = r->retry;
		reqs[i]->timeout_ms = r->timeout_ms;
	}
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

		apply_records(res, r->org, r->run_id, rs.changed, rs.nchanged, &r->inserted, &r->updated);
		notify_changes(res, r->org, r->run_id, r->inserted - before_ins, r->updated - before_upd, 0);
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
		dvalues[3] = ids_array(rs.gone, rs.ngone);
		billy_become_owner(&owner);
		d = billy_sql_datum("SELECT billy._mark_deleted($1, $2, $3, $4)", 4, dtypes, dvalues,
							r->run_id ? NULL : "  n ", &isnull);
		billy_end_owner(&owner);
		if (!isnull)
		{
			r->deleted += DatumGetInt32(d);
			notify_changes(res, r->org, r->run_id, 0, 0, DatumGetInt32(d));
		}
	}
	if (r->confirm && rs.nunchanged > 0)
		confirm_records(res, r->org, ids_array(rs.unchanged, rs.nunchanged));
}

/* what billy_sync_refresh_list keeps while its pages arrive */
typedef struct ListRefreshState
{
	BillyRefresh *r;
	const SyncResource *res;
	int			page_count;
	List	   *seen;			/* ids the list held */
	MemoryContext cxt;			/* the caller's: seen lives there */
	MemoryContext page_cxt;		/* reset for every page */
} ListRefreshState;

/*
 * list_refresh_page compares one page of a filtered list with the mirror:
 * the changed records are stored (apply_records), the unchanged ones
 * confirmed.  Failures are recorded, not raised.
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
		known = load_hashes(ls->res, r->org,
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

			apply_records(ls->res, r->org, r->run_id, changed, nchanged, &r->inserted, &r->updated);
			notify_changes(ls->res, r->org, r->run_id, r->inserted - before_ins, r->updated - before_upd, 0);
		}
		if (nunchanged > 0)
			confirm_records(ls->res, r->org, ids_array(unchanged, nunchanged));
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
	const SyncResource *res = find_resource(r->resource);
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
	for (const char *c = value; *c; c++)
	{
		if (isalnum((unsigned char) *c) || *c == '-' || *c == '_' || *c == '.' || *c == '~')
			appendStringInfoChar(&filter, *c);
		else
			appendStringInfo(&filter, "%%%02X", (unsigned char) *c);
	}
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
	const SyncResource *res = find_resource(resource);

	if (res == NULL || res->hot_where == NULL)
		return false;
	return !(is_paid_known && is_paid);
}

/* billy_sync_table is the mirror table of a resource (Billy's name), or NULL */
const char *
billy_sync_table(const char *resource)
{
	const SyncResource *res = find_resource(resource);

	return res ? res->table : NULL;
}

/* billy_sync_singular is the root of a single-record answer, or NULL */
const char *
billy_sync_singular(const char *resource)
{
	const SyncResource *res = find_resource(resource);

	return res ? res->singular : NULL;
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
	load_known(scan);
	scan->analyze_after = Max(SYNC_ANALYZE_MIN, (int64) hash_get_num_entries(scan->known));

	/*
	 * Page 1 tells how many pages there are.  When the mirror already holds
	 * the resource, its size predicts that, and the first pages are fetched
	 * together: a resync saves a round trip, a first sync asks page 1 alone.
	 */
	predicted = (int) Min((hash_get_num_entries(scan->known) + billy_sync_page_size - 1) /
						  billy_sync_page_size, INT_MAX);
	first_batch = Max(1, Min(billy_sync_concurrency, predicted));
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
	const SyncResource *res = NULL;

	/* bad arguments before the scan's memory exists, which they would leak */
	if (strcmp(resource, "organization") != 0)
	{
		res = find_resource(resource);
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
	scan->res = res;

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
			billy_sql_exec("SELECT billy._release_sync_lock($1, $2)", 2,
						   (Oid[]) {TEXTOID, TEXTOID},
						   (Datum[]) {CStringGetTextDatum(scan->org), CStringGetTextDatum(resource)},
						   NULL);
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
			billy_sql_exec("SELECT billy._release_sync_lock($1, $2)", 2,
						   (Oid[]) {TEXTOID, TEXTOID},
						   (Datum[]) {CStringGetTextDatum(scan->org), CStringGetTextDatum(resource)},
						   NULL);
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

/*
 * billy_sync_job is the handler of "sync" jobs: {"resource": ..., "mode":
 * "full"|"hot"}.  An open circuit breaker postpones the job instead.
 */
void
billy_sync_job(BillyJob *job)
{
	static const char *const names[] = {"resource", "mode"};
	char	   *values[2];
	TimestampTz retry_at = 0;

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
	billy_sync_one(job->organization_id, values[0],
				   values[1] != NULL && strcmp(values[1], "hot") == 0,
				   BILLY_COMMIT_WORKER, job->id, false, NULL);
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
