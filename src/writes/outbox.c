/*-------------------------------------------------------------------------
 *
 * outbox.c
 *	  The outbox: a write recorded, marked sent, sent once and its outcome
 *	  recorded, each step committed before the next (billy.write_ops); the
 *	  writes' settings.  The executor (executor.c), the worker's
 *	  reconciliation (reconcile.c) and imports (bulk.c) all send here.
 *
 * Billy has no idempotency key: a POST sent twice makes two invoices.  So a
 * write is sent once, and its every step is committed before the next one
 * happens (billy.write_ops):
 *
 *	  pending --(committed before the request leaves)--> sent
 *	  sent --2xx--> done       (the records Billy returned go into the mirror)
 *	  sent --4xx, or nothing sent--> failed
 *	  sent --timeout, reset after sending, 500/502/504, sender died--> unknown
 *	  unknown --worker, no sooner than reconcile_delay_ms after sent_at:
 *	            look the record up in Billy--> done (it is there)
 *	                                       --> sent again (it is not), and
 *	                                           looked up again a delay later
 *	                                       --> unknown, needs_decision (several
 *	                                           match, or it cannot be looked up)
 *
 * What that guarantees, and what not: a write is never sent twice while
 * its first send could still be on its way through Billy within
 * reconcile_delay_ms.  A first send that Billy completes later than that
 * can leave a duplicate; the look-up after the resend (and
 * billy.write_checks) finds it and hands the write to a person.
 *
 * Those commits must not depend on the caller's transaction: executor.c
 * sends a caller's write from a background worker of its own.
 *
 * A sending process holds an advisory lock per write; the worker treats a
 * sent write nobody holds as unknown (its sender died) and reconciles it.
 * The worker also sends import batches (bulk.c) through the same code.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

#include "files.h"
#include "jobs.h"
#include "json.h"
#include "organizations.h"
#include "writes/writes.h"
#include "writes/writes_internal.h"

/* settings (writes_define_settings) */
bool		billy_enable_writes = false;
int			billy_reconcile_delay_ms = 5000;

/* set by the executor: its own transactions, not the worker's job commits */
bool		writes_in_executor = false;

