/*-------------------------------------------------------------------------
 *
 * cache_confirm.c
 *	  The read path's lower half: confirming rows with Billy on demand in
 *	  the fewest requests, shared by concurrent reads (singleflight).
 *	  cache_row.c reads a mirror row with its effective confirmation;
 *	  cache.c answers with what these find.
 *
 * Confirming, when a read wants a fresher answer than the mirror holds:
 *
 *	  unpaid set ......... one hot scan here (confirm_hot), a request per
 *						   page of the isPaid=false list, which confirms
 *						   every unpaid row at once
 *	  a list's stale rows  one GET each, or one scan of the whole list when
 *						   it has fewer pages than there are rows
 *						   (billy_cache_confirm_ids)
 *	  one row ............ one GET (billy_cache_fetch_one)
 *
 * Each is shared (singleflight): it takes a transaction-level advisory lock
 * (its own lock space) on (organization, resource, record or "#hot" or
 * "#full"); a read that finds it taken waits for the holder to commit and
 * reads what it stored.  GETs of the read path are bounded by
 * billy.read_through_timeout_ms and not retried; they go through
 * billy_sync_refresh_records (sync.c), the same path as the sync's, so a
 * later unchanged sync writes nothing; scans here are billy_sync_one in
 * the reader's transaction.  A confirmation carries the time it was made
 * (when the requests were sent), not the transaction's start.
 *
 * Billy unreachable, the breaker open, a read-only transaction or a spent
 * API budget are reasons, never errors: the read answers its copy with the
 * reason.  Only a miss (no copy) raises (billy_cache_fetch_one's
 * budget_raises).
 *
 * For the cache module (cache_refresh.c): settings
 * billy_cache_confirm_define_settings.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "breaker.h"
#include "budget.h"
#include "cache.h"
#include "freshness.h"
#include "organizations.h"
#include "resources.h"
#include "sqlexec.h"
#include "visibility.h"
#include "mirror/mirror.h"
#include "clock.h"

/* settings (billy_cache_confirm_define_settings) */
int			billy_read_through_timeout_ms = 3000;

/* billy_cache_confirm_define_settings defines the confirmations' settings */
void
billy_cache_confirm_define_settings(void)
{
	DefineCustomIntVariable("billy.read_through_timeout_ms",
							"Longest a read (billy.get_*) waits for Billy when it must ask: a miss, or max_age.",
							"One attempt, no retries; a failure answers the mirror's copy, flagged.",
							&billy_read_through_timeout_ms,
							3000, 100, 60000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/* billy_cache_org_access checks, on the slow paths, that the caller may see org and it is connected */
void
billy_cache_org_access(const char *org, bool *connected)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(org)};
	char	   *v;

	v = billy_sql_value("SELECT CASE WHEN NOT ((SELECT billy._sees_all()) OR $1 OPERATOR(pg_catalog.=) ANY (billy._visible_orgs())) "
						"THEN 'hidden' WHEN o.disconnected_at IS NULL THEN 'connected' ELSE 'disconnected' END "
						"FROM billy.organizations o WHERE o.id OPERATOR(pg_catalog.=) $1",
						1, types, values, NULL);
	if (v == NULL || strcmp(v, "hidden") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for organization \"%s\"", org),
				 errhint("An administrator can grant it with billy.grant_organization().")));
	*connected = strcmp(v, "connected") == 0;
}

/*
 * in_subtransaction runs fn(arg) in a subtransaction and returns NULL, or
 * the error it raised (rolled back; a cancel goes on up): a confirmation
 * that fails leaves the read to answer its copy.
 */
static ErrorData *
in_subtransaction(void (*fn) (void *), void *arg)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	ErrorData  *volatile failure = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(oldcxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (e->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(e);
		failure = e;
	}
	PG_END_TRY();
	CommandCounterIncrement();
	return failure;
}

static void
refresh_records_fn(void *arg)
{
	billy_sync_refresh_records((BillyRefresh *) arg);
}

