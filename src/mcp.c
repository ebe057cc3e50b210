/*-------------------------------------------------------------------------
 *
 * mcp.c
 *	  The Model Context Protocol inside PostgreSQL: billy.mcp(request jsonb)
 *	  answers one JSON-RPC 2.0 message.
 *
 * A message is a request (it has an id: a string or a number, echoed
 * exactly, 0 included), a notification (no id: never answered, never
 * acted on, not even a tools/call) or a response (ignored: billy sends no
 * requests).  Batches are answered with -32600.
 *
 * billy is dual-era.  A request whose params._meta names a protocol version
 * (io.modelcontextprotocol/protocolVersion) is a modern request and is
 * served statelessly by the 2026-07-28 rules: the envelope is checked
 * (clientCapabilities required; -32602 otherwise), the version must be
 * 2026-07-28 (-32022 with data.supported otherwise), the methods are
 * server/discover, tools/list and tools/call (anything else, ping and
 * initialize included, is -32601), and every result carries resultType
 * "complete" and the server's identity in _meta; list and discover results
 * say how long they may be cached (ttlMs, cacheScope "private": what a role
 * sees depends on its grants).  Any other request is legacy and is answered
 * exactly as before: initialize (versions 2025-11-25, 2025-06-18,
 * 2025-03-26 and 2024-11-05), ping, tools/list (pages, a cursor) and
 * tools/call.  Nothing is remembered between messages in either era.
 *
 * tools/call looks the tool up in billy.mcp_tools, checks that the calling
 * role may use it, checks the arguments against its input schema
 * (jsonschema.c), maps them onto the function's named parameters and runs
 * the function as the calling role inside a subtransaction: a SQL error
 * becomes a result with isError (SQLSTATE, message, detail, hint) so the
 * model can correct itself; only a lost connection or a bug is a protocol
 * error.  The result is shaped into structuredContent (row sets wrapped as
 * {rows, row_count, truncated}), capped in rows (billy.mcp_max_rows) and
 * bytes (billy.mcp_max_bytes), mirrored as compact JSON text in content,
 * and the call is recorded through billy.audit when that is installed.
 *
 * The SQL run for a tool is built only from the registry and the catalog
 * (quoted names, casts); argument values travel as one bound jsonb
 * parameter, never as SQL text.  Plans are prepared once per backend and
 * SQL text.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "commands/trigger.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/regproc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"

#include "billy.h"
#include "audit.h"
#include "jsonschema.h"
#include "mcp.h"
#include "organizations.h"
#include "sqlexec.h"

/* JSON-RPC and MCP error codes */
#define RPC_PARSE_ERROR			(-32700)
#define RPC_INVALID_REQUEST		(-32600)
#define RPC_METHOD_NOT_FOUND	(-32601)
#define RPC_INVALID_PARAMS		(-32602)
#define RPC_INTERNAL_ERROR		(-32603)
/*
 * 2026-07-28 adds -32020 (header mismatch: the HTTP bridge's), -32021 (a
 * missing client capability: never, no billy method needs one) and:
 */
#define RPC_UNSUPPORTED_VERSION	(-32022)

/* the legacy protocol versions billy speaks (initialize), newest first */
#define LEGACY_1 "2025-11-25"
#define LEGACY_2 "2025-06-18"
#define LEGACY_3 "2025-03-26"
#define LEGACY_4 "2024-11-05"
static const char *const supported_versions[] = {LEGACY_1, LEGACY_2, LEGACY_3, LEGACY_4};
#define LEGACY_VERSIONS_JSON "\"" LEGACY_1 "\",\"" LEGACY_2 "\",\"" LEGACY_3 "\",\"" LEGACY_4 "\""
#define LEGACY_VERSIONS_TEXT LEGACY_1 ", " LEGACY_2 ", " LEGACY_3 " and " LEGACY_4

/* the modern era: the version a request names in its _meta, and the keys */
#define MODERN_VERSION "2026-07-28"
#define META_PROTOCOL_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_CLIENT_CAPABILITIES "io.modelcontextprotocol/clientCapabilities"
#define META_CLIENT_INFO "io.modelcontextprotocol/clientInfo"
#define META_LOG_LEVEL "io.modelcontextprotocol/logLevel"
#define META_SERVER_INFO "io.modelcontextprotocol/serverInfo"

/* every version billy speaks, modern first (server/discover, -32022) */
#define ALL_VERSIONS_JSON \
	"[\"" MODERN_VERSION "\"," LEGACY_VERSIONS_JSON "]"

#define SERVER_NAME "billy"
#define SERVER_TITLE "billy: Billy's books in PostgreSQL"
#define SERVER_INFO_JSON \
	"{\"name\":\"" SERVER_NAME "\",\"title\":\"" SERVER_TITLE "\",\"version\":\"" BILLY_VERSION "\"}"

/*
 * what billy offers besides tools, in both eras: resources (the MCP App
 * ui://billy/dashboard) and prompts (workflow templates); neither list changes
 * while a client is connected, and resources/subscribe is not served
 */
#define CAPABILITIES_MORE \
	"\"resources\":{\"subscribe\":false,\"listChanged\":false},\"prompts\":{\"listChanged\":false}"

/* settings */
static int	mcp_max_rows = 500;
static int	mcp_max_bytes = 100000;
static int	mcp_page_size = 100;
static bool mcp_list_changed = true;
static int	mcp_cache_ttl_ms = 60000;
static bool mcp_output_schemas = false;

/*
 * billy_mcp_define_settings defines the MCP settings; _PG_init calls it
 * before reserving the "billy." prefix.
 */
