/*-------------------------------------------------------------------------
 *
 * writes.c
 *	  Writes to Billy: billy.commit_write, the write executor, the outbox's
 *	  sending and the reconciliation of writes whose outcome is unknown.
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
 * Those commits must not depend on the caller's transaction: a write that
 * reached Billy stays recorded (and audited) even when the caller rolls
 * back.  So billy.commit_write checks everything in the caller's session and
 * hands the plan to a write executor, a dynamic background worker with its
 * own transactions, and waits for it.  The caller reads the outcome with
 * the latest snapshot, whatever its isolation level.
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
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "budget.h"
#include "files.h"
#include "http.h"
#include "jobs.h"
#include "json.h"
#include "module.h"
#include "organizations.h"
#include "pagescan.h"
#include "sqlexec.h"
#include "mirror/mirror.h"
#include "write_catalog.h"
#include "writes.h"

PG_FUNCTION_INFO_V1(billy_commit_write);

#define WRITE_CHECK_INTERVAL_MS (10 * 1000)

/* settings (writes_define_settings) */
bool		billy_enable_writes = false;
int			billy_reconcile_delay_ms = 5000;

static long housekeeping_interval_ms(void);
static bool housekeeping(void);

/* writes_define_settings: whether writes are allowed, when to reconcile */
static void
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
PGDLLEXPORT void billy_write_executor_main(Datum main_arg);

#define RECONCILE_MAX_SENDS 4

/* what billy.commit_write hands the executor, in dynamic shared memory */
typedef struct WriteTask
{
	Oid			database;
	int			http_timeout_ms;
	int			connect_timeout_ms;
	char		actor[NAMEDATALEN];
	char		session[NAMEDATALEN];
	char		client[256];
	/* results */
	int64		op_id;
	bool		failed;			/* failed before the write was recorded */
	int			sqlerrcode;
	char		message[1024];
	char		detail[4096];
	char		hint[1024];
	/* the plan (JSON text) */
	int			plan_len;
	char		plan[FLEXIBLE_ARRAY_MEMBER];
} WriteTask;

/* a write being sent */
typedef struct WriteOp
{
	int64		id;
	char	   *operation;
	char	   *resource;		/* the main record's resource, or NULL */
	char	   *record_id;		/* the main record, when known beforehand */
	BillyHttpRequest *req;
} WriteOp;

static bool in_executor = false;

/* ------------------------------------------------------------ transactions */

/*
 * step_commit makes what was done so far durable: the worker's job commit,
 * or the executor's own.
 */
static void
step_commit(void)
{
	MemoryContext keep = CurrentMemoryContext;

	if (billy_in_worker())
		billy_job_commit_and_continue();
	else if (in_executor)
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
	}
	MemoryContextSwitchTo(keep);
}

/*
 * Writes commit as they go, which frees transaction memory: what a write
 * needs across its commits lives in a context of its own (write_context),
 * deleted when it is done (end_write_context).
 */
static MemoryContext
write_context(void)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "billy write",
											  ALLOCSET_DEFAULT_SIZES);

	MemoryContextSwitchTo(cxt);
	return cxt;
}

static void
end_write_context(MemoryContext cxt)
{
	MemoryContextSwitchTo(IsTransactionState() ? CurTransactionContext : TopMemoryContext);
	MemoryContextDelete(cxt);
}

static char *
sql_text(const char *sql, int n, Oid *types, Datum *values, const char *nulls)
{
	BillyOwner	owner;
	char	   *v;

	billy_become_owner(&owner);
	v = billy_sql_value(sql, n, types, values, nulls);
	billy_end_owner(&owner);
	return v;
}

static void
sql_owner(const char *sql, int n, Oid *types, Datum *values, const char *nulls)
{
	BillyOwner	owner;

	billy_become_owner(&owner);
	billy_sql_exec(sql, n, types, values, nulls);
	billy_end_owner(&owner);
}

/*
 * field reads one top-level member of a JSON object text: a string as is,
 * anything else as JSON text; NULL when absent or null.
 */
