/*-------------------------------------------------------------------------
 *
 * clock.h
 *	  The cache's clock: the wall clock, or for benchmarks a faster one.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_CLOCK_H
#define BILLY_CLOCK_H

#include "postgres.h"

#include "datatype/timestamp.h"

extern TimestampTz billy_cache_clock_now(void);
extern int64 billy_cache_age_us(TimestampTz ts);
extern double billy_cache_rate(void);
extern void billy_clock_set_rate(double rate);

extern const struct BillyModule billy_clock_module;

#endif							/* BILLY_CLOCK_H */