void
billy_mcp_define_settings(void)
{
	DefineCustomIntVariable("billy.mcp_max_rows",
							"Most rows an MCP tool result carries; more are cut and flagged as truncated.",
							NULL,
							&mcp_max_rows,
							500, 1, 100000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("billy.mcp_max_bytes",
							"Most bytes of JSON an MCP tool result carries; rows or text beyond are cut and flagged.",
							"Claude Code refuses tool results over about 25,000 tokens by default; 100 kB stays below.",
							&mcp_max_bytes,
							100000, 1024, 64 * 1024 * 1024,
							PGC_USERSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("billy.mcp_page_size",
							"Tools per page of an MCP tools/list answer.",
							NULL,
							&mcp_page_size,
							100, 1, 1000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("billy.mcp_list_changed",
							 "Whether billy.mcp declares the tools.listChanged capability.",
							 "Stdio bridges push notifications/tools/list_changed; stateless HTTP cannot, so its bridge turns this off.",
							 &mcp_list_changed,
							 true,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("billy.mcp_output_schemas",
							 "Whether tools/list gives each tool's outputSchema.",
							 "Off by default: the schemas cost a model's context more than they help it; structuredContent is there either way.",
							 &mcp_output_schemas,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("billy.mcp_cache_ttl_ms",
							"How long a 2026-07-28 client may cache billy's tools/list and server/discover answers (ttlMs).",
							"0: fetch again every time.  The answers depend on the role's grants, so they are marked cacheScope private.",
							&mcp_cache_ttl_ms,
							60000, 0, 24 * 3600 * 1000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/* ------------------------------------------------------------ plans */

/*
 * Prepared plans, kept for the backend's life and found by their SQL text.
 * The plan cache revalidates them when what they use changes.
 */
#define MAX_PLANS 128

typedef struct McpPlan
{
	char	   *sql;
	SPIPlanPtr	plan;
} McpPlan;

static McpPlan plans[MAX_PLANS];
static int	nplans = 0;
static int	next_victim = 0;

static SPIPlanPtr
get_plan(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan;
	int			slot;

	for (int i = 0; i < nplans; i++)
		if (strcmp(plans[i].sql, sql) == 0)
			return plans[i].plan;

	plan = SPI_prepare(sql, nargs, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");

	if (nplans < MAX_PLANS)
		slot = nplans++;
	else
	{
		slot = next_victim;
		next_victim = (next_victim + 1) % MAX_PLANS;
		SPI_freeplan(plans[slot].plan);
		pfree(plans[slot].sql);
	}
	plans[slot].sql = MemoryContextStrdup(TopMemoryContext, sql);
	plans[slot].plan = plan;
	return plan;
}

/* ------------------------------------------------------------ responses */

typedef struct McpRequest
{
	JsonbValue	id;				/* jbvString or jbvNumeric */
	const char *method;
	JsonbContainer *params;		/* NULL when absent */
	MemoryContext outer;		/* where the answer is built */
	bool		modern;			/* a 2026-07-28 request (params._meta) */
} McpRequest;

static void
append_id(StringInfo out, McpRequest *req)
{
	if (req == NULL)
		appendStringInfoString(out, "null");
	else
		billy_append_json(out, &req->id);
}

static Datum
text_to_jsonb_datum(StringInfo s)
{
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s->data));
}

static Datum
rpc_error(McpRequest *req, int code, const char *message, const char *data_json)
{
	StringInfoData out;

	initStringInfo(&out);
	appendStringInfoString(&out, "{\"jsonrpc\":\"2.0\",\"id\":");
	append_id(&out, req);
	appendStringInfo(&out, ",\"error\":{\"code\":%d,\"message\":", code);
	escape_json(&out, message);
	if (data_json)
		appendStringInfo(&out, ",\"data\":%s", data_json);
	appendStringInfoString(&out, "}}");
	return text_to_jsonb_datum(&out);
}

/*
 * append_result writes a result object.  A modern request's result also
 * carries resultType "complete" and the server's identity in _meta (and
 * extra members, e.g. the cache hints); result_json is an object.
 */
static void
append_result(StringInfo out, McpRequest *req, const char *result_json, const char *extra)
{
	const char *rest;

	if (req == NULL || !req->modern)
	{
		appendStringInfoString(out, result_json);
		return;
	}
	Assert(result_json[0] == '{');
	appendStringInfoString(out, "{\"resultType\":\"complete\",\"_meta\":{\"" META_SERVER_INFO "\":"
						   SERVER_INFO_JSON "}");
	if (extra)
		appendStringInfo(out, ",%s", extra);
	rest = result_json + 1;
	while (*rest == ' ' || *rest == '\n')
		rest++;
	if (*rest != '}')
		appendStringInfoChar(out, ',');
	appendStringInfoString(out, rest);
}

static Datum
rpc_result_with(McpRequest *req, const char *result_json, const char *extra)
{
	StringInfoData out;

	initStringInfo(&out);
	appendStringInfoString(&out, "{\"jsonrpc\":\"2.0\",\"id\":");
	append_id(&out, req);
	appendStringInfoString(&out, ",\"result\":");
	append_result(&out, req, result_json, extra);
	appendStringInfoChar(&out, '}');
	return text_to_jsonb_datum(&out);
}

static Datum
rpc_result(McpRequest *req, const char *result_json)
{
	return rpc_result_with(req, result_json, NULL);
}

/*
 * rpc_result_cacheable: a result a modern client may cache (tools/list,
 * server/discover): ttlMs from billy.mcp_cache_ttl_ms, and cacheScope
 * private because what it lists depends on the calling role's grants.
 */
static Datum
rpc_result_cacheable(McpRequest *req, const char *result_json)
{
	if (!req->modern)
		return rpc_result(req, result_json);
	return rpc_result_with(req, result_json,
						   psprintf("\"ttlMs\":%d,\"cacheScope\":\"private\"", mcp_cache_ttl_ms));
}

/* a tools/call result with isError: the text says what went wrong */
static char *
tool_error_json(const char *text)
{
	StringInfoData out;

	initStringInfo(&out);
	appendStringInfoString(&out, "{\"content\":[{\"type\":\"text\",\"text\":");
	escape_json(&out, text);
	appendStringInfoString(&out, "}],\"isError\":true}");
	return out.data;
}

static char *
string_member(JsonbContainer *obj, const char *key, bool *present, bool *is_string)
{
	JsonbValue *v = billy_json_key(obj, key);

	*present = v != NULL;
	*is_string = v != NULL && v->type == jbvString;
	if (!*is_string)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* ------------------------------------------------------------ initialize */

static Datum
mcp_initialize(McpRequest *req)
{
	bool		present,
				is_string;
	char	   *asked = req->params ? string_member(req->params, "protocolVersion", &present, &is_string) : NULL;
	const char *version = supported_versions[0];
	StringInfoData out;
	char	   *instructions;

	if (asked == NULL)
		return rpc_error(req, RPC_INVALID_PARAMS, "params.protocolVersion must be a string",
						 "{\"supported\":[" LEGACY_VERSIONS_JSON "]}");

	/* echo a version billy speaks; otherwise offer the newest, the client decides */
	for (int i = 0; i < lengthof(supported_versions); i++)
		if (strcmp(asked, supported_versions[i]) == 0)
			version = supported_versions[i];

	instructions = billy_sql_value_spi("SELECT billy.mcp_instructions()");

	initStringInfo(&out);
	appendStringInfoString(&out, "{\"protocolVersion\":");
	escape_json(&out, version);
	appendStringInfo(&out, ",\"capabilities\":{\"tools\":{\"listChanged\":%s}," CAPABILITIES_MORE "}",
					 mcp_list_changed ? "true" : "false");
	appendStringInfoString(&out, ",\"serverInfo\":" SERVER_INFO_JSON);
	if (instructions)
	{
		appendStringInfoString(&out, ",\"instructions\":");
		escape_json(&out, instructions);
	}
	appendStringInfoChar(&out, '}');
	return rpc_result(req, out.data);
}

/*
 * billy_sql_value_spi runs a query without arguments in the current SPI
 * connection and returns its first value as text (NULL for SQL NULL).
 */
char *
billy_sql_value_spi(const char *sql)
{
	SPIPlanPtr	plan = get_plan(sql, 0, NULL);
	int			rc = SPI_execute_plan(plan, NULL, NULL, true, 1);

	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "\"%s\" returned no row", sql);
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* ------------------------------------------------------------ tools/list */

static Datum
mcp_tools_list(McpRequest *req)
{
	bool		present = false,
				is_string = false;
	char	   *cursor = req->params ? string_member(req->params, "cursor", &present, &is_string) : NULL;
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		values[2];
	char		nulls[3] = "  ";
	SPIPlanPtr	plan;
	bool		isnull;
	Datum		d;
	Jsonb	   *page;
	StringInfoData out;
	JsonbValue	v;

	if (present && !is_string)
	{
		JsonbValue *c = billy_json_key(req->params, "cursor");

		if (c->type != jbvNull)
			return rpc_error(req, RPC_INVALID_PARAMS, "params.cursor must be a string", NULL);
	}
	values[0] = cursor ? CStringGetTextDatum(cursor) : (Datum) 0;
	nulls[0] = cursor ? ' ' : 'n';
	values[1] = Int32GetDatum(mcp_page_size);

	plan = get_plan("SELECT billy._mcp_tools_list($1, $2)", 2, types);
	if (SPI_execute_plan(plan, values, nulls, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "tools/list returned no row");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return rpc_error(req, RPC_INVALID_PARAMS, "invalid cursor: pass back a nextCursor billy gave, unchanged", NULL);
	page = DatumGetJsonbP(d);
	initStringInfo(&out);
	billy_jsonb_root_value(page, &v);
	billy_append_json(&out, &v);
	return rpc_result_cacheable(req, out.data);
}

/* ------------------------------------------------------------ tools/call */

typedef enum ResultShape
{
	SHAPE_JSON,					/* json or jsonb: objects as they are */
	SHAPE_ROWS,					/* a set or a row: {rows, row_count, truncated} */
	SHAPE_ROW,					/* one composite row: the row itself */
	SHAPE_SCALAR				/* anything else: {result} */
} ResultShape;

typedef struct McpTool
{
	char	   *name;
	char	   *kind;
	Jsonb	   *input_schema;
	Jsonb	   *arguments;		/* argument name -> parameter name */
	Jsonb	   *fixed_args;
	Oid			func;			/* InvalidOid when not installed */
	char	   *problem;		/* why the caller may not use it, or NULL */
	char	   *operation;		/* the write operation (billy.write_operations()) */
	char	   *project;		/* what billy._mcp_project makes of the answer, or NULL */
	bool		read_only;		/* a call whose annotations say readOnlyHint */
} McpTool;

/*
 * function_name: schema.name(argtypes), the schema always given, the types
 * as PostgreSQL names them (what to_regprocedure takes back)
 */
static char *
function_name(Oid f)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(f));
	Form_pg_proc p;
	StringInfoData s;

	if (!HeapTupleIsValid(tup))
		return psprintf("function %u", f);
	p = (Form_pg_proc) GETSTRUCT(tup);
	initStringInfo(&s);
	appendStringInfo(&s, "%s(", quote_qualified_identifier(get_namespace_name(p->pronamespace),
														   NameStr(p->proname)));
	for (int i = 0; i < p->pronargs; i++)
		appendStringInfo(&s, "%s%s", i ? "," : "", format_type_be(p->proargtypes.values[i]));
	appendStringInfoChar(&s, ')');
	ReleaseSysCache(tup);
	return s.data;
}

/*
 * tool_problem says why the calling role cannot use a tool, or NULL: the
 * same verdict as billy._mcp_tool_problem (which tools/list uses), reached
 * here without a PL/pgSQL call because it is on every tools/call's path.
 */
static char *
tool_problem(McpTool *tool, const char *function, Oid *requires,
			 char **require_names, int nrequires, const char *issue)
{
	char	   *waits = issue ? psprintf(" (%s)", issue) : "";

	if (!OidIsValid(tool->func))
		return psprintf("it waits for %s, which is not installed%s", function, waits);
	for (int i = 0; i < nrequires; i++)
	{
		Oid			f = requires[i];

		if (!OidIsValid(f))
			return psprintf("it waits for %s, which is not installed%s", require_names[i], waits);
		if (pg_proc_aclcheck(f, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
			return psprintf("role %s may not execute %s", GetUserNameFromId(GetUserId(), false),
							function_name(f));
	}
	if (pg_proc_aclcheck(tool->func, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		return psprintf("role %s may not execute %s", GetUserNameFromId(GetUserId(), false),
						function_name(tool->func));
	return NULL;
}

/*
 * The registry, cached per backend: tools/call reads its tool's row on
 * every call, and reading it (two jsonb schemas, the functions resolved by
 * name) cost more than many tools themselves.  A cached row keeps what the
 * registry and the catalog said for the role that read it; the ACL checks
 * that make a tool usable are made on every call, from the syscache.
 *
 * Emptied by: a change to billy.mcp_tools (its trigger sends a relcache
 * invalidation, so other backends see it at commit and this one at once),
 * a function or schema created, changed or dropped (syscache callbacks),
 * and role memberships changing (schema USAGE can come through a role).
 */
typedef struct CachedTool
{
	char		name[NAMEDATALEN * 2];	/* the hash key (names are <= 64 bytes) */
	Oid			userid;			/* the role the row was read as */
	McpTool		tool;			/* problem left NULL: worked out per call */
	char	   *function;		/* the registry's spelling, for messages */
	int			nrequires;
	Oid		   *requires;		/* InvalidOid: not installed */
	char	  **require_names;
	char	   *issue;
} CachedTool;

static HTAB *tool_cache = NULL;
static MemoryContext tool_cache_cxt = NULL;
static bool tool_cache_valid = false;
static Oid	registry_relid = InvalidOid;
static bool tool_callbacks_registered = false;

static void
tool_cache_syscache_cb(Datum arg, int cacheid, uint32 hashvalue)
{
	tool_cache_valid = false;
}

static void
tool_cache_relcache_cb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == registry_relid)
		tool_cache_valid = false;
}

static void
tool_cache_reset(void)
{
	HASHCTL		ctl;

	if (!tool_callbacks_registered)
	{
		CacheRegisterRelcacheCallback(tool_cache_relcache_cb, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, tool_cache_syscache_cb, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, tool_cache_syscache_cb, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMMEMROLE, tool_cache_syscache_cb, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, tool_cache_syscache_cb, (Datum) 0);
		tool_callbacks_registered = true;
	}
	/*
	 * The old rows go when the transaction ends, not now: a call in progress
	 * may still hold them (a tool that calls billy.mcp).
	 */
	if (tool_cache_cxt != NULL)
		MemoryContextSetParent(tool_cache_cxt, TopTransactionContext);
	tool_cache_cxt = AllocSetContextCreate(CacheMemoryContext, "billy MCP registry",
										   ALLOCSET_SMALL_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(((CachedTool *) NULL)->name);
	ctl.entrysize = sizeof(CachedTool);
	ctl.hcxt = tool_cache_cxt;
	tool_cache = hash_create("billy MCP registry", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	registry_relid = get_relname_relid("mcp_tools", get_namespace_oid("billy", false));
	tool_cache_valid = true;
}

/*
 * read_tool reads a tool's registry row into entry (allocations in the
 * cache's context); false when there is none.
 */
static bool
read_tool(const char *name, CachedTool *entry)
{
	static const char *sql =
		"SELECT t.kind, t.input_schema, t.arguments, t.fixed_args, "
		"(SELECT CASE WHEN pg_catalog.strpos(t.function, '(') OPERATOR(pg_catalog.>) 0 "
		"THEN pg_catalog.to_regprocedure(t.function)::pg_catalog.oid "
		"ELSE pg_catalog.to_regproc(t.function)::pg_catalog.oid END "
		"FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) pg_catalog.split_part(t.function, '.', 1) "
		"AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')), t.function, "
		"ARRAY(SELECT (SELECT CASE WHEN pg_catalog.strpos(r, '(') OPERATOR(pg_catalog.>) 0 "
		"THEN pg_catalog.to_regprocedure(r)::pg_catalog.oid "
		"ELSE pg_catalog.to_regproc(r)::pg_catalog.oid END "
		"FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) pg_catalog.split_part(r, '.', 1) "
		"AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')) FROM pg_catalog.unnest(t.requires) r), "
		"t.requires, t.issue, "
		"COALESCE(t.annotations OPERATOR(pg_catalog.->>) 'readOnlyHint' OPERATOR(pg_catalog.=) 'true', false), "
		"t.operation, t.project "
		"FROM billy.mcp_tools t WHERE t.name OPERATOR(pg_catalog.=) $1";
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	SPIPlanPtr	plan = get_plan(sql, 1, types);
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	Datum	   *req_oids;
	bool	   *req_nulls;
	int			nreq;
	Datum	   *req_names;
	int			nnames;
	MemoryContext old;
	McpTool    *tool = &entry->tool;

	if (SPI_execute_plan(plan, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read billy.mcp_tools");
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 7, &isnull)),
					  OIDOID, sizeof(Oid), true, TYPALIGN_INT, &req_oids, &req_nulls, &nreq);
	deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 8, &isnull)),
					  TEXTOID, -1, false, TYPALIGN_INT, &req_names, NULL, &nnames);

	old = MemoryContextSwitchTo(tool_cache_cxt);
	tool->name = pstrdup(name);
	tool->kind = SPI_getvalue(tup, desc, 1);
	tool->input_schema = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 2, &isnull));
	tool->arguments = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 3, &isnull));
	tool->fixed_args = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 4, &isnull));
	d = SPI_getbinval(tup, desc, 5, &isnull);
	tool->func = isnull ? InvalidOid : DatumGetObjectId(d);
	tool->problem = NULL;
	tool->operation = SPI_getvalue(tup, desc, 11);
	tool->project = SPI_getvalue(tup, desc, 12);
	entry->function = SPI_getvalue(tup, desc, 6);
	entry->nrequires = Min(nreq, nnames);
	entry->requires = palloc(sizeof(Oid) * (entry->nrequires + 1));
	entry->require_names = palloc(sizeof(char *) * (entry->nrequires + 1));
	for (int i = 0; i < entry->nrequires; i++)
	{
		entry->requires[i] = req_nulls[i] ? InvalidOid : DatumGetObjectId(req_oids[i]);
		entry->require_names[i] = TextDatumGetCString(req_names[i]);
	}
	entry->issue = SPI_getvalue(tup, desc, 9);
	tool->read_only = strcmp(tool->kind, "call") == 0 &&
		DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
	MemoryContextSwitchTo(old);
	entry->userid = GetUserId();	/* last: the entry is whole */
	return true;
}

