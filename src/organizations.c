/*-------------------------------------------------------------------------
 *
 * organizations.c
 *	  Connecting Billy organizations: credentials stored sealed, fetched
 *	  only by the extension owner, rotated on demand.
 *
 * billy.connect(token) asks Billy which organization the token opens
 * (GET /organization), stores that organization in billy.organizations and
 * the token in billy._credentials: sealed with the key file (crypto.c), or
 * in Supabase Vault when billy.token_store says so.  billy._credentials is
 * readable by no role but the extension owner; the functions here switch to
 * that owner for the few statements that touch it, after EXECUTE rights were
 * checked the usual way.
 *
 * The token never leaves these functions except in the X-Access-Token
 * header (http.c): it is not logged, not in any error, not returned.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "budget.h"
#include "crypto.h"
#include "http.h"
#include "jobs.h"
#include "json.h"
#include "module.h"
#include "organizations.h"
#include "sqlexec.h"
#include "visibility.h"

PG_FUNCTION_INFO_V1(billy_connect);
PG_FUNCTION_INFO_V1(billy_disconnect);
PG_FUNCTION_INFO_V1(billy_check_connection);
PG_FUNCTION_INFO_V1(billy_rotate_key);

/* settings (organizations_define_settings) */
char	   *billy_api_url = NULL;
char	   *billy_key_file = NULL;
char	   *billy_old_key_file = NULL;
char	   *billy_token_store = NULL;

static bool check_api_url(char **newval, void **extra, GucSource source);
static bool check_token_store(char **newval, void **extra, GucSource source);
static void run_refresh_organization(BillyJob *job);

/*
 * organizations_define_settings: where Billy is by default, and how tokens
 * are kept
 */
static void
organizations_define_settings(void)
{
	DefineCustomStringVariable("billy.api_url",
							   "Base URL of Billy's API v2.",
							   "Used when an organization has no URL of its own. "
							   "Only http and https are accepted.",
							   &billy_api_url,
							   "https://api.billysbilling.com/v2",
							   PGC_SUSET, 0,
							   check_api_url, NULL, NULL);

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
}

static const BillyJobKind organizations_jobs[] = {
	{"refresh_organization", run_refresh_organization, BILLY_SHARE_EXEMPT},
	{NULL}
};

const BillyModule billy_organizations_module = {
	.name = "organizations",
	.define_settings = organizations_define_settings,
	.jobs = organizations_jobs,
};

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
 * billy_effective_api_url picks an organization's own URL, else the setting.
 */
const char *
billy_effective_api_url(const char *url)
{
	if (url != NULL && url[0] != '\0')
		return url;
	return billy_api_url;
}

/* the refresh_organization job: fetch the organization's settings again */
static void
run_refresh_organization(BillyJob *job)
{
	if (job->organization_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a refresh_organization job needs an organization")));
	billy_refresh_organization(job->organization_id);
}

/*
 * use_vault decides where a new credential goes: Supabase Vault when
 * billy.token_store is 'vault', or 'auto' and a vault schema with
 * create_secret exists; the key file otherwise.
 */
static bool
use_vault(void)
{
	bool		isnull;
	Datum		d;

	if (strcmp(billy_token_store, "key_file") == 0)
		return false;
	d = billy_sql_datum("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p "
						"JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace "
						"WHERE n.nspname OPERATOR(pg_catalog.=) 'vault' "
						"AND p.proname OPERATOR(pg_catalog.=) 'create_secret')",
						0, NULL, NULL, NULL, &isnull);
	if (DatumGetBool(d))
		return true;
	if (strcmp(billy_token_store, "vault") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("billy.token_store is 'vault' but this database has no Supabase Vault"),
				 errhint("Enable the Vault extension, or set billy.token_store to 'auto' or 'key_file'.")));
	return false;
}

/*
 * fetch_organization asks Billy which organization a token opens (base_url
 * NULL: req was asked) and returns the answer; a failure raises its cause.
 */
static Jsonb *
fetch_organization(const char *base_url, const char *token, BillyHttpRequest *req)
{
	if (base_url != NULL)
	{
		req = billy_http_request_new(BILLY_GET, base_url, "/organization", token);
		billy_http_perform(req);
	}
	if (req->failure != BILLY_HTTP_OK)
		billy_http_raise(req);
	billy_http_require_json(req);
	return billy_jsonb_parse(req->response.data, req->response.len,
							 "Billy's answer to GET /organization");
}

