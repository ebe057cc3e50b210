/*-------------------------------------------------------------------------
 *
 * breaker.h
 *	  Per-organization circuit breakers and sync progress, in shared memory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_BREAKER_H
#define BILLY_BREAKER_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* settings (breaker.c) */
extern int	billy_breaker_failures;
extern int	billy_breaker_cooldown_ms;

extern const struct BillyModule billy_breaker_module;

extern bool billy_breaker_allows(const char *org, TimestampTz *retry_at);
extern void billy_breaker_record(const char *org, bool success);
extern bool billy_breaker_is_open(const char *org, TimestampTz *retry_at);

extern int	billy_progress_begin(const char *org, const char *resource, const char *mode);
extern void billy_progress_update(int slot, const char *phase, int pages_done,
								  int pages_total, int64 rows_seen,
								  int64 rows_written, int64 bytes);
extern void billy_progress_end(int slot);

#endif							/* BILLY_BREAKER_H */