/*
 * load_tool finds a tool, from the cache when it can, and says in
 * tool->problem why the calling role may not use it (NULL when it may);
 * false when there is no such tool.
 */
static bool
load_tool(const char *name, McpTool *tool)
{
	CachedTool *entry;
	bool		found;

	if (strlen(name) >= sizeof(((CachedTool *) NULL)->name))
		return false;			/* longer than any registered name */
	if (!tool_cache_valid)
		tool_cache_reset();
	entry = hash_search(tool_cache, name, HASH_ENTER, &found);
	if (!found || entry->userid != GetUserId())
	{
		entry->userid = InvalidOid; /* until read_tool has filled it */
		if (!read_tool(name, entry))
		{
			hash_search(tool_cache, name, HASH_REMOVE, NULL);
			return false;
		}
	}
	*tool = entry->tool;
	tool->problem = tool_problem(tool, entry->function, entry->requires, entry->require_names,
								 entry->nrequires, entry->issue);
	return true;
}

/*
 * map_arguments turns the tool's arguments into an object keyed by the
 * function's parameter names: renamed as the registry says, left out when
 * mapped to null, with the fixed arguments added.
 */
static Jsonb *
map_arguments(McpTool *tool, JsonbContainer *args, char **confirmation)
{
	JsonbParseState *state = NULL;
	JsonbValue	key;
	JsonbIterator *it;
	JsonbValue	tok;
	JsonbIteratorToken r;
	char	   *name = NULL;
	bool		is_write = strcmp(tool->kind, "call") != 0;	/* write, import */

	*confirmation = NULL;
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	if (args)
	{
		it = JsonbIteratorInit(args);
		while ((r = JsonbIteratorNext(&it, &tok, true)) != WJB_DONE)
		{
			if (r == WJB_KEY)
				name = pnstrdup(tok.val.string.val, tok.val.string.len);
			else if (r == WJB_VALUE)
			{
				JsonbValue *to = billy_json_key(&tool->arguments->root, name);

				if (is_write && strcmp(name, "confirmation") == 0)
				{
					if (tok.type == jbvString)
						*confirmation = pnstrdup(tok.val.string.val, tok.val.string.len);
					continue;
				}
				if (to && to->type == jbvNull)
					continue;
				key.type = jbvString;
				if (to && to->type == jbvString)
				{
					key.val.string.val = to->val.string.val;
					key.val.string.len = to->val.string.len;
				}
				else
				{
					key.val.string.val = name;
					key.val.string.len = strlen(name);
				}
				pushJsonbValue(&state, WJB_KEY, &key);
				pushJsonbValue(&state, WJB_VALUE, &tok);
			}
		}
	}
	it = JsonbIteratorInit(&tool->fixed_args->root);
	while ((r = JsonbIteratorNext(&it, &tok, true)) != WJB_DONE)
	{
		if (r == WJB_KEY)
			pushJsonbValue(&state, WJB_KEY, &tok);
		else if (r == WJB_VALUE)
			pushJsonbValue(&state, WJB_VALUE, &tok);
	}
	return JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));
}

