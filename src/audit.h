/*-------------------------------------------------------------------------
 *
 * audit.h
 *	  The append-only, hash-chained audit trail.
 *
 *-------------------------------------------------------------------------
 */
#ifndef BILLY_AUDIT_H
#define BILLY_AUDIT_H

#include "postgres.h"

#include "utils/jsonb.h"

/*
 * billy_audit_record appends one entry (as the extension owner).  actor and
 * session are role names; NULL means the current ones.  client NULL means
 * application_name and the client address.  request is JSON text or NULL.
 */
extern int64 billy_audit_record(const char *action, const char *org, const char *target,
								const char *request, const char *outcome,
								const char *actor, const char *session, const char *client);

extern Jsonb *billy_redact_jsonb(Jsonb *in);
extern void billy_audit_queue(const char *action, const char *org, const char *target,
							  Jsonb *request, const char *outcome, const char *client);

#endif							/* BILLY_AUDIT_H */
