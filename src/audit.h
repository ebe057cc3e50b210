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

/*
 * The most an entry keeps: billy.audit() refuses longer values; an MCP call's
 * entry is cut to fit (texts end in "...", a request becomes its length and
 * SHA-256).  Characters, except the request: bytes of its JSON text after
 * redaction.
 */
#define BILLY_AUDIT_MAX_ACTION	100
#define BILLY_AUDIT_MAX_TARGET	500
#define BILLY_AUDIT_MAX_OUTCOME	2000
#define BILLY_AUDIT_MAX_CLIENT	200
#define BILLY_AUDIT_MAX_REQUEST	16384

extern Jsonb *billy_redact_jsonb(Jsonb *in);

/*
 * billy_audit_queue records an entry for the worker to chain.  aggregate:
 * a successful read, chained as one entry per minute, role, action,
 * organization, target and outcome with the number of calls (its request is
 * not kept); everything else is chained as it is.
 */
extern void billy_audit_queue(const char *action, const char *org, const char *target,
							  Jsonb *request, const char *outcome, const char *client,
							  bool aggregate);

extern const struct BillyModule billy_audit_module;

#endif							/* BILLY_AUDIT_H */