/*
 * call_sql builds the statement that runs a tool's function: named
 * arguments taken from $1 (the mapped arguments) and cast to the
 * parameters' types; parameters without a default that were not given get
 * NULL (the function decides: e.g. org NULL means the only organization).
 * The answer is always one jsonb value.
 */
static char *
call_sql(McpTool *tool, Jsonb *mapped, ResultShape *shape, char **unknown)
{
	HeapTuple	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(tool->func));
	Form_pg_proc proc;
	int			nargs;
	Oid		   *argtypes;
	char	  **argnames;
	char	   *argmodes;
	int			first_default;
	StringInfoData call;
	StringInfoData sql;
	bool		any = false;
	int			in_index = 0;
	char		rettyptype;

	if (!HeapTupleIsValid(proctup))
		elog(ERROR, "cache lookup failed for function %u", tool->func);
	proc = (Form_pg_proc) GETSTRUCT(proctup);
	nargs = get_func_arg_info(proctup, &argtypes, &argnames, &argmodes);
	first_default = proc->pronargs - proc->pronargdefaults;

	/* every argument must land on a parameter: else the registry is wrong */
	*unknown = NULL;
	{
		JsonbIterator *it = JsonbIteratorInit(&mapped->root);
		JsonbValue	tok;
		JsonbIteratorToken r;

		while ((r = JsonbIteratorNext(&it, &tok, true)) != WJB_DONE)
		{
			bool		found = false;

			if (r != WJB_KEY)
				continue;
			for (int i = 0; i < nargs && !found; i++)
				found = argnames && argnames[i] &&
					(!argmodes || argmodes[i] == PROARGMODE_IN || argmodes[i] == PROARGMODE_INOUT ||
					 argmodes[i] == PROARGMODE_VARIADIC) &&
					strlen(argnames[i]) == (size_t) tok.val.string.len &&
					strncmp(argnames[i], tok.val.string.val, tok.val.string.len) == 0;
			if (!found)
			{
				*unknown = pnstrdup(tok.val.string.val, tok.val.string.len);
				ReleaseSysCache(proctup);
				return NULL;
			}
		}
	}

	initStringInfo(&call);
	appendStringInfo(&call, "%s(",
					 quote_qualified_identifier(get_namespace_name(proc->pronamespace),
												NameStr(proc->proname)));
	for (int i = 0; i < nargs; i++)
	{
		char		mode = argmodes ? argmodes[i] : PROARGMODE_IN;
		const char *pname = argnames ? argnames[i] : NULL;
		Oid			typ = argtypes[i];
		bool		given;
		char	   *lit;
		char	   *typname;

		if (mode != PROARGMODE_IN && mode != PROARGMODE_INOUT && mode != PROARGMODE_VARIADIC)
			continue;
		in_index++;
		if (pname == NULL || pname[0] == '\0')
			continue;
		given = billy_json_key(&mapped->root, pname) != NULL;
		if (!given && in_index - 1 >= first_default)
			continue;
		typname = format_type_be_qualified(typ);
		if (any)
			appendStringInfoString(&call, ", ");
		any = true;
		appendStringInfo(&call, "%s => ", quote_identifier(pname));
		if (!given)
		{
			appendStringInfo(&call, "NULL::%s", typname);
			continue;
		}
		lit = quote_literal_cstr(pname);
		if (typ == JSONBOID)
			appendStringInfo(&call, "($1 OPERATOR(pg_catalog.->) %s)", lit);
		else if (typ == JSONOID)
			appendStringInfo(&call, "($1 OPERATOR(pg_catalog.->) %s)::pg_catalog.json", lit);
		else if (OidIsValid(get_element_type(typ)))
			appendStringInfo(&call,
							 "(CASE WHEN pg_catalog.jsonb_typeof($1 OPERATOR(pg_catalog.->) %s) OPERATOR(pg_catalog.=) 'array' "
							 "THEN ARRAY(SELECT pg_catalog.jsonb_array_elements_text($1 OPERATOR(pg_catalog.->) %s)) END)::%s",
							 lit, lit, typname);
		else
			appendStringInfo(&call, "($1 OPERATOR(pg_catalog.->>) %s)::%s", lit, typname);
	}
	appendStringInfoChar(&call, ')');

	rettyptype = get_typtype(proc->prorettype);
	initStringInfo(&sql);
	if (!proc->proretset && (proc->prorettype == JSONBOID || proc->prorettype == JSONOID) && tool->project)
	{
		/* the answer made compact for reading: billy._mcp_project */
		*shape = SHAPE_JSON;
		appendStringInfo(&sql, "SELECT billy._mcp_project($3, (%s)::pg_catalog.jsonb, $4)", call.data);
	}
	else if (!proc->proretset && (proc->prorettype == JSONBOID || proc->prorettype == JSONOID))
	{
		*shape = SHAPE_JSON;
		appendStringInfo(&sql, "SELECT (%s)::pg_catalog.jsonb", call.data);
	}
	else if (proc->proretset || rettyptype == TYPTYPE_COMPOSITE || proc->prorettype == RECORDOID)
	{
		*shape = proc->proretset ? SHAPE_ROWS : SHAPE_ROW;
		appendStringInfo(&sql,
						 "SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(q.x)), '[]'::pg_catalog.jsonb) "
						 "FROM (SELECT r AS x FROM %s AS r LIMIT $2) q", call.data);
	}
	else
	{
		*shape = SHAPE_SCALAR;
		appendStringInfo(&sql, "SELECT pg_catalog.to_jsonb(%s)", call.data);
	}
	ReleaseSysCache(proctup);
	return sql.data;
}

/* ------------------------------------------------------------ shaping */

/*
 * Budget tracks the bytes a result may still take and whether anything was
 * left out on the way.
 */
typedef struct Budget
{
	int			max;
	int			rows_cut;		/* rows left out of the largest cut array */
	int			rows_kept;
	bool		truncated;
} Budget;

/*
 * append_array_capped writes the first elements of an array that fit in
 * limit bytes (and at most max_rows); the rest is counted as cut.
 */
static void
append_array_capped(StringInfo out, JsonbContainer *arr, int limit, int max_rows, Budget *b)
{
	int			n = JsonContainerSize(arr);
	int			kept = 0;

	appendStringInfoChar(out, '[');
	for (int i = 0; i < n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(arr, i);
		int			before = out->len;

		if (i >= max_rows)
			break;
		if (i > 0)
			appendStringInfoChar(out, ',');
		billy_append_json(out, e);
		if (out->len + 1 > limit && i > 0)
		{
			out->len = before;
			out->data[before] = '\0';
			break;
		}
		if (out->len + 1 > limit)
		{
			/* not even one element fits */
			out->len = before;
			out->data[before] = '\0';
			break;
		}
		kept++;
	}
	appendStringInfoChar(out, ']');
	if (kept < n)
	{
		b->truncated = true;
		b->rows_cut = Max(b->rows_cut, n - kept);
		b->rows_kept = kept;
	}
}

/* append_string_capped writes a string cut to limit bytes at a character boundary */
static void
append_string_capped(StringInfo out, JsonbValue *v, int limit, Budget *b)
{
	StringInfoData tmp;
	int			len = v->val.string.len;

	initStringInfo(&tmp);
	billy_append_json(&tmp, v);
	if (tmp.len <= limit)
	{
		appendBinaryStringInfo(out, tmp.data, tmp.len);
		return;
	}
	/* escaping can grow a string: cut the raw text, then escape */
	while (len > 0)
	{
		char	   *s;

		len = len * 3 / 4;
		len = pg_mbcliplen(v->val.string.val, v->val.string.len, len);
		s = pnstrdup(v->val.string.val, len);
		resetStringInfo(&tmp);
		escape_json(&tmp, s);
		if (tmp.len <= limit)
			break;
	}
	appendBinaryStringInfo(out, tmp.data, tmp.len);
	b->truncated = true;
}

/*
 * shape_object writes an object member by member: members that are not
 * arrays or long strings first (their size is reserved), then arrays and
 * strings get what is left, in order.
 */
