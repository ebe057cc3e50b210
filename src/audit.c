/*-------------------------------------------------------------------------
 *
 * audit.c
 *	  The audit trail's entry point: billy.audit() and the C function the
 *	  writes use.  The chain itself (locking, hashing, redaction, the
 *	  append-only trigger, verification) is SQL: extension/0.2.0/81-audit.sql.
 *
 * The acting role is read from the session here, in C, never taken from an
 * argument: billy.audit() switches to the extension owner to append (the
 * table is writable by nobody else), and a SQL SECURITY DEFINER function
 * could not tell who called it.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "mb/pg_wchar.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "crypto.h"

#include "audit.h"
#include "organizations.h"
#include "sqlexec.h"

PG_FUNCTION_INFO_V1(billy_audit);

static const char *const append_sql =
"SELECT billy._audit_append($1, $2, COALESCE($3, "
"NULLIF(pg_catalog.concat_ws(' ', NULLIF(pg_catalog.current_setting('application_name'), ''), "
"pg_catalog.inet_client_addr()::pg_catalog.text), '')), "
"$4, $5, $6, $7::pg_catalog.jsonb, $8)";

int64
billy_audit_record(const char *action, const char *org, const char *target,
				   const char *request, const char *outcome,
				   const char *actor, const char *session, const char *client)
{
	Oid			types[8] = {NAMEOID, NAMEOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	BillyOwner	owner;
	Datum		d;
	bool		isnull;

	values[0] = DirectFunctionCall1(namein, CStringGetDatum(actor ? actor :
															GetUserNameFromId(GetUserId(), false)));
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(session ? session :
															GetUserNameFromId(GetSessionUserId(), false)));
	if (client)
		values[2] = CStringGetTextDatum(client);
	else
		nulls[2] = 'n';
	values[3] = CStringGetTextDatum(action);
	if (org)
		values[4] = CStringGetTextDatum(org);
	else
		nulls[4] = 'n';
	if (target)
		values[5] = CStringGetTextDatum(target);
	else
		nulls[5] = 'n';
	if (request)
		values[6] = CStringGetTextDatum(request);
	else
		nulls[6] = 'n';
	values[7] = CStringGetTextDatum(outcome);

	billy_become_owner(&owner);
	d = billy_sql_datum_cached(append_sql, 8, types, values, nulls, &isnull);
	billy_end_owner(&owner);
	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * billy_audit: billy.audit(action, org, target, request, outcome, client)
 * RETURNS bigint.  org is resolved like everywhere (id or name); NULL
 * records an entry of no organization.
 */
Datum
billy_audit(PG_FUNCTION_ARGS)
{
	char	   *org = NULL;
	char	   *request = NULL;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("action must not be null"),
				 errhint("Name what was done, e.g. mcp:tools/call.")));
	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("outcome must not be null"),
				 errhint("Say how it ended, e.g. ok or error: <message>.")));
	if (!PG_ARGISNULL(1))
		org = billy_resolve_organization(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	if (!PG_ARGISNULL(3))
	{
		Jsonb	   *jb = PG_GETARG_JSONB_P(3);

		request = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	}
	PG_RETURN_INT64(billy_audit_record(text_to_cstring(PG_GETARG_TEXT_PP(0)), org,
									   PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)),
									   request, text_to_cstring(PG_GETARG_TEXT_PP(4)),
									   NULL, NULL,
									   PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5))));
}

/*
 * secret_key says whether a JSON key names a secret: its value is never
 * written to the audit trail.
 */
static bool
secret_key(const char *key, int len)
{
	static const char *const words[] = {
		"token", "password", "passwd", "secret", "apikey", "api_key", "authorization",
		"credential", "cookie", "privatekey", "private_key"
	};
	char		lower[128];
	int			n = Min(len, (int) sizeof(lower) - 1);

	for (int i = 0; i < n; i++)
		lower[i] = pg_tolower((unsigned char) key[i]);
	lower[n] = '\0';
	for (int i = 0; i < lengthof(words); i++)
		if (strstr(lower, words[i]) != NULL)
			return true;
	return false;
}

static void
push_string(JsonbParseState **state, JsonbIteratorToken tok, const char *s)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	pushJsonbValue(state, tok, &v);
}

/* push_summary puts {"length": n, "sha256": hex} where a long text was */
static void
push_summary(JsonbParseState **state, JsonbIteratorToken tok, JsonbValue *text)
{
	JsonbValue	v;
	char		hex[65];

	billy_sha256_hex(text->val.string.val, text->val.string.len, hex);
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	push_string(state, WJB_KEY, "length");
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(pg_mbstrlen_with_len(text->val.string.val,
														  text->val.string.len));
	pushJsonbValue(state, WJB_VALUE, &v);
	push_string(state, WJB_KEY, "sha256");
	push_string(state, WJB_VALUE, hex);
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
	(void) tok;
}

#define REDACT_LONG_TEXT 500

/*
 * billy_redact_jsonb copies a JSON value as the audit trail keeps it: values
 * of keys that name secrets become "[redacted]", texts longer than 500
 * characters (a CSV file) become their length and SHA-256, at any depth.
 */
Jsonb *
billy_redact_jsonb(Jsonb *in)
{
	JsonbIterator *it = JsonbIteratorInit(&in->root);
	JsonbParseState *state = NULL;
	JsonbValue	v;
	JsonbValue *res = NULL;
	JsonbIteratorToken tok;
	bool		secret = false;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_KEY:
				secret = secret_key(v.val.string.val, v.val.string.len);
				res = pushJsonbValue(&state, tok, &v);
				break;
			case WJB_BEGIN_OBJECT:
			case WJB_BEGIN_ARRAY:
				if (secret)
				{
					/* a secret's whole object or array goes */
					int			depth = 1;

					while (depth > 0 && (tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
						if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
							depth++;
						else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
							depth--;
					push_string(&state, WJB_VALUE, "[redacted]");
					secret = false;
				}
				else
					res = pushJsonbValue(&state, tok, tok == WJB_BEGIN_ARRAY ? &v : NULL);
				break;
			case WJB_END_OBJECT:
			case WJB_END_ARRAY:
				res = pushJsonbValue(&state, tok, NULL);
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				if (tok == WJB_VALUE && secret)
					push_string(&state, tok, "[redacted]");
				else if (v.type == jbvString &&
						 pg_mbstrlen_with_len(v.val.string.val, v.val.string.len) > REDACT_LONG_TEXT)
					push_summary(&state, tok, &v);
				else
					res = pushJsonbValue(&state, tok, &v);
				secret = false;
				break;
			case WJB_DONE:
				break;
		}
	}
	return JsonbValueToJsonb(res);
}

PG_FUNCTION_INFO_V1(billy_redact);

/* billy_redact: billy._redact(jsonb) RETURNS jsonb */
Datum
billy_redact(PG_FUNCTION_ARGS)
{
	PG_RETURN_JSONB_P(billy_redact_jsonb(PG_GETARG_JSONB_P(0)));
}
