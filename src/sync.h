/*-------------------------------------------------------------------------
 *
 * sync.h
 *	  The sync engine.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_SYNC_H
#define BILLY_SYNC_H

#include "postgres.h"

#include "worker.h"

/* who commits a scan's pages */
typedef enum BillyCommitMode
{
	BILLY_COMMIT_NONE,			/* the caller's transaction (billy.sync_now) */
	BILLY_COMMIT_WORKER			/* each page on its own (the worker) */
} BillyCommitMode;

typedef struct BillySyncResult
{
	int64		run_id;
	int			pages;
	int64		bytes;
	int64		rows_seen;
	int64		inserted;
	int64		updated;
	int64		deleted;
} BillySyncResult;

extern void billy_sync_one(const char *org, const char *resource, bool hot,
						   BillyCommitMode commit, int64 job_id, bool verbose,
						   BillySyncResult *result);
extern void billy_sync_job(BillyJob *job);
extern bool billy_sync_resource(const char *name, const char **singular,
								const char **apply, const char **include);

#endif							/* BILLY_SYNC_H */
