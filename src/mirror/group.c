/*-------------------------------------------------------------------------
 *
 * mirror/group.c
 *	  An organization's resources scanned together (billy_sync_group): the
 *	  pages of several scans share one run of the HTTP client's slots
 *	  (billy.sync_concurrency), so a resource of one page no longer costs a
 *	  round trip of its own, and the tail of one scan overlaps the head of
 *	  the next.
 *
 * Each scan is what billy_sync_one does alone (scan.c): its run recorded as
 * running before its first page, each page committed whole as it arrives,
 * deletions decided only by a complete scan, its outcome in
 * billy.sync_runs and billy.sync_state, the breaker told.  What the group
 * adds:
 *
 *	- order: slots go to the scans in the order given (the catalog's
 *	  sync_order); a scan is opened (its run begun, the mirror's hashes
 *	  loaded) only when the scans before it have no page to ask for now, so
 *	  the next resource starts while the one before waits for its page 1 or
 *	  finishes its last pages.  No resource's rows refer to another's (the
 *	  foreign keys join a record to its own children), so the order is one
 *	  of priority, not of correctness, but for a resource Billy lists only
 *	  per parent (bank lines per bank account): it reads its parents from
 *	  the mirror, so it opens when the scans before it have ended;
 *	- isolation: a scan that fails is rolled back to its last committed
 *	  page and recorded as failed; the others go on.  An error outside any
 *	  scan (an interrupt) fails those not finished;
 *	- the breaker: each scan asks it before it opens, as a queued job
 *	  would (but the one whose job already did); one it holds back is
 *	  postponed;
 *	- look-ups: a scan that has records to look up one by one (missing from
 *	  its pages) is closed after the run, which cannot run requests inside
 *	  its own callbacks.
 *
 * The caller hears of each scan as it ends (done): the worker finishes that
 * scan's job there (sync.c).
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "access/xact.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "breaker.h"
#include "budget.h"
#include "http.h"
#include "jobs.h"
#include "mirror/mirror.h"
#include "mirror/mirror_internal.h"
#include "resources.h"

enum
{
	MEMBER_NEW,
	MEMBER_OPEN,
	MEMBER_ENDED
};

typedef struct Member
{
	BillySyncTarget *target;
	SyncScan   *scan;
	int			state;
} Member;

typedef struct SyncGroup
{
	const char *org;
	bool		hot;
	Member	   *members;
	int			n;
	BillySyncTargetDone done;
	void	   *arg;
	MemoryContext cxt;
} SyncGroup;

/*
 * release frees a member's scan once none of its requests is in flight (a
 * scan that failed may still have some: their answers are dropped)
 */
static void
release(Member *m)
{
	if (m->scan != NULL && m->scan->in_flight == 0)
	{
		mirror_scan_end(m->scan, m->target->error ? NULL : &m->target->result);
		m->scan = NULL;
	}
}

/* ended: a member's outcome is set; the caller hears of it */
static void
ended(SyncGroup *g, Member *m)
{
	m->state = MEMBER_ENDED;
	release(m);
	g->done(m->target, g->arg);
}

/*
 * failed records the error being handled (in a PG_CATCH) as the member's:
 * the transaction rolled back, its scan recorded as failed.
 */
static void
failed(SyncGroup *g, Member *m)
{
	MemoryContext old = MemoryContextSwitchTo(g->cxt);

	m->target->error = CopyErrorData();
	FlushErrorState();
	MemoryContextSwitchTo(old);
	billy_job_abort_and_continue();
	if (m->scan != NULL)
		mirror_scan_fail(m->scan, m->target->error);
	ended(g, m);
}

/* open_member opens a member's scan; false when it ended instead */
static bool
open_member(SyncGroup *g, Member *m)
{
	TimestampTz retry_at = 0;

	if (!m->target->allowed && !billy_breaker_allows(g->org, &retry_at))
	{
		m->target->postpone_until = retry_at;
		ended(g, m);
		return false;
	}
	PG_TRY();
	{
		m->scan = mirror_scan_new(g->org, m->target->resource, g->hot, BILLY_COMMIT_WORKER,
								  m->target->job_id, false);
		mirror_scan_open(m->scan);
		m->state = MEMBER_OPEN;
	}
	PG_CATCH();
	{
		failed(g, m);
		return false;
	}
	PG_END_TRY();
	return true;
}

/* close_member closes a member whose pages are all read */
static void
close_member(SyncGroup *g, Member *m)
{
	PG_TRY();
	{
		mirror_scan_close(m->scan);
	}
	PG_CATCH();
	{
		failed(g, m);
		return;
	}
	PG_END_TRY();
	ended(g, m);
}