/*
 * refresh_guarded runs billy_sync_refresh_records for a reader: a spent API
 * budget (SQLSTATE 53400, raised before a request leaves) becomes a reason
 * to answer the copy, not an error of the read.  Other errors go on.
 * Returns NULL or the budget's error.
 */
static ErrorData *
refresh_guarded(BillyRefresh *r)
{
	ErrorData  *e = in_subtransaction(refresh_records_fn, r);

	if (e && e->sqlerrcode != ERRCODE_CONFIGURATION_LIMIT_EXCEEDED)
		ReThrowError(e);
	return e;
}

/*
 * billy_cache_fetch_one: one GET of a record, bounded by billy.read_through_timeout_ms,
 * stored as the sync stores it (unless the transaction is read-only).
 * Never raises for Billy's failures; says why in f->reason.  A spent API
 * budget raises (53400) with budget_raises: a miss, which has no copy to
 * answer.  A read that has a copy hears of it as the reason "budget_spent"
 * and answers the copy, whether the caller named max_age or not (one
 * behaviour, as for every other reason Billy could not be asked).
 */
void
billy_cache_fetch_one(const char *resource, const char *org, const char *id, BillyFetched *f, bool budget_raises)
{
	BillyRefresh r = {0};
	TimestampTz retry_at = 0;
	char	   *ids[1];
	bool		connected;

	memset(f, 0, sizeof(*f));
	f->outcome = BILLY_RECORD_FAILED;
	billy_cache_org_access(org, &connected);
	if (!connected)
	{
		f->reason = "not_connected";
		return;
	}
	if (billy_breaker_is_open(org, &retry_at))
	{
		f->reason = "breaker_open";
		return;
	}
	ids[0] = (char *) id;
	r.org = org;
	r.resource = resource;
	r.ids = ids;
	r.nids = 1;
	r.timeout_ms = billy_read_through_timeout_ms;
	r.retry = false;
	r.store = !XactReadOnly && !RecoveryInProgress();
	r.confirm = r.store;
	r.keep_json = true;
	{
		ErrorData  *spent = refresh_guarded(&r);

		if (spent && budget_raises)
			ReThrowError(spent);
		if (spent)
		{
			f->reason = "budget_spent";
			f->error.sqlerrcode = spent->sqlerrcode;
			f->error.message = spent->message;
			f->error.detail = spent->detail;
			return;
		}
	}
	f->called = true;
	f->outcome = r.outcomes[0];
	f->record = r.records[0];
	f->stored = r.store;
	if (f->outcome == BILLY_RECORD_FAILED)
	{
		f->error = r.error;
		f->reason = r.error.cause;
		/* a read's short timeout says little about Billy's health */
		if (strcmp(r.error.cause, "timeout") != 0)
			billy_breaker_record(org, false);
	}
	else
		billy_breaker_record(org, true);
}

/*
 * billy_cache_refresh_ids sets up a look-up of records one by one, stored as a sync
 * stores them and the unchanged ones confirmed (billy_sync_refresh_records):
 * the worker's refreshes (timeout_ms 0: billy.http_timeout_ms, retried)
 * and a read's confirmations (its own timeout, one attempt).
 */
void
billy_cache_refresh_ids(BillyRefresh *r, const char *org, const char *resource, char **ids, int n, int timeout_ms)
{
	r->org = org;
	r->resource = resource;
	r->ids = ids;
	r->nids = n;
	r->timeout_ms = timeout_ms;
	r->retry = timeout_ms == 0;
	r->store = true;
	r->confirm = true;
}

/* the advisory lock space of confirmations (SQL's advisory locks use 1 and 2) */
#define CONFIRM_LOCK_SPACE 0x4259

/*
 * billy_cache_singleflight takes the transaction-level lock of one confirmation (an
 * organization's record, or "#hot" for its unpaid set).  A read that finds
 * it held waits, up to billy.read_through_timeout_ms, for the holder to
 * commit: then the confirmation is in the mirror and the caller reads it
 * again (billy_cache_read_row with latest) instead of asking Billy itself.  Returns
 * false when the wait ran out; *waited says whether it waited.
 */
