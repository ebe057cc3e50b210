/*
 * faults.c - the fault registry.  A fault has a kind, its parameters and
 * selectors (path prefix, method, organization), skip (let the first N
 * matching requests through), count (apply to the next K; absent = until
 * cleared) and probability.  For each /v2 request, faults are evaluated
 * in the order they were added: every matching latency fault adds its
 * delay, a matching revoke_token fault revokes the token, and the first
 * matching fault that shapes the response (status, reset, truncate,
 * invalid_json, slow_body, drop_after_write) wins; later shaping faults
 * are not consumed.  skip and count only move when a fault is reached.
 */
#include "faults.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rng.h"
#include "store.h"

typedef struct Fault
{
	int			id;
	FaultKind	kind;
	char		path[256];
	char		method[16];
	char		org[ID_LEN + 1];
	int64_t		skip;
	int64_t		count;			/* -1: until cleared */
	double		probability;
	int64_t		ms;
	int64_t		jitter_ms;
	int			status;
	int			retry_after;
	int64_t		after_bytes;
	int64_t		bytes_per_sec;
	int64_t		applied;
} Fault;

static const char *const kind_names[FK__COUNT] = {
	"latency", "status", "reset", "truncate", "invalid_json", "slow_body", "revoke_token", "drop_after_write"
};

static pthread_mutex_t faults_lock = PTHREAD_MUTEX_INITIALIZER;
static Fault *faults;
static int	n_faults,
			cap_faults,
			next_id = 1;
static _Atomic int active_count;
static Rng	fault_rng;

/* faults_seed seeds the generator behind fault probabilities */
void
faults_seed(uint64_t seed)
{
	pthread_mutex_lock(&faults_lock);
	rng_seed(&fault_rng, seed, 9000);
	pthread_mutex_unlock(&faults_lock);
}

/* faults_active is a cheap check that lets requests skip the registry */
bool
faults_active(void)
{
	return atomic_load(&active_count) > 0;
}

/* remove_at removes a spent fault (caller holds faults_lock) */
static void
remove_at(int i)
{
	memmove(&faults[i], &faults[i + 1], sizeof(Fault) * (size_t) (n_faults - i - 1));
	n_faults--;
	atomic_store(&active_count, n_faults);
}

/* is_write: the methods drop_after_write applies to */
static bool
is_write(const char *m)
{
	return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0 ||
		strcmp(m, "DELETE") == 0;
}

/* faults_decide fills plan for one request (see the file header) */
void
faults_decide(const char *method, const char *path, const char *org_id, FaultPlan *plan)
{
	memset(plan, 0, sizeof(*plan));
	plan->shape = FK_NONE;
	plan->retry_after = -1;
	if (!faults_active())
		return;
	pthread_mutex_lock(&faults_lock);
	for (int i = 0; i < n_faults; i++)
	{
		Fault	   *f = &faults[i];
		bool		shaping = f->kind != FK_LATENCY && f->kind != FK_REVOKE_TOKEN;

		if (f->path[0] && strncmp(path, f->path, strlen(f->path)) != 0)
			continue;
		if (f->method[0] && strcasecmp(method, f->method) != 0)
			continue;
		if (f->org[0] && (org_id == NULL || strcmp(org_id, f->org) != 0))
			continue;
		if (f->kind == FK_DROP_AFTER_WRITE && !is_write(method))
			continue;
		if (shaping && plan->shape != FK_NONE)
			continue;
		if (f->skip > 0)
		{
			f->skip--;
			continue;
		}
		if (f->probability < 1.0 && rng_double(&fault_rng) >= f->probability)
			continue;
		switch (f->kind)
		{
			case FK_LATENCY:
				plan->latency_ms += f->ms + (f->jitter_ms > 0 ? (int64_t) rng_below(&fault_rng, (uint64_t) f->jitter_ms + 1) : 0);
				break;
			case FK_REVOKE_TOKEN:
				plan->revoked = true;
				break;
			default:
				plan->shape = f->kind;
				plan->status = f->status;
				plan->retry_after = f->retry_after;
				plan->after_bytes = f->after_bytes;
				plan->bytes_per_sec = f->bytes_per_sec;
		}
		f->applied++;
		if (f->count > 0 && --f->count == 0)
		{
			remove_at(i);
			i--;
		}
	}
	pthread_mutex_unlock(&faults_lock);
}

