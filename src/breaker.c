/*-------------------------------------------------------------------------
 *
 * breaker.c
 *	  Per-organization circuit breakers and the progress of running scans,
 *	  both in shared memory.
 *
 * A breaker counts the consecutive failed scans of one organization (a
 * scan failing on the API: connection, timeout, 5xx, rate limit, refused
 * token, invalid answers).  After billy.breaker_failures of them it opens:
 * queued syncs of that organization wait instead of calling a Billy that is
 * down, until billy.breaker_cooldown_ms has passed.  Then it is half open:
 * one trial scan may run; success closes it, failure opens it again.  The
 * read path (later) serves stale data while it is open.  The cooldown is
 * counted from when the breaker last opened (or let a trial through) with the
 * setting's value of the moment, so a reloaded billy.breaker_cooldown_ms
 * applies to breakers already open: an operator can shorten a wait, and a
 * test can hold a breaker open as long as it likes and then end the wait.
 *
 * Progress slots are what billy.sync_progress shows: one per running scan,
 * in any process (the worker, or a session running billy.sync_now).
 *
 * Locking: one LWLock (tranche "billy breaker") guards both; holders
 * only copy a few fields.  Breaker state is not persisted: a restart closes
 * every breaker, which is the right thing after an outage of our own.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include <signal.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "breaker.h"
#include "budget.h"
#include "module.h"
#include "pagescan.h"

PG_FUNCTION_INFO_V1(billy_breaker_status);
PG_FUNCTION_INFO_V1(billy_sync_progress);

#define PROGRESS_SLOTS 64

typedef enum BreakerState
{
	BREAKER_CLOSED,
	BREAKER_OPEN,
	BREAKER_HALF_OPEN
} BreakerState;

typedef struct BillyBreaker
{
	char		org[BILLY_MAX_ID];	/* hash key */
	BreakerState state;
	int			consecutive_failures;
	TimestampTz opened_at;
	TimestampTz since;			/* last opened, or last let a trial through */
	int64		failures_total;
} BillyBreaker;

typedef struct BillyProgress
{
	pid_t		pid;			/* 0: free */
	char		org[BILLY_MAX_ID];
	char		resource[32];
	char		mode[8];
	char		phase[16];
	TimestampTz started_at;
	int			pages_done;
	int			pages_total;
	int64		rows_seen;
	int64		rows_written;
	int64		bytes;
} BillyProgress;

typedef struct BillyBreakerShared
{
	LWLock	   *lock;
	BillyProgress progress[PROGRESS_SLOTS];
} BillyBreakerShared;

static BillyBreakerShared *shared = NULL;
static HTAB *breakers = NULL;

/* settings (breaker_define_settings) */
int			billy_breaker_failures = 5;
int			billy_breaker_cooldown_ms = 60000;

/* breaker_define_settings: when a breaker opens, how long it stays open */
static void
breaker_define_settings(void)
{
	DefineCustomIntVariable("billy.breaker_failures",
							"Consecutive failed scans of an organization that open its circuit breaker.",
							NULL,
							&billy_breaker_failures,
							5, 1, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.breaker_cooldown_ms",
							"How long an open circuit breaker waits before one trial scan.",
							NULL,
							&billy_breaker_cooldown_ms,
							60000, 1000, 86400000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

static Size
breaker_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(BillyBreakerShared)),
					hash_estimate_size(billy_max_organizations, sizeof(BillyBreaker)));
}

/* breaker_shmem_init runs in shmem_startup_hook, under AddinShmemInitLock */
static void
breaker_shmem_init(LWLockPadded *locks)
{
	bool		found;
	HASHCTL		ctl;

	shared = ShmemInitStruct("billy breakers", sizeof(BillyBreakerShared), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(BillyBreakerShared));
		shared->lock = &locks[0].lock;
	}
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = BILLY_MAX_ID;
	ctl.entrysize = sizeof(BillyBreaker);
	breakers = ShmemInitHash("billy breaker table", billy_max_organizations,
							 billy_max_organizations, &ctl,
							 HASH_ELEM | HASH_STRINGS);
}

