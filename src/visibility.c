/*-------------------------------------------------------------------------
 *
 * visibility.c
 *	  Which organizations the current role may see: the two functions every
 *	  row-level-security policy of the mirror calls, cached per backend.
 *
 * A policy reads
 *	  (SELECT billy._sees_all()) OR organization_id = ANY ((SELECT billy._visible_orgs())::text[])
 * so both run once per query, but once per query is every query: an MCP tool
 * call or a dashboard read is a query of a fraction of a millisecond, and
 * evaluating grants and role memberships in SQL tripled its cost.  Here they
 * are computed once and kept until something they depend on changes:
 *
 *	- the role (SET ROLE, SECURITY DEFINER): part of the cache key;
 *	- role memberships and role attributes: syscache invalidation callbacks
 *	  on pg_auth_members and pg_authid reset the cache;
 *	- billy.organization_grants: a statement trigger marks the transaction,
 *	  and at COMMIT a generation counter in shared memory is bumped, so every
 *	  backend recomputes at its next query (the committing one at once);
 *	- the Supabase JWT claims (request.jwt.claims, per request under
 *	  PostgREST) and billy.jwt_roles: compared on every call, a string each.
 *
 * Without shared memory (billy not preloaded) nothing is cached.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "json.h"
#include "module.h"
#include "visibility.h"

PG_FUNCTION_INFO_V1(billy_sees_all);
PG_FUNCTION_INFO_V1(billy_visible_orgs);
PG_FUNCTION_INFO_V1(billy_grants_changed);

typedef struct VisibilityCache
{
	bool		valid;
	Oid			userid;
	uint64		generation;
	char	   *claims;			/* request.jwt.claims it was computed with */
	char	   *jwt_roles;		/* billy.jwt_roles it was computed with */
	bool		sees_all;
	ArrayType  *orgs;			/* text[], in TopMemoryContext */
} VisibilityCache;

/* settings (visibility_define_settings) */
char	   *billy_jwt_roles = NULL;

/* the grants' generation, in shared memory (NULL: not preloaded) */
static pg_atomic_uint64 *grants_generation = NULL;

static void
visibility_define_settings(void)
{
	DefineCustomStringVariable("billy.jwt_roles",
							   "Roles whose Supabase JWT claim billy_organizations decides which organizations they see.",
							   "Comma-separated role names; only roles a request runs as under PostgREST belong here.",
							   &billy_jwt_roles,
							   "authenticated",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);
}

static Size
visibility_shmem_size(void)
{
	return MAXALIGN(sizeof(pg_atomic_uint64));
}

static void
visibility_shmem_init(LWLockPadded *locks)
{
	bool		found;

	grants_generation = ShmemInitStruct("billy grants generation",
										sizeof(pg_atomic_uint64), &found);
	if (!found)
		pg_atomic_init_u64(grants_generation, 0);
}

const BillyModule billy_visibility_module = {
	.name = "visibility",
	.define_settings = visibility_define_settings,
	.shmem_size = visibility_shmem_size,
	.shmem_init = visibility_shmem_init,
};

static VisibilityCache cache;
static bool callbacks_registered = false;
static bool bump_at_commit = false;

static void
reset_cache(Datum arg, int cacheid, uint32 hashvalue)
{
	cache.valid = false;
}

static void
visibility_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
	{
		if (bump_at_commit && grants_generation != NULL)
			pg_atomic_fetch_add_u64(grants_generation, 1);
		bump_at_commit = false;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		if (bump_at_commit)
			cache.valid = false;	/* it saw grants that never were */
		bump_at_commit = false;
	}
}

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	CacheRegisterSyscacheCallback(AUTHMEMMEMROLE, reset_cache, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, reset_cache, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, reset_cache, (Datum) 0);
	RegisterXactCallback(visibility_xact_callback, NULL);
	callbacks_registered = true;
}

static uint64
current_generation(void)
{
	return grants_generation ? pg_atomic_read_u64(grants_generation) : 0;
}

static bool
same_string(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* is_jwt_role says whether the role's name is listed in billy.jwt_roles */
static bool
is_jwt_role(Oid userid)
{
	char	   *name = GetUserNameFromId(userid, true);
	char	   *list;
	List	   *names;
	ListCell   *lc;
	bool		found = false;

	if (name == NULL || billy_jwt_roles == NULL || billy_jwt_roles[0] == '\0')
		return false;
	list = pstrdup(billy_jwt_roles);
	if (!SplitIdentifierString(list, ',', &names))
		return false;
	foreach(lc, names)
		if (strcmp((char *) lfirst(lc), name) == 0)
		found = true;
	return found;
}

/*
 * claim_orgs appends the organization ids of a JWT claim (billy_organizations
 * at the top level or in app_metadata); a malformed claim adds nothing.
 */
static void
claim_orgs(const char *claims, List **orgs)
{
	static const char *const top[] = {"billy_organizations", "app_metadata"};
	static const char *const inner[] = {"billy_organizations"};
	char	   *values[2];
	char	   *arrays[2] = {NULL, NULL};

	if (claims == NULL || claims[0] == '\0')
		return;
	if (!billy_json_top_fields(claims, strlen(claims), top, 2, values))
		return;
	arrays[0] = values[0];
	if (values[1] != NULL)
	{
		char	   *v[1];

		if (billy_json_top_fields(values[1], strlen(values[1]), inner, 1, v))
			arrays[1] = v[0];
	}
	for (int i = 0; i < 2; i++)
	{
		Jsonb	   *jb;
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;

		if (arrays[i] == NULL || arrays[i][0] != '[' ||
			billy_json_check(arrays[i], strlen(arrays[i])) != NULL)
			continue;
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(arrays[i])));
		it = JsonbIteratorInit(&jb->root);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			if (tok == WJB_ELEM && v.type == jbvString)
				*orgs = lappend(*orgs, pnstrdup(v.val.string.val, v.val.string.len));
	}
}

