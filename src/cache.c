/*-------------------------------------------------------------------------
 *
 * cache.c
 *	  Reads that never wait, and say truly how fresh they are: billy.get_*
 *	  answers from the mirror with its freshness, confirms stale rows with
 *	  Billy first when the caller asks (max_age, billy.read_confirm), counts
 *	  every read in shared memory, and asks the worker to refresh what went
 *	  stale; the worker flushes the counts and refreshes hot rows ahead of
 *	  expiry.
 *
 * The mirror is the cache.  A row is fresh while its age is below its
 * window, and an answer says fresh only then:
 *
 *	  age = now - effective confirmation
 *	  effective confirmation = greatest(row.confirmed_at,
 *							   the last complete scan of its resource,
 *							   the last hot scan, if the row is in the hot set)
 *	  window = the caller's max_age, else billy.freshness_window(class, change)
 *
 * (billy.effective_confirmed_at, the one place that formula is written).
 * The window comes from the row itself: its class (billy_cache_record_state:
 * open, draft, paid, ...), shortened when billy saw it change within the
 * hour, by the rules of billy.ttl_rules, which each backend keeps a copy of
 * (dropped by the table's relcache invalidation).  No per-row policy is
 * looked up, so a row never read before costs what a warm one does.
 *
 * A read:
 *
 *	  in the mirror, fresh ..................... answered, counted "fresh"
 *	  in the mirror, stale ..................... answered, counted "stale",
 *												 refresh wanted (worker woken)
 *	  stale, and the caller confirms ........... unpaid set: one hot scan here
 *												 (confirm_hot); else one GET;
 *												 on failure the copy, flagged
 *	  not in the mirror ........................ one GET now (the miss), stored
 *												 as the sync stores it, answered
 *	  Billy unreachable (breaker open, failure)  the copy, flagged; an error only
 *												 when there is no copy
 *
 * Confirmations are shared (singleflight): each takes a transaction-level
 * advisory lock (its own lock space) on (organization, resource, record or
 * "#hot"); a read that finds it taken waits for the holder to commit and
 * reads what it stored.  GETs of the read path are bounded by
 * billy.read_through_timeout_ms and not retried; they go through
 * billy_sync_refresh_records (sync.c), the same path as the sync's, so a
 * later unchanged sync writes nothing; hot and full scans here are
 * billy_sync_one in the reader's transaction.
 *
 * Access counters (the pg_stat_statements pattern).  One shared hash table
 * of billy.cache_max_entries entries keyed by (organization, resource,
 * record id; the record id is empty for list reads and for the worker's
 * refresh calls), guarded by one LWLock (tranche "billy cache"):
 *
 *	- a read looks its entry up holding the lock SHARED and bumps the
 *	  counters under the entry's spinlock: readers never block each other;
 *	- a read that finds no entry retakes the lock EXCLUSIVE to create it; a
 *	  full table drops the count (counted in "dropped") and asks the worker
 *	  to flush early;
 *	- the worker's flush holds the lock EXCLUSIVE while it copies and zeroes
 *	  the counters (no spinlocks needed then), removes entries that saw
 *	  nothing since the previous flush, and writes the copy to
 *	  billy.cache_stats after releasing the lock.
 *
 * So a read writes no WAL: no row, no hint bit of ours.  Counts not yet
 * flushed when the server stops or crashes are lost; at most
 * billy.cache_flush_interval_ms of them, which only nudges refresh-ahead.
 *
 * The cache's clock (its "now" and ages, faster for benchmarks) is clock.c.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include <math.h>

#include "access/genam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "executor/tuptable.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/date.h"
#include "utils/inval.h"
#include "utils/acl.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/array.h"
#include "utils/datetime.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "breaker.h"
#include "budget.h"
#include "cache.h"
#include "freshness.h"
#include "http.h"
#include "jobs.h"
#include "json.h"
#include "module.h"
#include "organizations.h"
#include "pagescan.h"
#include "resources.h"
#include "sqlexec.h"
#include "mirror/mirror.h"
#include "visibility.h"

PG_FUNCTION_INFO_V1(billy_get);
PG_FUNCTION_INFO_V1(billy_effective_confirmed_at);
PG_FUNCTION_INFO_V1(billy_cache_counters);
PG_FUNCTION_INFO_V1(billy_cache_count_list);
PG_FUNCTION_INFO_V1(billy_cache_request_refresh);
PG_FUNCTION_INFO_V1(billy_warm_cache);
PG_FUNCTION_INFO_V1(billy_cache_confirming);
PG_FUNCTION_INFO_V1(billy_cache_confirm_hot);
PG_FUNCTION_INFO_V1(billy_cache_confirm_rows);

/* Billy's plural names are at most 31 characters (billy.resources) */
#define RESOURCE_LEN 32

/* the resources the read path serves: those of billy.resources with a read function */
typedef BillyResource CacheResource;

typedef struct CacheKey
{
	char		org[BILLY_MAX_ID];
	char		resource[RESOURCE_LEN];
	char		id[BILLY_MAX_ID];	/* empty: the resource as a whole */
} CacheKey;

typedef struct CacheEntry
{
	CacheKey	key;			/* hash key: must be first */
	slock_t		mutex;			/* guards the counters below */
	BillyCacheCounts counts;
	TimestampTz last_access;
	bool		refresh_wanted;
	bool		touched;		/* anything since the last flush */
} CacheEntry;

typedef struct CacheShared
{
	LWLock	   *lock;
	pg_atomic_uint64 dropped;	/* counts lost: the table was full */
	pg_atomic_uint32 flush_wanted;
} CacheShared;

static CacheShared *cache_shared = NULL;
static HTAB *cache_hash = NULL;

/* settings (billy_cache_define_settings) */
int			billy_read_through_timeout_ms = 3000;
bool		billy_read_confirm = false;
int			billy_cache_flush_interval_ms = 10000;
int			billy_cache_max_entries = 10000;

/*
 * cache_define_settings defines the cache's settings.  The size of the counters' table is fixed at server start, so it
 * exists only when billy is preloaded.
 */
