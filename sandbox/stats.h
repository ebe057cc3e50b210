/*
 * stats.h - request counters by method, route template and status, with
 * response body bytes, for GET /_sandbox/stats.
 */
#ifndef SANDBOX_STATS_H
#define SANDBOX_STATS_H

#include <stddef.h>

#include "json.h"

void		stats_record(const char *method, const char *route, int status, size_t bytes);
void		stats_render(Buf *b);
void		stats_clear(void);

#endif
