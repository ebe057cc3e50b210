/*-------------------------------------------------------------------------
 *
 * mirror/mirror_internal.h
 *	  What store.c, refresh.c and scan.c share: the mirror's hashes, a scan
 *	  in progress.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_MIRROR_INTERNAL_H
#define BILLY_MIRROR_INTERNAL_H

#include "postgres.h"

#include "utils/hsearch.h"

#include "mirror/mirror.h"
#include "pagescan.h"
#include "resources.h"

/* what the mirror holds for one record of the resource being scanned */
typedef struct KnownEntry
{
	char		id[BILLY_MAX_ID];	/* hash key */
	uint8		hash[BILLY_HASH_BYTES];
	bool		stored;			/* in the mirror (or written by this scan) */
	bool		seen;			/* found by this scan */
	int			pending_page;	/* the page whose batch holds it, or 0 */
	int			pending_index;
} KnownEntry;

typedef struct SyncScan
{
	const BillyResource *res;
	const char *org;
	const char *resource;		/* the name asked for ("organization" too) */
	const char *base_url;
	const char *token;
	bool		hot;
	bool		verbose;		/* NOTICE progress (inline) */
	BillyCommitMode commit;
	int64		job_id;
	int64		run_id;
	HTAB	   *known;
	MemoryContext cxt;			/* lives as long as the scan */
	MemoryContext page_cxt;		/* reset for every page */
	int			progress;
	int			pages_done;
	int			page_count;
	int			requests;
	int64		bytes;
	int64		rows_seen;
	int64		inserted;
	int64		updated;
	int64		deleted;
	int64		verified;
	int64		leftover;		/* deletion candidates not verified */
	int64		failed;			/* records the mirror refused (store.c) */
	bool		complete;
	bool		api_failure;	/* the failure, if any, was Billy's */
	const char *cause;			/* its short cause, when known */
	bool		locked;
	/* pages asked (mirror_scan_next): the next, the first count, in flight */
	int			next_page;
	int			first_batch;
	int			in_flight;

	/*
	 * a resource listed per parent (res->scope_param): its values, the one
	 * being scanned, and the pages before it (page numbers stay unique); the
	 * next value's index, the scope's next page to ask
	 */
	char	  **scopes;
	int			nscopes;
	const char *scope;
	int			page_base;
	int			scope_pages;
	int			scope_i;
	int			scope_next;
	/* the page being processed */
	int			batch_page;
	/* rows written since the statistics were refreshed, and when to again */
	int64		written_since_analyze;
	int64		analyze_after;
} SyncScan;

/* what a page's request carries (req->arg) */
typedef struct ScanPage
{
	SyncScan   *scan;
	int			page;
} ScanPage;

/* rows a scan writes before the statistics are refreshed, at least (store.c) */
#define SYNC_ANALYZE_MIN 1000

/* store.c */
extern void mirror_load_known(SyncScan *scan);
extern void mirror_apply_records(const BillyResource *res, const char *org, int64 run_id, BillyRecord **recs, int n, TimestampTz asked, int64 *inserted, int64 *updated);
extern void mirror_notify_changes(const BillyResource *res, const char *org, int64 run_id, int64 inserted, int64 updated, int64 deleted);
extern void mirror_refresh_statistics(SyncScan *scan);
extern void mirror_process_records(SyncScan *scan, BillyPage *page, int page_no, TimestampTz asked);
extern Datum mirror_ids_array(char **ids, int n);
extern HTAB *mirror_load_hashes(const BillyResource *res, const char *org, Datum ids, long nids, MemoryContext mcxt);
extern void mirror_confirm_records(const BillyResource *res, const char *org, Datum ids, TimestampTz at);

/* scan.c: a scan's steps, for billy_sync_one and group.c */
extern SyncScan *mirror_scan_new(const char *org, const char *resource, bool hot, BillyCommitMode commit, int64 job_id, bool verbose);
extern void mirror_scan_open(SyncScan *scan);
extern BillyHttpRequest *mirror_scan_next(SyncScan *scan);
extern void mirror_scan_page_done(BillyHttpRequest *req, void *arg);
extern void mirror_scan_free_request(BillyHttpRequest *req);
extern bool mirror_scan_listed(SyncScan *scan);
extern int	mirror_scan_missing(SyncScan *scan);
extern void mirror_scan_close(SyncScan *scan);
extern void mirror_scan_fail(SyncScan *scan, ErrorData *edata);
extern void mirror_scan_end(SyncScan *scan, BillySyncResult *result);

/* refresh.c */
extern void mirror_fail_request(SyncScan *scan, BillyHttpRequest *req);

#endif							/* BILLY_MIRROR_INTERNAL_H */
