/*-------------------------------------------------------------------------
 *
 * writes.h
 *	  Sending writes to Billy through the outbox (billy.write_ops).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_WRITES_H
#define BILLY_WRITES_H

#include "postgres.h"

#include "jobs.h"

/* one planned write of a batch (imports) */
typedef struct BillyWriteItem
{
	char	   *plan;			/* billy._plan_write's JSON, as text */
	int			line;			/* the CSV line, or 0 */
	int64		op_id;			/* set when recorded */
} BillyWriteItem;

extern void billy_writes_send_batch(const char *org, BillyWriteItem *items, int n,
									int concurrency, int64 bulk_job_id,
									const char *actor, const char *session,
									const char *client);
extern void billy_reconcile_write_job(BillyJob *job);
extern void billy_writes_housekeeping(void);

/* settings (writes/outbox.c) */
extern bool billy_enable_writes;
extern int	billy_reconcile_delay_ms;

extern const struct BillyModule billy_writes_module;

#endif							/* BILLY_WRITES_H */
