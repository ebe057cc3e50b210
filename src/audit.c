/*-------------------------------------------------------------------------
 *
 * audit.c
 *	  The audit trail's entry point: billy.audit() and the C function the
 *	  writes use.  The chain itself (locking, hashing, redaction, the
 *	  append-only trigger, verification) is SQL: extension/0.2.0/80-audit.sql.
 *
 * The acting role is read from the session here, in C, never taken from an
 * argument: billy.audit() switches to the extension owner to append (the
 * table is writable by nobody else), and a SQL SECURITY DEFINER function
 * could not tell who called it.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include <openssl/evp.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "mb/pg_wchar.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "crypto.h"

#include "audit.h"
#include "jobs.h"
#include "module.h"
#include "organizations.h"
#include "sqlexec.h"

PG_FUNCTION_INFO_V1(billy_audit);

#define AUDIT_CHAIN_INTERVAL_MS 1000

/*
 * Set when an entry is queued and no chaining has been asked for since the
 * worker last chained (shared memory; NULL when not preloaded)
 */
static pg_atomic_uint32 *audit_queued = NULL;

static Size
audit_shmem_size(void)
{
	return MAXALIGN(sizeof(pg_atomic_uint32));
}

static void
audit_shmem_init(LWLockPadded *locks)
{
	bool		found;

	audit_queued = ShmemInitStruct("billy audit queued", sizeof(pg_atomic_uint32), &found);
	if (!found)
		pg_atomic_init_u32(audit_queued, 0);
}

static long
chain_interval_ms(void)
{
	return AUDIT_CHAIN_INTERVAL_MS;
}

static bool
chain_wanted(void)
{
	return audit_queued != NULL && pg_atomic_read_u32(audit_queued) != 0;
}

/*
 * chain_audit moves audit entries queued by hot paths (MCP tool calls) into
 * their hash chains; returns whether some were (then it comes back soon).
 * A periodic step of the worker: at most one chaining a second, in batches,
 * because under a stream of MCP calls every commit could wake the worker,
 * and chaining a handful of entries per wake cost more than the calls.
 */
static bool
chain_audit(void)
{
	bool		isnull;
	Datum		d = (Datum) 0;

	/* entries queued from now on wake the worker again */
	pg_atomic_write_u32(audit_queued, 0);
	if (billy_have_function("billy._audit_chain_pending(integer)"))
		d = billy_sql_datum("SELECT billy._audit_chain_pending(5000)", 0, NULL, NULL, NULL, &isnull);
	else
		isnull = true;
	return !isnull && DatumGetInt32(d) > 0;
}

static const BillyPeriodic audit_periodic[] = {
	{"chaining queued audit entries", chain_interval_ms, AUDIT_CHAIN_INTERVAL_MS, false, false,
	chain_wanted, chain_audit},
	{NULL}
};

const BillyModule billy_audit_module = {
	.name = "audit",
	.shmem_size = audit_shmem_size,
	.shmem_init = audit_shmem_init,
	.periodic = audit_periodic,
};


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

