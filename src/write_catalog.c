/*-------------------------------------------------------------------------
 *
 * write_catalog.c
 *	  What C needs of billy.write_catalog (extension/0.2.0/81-writes.sql),
 *	  the write operations declared once: per operation, the resource it
 *	  writes and where the documents it pays are in its body.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "billy.h"
#include "sqlexec.h"
#include "write_catalog.h"

/*
 * The write operations are rows of billy.write_catalog; what C needs of a
 * row (the resource it writes, where the documents it pays are in its body)
 * is kept per backend, loaded on first use and forgotten when the table
 * changes (its billy._invalidate_cached trigger sends a relcache
 * invalidation, as for the MCP registry).
 */
static HTAB *catalog_cache = NULL;
static MemoryContext catalog_cxt = NULL;
static bool catalog_valid = false;
static bool catalog_callback = false;
static Oid	catalog_relid = InvalidOid;

static void
catalog_relcache_cb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == catalog_relid)
		catalog_valid = false;
}

static void
catalog_load(void)
{
	HASHCTL		ctl = {0};
	char	   *rows;
	char	   *save = NULL;
	MemoryContext old;
	BillyOwner	owner;

	if (!catalog_callback)
	{
		CacheRegisterRelcacheCallback(catalog_relcache_cb, (Datum) 0);
		catalog_callback = true;
	}
	if (catalog_cxt != NULL)
		MemoryContextDelete(catalog_cxt);
	catalog_cxt = AllocSetContextCreate(CacheMemoryContext, "billy write catalog", ALLOCSET_SMALL_SIZES);
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(BillyWriteOp);
	ctl.hcxt = catalog_cxt;
	catalog_cache = hash_create("billy write catalog", 32, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	catalog_valid = true;		/* before reading: a change meanwhile empties
								 * it again */
	catalog_relid = get_relname_relid("write_catalog", get_namespace_oid("billy", false));
	billy_become_owner(&owner);
	PG_TRY();
	{
		rows = billy_sql_value("SELECT pg_catalog.string_agg(operation OPERATOR(pg_catalog.||) E'\\t' OPERATOR(pg_catalog.||) "
							   "COALESCE(resource, '') OPERATOR(pg_catalog.||) E'\\t' OPERATOR(pg_catalog.||) "
							   "COALESCE(subjects::pg_catalog.text, ''), E'\\n') FROM billy.write_catalog",
							   0, NULL, NULL, NULL);
	}
	PG_CATCH();
	{
		/* not read: read again next time */
		catalog_valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
	billy_end_owner(&owner);
	old = MemoryContextSwitchTo(catalog_cxt);
	for (char *line = rows ? strtok_r(rows, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
	{
		char	   *tab1 = strchr(line, '\t');
		char	   *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
		BillyWriteOp *e;
		bool		found;

		if (tab2 == NULL || tab1 - line >= NAMEDATALEN)
			continue;
		*tab1 = *tab2 = '\0';
		e = hash_search(catalog_cache, line, HASH_ENTER, &found);
		e->resource = tab1[1] ? pstrdup(tab1 + 1) : NULL;
		e->subjects = tab2[1] ? pstrdup(tab2 + 1) : NULL;
	}
	MemoryContextSwitchTo(old);
}

/*
 * billy_write_op: the catalog's row of an operation, NULL when it has none.
 */
BillyWriteOp *
billy_write_op(const char *operation)
{
	char		key[NAMEDATALEN] = {0};

	if (operation == NULL)
		return NULL;
	if (!catalog_valid)
		catalog_load();
	strlcpy(key, operation, NAMEDATALEN);
	return hash_search(catalog_cache, key, HASH_FIND, NULL);
}
