/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The background worker's job interface.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_WORKER_H
#define BILLY_WORKER_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* a job as the worker claimed it from billy.jobs */
typedef struct BillyJob
{
	int64		id;
	char	   *kind;
	char	   *organization_id;	/* NULL for jobs of no organization */
	char	   *args;			/* jsonb as text */
	int			attempts;		/* this one included */
	int			max_attempts;
	char	   *result;			/* jsonb text a handler may set */
	TimestampTz postpone_until; /* set by a handler: run again then, uncounted */
} BillyJob;

/*
 * A handler runs inside a transaction with an active snapshot.  It may
 * commit what it has done so far and go on in a fresh transaction with
 * billy_job_commit_and_continue (a sync commits each page).  Raising an
 * error fails the job; the worker survives.
 */
typedef void (*BillyJobHandler) (BillyJob *job);

extern void billy_job_commit_and_continue(void);
extern void billy_job_abort_and_continue(void);
extern bool billy_in_worker(void);

#endif							/* BILLY_WORKER_H */