/* check_length refuses a text argument of billy.audit() longer than max characters */
static void
check_length(const char *name, Datum value, int max)
{
	text	   *t = DatumGetTextPP(value);
	int			n = pg_mbstrlen_with_len(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));

	if (n > max)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s is too long for the audit trail: %d characters, at most %d", name, n, max),
				 errhint("Audit entries are kept for years: record a short %s.", name)));
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
	check_length("action", PG_GETARG_DATUM(0), BILLY_AUDIT_MAX_ACTION);
	if (!PG_ARGISNULL(2))
		check_length("target", PG_GETARG_DATUM(2), BILLY_AUDIT_MAX_TARGET);
	check_length("outcome", PG_GETARG_DATUM(4), BILLY_AUDIT_MAX_OUTCOME);
	if (!PG_ARGISNULL(5))
		check_length("client", PG_GETARG_DATUM(5), BILLY_AUDIT_MAX_CLIENT);
	if (!PG_ARGISNULL(1))
		org = billy_resolve_organization(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	if (!PG_ARGISNULL(3))
	{
		Jsonb	   *jb = billy_redact_jsonb(PG_GETARG_JSONB_P(3));

		request = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
		if (strlen(request) > BILLY_AUDIT_MAX_REQUEST)
			ereport(ERROR,
					(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
					 errmsg("request is too long for the audit trail: %zu bytes, at most %d",
							strlen(request), BILLY_AUDIT_MAX_REQUEST),
					 errdetail("Texts longer than 500 characters already count as their length and SHA-256."),
					 errhint("Record a summary of the request, not the request itself.")));
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

/*
 * bytes_key says whether a JSON key names a file's bytes (content_base64):
 * its text is kept as its length and SHA-256, however short.
 */
static bool
bytes_key(const char *key, int len)
{
	char		lower[128];
	int			n = Min(len, (int) sizeof(lower) - 1);

	for (int i = 0; i < n; i++)
		lower[i] = pg_tolower((unsigned char) key[i]);
	lower[n] = '\0';
	return strstr(lower, "base64") != NULL;
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

/*
 * push_summary puts {"length": n, "sha256": hex} where a long text was.  The
 * parse state keeps pointers to strings until the end: hex is palloc'd.
 */
static void
push_summary(JsonbParseState **state, JsonbIteratorToken tok, JsonbValue *text)
{
	JsonbValue	v;
	char	   *hex = palloc(65);

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
 * characters (a CSV file) and the values of keys naming base64 (a file's
 * bytes) become their length and SHA-256, at any depth.
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
	bool		bytes = false;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_KEY:
				secret = secret_key(v.val.string.val, v.val.string.len);
				bytes = bytes_key(v.val.string.val, v.val.string.len);
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
						 ((tok == WJB_VALUE && bytes) ||
						  pg_mbstrlen_with_len(v.val.string.val, v.val.string.len) > REDACT_LONG_TEXT))
					push_summary(&state, tok, &v);
				else
					res = pushJsonbValue(&state, tok, &v);
				secret = false;
				bytes = false;
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

static const char *const queue_sql =
"INSERT INTO billy.audit_pending (actor_role, session_role, client, action, organization_id, "
"target, request, outcome, aggregate) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";

/* cut_text: s cut to at most max characters, ending in "..." when cut */
static const char *
cut_text(const char *s, int max)
{
	int			len = strlen(s);

	if (pg_mbstrlen_with_len(s, len) <= max)
		return s;
	return psprintf("%.*s...", pg_mbcliplen(s, len, max - 3), s);
}

/*
 * cut_request: a redacted request that fits the audit trail, or its length
 * and SHA-256 when its JSON text is longer than BILLY_AUDIT_MAX_REQUEST bytes
 */
static Jsonb *
cut_request(Jsonb *redacted)
{
	char	   *text = JsonbToCString(NULL, &redacted->root, VARSIZE(redacted));
	size_t		len = strlen(text);
	char		hex[65];

	if (len <= BILLY_AUDIT_MAX_REQUEST)
		return redacted;
	billy_sha256_hex(text, len, hex);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(
																		psprintf("{\"truncated\": true, \"length\": %zu, \"sha256\": \"%s\"}", len, hex))));
}

static bool queued_here = false;
static bool queue_callback_registered = false;

/*
 * queue_xact_callback: a transaction that queued the first entry and then
 * rolled back never woke the worker; let the next one do it.
 */
static void
queue_xact_callback(XactEvent event, void *arg)
{
	if ((event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) &&
		queued_here && audit_queued != NULL)
		pg_atomic_write_u32(audit_queued, 0);
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		queued_here = false;
}

/*
 * billy_audit_queue records an entry for the worker to chain within seconds
 * (billy._audit_chain_pending): for hot paths, every MCP tool call, where
 * taking the chain's lock would make callers queue behind each other.  The
 * request is redacted before it is stored.
 */
void
billy_audit_queue(const char *action, const char *org, const char *target,
				  Jsonb *request, const char *outcome, const char *client,
				  bool aggregate)
{
	Oid			types[9] = {NAMEOID, NAMEOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, BOOLOID};
	Datum		values[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	BillyOwner	owner;
	bool		isnull;

	values[0] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(GetSessionUserId(), false)));
	if (client)
		values[2] = CStringGetTextDatum(cut_text(client, BILLY_AUDIT_MAX_CLIENT));
	else
		nulls[2] = 'n';
	values[3] = CStringGetTextDatum(cut_text(action, BILLY_AUDIT_MAX_ACTION));
	if (org)
		values[4] = CStringGetTextDatum(org);
	else
		nulls[4] = 'n';
	if (target)
		values[5] = CStringGetTextDatum(cut_text(target, BILLY_AUDIT_MAX_TARGET));
	else
		nulls[5] = 'n';
	/* an aggregated read keeps no request: the chained entry counts calls */
	if (request && !aggregate)
		values[6] = JsonbPGetDatum(cut_request(billy_redact_jsonb(request)));
	else
		nulls[6] = 'n';
	values[7] = CStringGetTextDatum(cut_text(outcome, BILLY_AUDIT_MAX_OUTCOME));
	values[8] = BoolGetDatum(aggregate);

	billy_become_owner(&owner);
	(void) billy_sql_datum_cached(queue_sql, 9, types, values, nulls, &isnull);
	billy_end_owner(&owner);

	/* the first entry since the worker last chained wakes it at commit */
	if (audit_queued != NULL &&
		pg_atomic_exchange_u32(audit_queued, 1) == 0)
	{
		if (!queue_callback_registered)
		{
			RegisterXactCallback(queue_xact_callback, NULL);
			queue_callback_registered = true;
		}
		queued_here = true;
		billy_wake_worker_at_commit();
	}
}