/* get_i64 reads an optional integer field of a fault within bounds */
static bool
get_i64(json_t *obj, const char *name, int64_t *out, int64_t lo, int64_t hi, char *err, size_t errlen)
{
	json_t	   *j = json_object_get(obj, name);

	if (j == NULL || json_is_null(j))
		return true;
	if (!json_is_integer(j) || json_integer_value(j) < lo || json_integer_value(j) > hi)
	{
		snprintf(err, errlen, "%s must be a whole number from %lld to %lld", name, (long long) lo, (long long) hi);
		return false;
	}
	*out = json_integer_value(j);
	return true;
}

/* get_s reads an optional string field of a fault */
static bool
get_s(json_t *obj, const char *name, char *out, size_t outsz, char *err, size_t errlen)
{
	json_t	   *j = json_object_get(obj, name);

	if (j == NULL || json_is_null(j))
		return true;
	if (!json_is_string(j) || strlen(json_string_value(j)) >= outsz)
	{
		snprintf(err, errlen, "%s must be a string (at most %zu characters)", name, outsz - 1);
		return false;
	}
	snprintf(out, outsz, "%s", json_string_value(j));
	return true;
}

/* render_fault writes one fault as JSON */
static void
render_fault(Buf *b, const Fault *f)
{
	buf_printf(b, "{\"id\":%d,\"kind\":\"%s\",\"path\":", f->id, kind_names[f->kind]);
	json_str(b, f->path[0] ? f->path : NULL);
	buf_lit(b, ",\"method\":");
	json_str(b, f->method[0] ? f->method : NULL);
	buf_lit(b, ",\"org\":");
	json_str(b, f->org[0] ? f->org : NULL);
	buf_printf(b, ",\"skip\":%lld,\"remaining\":", (long long) f->skip);
	if (f->count < 0)
		buf_lit(b, "null");
	else
		json_int(b, f->count);
	buf_printf(b, ",\"probability\":%g,\"applied\":%lld", f->probability, (long long) f->applied);
	switch (f->kind)
	{
		case FK_LATENCY:
			buf_printf(b, ",\"ms\":%lld,\"jitter_ms\":%lld", (long long) f->ms, (long long) f->jitter_ms);
			break;
		case FK_STATUS:
			buf_printf(b, ",\"status\":%d,\"retry_after\":", f->status);
			if (f->retry_after < 0)
				buf_lit(b, "null");
			else
				json_int(b, f->retry_after);
			break;
		case FK_RESET:
		case FK_TRUNCATE:
			buf_printf(b, ",\"after_bytes\":%lld", (long long) f->after_bytes);
			break;
		case FK_SLOW_BODY:
			buf_printf(b, ",\"bytes_per_sec\":%lld", (long long) f->bytes_per_sec);
			break;
		default:
			break;
	}
	buf_putc(b, '}');
}

/*
 * faults_add validates one fault object and appends it; on success the
 * fault is rendered into 'added'.  With added NULL it only validates.
 * Returns false with a message in err.
 */