/*
 * store_organization upserts what GET /organization said (as the extension
 * owner) and returns the organization's id.
 */
static char *
store_organization(Jsonb *response)
{
	Oid			types[1] = {JSONBOID};
	Datum		values[1] = {JsonbPGetDatum(response)};

	return billy_sql_value("SELECT billy._upsert_organization($1)",
						   1, types, values, NULL);
}

/*
 * seal_and_store stores an organization's token, sealed with the current
 * key or in Vault, replacing what was stored before.
 */
static void
seal_and_store(const char *org_id, const char *token, const char *api_url)
{
	if (use_vault())
	{
		Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
		Datum		values[3];
		char		nulls[3] = {' ', ' ', ' '};

		values[0] = CStringGetTextDatum(org_id);
		values[1] = CStringGetTextDatum(token);
		if (api_url)
			values[2] = CStringGetTextDatum(api_url);
		else
			nulls[2] = 'n';
		billy_sql_exec("SELECT billy._store_vault_credential($1, $2, $3)",
					   3, types, values, nulls);
	}
	else
	{
		BillyKey	key;
		bytea	   *sealed;
		Oid			types[4] = {TEXTOID, BYTEAOID, TEXTOID, TEXTOID};
		Datum		values[4];
		char		nulls[4] = {' ', ' ', ' ', ' '};

		billy_key_load("billy.key_file", billy_key_file, &key, false);
		sealed = billy_encrypt(&key, token, org_id);
		explicit_bzero(key.bytes, sizeof(key.bytes));

		values[0] = CStringGetTextDatum(org_id);
		values[1] = PointerGetDatum(sealed);
		values[2] = CStringGetTextDatum(key.id);
		if (api_url)
			values[3] = CStringGetTextDatum(api_url);
		else
			nulls[3] = 'n';
		billy_sql_exec("SELECT billy._store_sealed_credential($1, $2, $3, $4)",
					   4, types, values, nulls);
	}
}

/*
 * check_org_api_url applies billy.api_url's rules to a per-organization URL.
 */
static void
check_org_api_url(const char *url)
{
	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("api_url must start with https:// or http://")));
	for (const char *p = url; *p; p++)
		if ((unsigned char) *p <= ' ' || *p == '?' || *p == '#' || *p == '@')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("api_url must not contain spaces, control characters, user information, a query or a fragment")));
}

/*
 * connect_organization does billy.connect's work; see billy_connect.
 */
static char *
connect_organization(FunctionCallInfo fcinfo)
{
	char	   *token;
	char	   *api_url = NULL;
	char	   *org_id;
	Jsonb	   *response;
	BillyOwner	owner;
	int			len;

	billy_require_preload();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("api_token must not be null")));
	token = text_to_cstring(PG_GETARG_TEXT_PP(0));
	len = strlen(token);
	while (len > 0 && isspace((unsigned char) token[len - 1]))
		token[--len] = '\0';
	while (*token && isspace((unsigned char) *token))
		token++;
	if (*token == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("api_token must not be empty"),
				 errhint("Create an access token in Billy under Settings, Access tokens.")));
	for (const char *p = token; *p; p++)
		if ((unsigned char) *p < ' ' || *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("api_token contains a control character")));

	if (!PG_ARGISNULL(1))
	{
		api_url = text_to_cstring(PG_GETARG_TEXT_PP(1));
		if (!superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only a superuser may give an organization its own api_url"),
					 errhint("Leave api_url NULL to use billy.api_url.")));
		check_org_api_url(api_url);
	}

	/* refuse early, before calling Billy, when the token cannot be stored */
	billy_become_owner(&owner);
	if (!use_vault())
	{
		BillyKey	key;

		billy_key_load("billy.key_file", billy_key_file, &key, false);
		explicit_bzero(key.bytes, sizeof(key.bytes));
	}
	billy_end_owner(&owner);

	response = fetch_organization(billy_effective_api_url(api_url), token, NULL);

	/*
	 * The organization is bound to the API it was connected with: the worker
	 * and every other session use that URL, whatever their own billy.api_url
	 * says.
	 */
	billy_become_owner(&owner);
	org_id = store_organization(response);
	seal_and_store(org_id, token, billy_effective_api_url(api_url));
	billy_end_owner(&owner);

	explicit_bzero(token, strlen(token));
	return org_id;
}