static void
cache_define_settings(void)
{
	DefineCustomIntVariable("billy.read_through_timeout_ms",
							"Longest a read (billy.get_*) waits for Billy when it must ask: a miss, or max_age.",
							"One attempt, no retries; a failure answers the mirror's copy, flagged.",
							&billy_read_through_timeout_ms,
							3000, 100, 60000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("billy.read_confirm",
							 "Whether reads (billy.get_*, billy.list_*) confirm a stale row with Billy before answering.",
							 "Off: a stale row is answered at once, flagged fresh: false, and refreshed by the worker. On: it is confirmed first in the fewest requests, shared by concurrent reads, as when the caller passes max_age. billy.mcp turns it on for its tool calls.",
							 &billy_read_confirm,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("billy.cache_flush_interval_ms",
							"How often the worker flushes the read counters from shared memory and plans refreshes.",
							NULL,
							&billy_cache_flush_interval_ms,
							10000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("billy.cache_max_entries",
								"Rows whose read counters fit in shared memory between two flushes.",
								"When full, further counts are dropped (and logged) until the next flush.",
								&billy_cache_max_entries,
								10000, 100, 1000000,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
}

/* ------------------------------------------------------------------------
 * Shared memory
 * ------------------------------------------------------------------------
 */

/* cache_shmem_size: the counters' table */
static Size
cache_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(CacheShared)),
					hash_estimate_size(billy_cache_max_entries, sizeof(CacheEntry)));
}

/* cache_shmem_init runs in shmem_startup_hook, under AddinShmemInitLock */
static void
cache_shmem_init(LWLockPadded *locks)
{
	bool		found;
	HASHCTL		ctl;

	cache_shared = ShmemInitStruct("billy cache", sizeof(CacheShared), &found);
	if (!found)
	{
		memset(cache_shared, 0, sizeof(CacheShared));
		cache_shared->lock = &locks[0].lock;
		pg_atomic_init_u64(&cache_shared->dropped, 0);
		pg_atomic_init_u32(&cache_shared->flush_wanted, 0);
	}
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(CacheKey);
	ctl.entrysize = sizeof(CacheEntry);
	cache_hash = ShmemInitHash("billy cache counters", billy_cache_max_entries,
							   billy_cache_max_entries, &ctl, HASH_ELEM | HASH_BLOBS);
}

/* how often the cache's counters are flushed, on the cache's (test) clock */
static long
cache_interval_ms(void)
{
	return Max(10L, (long) (billy_cache_flush_interval_ms / billy_cache_rate()));
}

/*
 * cache_step flushes the read counters and plans refreshes when
 * billy.cache_flush_interval_ms has passed, or sooner when a read asked for
 * a refresh: a periodic step of the worker.  The counts it held are lost if
 * it fails.
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
	.shmem_size = cache_shmem_size,
	.lwlocks = 1,
	.shmem_init = cache_shmem_init,
	.jobs = cache_jobs,
	.periodic = cache_periodic,
};

static void
make_key(CacheKey *key, const char *org, const char *resource, const char *id)
{
	memset(key, 0, sizeof(CacheKey));
	strlcpy(key->org, org, sizeof(key->org));
	strlcpy(key->resource, resource, sizeof(key->resource));
	if (id)
		strlcpy(key->id, id, sizeof(key->id));
}

static void
add_counts(BillyCacheCounts *to, const BillyCacheCounts *from)
{
	to->reads += from->reads;
	to->fresh += from->fresh;
	to->stale += from->stale;
	to->misses += from->misses;
	to->refetches += from->refetches;
	to->api_calls += from->api_calls;
	to->refresh_calls += from->refresh_calls;
}

/*
 * billy_cache_count adds counts to an entry, creating it when needed, and
 * marks it wanted for refresh when asked.  Returns true when this call made
 * a refresh wanted that was not yet (the caller then wakes the worker).
 */
bool
billy_cache_count(const char *org, const char *resource, const char *id,
				  const BillyCacheCounts *counts, bool want_refresh)
{
	CacheKey	key;
	CacheEntry *e;
	bool		newly_wanted = false;
	TimestampTz now = GetCurrentTimestamp();

	if (cache_shared == NULL)
		return false;
	make_key(&key, org, resource, id);

	LWLockAcquire(cache_shared->lock, LW_SHARED);
	e = hash_search(cache_hash, &key, HASH_FIND, NULL);
	if (e == NULL)
	{
		bool		found;

		LWLockRelease(cache_shared->lock);
		LWLockAcquire(cache_shared->lock, LW_EXCLUSIVE);
		e = hash_search(cache_hash, &key, HASH_ENTER_NULL, &found);
		if (e == NULL)
		{
			LWLockRelease(cache_shared->lock);
			pg_atomic_fetch_add_u64(&cache_shared->dropped, 1);
			if (pg_atomic_exchange_u32(&cache_shared->flush_wanted, 1) == 0)
				billy_wake_worker();
			return false;
		}
		if (!found)
		{
			SpinLockInit(&e->mutex);
			memset(&e->counts, 0, sizeof(e->counts));
			e->last_access = 0;
			e->refresh_wanted = false;
			e->touched = false;
			if (hash_get_num_entries(cache_hash) >= billy_cache_max_entries * 9 / 10 &&
				pg_atomic_exchange_u32(&cache_shared->flush_wanted, 1) == 0)
				billy_wake_worker();
		}
	}
	SpinLockAcquire(&e->mutex);
	add_counts(&e->counts, counts);
	if (counts->reads > 0)
		e->last_access = now;
	e->touched = true;
	if (want_refresh && !e->refresh_wanted)
	{
		e->refresh_wanted = true;
		newly_wanted = true;
	}
	SpinLockRelease(&e->mutex);
	LWLockRelease(cache_shared->lock);
	/* the worker flushes soon to see it */
	if (newly_wanted)
		pg_atomic_write_u32(&cache_shared->flush_wanted, 1);
	return newly_wanted;
}

/*
 * billy_cache_drain copies every entry touched since the last flush,
 * zeroes it, and removes the entries nothing touched since (the flush).
 * Returns a palloc'd array; *n its length.
 */
BillyCacheDrained *
billy_cache_drain(int *n)
{
	HASH_SEQ_STATUS seq;
	CacheEntry *e;
	BillyCacheDrained *out;
	int			k = 0;

	*n = 0;
	if (cache_shared == NULL)
		return NULL;
	LWLockAcquire(cache_shared->lock, LW_EXCLUSIVE);
	out = palloc(sizeof(BillyCacheDrained) * Max(1, hash_get_num_entries(cache_hash)));
	hash_seq_init(&seq, cache_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (!e->touched)
		{
			hash_search(cache_hash, &e->key, HASH_REMOVE, NULL);
			continue;
		}
		strlcpy(out[k].org, e->key.org, sizeof(out[k].org));
		strlcpy(out[k].resource, e->key.resource, sizeof(out[k].resource));
		strlcpy(out[k].id, e->key.id, sizeof(out[k].id));
		out[k].counts = e->counts;
		out[k].last_access = e->last_access;
		out[k].refresh_wanted = e->refresh_wanted;
		k++;
		memset(&e->counts, 0, sizeof(e->counts));
		e->refresh_wanted = false;
		e->touched = false;
	}
	pg_atomic_write_u32(&cache_shared->flush_wanted, 0);
	LWLockRelease(cache_shared->lock);
	*n = k;
	return out;
}

/* billy_cache_flush_wanted says whether a reader asked for an early flush */
bool
billy_cache_flush_wanted(void)
{
	return cache_shared != NULL && pg_atomic_read_u32(&cache_shared->flush_wanted) != 0;
}

/* ------------------------------------------------------------------------
 * Freshness
 * ------------------------------------------------------------------------
 */

/*
 * billy_cache_effective_confirmed is when a mirror row was last known to
 * equal Billy's record: its own confirmation (written or looked up), the
 * last complete scan of its resource (which confirms every unchanged
 * record without writing it), and the last hot scan when the row is in the
 * hot set.  0 when nothing is known.
 */
TimestampTz
billy_cache_effective_confirmed(const char *resource, TimestampTz row_confirmed,
								bool is_paid_known, bool is_paid,
								TimestampTz complete_scan, TimestampTz hot_scan)
{
	TimestampTz result = row_confirmed;

	if (complete_scan > result)
		result = complete_scan;
	if (hot_scan > result && billy_sync_in_hot_set(resource, is_paid_known, is_paid))
		result = hot_scan;
	return result;
}

/*
 * billy_effective_confirmed_at: billy.effective_confirmed_at(resource text,
 * row_confirmed_at timestamptz, is_paid boolean, last_complete_scan_at
 * timestamptz, last_hot_scan_at timestamptz) RETURNS timestamptz
 */
Datum
billy_effective_confirmed_at(PG_FUNCTION_ARGS)
{
	char	   *resource;
	TimestampTz row = PG_ARGISNULL(1) ? 0 : PG_GETARG_TIMESTAMPTZ(1);
	TimestampTz complete = PG_ARGISNULL(3) ? 0 : PG_GETARG_TIMESTAMPTZ(3);
	TimestampTz hot = PG_ARGISNULL(4) ? 0 : PG_GETARG_TIMESTAMPTZ(4);
	TimestampTz result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("resource must not be null")));
	resource = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (billy_sync_table(resource) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown resource \"%s\"", resource),
				 errhint("Use Billy's plural name, e.g. invoices or bankPayments.")));
	result = billy_cache_effective_confirmed(resource, row, !PG_ARGISNULL(2),
											 PG_ARGISNULL(2) ? false : PG_GETARG_BOOL(2),
											 complete, hot);
	if (result == 0)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(result);
}

