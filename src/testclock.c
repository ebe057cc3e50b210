/*-------------------------------------------------------------------------
 *
 * testclock.c
 *	  Test-only: the clock billy measures ages and rates by (the read
 *	  path's freshness, the cache's hourly buckets, the API budget's refill,
 *	  the worker's flush interval), which a benchmark may run faster.
 *
 * For benchmarks that replay a day in minutes, billy._set_clock_rate(r)
 * (superusers only: like every billy function it is revoked from PUBLIC,
 * and it is granted to no role; it also checks) makes the clock run r
 * times faster than the wall clock from the moment it is called: every age
 * is multiplied by r, and "now" is epoch + r * (now - epoch).  Stored
 * timestamps stay real.  Rate 1 (the default) is the identity, and then
 * billy_cache_age_us is now - ts: what production runs.
 *
 * "Now" is the current time, not the statement's start: a read that
 * confirms rows stamps them with the time it asked Billy (later than its
 * statement began) and then judges their age.
 *
 * Shared memory: one small struct, its own spinlock (no LWLock).  The
 * module table sizes it with billy_testclock_shmem_size and sets it up
 * with billy_testclock_shmem_init (under AddinShmemInitLock).
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include <math.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "testclock.h"

PG_FUNCTION_INFO_V1(billy_cache_age);
PG_FUNCTION_INFO_V1(billy_cache_now);
PG_FUNCTION_INFO_V1(billy_set_clock_rate);

typedef struct TestClock
{
	slock_t		mutex;
	double		rate;
	TimestampTz epoch;
} TestClock;

static TestClock *test_clock = NULL;

/* billy_testclock_shmem_size: what the clock takes in shared memory */
Size
billy_testclock_shmem_size(void)
{
	return MAXALIGN(sizeof(TestClock));
}

/* billy_testclock_shmem_init runs in shmem_startup_hook, under AddinShmemInitLock */
void
billy_testclock_shmem_init(void)
{
	bool		found;

	test_clock = ShmemInitStruct("billy test clock", sizeof(TestClock), &found);
	if (!found)
	{
		SpinLockInit(&test_clock->mutex);
		test_clock->rate = 1.0;
		test_clock->epoch = 0;
	}
}

static double
clock_rate(TimestampTz *epoch)
{
	double		rate = 1.0;

	if (epoch)
		*epoch = 0;
	if (test_clock == NULL)
		return rate;
	SpinLockAcquire(&test_clock->mutex);
	rate = test_clock->rate;
	if (epoch)
		*epoch = test_clock->epoch;
	SpinLockRelease(&test_clock->mutex);
	return rate;
}

/* billy_cache_clock_now is billy's "now": the current time, on the test clock */
TimestampTz
billy_cache_clock_now(void)
{
	TimestampTz epoch;
	double		rate = clock_rate(&epoch);
	TimestampTz now = GetCurrentTimestamp();

	if (rate == 1.0)
		return now;
	return epoch + (TimestampTz) ((double) (now - epoch) * rate);
}

/* billy_cache_age_us is how old a timestamp is, in microseconds, on the test clock */
int64
billy_cache_age_us(TimestampTz ts)
{
	double		rate = clock_rate(NULL);
	int64		real = GetCurrentTimestamp() - ts;

	if (rate == 1.0)
		return real;
	return (int64) ((double) real * rate);
}

/* billy_cache_rate is the test clock's rate (1: the wall clock) */
double
billy_cache_rate(void)
{
	return clock_rate(NULL);
}

/* billy_cache_now: billy._cache_now() RETURNS timestamptz */
Datum
billy_cache_now(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(billy_cache_clock_now());
}

/* billy_cache_age: billy._cache_age(ts timestamptz) RETURNS interval */
Datum
billy_cache_age(PG_FUNCTION_ARGS)
{
	Interval   *result = palloc0(sizeof(Interval));

	result->time = billy_cache_age_us(PG_GETARG_TIMESTAMPTZ(0));
	PG_RETURN_INTERVAL_P(result);
}

/*
 * billy_set_clock_rate: billy._set_clock_rate(rate float8) RETURNS
 * timestamptz.  Test-only: from now on the clock runs rate times faster
 * than the wall clock.  Returns the clock's now.  Superusers only.
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
	SpinLockAcquire(&test_clock->mutex);
	test_clock->rate = rate;
	test_clock->epoch = GetCurrentTimestamp();
	SpinLockRelease(&test_clock->mutex);
	PG_RETURN_TIMESTAMPTZ(billy_cache_clock_now());
}