/*
 * billy_connect: billy.connect(api_token text, api_url text DEFAULT NULL)
 * RETURNS text, the organization id the token opens.
 *
 * The statement that calls it holds the token in its text, so no error
 * raised while it runs, a cancel or statement_timeout included, may write
 * that statement to the server log: each is re-thrown with hide_stmt.
 */
Datum
billy_connect(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	char	   *org_id = NULL;

	PG_TRY();
	{
		org_id = connect_organization(fcinfo);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		FlushErrorState();
		edata->hide_stmt = true;
		ReThrowError(edata);
	}
	PG_END_TRY();

	billy_warn_if_unserved("billy.connect()");
	PG_RETURN_TEXT_P(cstring_to_text(org_id));
}

/*
 * billy_disconnect: billy.disconnect(org text) RETURNS boolean.  Removes the
 * credential (and its Vault secret), keeps every mirrored row.
 */
Datum
billy_disconnect(PG_FUNCTION_ARGS)
{
	char	   *org_id;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	Datum		removed;
	BillyOwner	owner;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("org must not be null")));
	org_id = billy_resolve_organization(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	values[0] = CStringGetTextDatum(org_id);

	billy_become_owner(&owner);
	removed = billy_sql_datum("SELECT billy._remove_credential($1)",
							  1, types, values, NULL, &isnull);
	billy_end_owner(&owner);

	PG_RETURN_BOOL(!isnull && DatumGetBool(removed));
}

/*
 * billy_resolve_organization turns what a user typed (an id or a name,
 * or NULL for "the only one") into an organization id, or explains.  The
 * answer comes from this backend's copy of the organizations (no SQL: a
 * billy.get_* call without org asked SQL every time); only what it cannot
 * resolve goes to billy._resolve_org, for the error that says why.
 */
char *
billy_resolve_organization(const char *org)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	char		nulls[1] = {' '};
	char	   *found = billy_resolve_organization_quietly(org);

	if (found)
		return found;
	if (org)
		values[0] = CStringGetTextDatum(org);
	else
		nulls[0] = 'n';
	return billy_sql_value("SELECT billy._resolve_org($1)", 1, types, values, nulls);
}

/*
 * The organizations as billy_resolve_organization_quietly sees them, kept
 * per backend: every MCP tool call names (or implies) the organization its
 * audit entry records, and asking SQL each time was a tenth of a call.  The
 * copy holds every organization (read as the extension owner); row-level
 * security is applied when resolving, by billy_org_visible.  The table's
 * statement trigger (billy._invalidate_cached) sends a relcache
 * invalidation when it changes, which empties the copy.
 */
typedef struct CachedOrganization
{
	char	   *id;
	char	   *lower_name;		/* lower(name), as SQL computes it */
	bool		connected;		/* disconnected_at IS NULL */
} CachedOrganization;

static CachedOrganization *org_cache = NULL;
static int	org_cache_n = 0;
static bool org_cache_valid = false;
static uint64 org_cache_invalidations = 0;
static Oid	org_cache_relid = InvalidOid;
static MemoryContext org_cache_cxt = NULL;
static bool org_cache_callback_registered = false;

static void
org_cache_relcache_cb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == org_cache_relid)
	{
		org_cache_valid = false;
		org_cache_invalidations++;
	}
}

/*
 * org_cache_fill reads billy.organizations into the copy.  The copy counts
 * as valid only when the read finished and no invalidation arrived while it
 * ran (at its lock, say); an error leaves it invalid.
 */
