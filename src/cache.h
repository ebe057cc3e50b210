/*-------------------------------------------------------------------------
 *
 * cache.h
 *	  The cache: the read path (cache.c), a mirror row read with its
 *	  confirmation (cache_row.c), confirming on demand
 *	  (cache_confirm.c), the read counters in shared memory
 *	  (cache_counters.c), the worker's flush and refresh jobs
 *	  (cache_refresh.c).  cache.c's header says how they fit.  Its clock
 *	  is clock.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_CACHE_H
#define BILLY_CACHE_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "storage/lwlock.h"
#include "utils/jsonb.h"

#include "clock.h"
#include "http.h"
#include "jobs.h"
#include "pagescan.h"
#include "mirror/mirror.h"

/* Billy's plural names are at most 31 characters (billy.resources) */
#define BILLY_CACHE_RESOURCE_LEN 32

/* what the counters count, per (organization, resource, record) */
typedef struct BillyCacheCounts
{
	int64		reads;			/* get_* calls (and list calls, on the
								 * resource) */
	int64		fresh;			/* answered from the mirror, fresh */
	int64		stale;			/* answered from the mirror, stale */
	int64		misses;			/* not in the mirror: asked Billy */
	int64		refetches;		/* older than the caller's max_age: asked
								 * Billy */
	int64		api_calls;		/* GETs the reads made */
	int64		refresh_calls;	/* GETs the worker's refreshes made */
} BillyCacheCounts;

/* one entry as the flush copies it */
typedef struct BillyCacheDrained
{
	char		org[BILLY_MAX_ID];
	char		resource[BILLY_CACHE_RESOURCE_LEN];
	char		id[BILLY_MAX_ID];
	BillyCacheCounts counts;
	TimestampTz last_access;
	bool		refresh_wanted;
} BillyCacheDrained;

/* cache.c: the read path, and the cache's module (module.h) */
extern int	billy_read_through_timeout_ms;
extern bool billy_read_confirm;
extern int	billy_list_total_limit;
extern int	billy_cache_flush_interval_ms;
extern int	billy_cache_max_entries;

extern const struct BillyModule billy_cache_module;

extern void billy_cache_define_settings(void);

/* cache_row.c: a mirror row; cache_confirm.c: confirming on demand */
/* what the mirror holds for one record */
typedef struct BillyMirrorRow
{
	bool		found;
	Jsonb	   *raw;
	TimestampTz effective;		/* effective confirmation */
	bool		deleted;
	TimestampTz deleted_at;
	TimestampTz changed_at;		/* when billy last saw it change */
	bool		hot;			/* in the hot set: a hot scan confirms it */
} BillyMirrorRow;


/* what a GET of the read path came back with */
typedef struct BillyFetched
{
	BillyRecordOutcome outcome;
	Jsonb	   *record;
	bool		stored;
	bool		called;			/* Billy was called */
	const char *reason;			/* why Billy was not asked or failed */
	BillyHttpError error;
} BillyFetched;

extern void billy_cache_confirm_define_settings(void);
extern TimestampTz billy_cache_effective_confirmed(const char *resource, TimestampTz row_confirmed,
												   bool is_paid_known, bool is_paid,
												   TimestampTz complete_scan, TimestampTz hot_scan);
extern void billy_cache_read_row(const char *resource, const char *org, const char *id,
								 BillyMirrorRow *row, bool latest);
extern void billy_cache_scan_times(const char *org, const char *resource, bool latest,
								   TimestampTz *complete, TimestampTz *hot);
extern void billy_cache_org_access(const char *org, bool *connected);
extern void billy_cache_fetch_one(const char *resource, const char *org, const char *id,
								  BillyFetched *f, bool budget_raises);
extern void billy_cache_refresh_ids(BillyRefresh *r, const char *org, const char *resource,
									char **ids, int n, int timeout_ms);
extern bool billy_cache_singleflight(const char *org, const char *resource, const char *what,
									 bool *waited);
extern const char *billy_cache_confirm_unpaid(const char *org, const char *resource, int64 window_us,
											  int64 *requests, char **error);
extern int64 billy_cache_hot_window_us(void);
extern const char *billy_cache_confirm_ids(const char *org, const char *resource, char **ids, int n,
										   int64 *api_calls);

/* cache_counters.c: the read counters in shared memory */
extern void billy_cache_counters_define_settings(void);
extern Size billy_cache_counters_shmem_size(void);
extern void billy_cache_counters_shmem_init(LWLockPadded *locks);
extern bool billy_cache_count(const char *org, const char *resource, const char *id,
							  const BillyCacheCounts *counts, bool want_refresh);
extern BillyCacheDrained *billy_cache_drain(int *n);
extern bool billy_cache_flush_wanted(void);
extern void billy_cache_want_flush(void);
extern uint64 billy_cache_dropped_counts(void);

/* cache_refresh.c: the worker's side */
extern void billy_cache_tick(bool flush);
extern void billy_cache_refresh_job(BillyJob *job);

#endif							/* BILLY_CACHE_H */