/* ------------------------------------------------------------------------
 * The read path
 * ------------------------------------------------------------------------
 */

/* what the mirror holds for one record */
typedef struct MirrorRow
{
	bool		found;
	Jsonb	   *raw;
	TimestampTz effective;		/* effective confirmation */
	bool		deleted;
	TimestampTz deleted_at;
	TimestampTz changed_at;		/* when billy last saw it change */
	bool		hot;			/* in the hot set: a hot scan confirms it */
} MirrorRow;

/* interval_us turns an interval into microseconds (a month is 30 days) */
static int64
interval_us(Interval *iv)
{
	return iv->time + (int64) iv->day * USECS_PER_DAY +
		(int64) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;
}

/*
 * lookup_row finds the row of billy.<table> with the given primary key
 * values by a direct index scan (a read is a handful of index probes, no
 * executor), and copies the named columns into the caller's memory.  The
 * caller checks privileges (read_row).  Returns false when there is none.
 */
static bool
lookup_row(Oid nsp, const char *table, int nkeys, const char *const *keys,
		   int ncols, const char *const *cols, Datum *out, bool *isnull)
{
	Oid			relid = get_relname_relid(table, nsp);
	Relation	rel;
	Relation	idx;
	IndexScanDesc scan;
	ScanKeyData skey[3];
	TupleTableSlot *slot;
	bool		found = false;

	if (!OidIsValid(relid))
		elog(ERROR, "billy: table billy.%s is missing", table);
	rel = table_open(relid, AccessShareLock);
	idx = index_open(RelationGetPrimaryKeyIndex(rel), AccessShareLock);
	for (int i = 0; i < nkeys; i++)
	{
		ScanKeyInit(&skey[i], i + 1, BTEqualStrategyNumber, F_TEXTEQ, CStringGetTextDatum(keys[i]));
		skey[i].sk_collation = idx->rd_indcollation[i];
	}
	slot = table_slot_create(rel, NULL);
	scan = index_beginscan(rel, idx, GetActiveSnapshot(), nkeys, 0);
	index_rescan(scan, skey, nkeys, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		TupleDesc	desc = RelationGetDescr(rel);

		found = true;
		slot_getallattrs(slot);
		for (int c = 0; c < ncols; c++)
		{
			AttrNumber	att = InvalidAttrNumber;

			for (int a = 0; a < desc->natts; a++)
				if (!TupleDescAttr(desc, a)->attisdropped &&
					strcmp(NameStr(TupleDescAttr(desc, a)->attname), cols[c]) == 0)
					att = a + 1;
			if (att == InvalidAttrNumber)
				elog(ERROR, "billy: column %s of billy.%s is missing", cols[c], table);
			isnull[c] = slot->tts_isnull[att - 1];
			if (!isnull[c])
			{
				Form_pg_attribute fa = TupleDescAttr(desc, att - 1);

				out[c] = fa->attlen == -1 ?
					PointerGetDatum(PG_DETOAST_DATUM_COPY(slot->tts_values[att - 1])) :
					datumCopy(slot->tts_values[att - 1], fa->attbyval, fa->attlen);
			}
		}
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * may_read says whether the caller may read billy.<table>'s rows of org:
 * SELECT on the table, and row-level security's rule when it applies to
 * the caller.
 */
static bool
may_read(Oid nsp, const char *table, const char *org)
{
	Oid			relid = get_relname_relid(table, nsp);
	AclResult	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, table);
	if (check_enable_rls(relid, InvalidOid, true) != RLS_ENABLED)
		return true;
	return billy_org_visible(org);
}

/*
 * read_row looks a record up in the mirror with what its freshness needs:
 * the row and its resource's sync state; its window comes from the row
 * itself (window_of), so a row never read before costs what a warm one
 * does.  As the caller: privileges and row-level security's rule apply.
 * With latest, it sees what other transactions committed since the
 * statement began (after waiting for a confirmation someone else made).
 */
static void
read_row(const CacheResource *cr, const char *org, const char *id, MirrorRow *row, bool latest)
{
	static const char *const doc_cols[] = {"raw", "confirmed_at", "deleted_at", "changed_at", "first_seen_at", "is_paid"};
	static const char *const scan_cols[] = {"last_complete_scan_at", "last_hot_scan_at"};
	Oid			nsp = get_namespace_oid("billy", false);
	const char *table = billy_sync_table(cr->name);
	/* a resource with hot scans has is_paid: its hot_where reads it */
	bool		has_paid = cr->hot_where != NULL;
	const char *keys[2] = {org, id};
	Datum		v[6];
	bool		n[6];
	Datum		sv[2];
	bool		sn[2];
	TimestampTz complete = 0;
	TimestampTz hot = 0;
	bool		is_paid;

	memset(row, 0, sizeof(*row));
	if (!may_read(nsp, table, org))
		return;
	if (latest)
	{
		CommandCounterIncrement();
		PushActiveSnapshot(GetLatestSnapshot());
	}
	PG_TRY();
	{
		if (lookup_row(nsp, table, 2, keys, has_paid ? 6 : 5, doc_cols, v, n))
		{
			row->found = true;
			row->raw = DatumGetJsonbP(v[0]);
			row->deleted = !n[2];
			row->deleted_at = n[2] ? 0 : DatumGetTimestampTz(v[2]);
			/* a change, not the first sight (a sync's insert) */
			if (!n[3] && (n[4] || DatumGetTimestampTz(v[3]) > DatumGetTimestampTz(v[4])))
				row->changed_at = DatumGetTimestampTz(v[3]);
			is_paid = has_paid && !n[5] && DatumGetBool(v[5]);
			row->hot = billy_sync_in_hot_set(cr->name, has_paid && !n[5], is_paid);
			keys[1] = cr->name;
			if (lookup_row(nsp, "sync_state", 2, keys, 2, scan_cols, sv, sn))
			{
				complete = sn[0] ? 0 : DatumGetTimestampTz(sv[0]);
				hot = sn[1] ? 0 : DatumGetTimestampTz(sv[1]);
			}
			row->effective = billy_cache_effective_confirmed(cr->name, n[1] ? 0 : DatumGetTimestampTz(v[1]),
															 has_paid && !n[5], is_paid, complete, hot);
		}
	}
	PG_FINALLY();
	{
		if (latest)
			PopActiveSnapshot();
	}
	PG_END_TRY();
}

/* window_of is a mirror row's window */
static int64
window_of(const CacheResource *cr, MirrorRow *row)
{
	return billy_cache_window_us(billy_cache_record_state(cr->name, row->raw), row->changed_at);
}

/* org_access checks, on the slow paths, that the caller may see org and it is connected */
static void
org_access(const char *org, bool *connected)
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

/* what a GET of the read path came back with */
typedef struct Fetched
{
	BillyRecordOutcome outcome;
	Jsonb	   *record;
	bool		stored;
	bool		called;			/* Billy was called */
	const char *reason;			/* why Billy was not asked or failed */
	BillyHttpError error;
} Fetched;

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
 * fetch_one: one GET of a record, bounded by billy.read_through_timeout_ms,
 * stored as the sync stores it (unless the transaction is read-only).
 * Never raises for Billy's failures; says why in f->reason.  A spent API
 * budget raises (53400) with budget_raises (a miss, or a caller that named
 * max_age); otherwise it is the reason "budget_spent" and the copy answers.
 */
static void
fetch_one(const CacheResource *cr, const char *org, const char *id, Fetched *f, bool budget_raises)
{
	BillyRefresh r = {0};
	TimestampTz retry_at = 0;
	char	   *ids[1];
	bool		connected;

	memset(f, 0, sizeof(*f));
	f->outcome = BILLY_RECORD_FAILED;
	org_access(org, &connected);
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
	r.resource = cr->name;
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

/* ------------------------------------------------------------------------
 * Confirming on demand
 * ------------------------------------------------------------------------
 */

/*
 * refresh_ids sets up a look-up of records one by one, stored as a sync
 * stores them and the unchanged ones confirmed (billy_sync_refresh_records):
 * the worker's refreshes (timeout_ms 0: billy.http_timeout_ms, retried)
 * and a read's confirmations (its own timeout, one attempt).
 */
static void
refresh_ids(BillyRefresh *r, const char *org, const char *resource, char **ids, int n, int timeout_ms)
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
 * singleflight takes the transaction-level lock of one confirmation (an
 * organization's record, or "#hot" for its unpaid set).  A read that finds
 * it held waits, up to billy.read_through_timeout_ms, for the holder to
 * commit: then the confirmation is in the mirror and the caller reads it
 * again (read_row with latest) instead of asking Billy itself.  Returns
 * false when the wait ran out; *waited says whether it waited.
 */
static bool
singleflight(const char *org, const char *resource, const char *what, bool *waited)
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
	static const char *const scan_cols[] = {"last_complete_scan_at", "last_hot_scan_at"};
	const char *keys[2] = {org, resource};
	Datum		sv[2];
	bool		sn[2];
	TimestampTz result = 0;

	CommandCounterIncrement();
	PushActiveSnapshot(GetLatestSnapshot());
	if (lookup_row(get_namespace_oid("billy", false), "sync_state", 2, keys, 2, scan_cols, sv, sn))
	{
		if (!sn[0])
			result = DatumGetTimestampTz(sv[0]);
		if (!sn[1] && DatumGetTimestampTz(sv[1]) > result)
			result = DatumGetTimestampTz(sv[1]);
	}
	PopActiveSnapshot();
	return result;
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

		billy_become_owner(&owner);
		d = billy_sql_datum("SELECT requests::pg_catalog.int8 FROM billy.sync_runs WHERE id OPERATOR(pg_catalog.=) $1",
							1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(sh.res.run_id)}, NULL, &isnull);
		billy_end_owner(&owner);
		*requests += isnull ? sh.res.pages : DatumGetInt64(d);
	}
	return reason;
}