/*
 * compute fills the cache for the current role: admin or superuser or a
 * '*' grant sees all; otherwise the grants of its roles and its JWT claim.
 */
static void
compute(Oid userid, const char *claims)
{
	Oid			admin = get_role_oid("billy_admin", true);
	bool		sees_all;
	List	   *orgs = NIL;
	ListCell   *lc;
	Datum	   *elems;
	int			n = 0;
	MemoryContext old;

	sees_all = superuser_arg(userid) || has_bypassrls_privilege(userid) ||
		(OidIsValid(admin) && is_member_of_role(userid, admin));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	if (SPI_execute("SELECT role, organization_id FROM billy.organization_grants",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "billy: could not read billy.organization_grants");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		char	   *role = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char	   *org = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		Oid			roleid = role ? get_role_oid(role, true) : InvalidOid;

		if (!OidIsValid(roleid) || org == NULL || !is_member_of_role(userid, roleid))
			continue;
		if (strcmp(org, "*") == 0)
			sees_all = true;
		else
			orgs = lappend(orgs, pstrdup(org));
	}
	SPI_finish();

	if (is_jwt_role(userid))
		claim_orgs(claims, &orgs);

	elems = palloc(sizeof(Datum) * Max(list_length(orgs), 1));
	foreach(lc, orgs)
		elems[n++] = CStringGetTextDatum((char *) lfirst(lc));

	old = MemoryContextSwitchTo(TopMemoryContext);
	if (cache.orgs)
		pfree(cache.orgs);
	if (cache.claims)
		pfree(cache.claims);
	if (cache.jwt_roles)
		pfree(cache.jwt_roles);
	cache.orgs = construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
	cache.claims = claims ? pstrdup(claims) : NULL;
	cache.jwt_roles = billy_jwt_roles ? pstrdup(billy_jwt_roles) : NULL;
	MemoryContextSwitchTo(old);
	cache.sees_all = sees_all;
	cache.userid = userid;
}

/* ensure_cache makes the cache describe the current role, now */
static void
ensure_cache(void)
{
	Oid			userid = GetUserId();
	const char *claims = GetConfigOption("request.jwt.claims", true, false);
	uint64		generation;

	register_callbacks();
	generation = current_generation();
	if (cache.valid && cache.userid == userid && cache.generation == generation &&
		same_string(cache.claims, claims) && same_string(cache.jwt_roles, billy_jwt_roles) &&
		grants_generation != NULL)
		return;
	cache.valid = false;
	compute(userid, claims);
	cache.generation = generation;
	cache.valid = true;
}

/* billy_sees_all: billy._sees_all() RETURNS boolean */
Datum
billy_sees_all(PG_FUNCTION_ARGS)
{
	ensure_cache();
	PG_RETURN_BOOL(cache.sees_all);
}

/* billy_visible_orgs: billy._visible_orgs() RETURNS text[] */
Datum
billy_visible_orgs(PG_FUNCTION_ARGS)
{
	ensure_cache();
	PG_RETURN_ARRAYTYPE_P(DatumGetArrayTypePCopy(PointerGetDatum(cache.orgs)));
}

/*
 * billy_org_visible says whether row-level security lets the current role
 * see org's rows: what the policies ask of billy._sees_all and
 * billy._visible_orgs, answered from the same cache without SQL.
 */
bool
billy_org_visible(const char *org)
{
	Datum	   *elems;
	int			n;

	ensure_cache();
	if (cache.sees_all)
		return true;
	deconstruct_array(cache.orgs, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &n);
	for (int i = 0; i < n; i++)
	{
		text	   *t = DatumGetTextPP(elems[i]);

		if (VARSIZE_ANY_EXHDR(t) == strlen(org) &&
			memcmp(VARDATA_ANY(t), org, VARSIZE_ANY_EXHDR(t)) == 0)
			return true;
	}
	return false;
}

/*
 * billy_grants_changed: the statement trigger on billy.organization_grants.
 * This backend forgets at once; the others when the change commits.
 */
Datum
billy_grants_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "billy: _grants_changed must be called as a trigger");
	register_callbacks();
	cache.valid = false;
	bump_at_commit = true;
	return PointerGetDatum(NULL);
}
