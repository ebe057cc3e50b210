/*-------------------------------------------------------------------------
 *
 * budget.c
 *	  One API budget per organization for everything a role can make billy
 *	  ask Billy: reads with max_age and misses, billy.check_connection,
 *	  billy.api_get, and the worker's refreshes of what reads found stale.
 *
 * Billy limits calls per access token, and one organization has one token:
 * a reader that spends it starves the sync and the writes.  So every GET is
 * charged to a share of its organization's budget where it is issued
 * (http.c's run loop calls billy_budget_charge before each attempt,
 * retries included); a path added later is covered without doing anything.
 * A spent share raises an error (SQLSTATE 53400) before the request leaves.
 *
 *	  share     who                                   per minute
 *	  reader    roles outside billy_admin; the        billy.api_budget_per_minute
 *	            worker's cache_refresh jobs
 *	  admin     billy_admin members (and superusers)  billy.admin_api_budget_per_minute
 *	  exempt    the sync (worker or billy.sync_now),  not charged: bounded by
 *	            writes and their reconciliation       their own concurrency
 *
 * Each share is a token bucket per organization in shared memory: it holds
 * at most one minute's calls and refills continuously (on the cache's test
 * clock when one is set); 0 per minute refuses every call of that share.  Which organization a request belongs to comes
 * from its token: billy_load_token notes (organization, hash of the token)
 * in a small table of this process, and billy_http_request_new looks the
 * token up there.  A request with a token billy did not load (billy.connect
 * checking a new token) belongs to no organization and is not charged.
 *
 * Locking: the third LWLock of the "billy" tranche guards the buckets;
 * holders only do arithmetic.  Buckets are not persisted: a restart fills
 * them.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include <math.h>

#include "budget.h"
#include "module.h"
#include "clock.h"
#include "pagescan.h"

typedef struct BudgetBucket
{
	double		tokens;
	TimestampTz refilled_at;	/* 0: never used (full) */
	int64		spent;
	int64		refused;
} BudgetBucket;

typedef struct BudgetEntry
{
	char		org[BILLY_MAX_ID];	/* hash key */
	BudgetBucket share[BILLY_SHARE__COUNT];
} BudgetEntry;

/* a token this process loaded, by hash, and its organization */
typedef struct KnownToken
{
	uint64		hash;
	char		org[BILLY_MAX_ID];
} KnownToken;

#define KNOWN_TOKENS 32

int			billy_api_budget_per_minute = 60;
int			billy_admin_api_budget_per_minute = 600;
int			billy_max_organizations = 1000;

static LWLock *budget_lock = NULL;
static HTAB *budgets = NULL;
static KnownToken known[KNOWN_TOKENS];
static int	nknown = 0;
static int	next_known = 0;
static BillyShare process_share = BILLY_SHARE_DEFAULT;
static bool exempt_xact = false;
static bool charge_scans = false;	/* billy_budget_charge_scans */
static bool xact_callback_registered = false;

static const char *const share_names[BILLY_SHARE__COUNT] = {"exempt", "reader", "admin"};

/*
 * budget_define_settings: the readers' and the admins' shares, and how many
 * organizations fit in shared memory (their budgets and their breakers,
 * breaker.c), read only at server start
 */