static char *
field(const char *json, const char *name)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	if (json == NULL)
		return NULL;
	values[0] = CStringGetTextDatum(json);
	values[1] = CStringGetTextDatum(name);
	return billy_sql_value("SELECT $1::pg_catalog.jsonb ->> $2", 2, types, values, NULL);
}

/* ------------------------------------------------------------ the mirror */

/* record_path: GET /<resource>/<id> with the includes the sync uses */
static char *
record_path(const char *resource, const char *id, const char *include)
{
	StringInfoData p;

	initStringInfo(&p);
	appendStringInfo(&p, "/%s/", resource);
	for (const char *c = id; *c; c++)
	{
		if (isalnum((unsigned char) *c) || *c == '-' || *c == '_' || *c == '.' || *c == '~')
			appendStringInfoChar(&p, *c);
		else
			appendStringInfo(&p, "%%%02X", (unsigned char) *c);
	}
	if (include)
		appendStringInfo(&p, "?include=%s", include);
	return p.data;
}

/*
 * apply_record stores one record read with GET /<resource>/<id> exactly as
 * the sync would: its text and hash from pagescan.c, through the sync's
 * apply function.  A sync that later reads it unchanged writes nothing.
 */
static bool
apply_record(const char *org, const char *resource, BillyHttpRequest *req)
{
	const char *singular;
	const char *apply;
	const char *include;
	BillyPage	page;
	char	   *problem;
	bytea	   *h;
	Datum		hashes[1];
	Oid			types[3] = {TEXTOID, JSONBOID, BYTEAARRAYOID};
	Datum		values[3];

	if (!billy_sync_resource(resource, &singular, &apply, &include))
		return false;
	problem = billy_scan_page(req->response.data, req->response.len, singular, &page);
	if (problem != NULL || page.nrecords != 1)
		return false;
	h = palloc(VARHDRSZ + BILLY_HASH_BYTES);
	SET_VARSIZE(h, VARHDRSZ + BILLY_HASH_BYTES);
	memcpy(VARDATA(h), page.records[0].hash, BILLY_HASH_BYTES);
	hashes[0] = PointerGetDatum(h);
	values[0] = CStringGetTextDatum(org);
	values[1] = PointerGetDatum(billy_jsonb_parse(psprintf("[%.*s]", page.records[0].len, page.records[0].text),
												  page.records[0].len + 2, "a record Billy returned"));
	values[2] = PointerGetDatum(construct_array(hashes, 1, BYTEAOID, -1, false, TYPALIGN_INT));
	sql_owner(psprintf("SELECT %s($1, NULL, $2, $3)", apply), 3, types, values, NULL);
	return true;
}

/*
 * refresh_mirror reads each changed record again (with its children
 * embedded) and stores it; deleted ones are marked deleted.  Returns the
 * changed ids per resource as JSON text.  A record that cannot be read now
 * is left to the next sync.
 */
