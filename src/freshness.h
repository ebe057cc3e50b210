/*-------------------------------------------------------------------------
 *
 * freshness.h
 *	  Freshness windows: a record's class and how long it counts as fresh.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_FRESHNESS_H
#define BILLY_FRESHNESS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

extern int64 billy_cache_window_us(const char *state, TimestampTz changed_at);
extern const char *billy_cache_record_state(const char *resource, Jsonb *raw);

#endif							/* BILLY_FRESHNESS_H */
