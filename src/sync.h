/*-------------------------------------------------------------------------
 *
 * sync.h
 *	  The sync: billy.sync_now, the worker's sync jobs and hot scans.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_SYNC_H
#define BILLY_SYNC_H

#include "postgres.h"

#include "mirror/mirror.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "jobs.h"

extern void billy_sync_job(BillyJob *job);

/* settings (sync.c) */
extern int	billy_hot_sync_interval;
extern int	billy_changes_retention_days;

extern const struct BillyModule billy_sync_module;


#endif							/* BILLY_SYNC_H */
