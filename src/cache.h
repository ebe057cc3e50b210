/*-------------------------------------------------------------------------
 *
 * cache.h
 *	  The read path, its access counters in shared memory, the worker's
 *	  cache work (flush, refresh jobs).  Its clock is clock.h.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_CACHE_H
#define BILLY_CACHE_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "clock.h"
#include "pagescan.h"
#include "jobs.h"

/* what the counters count, per (organization, resource, record) */
typedef struct BillyCacheCounts
{
	int64		reads;			/* get_* calls (and list calls, on the resource) */
	int64		fresh;			/* answered from the mirror, fresh */
	int64		stale;			/* answered from the mirror, stale */
	int64		misses;			/* not in the mirror: asked Billy */
	int64		refetches;		/* older than the caller's max_age: asked Billy */
	int64		api_calls;		/* GETs the reads made */
	int64		refresh_calls;	/* GETs the worker's refreshes made */
} BillyCacheCounts;

/* one entry as the flush copies it */
typedef struct BillyCacheDrained
{
	char		org[BILLY_MAX_ID];
	char		resource[32];	/* RESOURCE_LEN of cache.c */
	char		id[BILLY_MAX_ID];
	BillyCacheCounts counts;
	TimestampTz last_access;
	bool		refresh_wanted;
} BillyCacheDrained;

/* settings (cache.c) */
extern int	billy_read_through_timeout_ms;
extern bool billy_read_confirm;
extern int	billy_cache_flush_interval_ms;
extern int	billy_cache_max_entries;

extern const struct BillyModule billy_cache_module;

extern bool billy_cache_count(const char *org, const char *resource, const char *id,
							  const BillyCacheCounts *counts, bool want_refresh);
extern BillyCacheDrained *billy_cache_drain(int *n);
extern bool billy_cache_flush_wanted(void);
extern void billy_cache_want_flush(void);

extern TimestampTz billy_cache_effective_confirmed(const char *resource, TimestampTz row_confirmed,
												   bool is_paid_known, bool is_paid,
												   TimestampTz complete_scan, TimestampTz hot_scan);

extern void billy_cache_tick(bool flush);
extern void billy_cache_refresh_job(BillyJob *job);

#endif							/* BILLY_CACHE_H */
