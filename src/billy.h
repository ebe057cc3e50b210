/*-------------------------------------------------------------------------
 *
 * billy.h
 *	  Declarations shared by billy's C files: settings, shared memory,
 *	  and the small helpers every concern uses.
 *
 * Vocabulary, used the same way in every file:
 *
 *	an organization is one Billy company (one access token, one id);
 *	a credential is an organization's encrypted access token;
 *	a job is a row of billy.jobs that the background worker runs;
 *	a request is one HTTP exchange with Billy's API (http.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_H
#define BILLY_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

#include "compat.h"

#define BILLY_VERSION "0.2.0"
#define BILLY_USER_AGENT "billy/" BILLY_VERSION " (PostgreSQL extension)"

/* settings (billy.c) */
extern char *billy_api_url;
extern int	billy_http_timeout_ms;
extern int	billy_connect_timeout_ms;
extern int	billy_max_response_bytes;
extern int	billy_max_retries;
extern int	billy_max_retry_wait_ms;
extern char *billy_database_name;
extern char *billy_key_file;
extern char *billy_old_key_file;
extern char *billy_token_store;
extern int	billy_worker_naptime_ms;
extern int	billy_sync_concurrency;
extern int	billy_sync_page_size;
extern int	billy_sync_verify_limit;
extern int	billy_hot_sync_interval;
extern int	billy_changes_retention_days;
extern int	billy_breaker_failures;
extern int	billy_breaker_cooldown_ms;
extern int	billy_max_organizations;
extern char *billy_jwt_roles;

/* visibility.c: row-level security's rule for one organization, cached */
extern bool billy_org_visible(const char *org);
extern int	billy_read_through_timeout_ms;
extern bool billy_read_confirm;
extern int	billy_api_budget_per_minute;
extern int	billy_cache_flush_interval_ms;
extern int	billy_cache_max_entries;
extern bool billy_enable_writes;
extern int	billy_reconcile_delay_ms;
extern int	billy_import_rate;
extern int	billy_import_concurrency;

/* true when loaded through shared_preload_libraries */
extern bool billy_preloaded;

/*
 * BillyWorkerState is what the background worker publishes about itself in
 * shared memory.  Writers hold the lock exclusively; readers share it.  The
 * latch pointer is the worker's own PGPROC latch, so any backend can wake it.
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
	pg_atomic_uint64 grants_generation; /* bumped when grants change (visibility.c) */
	pg_atomic_uint32 audit_queued;	/* audit entries wait to be chained (audit.c) */
	bool		missing_database_reported;	/* billy.database_name absent, said once */
} BillyWorkerState;

extern BillyWorkerState *billy_worker_state;

/* billy.c */
extern void billy_require_preload(void);
/* worker.c */
extern void billy_warn_if_unserved(const char *action);
extern Oid	billy_extension_owner(void);
/*
 * BillyOwner remembers what billy_become_owner changed: the user and
 * security context, and the GUC nesting level of the pinned search_path.
 */
typedef struct BillyOwner
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			guc_nest_level;
} BillyOwner;

extern void billy_become_owner(BillyOwner *owner);
extern void billy_end_owner(BillyOwner *owner);
extern const char *billy_effective_api_url(const char *url);

/* worker.c */
PGDLLEXPORT void billy_worker_main(Datum main_arg);
extern void billy_register_worker(void);
extern void billy_wake_worker_at_commit(void);
extern void billy_wake_worker(void);


#endif							/* BILLY_H */