static void
org_cache_fill(void)
{
	BillyOwner	owner;
	MemoryContext old;
	uint64		seen;

	if (!org_cache_callback_registered)
	{
		CacheRegisterRelcacheCallback(org_cache_relcache_cb, (Datum) 0);
		org_cache_callback_registered = true;
	}
	if (org_cache_cxt == NULL)
		org_cache_cxt = AllocSetContextCreate(CacheMemoryContext, "billy organizations",
											  ALLOCSET_SMALL_SIZES);
	MemoryContextReset(org_cache_cxt);
	org_cache = NULL;
	org_cache_n = 0;
	org_cache_valid = false;
	seen = org_cache_invalidations;
	org_cache_relid = get_relname_relid("organizations", get_namespace_oid("billy", false));

	billy_become_owner(&owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	if (SPI_execute("SELECT o.id, pg_catalog.lower(o.name), o.disconnected_at IS NULL "
					"FROM billy.organizations o", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "billy: reading billy.organizations failed");
	old = MemoryContextSwitchTo(org_cache_cxt);
	org_cache = palloc0(sizeof(CachedOrganization) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *name = SPI_getvalue(tup, desc, 2);

		org_cache[i].id = SPI_getvalue(tup, desc, 1);
		org_cache[i].lower_name = name ? name : pstrdup("");
		org_cache[i].connected = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
	}
	org_cache_n = (int) SPI_processed;
	MemoryContextSwitchTo(old);
	SPI_finish();
	billy_end_owner(&owner);
	org_cache_valid = (seen == org_cache_invalidations);
}

/*
 * billy_resolve_organization_quietly answers what billy._resolve_org would
 * for what a user typed (an id, a name in any case with spaces around it, or
 * NULL for the only connected one), among the organizations the current
 * role may see, but NULL where that would raise.  No SQL once the copy is
 * read.
 */
char *
billy_resolve_organization_quietly(const char *org)
{
	const char *found = NULL;
	int			matches = 0;
	char	   *wanted;

	if (!org_cache_valid)
		org_cache_fill();

	if (org == NULL)
	{
		for (int i = 0; i < org_cache_n; i++)
			if (org_cache[i].connected && billy_org_visible(org_cache[i].id))
			{
				if (found == NULL || strcmp(org_cache[i].id, found) < 0)
					found = org_cache[i].id;
				matches++;
			}
		return matches == 1 ? pstrdup(found) : NULL;
	}

	for (int i = 0; i < org_cache_n; i++)
		if (strcmp(org_cache[i].id, org) == 0 && billy_org_visible(org_cache[i].id))
			return pstrdup(org_cache[i].id);

	wanted = text_to_cstring(DatumGetTextPP(
											DirectFunctionCall1Coll(lower, DEFAULT_COLLATION_OID,
																	DirectFunctionCall1(btrim1, CStringGetTextDatum(org)))));
	for (int i = 0; i < org_cache_n; i++)
		if (strcmp(org_cache[i].lower_name, wanted) == 0 && billy_org_visible(org_cache[i].id))
		{
			found = org_cache[i].id;
			matches++;
		}
	return matches == 1 ? pstrdup(found) : NULL;
}

/*
 * billy_load_token opens an organization's stored token.  *api_url gets the
 * organization's own URL or NULL.  Runs the credential reads as the owner.
 */
char *
billy_load_token(const char *org_id, char **api_url)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(org_id)};
	BillyOwner	owner;
	MemoryContext caller = CurrentMemoryContext;
	char	   *token = NULL;
	char	   *url = NULL;
	char	   *key_id = NULL;
	char	   *vault_token = NULL;
	bytea	   *sealed = NULL;
	bool		found = false;

	billy_become_owner(&owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	if (SPI_execute_with_args("SELECT c.sealed_token, c.key_id, c.api_url, "
							  "billy._vault_secret(c.vault_secret_id) "
							  "FROM billy._credentials c "
							  "WHERE c.organization_id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "billy: could not read the credential table");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;
		MemoryContext old = MemoryContextSwitchTo(caller);

		found = true;
		d = SPI_getbinval(tup, desc, 1, &isnull);
		if (!isnull)
			sealed = DatumGetByteaPCopy(d);
		key_id = SPI_getvalue(tup, desc, 2);
		key_id = key_id ? pstrdup(key_id) : NULL;
		url = SPI_getvalue(tup, desc, 3);
		url = url ? pstrdup(url) : NULL;
		vault_token = SPI_getvalue(tup, desc, 4);
		vault_token = vault_token ? pstrdup(vault_token) : NULL;
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	billy_end_owner(&owner);

	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("organization \"%s\" is not connected", org_id),
				 errhint("Call billy.connect() with an access token for it.")));

	if (vault_token != NULL)
		token = vault_token;
	else if (sealed != NULL)
	{
		BillyKey	key;
		BillyKey	old_key;

		billy_key_load("billy.key_file", billy_key_file, &key, false);
		if (key_id && strcmp(key_id, key.id) == 0)
			token = billy_decrypt(&key, sealed, org_id);
		else if (billy_key_load("billy.old_key_file", billy_old_key_file, &old_key, true) &&
				 key_id && strcmp(key_id, old_key.id) == 0)
		{
			token = billy_decrypt(&old_key, sealed, org_id);
			explicit_bzero(old_key.bytes, sizeof(old_key.bytes));
		}
		else
		{
			explicit_bzero(key.bytes, sizeof(key.bytes));
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("the access token of organization \"%s\" was sealed with another key", org_id),
					 errdetail("It needs key %s; billy.key_file holds key %s.",
							   key_id ? key_id : "?", key.id),
					 errhint("Set billy.old_key_file to the previous key file and run billy.rotate_key(), or connect the organization again.")));
		}
		explicit_bzero(key.bytes, sizeof(key.bytes));
		if (token == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the stored access token of organization \"%s\" does not decrypt", org_id),
					 errdetail("The sealed token was altered or belongs to another organization."),
					 errhint("Connect the organization again with billy.connect().")));
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the Vault secret of organization \"%s\" is missing", org_id),
				 errhint("Connect the organization again with billy.connect().")));

	if (api_url)
		*api_url = url;
	/* the requests made with it are charged to org's API budget */
	billy_budget_note_token(org_id, token);
	return token;
}