static char *
refresh_mirror(const char *org, const char *base_url, const char *token, const char *response)
{
	Oid			types[2] = {JSONBOID, TEXTOID};
	Datum		values[2];
	List	   *resources = NIL;
	List	   *ids = NIL;
	List	   *gone_res = NIL;
	List	   *gone_ids = NIL;
	bool		organization = false;
	BillyHttpRequest **reqs;
	int			n = 0;
	ListCell   *a,
			   *b;
	char	   *changed;

	values[0] = PointerGetDatum(billy_jsonb_parse(response, strlen(response), "Billy's answer to a write"));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	if (SPI_execute_with_args("SELECT resource, record_id, deleted FROM billy._write_affected($1)",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "billy: could not read a write's answer");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(CurTransactionContext);
		char	   *r = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char	   *id = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		char	   *d = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);

		if (d[0] == 't')
		{
			gone_res = lappend(gone_res, pstrdup(r));
			gone_ids = lappend(gone_ids, pstrdup(id));
		}
		else
		{
			resources = lappend(resources, pstrdup(r));
			ids = lappend(ids, pstrdup(id));
		}
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	organization = strstr(response, "\"organizations\"") != NULL;

	reqs = palloc(sizeof(BillyHttpRequest *) * Max(list_length(ids), 1));
	forboth(a, resources, b, ids)
	{
		const char *singular;
		const char *apply;
		const char *include;

		if (!billy_sync_resource(lfirst(a), &singular, &apply, &include))
			continue;
		reqs[n] = billy_http_request_new(BILLY_GET, base_url, record_path(lfirst(a), lfirst(b), include), token);
		reqs[n]->arg = lfirst(a);
		n++;
	}
	billy_http_run(reqs, n, 4, NULL, NULL);
	for (int i = 0; i < n; i++)
	{
		if (reqs[i]->failure == BILLY_HTTP_OK)
			apply_record(org, reqs[i]->arg, reqs[i]);
		else if (reqs[i]->failure == BILLY_HTTP_STATUS && reqs[i]->status == 404)
		{
			char	   *path = reqs[i]->path;
			char	   *id = strrchr(path, '/') + 1;
			char	   *q = strchr(id, '?');

			gone_res = lappend(gone_res, reqs[i]->arg);
			gone_ids = lappend(gone_ids, q ? pnstrdup(id, q - id) : pstrdup(id));
		}
		else
			ereport(WARNING,
					(errmsg("billy: could not read %s back after a write; the next sync stores it", reqs[i]->path)));
	}
	forboth(a, gone_res, b, gone_ids)
	{
		Oid			t[3] = {TEXTOID, TEXTOID, TEXTARRAYOID};
		Datum		v[3];
		Datum		one[1];
		const char *s1,
				   *s2,
				   *s3;

		one[0] = CStringGetTextDatum(lfirst(b));
		v[0] = CStringGetTextDatum(org);
		v[1] = CStringGetTextDatum(lfirst(a));
		v[2] = PointerGetDatum(construct_array(one, 1, TEXTOID, -1, false, TYPALIGN_INT));
		if (billy_sync_resource(lfirst(a), &s1, &s2, &s3))
			sql_owner("SELECT billy._mark_deleted($1, $2, NULL, $3)", 3, t, v, NULL);
	}
	if (organization)
		billy_refresh_organization(org);

	values[1] = CStringGetTextDatum(org);
	changed = sql_text("SELECT pg_catalog.jsonb_object_agg(r, ids)::pg_catalog.text FROM ("
					   "SELECT resource AS r, pg_catalog.jsonb_agg(record_id ORDER BY record_id) AS ids "
					   "FROM billy._write_affected($1) GROUP BY resource) x",
					   1, types, values, NULL);
	/* tell listeners, as the sync does */
	if (changed)
	{
		Oid			nt[2] = {TEXTOID, TEXTOID};
		Datum		nv[2] = {CStringGetTextDatum(org), CStringGetTextDatum(changed)};

		billy_sql_exec("SELECT pg_catalog.pg_notify('billy_changes', pg_catalog.jsonb_build_object("
					   "'organization_id', $1, 'write', true, 'changed', $2::pg_catalog.jsonb)::pg_catalog.text)",
					   2, nt, nv, NULL);
	}
	return changed;
}

/* ------------------------------------------------------------ sending */

