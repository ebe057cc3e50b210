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

#include "worker.h"

extern void billy_bulk_import_job(BillyJob *job);

#endif							/* BILLY_BULK_H */
