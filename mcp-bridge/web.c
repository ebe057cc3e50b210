/*
 * web.c - what the HTTP transport serves besides MCP: the dashboard and its
 * live event stream.
 *
 *   GET /          the dashboard: one self-contained HTML page, exactly the
 *                  text of billy's MCP App resource ui://billy/dashboard
 *                  (billy._mcp_resource_text), so the browser and an AI
 *                  chat's host show the same app.  No token: the page holds
 *                  no data; every figure it shows comes from /mcp, which
 *                  needs the token.
 *   GET /events    Server-Sent Events (token required): one "ready" event,
 *                  then a "change" event for every NOTIFY on billy_changes
 *                  (what a sync or a write changed: organization, resource,
 *                  counts) of an organization the bridge's role may see
 *                  (NOTIFY itself knows no row-level security), and a
 *                  comment every 15 s so a closed page is noticed.  The
 *                  page re-reads what changed.
 *
 * One thread LISTENs on its own PostgreSQL connection and keeps the last
 * EVENT_RING notifications; a stream that has nothing to send is suspended
 * (libmicrohttpd) and resumed when there is.  A client that falls more than
 * EVENT_RING behind gets a "reset" event (re-read everything).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "web.h"

#define EVENT_RING 256
#define KEEPALIVE_SECONDS 15
#define APP_URI "ui://billy/dashboard"

typedef struct Stream
{
	struct MHD_Connection *conn;
	uint64_t	next;			/* the next event's sequence number */
	bool		ready_sent;
	bool		suspended;
	unsigned	keepalive;		/* the keepalive round last sent */
	struct Stream *prev,
			   *nextp;
} Stream;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *ring[EVENT_RING];
static uint64_t next_seq = 1;	/* the sequence number the next event gets */
static unsigned keepalive_round = 0;
static Stream *streams = NULL;
static bool closing = false;
static pthread_t listener;
static bool listener_started = false;
static const BridgeConfig *config;

/* ------------------------------------------------------------ the page */