static void
shape_object(StringInfo out, JsonbContainer *obj, Budget *b, int max_rows,
			 const char *note, bool want_truncated_key)
{
	JsonbIterator *it;
	JsonbValue	tok;
	JsonbIteratorToken r;
	int			fixed = 0;
	bool		first = true;
	int			start = out->len;
	char	   *key = NULL;
	int			keylen = 0;

	/* pass 1: how big the small members are */
	it = JsonbIteratorInit(obj);
	while ((r = JsonbIteratorNext(&it, &tok, true)) != WJB_DONE)
	{
		if (r == WJB_KEY)
			fixed += tok.val.string.len + 4;
		else if (r == WJB_VALUE &&
				 !(tok.type == jbvBinary && !JsonContainerIsObject(tok.val.binary.data)) &&
				 !(tok.type == jbvString && tok.val.string.len > 256))
		{
			StringInfoData tmp;

			initStringInfo(&tmp);
			billy_append_json(&tmp, &tok);
			fixed += tmp.len;
			pfree(tmp.data);
		}
	}
	fixed += 200;				/* the truncation note */

	/* pass 2: write */
	appendStringInfoChar(out, '{');
	it = JsonbIteratorInit(obj);
	while ((r = JsonbIteratorNext(&it, &tok, true)) != WJB_DONE)
	{
		if (r == WJB_KEY)
		{
			key = tok.val.string.val;
			keylen = tok.val.string.len;
			continue;
		}
		if (r != WJB_VALUE)
			continue;
		if ((keylen == 9 && strncmp(key, "truncated", 9) == 0) ||
			(keylen == 4 && strncmp(key, "note", 4) == 0 && want_truncated_key))
			continue;			/* written below */
		if (!first)
			appendStringInfoChar(out, ',');
		first = false;
		{
			JsonbValue	k;

			k.type = jbvString;
			k.val.string.val = key;
			k.val.string.len = keylen;
			billy_append_json(out, &k);
			appendStringInfoChar(out, ':');
		}
		if (tok.type == jbvBinary && !JsonContainerIsObject(tok.val.binary.data))
			append_array_capped(out, tok.val.binary.data,
								Max(b->max - fixed - (out->len - start), 2) + 0, max_rows, b);
		else if (tok.type == jbvString && tok.val.string.len > 256)
			append_string_capped(out, &tok, Max(b->max - fixed - (out->len - start), 16), b);
		else
			billy_append_json(out, &tok);
	}
	/* an existing "truncated" member keeps its value unless billy cut something */
	{
		JsonbValue *t = billy_json_key(obj, "truncated");

		if (b->truncated || want_truncated_key || t)
		{
			if (!first)
				appendStringInfoChar(out, ',');
			first = false;
			appendStringInfoString(out, "\"truncated\":");
			if (b->truncated)
				appendStringInfoString(out, "true");
			else if (t)
				billy_append_json(out, t);
			else
				appendStringInfoString(out, "false");
		}
		if (b->truncated && note)
		{
			appendStringInfoString(out, ",\"note\":");
			escape_json(out, note);
		}
		else if (want_truncated_key)
		{
			JsonbValue *n = billy_json_key(obj, "note");

			if (n)
			{
				appendStringInfoString(out, ",\"note\":");
				billy_append_json(out, n);
			}
		}
	}
	appendStringInfoChar(out, '}');
}

static int
int_argument(JsonbContainer *args, const char *name, int dflt)
{
	JsonbValue *v = args ? billy_json_key(args, name) : NULL;

	if (v == NULL || v->type != jbvNumeric)
		return dflt;
	return DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(v->val.numeric)));
}

/*
 * shape_result turns what the function answered into structuredContent
 * text: an object, capped and flagged.
 */
static char *
shape_result(McpTool *tool, Jsonb *answer, ResultShape shape, JsonbContainer *args)
{
	StringInfoData out;
	StringInfoData wrap;
	JsonbValue	v;
	Budget		b = {mcp_max_bytes, 0, 0, false};
	bool		has_offset = billy_json_key(billy_json_key(&tool->input_schema->root, "properties") ?
											billy_json_key(&tool->input_schema->root, "properties")->val.binary.data : NULL,
											"offset") != NULL;
	char	   *note;

	initStringInfo(&out);
	billy_jsonb_root_value(answer, &v);

	if (shape == SHAPE_ROW)
	{
		/* one row (or none) */
		if (v.type == jbvBinary && JsonContainerSize(v.val.binary.data) > 0)
		{
			JsonbValue *row = getIthJsonbValueFromContainer(v.val.binary.data, 0);

			if (row->type == jbvBinary && JsonContainerIsObject(row->val.binary.data))
			{
				shape_object(&out, row->val.binary.data, &b, mcp_max_rows,
							 "Cut to fit billy.mcp_max_bytes.", false);
				return out.data;
			}
			appendStringInfoString(&out, "{\"result\":");
			billy_append_json(&out, row);
			appendStringInfoChar(&out, '}');
			return out.data;
		}
		return pstrdup("{}");
	}

	if (shape == SHAPE_ROWS || (shape == SHAPE_JSON && v.type == jbvBinary &&
								!JsonContainerIsObject(v.val.binary.data)))
	{
		/* a row set: {rows, row_count, truncated[, next_offset, note]} */
		int			n = v.type == jbvBinary ? JsonContainerSize(v.val.binary.data) : 0;

		initStringInfo(&wrap);
		appendStringInfoString(&wrap, "{\"rows\":");
		if (v.type == jbvBinary)
			append_array_capped(&wrap, v.val.binary.data, mcp_max_bytes - 300, mcp_max_rows, &b);
		else
			appendStringInfoString(&wrap, "[]");
		if (!b.truncated)
			b.rows_kept = n;
		appendStringInfo(&wrap, ",\"row_count\":%d,\"truncated\":%s", b.rows_kept,
						 b.truncated ? "true" : "false");
		if (b.truncated)
		{
			int			offset = int_argument(args, "offset", 0);

			if (has_offset)
			{
				appendStringInfo(&wrap, ",\"next_offset\":%d", offset + b.rows_kept);
				note = psprintf("Only the first %d rows are shown (billy.mcp_max_rows %d, billy.mcp_max_bytes %d). Call again with offset %d for the next page, or narrow the filters.",
								b.rows_kept, mcp_max_rows, mcp_max_bytes, offset + b.rows_kept);
			}
			else
				note = psprintf("Only the first %d rows are shown (billy.mcp_max_rows %d, billy.mcp_max_bytes %d). Narrow the arguments to see the rest.",
								b.rows_kept, mcp_max_rows, mcp_max_bytes);
			appendStringInfoString(&wrap, ",\"note\":");
			escape_json(&wrap, note);
		}
		appendStringInfoChar(&wrap, '}');
		return wrap.data;
	}

	if (shape == SHAPE_JSON && v.type == jbvBinary)
	{
		shape_object(&out, v.val.binary.data, &b, mcp_max_rows,
					 has_offset ? "Some lists were cut to fit billy.mcp_max_rows and billy.mcp_max_bytes: page with limit and offset, or narrow the filters."
					 : "Some lists or texts were cut to fit billy.mcp_max_rows and billy.mcp_max_bytes: narrow the arguments.",
					 false);
		return out.data;
	}

	/* a scalar (or a JSON scalar): {result} */
	appendStringInfoString(&out, "{\"result\":");
	if (v.type == jbvString)
		append_string_capped(&out, &v, mcp_max_bytes - 200, &b);
	else
		billy_append_json(&out, &v);
	if (b.truncated)
	{
		appendStringInfoString(&out, ",\"truncated\":true,\"note\":");
		escape_json(&out, "The text was cut to fit billy.mcp_max_bytes; narrow the arguments.");
	}
	appendStringInfoChar(&out, '}');
	return out.data;
}

/*
 * rpc_tool_success: the answer to a successful tools/call, structured
 * mirrored as text in content.  Built as jsonb directly: structured is
 * parsed once, and the text goes in as it is, not escaped and lexed again.
 */
static Datum
rpc_tool_success(McpRequest *req, const char *structured)
{
	Jsonb	   *sc = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(structured)));
	JsonbParseState *st = NULL;
	JsonbValue	v;

#define PUSH_KEY(k) \
	do { v.type = jbvString; v.val.string.val = (k); v.val.string.len = strlen(k); \
		 pushJsonbValue(&st, WJB_KEY, &v); } while (0)
#define PUSH_STRING(seq, s, n) \
	do { v.type = jbvString; v.val.string.val = (char *) (s); v.val.string.len = (n); \
		 pushJsonbValue(&st, (seq), &v); } while (0)

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	PUSH_KEY("jsonrpc");
	PUSH_STRING(WJB_VALUE, "2.0", 3);
	PUSH_KEY("id");
	pushJsonbValue(&st, WJB_VALUE, &req->id);
	PUSH_KEY("result");
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	PUSH_KEY("content");
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	PUSH_KEY("type");
	PUSH_STRING(WJB_VALUE, "text", 4);
	PUSH_KEY("text");
	PUSH_STRING(WJB_VALUE, structured, strlen(structured));
	pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	PUSH_KEY("structuredContent");
	v.type = jbvBinary;
	v.val.binary.data = &sc->root;
	v.val.binary.len = VARSIZE(sc) - VARHDRSZ;
	pushJsonbValue(&st, WJB_VALUE, &v);
	PUSH_KEY("isError");
	v.type = jbvBool;
	v.val.boolean = false;
	pushJsonbValue(&st, WJB_VALUE, &v);
	if (req->modern)
	{
		PUSH_KEY("resultType");
		PUSH_STRING(WJB_VALUE, "complete", 8);
		PUSH_KEY("_meta");
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		PUSH_KEY(META_SERVER_INFO);
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		PUSH_KEY("name");
		PUSH_STRING(WJB_VALUE, SERVER_NAME, strlen(SERVER_NAME));
		PUSH_KEY("title");
		PUSH_STRING(WJB_VALUE, SERVER_TITLE, strlen(SERVER_TITLE));
		PUSH_KEY("version");
		PUSH_STRING(WJB_VALUE, BILLY_VERSION, strlen(BILLY_VERSION));
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(&st, WJB_END_OBJECT, NULL);
#undef PUSH_KEY
#undef PUSH_STRING
	return JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
}