const BillyModule billy_breaker_module = {
	.name = "breaker",
	.define_settings = breaker_define_settings,
	.shmem_size = breaker_shmem_size,
	.lwlocks = 1,
	.shmem_init = breaker_shmem_init,
};

/* retry_time: when an open or half open breaker lets the next trial through */
static TimestampTz
retry_time(const BillyBreaker *b)
{
	return TimestampTzPlusMilliseconds(b->since, billy_breaker_cooldown_ms);
}

static void
org_key(const char *org, char *key)
{
	memset(key, 0, BILLY_MAX_ID);
	strlcpy(key, org, BILLY_MAX_ID);
}

/*
 * billy_breaker_allows says whether a queued sync of org may call Billy
 * now; when not, *retry_at says from when.  An open breaker whose cooldown
 * is over lets exactly one trial through (half open).
 */
bool
billy_breaker_allows(const char *org, TimestampTz *retry_at)
{
	char		key[BILLY_MAX_ID];
	BillyBreaker *b;
	bool		allowed = true;
	TimestampTz now = GetCurrentTimestamp();

	if (shared == NULL)
		return true;
	org_key(org, key);
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	b = hash_search(breakers, key, HASH_FIND, NULL);
	if (b != NULL && b->state != BREAKER_CLOSED)
	{
		if (now < retry_time(b))
		{
			allowed = false;
			*retry_at = retry_time(b);
		}
		else if (b->state == BREAKER_OPEN)
		{
			b->state = BREAKER_HALF_OPEN;
			/* the trial has the cooldown to finish before another may start */
			b->since = now;
		}
		else
		{
			/* half open, and the trial outlived its time: allow another */
			b->since = now;
		}
	}
	LWLockRelease(shared->lock);
	return allowed;
}

/*
 * billy_breaker_is_open says, without changing anything, whether org's
 * breaker holds calls back now (open, or half open with its trial under
 * way); *retry_at says until when.  The read path asks this before it
 * calls Billy itself.
 */
bool
billy_breaker_is_open(const char *org, TimestampTz *retry_at)
{
	char		key[BILLY_MAX_ID];
	BillyBreaker *b;
	bool		open = false;

	if (shared == NULL)
		return false;
	org_key(org, key);
	LWLockAcquire(shared->lock, LW_SHARED);
	b = hash_search(breakers, key, HASH_FIND, NULL);
	if (b != NULL && b->state != BREAKER_CLOSED && GetCurrentTimestamp() < retry_time(b))
	{
		open = true;
		*retry_at = retry_time(b);
	}
	LWLockRelease(shared->lock);
	return open;
}

/* billy_breaker_record counts one scan's outcome for org */
void
billy_breaker_record(const char *org, bool success)
{
	char		key[BILLY_MAX_ID];
	BillyBreaker *b;
	bool		found;
	TimestampTz now = GetCurrentTimestamp();

	if (shared == NULL)
		return;
	org_key(org, key);
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	b = hash_search(breakers, key, success ? HASH_FIND : HASH_ENTER_NULL, &found);
	if (b != NULL)
	{
		if (!success && !found)
		{
			b->state = BREAKER_CLOSED;
			b->consecutive_failures = 0;
			b->failures_total = 0;
			b->opened_at = 0;
			b->since = 0;
		}
		if (success)
		{
			b->state = BREAKER_CLOSED;
			b->consecutive_failures = 0;
		}
		else
		{
			b->consecutive_failures++;
			b->failures_total++;
			if (b->state == BREAKER_HALF_OPEN ||
				b->consecutive_failures >= billy_breaker_failures)
			{
				if (b->state != BREAKER_OPEN)
					b->opened_at = now;
				b->state = BREAKER_OPEN;
				b->since = now;
			}
		}
	}
	LWLockRelease(shared->lock);
}

