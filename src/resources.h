/*-------------------------------------------------------------------------
 *
 * resources.h
 *	  Billy's resources as billy mirrors them: the catalog of
 *	  billy.resources, read once per backend.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_RESOURCES_H
#define BILLY_RESOURCES_H

#include "postgres.h"

#include "utils/palloc.h"

/* one row of billy.resources, with what is derived from it */
typedef struct BillyResource
{
	const char *name;			/* Billy's plural: list root and path */
	const char *singular;		/* root of a single-record answer */
	const char *table;			/* billy.<table> */
	const char *apply;			/* billy._apply_<table> */
	const char *include;		/* embedded children, or NULL */
	const char *sort;			/* sortProperty, or NULL for Billy's order */
	const char *hot_filter;		/* query of a hot scan, or NULL: no hot scans */
	const char *hot_where;		/* the mirror's rows a hot scan covers */
	const char *noun;			/* the resource in messages */
	const char *read_function;	/* billy.<read_function>(org, id, max_age), or
								 * NULL */
	const char *scope_param;	/* listed per parent: the query parameter
								 * (accountId), or NULL */
	const char *scope_source;	/* the query of its values ($1: org) */
	const char *scope_column;	/* the mirror column holding the parent */
} BillyResource;

/*
 * The catalog's rows stay valid until the end of the transaction that
 * looked them up, even if the catalog changes meanwhile; what must outlive
 * it (a scan across page commits) takes a copy.
 */
extern const BillyResource *billy_resource(const char *name);
extern const BillyResource *billy_resource_read_by(const char *function);
extern int	billy_resource_count(void);
extern const BillyResource *billy_resource_at(int i);
extern BillyResource *billy_resource_copy(const BillyResource *res, MemoryContext cxt);

#endif							/* BILLY_RESOURCES_H */