/* ------------------------------------------------------------ audit */

/*
 * audit records the call in the audit trail (audit.c): the tool, its
 * arguments redacted, the outcome, the organization it named when that
 * resolves, and the client (application_name).  It is queued, not chained:
 * a tool call never waits for another's place in the hash chain; the worker
 * chains queued entries within seconds.
 */
static void
audit_entry(const char *tool, JsonbValue *args, const char *outcome, const char *detail,
			bool aggregate)
{
	char	   *org;
	JsonbParseState *state = NULL;
	JsonbValue *request;
	JsonbValue	v;
	JsonbValue *given = NULL;

	/* the organization it named, when that resolves: never an error here */
	if (args && args->type == jbvBinary)
	{
		JsonbValue	key;

		key.type = jbvString;
		key.val.string.val = "organization";
		key.val.string.len = 12;
		given = findJsonbValueFromContainer(args->val.binary.data, JB_FOBJECT, &key);
	}
	/* (what billy._resolve_org would answer, or NULL where it would raise) */
	if (given && given->type == jbvString)
		org = billy_resolve_organization_quietly(pnstrdup(given->val.string.val,
														  given->val.string.len));
	else
		org = billy_resolve_organization_quietly(NULL);

	/* {"arguments": ..., "detail": ...}, redacted when it is stored */
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	v.type = jbvString;
	v.val.string.val = "arguments";
	v.val.string.len = 9;
	pushJsonbValue(&state, WJB_KEY, &v);
	if (args)
		pushJsonbValue(&state, WJB_VALUE, args);
	else
	{
		v.type = jbvNull;
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	v.type = jbvString;
	v.val.string.val = "detail";
	v.val.string.len = 6;
	pushJsonbValue(&state, WJB_KEY, &v);
	if (detail)
	{
		v.type = jbvString;
		v.val.string.val = (char *) detail;
		v.val.string.len = strlen(detail);
	}
	else
		v.type = jbvNull;
	pushJsonbValue(&state, WJB_VALUE, &v);
	request = pushJsonbValue(&state, WJB_END_OBJECT, NULL);

	billy_audit_queue("mcp.tools/call", org, tool,
					  JsonbValueToJsonb(request), outcome,
					  GetConfigOption("application_name", true, false), aggregate);
}

/* audit: a call recorded in full (writes, refusals, errors) */
static void
audit(const char *tool, JsonbValue *args, const char *outcome, const char *detail)
{
	audit_entry(tool, args, outcome, detail, false);
}

/*
 * audit_done: a call that succeeded; a read-only tool's is counted in an
 * entry per minute (audit.c) rather than kept whole, so reads are recorded
 * without one permanent entry each.
 */
static void
audit_done(McpTool *tool, JsonbValue *args)
{
	audit_entry(tool->name, args, "ok", NULL, tool->read_only);
}

/* ------------------------------------------------------------ calling */

/*
 * Hints written for psql users name SQL a model cannot run; over MCP such a
 * hint is replaced by what a model can do, or left out.  A hint naming one
 * of these gets the text beside it.
 */
static const struct
{
	const char *names;
	const char *instead;
}			sql_hints[] = {
	{"billy.organizations", "get_organization_settings lists the organizations with their ids and names."},
	{"billy.enable_writes", "Writes to Billy are switched off on this server; the user's administrator can switch them on."},
	{"billy.grant_organization", "This connection may not write to that organization; the user's administrator can grant it."},
	{"billy_admin", "This connection may not do that; the user's administrator can grant it."},
	{"billy.set_read_only", "The organization is read-only in billy; the user's administrator can allow writes."},
	{"billy.connect", "The organization is not connected; the user's administrator connects it."},
	{"billy.bulk_jobs", "get_bulk_job_status shows an import job."},
	{"billy.preview_write", "Leave confirmation out to preview again, then use the new confirmation."},
	{"billy.write_operations", "The tool's input schema lists its arguments."},
};

/* has_sql: whether a text names SQL a model cannot run */
static bool
has_sql(const char *t)
{
	return strstr(t, "SELECT ") || strstr(t, "ALTER ") || strstr(t, "SET ") || strstr(t, "billy.");
}

/* mcp_hint: the hint a model reads, NULL for none */
static const char *
mcp_hint(const char *hint)
{
	if (hint == NULL)
		return NULL;
	for (int i = 0; i < lengthof(sql_hints); i++)
		if (strstr(hint, sql_hints[i].names))
			return sql_hints[i].instead;
	if (!has_sql(hint))
		return hint;
	/* keep the sentences that name no SQL */
	{
		StringInfoData kept;
		const char *p = hint;

		initStringInfo(&kept);
		while (*p)
		{
			const char *end = strstr(p, ". ");
			int			len = end ? (int) (end - p) + 1 : (int) strlen(p);
			char	   *sentence = pnstrdup(p, len);

			if (!has_sql(sentence))
				appendStringInfo(&kept, "%s%s", kept.len ? " " : "", sentence);
			p += len;
			while (*p == ' ')
				p++;
		}
		return kept.len ? kept.data : NULL;
	}
}

/* sql_error_text: what the model reads about a SQL error: never SQL */
static char *
sql_error_text(ErrorData *edata)
{
	StringInfoData s;
	const char *hint = mcp_hint(edata->hint);

	initStringInfo(&s);
	appendStringInfo(&s, "error %s: %s", unpack_sql_state(edata->sqlerrcode),
					 edata->message ? edata->message : "(no message)");
	if (edata->detail && mcp_hint(edata->detail) == edata->detail)
		appendStringInfo(&s, "\nDetail: %s", edata->detail);
	if (hint)
		appendStringInfo(&s, "\nHint: %s", hint);
	return s.data;
}

/*
 * run_tool runs the tool's statement in a subtransaction.  On success it
 * returns the answer (copied into outer); on a SQL error it returns NULL
 * and sets *error, unless the error is a cancel by the client (not a
 * statement timeout), which goes on up: the bridge asked for it.
 */
static Jsonb *
run_tool(const char *sql, int nargs, Oid *types, Datum *values, char *nulls,
		 MemoryContext outer, ErrorData **error)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Jsonb	   *answer = NULL;

	*error = NULL;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		SPIPlanPtr	plan = get_plan(sql, nargs, types);
		bool		isnull;
		Datum		d;
		int			rc = SPI_execute_plan(plan, values, nulls, false, 1);

		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "the tool's statement returned no row");
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		MemoryContextSwitchTo(outer);
		answer = isnull ? NULL : DatumGetJsonbPCopy(d);
		if (answer == NULL)
		{
			JsonbValue	nullv;

			nullv.type = jbvNull;
			answer = JsonbValueToJsonb(&nullv);
		}
		MemoryContextSwitchTo(oldcontext);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(outer);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;

		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED &&
			!(edata->message && strstr(edata->message, "statement timeout")))
			ReThrowError(edata);
		*error = edata;
		answer = NULL;
	}
	PG_END_TRY();
	return answer;
}