/*
 * confirm_hot makes sure org's unpaid invoices (or bills) were confirmed
 * within window_us: if the last completed scan is older, one hot scan now,
 * shared with every concurrent read that wants the same (they wait for it
 * and read its result).  Returns NULL when they are confirmed, else why not.
 */
static const char *
confirm_hot(const char *org, const char *resource, int64 window_us, int64 *requests, char **error)
{
	bool		waited;
	bool		connected;
	TimestampTz retry_at;
	TimestampTz at;

	if (!singleflight(org, resource, "#hot", &waited))
		return "confirmation_pending";
	at = hot_confirmed_at(org, resource);
	if (at != 0 && billy_cache_age_us(at) < window_us)
		return NULL;
	org_access(org, &connected);
	if (!connected)
		return "not_connected";
	if (billy_breaker_is_open(org, &retry_at))
		return "breaker_open";
	if (XactReadOnly || RecoveryInProgress())
		return "read_only";
	return run_scan_here(org, resource, true, requests, error);
}

/* hot_window_us: the window of open and draft documents (what confirm_hot keeps) */
static int64
hot_window_us(void)
{
	return Min(billy_cache_window_us("open", 0), billy_cache_window_us("draft", 0));
}

/*
 * billy_cache_confirming: billy._cache_confirming(max_age interval)
 * RETURNS boolean: whether a read confirms stale rows before answering.
 */
