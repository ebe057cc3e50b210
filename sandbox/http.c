/*
 * http.c - the HTTP layer: libmicrohttpd with an internal thread pool and
 * epoll, keep-alive, request bodies collected in memory, requests routed
 * to the API (/v2) or the control API (/_sandbox/), faults applied to
 * what goes on the wire, and request statistics.
 *
 * Delays never block a pool thread: a latency fault suspends the
 * connection and a timer thread resumes it when the delay is over; a slow
 * body returns nothing and suspends until the next bytes are due.  All
 * suspended connections are resumed before the daemon stops.
 */
#include "http.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "faults.h"
#include "request.h"
#include "stats.h"

#define MAX_BODY (64 * 1024 * 1024)

typedef struct Conn
{
	struct MHD_Connection *conn;
	char		method[16];
	char	   *path;
	Buf			body;
	bool		too_large;
	bool		planned;		/* the whole request is in: faults decided */
	bool		responded;		/* respond() ran */
	FaultPlan	plan;
} Conn;

/* what a callback response sends: a whole body cut (reset) or paced (slow) */
typedef struct Wire
{
	struct MHD_Connection *conn;
	char	   *data;
	size_t		len;
	int64_t		limit;			/* reset: drop the connection after this many
								 * bytes */
	int64_t		bps;			/* slow_body: bytes per second */
	double		t0;
} Wire;

static struct MHD_Daemon *daemon_;

/* ------------------------------------------------------------ timer */

typedef struct Sleeper
{
	double		when;
	struct MHD_Connection *conn;
} Sleeper;

static pthread_mutex_t timer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_cond;
static Sleeper *sleepers;
static int	n_sleepers,
			cap_sleepers;
static bool timer_stop;
static pthread_t timer_thread;

/*
 * suspend_until suspends the connection (from its own handler or content
 * reader) and has the timer resume it at 'when'.  Returns false, without
 * suspending, once shutdown has begun.
 */
static bool
suspend_until(struct MHD_Connection *conn, double when)
{
	pthread_mutex_lock(&timer_lock);
	if (timer_stop)
	{
		pthread_mutex_unlock(&timer_lock);
		return false;
	}
	MHD_suspend_connection(conn);
	if (n_sleepers == cap_sleepers)
	{
		cap_sleepers = cap_sleepers ? cap_sleepers * 2 : 64;
		sleepers = xrealloc(sleepers, sizeof(Sleeper) * (size_t) cap_sleepers);
	}
	sleepers[n_sleepers].when = when;
	sleepers[n_sleepers].conn = conn;
	n_sleepers++;
	pthread_cond_signal(&timer_cond);
	pthread_mutex_unlock(&timer_lock);
	return true;
}

/* timer_main resumes suspended connections when their time comes */
static void *
timer_main(void *arg)
{
	(void) arg;
	pthread_mutex_lock(&timer_lock);
	for (;;)
	{
		double		now = mono_now(),
					next = -1;

		for (int i = 0; i < n_sleepers; i++)
		{
			if (timer_stop || sleepers[i].when <= now)
			{
				MHD_resume_connection(sleepers[i].conn);
				sleepers[i] = sleepers[--n_sleepers];
				i--;
			}
			else if (next < 0 || sleepers[i].when < next)
				next = sleepers[i].when;
		}
		if (timer_stop)
			break;
		if (next < 0)
			pthread_cond_wait(&timer_cond, &timer_lock);
		else
		{
			struct timespec ts;
			double		w = next;

			ts.tv_sec = (time_t) w;
			ts.tv_nsec = (long) ((w - (double) ts.tv_sec) * 1e9);
			pthread_cond_timedwait(&timer_cond, &timer_lock, &ts);
		}
	}
	pthread_mutex_unlock(&timer_lock);
	return NULL;
}

/* ------------------------------------------------------------ responses */

/* wire_reader feeds a reset (cut) or slow (paced) body to libmicrohttpd */
static ssize_t
wire_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	Wire	   *w = cls;
	size_t		n;

	if (pos >= w->len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = Min(max, w->len - (size_t) pos);
	if (w->limit >= 0)
	{
		if ((int64_t) pos >= w->limit)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		n = Min(n, (size_t) (w->limit - (int64_t) pos));
	}
	if (w->bps > 0)
	{
		double		now = mono_now();
		double		allowed = (now - w->t0) * (double) w->bps;
		size_t		chunk = (size_t) Max(1, w->bps / 20);

		if (allowed < (double) (pos + Min(chunk, w->len - (size_t) pos)))
		{
			double		due = w->t0 + (double) (pos + Min(chunk, w->len - (size_t) pos)) / (double) w->bps;

			if (suspend_until(w->conn, due))
				return 0;
			/* shutting down: send the rest at once */
		}
		else
			n = Min(n, (size_t) (allowed - (double) pos));
	}
	memcpy(buf, w->data + pos, n);
	return (ssize_t) n;
}

