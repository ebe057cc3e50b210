/*-------------------------------------------------------------------------
 *
 * mcp/protocol.c
 *	  The Model Context Protocol inside PostgreSQL: billy.mcp(request jsonb)
 *	  answers one JSON-RPC 2.0 message.  This file is the protocol: the
 *	  envelope, both eras, initialize, tools/list, server/discover,
 *	  resources and prompts, and the dispatch; tools/call is tools.c, the
 *	  shaping of its results shape.c (README.md in this folder).
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

#include "cache.h"
#include "jsonschema.h"
#include "mcp/mcp.h"
#include "mcp/mcp_internal.h"
#include "module.h"


/* ------------------------------------------------------------ initialize */

static Datum
mcp_initialize(McpRequest *req)
{
	bool		present,
				is_string;
	char	   *asked = req->params ? mcp_string_member(req->params, "protocolVersion", &present, &is_string) : NULL;
	const char *version = supported_versions[0];
	StringInfoData out;
	char	   *instructions;

	if (asked == NULL)
		return mcp_rpc_error(req, RPC_INVALID_PARAMS, "params.protocolVersion must be a string",
							 "{\"supported\":[" LEGACY_VERSIONS_JSON "]}");

	/*
	 * echo a version billy speaks; otherwise offer the newest, the client
	 * decides
	 */
	for (int i = 0; i < lengthof(supported_versions); i++)
		if (strcmp(asked, supported_versions[i]) == 0)
			version = supported_versions[i];

	instructions = billy_sql_value_spi("SELECT billy.mcp_instructions()");

	initStringInfo(&out);
	appendStringInfoString(&out, "{\"protocolVersion\":");
	escape_json(&out, version);
	appendStringInfo(&out, ",\"capabilities\":{\"tools\":{\"listChanged\":%s}," CAPABILITIES_MORE "}",
					 billy_mcp_list_changed ? "true" : "false");
	appendStringInfoString(&out, ",\"serverInfo\":" SERVER_INFO_JSON);
	if (instructions)
	{
		appendStringInfoString(&out, ",\"instructions\":");
		escape_json(&out, instructions);
	}
	appendStringInfoChar(&out, '}');
	return mcp_rpc_result(req, out.data);
}

/*
 * billy_sql_value_spi runs a query without arguments in the current SPI
 * connection and returns its first value as text (NULL for SQL NULL).
 */