/* writes_define_settings: whether writes are allowed, when to reconcile */
void
writes_define_settings(void)
{
	DefineCustomBoolVariable("billy.enable_writes",
							 "Allows writes to Billy (invoices, contacts, payments, imports...).",
							 "Off by default.  Only a superuser or the server configuration "
							 "turns it on; background imports and resends need it in the "
							 "configuration, not just in a session.",
							 &billy_enable_writes,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("billy.reconcile_delay_ms",
							"How long after a write was sent the worker waits before it looks the record up in Billy when the outcome is unknown, and before it looks again after sending it again.",
							"Set it above the longest time Billy may take to process a write. Doubles with each further unknown outcome of the same write.",
							&billy_reconcile_delay_ms,
							5000, 0, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/* ------------------------------------------------------------ transactions */

/*
 * writes_step_commit makes what was done so far durable: the worker's job commit,
 * or the executor's own.
 */
void
writes_step_commit(void)
{
	MemoryContext keep = CurrentMemoryContext;

	if (billy_in_worker())
		billy_job_commit_and_continue();
	else if (writes_in_executor)
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
	MemoryContextSwitchTo(keep);
}

/* ------------------------------------------------------------ sending */

void
writes_record_failed(WriteOp *op, int status, const char *code, const char *msg, const char *detail,
					 const char *note)
{
	Oid			types[6] = {INT8OID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(op->id);
	values[1] = Int32GetDatum(status);
	if (status == 0)
		nulls[1] = 'n';
	if (code)
		values[2] = CStringGetTextDatum(code);
	else
		nulls[2] = 'n';
	values[3] = CStringGetTextDatum(msg);
	if (detail)
		values[4] = CStringGetTextDatum(detail);
	else
		nulls[4] = 'n';
	if (note)
		values[5] = CStringGetTextDatum(note);
	else
		nulls[5] = 'n';
	sql_owner("SELECT billy._write_failed($1, $2, $3, $4, $5, $6)", 6, types, values, nulls);
}

void
writes_record_unknown(WriteOp *op, const char *msg, int delay_ms, const char *note)
{
	Oid			types[4] = {INT8OID, TEXTOID, INT4OID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(op->id);
	values[1] = CStringGetTextDatum(msg);
	values[2] = Int32GetDatum(delay_ms);
	if (delay_ms < 0)
		nulls[2] = 'n';
	if (note)
		values[3] = CStringGetTextDatum(note);
	else
		nulls[3] = 'n';
	sql_owner("SELECT billy._write_unknown($1, $2, $3, $4)", 4, types, values, nulls);
}

void
writes_record_done(WriteOp *op, int status, const char *rid, const char *changed, const char *note)
{
	Oid			types[5] = {INT8OID, INT4OID, TEXTOID, JSONBOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(op->id);
	values[1] = Int32GetDatum(status);
	if (status == 0)
		nulls[1] = 'n';
	if (rid)
		values[2] = CStringGetTextDatum(rid);
	else
		nulls[2] = 'n';
	if (changed)
		values[3] = PointerGetDatum(billy_jsonb_parse(changed, strlen(changed), "changed records"));
	else
		nulls[3] = 'n';
	if (note)
		values[4] = CStringGetTextDatum(note);
	else
		nulls[4] = 'n';
	sql_owner("SELECT billy._write_done($1, $2, $3, $4, $5)", 5, types, values, nulls);
}

/*
 * billy_error_text makes Billy's error body readable: its errorMessage and
 * each field its validationErrors name.
 */
static char *
billy_error_text(BillyHttpRequest *req)
{
	char	   *msg = field(req->response.data, "errorMessage");
	char	   *ve = field(req->response.data, "validationErrors");
	char	   *fields = NULL;

	if (ve && billy_json_check(ve, strlen(ve)) == NULL)
	{
		Oid			types[1] = {TEXTOID};
		Datum		values[1] = {CStringGetTextDatum(ve)};

		fields = billy_sql_value("SELECT pg_catalog.string_agg(CASE WHEN a.key IS NULL THEN k.value ->> 'message' "
								 "ELSE k.key || '.' || a.key || ': ' || (a.value #>> '{}') END, '; ') "
								 "FROM pg_catalog.jsonb_each($1::pg_catalog.jsonb) k "
								 "LEFT JOIN LATERAL pg_catalog.jsonb_each(CASE WHEN pg_catalog.jsonb_typeof(k.value -> 'attributes') "
								 "OPERATOR(pg_catalog.=) 'object' THEN k.value -> 'attributes' END) a ON true",
								 1, types, values, NULL);
	}
	if (fields)
		return psprintf("%s%sFields: %s", msg ? msg : "", msg ? " " : "", fields);
	return msg ? msg : pstrdup("(no message)");
}

/*
 * finish_op records how one write ended, from its request's outcome.
 * reconciling: the note says so, and a new unknown waits longer.
 */
static void
finish_op(WriteOp *op, const char *org, const char *base_url, const char *token,
		  int attempt, const char *note)
{
	BillyHttpRequest *req = op->req;
	BillyHttpError err;
	int			delay = billy_reconcile_delay_ms * (1 << Min(attempt, 6));

	if (req->failure == BILLY_HTTP_OK)
	{
		char	   *rid = op->record_id;
		char	   *changed;

		if (billy_json_check(req->response.data, req->response.len) != NULL)
		{
			writes_record_unknown(op, "Billy answered success with a body that is not JSON", delay, note);
			return;
		}
		if (rid == NULL && op->resource)
		{
			Oid			types[2] = {TEXTOID, TEXTOID};
			Datum		values[2] = {CStringGetTextDatum(req->response.data), CStringGetTextDatum(op->resource)};

			rid = billy_sql_value("SELECT $1::pg_catalog.jsonb -> $2 -> 0 ->> 'id'", 2, types, values, NULL);
		}
		changed = writes_refresh_mirror(org, base_url, token, req->response.data);
		writes_record_done(op, (int) req->status, rid, changed, note);
		return;
	}
	billy_http_describe(req, &err);
	if (req->failure == BILLY_HTTP_STATUS &&
		(req->status == 500 || req->status == 502 || req->status == 504))
	{
		writes_record_unknown(op, psprintf("Billy answered HTTP %ld; the write may or may not have been done", req->status),
							  delay, note);
		return;
	}
	if (req->failure == BILLY_HTTP_STATUS)
	{
		writes_record_failed(op, (int) req->status, err.billy_error_code,
							 psprintf("Billy answered HTTP %ld: %s", req->status, billy_error_text(req)),
							 err.detail, note);
		return;
	}
	if (req->maybe_sent)
	{
		writes_record_unknown(op, psprintf("%s after the request was sent: %s", err.message,
										   req->curl_error ? req->curl_error : "no answer"),
							  delay, note);
		return;
	}
	writes_record_failed(op, 0, NULL, psprintf("%s; nothing was sent", err.message), err.detail, note);
}

/*
 * writes_build_request makes the HTTP request of a plan ({"request": {"method",
 * "path", "body"}}, or a file's upload: {"request": {"file"}, "args"}).
 */
BillyHttpRequest *
writes_build_request(const char *plan, const char *base_url, const char *token)
{
	char	   *request = field(plan, "request");
	char	   *method = field(request, "method");
	char	   *path = field(request, "path");
	char	   *body = field(request, "body");
	BillyHttpMethod m;
	BillyHttpRequest *req;

	if (method == NULL || path == NULL)
		elog(ERROR, "billy: a write plan has no request");
	if (strcmp(method, "POST") == 0)
		m = BILLY_POST;
	else if (strcmp(method, "PUT") == 0)
		m = BILLY_PUT;
	else if (strcmp(method, "DELETE") == 0)
		m = BILLY_DELETE;
	else
		elog(ERROR, "billy: a write plan has method %s", method);
	req = billy_http_request_new(m, base_url, path, token);
	req->body = body;
	req->retryable = false;		/* never: Billy has no idempotency key */
	billy_file_request_body(req, plan); /* an upload: its raw bytes (files.c) */
	return req;
}

/*
 * writes_send_ops sends recorded writes, at most concurrency at a time: each is
 * marked sent (committed) first, and its outcome committed after.
 */
void
writes_send_ops(WriteOp **ops, int n, int concurrency, const char *org, const char *base_url,
				const char *token, int attempt, const char *note)
{
	BillyHttpRequest **reqs = palloc(sizeof(BillyHttpRequest *) * n);

	for (int i = 0; i < n; i++)
	{
		Oid			types[1] = {INT8OID};
		Datum		values[1] = {Int64GetDatum(ops[i]->id)};

		sql_owner("SELECT billy._write_sent($1)", 1, types, values, NULL);
		reqs[i] = ops[i]->req;
	}
	writes_step_commit();
	billy_http_run(reqs, n, concurrency, NULL, NULL);
	for (int i = 0; i < n; i++)
	{
		finish_op(ops[i], org, base_url, token, attempt, note);
		writes_step_commit();
	}
}

const char *
writes_plan_resource(const char *plan)
{
	char	   *r = field(plan, "resource");

	if (r == NULL || strcmp(r, "organization") == 0)
		return NULL;
	return r;
}

/*
 * billy_writes_send_batch records and sends planned writes of one
 * organization (an import's batch), concurrency at a time.
 */
void
billy_writes_send_batch(const char *org, BillyWriteItem *items, int n, int concurrency,
						int64 bulk_job_id, const char *actor, const char *session,
						const char *client)
{
	char	   *api_url = NULL;
	char	   *token;
	const char *base_url;
	WriteOp   **ops;
	MemoryContext cxt;

	if (n <= 0)
		return;
	cxt = write_context();
	ops = palloc(sizeof(WriteOp *) * n);
	token = billy_load_token(org, &api_url);
	base_url = billy_effective_api_url(api_url);
	for (int i = 0; i < n; i++)
	{
		Oid			types[6] = {JSONBOID, NAMEOID, NAMEOID, TEXTOID, INT8OID, INT4OID};
		Datum		values[6];
		char	   *id;

		values[0] = PointerGetDatum(billy_jsonb_parse(items[i].plan, strlen(items[i].plan), "a write plan"));
		values[1] = DirectFunctionCall1(namein, CStringGetDatum(actor));
		values[2] = DirectFunctionCall1(namein, CStringGetDatum(session));
		values[3] = CStringGetTextDatum(client ? client : "billy import");
		values[4] = Int64GetDatum(bulk_job_id);
		values[5] = Int32GetDatum(items[i].line);
		id = sql_text("SELECT billy._write_begin($1, $2, $3, $4, $5, $6)", 6, types, values, NULL);
		items[i].op_id = pg_strtoint64(id);
		ops[i] = palloc0(sizeof(WriteOp));
		ops[i]->id = items[i].op_id;
		ops[i]->resource = (char *) writes_plan_resource(items[i].plan);
		ops[i]->record_id = field(items[i].plan, "record_id");
		ops[i]->req = writes_build_request(items[i].plan, base_url, token);
	}
	PG_TRY();
	{
		writes_send_ops(ops, n, concurrency, org, base_url, token, 0, NULL);
	}
	PG_FINALLY();
	{
		explicit_bzero(token, strlen(token));
		end_write_context(cxt);
	}
	PG_END_TRY();
}

/*
 * writes_send_follow_up sends the write a done write names in its
 * request's "then" (an upload's attachment; billy._write_follow_up plans
 * and claims it, once), as the first write's requester.  Returns its id,
 * or 0.
 */
int64
writes_send_follow_up(int64 first, const char *org, const char *base_url, const char *token)
{
	Oid			types[4] = {INT8OID, NAMEOID, NAMEOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	Oid			t2[2] = {INT8OID, INT8OID};
	Datum		v2[2];
	char	   *plan;
	char	   *client;
	WriteOp		op = {0};
	WriteOp    *ops[1] = {&op};

	values[0] = Int64GetDatum(first);
	plan = sql_text("SELECT billy._write_follow_up($1)::pg_catalog.text", 1, types, values, NULL);
	if (plan == NULL)
	{
		writes_step_commit();
		return 0;
	}
	types[0] = JSONBOID;
	values[0] = PointerGetDatum(billy_jsonb_parse(plan, strlen(plan), "a write plan"));
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(field(plan, "actor")));
	values[2] = DirectFunctionCall1(namein, CStringGetDatum(field(plan, "session")));
	client = field(plan, "client");
	if (client)
		values[3] = CStringGetTextDatum(client);
	else
		nulls[3] = 'n';
	op.id = pg_strtoint64(sql_text("SELECT billy._write_begin($1, $2, $3, $4)", 4, types, values, nulls));
	v2[0] = Int64GetDatum(first);
	v2[1] = Int64GetDatum(op.id);
	sql_owner("SELECT billy._write_follow_up_begun($1, $2)", 2, t2, v2, NULL);
	writes_step_commit();
	op.resource = (char *) writes_plan_resource(plan);
	op.record_id = field(plan, "record_id");
	op.operation = field(plan, "operation");
	op.req = writes_build_request(plan, base_url, token);
	writes_send_ops(ops, 1, 1, org, base_url, token, 0, NULL);
	return op.id;
}
