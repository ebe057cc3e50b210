/*
 * faults.h - faults injected on demand through the control API: latency,
 * error statuses, connection resets, truncated or invalid bodies, slow
 * bodies, revoked tokens and dropped connections after a write.
 */
#ifndef SANDBOX_FAULTS_H
#define SANDBOX_FAULTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "json.h"

typedef enum FaultKind
{
	FK_NONE = -1,
	FK_LATENCY,
	FK_STATUS,
	FK_RESET,
	FK_TRUNCATE,
	FK_INVALID_JSON,
	FK_SLOW_BODY,
	FK_REVOKE_TOKEN,
	FK_DROP_AFTER_WRITE,
	FK__COUNT
} FaultKind;

/* what the faults decided for one request */
typedef struct FaultPlan
{
	int64_t		latency_ms;
	int			shape;			/* FK_STATUS .. FK_DROP_AFTER_WRITE, or
								 * FK_NONE */
	int			status;
	int			retry_after;	/* -1: no Retry-After header */
	int64_t		after_bytes;
	int64_t		bytes_per_sec;
	bool		revoked;
} FaultPlan;

bool		faults_active(void);
void		faults_decide(const char *method, const char *path, const char *org_id, FaultPlan *plan);
bool		faults_add(json_t *obj, Buf *added, char *err, size_t errlen);
void		faults_list(Buf *b);
void		faults_clear(void);
void		faults_seed(uint64_t seed);

#endif