Datum
billy_cache_confirming(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!PG_ARGISNULL(0) || billy_read_confirm);
}

/* resource_by_name: the read path's resource, or an error naming it */
static const CacheResource *
resource_by_name(const char *name)
{
	const CacheResource *cr = billy_resource(name);

	if (cr != NULL && cr->read_function != NULL)
		return cr;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown resource \"%s\"", name),
			 errhint("Use Billy's plural name, e.g. invoices or bankPayments.")));
	return NULL;
}

static Datum
reason_datum(FunctionCallInfo fcinfo, const char *reason)
{
	if (reason == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(reason));
}

/*
 * billy_cache_confirm_hot: billy._cache_confirm_hot(org, res, max_age)
 * RETURNS text: a list read's confirmation of the unpaid set, before it
 * selects its rows (a payment changes which rows match).
 */
Datum
billy_cache_confirm_hot(PG_FUNCTION_ARGS)
{
	char	   *org = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const CacheResource *cr = resource_by_name(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	int64		window = PG_ARGISNULL(2) ? hot_window_us() : interval_us(PG_GETARG_INTERVAL_P(2));
	BillyCacheCounts counts = {0};
	const char *reason;

	billy_require_preload();
	if (!(billy_read_confirm || !PG_ARGISNULL(2)) || !billy_sync_in_hot_set(cr->name, false, false))
		PG_RETURN_NULL();
	reason = confirm_hot(org, cr->name, window, &counts.api_calls, NULL);
	if (counts.api_calls > 0)
		billy_cache_count(org, cr->name, "", &counts, false);
	return reason_datum(fcinfo, reason);
}

/*
 * billy_cache_confirm_rows: billy._cache_confirm_rows(org, res, ids)
 * RETURNS text: confirms a list's stale rows in the fewest requests.
 */
Datum
billy_cache_confirm_rows(PG_FUNCTION_ARGS)
{
	char	   *org = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const CacheResource *cr = resource_by_name(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	char	  **ids;
	int			nids = 0;
	BillyCacheCounts counts = {0};
	const char *reason = NULL;
	const char *hot_reason = NULL;
	bool		hot_tried = false;
	bool		connected;
	TimestampTz retry_at;

	billy_require_preload();
	if (PG_ARGISNULL(2))
		PG_RETURN_NULL();
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	ids = palloc(sizeof(char *) * Max(n, 1));
	/* the unpaid ones by one hot scan; the rest below */
	for (int i = 0; i < n; i++)
	{
		MirrorRow	row;
		char	   *id;

		if (nulls[i])
			continue;
		id = TextDatumGetCString(elems[i]);
		read_row(cr, org, id, &row, false);
		if (row.found && row.hot)
		{
			if (!hot_tried)
				hot_reason = confirm_hot(org, cr->name, hot_window_us(), &counts.api_calls, NULL);
			hot_tried = true;
			if (hot_reason == NULL)
				continue;
		}
		ids[nids++] = id;
	}
	if (nids > 0)
	{
		org_access(org, &connected);
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

			pages = billy_sql_datum(psprintf("SELECT pg_catalog.ceil(pg_catalog.count(*)::pg_catalog.numeric "
											 "OPERATOR(pg_catalog./) %d)::pg_catalog.int8 FROM billy.%s "
											 "WHERE organization_id OPERATOR(pg_catalog.=) $1 AND deleted_at IS NULL",
											 billy_sync_page_size, billy_sync_table(cr->name)),
									1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(org)}, NULL, &isnull);
			if (!isnull && Max(DatumGetInt64(pages), 1) < nids)
			{
				/* fewer pages than rows: one scan of the whole list, shared */
				if (!singleflight(org, cr->name, "#full", &waited))
					reason = "confirmation_pending";
				else if (!waited)
					reason = run_scan_here(org, cr->name, false, &counts.api_calls, NULL);
			}
			else
			{
				BillyRefresh r = {0};
				bool		spent;

				refresh_ids(&r, org, cr->name, ids, nids, billy_read_through_timeout_ms);
				spent = refresh_guarded(&r) != NULL;
				CommandCounterIncrement();
				counts.api_calls += r.requests;
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
	}
	if (counts.api_calls > 0)
		billy_cache_count(org, cr->name, "", &counts, false);
	return reason_datum(fcinfo, reason);
}

static void
push_key(JsonbParseState **st, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &v);
}

static void
push_string(JsonbParseState **st, const char *key, const char *value)
{
	JsonbValue	v;

	push_key(st, key);
	if (value == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) value;
		v.val.string.len = strlen(value);
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
push_bool(JsonbParseState **st, const char *key, bool value)
{
	JsonbValue	v;

	push_key(st, key);
	v.type = jbvBool;
	v.val.boolean = value;
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
push_seconds(JsonbParseState **st, const char *key, int64 us)
{
	JsonbValue	v;
	char		buf[64];

	push_key(st, key);
	snprintf(buf, sizeof(buf), "%.3f", (double) us / USECS_PER_SEC);
	v.type = jbvNumeric;
	v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
														ObjectIdGetDatum(InvalidOid),
														Int32GetDatum(-1)));
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* what an answer says about itself */
typedef struct Freshness
{
	const char *source;			/* "mirror" or "api" */
	bool		fresh;
	TimestampTz confirmed_at;
	int64		age_us;
	int64		max_age_us;		/* the window the answer is fresh within */
	const char *refresh;		/* "queued", or NULL */
	const char *stale_reason;	/* why Billy was not asked, or failed */
	const char *error;
	bool		not_stored;
} Freshness;

/* append_container adds a jsonb's root container, int-aligned, to buf; returns its JEntry */
static JEntry
append_container(StringInfo buf, Jsonb *jb)
{
	int			base = buf->len;
	int			pad = INTALIGN(buf->len) - buf->len;

	appendStringInfoSpaces(buf, pad);
	memset(buf->data + base, 0, pad);
	appendBinaryStringInfo(buf, (char *) &jb->root, VARSIZE(jb) - VARHDRSZ);
	return JENTRY_ISCONTAINER | (buf->len - base);
}

/*
 * pair_object builds the jsonb {k1: v1, k2: v2} from two jsonb values
 * without taking them apart: their containers are copied as they are
 * (jsonb's containers are position-independent; each is int-aligned, as
 * convertToJsonb would place it).  An answer's record is most of its
 * bytes, and this is the read path's cost.
 */
static Jsonb *
pair_object(const char *k1, Jsonb *v1, const char *k2, Jsonb *v2)
{
	StringInfoData buf;
	const char *keys[2];
	Jsonb	   *vals[2];
	JEntry		entries[4];
	uint32		header = 2 | JB_FOBJECT;
	int			entries_at;
	uint32		total = 0;
	int			l1 = strlen(k1);
	int			l2 = strlen(k2);
	bool		swap = l1 > l2 || (l1 == l2 && memcmp(k1, k2, l1) > 0);

	/* jsonb orders keys by length, then bytes */
	keys[0] = swap ? k2 : k1;
	keys[1] = swap ? k1 : k2;
	vals[0] = swap ? v2 : v1;
	vals[1] = swap ? v1 : v2;

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	appendBinaryStringInfo(&buf, (char *) &header, sizeof(header));
	entries_at = buf.len;
	appendStringInfoSpaces(&buf, sizeof(entries));
	for (int i = 0; i < 2; i++)
	{
		int			len = strlen(keys[i]);

		appendBinaryStringInfo(&buf, keys[i], len);
		total += len;
		entries[i] = JENTRY_ISSTRING | (i == 0 ? (total | JENTRY_HAS_OFF) : (uint32) len);
	}
	for (int i = 0; i < 2; i++)
	{
		entries[2 + i] = append_container(&buf, vals[i]);
		total += JBE_OFFLENFLD(entries[2 + i]);
	}
	memcpy(buf.data + entries_at, entries, sizeof(entries));
	SET_VARSIZE(buf.data, buf.len);
	return (Jsonb *) buf.data;
}

/* answer builds {"<singular>": record, "freshness": {...}} */
static Jsonb *
answer(const char *singular, Jsonb *record, Freshness *fr)
{
	JsonbParseState *st = NULL;
	JsonbValue *res;
	char		buf[MAXDATELEN + 1];

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_string(&st, "source", fr->source);
	push_bool(&st, "fresh", fr->fresh);
	push_string(&st, "confirmed_at", fr->confirmed_at ?
				JsonEncodeDateTime(buf, TimestampTzGetDatum(fr->confirmed_at), TIMESTAMPTZOID, NULL) : NULL);
	push_seconds(&st, "age_seconds", Max(fr->age_us, 0));
	push_seconds(&st, "max_age_seconds", fr->max_age_us);
	if (fr->refresh)
		push_string(&st, "refresh", fr->refresh);
	if (fr->stale_reason)
		push_string(&st, "stale_reason", fr->stale_reason);
	if (fr->error)
		push_string(&st, "error", fr->error);
	if (fr->not_stored)
		push_bool(&st, "stored", false);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return pair_object(singular, record, "freshness", JsonbValueToJsonb(res));
}

/*
 * cache_get is every billy.get_<resource>(org text, id text, max_age
 * interval DEFAULT NULL) RETURNS jsonb: see the file header.
 */
static Datum
cache_get(FunctionCallInfo fcinfo, const CacheResource *cr)
{
	char	   *org;
	char	   *id;
	int64		max_age = -1;
	MirrorRow	row;
	Freshness	fr = {0};
	BillyCacheCounts counts = {0};
	const char *singular = billy_sync_singular(cr->name);
	Jsonb	   *result;
	bool		want_refresh = false;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("id must not be null"),
				 errhint("Pass the %s's Billy id.", cr->noun)));
	id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (id[0] == '\0' || strlen(id) >= BILLY_MAX_ID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("id must be a Billy id of 1 to %d characters", BILLY_MAX_ID - 1)));
	if (!PG_ARGISNULL(2))
	{
		max_age = interval_us(PG_GETARG_INTERVAL_P(2));
		if (max_age < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_age must not be negative"),
					 errhint("Use '0' to always ask Billy, NULL to accept the cache's own freshness.")));
	}
	billy_require_preload();

	/* the organization: an id found with the row, else resolved (names, NULL) */
	org = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (org != NULL)
		read_row(cr, org, id, &row, false);
	if (org == NULL || !row.found)
	{
		char	   *resolved = billy_resolve_organization(org);

		if (org == NULL || strcmp(resolved, org) != 0)
			read_row(cr, resolved, id, &row, false);
		org = resolved;
	}

	counts.reads = 1;
	if (row.found && row.deleted)
	{
		char		buf[MAXDATELEN + 1];

		billy_cache_count(org, cr->name, id, &counts, false);
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s \"%s\" was deleted in Billy", cr->noun, id),
				 errdetail("billy found it gone at %s.",
						   JsonEncodeDateTime(buf, TimestampTzGetDatum(row.deleted_at), TIMESTAMPTZOID, NULL))));
	}

	if (row.found)
	{
		int64		window = max_age >= 0 ? max_age : window_of(cr, &row);
		int64		age = row.effective ? billy_cache_age_us(row.effective) : PG_INT64_MAX;
		bool		confirm = max_age >= 0 || billy_read_confirm;

		fr.source = "mirror";
		fr.confirmed_at = row.effective;
		fr.age_us = age;
		fr.max_age_us = window;
		fr.fresh = age < window;

		if (!fr.fresh && confirm)
		{
			/*
			 * The caller wants it confirmed: an unpaid document by the hot
			 * scan that confirms every unpaid one (the next reads of unpaid
			 * ones cost nothing); anything else, max_age 0 ("ask Billy
			 * now"), or when the scan cannot run, by one GET.  Either is
			 * shared: a read that finds the same confirmation under way
			 * waits for it and reads what it stored.
			 */
			const char *reason = NULL;
			char	   *error = NULL;
			bool		waited = false;

			if (row.hot && max_age != 0)
			{
				reason = confirm_hot(org, cr->name, window, &counts.api_calls, &error);
				if (reason == NULL)
				{
					MirrorRow	again;

					read_row(cr, org, id, &again, true);
					if (again.found)
						row = again;	/* the scan may have found it gone */
				}
			}
			age = row.effective ? billy_cache_age_us(row.effective) : PG_INT64_MAX;
			if (age >= window && !row.deleted && singleflight(org, cr->name, id, &waited) && waited)
			{
				MirrorRow	again;

				read_row(cr, org, id, &again, true);
				if (again.found)
					row = again;
				age = row.effective ? billy_cache_age_us(row.effective) : PG_INT64_MAX;
			}
			if (row.deleted)
			{
				billy_cache_count(org, cr->name, id, &counts, false);
				ereport(ERROR,
						(errcode(ERRCODE_NO_DATA_FOUND),
						 errmsg("%s \"%s\" was deleted in Billy", cr->noun, id),
						 errdetail("billy found it gone just now.")));
			}
			if (age < window)
			{
				counts.refetches = 1;
				fr.confirmed_at = row.effective;
				fr.age_us = age;
				fr.fresh = true;
			}
			else
			{
				/* the caller wants it younger than the cache has it: ask Billy */
				Fetched		f;

				/* a caller that named max_age hears of a spent budget (53400) */
				fetch_one(cr, org, id, &f, max_age >= 0);
				if (f.called)
					counts.api_calls += 1;
				if (f.outcome == BILLY_RECORD_STORED || f.outcome == BILLY_RECORD_UNCHANGED)
				{
					counts.refetches = 1;
					billy_cache_count(org, cr->name, id, &counts, false);
					fr.source = "api";
					fr.fresh = true;
					fr.confirmed_at = GetCurrentTimestamp();
					fr.age_us = 0;
					fr.not_stored = !f.stored;
					PG_RETURN_JSONB_P(answer(singular, f.record, &fr));
				}
				if (f.outcome == BILLY_RECORD_GONE)
				{
					counts.refetches = 1;
					billy_cache_count(org, cr->name, id, &counts, false);
					ereport(ERROR,
							(errcode(ERRCODE_NO_DATA_FOUND),
							 errmsg("%s \"%s\" was deleted in Billy", cr->noun, id),
							 errdetail("Billy answered 404 just now%s.",
									   f.stored ? "; the mirror marks it deleted" : "")));
				}
				/* Billy could not be asked: the copy, flagged */
				fr.fresh = false;
				fr.stale_reason = f.reason ? f.reason : reason;
				fr.error = f.error.message ? f.error.message : error;
				want_refresh = true;
			}
		}
		else if (!fr.fresh)
		{
			TimestampTz retry_at;

			want_refresh = true;
			if (billy_breaker_is_open(org, &retry_at))
				fr.stale_reason = "breaker_open";
		}
		if (fr.fresh)
			counts.fresh = 1;
		else
			counts.stale = 1;
		if (billy_cache_count(org, cr->name, id, &counts, want_refresh))
			billy_wake_worker();
		if (want_refresh)
			fr.refresh = "queued";
		result = answer(singular, row.raw, &fr);
		PG_RETURN_JSONB_P(result);
	}

	/* not in the mirror: one GET */
	{
		Fetched		f;

		fetch_one(cr, org, id, &f, true);
		counts.misses = 1;
		counts.api_calls = f.called ? 1 : 0;
		billy_cache_count(org, cr->name, id, &counts, false);
		if (f.outcome == BILLY_RECORD_GONE)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("%s \"%s\" does not exist in Billy", cr->noun, id),
					 errdetail("It is not in the mirror, and Billy answered 404.")));
		if (f.outcome == BILLY_RECORD_FAILED)
		{
			if (f.reason && strcmp(f.reason, "breaker_open") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("%s \"%s\" is not in the mirror and Billy is not being called", cr->noun, id),
						 errdetail("The circuit breaker of organization \"%s\" is open after repeated failures.", org),
						 errhint("billy.breaker_status() says when it tries again.")));
			if (f.reason && strcmp(f.reason, "not_connected") == 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("%s \"%s\" is not in the mirror and organization \"%s\" is not connected", cr->noun, id, org),
						 errhint("Call billy.connect() with an access token for it.")));
			ereport(ERROR,
					(errcode(f.error.sqlerrcode),
					 errmsg("%s \"%s\" is not in the mirror and Billy could not be asked: %s",
							cr->noun, id, f.error.message),
					 f.error.detail ? errdetail("%s", f.error.detail) : 0,
					 errhint("billy.read_through_timeout_ms bounds the wait; the next sync brings the record if it exists."),
					 errhidestmt(true)));
		}
		fr.source = "api";
		fr.fresh = true;
		fr.confirmed_at = GetCurrentTimestamp();
		fr.age_us = 0;
		fr.max_age_us = max_age >= 0 ? max_age : billy_cache_window_us(f.record ? billy_cache_record_state(cr->name, f.record) : NULL, 0);
		fr.not_stored = !f.stored;
		PG_RETURN_JSONB_P(answer(singular, f.record, &fr));
	}
}

