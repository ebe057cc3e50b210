/*-------------------------------------------------------------------------
 *
 * mirror/mirror.h
 *	  The mirror: storing and refreshing Billy's records in billy's tables
 *	  (store.c), looking records up by id or by a filtered list
 *	  (refresh.c), a paged scan of a resource (scan.c).  What the sync,
 *	  the read path and the writes use.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_MIRROR_H
#define BILLY_MIRROR_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/jsonb.h"

#include "http.h"
#include "resources.h"

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

/* what looking up one record found */
typedef enum BillyRecordOutcome
{
	BILLY_RECORD_FAILED = 0,	/* the request failed: nothing stored */
	BILLY_RECORD_UNCHANGED,		/* found, as the mirror has it */
	BILLY_RECORD_STORED,		/* found, new or changed: stored */
	BILLY_RECORD_GONE			/* Billy answered 404: marked deleted */
} BillyRecordOutcome;

/* a look-up of records one by one (billy_sync_refresh_records) */
typedef struct BillyRefresh
{
	/* what to look up */
	const char *org;
	const char *resource;		/* Billy's plural name, e.g. "invoices" */
	char	  **ids;
	int			nids;
	/* how */
	const char *base_url;		/* with token; NULL: the organization's own */
	const char *token;
	int64		run_id;			/* the sync run the writes belong to, or 0 */
	int			timeout_ms;		/* per request; 0: billy.http_timeout_ms */
	bool		retry;			/* retry transient failures
								 * (billy.max_retries) */
	bool		store;			/* store what was found (false: look only) */
	bool		confirm;		/* set confirmed_at of the unchanged ones */
	bool		keep_json;		/* keep each found record as jsonb */
	/* what happened */
	BillyRecordOutcome *outcomes;	/* one per id */
	Jsonb	  **records;		/* one per id, with keep_json (NULL if not
								 * found) */
	int			requests;		/* attempts, retries included */
	int64		bytes;
	int64		inserted;
	int64		updated;
	int64		deleted;
	int			failed;
	BillyHttpError error;		/* the first failure, when failed > 0 */
} BillyRefresh;

extern void billy_sync_refresh_records(BillyRefresh *r);
extern List *billy_sync_refresh_list(BillyRefresh *r, const char *name, const char *value);
extern bool billy_sync_in_hot_set(const char *resource, bool is_paid_known, bool is_paid);
extern const char *billy_sync_table(const char *resource);
extern const char *billy_sync_singular(const char *resource);

/* one resource of a group scanned together, and its outcome */
typedef struct BillySyncTarget
{
	const char *resource;
	int64		job_id;
	bool		allowed;		/* the breaker already let it through */
	void	   *caller;			/* the caller's */
	/* set as its scan ends */
	ErrorData  *error;			/* NULL: synced */
	TimestampTz postpone_until; /* not 0: the breaker held it back */
	BillySyncResult result;
} BillySyncTarget;

typedef void (*BillySyncTargetDone) (BillySyncTarget *target, void *arg);

extern void billy_sync_group(const char *org, BillySyncTarget *targets, int n, bool hot,
							 BillySyncTargetDone done, void *arg);
extern void billy_sync_one(const char *org, const char *resource, bool hot,
						   BillyCommitMode commit, int64 job_id, bool verbose,
						   BillySyncResult *result);
extern bool billy_sync_resource(const char *name, const char **singular,
								const char **apply, const char **include);
extern bool billy_sync_store_answer(const char *org, const char *resource, const char *text, int len,
									TimestampTz asked);

extern char *billy_sync_page_path(const char *resource, int page);
extern char *billy_record_path(const BillyResource *res, const char *id);
extern char *billy_sync_scoped_path(const char *resource, const char *scope, int page);
extern bool billy_sync_scopes(const char *org, const BillyResource *res, MemoryContext cxt, List **values);

/* settings (refresh.c) */
extern int	billy_sync_concurrency;
extern int	billy_sync_page_size;
extern int	billy_sync_verify_limit;

extern const struct BillyModule billy_mirror_module;

#endif							/* BILLY_MIRROR_H */