bool
faults_add(json_t *obj, Buf *added, char *err, size_t errlen)
{
	Fault		f;
	json_t	   *k = json_object_get(obj, "kind");
	json_t	   *p;
	int64_t		status = 0,
				ra = -1,
				count = -1;

	memset(&f, 0, sizeof(f));
	f.probability = 1.0;
	f.count = -1;
	f.retry_after = -1;
	f.kind = FK_NONE;
	if (!json_is_object(obj))
	{
		snprintf(err, errlen, "a fault must be an object");
		return false;
	}
	if (json_is_string(k))
		for (int i = 0; i < FK__COUNT; i++)
			if (strcmp(json_string_value(k), kind_names[i]) == 0)
				f.kind = (FaultKind) i;
	if (f.kind == FK_NONE)
	{
		snprintf(err, errlen, "kind must be one of latency, status, reset, truncate, invalid_json, "
				 "slow_body, revoke_token, drop_after_write");
		return false;
	}
	if (!get_s(obj, "path", f.path, sizeof(f.path), err, errlen) ||
		!get_s(obj, "method", f.method, sizeof(f.method), err, errlen) ||
		!get_s(obj, "org", f.org, sizeof(f.org), err, errlen) ||
		!get_i64(obj, "skip", &f.skip, 0, INT64_MAX / 2, err, errlen) ||
		!get_i64(obj, "count", &count, 1, INT64_MAX / 2, err, errlen) ||
		!get_i64(obj, "ms", &f.ms, 0, 600000, err, errlen) ||
		!get_i64(obj, "jitter_ms", &f.jitter_ms, 0, 600000, err, errlen) ||
		!get_i64(obj, "status", &status, 0, 599, err, errlen) ||
		!get_i64(obj, "retry_after", &ra, 0, 86400, err, errlen) ||
		!get_i64(obj, "after_bytes", &f.after_bytes, 0, INT64_MAX / 2, err, errlen) ||
		!get_i64(obj, "bytes_per_sec", &f.bytes_per_sec, 1, INT64_MAX / 2, err, errlen))
		return false;
	f.count = count;
	f.status = (int) status;
	f.retry_after = (int) ra;
	if ((p = json_object_get(obj, "probability")) != NULL && !json_is_null(p))
	{
		if (!json_is_number(p) || json_number_value(p) < 0 || json_number_value(p) > 1)
		{
			snprintf(err, errlen, "probability must be a number from 0 to 1");
			return false;
		}
		f.probability = json_number_value(p);
	}
	if (f.kind == FK_STATUS && f.status != 429 && f.status != 500 && f.status != 502 &&
		f.status != 503 && f.status != 504)
	{
		snprintf(err, errlen, "status must be 429, 500, 502, 503 or 504");
		return false;
	}
	if (f.kind == FK_LATENCY && f.ms == 0 && f.jitter_ms == 0)
	{
		snprintf(err, errlen, "latency needs ms and/or jitter_ms");
		return false;
	}
	if (f.kind == FK_SLOW_BODY && f.bytes_per_sec <= 0)
	{
		snprintf(err, errlen, "slow_body needs bytes_per_sec");
		return false;
	}
	if ((f.kind == FK_RESET || f.kind == FK_TRUNCATE) && json_object_get(obj, "after_bytes") == NULL)
	{
		snprintf(err, errlen, "%s needs after_bytes", kind_names[f.kind]);
		return false;
	}
	if (added == NULL)
		return true;			/* validation only */
	pthread_mutex_lock(&faults_lock);
	f.id = next_id++;
	if (n_faults == cap_faults)
	{
		cap_faults = cap_faults ? cap_faults * 2 : 16;
		faults = xrealloc(faults, sizeof(Fault) * (size_t) cap_faults);
	}
	faults[n_faults++] = f;
	atomic_store(&active_count, n_faults);
	render_fault(added, &f);
	pthread_mutex_unlock(&faults_lock);
	return true;
}

/* faults_list writes {"faults":[...]} with the active faults */
void
faults_list(Buf *b)
{
	pthread_mutex_lock(&faults_lock);
	buf_lit(b, "{\"faults\":[");
	for (int i = 0; i < n_faults; i++)
	{
		if (i)
			buf_putc(b, ',');
		render_fault(b, &faults[i]);
	}
	buf_lit(b, "]}");
	pthread_mutex_unlock(&faults_lock);
}

/* faults_clear removes every fault */
void
faults_clear(void)
{
	pthread_mutex_lock(&faults_lock);
	n_faults = 0;
	atomic_store(&active_count, 0);
	pthread_mutex_unlock(&faults_lock);
}