bool
billy_cache_singleflight(const char *org, const char *resource, const char *what, bool *waited)
{
	LOCKTAG		tag;
	uint32		k1 = hash_bytes((const unsigned char *) org, strlen(org));
	uint32		k2 = hash_combine(hash_bytes((const unsigned char *) resource, strlen(resource)),
								  hash_bytes((const unsigned char *) what, strlen(what)));
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), billy_read_through_timeout_ms);

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, k1, k2, CONFIRM_LOCK_SPACE);
	*waited = false;
	for (;;)
	{
		if (LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
			return true;
		*waited = true;
		if (GetCurrentTimestamp() >= deadline)
			return false;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 5, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* hot_confirmed_at: when the last completed scan confirmed org's unpaid set (latest data) */
static TimestampTz
hot_confirmed_at(const char *org, const char *resource)
{
	TimestampTz complete;
	TimestampTz hot;

	CommandCounterIncrement();
	PushActiveSnapshot(GetLatestSnapshot());
	billy_cache_scan_times(org, resource, true, &complete, &hot);
	PopActiveSnapshot();
	return Max(complete, hot);
}

typedef struct ScanHere
{
	const char *org;
	const char *resource;
	bool		hot;
	BillySyncResult res;
} ScanHere;

static void
scan_here_fn(void *arg)
{
	ScanHere   *sh = arg;
	bool		was = billy_budget_charge_scans(true);

	/* a read's scan is charged to the reader's share of the API budget */
	PG_TRY();
	{
		billy_sync_one(sh->org, sh->resource, sh->hot, BILLY_COMMIT_NONE, 0, false, &sh->res);
	}
	PG_FINALLY();
	{
		billy_budget_charge_scans(was);
	}
	PG_END_TRY();
}

/*
 * run_scan_here runs one scan of a resource in this transaction (a hot
 * scan: the unpaid list, a request per page, the unpaid rows it no longer
 * holds looked up; a full one: every page), in a subtransaction so that a
 * failure leaves the read to answer its copy.  Returns NULL or the reason
 * it failed; *requests gets the requests it made.
 */
static const char *
run_scan_here(const char *org, const char *resource, bool hot, int64 *requests, char **error)
{
	ScanHere	sh = {org, resource, hot, {0}};
	const char *reason = NULL;
	ErrorData  *e = in_subtransaction(scan_here_fn, &sh);

	if (e)
	{
		reason = e->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ? "scan_running" :
			e->sqlerrcode == ERRCODE_CONFIGURATION_LIMIT_EXCEEDED ? "budget_spent" : "scan_failed";
		if (error)
			*error = e->message;
	}
	if (reason == NULL && sh.res.run_id != 0)
	{
		BillyOwner	owner;
		bool		isnull;
		Datum		d;
		Oid			types[1] = {INT8OID};
		Datum		values[1] = {Int64GetDatum(sh.res.run_id)};

		billy_become_owner(&owner);
		d = billy_sql_datum("SELECT requests::pg_catalog.int8 FROM billy.sync_runs WHERE id OPERATOR(pg_catalog.=) $1",
							1, types, values, NULL, &isnull);
		billy_end_owner(&owner);
		*requests += isnull ? sh.res.pages : DatumGetInt64(d);
	}
	return reason;
}

/*
 * billy_cache_confirm_unpaid makes sure org's unpaid invoices (or bills) were confirmed
 * within window_us: if the last completed scan is older, one hot scan now,
 * shared with every concurrent read that wants the same (they wait for it
 * and read its result).  Returns NULL when they are confirmed, else why not.
 */
const char *
billy_cache_confirm_unpaid(const char *org, const char *resource, int64 window_us, int64 *requests, char **error)
{
	bool		waited;
	bool		connected;
	TimestampTz retry_at;
	TimestampTz at;

	if (!billy_cache_singleflight(org, resource, "#hot", &waited))
		return "confirmation_pending";
	at = hot_confirmed_at(org, resource);
	if (at != 0 && billy_cache_age_us(at) < window_us)
		return NULL;
	billy_cache_org_access(org, &connected);
	if (!connected)
		return "not_connected";
	if (billy_breaker_is_open(org, &retry_at))
		return "breaker_open";
	if (XactReadOnly || RecoveryInProgress())
		return "read_only";
	return run_scan_here(org, resource, true, requests, error);
}

/* billy_cache_hot_window_us: the window of open and draft documents (what billy_cache_confirm_unpaid keeps) */
int64
billy_cache_hot_window_us(void)
{
	return Min(billy_cache_window_us("open", 0), billy_cache_window_us("draft", 0));
}

/*
 * billy_cache_confirm_ids confirms a list's stale rows of org in the
 * fewest requests: the unpaid ones by one hot scan (shared), the rest one
 * GET each, or one scan of the whole list when it has fewer pages than
 * there are rows (shared).  *api_calls gets the requests made.  Returns
 * NULL when they were confirmed, else why not.
 */
const char *
billy_cache_confirm_ids(const char *org, const char *resource, char **given, int n, int64 *api_calls)
{
	char	  **ids = palloc(sizeof(char *) * Max(n, 1));
	int			nids = 0;
	const char *reason = NULL;
	const char *hot_reason = NULL;
	bool		hot_tried = false;
	bool		connected;
	TimestampTz retry_at;

	/* the unpaid ones by one hot scan; the rest below */
	for (int i = 0; i < n; i++)
	{
		BillyMirrorRow row;

		billy_cache_read_row(resource, org, given[i], &row, false);
		if (row.found && row.hot)
		{
			if (!hot_tried)
				hot_reason = billy_cache_confirm_unpaid(org, resource, billy_cache_hot_window_us(), api_calls, NULL);
			hot_tried = true;
			if (hot_reason == NULL)
				continue;
		}
		ids[nids++] = given[i];
	}
	if (nids == 0)
		return NULL;
	billy_cache_org_access(org, &connected);
	if (!connected)
		reason = "not_connected";
	else if (billy_breaker_is_open(org, &retry_at))
		reason = "breaker_open";
	else if (XactReadOnly || RecoveryInProgress())
		reason = "read_only";
	else
	{
		bool		isnull;
		Datum		pages;
		bool		waited;
		Oid			types[1] = {TEXTOID};
		Datum		values[1] = {CStringGetTextDatum(org)};

		pages = billy_sql_datum(psprintf("SELECT pg_catalog.ceil(pg_catalog.count(*)::pg_catalog.numeric "
										 "OPERATOR(pg_catalog./) %d)::pg_catalog.int8 FROM billy.%s "
										 "WHERE organization_id OPERATOR(pg_catalog.=) $1 AND deleted_at IS NULL",
										 billy_sync_page_size, billy_sync_table(resource)),
								1, types, values, NULL, &isnull);
		if (!isnull && Max(DatumGetInt64(pages), 1) < nids)
		{
			/* fewer pages than rows: one scan of the whole list, shared */
			if (!billy_cache_singleflight(org, resource, "#full", &waited))
				reason = "confirmation_pending";
			else if (!waited)
				reason = run_scan_here(org, resource, false, api_calls, NULL);
		}
		else
		{
			BillyRefresh r = {0};
			bool		spent;

			billy_cache_refresh_ids(&r, org, resource, ids, nids, billy_read_through_timeout_ms);
			spent = refresh_guarded(&r) != NULL;
			CommandCounterIncrement();
			*api_calls += r.requests;
			if (spent)
				reason = "budget_spent";
			else if (r.failed > 0)
			{
				reason = r.error.cause;
				if (strcmp(r.error.cause, "timeout") != 0)
					billy_breaker_record(org, false);
			}
			else
				billy_breaker_record(org, true);
		}
	}
	return reason;
}
