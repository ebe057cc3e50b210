/*-------------------------------------------------------------------------
 *
 * billy.c
 *	  Module load: settings (GUCs), shared memory, worker registration, and
 *	  the privilege helpers every SQL-callable function relies on.
 *
 * billy must be listed in shared_preload_libraries: the background worker and
 * the shared-memory state only exist then.  Loaded any other way the library
 * still defines its settings, so that SET and SHOW behave, but every function
 * that needs the worker or the API refuses with a hint (billy_require_preload).
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include <curl/curl.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "breaker.h"
#include "budget.h"
#include "cache.h"
#include "testclock.h"
#include "mcp.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* settings */
char	   *billy_api_url = NULL;
int			billy_http_timeout_ms = 30000;
int			billy_connect_timeout_ms = 10000;
int			billy_max_response_bytes = 64 * 1024 * 1024;
int			billy_max_retries = 4;
int			billy_max_retry_wait_ms = 30000;
char	   *billy_database_name = NULL;
char	   *billy_key_file = NULL;
char	   *billy_old_key_file = NULL;
char	   *billy_token_store = NULL;
int			billy_worker_naptime_ms = 10000;
int			billy_sync_concurrency = 4;
int			billy_sync_page_size = 1000;
int			billy_sync_verify_limit = 1000;
int			billy_hot_sync_interval = 300;
int			billy_changes_retention_days = 90;
int			billy_breaker_failures = 5;
int			billy_breaker_cooldown_ms = 60000;
int			billy_max_organizations = 1000;
char	   *billy_jwt_roles = NULL;
bool		billy_enable_writes = false;
int			billy_reconcile_delay_ms = 5000;
int			billy_import_rate = 5;
int			billy_import_concurrency = 2;

bool		billy_preloaded = false;
BillyWorkerState *billy_worker_state = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static bool check_api_url(char **newval, void **extra, GucSource source);
static bool check_database_name(char **newval, void **extra, GucSource source);
static bool check_token_store(char **newval, void **extra, GucSource source);
static void billy_shmem_request(void);
static void billy_shmem_startup(void);

/*
 * _PG_init defines the settings, reserves the "billy." prefix, and, when
 * loaded at server start, asks for shared memory and registers the worker.
 */