/*
 * billy_get is every billy.get_<resource>(org, id, max_age): the resource
 * is the one the SQL function is named after (found once per call site).
 */
Datum
billy_get(PG_FUNCTION_ARGS)
{
	const CacheResource *cr = fcinfo->flinfo->fn_extra;

	if (cr == NULL)
	{
		char	   *name = get_func_name(fcinfo->flinfo->fn_oid);

		cr = name ? billy_resource_read_by(name) : NULL;
		if (cr == NULL)
			elog(ERROR, "billy: no resource is read by function %s", name ? name : "?");
		/* a copy as long-lived as the call site (the catalog may change) */
		cr = billy_resource_copy(cr, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = (void *) cr;
	}
	return cache_get(fcinfo, cr);
}

/* ------------------------------------------------------------------------
 * Helpers the SQL side calls
 * ------------------------------------------------------------------------
 */

/*
 * billy_cache_count_list: billy._cache_count_list(org text, resource text,
 * stale_ids text[]) RETURNS void.  A list read: one read of the resource
 * (record id empty), and a refresh wanted for each stale row it returned.
 *
 * Any reader can call it (the list functions run as the caller), so it
 * counts only what a real list read could: a resource billy caches, of an
 * organization the caller sees, and ids that are rows of that organization
 * in the mirror (read as the caller).  Otherwise made-up names and ids would
 * fill the shared table, and real counts would be dropped.
 */
Datum
billy_cache_count_list(PG_FUNCTION_ARGS)
{
	char	   *org;
	char	   *resource;
	BillyCacheCounts counts = {0};
	bool		wake = false;
	bool		known = false;

	billy_require_preload();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_VOID();
	org = text_to_cstring(PG_GETARG_TEXT_PP(0));
	resource = text_to_cstring(PG_GETARG_TEXT_PP(1));
	{
		const CacheResource *cr = billy_resource(resource);

		known = cr != NULL && cr->read_function != NULL;
	}
	if (!known || strlen(org) >= BILLY_MAX_ID || !billy_org_visible(org))
		PG_RETURN_VOID();
	counts.reads = 1;
	if (!PG_ARGISNULL(2))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(2);
		Datum	   *elems = NULL;
		bool	   *nulls = NULL;
		int			n = 0;
		bool		isnull = true;
		Datum		found = (Datum) 0;

		/* only the ids that are rows of this organization's mirror */
		if (ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)) > 0)
			found = billy_sql_datum(psprintf("SELECT pg_catalog.array_agg(m.id) FROM billy.%s m "
														  "WHERE m.organization_id OPERATOR(pg_catalog.=) $1 "
														  "AND m.id OPERATOR(pg_catalog.=) ANY ($2)",
														  quote_identifier(billy_sync_table(resource))),
												 2, (Oid[]) {TEXTOID, TEXTARRAYOID},
												 (Datum[]) {PG_GETARG_DATUM(0), PG_GETARG_DATUM(2)},
												 NULL, &isnull);
		if (!isnull)
			deconstruct_array(DatumGetArrayTypeP(found), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		counts.stale = n > 0 ? 1 : 0;
		for (int i = 0; i < n; i++)
		{
			BillyCacheCounts none = {0};

			if (!nulls[i])
				wake |= billy_cache_count(org, resource, TextDatumGetCString(elems[i]), &none, true);
		}
	}
	if (counts.stale == 0)
		counts.fresh = 1;
	billy_cache_count(org, resource, "", &counts, false);
	if (wake)
		billy_wake_worker();
	PG_RETURN_VOID();
}

