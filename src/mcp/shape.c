/*-------------------------------------------------------------------------
 *
 * mcp/shape.c
 *	  A tool's answer made into an MCP result: structuredContent (row sets
 *	  wrapped as {rows, row_count, truncated}), capped in rows
 *	  (billy.mcp_max_rows) and bytes (billy.mcp_max_bytes), mirrored as
 *	  compact JSON text in content.
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
#include "mcp/mcp_internal.h"
#include "module.h"


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

SPIPlanPtr
mcp_get_plan(const char *sql, int nargs, Oid *types)
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

Datum
mcp_rpc_error(McpRequest *req, int code, const char *message, const char *data_json)
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

Datum
mcp_rpc_result(McpRequest *req, const char *result_json)
{
	return rpc_result_with(req, result_json, NULL);
}

/*
 * rpc_result_cacheable: a result a modern client may cache (tools/list,
 * server/discover): ttlMs from billy.mcp_cache_ttl_ms, and cacheScope
 * private because what it lists depends on the calling role's grants.
 */
Datum
mcp_rpc_result_cacheable(McpRequest *req, const char *result_json)
{
	if (!req->modern)
		return mcp_rpc_result(req, result_json);
	return rpc_result_with(req, result_json,
						   psprintf("\"ttlMs\":%d,\"cacheScope\":\"private\"", billy_mcp_cache_ttl_ms));
}

/* a tools/call result with isError: the text says what went wrong */
char *
mcp_tool_error_json(const char *text)
{
	StringInfoData out;

	initStringInfo(&out);
	appendStringInfoString(&out, "{\"content\":[{\"type\":\"text\",\"text\":");
	escape_json(&out, text);
	appendStringInfoString(&out, "}],\"isError\":true}");
	return out.data;
}

char *
mcp_string_member(JsonbContainer *obj, const char *key, bool *present, bool *is_string)
{
	JsonbValue *v = billy_json_key(obj, key);

	*present = v != NULL;
	*is_string = v != NULL && v->type == jbvString;
	if (!*is_string)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
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

	/*
	 * an existing "truncated" member keeps its value unless billy cut
	 * something
	 */
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
 * mcp_shape_result turns what the function answered into structuredContent
 * text: an object, capped and flagged.
 */
char *
mcp_shape_result(McpTool *tool, Jsonb *answer, ResultShape shape, JsonbContainer *args)
{
	StringInfoData out;
	StringInfoData wrap;
	JsonbValue	v;
	Budget		b = {billy_mcp_max_bytes, 0, 0, false};
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
				shape_object(&out, row->val.binary.data, &b, billy_mcp_max_rows,
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
			append_array_capped(&wrap, v.val.binary.data, billy_mcp_max_bytes - 300, billy_mcp_max_rows, &b);
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
								b.rows_kept, billy_mcp_max_rows, billy_mcp_max_bytes, offset + b.rows_kept);
			}
			else
				note = psprintf("Only the first %d rows are shown (billy.mcp_max_rows %d, billy.mcp_max_bytes %d). Narrow the arguments to see the rest.",
								b.rows_kept, billy_mcp_max_rows, billy_mcp_max_bytes);
			appendStringInfoString(&wrap, ",\"note\":");
			escape_json(&wrap, note);
		}
		appendStringInfoChar(&wrap, '}');
		return wrap.data;
	}

	if (shape == SHAPE_JSON && v.type == jbvBinary)
	{
		shape_object(&out, v.val.binary.data, &b, billy_mcp_max_rows,
					 has_offset ? "Some lists were cut to fit billy.mcp_max_rows and billy.mcp_max_bytes: page with limit and offset, or narrow the filters."
					 : "Some lists or texts were cut to fit billy.mcp_max_rows and billy.mcp_max_bytes: narrow the arguments.",
					 false);
		return out.data;
	}

	/* a scalar (or a JSON scalar): {result} */
	appendStringInfoString(&out, "{\"result\":");
	if (v.type == jbvString)
		append_string_capped(&out, &v, billy_mcp_max_bytes - 200, &b);
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
 * mcp_rpc_tool_success: the answer to a successful tools/call, structured
 * mirrored as text in content.  Built as jsonb directly: structured is
 * parsed once, and the text goes in as it is, not escaped and lexed again.
 */
Datum
mcp_rpc_tool_success(McpRequest *req, const char *structured)
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