static void
record_failed(WriteOp *op, int status, const char *code, const char *msg, const char *detail,
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

static void
record_unknown(WriteOp *op, const char *msg, int delay_ms, const char *note)
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

static void
record_done(WriteOp *op, int status, const char *rid, const char *changed, const char *note)
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
			record_unknown(op, "Billy answered success with a body that is not JSON", delay, note);
			return;
		}
		if (rid == NULL && op->resource)
		{
			Oid			types[2] = {TEXTOID, TEXTOID};
			Datum		values[2] = {CStringGetTextDatum(req->response.data), CStringGetTextDatum(op->resource)};

			rid = billy_sql_value("SELECT $1::pg_catalog.jsonb -> $2 -> 0 ->> 'id'", 2, types, values, NULL);
		}
		changed = refresh_mirror(org, base_url, token, req->response.data);
		record_done(op, (int) req->status, rid, changed, note);
		return;
	}
	billy_http_describe(req, &err);
	if (req->failure == BILLY_HTTP_STATUS &&
		(req->status == 500 || req->status == 502 || req->status == 504))
	{
		record_unknown(op, psprintf("Billy answered HTTP %ld; the write may or may not have been done", req->status),
					   delay, note);
		return;
	}
	if (req->failure == BILLY_HTTP_STATUS)
	{
		record_failed(op, (int) req->status, err.billy_error_code,
					  psprintf("Billy answered HTTP %ld: %s", req->status, billy_error_text(req)),
					  err.detail, note);
		return;
	}
	if (req->maybe_sent)
	{
		record_unknown(op, psprintf("%s after the request was sent: %s", err.message,
									req->curl_error ? req->curl_error : "no answer"),
					   delay, note);
		return;
	}
	record_failed(op, 0, NULL, psprintf("%s; nothing was sent", err.message), err.detail, note);
}

/*
 * build_request makes the HTTP request of a plan ({"request": {"method",
 * "path", "body"}}, or a file's upload: {"request": {"file"}, "args"}).
 */
static BillyHttpRequest *
build_request(const char *plan, const char *base_url, const char *token)
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
	billy_file_request_body(req, plan);	/* an upload: its raw bytes (files.c) */
	return req;
}

/*
 * send_ops sends recorded writes, at most concurrency at a time: each is
 * marked sent (committed) first, and its outcome committed after.
 */
static void
send_ops(WriteOp **ops, int n, int concurrency, const char *org, const char *base_url,
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
	step_commit();
	billy_http_run(reqs, n, concurrency, NULL, NULL);
	for (int i = 0; i < n; i++)
	{
		finish_op(ops[i], org, base_url, token, attempt, note);
		step_commit();
	}
}

static const char *
plan_resource(const char *plan)
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
		ops[i]->resource = (char *) plan_resource(items[i].plan);
		ops[i]->record_id = field(items[i].plan, "record_id");
		ops[i]->req = build_request(items[i].plan, base_url, token);
	}
	PG_TRY();
	{
		send_ops(ops, n, concurrency, org, base_url, token, 0, NULL);
	}
	PG_FINALLY();
	{
		explicit_bzero(token, strlen(token));
		end_write_context(cxt);
	}
	PG_END_TRY();
}

/*
 * send_follow_up sends the write a done write names in its request's
 * "then" (an upload's attachment; billy._write_follow_up plans and claims
 * it, once), as the first write's requester.  Returns its id, or 0.
 */