/*
 * payload_bytes builds what an entry's hash covers after the previous hash,
 * exactly as billy._audit_payload does in SQL (which billy.verify_audit_log
 * uses): its fields as a JSON array, serialized by jsonb, time in UTC with
 * microseconds, in UTF-8.
 */
static char *
payload_bytes(const char *chain, int64 seq, TimestampTz at, Datum *row, bool *nulls, int *len)
{
	JsonbParseState *state = NULL;
	JsonbValue	v;
	JsonbValue *arr;
	Jsonb	   *jb;
	char	   *serialized;
	char	   *utf8;
	struct pg_tm tm;
	fsec_t		fsec;
	char		when[40];

	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	push_string(&state, WJB_ELEM, chain);
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(seq);
	pushJsonbValue(&state, WJB_ELEM, &v);
	if (timestamp2tm(at, NULL, &tm, &fsec, NULL, NULL) != 0)
		elog(ERROR, "billy: audit entry time out of range");
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
			 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
	push_string(&state, WJB_ELEM, when);
	/* actor_role, session_role, client, action, organization_id, target */
	for (int i = 0; i < 6; i++)
	{
		if (nulls[i])
		{
			v.type = jbvNull;
			pushJsonbValue(&state, WJB_ELEM, &v);
		}
		else
			push_string(&state, WJB_ELEM, TextDatumGetCString(row[i]));
	}
	/* request */
	if (nulls[6])
	{
		v.type = jbvNull;
		pushJsonbValue(&state, WJB_ELEM, &v);
	}
	else
	{
		Jsonb	   *req = DatumGetJsonbP(row[6]);

		v.type = jbvBinary;
		v.val.binary.data = &req->root;
		v.val.binary.len = VARSIZE(req) - VARHDRSZ;
		pushJsonbValue(&state, WJB_ELEM, &v);
	}
	/* outcome */
	push_string(&state, WJB_ELEM, TextDatumGetCString(row[7]));
	arr = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	jb = JsonbValueToJsonb(arr);
	serialized = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	utf8 = pg_server_to_any(serialized, strlen(serialized), PG_UTF8);
	*len = strlen(utf8);
	return utf8;
}

PG_FUNCTION_INFO_V1(billy_audit_chain_pending);

/*
 * billy_audit_chain_pending: billy._audit_chain_pending(batch) RETURNS integer.
 * Moves up to batch queued entries, oldest first, into their chains: each
 * chain's head is locked once, the entries get their seq and hash in order,
 * and all are inserted with one statement.
 */
