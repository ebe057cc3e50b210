/*-------------------------------------------------------------------------
 *
 * reconcile.c
 *	  The worker's side of the writes: a write whose outcome is unknown
 *	  looked up in Billy and settled ("reconcile_write" jobs), writes whose
 *	  sender died found (the housekeeping step), and the writes' module.
 *
 * A sending process holds an advisory lock per write; the worker treats a
 * sent write nobody holds as unknown (its sender died) and reconciles it.
 * See outbox.c for the states and what they guarantee.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "jobs.h"
#include "module.h"
#include "organizations.h"
#include "write_catalog.h"
#include "writes/writes.h"
#include "writes/writes_internal.h"

#define WRITE_CHECK_INTERVAL_MS (10 * 1000)
#define RECONCILE_MAX_SENDS 4

static long housekeeping_interval_ms(void);
static bool housekeeping(void);

static const BillyJobKind writes_jobs[] = {
	{"reconcile_write", billy_reconcile_write_job, BILLY_SHARE_EXEMPT},
	{NULL}
};

static const BillyPeriodic writes_periodic[] = {
	{"write housekeeping", housekeeping_interval_ms, 0, false, false, NULL, housekeeping},
	{NULL}
};

const BillyModule billy_writes_module = {
	.name = "writes",
	.define_settings = writes_define_settings,
	.jobs = writes_jobs,
	.periodic = writes_periodic,
};

static long
housekeeping_interval_ms(void)
{
	return WRITE_CHECK_INTERVAL_MS;
}

/* housekeeping: billy_writes_housekeeping as the worker's periodic step */
static bool
housekeeping(void)
{
	billy_writes_housekeeping();
	return false;
}
static bool
writes_allowed_here(const char *org, char **why)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(org)};
	char	   *ro;

	if (!billy_enable_writes)
	{
		*why = "billy.enable_writes is off for the worker";
		return false;
	}
	ro = billy_sql_value("SELECT (read_only OR disconnected_at IS NOT NULL)::pg_catalog.text "
						 "FROM billy.organizations WHERE id OPERATOR(pg_catalog.=) $1", 1, types, values, NULL);
	if (ro == NULL || strcmp(ro, "true") == 0)
	{
		*why = "the organization is read-only or disconnected";
		return false;
	}
	return true;
}

/*
 * billy_reconcile_write_job is the handler of "reconcile_write" jobs
 * ({"write_op_id"}): look the record of an unknown write up in Billy; done
 * when it is there, sent again when it is not (and writes are allowed).
 */
static void reconcile(BillyJob *job);

void
billy_reconcile_write_job(BillyJob *job)
{
	MemoryContext cxt = write_context();

	PG_TRY();
	{
		reconcile(job);
	}
	PG_FINALLY();
	{
		end_write_context(cxt);
	}
	PG_END_TRY();
}

/*
 * matched_ids asks billy._write_matches which records of a look-up's answer
 * are the write's: NULL when none, else their ids joined by commas (Billy's
 * ids have none; a record look-up of the organization gives "").
 */
static char *
matched_ids(const char *lookup, const char *response, int *n)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(lookup), CStringGetTextDatum(response)};
	char	   *count;

	count = billy_sql_value("SELECT pg_catalog.cardinality(billy._write_matches($1::pg_catalog.jsonb, $2::pg_catalog.jsonb))",
							2, types, values, NULL);
	*n = count ? pg_strtoint32(count) : 0;
	if (*n == 0)
		return NULL;
	return billy_sql_value("SELECT pg_catalog.array_to_string(billy._write_matches($1::pg_catalog.jsonb, $2::pg_catalog.jsonb), ',')",
						   2, types, values, NULL);
}

/*
 * mirror_ids reads records of the write's resource back into the mirror
 * (ids joined by commas) and returns what changed, as writes_refresh_mirror does.
 */
static char *
mirror_ids(WriteOp *op, const char *org, const char *base_url, const char *token,
		   const char *ids, const char *request)
{
	StringInfoData fake;
	char	   *copy = pstrdup(ids ? ids : "");
	char	   *save = NULL;
	bool		first = true;
	BillyWriteOp *entry;

	initStringInfo(&fake);
	appendStringInfo(&fake, "{\"%s\":[", op->resource ? op->resource : "organizations");
	for (char *id = strtok_r(copy, ",", &save); id || first; id = strtok_r(NULL, ",", &save))
	{
		if (!first)
			appendStringInfoChar(&fake, ',');
		appendStringInfoString(&fake, "{\"id\":");
		escape_json(&fake, id ? id : "");
		appendStringInfoChar(&fake, '}');
		first = false;
		if (id == NULL)
			break;
	}
	appendStringInfoChar(&fake, ']');
	/* the documents it pays: their balances changed too */
	entry = billy_write_op(op->operation);
	if (entry && entry->subjects && request)
	{
		Oid			types[2] = {TEXTOID, TEXTOID};
		Datum		values[2] = {CStringGetTextDatum(request), CStringGetTextDatum(entry->subjects)};

		appendStringInfo(&fake, ",\"balanceModifiers\":%s",
						 billy_sql_value("SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
										 "'subjectReference', a ->> 'subjectReference')), '[]')::pg_catalog.text "
										 "FROM pg_catalog.jsonb_array_elements($1::pg_catalog.jsonb -> 'body' #> $2::pg_catalog.text[]) a",
										 2, types, values, NULL));
	}
	appendStringInfoChar(&fake, '}');
	return writes_refresh_mirror(org, base_url, token, fake.data);
}

