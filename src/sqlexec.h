/*-------------------------------------------------------------------------
 *
 * sqlexec.h
 *	  Running billy's own SQL from C through SPI, in one line per statement.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_SQLEXEC_H
#define BILLY_SQLEXEC_H

#include "postgres.h"

/*
 * Arguments are given as parallel arrays of type OIDs and Datums; nulls is a
 * string of ' ' and 'n' as SPI wants, or NULL for "none null".  Results are
 * copied into the caller's memory context.
 */
extern uint64 billy_sql_exec(const char *sql, int nargs, Oid *types,
							 Datum *values, const char *nulls);
extern char *billy_sql_value(const char *sql, int nargs, Oid *types,
							 Datum *values, const char *nulls);
extern Datum billy_sql_datum(const char *sql, int nargs, Oid *types,
							 Datum *values, const char *nulls, bool *isnull);
extern Datum billy_sql_datum_cached(const char *sql, int nargs, Oid *types,
									Datum *values, const char *nulls, bool *isnull);

#endif							/* BILLY_SQLEXEC_H */