/*
 * billy_refresh_organization fetches an organization's settings again and
 * stores them ('refresh_organization' jobs); billy_store_organization_answer
 * stores an answer to GET /organization asked with org_id's token (a sync's).
 */
void
billy_refresh_organization(const char *org_id)
{
	billy_store_organization_answer(org_id, NULL);
}

void
billy_store_organization_answer(const char *org_id, BillyHttpRequest *req)
{
	char	   *api_url = NULL;
	char	   *token = req ? NULL : billy_load_token(org_id, &api_url);
	Jsonb	   *response = fetch_organization(req ? NULL : billy_effective_api_url(api_url), token, req);
	char	   *stored;
	BillyOwner	owner;

	if (token)
		explicit_bzero(token, strlen(token));
	billy_become_owner(&owner);
	stored = store_organization(response);
	billy_end_owner(&owner);
	if (stored == NULL || strcmp(stored, org_id) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("the token of organization \"%s\" now opens organization \"%s\"",
						org_id, stored ? stored : "?"),
				 errhint("Connect the organization again with a token for it.")));
}

/*
 * billy_check_connection: billy.check_connection(org text DEFAULT NULL)
 * RETURNS jsonb.  One GET /organization with the stored token; the answer
 * says whether it worked and, when not, why, without raising for API
 * failures so that a dashboard or an AI client can show it.
 */
Datum
billy_check_connection(PG_FUNCTION_ARGS)
{
	char	   *org_id;
	char	   *api_url = NULL;
	char	   *token;
	BillyHttpRequest *req;
	StringInfoData out;
	BillyHttpError err;
	bool		ok;

	billy_require_preload();
	org_id = billy_resolve_organization(PG_ARGISNULL(0) ? NULL :
										text_to_cstring(PG_GETARG_TEXT_PP(0)));
	token = billy_load_token(org_id, &api_url);

	req = billy_http_request_new(BILLY_GET, billy_effective_api_url(api_url),
								 "/organization", token);
	billy_http_perform(req);
	explicit_bzero(token, strlen(token));

	ok = req->failure == BILLY_HTTP_OK && !billy_http_json_problem(req, &err);
	if (req->failure != BILLY_HTTP_OK)
		billy_http_describe(req, &err);

	initStringInfo(&out);
	appendStringInfoString(&out, "{\"ok\": ");
	appendStringInfoString(&out, ok ? "true" : "false");
	appendStringInfoString(&out, ", \"organization_id\": ");
	escape_json(&out, org_id);
	appendStringInfoString(&out, ", \"api_url\": ");
	escape_json(&out, billy_effective_api_url(api_url));
	appendStringInfo(&out, ", \"http_status\": %ld, \"attempts\": %d, \"latency_ms\": %.1f",
					 req->status, req->attempts, req->elapsed_ms);
	if (!ok)
	{
		appendStringInfoString(&out, ", \"cause\": ");
		escape_json(&out, err.cause);
		appendStringInfoString(&out, ", \"error\": ");
		escape_json(&out, err.message);
		if (err.detail)
		{
			appendStringInfoString(&out, ", \"detail\": ");
			escape_json(&out, err.detail);
		}
		if (err.billy_error_code)
		{
			appendStringInfoString(&out, ", \"billy_error_code\": ");
			escape_json(&out, err.billy_error_code);
		}
	}
	appendStringInfoChar(&out, '}');

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}