/*
 * reconcile does billy_reconcile_write_job's work inside its own memory
 * context.  A write whose outcome is unknown may still be on its way
 * through Billy (a sender that died, a timeout while Billy works): so
 * nothing happens before billy.reconcile_delay_ms has passed since it was
 * sent (the job is postponed until then).  Then its record is looked up:
 * found, it is done; several found, a person must decide; not found, it is
 * sent again (when writes are allowed), and looked up once more a delay
 * after that ({"verify": true}): two records then mean the first send went
 * through late, and the write turns unknown for a person.
 */
static void
reconcile(BillyJob *job)
{
	char	   *idtext = field(job->args, "write_op_id");
	char	   *verify_arg = field(job->args, "verify");
	bool		verify = verify_arg && strcmp(verify_arg, "true") == 0;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];
	char	   *row;
	char	   *state;
	char	   *org;
	char	   *lookup;
	char	   *api_url = NULL;
	char	   *token;
	const char *base_url;
	WriteOp		op = {0};
	WriteOp    *ops[1] = {&op};
	int			attempts;
	int			wait_ms;
	BillyHttpRequest *req;
	char	   *path;
	char	   *found = NULL;
	int			nfound = 0;
	char	   *why = NULL;

	if (idtext == NULL)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("a reconcile_write job needs write_op_id")));
	op.id = pg_strtoint64(idtext);
	values[0] = Int64GetDatum(op.id);
	values[1] = Int32GetDatum(billy_reconcile_delay_ms);
	row = sql_text("SELECT pg_catalog.jsonb_build_object('state', state, 'org', organization_id, "
				   "'operation', operation, 'lookup', lookup, 'request', request, 'attempts', attempts, "
				   "'wait_ms', GREATEST(0, pg_catalog.ceil(pg_catalog.date_part('epoch', COALESCE(sent_at, created_at) "
				   "OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => $2 OPERATOR(pg_catalog./) 1000.0) "
				   "OPERATOR(pg_catalog.-) pg_catalog.clock_timestamp()) OPERATOR(pg_catalog.*) 1000))::integer, "
				   "'record_id', record_id, 'args', args)::pg_catalog.text "
				   "FROM billy.write_ops WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
				   2, types, values, NULL);
	if (row == NULL)
		return;
	state = field(row, "state");
	if (field(job->args, "follow_up") != NULL)
	{
		/* a done write whose follow-up was never sent (housekeeping) */
		org = field(row, "org");
		if (strcmp(state, "done") != 0)
			return;
		if (!writes_allowed_here(org, &why))
		{
			Oid			t2[2] = {INT8OID, TEXTOID};
			Datum		v2[2] = {Int64GetDatum(op.id), CStringGetTextDatum(why)};

			sql_owner("SELECT billy._write_follow_up_skip($1, $2)", 2, t2, v2, NULL);
			return;
		}
		token = billy_load_token(org, &api_url);
		writes_send_follow_up(op.id, org, billy_effective_api_url(api_url), token);
		explicit_bzero(token, strlen(token));
		return;
	}
	if (strcmp(state, verify ? "done" : "unknown") != 0)
		return;
	org = field(row, "org");
	lookup = field(row, "lookup");
	attempts = pg_strtoint32(field(row, "attempts"));
	op.operation = field(row, "operation");
	op.resource = billy_write_op(op.operation) ? billy_write_op(op.operation)->resource : NULL;
	op.record_id = field(row, "record_id");
	/* Billy may still be working on the last send: not before the delay */
	wait_ms = pg_strtoint32(field(row, "wait_ms"));
	if (wait_ms > 0)
	{
		job->postpone_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);
		return;
	}
	if (verify && (lookup == NULL || strcmp(field(lookup, "kind"), "list") != 0))
		return;
	sql_owner("SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtext('billy write'), $1::pg_catalog.int4)",
			  1, types, values, NULL);

	if (lookup == NULL)
	{
		writes_record_unknown(&op, "Billy cannot tell whether this write was done", -1,
							  "not resent: its result cannot be looked up (e.g. an e-mail to an invoice sent before); a person must decide: check in Billy");
		return;
	}
	token = billy_load_token(org, &api_url);
	base_url = billy_effective_api_url(api_url);
	path = field(lookup, "path");
	req = billy_http_request_new(BILLY_GET, base_url, path, token);
	billy_http_perform(req);
	if (strcmp(field(lookup, "kind"), "gone") == 0)
	{
		if (req->failure == BILLY_HTTP_STATUS && req->status == 404)
		{
			StringInfoData fake;

			initStringInfo(&fake);
			appendStringInfo(&fake, "{\"meta\":{\"deletedRecords\":{\"%s\":[", op.resource);
			escape_json(&fake, op.record_id);
			appendStringInfoString(&fake, "]}}}");
			writes_record_done(&op, 0, op.record_id, writes_refresh_mirror(org, base_url, token, fake.data),
							   "reconciled: Billy no longer has the record, the delete went through; not resent");
			explicit_bzero(token, strlen(token));
			return;
		}
		if (req->failure != BILLY_HTTP_OK)
			billy_http_raise(req);
	}
	else
	{
		if (req->failure != BILLY_HTTP_OK)
			billy_http_raise(req);
		billy_http_require_json(req);
		found = matched_ids(lookup, req->response.data, &nfound);
	}
	if (nfound > 1)
	{
		/*
		 * the duplicates go into the mirror too, where billy.write_checks
		 * sees them
		 */
		mirror_ids(&op, org, base_url, token, found, field(row, "request"));
		writes_record_unknown(&op, psprintf("%d records in Billy match this write (%s)", nfound, found), -1,
							  verify ?
							  "looked up again after it was sent again: the first send went through late, so Billy has it twice; "
							  "a person must decide which to keep (delete the other in Billy, then billy.resolve_write)" :
							  "not resent: several records in Billy match it; a person must decide which is this write's "
							  "(billy.resolve_write)");
		explicit_bzero(token, strlen(token));
		return;
	}
	if (verify)
	{
		/* one record, as it should be: the write stays done */
		sql_owner("SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('billy write'), $1::pg_catalog.int4)",
				  1, types, values, NULL);
		explicit_bzero(token, strlen(token));
		return;
	}
	if (found)
	{
		char	   *rid = found[0] ? found : op.record_id;

		/* read it (and what it touched) back into the mirror */
		writes_record_done(&op, 0, rid, mirror_ids(&op, org, base_url, token, rid, field(row, "request")),
						   "reconciled: found in Billy after the unknown outcome; not resent");
		explicit_bzero(token, strlen(token));
		return;
	}
	/* Billy does not have it: the write did not happen, and may be resent */
	if (attempts >= RECONCILE_MAX_SENDS)
	{
		writes_record_failed(&op, 0, NULL, "not done: Billy does not have the record", NULL,
							 psprintf("reconciled: not found in Billy; not resent after %d attempts", attempts));
		explicit_bzero(token, strlen(token));
		return;
	}
	if (!writes_allowed_here(org, &why))
	{
		writes_record_failed(&op, 0, NULL, "not done: Billy does not have the record", NULL,
							 psprintf("reconciled: not found in Billy; not resent because %s", why));
		explicit_bzero(token, strlen(token));
		return;
	}
	op.req = writes_build_request(psprintf("{\"request\":%s,\"args\":%s}", field(row, "request"), field(row, "args")),
								  base_url, token);
	writes_send_ops(ops, 1, 1, org, base_url, token, attempts,
					"reconciled: not found in Billy after the unknown outcome, so sent again");
	explicit_bzero(token, strlen(token));
	/* look again once Billy has had the time a late first send would need */
	if (strcmp(field(lookup, "kind"), "list") == 0)
	{
		Oid			t3[3] = {INT8OID, TEXTOID, INT4OID};
		Datum		v3[3] = {Int64GetDatum(op.id), CStringGetTextDatum(org), Int32GetDatum(billy_reconcile_delay_ms)};

		sql_owner("SELECT billy._enqueue('reconcile_write', $2, pg_catalog.jsonb_build_object('write_op_id', $1, 'verify', true), "
				  "pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => $3 OPERATOR(pg_catalog./) 1000.0), 20) "
				  "FROM billy.write_ops WHERE id OPERATOR(pg_catalog.=) $1 AND state OPERATOR(pg_catalog.=) 'done'",
				  3, t3, v3, NULL);
	}
}

/*
 * billy_writes_housekeeping runs in the worker now and then: writes whose
 * sender died are reconciled, old previews forgotten.
 */
void
billy_writes_housekeeping(void)
{
	bool		isnull;

	if (!DatumGetBool(billy_sql_datum("SELECT pg_catalog.to_regprocedure('billy._orphaned_writes()') IS NOT NULL",
									  0, NULL, NULL, NULL, &isnull)))
		return;
	billy_sql_exec("SELECT billy._orphaned_writes()", 0, NULL, NULL, NULL);
	billy_sql_exec("SELECT billy._write_follow_ups_left()", 0, NULL, NULL, NULL);
	billy_sql_exec("SELECT billy._forget_previews()", 0, NULL, NULL, NULL);
	billy_sql_exec("SELECT billy._forget_bulk_jobs()", 0, NULL, NULL, NULL);
}
