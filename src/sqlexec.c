/*-------------------------------------------------------------------------
 *
 * sqlexec.c
 *	  Running billy's own SQL from C through SPI, in one line per statement.
 *
 * Every statement run from C is fully schema-qualified: the search_path of
 * the session (or of the worker) is not ours to trust.  Each helper opens
 * and closes its own SPI connection, so they nest and can be called from
 * anywhere, and copies what it returns out of SPI's memory.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"

#include "sqlexec.h"

static int
run(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	int			rc;

	rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "billy: SPI_execute_with_args failed (%s) for: %s",
			 SPI_result_code_string(rc), sql);
	return rc;
}

/* billy_sql_exec runs a statement and returns how many rows it processed */
uint64
billy_sql_exec(const char *sql, int nargs, Oid *types, Datum *values,
			   const char *nulls)
{
	uint64		processed;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	run(sql, nargs, types, values, nulls);
	processed = SPI_processed;
	SPI_finish();
	return processed;
}

/*
 * billy_sql_datum returns the first column of the first row (isnull when
 * there is no row or the value is NULL), copied into the caller's context.
 */
Datum
billy_sql_datum(const char *sql, int nargs, Oid *types, Datum *values,
				const char *nulls, bool *isnull)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		result = (Datum) 0;

	*isnull = true;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	run(sql, nargs, types, values, nulls);
	if (SPI_processed > 0 && SPI_tuptable != NULL)
	{
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], desc, 1, isnull);

		if (!*isnull)
		{
			Form_pg_attribute att = TupleDescAttr(desc, 0);
			MemoryContext old = MemoryContextSwitchTo(caller);

			result = datumCopy(d, att->attbyval, att->attlen);
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	return result;
}

/* billy_sql_value is billy_sql_datum as text, or NULL */
char *
billy_sql_value(const char *sql, int nargs, Oid *types, Datum *values,
				const char *nulls)
{
	MemoryContext caller = CurrentMemoryContext;
	char	   *result = NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	run(sql, nargs, types, values, nulls);
	if (SPI_processed > 0 && SPI_tuptable != NULL)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (v != NULL)
			result = MemoryContextStrdup(caller, v);
	}
	SPI_finish();
	return result;
}

/*
 * Plans of statements run on hot paths, prepared once per backend and kept.
 * The key is the statement's address: callers pass string constants.
 */
#define KEPT_PLANS 32

typedef struct BillyKeptPlan
{
	const char *sql;
	SPIPlanPtr	plan;
} BillyKeptPlan;

static BillyKeptPlan kept_plans[KEPT_PLANS];

/*
 * billy_sql_datum_cached is billy_sql_datum for a statement run again and
 * again: planned the first time, then only executed.  sql must be a string
 * constant.
 */
Datum
billy_sql_datum_cached(const char *sql, int nargs, Oid *types, Datum *values,
					   const char *nulls, bool *isnull)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		result = (Datum) 0;
	SPIPlanPtr	plan = NULL;
	int			rc;

	*isnull = true;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "billy: SPI_connect failed");
	for (int i = 0; i < KEPT_PLANS && kept_plans[i].sql != NULL; i++)
		if (kept_plans[i].sql == sql)
			plan = kept_plans[i].plan;
	if (plan == NULL)
	{
		plan = SPI_prepare(sql, nargs, types);
		if (plan == NULL)
			elog(ERROR, "billy: SPI_prepare failed (%s) for: %s",
				 SPI_result_code_string(SPI_result), sql);
		for (int i = 0; i < KEPT_PLANS; i++)
			if (kept_plans[i].sql == NULL)
			{
				if (SPI_keepplan(plan) == 0)
				{
					kept_plans[i].sql = sql;
					kept_plans[i].plan = plan;
				}
				break;
			}
	}
	rc = SPI_execute_plan(plan, values, nulls, false, 1);
	if (rc < 0)
		elog(ERROR, "billy: SPI_execute_plan failed (%s) for: %s", SPI_result_code_string(rc), sql);
	if (SPI_processed > 0 && SPI_tuptable != NULL)
	{
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], desc, 1, isnull);

		if (!*isnull)
		{
			Form_pg_attribute att = TupleDescAttr(desc, 0);
			MemoryContext old = MemoryContextSwitchTo(caller);

			result = datumCopy(d, att->attbyval, att->attlen);
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	return result;
}