static void
budget_define_settings(void)
{
	DefineCustomIntVariable("billy.api_budget_per_minute",
							"API calls per minute and organization that roles outside billy_admin may make billy spend: reads with max_age or misses, billy.check_connection, and the worker's refreshes ahead of reads.",
							"Charged where every GET is issued (budget.c). Once it is spent nothing is sent: a read answers the mirror's copy (fresh: false, stale_reason budget_spent); a miss, billy.check_connection and billy.api_get raise SQLSTATE 53400. 0 refuses them all and turns background refreshes off. Syncs and writes are not counted.",
							&billy_api_budget_per_minute,
							60, 0, 100000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.admin_api_budget_per_minute",
							"API calls per minute and organization that billy_admin members may make billy spend on reads, checks and billy.api_get.",
							"Their own share, apart from the readers' (billy.api_budget_per_minute); the sync and writes are not charged. 0 refuses them.",
							&billy_admin_api_budget_per_minute,
							600, 0, 1000000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("billy.max_organizations",
								"Organizations whose circuit breakers fit in shared memory.",
								NULL,
								&billy_max_organizations,
								1000, 1, 100000,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
}

static Size
budget_shmem_size(void)
{
	return hash_estimate_size(billy_max_organizations, sizeof(BudgetEntry));
}

/* budget_shmem_init: the budgets' table, under the tranche "billy budget" */
static void
budget_shmem_init(LWLockPadded *locks)
{
	HASHCTL		ctl;

	budget_lock = &locks[0].lock;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = BILLY_MAX_ID;
	ctl.entrysize = sizeof(BudgetEntry);
	budgets = ShmemInitHash("billy api budgets", billy_max_organizations,
							billy_max_organizations, &ctl,
							HASH_ELEM | HASH_STRINGS);
}

const BillyModule billy_budget_module = {
	.name = "budget",
	.define_settings = budget_define_settings,
	.shmem_size = budget_shmem_size,
	.lwlocks = 1,
	.shmem_init = budget_shmem_init,
};

static uint64
token_hash(const char *token)
{
	return hash_bytes_extended((const unsigned char *) token, strlen(token),
							   UINT64CONST(0x6275646765742121));
}

/*
 * billy_budget_note_token remembers that token opens org, for
 * billy_budget_org_for_token.  Only a hash of the token is kept.
 */
void
billy_budget_note_token(const char *org, const char *token)
{
	uint64		h;

	if (org == NULL || token == NULL)
		return;
	h = token_hash(token);
	for (int i = 0; i < nknown; i++)
		if (known[i].hash == h)
		{
			strlcpy(known[i].org, org, BILLY_MAX_ID);
			return;
		}
	known[next_known].hash = h;
	strlcpy(known[next_known].org, org, BILLY_MAX_ID);
	next_known = (next_known + 1) % KNOWN_TOKENS;
	nknown = Min(nknown + 1, KNOWN_TOKENS);
}

/* billy_budget_org_for_token: the organization a loaded token opens, or NULL */
const char *
billy_budget_org_for_token(const char *token)
{
	uint64		h;

	if (token == NULL || nknown == 0)
		return NULL;
	h = token_hash(token);
	for (int i = 0; i < nknown; i++)
		if (known[i].hash == h)
			return known[i].org;
	return NULL;
}

/*
 * billy_budget_set_process_share fixes the share of what this process asks
 * from now on: the worker sets it per job, a write executor to exempt.
 */
void
billy_budget_set_process_share(BillyShare share)
{
	process_share = share;
}

static void
budget_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		exempt_xact = false;
		charge_scans = false;
	}
}

/*
 * billy_budget_exempt_this_transaction: what this transaction asks until it
 * ends is a sync's (billy.sync_now in a session), not charged.
 */
void
billy_budget_exempt_this_transaction(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(budget_xact_callback, NULL);
		xact_callback_registered = true;
	}
	if (!charge_scans)
		exempt_xact = true;
}

/*
 * billy_budget_charge_scans: while on, a scan run for a reader (a read's
 * confirmation, cache_confirm.c) is charged like the read's own GETs: the scan's
 * billy_budget_exempt_this_transaction does nothing.  Returns the previous
 * value; commit and abort turn it off.
 */
bool
billy_budget_charge_scans(bool on)
{
	bool		was = charge_scans;

	if (!xact_callback_registered)
	{
		RegisterXactCallback(budget_xact_callback, NULL);
		xact_callback_registered = true;
	}
	charge_scans = on;
	return was;
}

/* current_share: whose share a call made now comes from */
static BillyShare
current_share(void)
{
	Oid			admin;

	if (exempt_xact)
		return BILLY_SHARE_EXEMPT;
	if (process_share != BILLY_SHARE_DEFAULT)
		return process_share;
	/* the role outside any SECURITY DEFINER function: SET ROLE counts */
	admin = get_role_oid("billy_admin", true);
	if (OidIsValid(admin) && has_privs_of_role(GetOuterUserId(), admin))
		return BILLY_SHARE_ADMIN;
	return BILLY_SHARE_READER;
}

