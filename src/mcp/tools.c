/*-------------------------------------------------------------------------
 *
 * mcp/tools.c
 *	  tools/call: the tool registry (billy.mcp_tools) kept per backend, the
 *	  caller's rights, arguments checked and mapped onto the function's
 *	  parameters, the call as the calling role in a subtransaction, errors
 *	  a model can act on, and the audit entry of every call.
 *
 * The SQL run for a tool is built only from the registry and the catalog
 * (quoted names, casts); argument values travel as one bound jsonb
 * parameter, never as SQL text.  What the answer looks like is shape.c.
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
#include "cache.h"
#include "jsonschema.h"
#include "mcp/mcp_internal.h"
#include "module.h"
#include "organizations.h"


/* ------------------------------------------------------------ tools/call */

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
	char		name[NAMEDATALEN * 2];	/* the hash key (names are <= 64
										 * bytes) */
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
	SPIPlanPtr	plan = mcp_get_plan(sql, 1, types);
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
	bool		is_write = strcmp(tool->kind, "call") != 0; /* write, import */

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
		SPIPlanPtr	plan = mcp_get_plan(sql, nargs, types);
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

Datum
mcp_tools_call(McpRequest *req)
{
	bool		present,
				is_string;
	char	   *name = req->params ? mcp_string_member(req->params, "name", &present, &is_string) : NULL;
	JsonbValue *argsv = req->params ? billy_json_key(req->params, "arguments") : NULL;
	JsonbContainer *args = NULL;
	JsonbValue *argv = NULL;	/* args as a value, for the audit */
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
		return mcp_rpc_error(req, RPC_INVALID_PARAMS, "params.name must be a string naming a tool", NULL);
	if (!load_tool(name, &tool))
	{
		StringInfoData data;

		initStringInfo(&data);
		appendStringInfoString(&data, "{\"tool\":");
		escape_json(&data, name);
		appendStringInfoChar(&data, '}');
		return mcp_rpc_error(req, RPC_INVALID_PARAMS,
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
		return mcp_rpc_result(req, mcp_tool_error_json("invalid arguments: arguments must be an object"));
	}

	if (tool.problem)
	{
		audit(name, argv, "unavailable", tool.problem);
		return mcp_rpc_result(req, mcp_tool_error_json(psprintf("the tool %s is not available: %s", name, tool.problem)));
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
		return mcp_rpc_result(req, mcp_tool_error_json(psprintf("invalid arguments: %s", err)));
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
			return mcp_rpc_result(req, mcp_tool_error_json(psprintf("the tool %s is not available: %s", name, problem)));
		}
		nargs = 4;
		types[0] = JSONBOID;
		types[1] = INT4OID;
		types[2] = TEXTOID;
		types[3] = JSONBOID;
		values[0] = JsonbPGetDatum(mapped);
		values[1] = Int32GetDatum(billy_mcp_max_rows + 1);
		values[2] = tool.project ? CStringGetTextDatum(tool.project) : (Datum) 0;
		nulls[2] = tool.project ? ' ' : 'n';

		/*
		 * the tool's own arguments, for the projection (detail, fields,
		 * offset)
		 */
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
		return mcp_rpc_result(req, mcp_tool_error_json(text));
	}

	structured = mcp_shape_result(&tool, answer, shape, args);
	audit_done(&tool, argv);
	return mcp_rpc_tool_success(req, structured);
}
