/*-------------------------------------------------------------------------
 *
 * write_catalog.h
 *	  The write operations of billy.write_catalog, as C reads them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_WRITE_CATALOG_H
#define BILLY_WRITE_CATALOG_H

#include "postgres.h"

typedef struct BillyWriteOp
{
	char		operation[NAMEDATALEN]; /* the key */
	char	   *resource;		/* Billy's plural, NULL: the organization */
	char	   *subjects;		/* a jsonb path {a,b} in the body, or NULL */
} BillyWriteOp;

/*
 * billy_write_op finds an operation's row, NULL when the catalog has none.
 * Rows are kept per backend and forgotten when the table changes (read as
 * the extension owner); needs a transaction.
 */
extern BillyWriteOp *billy_write_op(const char *operation);

#endif							/* BILLY_WRITE_CATALOG_H */