Datum
billy_audit_chain_pending(PG_FUNCTION_ARGS)
{
	int			batch = PG_GETARG_INT32(0);
	Oid			t1[1] = {INT4OID};
	Datum		v1[1] = {Int32GetDatum(batch)};
	uint64		n;
	Datum	  **rows;
	bool	  **rnulls;
	int64	   *ids;
	TimestampTz *ats;
	char	  **chains;
	int64	   *seqs;
	bytea	  **prevs;
	bytea	  **hashes;
	List	   *seen = NIL;
	MemoryContext work = CurrentMemoryContext;
	int			nids = 0;
	int			maxids;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");

	/*
	 * Successful reads (aggregate) become one entry per minute, role, action,
	 * organization, target and outcome, counting the calls and the clients:
	 * the log records every read without growing by one permanent entry per
	 * call.  Everything else is one entry per row.
	 */
	if (SPI_execute_with_args("WITH b AS (SELECT * FROM billy.audit_pending ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) "
							  "SELECT pg_catalog.array_agg(b.id ORDER BY b.id), pg_catalog.min(b.at), "
							  "b.actor_role::pg_catalog.text, b.session_role::pg_catalog.text, "
							  "pg_catalog.min(b.client), b.action, b.organization_id, b.target, "
							  "CASE WHEN b.aggregate THEN pg_catalog.jsonb_build_object('calls', pg_catalog.count(*), "
							  "'clients', pg_catalog.count(DISTINCT b.client), 'first_at', pg_catalog.min(b.at), "
							  "'last_at', pg_catalog.max(b.at)) "
							  "ELSE (pg_catalog.array_agg(b.request))[1] END, b.outcome "
							  "FROM b GROUP BY CASE WHEN b.aggregate THEN 0 ELSE b.id END, b.aggregate, "
							  "CASE WHEN b.aggregate THEN pg_catalog.date_trunc('minute', b.at) END, "
							  "b.actor_role, b.session_role, b.action, b.organization_id, b.target, b.outcome "
							  "ORDER BY pg_catalog.min(b.id)",
							  1, t1, v1, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "billy: could not read billy.audit_pending");
	n = SPI_processed;
	if (n == 0)
	{
		SPI_finish();
		PG_RETURN_INT32(0);
	}

	{
		MemoryContext old = MemoryContextSwitchTo(work);

		rows = palloc(sizeof(Datum *) * n);
		rnulls = palloc(sizeof(bool *) * n);
		maxids = (int) n;
		ids = palloc(sizeof(int64) * maxids);
		ats = palloc(sizeof(TimestampTz) * n);
		chains = palloc(sizeof(char *) * n);
		seqs = palloc(sizeof(int64) * n);
		prevs = palloc(sizeof(bytea *) * n);
		hashes = palloc(sizeof(bytea *) * n);
		for (uint64 i = 0; i < n; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;

			{
				Datum	   *elems;
				int			k;

				deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 1, &isnull)),
								  INT8OID, 8, true, TYPALIGN_DOUBLE, &elems, NULL, &k);
				if (nids + k > maxids)
				{
					maxids = (nids + k) * 2;
					ids = repalloc(ids, sizeof(int64) * maxids);
				}
				for (int j = 0; j < k; j++)
					ids[nids++] = DatumGetInt64(elems[j]);
			}
			ats[i] = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
			rows[i] = palloc(sizeof(Datum) * 8);
			rnulls[i] = palloc(sizeof(bool) * 8);
			for (int c = 0; c < 8; c++)
			{
				Datum		d = SPI_getbinval(tup, desc, c + 3, &rnulls[i][c]);

				rows[i][c] = rnulls[i][c] ? (Datum) 0 :
					datumCopy(d, false, -1);
			}
			chains[i] = rnulls[i][4] ? pstrdup("*") : TextDatumGetCString(rows[i][4]);
		}
		MemoryContextSwitchTo(old);
	}

	/* chain by chain, in the order of their first entry */
	for (uint64 i = 0; i < n; i++)
	{
		Oid			t[1] = {TEXTOID};
		Datum		v[1];
		int64		seq;
		bytea	   *prev;
		ListCell   *lc;
		bool		done = false;
		Oid			ut[3] = {TEXTOID, INT8OID, BYTEAOID};
		Datum		uv[3];

		foreach(lc, seen)
			if (strcmp((char *) lfirst(lc), chains[i]) == 0)
			done = true;
		if (done)
			continue;
		seen = lappend(seen, chains[i]);

		v[0] = CStringGetTextDatum(chains[i]);
		SPI_execute_with_args("INSERT INTO billy.audit_heads (chain, seq, hash) VALUES ($1, 0, '\\x') "
							  "ON CONFLICT (chain) DO NOTHING", 1, t, v, NULL, false, 0);
		if (SPI_execute_with_args("SELECT seq, hash FROM billy.audit_heads WHERE chain OPERATOR(pg_catalog.=) $1 FOR UPDATE",
								  1, t, v, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "billy: could not lock the head of audit chain \"%s\"", chains[i]);
		{
			bool		isnull;
			MemoryContext old = MemoryContextSwitchTo(work);

			seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			prev = DatumGetByteaPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
			MemoryContextSwitchTo(old);
		}

		for (uint64 k = i; k < n; k++)
		{
			int			plen;
			char	   *payload;
			char	   *buf;
			uint8		digest[32];
			unsigned int dlen = 0;
			MemoryContext old;

			if (strcmp(chains[k], chains[i]) != 0)
				continue;
			seq++;
			payload = payload_bytes(chains[k], seq, ats[k], rows[k], rnulls[k], &plen);
			buf = palloc(VARSIZE_ANY_EXHDR(prev) + plen);
			memcpy(buf, VARDATA_ANY(prev), VARSIZE_ANY_EXHDR(prev));
			memcpy(buf + VARSIZE_ANY_EXHDR(prev), payload, plen);
			if (EVP_Digest(buf, VARSIZE_ANY_EXHDR(prev) + plen, digest, &dlen, EVP_sha256(), NULL) != 1)
				elog(ERROR, "billy: SHA-256 failed");
			old = MemoryContextSwitchTo(work);
			seqs[k] = seq;
			prevs[k] = prev;
			hashes[k] = palloc(VARHDRSZ + 32);
			SET_VARSIZE(hashes[k], VARHDRSZ + 32);
			memcpy(VARDATA(hashes[k]), digest, 32);
			MemoryContextSwitchTo(old);
			prev = hashes[k];
		}
		uv[0] = CStringGetTextDatum(chains[i]);
		uv[1] = Int64GetDatum(seq);
		uv[2] = PointerGetDatum(prev);
		SPI_execute_with_args("UPDATE billy.audit_heads SET seq = $2, hash = $3 "
							  "WHERE chain OPERATOR(pg_catalog.=) $1", 3, ut, uv, NULL, false, 0);
	}

	/* all entries with one statement, then out of the queue */
	{
		Oid			types[13] = {TEXTARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
			TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID, TEXTARRAYOID,
		BYTEAARRAYOID, BYTEAARRAYOID};
		Datum		values[13];
		Datum	   *col = palloc(sizeof(Datum) * n);
		bool	   *colnull = palloc(sizeof(bool) * n);
		int			dims[1] = {(int) n};
		int			lbs[1] = {1};
		Oid			elemtypes[13] = {TEXTOID, INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, JSONBOID, TEXTOID, BYTEAOID, BYTEAOID};
		Oid			dt[1] = {INT8ARRAYOID};
		Datum		dv[1];

		for (int c = 0; c < 13; c++)
		{
			int16		typlen;
			bool		typbyval;
			char		typalign;

			for (uint64 i = 0; i < n; i++)
			{
				colnull[i] = false;
				switch (c)
				{
					case 0:
						col[i] = CStringGetTextDatum(chains[i]);
						break;
					case 1:
						col[i] = Int64GetDatum(seqs[i]);
						break;
					case 2:
						col[i] = TimestampTzGetDatum(ats[i]);
						break;
					case 11:
						col[i] = PointerGetDatum(prevs[i]);
						break;
					case 12:
						col[i] = PointerGetDatum(hashes[i]);
						break;
					default:

						/*
						 * 3..10: actor, session, client, action, org, target,
						 * request, outcome
						 */
						col[i] = rows[i][c - 3];
						colnull[i] = rnulls[i][c - 3];
						break;
				}
			}
			get_typlenbyvalalign(elemtypes[c], &typlen, &typbyval, &typalign);
			values[c] = PointerGetDatum(construct_md_array(col, colnull, 1, dims, lbs, elemtypes[c],
														   typlen, typbyval, typalign));
		}
		if (SPI_execute_with_args("INSERT INTO billy.audit_log (chain, seq, at, actor_role, session_role, client, "
								  "action, organization_id, target, request, outcome, prev_hash, hash) "
								  "SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), "
								  "pg_catalog.unnest($3), pg_catalog.unnest($4::pg_catalog.name[]), "
								  "pg_catalog.unnest($5::pg_catalog.name[]), pg_catalog.unnest($6), "
								  "pg_catalog.unnest($7), pg_catalog.unnest($8), pg_catalog.unnest($9), "
								  "pg_catalog.unnest($10), pg_catalog.unnest($11), pg_catalog.unnest($12), "
								  "pg_catalog.unnest($13))",
								  13, types, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "billy: could not chain the queued audit entries");

		col = palloc(sizeof(Datum) * nids);
		for (int i = 0; i < nids; i++)
			col[i] = Int64GetDatum(ids[i]);
		dv[0] = PointerGetDatum(construct_array(col, nids, INT8OID, 8, true, TYPALIGN_DOUBLE));
		SPI_execute_with_args("DELETE FROM billy.audit_pending WHERE id OPERATOR(pg_catalog.=) ANY ($1)",
							  1, dt, dv, NULL, false, 0);
	}
	SPI_finish();
	PG_RETURN_INT32(nids);
}