/* wire_free releases a callback response's body */
static void
wire_free(void *cls)
{
	Wire	   *w = cls;

	free(w->data);
	free(w);
}

/* queue hands a response to libmicrohttpd (a callback response for reset and slow_body) */
static enum MHD_Result
queue(struct MHD_Connection *conn, Response *rs, const FaultPlan *plan)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t		len = rs->body.len;
	char	   *data = buf_steal(&rs->body);

	if (plan && (plan->shape == FK_RESET || plan->shape == FK_SLOW_BODY))
	{
		Wire	   *w = xcalloc(1, sizeof(Wire));

		w->conn = conn;
		w->data = data;
		w->len = len;
		w->limit = plan->shape == FK_RESET ? plan->after_bytes : -1;
		w->bps = plan->shape == FK_SLOW_BODY ? plan->bytes_per_sec : 0;
		w->t0 = mono_now();
		r = MHD_create_response_from_callback(len, 16 * 1024, wire_reader, w, wire_free);
	}
	else
		r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", rs->content_type ? rs->content_type : "application/json; charset=utf-8");
	if (rs->retry_after >= 0)
	{
		char		ra[16];

		snprintf(ra, sizeof(ra), "%d", rs->retry_after);
		MHD_add_response_header(r, "Retry-After", ra);
	}
	ret = MHD_queue_response(conn, (unsigned int) rs->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* ------------------------------------------------------------ requests */

typedef struct ArgVec
{
	Arg		   *v;
	int			n;
	int			cap;
} ArgVec;

/* collect_arg copies one query parameter */
static enum MHD_Result
collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	ArgVec	   *a = cls;

	(void) kind;
	if (a->n == a->cap)
	{
		a->cap = a->cap ? a->cap * 2 : 16;
		a->v = xrealloc(a->v, sizeof(Arg) * (size_t) a->cap);
	}
	a->v[a->n].key = xstrdup(key ? key : "");
	a->v[a->n].value = xstrdup(value ? value : "");
	a->n++;
	return MHD_YES;
}

/* status_code_name: the errorCode of a status fault */
static const char *
status_code_name(int status)
{
	switch (status)
	{
		case 429:
			return "TOO_MANY_REQUESTS";
		case 500:
			return "INTERNAL_SERVER_ERROR";
		case 502:
			return "BAD_GATEWAY";
		case 503:
			return "SERVICE_UNAVAILABLE";
		default:
			return "GATEWAY_TIMEOUT";
	}
}

/* status_message: the errorMessage of a status fault */
static const char *
status_message(int status)
{
	switch (status)
	{
		case 429:
			return "Too many requests. Try again later.";
		case 500:
			return "An internal server error occurred.";
		case 502:
			return "Bad gateway.";
		case 503:
			return "The service is temporarily unavailable.";
		default:
			return "Gateway timeout.";
	}
}

/*
 * respond builds and queues the answer to a complete request, applying the
 * request's fault plan.  Returning MHD_NO closes the connection without a
 * response (drop_after_write).
 */
static enum MHD_Result
respond(Conn *c)
{
	Request		rq = {0};
	Response	rs = {0};
	ArgVec		args = {0};
	bool		control = strncmp(c->path, "/_sandbox/", 10) == 0;
	enum MHD_Result ret;
	size_t		bytes;

	c->responded = true;
	MHD_get_connection_values(c->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &args);
	rq.method = c->method;
	rq.path = c->path;
	rq.args = args.v;
	rq.nargs = args.n;
	rq.token = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "X-Access-Token");
	rq.content_type = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "Content-Type");
	rq.filename = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "X-Filename");
	rq.body = c->body.p;
	rq.body_len = c->body.len;
	rq.body_too_large = c->too_large;
	rq.revoked = c->plan.revoked;
	rs.retry_after = -1;

	if (control)
		control_handle(&rq, &rs);
	else if (c->plan.shape == FK_STATUS)
	{
		resp_error(&rs, c->plan.status, status_code_name(c->plan.status), status_message(c->plan.status));
		rs.retry_after = c->plan.retry_after;
		rs.route = api_route_template(c->method, c->path);
	}
	else
		api_handle(&rq, &rs);

	for (int i = 0; i < args.n; i++)
	{
		free(args.v[i].key);
		free(args.v[i].value);
	}
	free(args.v);

	if (control)
		return queue(c->conn, &rs, NULL);

	bytes = rs.body.len;
	switch (c->plan.shape)
	{
		case FK_DROP_AFTER_WRITE:
			stats_record(c->method, rs.route, 0, 0);
			buf_free(&rs.body);
			return MHD_NO;
		case FK_TRUNCATE:
			if ((int64_t) rs.body.len > c->plan.after_bytes)
				rs.body.len = (size_t) c->plan.after_bytes;
			bytes = rs.body.len;
			break;
		case FK_INVALID_JSON:
			rs.status = 200;
			rs.body.len = 0;
			buf_lit(&rs.body, "<html><head><title>Billy</title></head><body>We are updating Billy. "
					"Please try again in a moment.</body></html>");
			bytes = rs.body.len;
			break;
		case FK_RESET:
			bytes = (size_t) Min((int64_t) bytes, c->plan.after_bytes);
			break;
		default:
			break;
	}
	stats_record(c->method, rs.route, rs.status, bytes);
	ret = queue(c->conn, &rs, &c->plan);
	return ret;
}