void
_PG_init(void)
{
	DefineCustomStringVariable("billy.api_url",
							   "Base URL of Billy's API v2.",
							   "Used when an organization has no URL of its own. "
							   "Only http and https are accepted.",
							   &billy_api_url,
							   "https://api.billysbilling.com/v2",
							   PGC_SUSET, 0,
							   check_api_url, NULL, NULL);

	DefineCustomIntVariable("billy.http_timeout_ms",
							"Total time allowed for one HTTP request to Billy.",
							NULL,
							&billy_http_timeout_ms,
							30000, 100, 600000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.connect_timeout_ms",
							"Time allowed to establish a connection to Billy.",
							NULL,
							&billy_connect_timeout_ms,
							10000, 10, 120000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.max_response_bytes",
							"Largest response body accepted from Billy.",
							"A larger response is refused and the request fails.",
							&billy_max_response_bytes,
							64 * 1024 * 1024, 1024, 1024 * 1024 * 1024,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.max_retries",
							"How often a failed GET is retried.",
							"Retries happen on connection errors, timeouts and "
							"HTTP 429, 502, 503 and 504, with exponential backoff "
							"and full jitter.  Writes are never retried blindly.",
							&billy_max_retries,
							4, 0, 20,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.max_retry_wait_ms",
							"Longest wait before one retry, Retry-After included.",
							NULL,
							&billy_max_retry_wait_ms,
							30000, 0, 600000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomStringVariable("billy.key_file",
							   "File holding the 256-bit key that encrypts access tokens.",
							   "32 raw bytes or 64 hexadecimal characters, readable "
							   "by the server and by nobody else.  Set it in "
							   "postgresql.conf or with ALTER SYSTEM.",
							   &billy_key_file,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("billy.old_key_file",
							   "Previous token key, read only to decrypt during billy.rotate_key().",
							   NULL,
							   &billy_old_key_file,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("billy.token_store",
							   "Where access tokens are stored: auto, key_file or vault.",
							   "auto uses Supabase Vault when the database has it, "
							   "else the key file.",
							   &billy_token_store,
							   "auto",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   check_token_store, NULL, NULL);

	DefineCustomIntVariable("billy.worker_naptime_ms",
							"Longest time the worker sleeps when it has nothing to do.",
							"Queued jobs wake it at once; this bounds how late a "
							"job scheduled for later starts.",
							&billy_worker_naptime_ms,
							10000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.sync_concurrency",
							"Pages a sync downloads at once.",
							"Page 1 tells the page count; the rest are fetched this many at a time.",
							&billy_sync_concurrency,
							4, 1, 32,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.sync_page_size",
							"Records per page a sync asks Billy for (Billy's maximum is 1000).",
							NULL,
							&billy_sync_page_size,
							1000, 1, 1000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.sync_verify_limit",
							"Records missing from a complete scan that are looked up one by one before being marked deleted.",
							"More missing records than this wait for the next scan.",
							&billy_sync_verify_limit,
							1000, 0, 1000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.hot_sync_interval",
							"How often unpaid and draft invoices and bills are scanned between full syncs.",
							"0 turns hot scans off.",
							&billy_hot_sync_interval,
							300, 0, 86400,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.changes_retention_days",
							"Days billy.changes and finished sync runs are kept.",
							NULL,
							&billy_changes_retention_days,
							90, 1, 36500,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

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

	DefineCustomStringVariable("billy.jwt_roles",
							   "Roles whose Supabase JWT claim billy_organizations decides which organizations they see.",
							   "Comma-separated role names; only roles a request runs as under PostgREST belong here.",
							   &billy_jwt_roles,
							   "authenticated",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);

	/*
	 * Settings read only at server start exist only when billy is loaded
	 * then: defining them later is an error (and meaningless).
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomStringVariable("billy.database_name",
								   "Database the billy background worker serves.",
								   "billy must be installed in this database "
								   "(CREATE EXTENSION billy).",
								   &billy_database_name,
								   "postgres",
								   PGC_POSTMASTER, 0,
								   check_database_name, NULL, NULL);

		DefineCustomIntVariable("billy.max_organizations",
								"Organizations whose circuit breakers fit in shared memory.",
								NULL,
								&billy_max_organizations,
								1000, 1, 100000,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
	}

	billy_mcp_define_settings();
	billy_cache_define_settings();
	billy_cache_confirm_define_settings();
	billy_cache_counters_define_settings();
	billy_budget_define_settings();

	DefineCustomBoolVariable("billy.enable_writes",
							 "Allows writes to Billy (invoices, contacts, payments, imports...).",
							 "Off by default.  Only a superuser or the server configuration "
							 "turns it on; background imports and resends need it in the "
							 "configuration, not just in a session.",
							 &billy_enable_writes,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("billy.reconcile_delay_ms",
							"How long after a write was sent the worker waits before it looks the record up in Billy when the outcome is unknown, and before it looks again after sending it again.",
							"Set it above the longest time Billy may take to process a write. Doubles with each further unknown outcome of the same write.",
							&billy_reconcile_delay_ms,
							5000, 0, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.import_rate",
							"Most records per second a CSV import writes to Billy.",
							NULL,
							&billy_import_rate,
							5, 1, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("billy.import_concurrency",
							"Most requests a CSV import has in flight at once.",
							NULL,
							&billy_import_concurrency,
							2, 1, 16,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("billy");

	if (!process_shared_preload_libraries_in_progress)
		return;

	billy_preloaded = true;

	/*
	 * libcurl's global state (OpenSSL among it) is set up once, before any
	 * child process is forked, as curl requires of multi-process programs.
	 */
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("billy could not initialize libcurl")));

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = billy_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = billy_shmem_startup;

	billy_register_worker();
}

/*
 * check_api_url accepts only absolute http or https URLs: the token is sent
 * to whatever this names, so nothing else (file:, ftp:, ...) may sneak in.
 */
static bool
check_api_url(char **newval, void **extra, GucSource source)
{
	const char *url = *newval;

	if (url == NULL)
		return true;
	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
	{
		GUC_check_errdetail("The URL must start with https:// or http://.");
		return false;
	}
	for (const char *p = url; *p; p++)
	{
		if ((unsigned char) *p <= ' ' || *p == '?' || *p == '#' || *p == '@')
		{
			GUC_check_errdetail("The URL must not contain spaces, control characters, user information, a query or a fragment.");
			return false;
		}
	}
	if (strlen(url) > 1024)
	{
		GUC_check_errdetail("The URL is longer than 1024 characters.");
		return false;
	}
	return true;
}

static bool
check_database_name(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
	{
		GUC_check_errdetail("billy.database_name must name a database.");
		return false;
	}
	if (strlen(*newval) >= NAMEDATALEN)
	{
		GUC_check_errdetail("A database name is shorter than %d bytes.", NAMEDATALEN);
		return false;
	}
	return true;
}

static bool
check_token_store(char **newval, void **extra, GucSource source)
{
	if (*newval != NULL &&
		strcmp(*newval, "auto") != 0 && strcmp(*newval, "key_file") != 0 &&
		strcmp(*newval, "vault") != 0)
	{
		GUC_check_errdetail("billy.token_store is one of auto, key_file and vault.");
		return false;
	}
	return true;
}

/*
 * billy_shmem_request reserves the worker state and its lock (PostgreSQL 15's
 * shmem_request_hook, the pattern pg_stat_statements follows).
 */
static void
billy_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(MAXALIGN(sizeof(BillyWorkerState)));
	RequestAddinShmemSpace(billy_breaker_shmem_size());
	RequestAddinShmemSpace(billy_budget_shmem_size());
	RequestAddinShmemSpace(billy_testclock_shmem_size());
	billy_cache_counters_shmem_request();
	RequestNamedLWLockTranche("billy", 3);
}

/*
 * billy_shmem_forget runs when the postmaster lets go of shared memory (at
 * shutdown, and before a crash restart creates it anew): registered after
 * the segment's own detach, it runs before it.
 */
static void
billy_shmem_forget(int code, Datum arg)
{
	billy_worker_state = NULL;
}

static void
billy_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	billy_worker_state = ShmemInitStruct("billy worker state",
										 sizeof(BillyWorkerState), &found);
	if (!found)
	{
		memset(billy_worker_state, 0, sizeof(BillyWorkerState));
		billy_worker_state->lock = &(GetNamedLWLockTranche("billy"))->lock;
		pg_atomic_init_u64(&billy_worker_state->grants_generation, 0);
		pg_atomic_init_u32(&billy_worker_state->audit_queued, 0);
		strlcpy(billy_worker_state->state, "not started",
				sizeof(billy_worker_state->state));
	}
	billy_breaker_shmem_init();
	billy_budget_shmem_init();
	billy_testclock_shmem_init();
	billy_cache_counters_shmem_init();
	LWLockRelease(AddinShmemInitLock);
	/* the postmaster logs after detaching: hooks must not read it then */
	on_shmem_exit(billy_shmem_forget, (Datum) 0);
}