char *
billy_sql_value_spi(const char *sql)
{
	SPIPlanPtr	plan = mcp_get_plan(sql, 0, NULL);
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
	char	   *cursor = req->params ? mcp_string_member(req->params, "cursor", &present, &is_string) : NULL;
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
			return mcp_rpc_error(req, RPC_INVALID_PARAMS, "params.cursor must be a string", NULL);
	}
	values[0] = cursor ? CStringGetTextDatum(cursor) : (Datum) 0;
	nulls[0] = cursor ? ' ' : 'n';
	values[1] = Int32GetDatum(billy_mcp_page_size);

	plan = mcp_get_plan("SELECT billy._mcp_tools_list($1, $2)", 2, types);
	if (SPI_execute_plan(plan, values, nulls, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "tools/list returned no row");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return mcp_rpc_error(req, RPC_INVALID_PARAMS, "invalid cursor: pass back a nextCursor billy gave, unchanged", NULL);
	page = DatumGetJsonbP(d);
	initStringInfo(&out);
	billy_jsonb_root_value(page, &v);
	billy_append_json(&out, &v);
	return mcp_rpc_result_cacheable(req, out.data);
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
	if (SPI_execute_plan(mcp_get_plan(m->sql, 1, types), values, NULL, true, 1) != SPI_OK_SELECT ||
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

		return mcp_rpc_error(req, not_found && !req->modern ? RPC_RESOURCE_NOT_FOUND : RPC_INVALID_PARAMS,
							 message && message->type == jbvString ?
							 pnstrdup(message->val.string.val, message->val.string.len) : "invalid params",
							 NULL);
	}
	result = billy_json_key(&answer->root, "result");
	if (result == NULL)
		elog(ERROR, "%s answered neither a result nor an error", m->method);
	resetStringInfo(&out);
	billy_append_json(&out, result);
	return m->cacheable ? mcp_rpc_result_cacheable(req, out.data) : mcp_rpc_result(req, out.data);
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
	return mcp_rpc_result_cacheable(req, out.data);
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
		return mcp_rpc_error(req, RPC_INVALID_PARAMS, problem, data);

	v = billy_json_key(meta, META_PROTOCOL_VERSION);
	version = pnstrdup(v->val.string.val, v->val.string.len);
	if (strcmp(version, MODERN_VERSION) != 0)
	{
		initStringInfo(&d);
		appendStringInfoString(&d, "{\"supported\":" ALL_VERSIONS_JSON ",\"requested\":");
		escape_json(&d, version);
		appendStringInfoChar(&d, '}');
		return mcp_rpc_error(req, RPC_UNSUPPORTED_VERSION,
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
	return mcp_rpc_error(req, RPC_METHOD_NOT_FOUND,
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
		PG_RETURN_DATUM(mcp_rpc_error(NULL, RPC_INVALID_REQUEST, "the request is SQL NULL", NULL));
	msg = PG_GETARG_JSONB_P(0);

	if (JB_ROOT_IS_ARRAY(msg) && !JB_ROOT_IS_SCALAR(msg))
		PG_RETURN_DATUM(mcp_rpc_error(NULL, RPC_INVALID_REQUEST,
									  "batches are not supported: send one JSON-RPC message at a time", NULL));
	if (!JB_ROOT_IS_OBJECT(msg))
		PG_RETURN_DATUM(mcp_rpc_error(NULL, RPC_INVALID_REQUEST, "a JSON-RPC message must be an object", NULL));

	id = billy_json_key(&msg->root, "id");
	method = billy_json_key(&msg->root, "method");
	jsonrpc = billy_json_key(&msg->root, "jsonrpc");
	params = billy_json_key(&msg->root, "params");

	if (id == NULL)
	{
		/* a notification (or a response to a request billy never sent) */
		if (method != NULL || billy_json_key(&msg->root, "result") || billy_json_key(&msg->root, "error"))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(mcp_rpc_error(NULL, RPC_INVALID_REQUEST, "a JSON-RPC message needs a method", NULL));
	}
	if (id->type != jbvString && id->type != jbvNumeric)
		PG_RETURN_DATUM(mcp_rpc_error(NULL, RPC_INVALID_REQUEST, "the id must be a string or a number", NULL));
	req.id = *id;
	req.params = NULL;
	req.method = NULL;
	req.outer = outer;
	req.modern = false;

	if (method == NULL && (billy_json_key(&msg->root, "result") || billy_json_key(&msg->root, "error")))
		PG_RETURN_NULL();		/* a response: billy sends no requests */
	if (jsonrpc == NULL || jsonrpc->type != jbvString || jsonrpc->val.string.len != 3 ||
		strncmp(jsonrpc->val.string.val, "2.0", 3) != 0)
		PG_RETURN_DATUM(mcp_rpc_error(&req, RPC_INVALID_REQUEST, "jsonrpc must be \"2.0\"", NULL));
	if (method == NULL || method->type != jbvString)
		PG_RETURN_DATUM(mcp_rpc_error(&req, RPC_INVALID_REQUEST, "method must be a string", NULL));
	req.method = pnstrdup(method->val.string.val, method->val.string.len);
	if (params != NULL && params->type != jbvNull)
	{
		if (params->type != jbvBinary || !JsonContainerIsObject(params->val.binary.data))
			PG_RETURN_DATUM(mcp_rpc_error(&req, RPC_INVALID_PARAMS, "params must be an object", NULL));
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
		answer = mcp_rpc_result(&req, "{}");
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
		answer = mcp_rpc_error(&req, RPC_METHOD_NOT_FOUND,
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
