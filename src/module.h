/*-------------------------------------------------------------------------
 *
 * module.h
 *	  What a concern tells billy.c, the composition root, about itself.
 *
 * Each concern that has settings, shared memory, job kinds or periodic
 * work exports one BillyModule (billy_<concern>_module, declared in its
 * own header).  billy.c lists them in billy_modules[]: _PG_init defines
 * every module's settings, the shared-memory hooks reserve and set up
 * every module's memory with an LWLock tranche of its own ("billy
 * <name>"), and the worker looks job kinds and periodic steps up in the
 * same table.  Nothing below billy.c and worker.c needs to know the
 * others' modules: a new concern adds its module to the table and is done.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_MODULE_H
#define BILLY_MODULE_H

#include "postgres.h"

#include "storage/lwlock.h"

#include "jobs.h"

/*
 * BillyPeriodic is work the worker does between jobs.  It runs inside a
 * transaction with an active snapshot (the worker opens and commits it),
 * isolated like a job: an ERROR is logged and the worker carries on.
 *
 *	interval_ms		how often it runs; 0 or less: not now (a setting off)
 *	soon_ms			when it is wanted() or asked to come back (run
 *					returned true), it runs again once this much has
 *					passed, not a whole interval (0: only on interval)
 *	bounds_sleep	the worker wakes for it; otherwise it runs when the
 *					worker happens to be awake and its interval is over
 *	after_jobs		it also gets a chance after every job
 *	wanted			another process asked for it (may be NULL)
 *	run				does the work; returns true to come back soon
 */
typedef struct BillyPeriodic
{
	const char *name;			/* in the log when it fails */
	long		(*interval_ms) (void);
	long		soon_ms;
	bool		bounds_sleep;
	bool		after_jobs;
	bool		(*wanted) (void);
	bool		(*run) (void);
} BillyPeriodic;

/*
 * BillyModule: a concern as the composition root sees it.  Every member
 * may be NULL (or 0) when the concern has no such thing.
 *
 *	define_settings	defines its GUCs (billy.*); runs in _PG_init, preloaded
 *					or not; settings read only at start are defined only
 *					when process_shared_preload_libraries_in_progress
 *	shmem_size		bytes it needs in shared memory (preloaded only)
 *	lwlocks			LWLocks it needs, in a tranche named "billy <name>"
 *	shmem_init		sets its memory up in shmem_startup_hook, under
 *					AddinShmemInitLock; locks is its tranche (NULL with 0)
 *	jobs			its job kinds, ended by an entry whose name is NULL
 *	periodic		its periodic steps, ended by an entry whose name is NULL
 */
typedef struct BillyModule
{
	const char *name;
	void		(*define_settings) (void);
	Size		(*shmem_size) (void);
	int			lwlocks;
	void		(*shmem_init) (LWLockPadded *locks);
	const BillyJobKind *jobs;
	const BillyPeriodic *periodic;
} BillyModule;

/* billy.c: every module, in the order they are set up */
extern const BillyModule *const billy_modules[];
extern const int billy_nmodules;

#endif							/* BILLY_MODULE_H */