static int64
send_follow_up(int64 first, const char *org, const char *base_url, const char *token)
{
	Oid			types[4] = {JSONBOID, NAMEOID, NAMEOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	char	   *plan;
	char	   *client;
	WriteOp		op = {0};
	WriteOp    *ops[1] = {&op};

	values[0] = Int64GetDatum(first);
	types[0] = INT8OID;
	plan = sql_text("SELECT billy._write_follow_up($1)::pg_catalog.text", 1, types, values, NULL);
	if (plan == NULL)
	{
		step_commit();
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
	{
		Oid			t2[2] = {INT8OID, INT8OID};
		Datum		v2[2] = {Int64GetDatum(first), Int64GetDatum(op.id)};

		sql_owner("SELECT billy._write_follow_up_begun($1, $2)", 2, t2, v2, NULL);
	}
	step_commit();
	op.resource = (char *) plan_resource(plan);
	op.record_id = field(plan, "record_id");
	op.operation = field(plan, "operation");
	op.req = build_request(plan, base_url, token);
	send_ops(ops, 1, 1, org, base_url, token, 0, NULL);
	return op.id;
}

/* ------------------------------------------------------------ the executor */

static void
task_error(WriteTask *task, ErrorData *edata)
{
	task->failed = true;
	task->sqlerrcode = edata->sqlerrcode;
	strlcpy(task->message, edata->message ? edata->message : "unknown error", sizeof(task->message));
	strlcpy(task->detail, edata->detail ? edata->detail : "", sizeof(task->detail));
	strlcpy(task->hint, edata->hint ? edata->hint : "", sizeof(task->hint));
}

/*
 * run_task records the write (the preview hash is unique: a second use
 * fails here) and sends it.
 */
static void
run_task(WriteTask *task)
{
	char	   *plan = pnstrdup(task->plan, task->plan_len);
	char	   *org = field(plan, "organization_id");
	Oid			types[4] = {JSONBOID, NAMEOID, NAMEOID, TEXTOID};
	Datum		values[4];
	char	   *id;
	char	   *api_url = NULL;
	char	   *token;
	const char *base_url;
	WriteOp		op = {0};
	WriteOp    *ops[1] = {&op};

	values[0] = PointerGetDatum(billy_jsonb_parse(plan, strlen(plan), "a write plan"));
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(task->actor));
	values[2] = DirectFunctionCall1(namein, CStringGetDatum(task->session));
	values[3] = CStringGetTextDatum(task->client);
	PG_TRY();
	{
		id = sql_text("SELECT billy._write_begin($1, $2, $3, $4)", 4, types, values, NULL);
	}
	PG_CATCH();
	{
		ErrorData  *edata = CopyErrorData();

		if (edata->sqlerrcode == ERRCODE_UNIQUE_VIOLATION)
		{
			FlushErrorState();
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("this operation hash was used already"),
					 errhint("A preview can be committed once; billy.write_ops shows the write.")));
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	op.id = pg_strtoint64(id);
	task->op_id = op.id;
	step_commit();

	token = billy_load_token(org, &api_url);
	base_url = billy_effective_api_url(api_url);
	op.resource = (char *) plan_resource(plan);
	op.record_id = field(plan, "record_id");
	op.operation = field(plan, "operation");
	op.req = build_request(plan, base_url, token);
	send_ops(ops, 1, 1, org, base_url, token, 0, NULL);
	/* an upload's attachment: the caller hears how that ended */
	{
		int64		next = send_follow_up(op.id, org, base_url, token);

		if (next != 0)
			task->op_id = next;
	}
	explicit_bzero(token, strlen(token));
}

/*
 * billy_write_executor_main is the entry point of a write executor: a
 * dynamic background worker that runs one write for billy.commit_write.
 */
void
billy_write_executor_main(Datum main_arg)
{
	dsm_segment *seg;
	WriteTask  *task;
	char		buf[32];

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	in_executor = true;
	/* a write and its read-backs are not charged to any API budget */
	billy_budget_set_process_share(BILLY_SHARE_EXEMPT);

	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("billy write executor found no task")));
	task = dsm_segment_address(seg);
	/* as the worker does: the bootstrap superuser; SQL runs as the owner */
	BackgroundWorkerInitializeConnectionByOid(task->database, InvalidOid, 0);
	pgstat_report_appname("billy write");
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	snprintf(buf, sizeof(buf), "%d", task->http_timeout_ms);
	SetConfigOption("billy.http_timeout_ms", buf, PGC_USERSET, PGC_S_SESSION);
	snprintf(buf, sizeof(buf), "%d", task->connect_timeout_ms);
	SetConfigOption("billy.connect_timeout_ms", buf, PGC_USERSET, PGC_S_SESSION);

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "billy: sending a write");
		write_context();
		run_task(task);
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		RESUME_INTERRUPTS();
		task_error(task, edata);
		/* a write recorded but not finished: the worker finds it (orphaned) */
		if (task->op_id != 0)
			ereport(LOG,
					(errmsg("billy write %lld stopped: %s", (long long) task->op_id, edata->message)));
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	dsm_detach(seg);
	proc_exit(0);
}