/*
 * billy_rotate_key: billy.rotate_key() RETURNS integer.  Re-seals, under the
 * key in billy.key_file, every token sealed with another key it can open
 * (billy.old_key_file).  All or nothing: one token that neither key opens
 * stops the rotation.  Returns how many tokens were re-sealed.
 */
Datum
billy_rotate_key(PG_FUNCTION_ARGS)
{
	BillyKey	key;
	BillyKey	old_key;
	bool		have_old;
	int			rotated = 0;
	BillyOwner	owner;
	MemoryContext caller = CurrentMemoryContext;
	char	  **orgs = NULL;
	char	  **key_ids = NULL;
	bytea	  **sealed = NULL;
	uint64		n = 0;

	billy_require_preload();
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser may rotate billy's token key")));

	billy_key_load("billy.key_file", billy_key_file, &key, false);
	have_old = billy_key_load("billy.old_key_file", billy_old_key_file, &old_key, true);

	billy_become_owner(&owner);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	if (SPI_execute("SELECT organization_id, key_id, sealed_token FROM billy._credentials "
					"WHERE sealed_token IS NOT NULL ORDER BY organization_id FOR UPDATE",
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "billy: could not read the credential table");
	n = SPI_processed;
	if (n > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		orgs = palloc(sizeof(char *) * n);
		key_ids = palloc(sizeof(char *) * n);
		sealed = palloc(sizeof(bytea *) * n);
		for (uint64 i = 0; i < n; i++)
		{
			bool		isnull;
			char	   *kid;

			orgs[i] = pstrdup(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
			kid = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
			key_ids[i] = kid ? pstrdup(kid) : pstrdup("");
			sealed[i] = DatumGetByteaPCopy(SPI_getbinval(SPI_tuptable->vals[i],
														 SPI_tuptable->tupdesc, 3, &isnull));
		}
		MemoryContextSwitchTo(old);
	}
	SPI_finish();

	for (uint64 i = 0; i < n; i++)
	{
		char	   *token;
		bytea	   *resealed;
		Oid			types[3] = {TEXTOID, BYTEAOID, TEXTOID};
		Datum		values[3];

		if (strcmp(key_ids[i], key.id) == 0)
			continue;
		if (!have_old || strcmp(key_ids[i], old_key.id) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("the token of organization \"%s\" is sealed with key %s, which neither billy.key_file nor billy.old_key_file holds",
							orgs[i], key_ids[i]),
					 errdetail("Nothing was rotated."),
					 errhint("Set billy.old_key_file to the key file the tokens were sealed with, reload, and try again.")));
		token = billy_decrypt(&old_key, sealed[i], orgs[i]);
		if (token == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the stored access token of organization \"%s\" does not decrypt", orgs[i]),
					 errdetail("Nothing was rotated.")));
		resealed = billy_encrypt(&key, token, orgs[i]);
		explicit_bzero(token, strlen(token));

		values[0] = CStringGetTextDatum(orgs[i]);
		values[1] = PointerGetDatum(resealed);
		values[2] = CStringGetTextDatum(key.id);
		billy_sql_exec("UPDATE billy._credentials SET sealed_token = $2, key_id = $3, "
					   "updated_at = pg_catalog.now() "
					   "WHERE organization_id OPERATOR(pg_catalog.=) $1",
					   3, types, values, NULL);
		rotated++;
	}
	billy_end_owner(&owner);

	explicit_bzero(key.bytes, sizeof(key.bytes));
	if (have_old)
		explicit_bzero(old_key.bytes, sizeof(old_key.bytes));
	PG_RETURN_INT32(rotated);
}
