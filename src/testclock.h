/*-------------------------------------------------------------------------
 *
 * testclock.h
 *	  The clock ages and rates are measured by: the wall clock, unless a
 *	  test made it run faster (billy._set_clock_rate, superusers only).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_TESTCLOCK_H
#define BILLY_TESTCLOCK_H

#include "postgres.h"

#include "datatype/timestamp.h"

extern Size billy_testclock_shmem_size(void);
extern void billy_testclock_shmem_init(void);

extern TimestampTz billy_cache_clock_now(void);
extern int64 billy_cache_age_us(TimestampTz ts);
extern double billy_cache_rate(void);

#endif							/* BILLY_TESTCLOCK_H */