/* waits_for_parents: member i is scoped and a member before it has not ended */
static bool
waits_for_parents(SyncGroup *g, int i)
{
	const BillyResource *res = billy_resource(g->members[i].target->resource);

	if (res == NULL || res->scope_param == NULL)
		return false;
	for (int j = 0; j < i; j++)
		if (g->members[j].state != MEMBER_ENDED)
			return true;
	return false;
}

/* group_next: the next page to ask for, by the members' order */
static BillyHttpRequest *
group_next(void *arg)
{
	SyncGroup  *g = arg;

	for (int i = 0; i < g->n; i++)
	{
		Member	   *m = &g->members[i];
		BillyHttpRequest *req;

		/*
		 * a resource listed per parent reads its parents from the mirror
		 * (scope_source: bank lines, the bank accounts): it waits for the
		 * scans before it to end
		 */
		if (m->state == MEMBER_NEW && waits_for_parents(g, i))
			continue;
		if (m->state == MEMBER_NEW && !open_member(g, m))
			continue;
		if (m->state != MEMBER_OPEN)
			continue;
		req = mirror_scan_next(m->scan);
		if (req != NULL)
			return req;
	}
	return NULL;
}

/* group_page_done: a page of one member, stored; the member closed when done */
static void
group_page_done(BillyHttpRequest *req, void *arg)
{
	SyncGroup  *g = arg;
	SyncScan   *scan = ((ScanPage *) req->arg)->scan;
	Member	   *volatile m = NULL;

	for (int i = 0; i < g->n; i++)
		if (g->members[i].scan == scan)
			m = &g->members[i];
	Assert(m != NULL);
	if (m->state == MEMBER_ENDED)
	{
		/* the answer of a scan that failed meanwhile */
		scan->in_flight--;
		mirror_scan_free_request(req);
		release(m);
		return;
	}
	PG_TRY();
	{
		mirror_scan_page_done(req, scan);
	}
	PG_CATCH();
	{
		failed(g, m);
		return;
	}
	PG_END_TRY();
	if (mirror_scan_listed(scan) && mirror_scan_missing(scan) == 0)
		close_member(g, m);
}

/*
 * billy_sync_group scans the targets' resources of one organization
 * together, in the worker (each page committed); see the file header.
 * Targets marked allowed have passed the breaker.  Each
 * target's outcome (error, postpone_until, result) is set and done called
 * as its scan ends.
 */
void
billy_sync_group(const char *org, BillySyncTarget *targets, int n, bool hot,
				 BillySyncTargetDone done, void *arg)
{
	SyncGroup  *g;
	MemoryContext cxt;

	cxt = AllocSetContextCreate(TopMemoryContext, "billy sync group", ALLOCSET_SMALL_SIZES);
	g = MemoryContextAllocZero(cxt, sizeof(SyncGroup));
	g->cxt = cxt;
	g->org = MemoryContextStrdup(cxt, org);
	g->hot = hot;
	g->n = n;
	g->done = done;
	g->arg = arg;
	g->members = MemoryContextAllocZero(cxt, sizeof(Member) * n);
	for (int i = 0; i < n; i++)
		g->members[i].target = &targets[i];

	billy_budget_exempt_this_transaction();
	PG_TRY();
	{
		for (;;)
		{
			bool		waiting = false;

			billy_http_run_fed(billy_sync_concurrency, group_next, g, group_page_done, g);
			/* those with records to look up one by one */
			for (int i = 0; i < n; i++)
				if (g->members[i].state == MEMBER_OPEN)
					close_member(g, &g->members[i]);
			/* and those that waited for them (waits_for_parents) */
			for (int i = 0; i < n; i++)
				waiting |= (g->members[i].state == MEMBER_NEW);
			if (!waiting)
				break;
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		for (int i = 0; i < n; i++)
		{
			Member	   *m = &g->members[i];

			if (m->state == MEMBER_ENDED)
				continue;
			m->target->error = edata;
			billy_job_abort_and_continue();
			if (m->scan != NULL)
			{
				mirror_scan_fail(m->scan, edata);
				/* the run that had its requests is over */
				m->scan->in_flight = 0;
			}
			ended(g, m);
		}
		MemoryContextSwitchTo(CurTransactionContext);
		MemoryContextSetParent(cxt, CurTransactionContext);
		ReThrowError(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(CurTransactionContext);
	/* the targets' errors live on in the caller's hands: the context stays */
	MemoryContextSetParent(cxt, CurTransactionContext);
}
