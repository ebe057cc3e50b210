/*
 * stats.c - request counters.  Route templates are static strings, so a
 * counter is found by pointer; the table is small (routes x methods x
 * statuses seen) and guarded by one mutex held for a few instructions.
 */
#include "stats.h"

#include <pthread.h>
#include <string.h>

#include "util.h"

typedef struct Counter
{
	char		method[8];
	const char *route;
	int			status;
	long long	count;
	long long	bytes;
} Counter;

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static Counter *counters;
static int	n_counters,
			cap_counters;

/* stats_record counts one answered request */
void
stats_record(const char *method, const char *route, int status, size_t bytes)
{
	pthread_mutex_lock(&stats_lock);
	for (int i = 0; i < n_counters; i++)
	{
		Counter    *c = &counters[i];

		if (c->route == route && c->status == status && strcmp(c->method, method) == 0)
		{
			c->count++;
			c->bytes += (long long) bytes;
			pthread_mutex_unlock(&stats_lock);
			return;
		}
	}
	if (n_counters == cap_counters)
	{
		cap_counters = cap_counters ? cap_counters * 2 : 64;
		counters = xrealloc(counters, sizeof(Counter) * (size_t) cap_counters);
	}
	memset(&counters[n_counters], 0, sizeof(Counter));
	strncpy(counters[n_counters].method, method, sizeof(counters[n_counters].method) - 1);
	counters[n_counters].route = route;
	counters[n_counters].status = status;
	counters[n_counters].count = 1;
	counters[n_counters].bytes = (long long) bytes;
	n_counters++;
	pthread_mutex_unlock(&stats_lock);
}

/* stats_render writes the counters and their total */
void
stats_render(Buf *b)
{
	long long	tc = 0,
				tb = 0;

	pthread_mutex_lock(&stats_lock);
	buf_lit(b, "{\"requests\":[");
	for (int i = 0; i < n_counters; i++)
	{
		Counter    *c = &counters[i];

		if (i)
			buf_putc(b, ',');
		buf_lit(b, "{\"method\":");
		json_str(b, c->method);
		buf_lit(b, ",\"path\":");
		json_str(b, c->route);
		buf_printf(b, ",\"status\":%d,\"count\":%lld,\"bytes\":%lld}", c->status, c->count, c->bytes);
		tc += c->count;
		tb += c->bytes;
	}
	buf_printf(b, "],\"total\":{\"count\":%lld,\"bytes\":%lld}}", tc, tb);
	pthread_mutex_unlock(&stats_lock);
}

/* stats_clear zeroes the counters */
void
stats_clear(void)
{
	pthread_mutex_lock(&stats_lock);
	n_counters = 0;
	pthread_mutex_unlock(&stats_lock);
}
