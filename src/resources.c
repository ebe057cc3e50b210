/*-------------------------------------------------------------------------
 *
 * resources.c
 *	  Billy's resources as billy mirrors them, read from the catalog
 *	  (billy.resources and billy.resource_children, 15-resources.sql): the
 *	  sync engine, the read path and the writes find a resource's table,
 *	  root names, includes, hot scan, read function and, for a resource
 *	  Billy lists only per parent, its scope here.
 *
 * The catalog is copied into each backend on first use (as the caller:
 * billy_reader, which every role that reaches billy's functions holds, may
 * read it) and dropped by a relcache invalidation of either table (their
 * statement triggers, billy._invalidate_cached), so a change reaches every
 * backend at commit and the changing backend at once.  A copy dropped
 * while a transaction may still hold pointers into it is freed with that
 * transaction, not before.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "resources.h"

static BillyResource *catalog = NULL;
static int	catalog_n = 0;
static MemoryContext catalog_cxt = NULL;
static bool catalog_valid = false;
static Oid	resources_relid = InvalidOid;
static Oid	children_relid = InvalidOid;
static bool callback_registered = false;

static void
catalog_relcache_cb(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == resources_relid || relid == children_relid)
		catalog_valid = false;
}

static const char *
copy_value(MemoryContext cxt, int row, int col)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);

	return v ? MemoryContextStrdup(cxt, v) : NULL;
}

/*
 * load_catalog copies billy.resources into this backend, with each
 * resource's include derived from its children.
 */
static void
load_catalog(void)
{
	Oid			nsp = get_namespace_oid("billy", false);
	MemoryContext cxt;
	BillyResource *rows;
	int			n;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(catalog_relcache_cb, (Datum) 0);
		callback_registered = true;
	}
	resources_relid = get_relname_relid("resources", nsp);
	children_relid = get_relname_relid("resource_children", nsp);

	/*
	 * valid from here: an invalidation during the read makes the next one
	 * read again
	 */
	catalog_valid = true;
	cxt = AllocSetContextCreate(TopMemoryContext, "billy resource catalog", ALLOCSET_SMALL_SIZES);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "billy: SPI_connect failed");
		if (SPI_execute("SELECT r.name, r.singular, r.table_name, 'billy._apply_' OPERATOR(pg_catalog.||) r.table_name, "
						"billy._resource_include(r.name), r.sort, r.hot_filter, r.hot_where, r.noun, r.read_function, "
						"r.scope_param, r.scope_source, billy._resource_scope_column(r.name) "
						"FROM billy.resources r ORDER BY r.sync_order", true, 0) != SPI_OK_SELECT)
			elog(ERROR, "billy: could not read billy.resources");
		n = (int) SPI_processed;
		rows = MemoryContextAllocZero(cxt, sizeof(BillyResource) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			BillyResource *r = &rows[i];

			r->name = copy_value(cxt, i, 1);
			r->singular = copy_value(cxt, i, 2);
			r->table = copy_value(cxt, i, 3);
			r->apply = copy_value(cxt, i, 4);
			r->include = copy_value(cxt, i, 5);
			r->sort = copy_value(cxt, i, 6);
			r->hot_filter = copy_value(cxt, i, 7);
			r->hot_where = copy_value(cxt, i, 8);
			r->noun = copy_value(cxt, i, 9);
			r->read_function = copy_value(cxt, i, 10);
			r->scope_param = copy_value(cxt, i, 11);
			r->scope_source = copy_value(cxt, i, 12);
			r->scope_column = copy_value(cxt, i, 13);
		}
		SPI_finish();
	}
	PG_CATCH();
	{
		catalog_valid = false;
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();

	/* the previous copy goes with the transaction that may still use it */
	if (catalog_cxt != NULL)
	{
		if (IsTransactionState())
			MemoryContextSetParent(catalog_cxt, TopTransactionContext);
		else
			MemoryContextDelete(catalog_cxt);
	}
	catalog_cxt = cxt;
	catalog = rows;
	catalog_n = n;
}

static void
ensure_catalog(void)
{
	if (!catalog_valid)
		load_catalog();
}

/* billy_resource: the catalog's resource of Billy's plural name, or NULL */
const BillyResource *
billy_resource(const char *name)
{
	ensure_catalog();
	for (int i = 0; i < catalog_n; i++)
		if (strcmp(catalog[i].name, name) == 0)
			return &catalog[i];
	return NULL;
}

/* billy_resource_read_by: the resource read by billy.<function>, or NULL */
const BillyResource *
billy_resource_read_by(const char *function)
{
	ensure_catalog();
	for (int i = 0; i < catalog_n; i++)
		if (catalog[i].read_function && strcmp(catalog[i].read_function, function) == 0)
			return &catalog[i];
	return NULL;
}

/* billy_resource_count and billy_resource_at: every resource, in sync order */
int
billy_resource_count(void)
{
	ensure_catalog();
	return catalog_n;
}

const BillyResource *
billy_resource_at(int i)
{
	ensure_catalog();
	Assert(i >= 0 && i < catalog_n);
	return &catalog[i];
}

static const char *
copy_or_null(MemoryContext cxt, const char *s)
{
	return s ? MemoryContextStrdup(cxt, s) : NULL;
}

/* billy_resource_copy: a copy in cxt, for what outlives the transaction */
BillyResource *
billy_resource_copy(const BillyResource *res, MemoryContext cxt)
{
	BillyResource *c = MemoryContextAllocZero(cxt, sizeof(BillyResource));

	c->name = copy_or_null(cxt, res->name);
	c->singular = copy_or_null(cxt, res->singular);
	c->table = copy_or_null(cxt, res->table);
	c->apply = copy_or_null(cxt, res->apply);
	c->include = copy_or_null(cxt, res->include);
	c->sort = copy_or_null(cxt, res->sort);
	c->hot_filter = copy_or_null(cxt, res->hot_filter);
	c->hot_where = copy_or_null(cxt, res->hot_where);
	c->noun = copy_or_null(cxt, res->noun);
	c->read_function = copy_or_null(cxt, res->read_function);
	c->scope_param = copy_or_null(cxt, res->scope_param);
	c->scope_source = copy_or_null(cxt, res->scope_source);
	c->scope_column = copy_or_null(cxt, res->scope_column);
	return c;
}