static Datum
mcp_tools_call(McpRequest *req)
{
	bool		present,
				is_string;
	char	   *name = req->params ? string_member(req->params, "name", &present, &is_string) : NULL;
	JsonbValue *argsv = req->params ? billy_json_key(req->params, "arguments") : NULL;
	JsonbContainer *args = NULL;
	JsonbValue *argv = NULL;		/* args as a value, for the audit */
	McpTool		tool;
	JsonbValue	argval;
	char	   *err;
	Jsonb	   *mapped;
	char	   *confirmation;
	char	   *sql;
	ResultShape shape = SHAPE_JSON;
	Jsonb	   *answer;
	ErrorData  *edata;
	char	   *structured;
	Oid			types[4];
	Datum		values[4];
	char		nulls[5] = "    ";
	int			nargs;

	if (name == NULL)
		return rpc_error(req, RPC_INVALID_PARAMS, "params.name must be a string naming a tool", NULL);
	if (!load_tool(name, &tool))
	{
		StringInfoData data;

		initStringInfo(&data);
		appendStringInfoString(&data, "{\"tool\":");
		escape_json(&data, name);
		appendStringInfoChar(&data, '}');
		return rpc_error(req, RPC_INVALID_PARAMS,
						 psprintf("unknown tool: %s (tools/list shows the tools)", name), data.data);
	}

	if (argsv && argsv->type == jbvBinary && JsonContainerIsObject(argsv->val.binary.data))
	{
		args = argsv->val.binary.data;
		argv = argsv;
	}
	else if (argsv && argsv->type != jbvNull)
	{
		audit(name, NULL, "invalid_arguments", "arguments is not an object");
		return rpc_result(req, tool_error_json("invalid arguments: arguments must be an object"));
	}

	if (tool.problem)
	{
		audit(name, argv, "unavailable", tool.problem);
		return rpc_result(req, tool_error_json(psprintf("the tool %s is not available: %s", name, tool.problem)));
	}

	/* the arguments against the input schema */
	if (args)
	{
		argval.type = jbvBinary;
		argval.val.binary.data = args;
		argval.val.binary.len = 0;
	}
	else
	{
		/* no arguments: check an empty object (required members, if any) */
		JsonbParseState *st = NULL;

		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		billy_jsonb_root_value(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)), &argval);
	}
	err = billy_schema_check(&tool.input_schema->root, &argval);
	if (err)
	{
		audit(name, argv, "invalid_arguments", err);
		return rpc_result(req, tool_error_json(psprintf("invalid arguments: %s", err)));
	}

	mapped = map_arguments(&tool, args, &confirmation);

	if (strcmp(tool.kind, "write") == 0)
	{
		sql = "SELECT billy._mcp_write($1, $2, $3, $4)";
		nargs = 4;
		types[0] = TEXTOID;
		types[1] = TEXTOID;
		types[2] = JSONBOID;
		types[3] = TEXTOID;
		values[0] = CStringGetTextDatum(name);
		values[1] = CStringGetTextDatum(tool.operation);
		values[2] = JsonbPGetDatum(mapped);
		if (confirmation)
			values[3] = CStringGetTextDatum(confirmation);
		else
			nulls[3] = 'n';
		shape = SHAPE_JSON;
	}
	else if (strcmp(tool.kind, "import") == 0)
	{
		sql = "SELECT billy._mcp_import($1, $2, $3)";
		nargs = 3;
		types[0] = TEXTOID;
		types[1] = JSONBOID;
		types[2] = TEXTOID;
		values[0] = CStringGetTextDatum(name);
		values[1] = JsonbPGetDatum(mapped);
		if (confirmation)
			values[2] = CStringGetTextDatum(confirmation);
		else
			nulls[2] = 'n';
		shape = SHAPE_JSON;
	}
	else
	{
		char	   *unknown;

		sql = call_sql(&tool, mapped, &shape, &unknown);
		if (sql == NULL)
		{
			char	   *problem = psprintf("%s has no parameter named %s (the registry and the function disagree)",
										   function_name(tool.func), unknown);

			audit(name, argv, "unavailable", problem);
			return rpc_result(req, tool_error_json(psprintf("the tool %s is not available: %s", name, problem)));
		}
		nargs = 4;
		types[0] = JSONBOID;
		types[1] = INT4OID;
		types[2] = TEXTOID;
		types[3] = JSONBOID;
		values[0] = JsonbPGetDatum(mapped);
		values[1] = Int32GetDatum(mcp_max_rows + 1);
		values[2] = tool.project ? CStringGetTextDatum(tool.project) : (Datum) 0;
		nulls[2] = tool.project ? ' ' : 'n';
		/* the tool's own arguments, for the projection (detail, fields, offset) */
		values[3] = args ? DirectFunctionCall1(jsonb_in, CStringGetDatum(JsonbToCString(NULL, args, 0)))
			: JsonbPGetDatum(mapped);
	}

	/*
	 * An assistant acts on what it reads: reads confirm a stale row with
	 * Billy before answering (billy.read_confirm; src/cache_confirm.c).
	 */
	{
		bool		confirm = billy_read_confirm;

		billy_read_confirm = true;
		PG_TRY();
		{
			answer = run_tool(sql, nargs, types, values, nulls, req->outer, &edata);
		}
		PG_FINALLY();
		{
			billy_read_confirm = confirm;
		}
		PG_END_TRY();
	}
	if (answer == NULL)
	{
		char	   *text = sql_error_text(edata);

		audit(name, argv, unpack_sql_state(edata->sqlerrcode), text);
		return rpc_result(req, tool_error_json(text));
	}

	structured = shape_result(&tool, answer, shape, args);
	audit_done(&tool, argv);
	return rpc_tool_success(req, structured);
}

/* ------------------------------------------------------------ 2026-07-28 */

/*
 * modern_meta: the params._meta of a modern request, or NULL.  A request is
 * modern when its _meta names a protocol version (the key is there, whatever
 * its value): from then on a malformed envelope is an error, never a quiet
 * fall back to the legacy era.
 */
static JsonbContainer *
modern_meta(JsonbContainer *params)
{
	JsonbValue *meta = params ? billy_json_key(params, "_meta") : NULL;

	if (meta == NULL || meta->type != jbvBinary || !JsonContainerIsObject(meta->val.binary.data))
		return NULL;
	if (billy_json_key(meta->val.binary.data, META_PROTOCOL_VERSION) == NULL)
		return NULL;
	return meta->val.binary.data;
}

static bool
is_string_member(JsonbContainer *obj, const char *key)
{
	JsonbValue *v = billy_json_key(obj, key);

	return v != NULL && v->type == jbvString;
}

/*
 * envelope_problem says what is wrong with a modern request's _meta, or
 * NULL: the protocol version a string, clientCapabilities an object (both
 * required), clientInfo (optional) an object with a name and a version,
 * logLevel (optional) a syslog level.  *data gets the error's data.
 */
static char *
envelope_problem(JsonbContainer *meta, char **data)
{
	static const char *const levels[] = {
		"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"
	};
	JsonbValue *v;

	*data = NULL;
	if (!is_string_member(meta, META_PROTOCOL_VERSION))
	{
		*data = "{\"invalid\":\"" META_PROTOCOL_VERSION "\"}";
		return "invalid params: _meta[\"" META_PROTOCOL_VERSION "\"] must be a string, e.g. \"" MODERN_VERSION "\"";
	}
	v = billy_json_key(meta, META_CLIENT_CAPABILITIES);
	if (v == NULL)
	{
		*data = "{\"missing\":[\"" META_CLIENT_CAPABILITIES "\"]}";
		return "invalid params: a " MODERN_VERSION " request needs _meta[\"" META_CLIENT_CAPABILITIES "\"] (an object; {} for none)";
	}
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
	{
		*data = "{\"invalid\":\"" META_CLIENT_CAPABILITIES "\"}";
		return "invalid params: _meta[\"" META_CLIENT_CAPABILITIES "\"] must be an object ({} for none)";
	}
	v = billy_json_key(meta, META_CLIENT_INFO);
	if (v != NULL && !(v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data) &&
					   is_string_member(v->val.binary.data, "name") &&
					   is_string_member(v->val.binary.data, "version")))
	{
		*data = "{\"invalid\":\"" META_CLIENT_INFO "\"}";
		return "invalid params: _meta[\"" META_CLIENT_INFO "\"] must be an object with a name and a version (strings)";
	}
	v = billy_json_key(meta, META_LOG_LEVEL);
	if (v != NULL)
	{
		bool		known = false;

		for (int i = 0; v->type == jbvString && i < lengthof(levels); i++)
			known |= (size_t) v->val.string.len == strlen(levels[i]) &&
				strncmp(v->val.string.val, levels[i], v->val.string.len) == 0;
		if (!known)
		{
			*data = "{\"invalid\":\"" META_LOG_LEVEL "\"}";
			return "invalid params: _meta[\"" META_LOG_LEVEL "\"] must be debug, info, notice, warning, error, critical, alert or emergency";
		}
	}
	return NULL;
}

/* ------------------------------------------------------------ resources, prompts */

/*
 * The methods answered by SQL (extension/0.2.0/91-apps.sql): each function
 * takes the request's params (an empty object when there are none) and
 * returns {"result": {...}} or {"error": {"kind": "not_found"|"invalid",
 * "message": ...}}.  A missing resource is -32002 in the legacy era and
 * -32602 in the modern one (which dropped -32002); anything else wrong with
 * the params is -32602.
 */
typedef struct SqlMethod
{
	const char *method;
	const char *sql;
	bool		cacheable;		/* a list: ttlMs and cacheScope when modern */
} SqlMethod;

static const SqlMethod sql_methods[] = {
	{"resources/list", "SELECT billy._mcp_resources_list($1)", true},
	{"resources/templates/list", "SELECT billy._mcp_resource_templates_list($1)", true},
	{"resources/read", "SELECT billy._mcp_resources_read($1)", false},
	{"prompts/list", "SELECT billy._mcp_prompts_list($1)", true},
	{"prompts/get", "SELECT billy._mcp_prompts_get($1)", false},
};

#define RPC_RESOURCE_NOT_FOUND	(-32002)

static const SqlMethod *
find_sql_method(const char *method)
{
	for (int i = 0; i < lengthof(sql_methods); i++)
		if (strcmp(method, sql_methods[i].method) == 0)
			return &sql_methods[i];
	return NULL;
}

