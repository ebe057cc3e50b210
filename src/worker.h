/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The background worker: its entry point and registration.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_WORKER_H
#define BILLY_WORKER_H

#include "postgres.h"

extern int	billy_worker_naptime_ms;

PGDLLEXPORT void billy_worker_main(Datum main_arg);
extern void billy_register_worker(void);

extern const struct BillyModule billy_worker_module;

#endif							/* BILLY_WORKER_H */
