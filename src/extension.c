/*-------------------------------------------------------------------------
 *
 * extension.c
 *	  The extension as every concern sees it: whether it was preloaded, its
 *	  owner and the switch to the owner's rights, and the trigger that drops
 *	  what backends keep in C.
 *
 * billy must be listed in shared_preload_libraries: the background worker and
 * the shared-memory state only exist then.  Loaded any other way the library
 * still defines its settings, so that SET and SHOW behave, but every function
 * that needs the worker or the API refuses with a hint (billy_require_preload).
 *
 * This file sits at the bottom of the layers: it uses no other file of
 * billy's.  The composition root (_PG_init, the modules) is billy.c.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/syscache.h"

bool		billy_preloaded = false;
bool		billy_shmem_ready = false;

/*
 * billy_require_preload stops a function that needs the worker, shared
 * memory or libcurl's global state when billy was loaded some other way.
 */
void
billy_require_preload(void)
{
	if (!billy_preloaded || !billy_shmem_ready)
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
