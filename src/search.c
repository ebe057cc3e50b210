/*-------------------------------------------------------------------------
 *
 * search.c
 *	  The words of a text as billy.search sees them (extension/0.2.0/93-search.sql).
 *
 * billy._search_vector(text) is PostgreSQL's to_tsvector with the simple
 * configuration (lower case, no stemming).  It is in C because its SQL
 * form had to pin search_path like every billy function in SQL, and a SQL
 * function with a SET clause is neither inlined nor cheap: it cost about
 * six times to_tsvector itself per row, and search evaluates it per row
 * (index rechecks, scoring).  The GIN indexes of the search are built on
 * it, so it must stay IMMUTABLE and give the same words for the same text.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include "catalog/namespace.h"
#include "nodes/pg_list.h"
#include "nodes/value.h"
#include "utils/fmgrprotos.h"

PG_FUNCTION_INFO_V1(billy_search_vector);

/*
 * billy_search_vector returns to_tsvector('pg_catalog.simple', t); the
 * configuration's oid is looked up once per backend.
 */
Datum
billy_search_vector(PG_FUNCTION_ARGS)
{
	static Oid	simple = InvalidOid;

	if (!OidIsValid(simple))
		simple = get_ts_config_oid(list_make2(makeString("pg_catalog"), makeString("simple")), false);
	return DirectFunctionCall2(to_tsvector_byid, ObjectIdGetDatum(simple), PG_GETARG_DATUM(0));
}
