/*-------------------------------------------------------------------------
 *
 * cache_counters.c
 *	  The read counters in shared memory (the pg_stat_statements pattern):
 *	  every read of the mirror counts here, never in a table row, and the
 *	  worker flushes the counts into billy.cache_stats (cache_refresh.c).
 *
 * One shared hash table of billy.cache_max_entries entries keyed by
 * (organization, resource, record id; the record id is empty for list
 * reads and for the worker's refresh calls), guarded by one LWLock
 * (tranche "billy cache").  The locking contract:
 *
 *	- a read looks its entry up holding the lock SHARED and bumps the
 *	  counters under the entry's spinlock: readers never block each other;
 *	- a read that finds no entry retakes the lock EXCLUSIVE to create it; a
 *	  full table drops the count (counted in "dropped") and asks the worker
 *	  to flush early;
 *	- the worker's flush holds the lock EXCLUSIVE while it copies and zeroes
 *	  the counters (no spinlocks needed then), removes entries that saw
 *	  nothing since the previous flush, and writes the copy to
 *	  billy.cache_stats after releasing the lock;
 *	- billy._cache_counters() reads under the lock SHARED, each entry under
 *	  its spinlock.
 *
 * So a read writes no WAL: no row, no hint bit of ours.  Counts not yet
 * flushed when the server stops or crashes are lost; at most
 * billy.cache_flush_interval_ms of them, which only nudges refresh-ahead.
 *
 * For the cache module (cache_refresh.c): settings billy_cache_counters_define_settings;
 * shared memory billy_cache_counters_shmem_size (its tranche: "billy cache") and
 * billy_cache_counters_shmem_init.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "cache.h"
#include "sqlexec.h"
#include "visibility.h"
#include "jobs.h"

PG_FUNCTION_INFO_V1(billy_cache_counters);
PG_FUNCTION_INFO_V1(billy_cache_request_refresh);

typedef struct CacheKey
{
	char		org[BILLY_MAX_ID];
	char		resource[BILLY_CACHE_RESOURCE_LEN];
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

/* settings (billy_cache_counters_define_settings) */
int			billy_cache_flush_interval_ms = 10000;
int			billy_cache_max_entries = 10000;

/*
 * billy_cache_counters_define_settings defines the counters' settings.
 * The size of their table is fixed at server start, so it exists only
 * when billy is preloaded.
 */
void
billy_cache_counters_define_settings(void)
{
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

/* billy_cache_counters_shmem_size: the counters' table (the cache module's memory) */
Size
billy_cache_counters_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(CacheShared)),
					hash_estimate_size(billy_cache_max_entries, sizeof(CacheEntry)));
}

/*
 * billy_cache_counters_shmem_init runs in shmem_startup_hook, under
 * AddinShmemInitLock; locks is the cache module's tranche ("billy cache")
 */
void
billy_cache_counters_shmem_init(LWLockPadded *locks)
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

/*
 * billy_cache_dropped_counts returns, and zeroes, how many counts were
 * dropped since the last call because the table was full.
 */
uint64
billy_cache_dropped_counts(void)
{
	if (cache_shared == NULL)
		return 0;
	return pg_atomic_exchange_u64(&cache_shared->dropped, 0);
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