static Datum
mcp_sql_method(McpRequest *req, const SqlMethod *m)
{
	Oid			types[1] = {JSONBOID};
	Datum		values[1];
	JsonbValue	pv;
	JsonbValue *error;
	JsonbValue *result;
	Jsonb	   *answer;
	bool		isnull;
	StringInfoData out;

	initStringInfo(&out);
	if (req->params)
	{
		pv.type = jbvBinary;
		pv.val.binary.data = req->params;
		pv.val.binary.len = 0;
		billy_append_json(&out, &pv);
	}
	else
		appendStringInfoString(&out, "{}");
	values[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data));
	if (SPI_execute_plan(get_plan(m->sql, 1, types), values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "%s returned no row", m->method);
	answer = DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		elog(ERROR, "%s returned NULL", m->method);
	error = billy_json_key(&answer->root, "error");
	if (error && error->type == jbvBinary)
	{
		JsonbValue *kind = billy_json_key(error->val.binary.data, "kind");
		JsonbValue *message = billy_json_key(error->val.binary.data, "message");
		bool		not_found = kind && kind->type == jbvString && kind->val.string.len == 9 &&
			strncmp(kind->val.string.val, "not_found", 9) == 0;

		return rpc_error(req, not_found && !req->modern ? RPC_RESOURCE_NOT_FOUND : RPC_INVALID_PARAMS,
						 message && message->type == jbvString ?
						 pnstrdup(message->val.string.val, message->val.string.len) : "invalid params",
						 NULL);
	}
	result = billy_json_key(&answer->root, "result");
	if (result == NULL)
		elog(ERROR, "%s answered neither a result nor an error", m->method);
	resetStringInfo(&out);
	billy_append_json(&out, result);
	return m->cacheable ? rpc_result_cacheable(req, out.data) : rpc_result(req, out.data);
}

/*
 * mcp_discover answers server/discover: every version billy speaks (the
 * legacy ones through initialize), the capabilities of a modern request
 * (no tools.listChanged: billy has no subscriptions/listen stream), and the
 * instructions for the model.
 */
static Datum
mcp_discover(McpRequest *req)
{
	char	   *instructions = billy_sql_value_spi("SELECT billy.mcp_instructions()");
	StringInfoData out;

	initStringInfo(&out);
	appendStringInfoString(&out, "{\"supportedVersions\":" ALL_VERSIONS_JSON
						   ",\"capabilities\":{\"tools\":{\"listChanged\":false}," CAPABILITIES_MORE "}");
	if (instructions)
	{
		appendStringInfoString(&out, ",\"instructions\":");
		escape_json(&out, instructions);
	}
	appendStringInfoChar(&out, '}');
	return rpc_result_cacheable(req, out.data);
}

/*
 * mcp_modern answers a 2026-07-28 request: its envelope, its version, then
 * the method.  Stateless: nothing from an earlier message counts.
 */
static Datum
mcp_modern(McpRequest *req, JsonbContainer *meta)
{
	char	   *data;
	char	   *problem = envelope_problem(meta, &data);
	JsonbValue *v;
	char	   *version;
	StringInfoData d;

	if (problem)
		return rpc_error(req, RPC_INVALID_PARAMS, problem, data);

	v = billy_json_key(meta, META_PROTOCOL_VERSION);
	version = pnstrdup(v->val.string.val, v->val.string.len);
	if (strcmp(version, MODERN_VERSION) != 0)
	{
		initStringInfo(&d);
		appendStringInfoString(&d, "{\"supported\":" ALL_VERSIONS_JSON ",\"requested\":");
		escape_json(&d, version);
		appendStringInfoChar(&d, '}');
		return rpc_error(req, RPC_UNSUPPORTED_VERSION,
						 psprintf("unsupported protocol version: %s (billy serves " MODERN_VERSION
								  " per request, and " LEGACY_VERSIONS_TEXT " after initialize)",
								  version), d.data);
	}

	if (strcmp(req->method, "server/discover") == 0)
		return mcp_discover(req);
	if (strcmp(req->method, "tools/list") == 0)
		return mcp_tools_list(req);
	if (strcmp(req->method, "tools/call") == 0)
		return mcp_tools_call(req);
	if (find_sql_method(req->method))
		return mcp_sql_method(req, find_sql_method(req->method));

	initStringInfo(&d);
	appendStringInfoString(&d, "{\"method\":");
	escape_json(&d, req->method);
	appendStringInfoChar(&d, '}');
	return rpc_error(req, RPC_METHOD_NOT_FOUND,
					 psprintf("method not found: %s (on " MODERN_VERSION " billy serves server/discover, tools/list, tools/call, resources/list, resources/templates/list, resources/read, prompts/list and prompts/get%s)",
							  req->method,
							  strcmp(req->method, "initialize") == 0 ? "; a request with _meta needs no initialize" :
							  strcmp(req->method, "ping") == 0 ? "; " MODERN_VERSION " has no ping" : ""),
					 d.data);
}

/* ------------------------------------------------------------ dispatch */

PG_FUNCTION_INFO_V1(billy_mcp);

/*
 * billy_mcp: billy.mcp(request jsonb) RETURNS jsonb.  The answer to one
 * message, or NULL when nothing may be answered (notifications, responses).
 */
Datum
billy_mcp(PG_FUNCTION_ARGS)
{
	Jsonb	   *msg;
	McpRequest	req;
	JsonbValue *id;
	JsonbValue *method;
	JsonbValue *jsonrpc;
	JsonbValue *params;
	JsonbContainer *meta;
	Datum		answer;
	MemoryContext outer = CurrentMemoryContext;

	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(rpc_error(NULL, RPC_INVALID_REQUEST, "the request is SQL NULL", NULL));
	msg = PG_GETARG_JSONB_P(0);

	if (JB_ROOT_IS_ARRAY(msg) && !JB_ROOT_IS_SCALAR(msg))
		PG_RETURN_DATUM(rpc_error(NULL, RPC_INVALID_REQUEST,
								  "batches are not supported: send one JSON-RPC message at a time", NULL));
	if (!JB_ROOT_IS_OBJECT(msg))
		PG_RETURN_DATUM(rpc_error(NULL, RPC_INVALID_REQUEST, "a JSON-RPC message must be an object", NULL));

	id = billy_json_key(&msg->root, "id");
	method = billy_json_key(&msg->root, "method");
	jsonrpc = billy_json_key(&msg->root, "jsonrpc");
	params = billy_json_key(&msg->root, "params");

	if (id == NULL)
	{
		/* a notification (or a response to a request billy never sent) */
		if (method != NULL || billy_json_key(&msg->root, "result") || billy_json_key(&msg->root, "error"))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(rpc_error(NULL, RPC_INVALID_REQUEST, "a JSON-RPC message needs a method", NULL));
	}
	if (id->type != jbvString && id->type != jbvNumeric)
		PG_RETURN_DATUM(rpc_error(NULL, RPC_INVALID_REQUEST, "the id must be a string or a number", NULL));
	req.id = *id;
	req.params = NULL;
	req.method = NULL;
	req.outer = outer;
	req.modern = false;

	if (method == NULL && (billy_json_key(&msg->root, "result") || billy_json_key(&msg->root, "error")))
		PG_RETURN_NULL();		/* a response: billy sends no requests */
	if (jsonrpc == NULL || jsonrpc->type != jbvString || jsonrpc->val.string.len != 3 ||
		strncmp(jsonrpc->val.string.val, "2.0", 3) != 0)
		PG_RETURN_DATUM(rpc_error(&req, RPC_INVALID_REQUEST, "jsonrpc must be \"2.0\"", NULL));
	if (method == NULL || method->type != jbvString)
		PG_RETURN_DATUM(rpc_error(&req, RPC_INVALID_REQUEST, "method must be a string", NULL));
	req.method = pnstrdup(method->val.string.val, method->val.string.len);
	if (params != NULL && params->type != jbvNull)
	{
		if (params->type != jbvBinary || !JsonContainerIsObject(params->val.binary.data))
			PG_RETURN_DATUM(rpc_error(&req, RPC_INVALID_PARAMS, "params must be an object", NULL));
		req.params = params->val.binary.data;
	}

	meta = modern_meta(req.params);
	req.modern = meta != NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (req.modern)
		answer = mcp_modern(&req, meta);
	else if (strcmp(req.method, "initialize") == 0)
		answer = mcp_initialize(&req);
	else if (strcmp(req.method, "ping") == 0)
		answer = rpc_result(&req, "{}");
	else if (strcmp(req.method, "tools/list") == 0)
		answer = mcp_tools_list(&req);
	else if (strcmp(req.method, "tools/call") == 0)
		answer = mcp_tools_call(&req);
	else if (find_sql_method(req.method))
		answer = mcp_sql_method(&req, find_sql_method(req.method));
	else
	{
		StringInfoData data;

		initStringInfo(&data);
		appendStringInfoString(&data, "{\"method\":");
		escape_json(&data, req.method);
		appendStringInfoChar(&data, '}');
		answer = rpc_error(&req, RPC_METHOD_NOT_FOUND,
						   psprintf("method not found: %s (billy serves initialize, ping, tools/list, tools/call, resources/list, resources/templates/list, resources/read, prompts/list and prompts/get)", req.method),
						   data.data);
	}

	/* the answer was built in the SPI procedure context: copy it out */
	{
		MemoryContext spi = MemoryContextSwitchTo(outer);
		Jsonb	   *copy = DatumGetJsonbPCopy(answer);

		MemoryContextSwitchTo(spi);
		SPI_finish();
		PG_RETURN_JSONB_P(copy);
	}
}
