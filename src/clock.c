/*-------------------------------------------------------------------------
 *
 * clock.c
 *	  The cache's clock: what "now" and "how old" mean to freshness, the
 *	  read counters' hourly buckets, the worker's flush interval and the API
 *	  budgets' refill.
 *
 * It is the wall clock (the statement's start) unless a benchmark that
 * replays a day in minutes made it run faster: billy._set_clock_rate(r)
 * (testing.c, superusers only) makes it run r times faster than the wall
 * clock from the moment it is called: every age is multiplied by r, and
 * "now" is epoch + r * (now - epoch).  Stored timestamps stay real.  Rate 1
 * (the default) is the identity.
 *
 * Shared memory: the rate and its epoch, under a spinlock; no LWLock.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "fmgr.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"
#include "access/xact.h"

#include "clock.h"
#include "module.h"

PG_FUNCTION_INFO_V1(billy_cache_age);
PG_FUNCTION_INFO_V1(billy_cache_now);

typedef struct ClockShared
{
	slock_t		mutex;			/* guards the two below */
	double		rate;
	TimestampTz epoch;
} ClockShared;

static ClockShared *clock_shared = NULL;

static Size
clock_shmem_size(void)
{
	return MAXALIGN(sizeof(ClockShared));
}

static void
clock_shmem_init(LWLockPadded *locks)
{
	bool		found;

	clock_shared = ShmemInitStruct("billy clock", sizeof(ClockShared), &found);
	if (!found)
	{
		SpinLockInit(&clock_shared->mutex);
		clock_shared->rate = 1.0;
		clock_shared->epoch = 0;
	}
}

const BillyModule billy_clock_module = {
	.name = "clock",
	.shmem_size = clock_shmem_size,
	.shmem_init = clock_shmem_init,
};

static double
clock_rate(TimestampTz *epoch)
{
	double		rate = 1.0;

	if (epoch)
		*epoch = 0;
	if (clock_shared == NULL)
		return rate;
	SpinLockAcquire(&clock_shared->mutex);
	rate = clock_shared->rate;
	if (epoch)
		*epoch = clock_shared->epoch;
	SpinLockRelease(&clock_shared->mutex);
	return rate;
}

/* billy_cache_clock_now is the cache's "now": the statement's, on the clock */
TimestampTz
billy_cache_clock_now(void)
{
	TimestampTz epoch;
	double		rate = clock_rate(&epoch);
	TimestampTz now = GetCurrentStatementStartTimestamp();

	if (rate == 1.0)
		return now;
	return epoch + (TimestampTz) ((double) (now - epoch) * rate);
}

/* billy_cache_age_us is how old a timestamp is to the cache, in microseconds */
int64
billy_cache_age_us(TimestampTz ts)
{
	double		rate = clock_rate(NULL);
	int64		real = GetCurrentStatementStartTimestamp() - ts;

	if (rate == 1.0)
		return real;
	return (int64) ((double) real * rate);
}

/* billy_cache_rate is the clock's rate (1: the wall clock) */
double
billy_cache_rate(void)
{
	return clock_rate(NULL);
}

/*
 * billy_clock_set_rate makes the clock run rate times faster than the wall
 * clock from now on (testing.c checks who may and the bounds).
 */
void
billy_clock_set_rate(double rate)
{
	SpinLockAcquire(&clock_shared->mutex);
	clock_shared->rate = rate;
	clock_shared->epoch = GetCurrentTimestamp();
	SpinLockRelease(&clock_shared->mutex);
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