/* on_request is libmicrohttpd's access handler: collect the body, decide faults, delay, respond */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
		   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	Conn	   *c = *con_cls;

	(void) cls;
	(void) version;
	if (c == NULL)
	{
		c = xcalloc(1, sizeof(Conn));
		c->conn = conn;
		snprintf(c->method, sizeof(c->method), "%s", method);
		c->path = xstrdup(url);
		*con_cls = c;
		return MHD_YES;
	}
	if (*upload_data_size)
	{
		if (c->body.len + *upload_data_size > MAX_BODY)
			c->too_large = true;
		else
			buf_put(&c->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!c->planned)
	{
		c->planned = true;
		c->plan.shape = FK_NONE;
		c->plan.retry_after = -1;
		if (strncmp(c->path, "/_sandbox/", 10) != 0 && faults_active())
		{
			char		org[ID_LEN + 1];
			const char *token = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Access-Token");

			faults_decide(c->method, c->path, api_org_for_token(token, org), &c->plan);
			if (c->plan.latency_ms > 0 &&
				suspend_until(conn, mono_now() + (double) c->plan.latency_ms / 1000.0))
				return MHD_YES;
		}
	}
	return respond(c);
}

/*
 * finish_abandoned processes a write whose client hung up while a latency
 * fault held it back: Billy, too, finishes a request it has received
 * whether or not anyone waits for the answer.  The answer is thrown away.
 */
static void
finish_abandoned(Conn *c)
{
	Request		rq = {0};
	Response	rs = {0};
	ArgVec		args = {0};

	MHD_get_connection_values(c->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &args);
	rq.method = c->method;
	rq.path = c->path;
	rq.args = args.v;
	rq.nargs = args.n;
	rq.token = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "X-Access-Token");
	rq.body = c->body.p;
	rq.body_len = c->body.len;
	rq.body_too_large = c->too_large;
	rq.revoked = c->plan.revoked;
	rs.retry_after = -1;
	api_handle(&rq, &rs);
	stats_record(c->method, rs.route, 0, 0);
	for (int i = 0; i < args.n; i++)
	{
		free(args.v[i].key);
		free(args.v[i].value);
	}
	free(args.v);
	buf_free(&rs.body);
}

/*
 * on_completed frees a request's state; a write received whole but not
 * answered yet (held back by latency when its client went away) is
 * processed first.
 */
static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	Conn	   *c = *con_cls;

	(void) cls;
	(void) conn;
	if (c == NULL)
		return;
	if (c->planned && !c->responded && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK &&
		toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN && c->plan.shape != FK_STATUS && strncmp(c->path, "/_sandbox/", 10) != 0 &&
		(strcmp(c->method, "POST") == 0 || strcmp(c->method, "PUT") == 0 ||
		 strcmp(c->method, "PATCH") == 0 || strcmp(c->method, "DELETE") == 0))
		finish_abandoned(c);
	free(c->path);
	buf_free(&c->body);
	free(c);
	*con_cls = NULL;
}

/* on_log sends libmicrohttpd's messages to stderr */
static void
on_log(void *cls, const char *fmt, va_list ap)
{
	(void) cls;
	fputs("billy-sandbox: microhttpd: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* http_start starts the timer and the daemon on the listening socket */
bool
http_start(int listen_fd, int threads)
{
	pthread_condattr_t ca;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	MHD_USE_ERROR_LOG | MHD_USE_TURBO;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&timer_cond, &ca);
	pthread_condattr_destroy(&ca);
	timer_stop = false;
	if (pthread_create(&timer_thread, NULL, timer_main, NULL) != 0)
		return false;
	daemon_ = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
							   MHD_OPTION_EXTERNAL_LOGGER, on_log, NULL,
							   MHD_OPTION_LISTEN_SOCKET, listen_fd,
							   MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) (threads > 1 ? threads : 0),
							   MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
							   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 300,
							   MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 4000,
							   MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (128 * 1024),
							   MHD_OPTION_END);
	return daemon_ != NULL;
}

/*
 * http_stop resumes every suspended connection (the daemon must not stop
 * with any suspended), then stops the daemon and the timer.
 */
void
http_stop(void)
{
	pthread_mutex_lock(&timer_lock);
	timer_stop = true;
	pthread_cond_signal(&timer_cond);
	pthread_mutex_unlock(&timer_lock);
	pthread_join(timer_thread, NULL);
	if (daemon_)
	{
		MHD_stop_daemon(daemon_);
		daemon_ = NULL;
	}
	free(sleepers);
	sleepers = NULL;
	n_sleepers = cap_sleepers = 0;
}
