/*-------------------------------------------------------------------------
 *
 * writes_internal.h
 *	  What the files of src/writes/ share: a write being sent, the outbox's
 *	  steps (outbox.c), the mirror's refresh after a write (readback.c), and
 *	  a few one-line helpers.  Nothing outside src/writes/ includes it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_WRITES_INTERNAL_H
#define BILLY_WRITES_INTERNAL_H

#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "billy.h"
#include "http.h"
#include "sqlexec.h"

/* a write being sent */
typedef struct WriteOp
{
	int64		id;
	char	   *operation;
	char	   *resource;		/* the main record's resource, or NULL */
	char	   *record_id;		/* the main record, when known beforehand */
	BillyHttpRequest *req;
} WriteOp;

/* readback.c: the records a write changed, read back into the mirror */
extern char *writes_refresh_mirror(const char *org, const char *base_url,
								   const char *token, const char *response);

/* outbox.c: a write's steps, each committed before the next; the settings */
extern bool writes_in_executor;
extern void writes_define_settings(void);
extern void writes_step_commit(void);
extern void writes_record_failed(WriteOp *op, int status, const char *code,
								 const char *msg, const char *detail,
								 const char *note);
extern void writes_record_unknown(WriteOp *op, const char *msg, int delay_ms,
								  const char *note);
extern void writes_record_done(WriteOp *op, int status, const char *rid,
							   const char *changed, const char *note);
extern BillyHttpRequest *writes_build_request(const char *plan,
											  const char *base_url,
											  const char *token);
extern void writes_send_ops(WriteOp **ops, int n, int concurrency,
							const char *org, const char *base_url,
							const char *token, int attempt, const char *note);
extern const char *writes_plan_resource(const char *plan);
extern int64 writes_send_follow_up(int64 first, const char *org,
								   const char *base_url, const char *token);

/*
 * Writes commit as they go, which frees transaction memory: what a write
 * needs across its commits lives in a context of its own (write_context),
 * deleted when it is done (end_write_context).
 */
static inline MemoryContext
write_context(void)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "billy write",
											  ALLOCSET_DEFAULT_SIZES);

	MemoryContextSwitchTo(cxt);
	return cxt;
}

static inline void
end_write_context(MemoryContext cxt)
{
	MemoryContextSwitchTo(IsTransactionState() ? CurTransactionContext : TopMemoryContext);
	MemoryContextDelete(cxt);
}

/* sql_text: billy_sql_value as the extension owner */
static inline char *
sql_text(const char *sql, int n, Oid *types, Datum *values, const char *nulls)
{
	BillyOwner	owner;
	char	   *v;

	billy_become_owner(&owner);
	v = billy_sql_value(sql, n, types, values, nulls);
	billy_end_owner(&owner);
	return v;
}

/* sql_owner: billy_sql_exec as the extension owner */
static inline void
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
static inline char *
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

#endif							/* BILLY_WRITES_INTERNAL_H */
