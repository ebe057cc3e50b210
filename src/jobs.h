/*-------------------------------------------------------------------------
 *
 * jobs.h
 *	  The job queue (billy.jobs) as every concern sees it: what a job is,
 *	  how a handler commits its progress, how the worker is woken.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_JOBS_H
#define BILLY_JOBS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

#include "budget.h"

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

/* a kind of job, as a module declares it (module.h) */
typedef struct BillyJobKind
{
	const char *name;			/* billy.jobs.kind */
	BillyJobHandler handler;
	BillyShare	share;			/* whose API budget its GETs spend (budget.c) */
} BillyJobKind;

/*
 * BillyWorkerState is what the background worker publishes about itself in
 * shared memory (jobs.c owns it, tranche "billy jobs").  Writers (the
 * worker) hold the lock exclusively; readers (billy.worker_status, the
 * wake-up) share it.  The latch is the worker's own PGPROC latch, so any
 * backend can wake it.
 */
typedef struct BillyWorkerState
{
	LWLock	   *lock;
	pid_t		pid;			/* 0 when no worker runs */
	Latch	   *latch;
	TimestampTz started_at;
	TimestampTz last_wakeup;
	TimestampTz last_job_finished_at;
	int64		starts;			/* how often the worker has started */
	int64		jobs_done;
	int64		jobs_failed;
	int64		current_job_id; /* 0 when idle */
	char		state[64];		/* "idle", "running job", ... */
	bool		missing_database_reported;	/* billy.database_name absent,
											 * said once */
} BillyWorkerState;

extern BillyWorkerState *billy_worker_state;
extern char *billy_database_name;

/* handlers */
extern void billy_job_commit_and_continue(void);
extern void billy_job_abort_and_continue(void);
extern bool billy_in_worker(void);

/* queuing: wake the worker */
extern void billy_wake_worker_at_commit(void);
extern void billy_wake_worker(void);
extern void billy_warn_if_unserved(const char *action);

/* the worker's side of the queue (worker.c) */
extern void billy_jobs_enter_worker(void);
extern void billy_job_begin_xact(void);
extern void billy_job_commit_xact(void);
extern bool billy_have_function(const char *signature);
extern bool billy_jobs_extension_ready(void);
extern void billy_jobs_recover_crashed(void);
extern BillyJob *billy_jobs_claim(MemoryContext mcxt);
extern void billy_jobs_finish(BillyJob *job);
extern void billy_jobs_postpone(BillyJob *job);
extern void billy_jobs_record_failure(BillyJob *job, ErrorData *edata);
extern void billy_jobs_fail(BillyJob *job, ErrorData *edata);
extern long billy_jobs_next_due_ms(long wait);

extern const struct BillyModule billy_jobs_module;

#endif							/* BILLY_JOBS_H */