/*
 * billy_cache_request_refresh: billy._cache_request_refresh(org, resource,
 * ids text[]) RETURNS void: the worker refreshes them at its next round.
 */
Datum
billy_cache_request_refresh(PG_FUNCTION_ARGS)
{
	char	   *org = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *resource = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(2);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	bool		wake = false;

	billy_require_preload();
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		BillyCacheCounts none = {0};

		if (!nulls[i])
			wake |= billy_cache_count(org, resource, TextDatumGetCString(elems[i]), &none, true);
	}
	if (wake)
		billy_wake_worker();
	PG_RETURN_VOID();
}

/*
 * billy_cache_want_flush asks the worker for a flush at once (testing.c's
 * billy._cache_flush_now, for tests and benchmarks).
 */
void
billy_cache_want_flush(void)
{
	billy_require_preload();
	pg_atomic_write_u32(&cache_shared->flush_wanted, 1);
	billy_wake_worker();
}

/*
 * billy_cache_counters: billy._cache_counters() RETURNS SETOF record: the
 * counts in shared memory not flushed yet, and the table's fill.
 */
Datum
billy_cache_counters(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	CacheEntry *e;

	bool		isnull;
	bool		all;
	Datum	   *visible_d = NULL;
	char	  **visible = NULL;
	int			nvisible = 0;

	billy_require_preload();
	InitMaterializedSRF(fcinfo, 0);
	/* what row-level security would show; found before the lock is taken */
	all = DatumGetBool(billy_sql_datum("SELECT billy._sees_all()", 0, NULL, NULL, NULL, &isnull));
	if (!all)
	{
		Datum		d = billy_sql_datum("SELECT billy._visible_orgs()", 0, NULL, NULL, NULL, &isnull);

		if (!isnull)
			deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
							  &visible_d, NULL, &nvisible);
		visible = palloc(sizeof(char *) * Max(nvisible, 1));
		for (int i = 0; i < nvisible; i++)
			visible[i] = TextDatumGetCString(visible_d[i]);
	}

	LWLockAcquire(cache_shared->lock, LW_SHARED);
	hash_seq_init(&seq, cache_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		Datum		values[12];
		bool		nulls[12] = {0};
		BillyCacheCounts c;
		TimestampTz last;
		bool		wanted;

		if (!all)
		{
			bool		seen = false;

			for (int i = 0; i < nvisible && !seen; i++)
				seen = strcmp(visible[i], e->key.org) == 0;
			if (!seen)
				continue;
		}
		SpinLockAcquire(&e->mutex);
		c = e->counts;
		last = e->last_access;
		wanted = e->refresh_wanted;
		SpinLockRelease(&e->mutex);

		values[0] = CStringGetTextDatum(e->key.org);
		values[1] = CStringGetTextDatum(e->key.resource);
		values[2] = CStringGetTextDatum(e->key.id);
		values[3] = Int64GetDatum(c.reads);
		values[4] = Int64GetDatum(c.fresh);
		values[5] = Int64GetDatum(c.stale);
		values[6] = Int64GetDatum(c.misses);
		values[7] = Int64GetDatum(c.refetches);
		values[8] = Int64GetDatum(c.api_calls);
		values[9] = Int64GetDatum(c.refresh_calls);
		if (last)
			values[10] = TimestampTzGetDatum(last);
		else
			nulls[10] = true;
		values[11] = BoolGetDatum(wanted);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(cache_shared->lock);
	return (Datum) 0;
}

/* ------------------------------------------------------------------------
 * The worker's side: flush, refresh jobs, warm_cache
 * ------------------------------------------------------------------------
 */

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
			uint64		dropped = pg_atomic_exchange_u64(&cache_shared->dropped, 0);

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

	refresh_ids(&r, org, resource, ids, n, 0);
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