/* billy_breaker_status: billy.breaker_status() */
Datum
billy_breaker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	BillyBreaker *b;

	billy_require_preload();
	InitMaterializedSRF(fcinfo, 0);

	LWLockAcquire(shared->lock, LW_SHARED);
	hash_seq_init(&seq, breakers);
	while ((b = hash_seq_search(&seq)) != NULL)
	{
		Datum		values[6];
		bool		nulls[6] = {0};

		values[0] = CStringGetTextDatum(b->org);
		values[1] = CStringGetTextDatum(b->state == BREAKER_CLOSED ? "closed" :
										b->state == BREAKER_OPEN ? "open" : "half_open");
		values[2] = Int32GetDatum(b->consecutive_failures);
		if (b->opened_at && b->state != BREAKER_CLOSED)
			values[3] = TimestampTzGetDatum(b->opened_at);
		else
			nulls[3] = true;
		if (b->since && b->state != BREAKER_CLOSED)
			values[4] = TimestampTzGetDatum(retry_time(b));
		else
			nulls[4] = true;
		values[5] = Int64GetDatum(b->failures_total);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(shared->lock);
	return (Datum) 0;
}

/*
 * billy_progress_begin takes a progress slot for a scan (reclaiming slots of
 * processes that died); -1 when all are taken, and the scan runs unseen.
 */
int
billy_progress_begin(const char *org, const char *resource, const char *mode)
{
	int			slot = -1;

	if (shared == NULL)
		return -1;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < PROGRESS_SLOTS; i++)
	{
		BillyProgress *p = &shared->progress[i];

		if (p->pid != 0 && p->pid != MyProcPid && kill(p->pid, 0) != 0)
			p->pid = 0;
		if (p->pid == 0)
		{
			memset(p, 0, sizeof(*p));
			p->pid = MyProcPid;
			strlcpy(p->org, org, sizeof(p->org));
			strlcpy(p->resource, resource, sizeof(p->resource));
			strlcpy(p->mode, mode, sizeof(p->mode));
			strlcpy(p->phase, "starting", sizeof(p->phase));
			p->started_at = GetCurrentTimestamp();
			slot = i;
			break;
		}
	}
	LWLockRelease(shared->lock);
	return slot;
}

void
billy_progress_update(int slot, const char *phase, int pages_done, int pages_total,
					  int64 rows_seen, int64 rows_written, int64 bytes)
{
	BillyProgress *p;

	if (slot < 0 || shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	p = &shared->progress[slot];
	if (p->pid == MyProcPid)
	{
		if (phase)
			strlcpy(p->phase, phase, sizeof(p->phase));
		p->pages_done = pages_done;
		p->pages_total = pages_total;
		p->rows_seen = rows_seen;
		p->rows_written = rows_written;
		p->bytes = bytes;
	}
	LWLockRelease(shared->lock);
}

void
billy_progress_end(int slot)
{
	if (slot < 0 || shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (shared->progress[slot].pid == MyProcPid)
		shared->progress[slot].pid = 0;
	LWLockRelease(shared->lock);
}

/* billy_sync_progress: billy.sync_progress_raw() */
Datum
billy_sync_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	BillyProgress snap[PROGRESS_SLOTS];

	billy_require_preload();
	InitMaterializedSRF(fcinfo, 0);

	LWLockAcquire(shared->lock, LW_SHARED);
	memcpy(snap, shared->progress, sizeof(snap));
	LWLockRelease(shared->lock);

	for (int i = 0; i < PROGRESS_SLOTS; i++)
	{
		Datum		values[11];
		bool		nulls[11] = {0};
		BillyProgress *p = &snap[i];

		if (p->pid == 0 || kill(p->pid, 0) != 0)
			continue;
		values[0] = Int32GetDatum(p->pid);
		values[1] = CStringGetTextDatum(p->org);
		values[2] = CStringGetTextDatum(p->resource);
		values[3] = CStringGetTextDatum(p->mode);
		values[4] = CStringGetTextDatum(p->phase);
		values[5] = TimestampTzGetDatum(p->started_at);
		values[6] = Int32GetDatum(p->pages_done);
		if (p->pages_total > 0)
			values[7] = Int32GetDatum(p->pages_total);
		else
			nulls[7] = true;
		values[8] = Int64GetDatum(p->rows_seen);
		values[9] = Int64GetDatum(p->rows_written);
		values[10] = Int64GetDatum(p->bytes);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
