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