/* read_outcome reads a write's row with the latest snapshot */
static char *
read_outcome(int64 op_id)
{
	SPIPlanPtr	plan;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(op_id)};
	char	   *result = NULL;
	MemoryContext caller = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	plan = SPI_prepare("SELECT pg_catalog.jsonb_build_object('write_op_id', id, 'state', state, "
					   "'operation', operation, 'organization_id', organization_id, 'record_id', record_id, "
					   "'record', result -> 'record', 'changed', result -> 'changed', 'http_status', http_status, "
					   "'billy_error_code', billy_error_code, 'error', error, 'error_detail', error_detail, "
					   "'summary', summary)::pg_catalog.text FROM billy.write_ops WHERE id OPERATOR(pg_catalog.=) $1",
					   1, types);
	if (plan == NULL)
		elog(ERROR, "billy: could not read a write's outcome");
	if (SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, 1) == SPI_OK_SELECT && SPI_processed == 1)
		result = MemoryContextStrdup(caller, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	SPI_finish();
	return result;
}

/*
 * billy_commit_write: billy.commit_write(operation_hash text) RETURNS jsonb.
 * Checks in this session (billy._commit_plan), sends through an executor,
 * reports what happened; see the file header.
 */
Datum
billy_commit_write(PG_FUNCTION_ARGS)
{
	char	   *plan;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	dsm_segment *seg;
	WriteTask  *task;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	pid_t		pid;
	BgwHandleStatus status;
	char	   *outcome;
	char	   *state;
	int64		op_id;
	const char *client;
	char	   *executor_error;

	billy_require_preload();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("operation_hash must not be null"),
				 errhint("Pass the operation_hash billy.preview_write returned.")));
	values[0] = PG_GETARG_DATUM(0);
	plan = billy_sql_value("SELECT billy._commit_plan($1)::pg_catalog.text", 1, types, values, NULL);

	seg = dsm_create(offsetof(WriteTask, plan) + strlen(plan) + 1, 0);
	task = dsm_segment_address(seg);
	memset(task, 0, offsetof(WriteTask, plan));
	task->database = MyDatabaseId;
	task->http_timeout_ms = billy_http_timeout_ms;
	task->connect_timeout_ms = billy_connect_timeout_ms;
	strlcpy(task->actor, GetUserNameFromId(GetUserId(), false), NAMEDATALEN);
	strlcpy(task->session, GetUserNameFromId(GetSessionUserId(), false), NAMEDATALEN);
	client = billy_sql_value("SELECT NULLIF(pg_catalog.concat_ws(' ', NULLIF(pg_catalog.current_setting('application_name'), ''), "
							 "pg_catalog.inet_client_addr()::pg_catalog.text), '')", 0, NULL, NULL, NULL);
	strlcpy(task->client, client ? client : "", sizeof(task->client));
	task->plan_len = strlen(plan);
	memcpy(task->plan, plan, task->plan_len + 1);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "billy", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "billy_write_executor_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "billy write executor", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "billy write executor", BGW_MAXLEN);
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("no background worker slot is free to send the write"),
				 errdetail("Nothing was sent to Billy; the operation hash is still unused."),
				 errhint("Try again; if it persists, raise max_worker_processes.")));
	status = WaitForBackgroundWorkerStartup(handle, &pid);
	if (status == BGWH_POSTMASTER_DIED)
		ereport(FATAL, (errmsg("postmaster died while a write was being sent")));
	status = WaitForBackgroundWorkerShutdown(handle);

	if (task->op_id == 0)
	{
		if (task->failed)
			ereport(ERROR,
					(errcode(task->sqlerrcode),
					 errmsg("%s", task->message),
					 task->detail[0] ? errdetail("%s", task->detail) : 0,
					 task->hint[0] ? errhint("%s", task->hint) : 0));
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("the write executor stopped before recording the write"),
				 errdetail("Nothing was sent to Billy.")));
	}
	op_id = task->op_id;
	executor_error = pstrdup(task->message);
	dsm_detach(seg);

	outcome = read_outcome(op_id);
	if (outcome == NULL)
		elog(ERROR, "billy: write %lld has no row", (long long) op_id);
	state = field(outcome, "state");
	if (strcmp(state, "done") == 0)
		PG_RETURN_JSONB_P(billy_jsonb_parse(outcome, strlen(outcome), "a write's outcome"));
	if (strcmp(state, "unknown") == 0)
	{
		ereport(WARNING,
				(errmsg("the outcome of write %lld is unknown: %s", (long long) op_id, field(outcome, "error")),
				 errdetail("Billy may or may not have done it. Do not run this write again: that could make a duplicate, "
						   "and a new preview of the same write is refused while this one is unknown."),
				 errhint("billy looks the record up in Billy once billy.reconcile_delay_ms has passed and sends it again only if "
						 "Billy does not have it; billy.write_ops shows write %lld as it is settled. If it stays unknown "
						 "(needs_decision), a person checks in Billy and records the outcome with billy.resolve_write(%lld, ...).",
						 (long long) op_id, (long long) op_id)));
		PG_RETURN_JSONB_P(billy_jsonb_parse(outcome, strlen(outcome), "a write's outcome"));
	}
	if (strcmp(state, "failed") == 0)
	{
		char	   *http = field(outcome, "http_status");
		bool		refused = http && http[0] == '4' && strcmp(http, "429") != 0;

		ereport(ERROR,
				(errcode(refused ? ERRCODE_INVALID_PARAMETER_VALUE : ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("%s failed: %s", field(outcome, "operation"), field(outcome, "error")),
				 errdetail("Write %lld (%s). %s", (long long) op_id, field(outcome, "summary"),
						   field(outcome, "error_detail") ? field(outcome, "error_detail") : ""),
				 errhint(refused ? "Billy refused it; correct what Billy names and preview the write again."
						 : "Nothing was changed in Billy; try again later."),
				 errhidestmt(true)));
	}
	ereport(ERROR,
			(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("write %lld stopped while it was %s: %s", (long long) op_id, state,
					executor_error[0] ? executor_error : "the write executor failed"),
			 errdetail("Billy may or may not have done it. The worker looks the record up in Billy before anything is sent again."),
			 errhint("Do not run this write again; billy.write_ops shows write %lld as it is settled.", (long long) op_id)));
	PG_RETURN_NULL();
}