/*
 * billy_budget_charge takes one call from org's share for the caller, or
 * raises when that share is spent (nothing is sent then).
 */
void
billy_budget_charge(const char *org)
{
	BillyShare	share;
	int			per_minute;
	char		key[BILLY_MAX_ID];
	BudgetEntry *e;
	BudgetBucket *b;
	bool		found;
	bool		allowed;
	TimestampTz now;
	double		wait_s = 0;

	if (org == NULL || budgets == NULL)
		return;
	share = current_share();
	if (share == BILLY_SHARE_EXEMPT)
		return;
	per_minute = share == BILLY_SHARE_ADMIN ? billy_admin_api_budget_per_minute
		: billy_api_budget_per_minute;

	memset(key, 0, sizeof(key));
	strlcpy(key, org, sizeof(key));
	now = GetCurrentTimestamp();
	LWLockAcquire(budget_lock, LW_EXCLUSIVE);
	e = hash_search(budgets, key, HASH_ENTER_NULL, &found);
	if (e == NULL)
	{
		/* more organizations than billy.max_organizations: not tracked */
		LWLockRelease(budget_lock);
		return;
	}
	if (!found)
		memset(e->share, 0, sizeof(e->share));
	b = &e->share[share];
	if (b->refilled_at == 0)
		b->tokens = per_minute;
	else
		b->tokens = Min((double) per_minute,
						b->tokens + (double) (now - b->refilled_at) / 1000000.0 * billy_cache_rate() * per_minute / 60.0);
	b->refilled_at = now;
	allowed = b->tokens >= 1.0;
	if (allowed)
	{
		b->tokens -= 1.0;
		b->spent++;
	}
	else
	{
		b->refused++;
		if (per_minute > 0)
			wait_s = (1.0 - b->tokens) * 60.0 / per_minute;
	}
	LWLockRelease(budget_lock);

	if (!allowed)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("the API budget of organization \"%s\" is spent", org),
				 errdetail("The %s share may make billy call Billy %d times a minute (%s); those calls are used up, and nothing was sent.",
						   share_names[share], per_minute,
						   share == BILLY_SHARE_ADMIN ? "billy.admin_api_budget_per_minute" : "billy.api_budget_per_minute"),
				 per_minute > 0 ?
				 errhint("Try again in %.0f s. Meanwhile reads answer the mirror's copy (fresh: false when it is older than asked), and the sync keeps it current.",
						 ceil(wait_s)) :
				 errhint("Reads answer the mirror's copy (fresh: false when it is older than asked); an administrator can raise %s.",
						 share == BILLY_SHARE_ADMIN ? "billy.admin_api_budget_per_minute" : "billy.api_budget_per_minute")));
}

/*
 * billy_api_budget: billy._api_budget() RETURNS SETOF record.  Each
 * organization's shares as they stand now: per minute, calls available,
 * spent and refused since the server started.
 */
PG_FUNCTION_INFO_V1(billy_api_budget);

Datum
billy_api_budget(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	BudgetEntry *e;
	TimestampTz now = GetCurrentTimestamp();

	billy_require_preload();
	InitMaterializedSRF(fcinfo, 0);

	LWLockAcquire(budget_lock, LW_SHARED);
	hash_seq_init(&seq, budgets);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		for (int s = BILLY_SHARE_READER; s < BILLY_SHARE__COUNT; s++)
		{
			BudgetBucket *b = &e->share[s];
			int			per_minute = s == BILLY_SHARE_ADMIN ? billy_admin_api_budget_per_minute
			: billy_api_budget_per_minute;
			double		available = b->refilled_at == 0 ? per_minute :
			Min((double) per_minute,
				b->tokens + (double) (now - b->refilled_at) / 1000000.0 * billy_cache_rate() * per_minute / 60.0);
			Datum		values[6];
			bool		nulls[6] = {0};

			values[0] = CStringGetTextDatum(e->org);
			values[1] = CStringGetTextDatum(share_names[s]);
			values[2] = Int32GetDatum(per_minute);
			values[3] = Int32GetDatum((int) floor(available));
			values[4] = Int64GetDatum(b->spent);
			values[5] = Int64GetDatum(b->refused);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	LWLockRelease(budget_lock);
	return (Datum) 0;
}