/*
 * billy_require_preload stops a function that needs the worker, shared
 * memory or libcurl's global state when billy was loaded some other way.
 */
void
billy_require_preload(void)
{
	if (!billy_preloaded || billy_worker_state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("billy is not loaded through shared_preload_libraries"),
				 errdetail("billy needs its background worker and shared memory, which exist only when the server loads it at start."),
				 errhint("Add 'billy' to shared_preload_libraries in postgresql.conf and restart the server.")));
}

PG_FUNCTION_INFO_V1(billy_invalidate_cached);

/*
 * billy_invalidate_cached: billy._invalidate_cached(), the statement trigger
 * of tables that backends keep copies of in C (billy.mcp_tools, the
 * organizations).  A relcache invalidation of the table reaches every
 * backend's relcache callbacks when the change commits, this one's at once.
 */
Datum
billy_invalidate_cached(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("billy._invalidate_cached() runs only as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

/*
 * The extension owner, kept per backend: billy_become_owner runs on hot
 * paths (every MCP call's audit entry), and pg_extension has no syscache,
 * so finding the owner is two catalog index scans.  pg_extension sends no
 * invalidation either; what changes the owner also touches the schema or
 * the role: DROP and CREATE EXTENSION drop and create schema billy, REASSIGN
 * OWNED gives the schema to the new owner along with the extension, and a
 * dropped role is gone from pg_authid.  Syscache callbacks on both forget.
 */
static Oid	cached_owner = InvalidOid;
static bool owner_callbacks_registered = false;

static void
owner_cache_reset(Datum arg, int cacheid, uint32 hashvalue)
{
	cached_owner = InvalidOid;
}

/*
 * billy_extension_owner returns the role that owns the billy extension: the
 * only role that may read the credential table.
 */
Oid
billy_extension_owner(void)
{
	Oid			ext_oid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			owner = InvalidOid;

	if (OidIsValid(cached_owner))
		return cached_owner;
	if (!owner_callbacks_registered)
	{
		CacheRegisterSyscacheCallback(NAMESPACEOID, owner_cache_reset, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, owner_cache_reset, (Datum) 0);
		owner_callbacks_registered = true;
	}

	ext_oid = get_extension_oid("billy", false);
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ext_oid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		owner = ((Form_pg_extension) GETSTRUCT(tuple))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(owner))
		elog(ERROR, "billy extension has no owner");
	cached_owner = owner;
	return owner;
}

/*
 * billy_become_owner makes what follows run as the extension owner, the way
 * pg_cron writes its metadata: the caller's rights were checked by GRANT
 * EXECUTE; private tables are reached as the owner.  Like a SECURITY
 * DEFINER function, it also pins search_path to pg_catalog, so nothing the
 * caller put on the path is resolved with the owner's rights.  An error
 * restores both at transaction abort.
 */
void
billy_become_owner(BillyOwner *owner)
{
	GetUserIdAndSecContext(&owner->saved_userid, &owner->saved_sec_context);
	owner->guc_nest_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	SetUserIdAndSecContext(billy_extension_owner(),
						   owner->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

void
billy_end_owner(BillyOwner *owner)
{
	SetUserIdAndSecContext(owner->saved_userid, owner->saved_sec_context);
	AtEOXact_GUC(true, owner->guc_nest_level);
}

/*
 * billy_effective_api_url picks an organization's own URL, else the setting.
 */
const char *
billy_effective_api_url(const char *url)
{
	if (url != NULL && url[0] != '\0')
		return url;
	return billy_api_url;
}
