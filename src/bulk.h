/*-------------------------------------------------------------------------
 *
 * bulk.h
 *	  CSV imports as worker jobs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_BULK_H
#define BILLY_BULK_H

#include "postgres.h"

#include "jobs.h"

extern void billy_bulk_import_job(BillyJob *job);

/* settings (bulk.c) */
extern int	billy_import_rate;
extern int	billy_import_concurrency;

extern const struct BillyModule billy_bulk_module;

#endif							/* BILLY_BULK_H */