enum MHD_Result
web_serve_app(struct MHD_Connection *c, PGconn *conn, bool head)
{
	const char *params[1] = {APP_URI};
	PGresult   *res;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (conn == NULL)
		return web_respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "PostgreSQL is unreachable\n");
	res = PQexecParams(conn, "SELECT billy._mcp_resource_text($1)", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
	{
		char		msg[1200];

		snprintf(msg, sizeof msg, "the dashboard is not available: %s\n",
				 PQresultStatus(res) == PGRES_TUPLES_OK ? "billy has no " APP_URI : PQresultErrorMessage(res));
		PQclear(res);
		return web_respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", msg);
	}
	if (head)
		r = MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
	else
		r = MHD_create_response_from_buffer(PQgetlength(res, 0, 0), PQgetvalue(res, 0, 0), MHD_RESPMEM_MUST_COPY);
	PQclear(res);
	MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	/* everything is inline; the page talks only to this origin */
	MHD_add_response_header(r, "Content-Security-Policy",
							"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
							"img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* ------------------------------------------------------------ the stream */

/* resume every suspended stream; the caller holds the lock */
static void
wake_all(void)
{
	for (Stream *s = streams; s; s = s->nextp)
		if (s->suspended)
		{
			s->suspended = false;
			MHD_resume_connection(s->conn);
		}
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	Stream	   *s = cls;
	size_t		n = 0;

	(void) pos;
	pthread_mutex_lock(&lock);
	if (closing)
	{
		pthread_mutex_unlock(&lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (!s->ready_sent)
	{
		n = snprintf(buf, max, "retry: 3000\nevent: ready\ndata: {}\n\n");
		s->ready_sent = true;
	}
	else if (next_seq - s->next > EVENT_RING)
	{
		n = snprintf(buf, max, "event: reset\ndata: {}\n\n");
		s->next = next_seq;
	}
	else
	{
		while (s->next < next_seq)
		{
			const char *text = ring[s->next % EVENT_RING];
			size_t		len = strlen(text) + 32;

			if (n + len > max)
				break;
			n += snprintf(buf + n, max - n, "event: change\ndata: %s\n\n", text);
			s->next++;
		}
		if (n == 0 && s->keepalive != keepalive_round)
			n = snprintf(buf, max, ": keepalive\n\n");
		s->keepalive = keepalive_round;
	}
	if (n == 0)
	{
		s->suspended = true;
		MHD_suspend_connection(s->conn);
	}
	pthread_mutex_unlock(&lock);
	return (ssize_t) n;
}

static void
stream_free(void *cls)
{
	Stream	   *s = cls;

	pthread_mutex_lock(&lock);
	if (s->prev)
		s->prev->nextp = s->nextp;
	else
		streams = s->nextp;
	if (s->nextp)
		s->nextp->prev = s->prev;
	pthread_mutex_unlock(&lock);
	free(s);
}

enum MHD_Result
web_serve_events(struct MHD_Connection *c)
{
	Stream	   *s = calloc(1, sizeof *s);
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (s == NULL)
		return MHD_NO;
	s->conn = c;
	pthread_mutex_lock(&lock);
	if (!listener_started)
	{
		pthread_mutex_unlock(&lock);
		free(s);
		return web_respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "the event stream is not running\n");
	}
	s->next = next_seq;
	s->keepalive = keepalive_round;
	s->nextp = streams;
	if (streams)
		streams->prev = s;
	streams = s;
	pthread_mutex_unlock(&lock);

	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
	MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* ------------------------------------------------------------ LISTEN */

static void
add_event(const char *payload)
{
	pthread_mutex_lock(&lock);
	free(ring[next_seq % EVENT_RING]);
	ring[next_seq % EVENT_RING] = strdup(payload);
	next_seq++;
	wake_all();
	pthread_mutex_unlock(&lock);
}

static PGconn *
listen_connect(void)
{
	char	   *error = NULL;
	PGconn	   *conn = bridge_connect(config, false, &error);
	PGresult   *res;

	if (conn == NULL)
	{
		bridge_log("events: cannot connect to PostgreSQL: %s", error ? error : "?");
		free(error);
		return NULL;
	}
	res = PQexec(conn, "LISTEN " WEB_CHANNEL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		bridge_log("events: LISTEN " WEB_CHANNEL " failed: %s", PQresultErrorMessage(res));
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

/*
 * event_visible says whether the bridge's role may see the organization a
 * notification names.  NOTIFY knows no row-level security: every role that
 * LISTENs gets every organization's changes (ids, resources, counts), so the
 * stream forwards only those of organizations the role sees (the same
 * billy.organizations its /mcp calls read), and those naming none.  A
 * payload that is not JSON, or a check that fails, is not forwarded.
 */
static bool
event_visible(PGconn *conn, const char *payload)
{
	const char *values[1] = {payload};
	PGresult   *res = PQexecParams(conn,
								   "SELECT ($1::pg_catalog.jsonb ->> 'organization_id') IS NULL "
								   "OR EXISTS (SELECT 1 FROM billy.organizations o "
								   "WHERE o.id OPERATOR(pg_catalog.=) ($1::pg_catalog.jsonb ->> 'organization_id'))",
								   1, NULL, values, NULL, NULL, 0);
	bool		visible = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	strcmp(PQgetvalue(res, 0, 0), "t") == 0;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		bridge_log("events: a notification was not forwarded: %s", PQresultErrorMessage(res));
	PQclear(res);
	return visible;
}

static void *
listen_main(void *arg)
{
	PGconn	   *conn = arg;
	time_t		last_keepalive = time(NULL);

	for (;;)
	{
		fd_set		fds;
		struct timeval tv = {1, 0};
		int			sock;
		PGnotify   *n;

		pthread_mutex_lock(&lock);
		if (closing)
		{
			pthread_mutex_unlock(&lock);
			break;
		}
		if (time(NULL) - last_keepalive >= KEEPALIVE_SECONDS)
		{
			keepalive_round++;
			last_keepalive = time(NULL);
			wake_all();
		}
		pthread_mutex_unlock(&lock);

		if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		{
			/*
			 * notifications sent while away are lost: tell the pages to
			 * re-read
			 */
			PQfinish(conn);
			conn = listen_connect();
			if (conn == NULL)
			{
				sleep(2);
				continue;
			}
			add_event("{\"resource\":null,\"reconnected\":true}");
		}
		sock = PQsocket(conn);
		FD_ZERO(&fds);
		FD_SET(sock, &fds);
		if (select(sock + 1, &fds, NULL, NULL, &tv) < 0 && errno != EINTR)
			continue;
		if (!PQconsumeInput(conn))
		{
			bridge_log("events: lost the LISTEN connection: %s", PQerrorMessage(conn));
			PQfinish(conn);
			conn = NULL;
			continue;
		}
		while ((n = PQnotifies(conn)) != NULL)
		{
			const char *payload = n->extra && *n->extra ? n->extra : "{}";

			if (event_visible(conn, payload))
				add_event(payload);
			PQfreemem(n);
		}
	}
	PQfinish(conn);
	return NULL;
}

bool
web_start(const BridgeConfig *cfg)
{
	PGconn	   *conn;

	config = cfg;
	conn = listen_connect();
	if (conn == NULL)
		return false;
	if (pthread_create(&listener, NULL, listen_main, conn) != 0)
	{
		PQfinish(conn);
		return false;
	}
	pthread_mutex_lock(&lock);
	listener_started = true;
	pthread_mutex_unlock(&lock);
	return true;
}

/* web_stop ends every stream (before MHD_stop_daemon: no stream may stay suspended) */
void
web_stop(void)
{
	pthread_mutex_lock(&lock);
	closing = true;
	wake_all();
	pthread_mutex_unlock(&lock);
}

/* web_join waits for the LISTEN thread and frees the ring (after MHD_stop_daemon) */
void
web_join(void)
{
	if (listener_started)
		pthread_join(listener, NULL);
	listener_started = false;
	for (int i = 0; i < EVENT_RING; i++)
	{
		free(ring[i]);
		ring[i] = NULL;
	}
}
