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
#include "utils/jsonb.h"

#include "audit.h"
#include "organizations.h"
#include "sqlexec.h"

PG_FUNCTION_INFO_V1(billy_audit);

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
	d = billy_sql_datum("SELECT billy._audit_append($1, $2, COALESCE($3, "
						"NULLIF(pg_catalog.concat_ws(' ', NULLIF(pg_catalog.current_setting('application_name'), ''), "
						"pg_catalog.inet_client_addr()::pg_catalog.text), '')), "
						"$4, $5, $6, $7::pg_catalog.jsonb, $8)",
						8, types, values, nulls, &isnull);
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