/* ------------------------------------------------------------ reconciliation */

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
 * (ids joined by commas) and returns what changed, as refresh_mirror does.
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
	return refresh_mirror(org, base_url, token, fake.data);
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
		send_follow_up(op.id, org, billy_effective_api_url(api_url), token);
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
		record_unknown(&op, "Billy cannot tell whether this write was done", -1,
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
			record_done(&op, 0, op.record_id, refresh_mirror(org, base_url, token, fake.data),
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
		record_unknown(&op, psprintf("%d records in Billy match this write (%s)", nfound, found), -1,
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
		record_done(&op, 0, rid, mirror_ids(&op, org, base_url, token, rid, field(row, "request")),
					"reconciled: found in Billy after the unknown outcome; not resent");
		explicit_bzero(token, strlen(token));
		return;
	}
	/* Billy does not have it: the write did not happen, and may be resent */
	if (attempts >= RECONCILE_MAX_SENDS)
	{
		record_failed(&op, 0, NULL, "not done: Billy does not have the record", NULL,
					  psprintf("reconciled: not found in Billy; not resent after %d attempts", attempts));
		explicit_bzero(token, strlen(token));
		return;
	}
	if (!writes_allowed_here(org, &why))
	{
		record_failed(&op, 0, NULL, "not done: Billy does not have the record", NULL,
					  psprintf("reconciled: not found in Billy; not resent because %s", why));
		explicit_bzero(token, strlen(token));
		return;
	}
	op.req = build_request(psprintf("{\"request\":%s,\"args\":%s}", field(row, "request"), field(row, "args")),
						   base_url, token);
	send_ops(ops, 1, 1, org, base_url, token, attempts,
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
