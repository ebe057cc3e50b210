/*-------------------------------------------------------------------------
 *
 * billy.h
 *	  Declarations shared by billy's C files: the small helpers every
 *	  concern uses (extension.c).
 *
 * Vocabulary, used the same way in every file:
 *
 *	an organization is one Billy company (one access token, one id);
 *	a credential is an organization's encrypted access token;
 *	a job is a row of billy.jobs that the background worker runs;
 *	a request is one HTTP exchange with Billy's API (http.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_H
#define BILLY_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

#include "compat.h"

#define BILLY_VERSION "0.2.0"
#define BILLY_USER_AGENT "billy/" BILLY_VERSION " (PostgreSQL extension)"

/*
 * Settings live with the concern they tune (billy.http_timeout_ms in http.c,
 * billy.sync_page_size in sync.c, ...), each declared in its own header;
 * billy.c defines them all at load through the module table (module.h).
 */

/* true when loaded through shared_preload_libraries (extension.c) */
extern bool billy_preloaded;

/* true once the shared memory of every module is set up (extension.c) */
extern bool billy_shmem_ready;

/* extension.c */
extern void billy_require_preload(void);
extern Oid	billy_extension_owner(void);

/*
 * BillyOwner remembers what billy_become_owner changed: the user and
 * security context, and the GUC nesting level of the pinned search_path.
 */
typedef struct BillyOwner
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			guc_nest_level;
} BillyOwner;

extern void billy_become_owner(BillyOwner *owner);
extern void billy_end_owner(BillyOwner *owner);

#endif							/* BILLY_H */
