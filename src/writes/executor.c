/*-------------------------------------------------------------------------
 *
 * executor.c
 *	  billy.commit_write and the write executor: a dynamic background worker
 *	  with its own transactions that records and sends one write for the
 *	  caller, who waits for it and reads the outcome.
 *
 * A write's commits must not depend on the caller's transaction: a write
 * that reached Billy stays recorded (and audited) even when the caller rolls
 * back.  So billy.commit_write checks everything in the caller's session
 * (billy._commit_plan) and hands the plan, in dynamic shared memory, to an
 * executor, and waits for it.  The caller reads the outcome with the latest
 * snapshot, whatever its isolation level.  The outbox's steps are outbox.c's.
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
#include "utils/jsonb.h"
#include "utils/snapmgr.h"

#include "budget.h"
#include "http.h"
#include "json.h"
#include "organizations.h"
#include "writes/writes_internal.h"

PG_FUNCTION_INFO_V1(billy_commit_write);

PGDLLEXPORT void billy_write_executor_main(Datum main_arg);

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
	writes_step_commit();

	token = billy_load_token(org, &api_url);
	base_url = billy_effective_api_url(api_url);
	op.resource = (char *) writes_plan_resource(plan);
	op.record_id = field(plan, "record_id");
	op.operation = field(plan, "operation");
	op.req = writes_build_request(plan, base_url, token);
	writes_send_ops(ops, 1, 1, org, base_url, token, 0, NULL);
	/* an upload's attachment: the caller hears how that ended */
	{
		int64		next = writes_send_follow_up(op.id, org, base_url, token);

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
	writes_in_executor = true;
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
