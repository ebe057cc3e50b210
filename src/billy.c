/*-------------------------------------------------------------------------
 *
 * billy.c
 *	  The composition root: the module table, and what _PG_init and the
 *	  shared-memory hooks do with it.
 *
 * Every concern that has settings, shared memory, job kinds or periodic
 * work exports a BillyModule (module.h) from its own file.  This file lists
 * them once, in billy_modules[]; at load it defines every module's settings
 * and reserves the "billy." prefix, and when preloaded it reserves every
 * module's shared memory with an LWLock tranche of its own ("billy
 * <name>"), sets libcurl up and registers the worker.  The worker (worker.c)
 * reads the same table for job kinds and periodic steps.  So the concerns
 * never reach up to one another for a setting or a piece of shared memory:
 * the arrows point down from here.
 *
 * The order of the table is the order of the layers, bottom first
 * (src/README.md): a module's settings exist before those of the modules
 * that use them.
 *
 *-------------------------------------------------------------------------
 */
#include "billy.h"

#include <curl/curl.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "audit.h"
#include "breaker.h"
#include "budget.h"
#include "bulk.h"
#include "cache.h"
#include "clock.h"
#include "http.h"
#include "jobs.h"
#include "mcp/mcp.h"
#include "mirror/mirror.h"
#include "module.h"
#include "organizations.h"
#include "sync.h"
#include "visibility.h"
#include "worker.h"
#include "writes/writes.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* the modules, bottom layer first */
const BillyModule *const billy_modules[] = {
	&billy_clock_module,
	&billy_budget_module,
	&billy_http_module,
	&billy_visibility_module,
	&billy_jobs_module,
	&billy_organizations_module,
	&billy_breaker_module,
	&billy_mirror_module,
	&billy_sync_module,
	&billy_cache_module,
	&billy_writes_module,
	&billy_audit_module,
	&billy_bulk_module,
	&billy_mcp_module,
	&billy_worker_module,
};
const int	billy_nmodules = lengthof(billy_modules);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void billy_shmem_request(void);
static void billy_shmem_startup(void);

/*
 * _PG_init defines every module's settings, reserves the "billy." prefix,
 * and, when loaded at server start, asks for shared memory and registers
 * the worker.
 */
void
_PG_init(void)
{
	for (int i = 0; i < billy_nmodules; i++)
		if (billy_modules[i]->define_settings)
			billy_modules[i]->define_settings();

	MarkGUCPrefixReserved("billy");

	if (!process_shared_preload_libraries_in_progress)
		return;

	billy_preloaded = true;

	/*
	 * libcurl's global state (OpenSSL among it) is set up once, before any
	 * child process is forked, as curl requires of multi-process programs.
	 */
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("billy could not initialize libcurl")));

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = billy_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = billy_shmem_startup;

	billy_register_worker();
}

/* tranche_name: "billy <module>", kept for the server's lifetime */
static const char *
tranche_name(const BillyModule *m)
{
	return psprintf("billy %s", m->name);
}

/*
 * billy_shmem_request reserves every module's memory and its LWLocks
 * (PostgreSQL 15's shmem_request_hook, the pattern pg_stat_statements
 * follows).
 */
static void
billy_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	for (int i = 0; i < billy_nmodules; i++)
	{
		const BillyModule *m = billy_modules[i];

		if (m->shmem_size)
			RequestAddinShmemSpace(m->shmem_size());
		if (m->lwlocks > 0)
			RequestNamedLWLockTranche(tranche_name(m), m->lwlocks);
	}
}

/*
 * billy_shmem_forget runs when the postmaster lets go of shared memory (at
 * shutdown, and before a crash restart creates it anew).
 */
static void
billy_shmem_forget(int code, Datum arg)
{
	billy_shmem_ready = false;
}

/* billy_shmem_startup sets every module's memory up, in table order */
static void
billy_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	for (int i = 0; i < billy_nmodules; i++)
	{
		const BillyModule *m = billy_modules[i];

		if (m->shmem_init)
			m->shmem_init(m->lwlocks > 0 ? GetNamedLWLockTranche(tranche_name(m)) : NULL);
	}
	LWLockRelease(AddinShmemInitLock);
	billy_shmem_ready = true;
	on_shmem_exit(billy_shmem_forget, (Datum) 0);
}
