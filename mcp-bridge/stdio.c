/*
 * stdio.c - the stdio transport: one JSON-RPC message per line on stdin,
 * one per line on stdout, nothing else on stdout (stdout is moved to a
 * private descriptor at start; fd 1 then points at stderr, so a stray
 * print can never corrupt the protocol).
 *
 * Messages are answered in order, one query at a time, sent asynchronously
 * so that stdin and the connection are watched together:
 *
 *   stdin line --parse--> -32700 (not JSON, answered here, keeps running)
 *        |                notifications/cancelled: cancel the running query
 *        v                (PQcancel) or drop the queued request; no answer
 *     queue --> PQsendQueryPrepared: select billy.mcp($1::jsonb)
 *                  |   result: write it (NULL: a notification, nothing)
 *                  |   cancelled: nothing
 *                  '-- connection lost: -32603 for that request, reconnect
 *   NOTIFY billy_mcp_tools --> notifications/tools/list_changed (after
 *                              initialize, coalesced)
 *   EOF: finish what was read, exit 0.  SIGTERM, SIGINT: exit 0 at once.
 *
 * Both protocol eras share the process: billy.mcp serves a message with
 * 2026-07-28 _meta statelessly and anything else as the legacy era, so
 * the bridge forwards both alike.  Only initialize (legacy) turns on
 * list_changed: the modern era delivers it on subscriptions/listen, which
 * billy does not offer.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/uio.h>

#include "bridge.h"

#define MAX_LINE (64 * 1024 * 1024)

typedef struct Pending
{
	char	   *text;
	size_t		len;
	json_t	   *json;			/* owns id */
	json_t	   *id;
	char	   *method;
	struct Pending *next;
} Pending;

static int	proto_fd = -1;
static volatile sig_atomic_t stop_requested = 0;

static Pending *queue_head,
		   *queue_tail;
static Pending *inflight;
static bool inflight_cancelled;
static bool cancel_sent;
static bool initialized;
static bool list_changed_due;

static void
on_signal(int sig)
{
	(void) sig;
	stop_requested = 1;
}

/*
 * write_line writes one protocol line, all of it, the text and its newline
 * in one writev: a reader waiting for the end of the line wakes once, not
 * once for the text and again for the newline.  A closed stdout ends the
 * bridge.
 */
static void
write_line(const char *line)
{
	struct iovec iov[2] = {{(void *) line, strlen(line)}, {"\n", 1}};
	struct iovec *v = iov;
	int			nv = 2;

	while (nv > 0)
	{
		ssize_t		w = writev(proto_fd, v, nv);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
		{
			bridge_log("stdout is closed; exiting");
			exit(EXIT_OK);
		}
		/* a short write (a signal came): go on from where it stopped */
		while (nv > 0 && (size_t) w >= v->iov_len)
		{
			w -= v->iov_len;
			v++;
			nv--;
		}
		if (nv > 0)
		{
			v->iov_base = (char *) v->iov_base + w;
			v->iov_len -= w;
		}
	}
}

static void
free_pending(Pending *p)
{
	if (p == NULL)
		return;
	free(p->text);
	free(p->method);
	json_decref(p->json);
	free(p);
}

static PGconn *
reconnect(const BridgeConfig *cfg, PGconn *old)
{
	char	   *error = NULL;
	PGconn	   *conn;

	PQfinish(old);
	for (int attempt = 0; attempt < 5; attempt++)
	{
		conn = bridge_connect(cfg, true, &error);
		if (conn)
		{
			bridge_log("reconnected to PostgreSQL");
			return conn;
		}
		bridge_log("cannot reconnect to PostgreSQL: %s", error ? error : "?");
		free(error);
		error = NULL;
		if (stop_requested)
			break;
		usleep(100000 << attempt);
	}
	return NULL;
}

/* handle_line routes one line from stdin */
static void
handle_line(char *line, size_t len)
{
	Message		m;
	char		error[512];
	Pending    *p;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = '\0';
	if (len == 0)
		return;

	if (!bridge_parse(line, len, &m, error, sizeof error))
	{
		char	   *answer = bridge_error_json(NULL, -32700, error);

		write_line(answer);
		free(answer);
		return;
	}

	if (m.is_object && !m.has_id && m.method && strcmp(m.method, "notifications/cancelled") == 0)
	{
		json_t	   *params = json_object_get(m.json, "params");
		json_t	   *rid = params ? json_object_get(params, "requestId") : NULL;

		if (rid)
		{
			if (inflight && inflight->id && json_equal(inflight->id, rid) &&
				!(inflight->method && strcmp(inflight->method, "initialize") == 0))
				inflight_cancelled = true;	/* the caller sends the cancel */
			for (Pending **pp = &queue_head; *pp;)
			{
				if ((*pp)->id && json_equal((*pp)->id, rid))
				{
					Pending    *gone = *pp;

					*pp = gone->next;
					free_pending(gone);
				}
				else
					pp = &(*pp)->next;
			}
			queue_tail = queue_head;
			while (queue_tail && queue_tail->next)
				queue_tail = queue_tail->next;
		}
		json_decref(m.json);
		return;
	}

	p = calloc(1, sizeof *p);
	p->text = strndup(line, len);
	p->len = len;
	p->json = m.json;
	p->id = m.id;
	p->method = m.method ? strdup(m.method) : NULL;
	if (queue_tail)
		queue_tail->next = p;
	else
		queue_head = p;
	queue_tail = p;
}

/* finish_inflight answers the request in flight from its result */
static PGconn *
finish_inflight(const BridgeConfig *cfg, PGconn *conn, PGresult *res)
{
	char	   *answer = NULL;
	bool		lost = false;

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) && !inflight_cancelled)
			write_line(PQgetvalue(res, 0, 0));
		/* the legacy handshake; an initialize with 2026-07-28 _meta is -32601 */
		if (inflight->method && strcmp(inflight->method, "initialize") == 0 &&
			!bridge_is_modern(inflight->json))
			initialized = true;
	}
	else
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (!(inflight_cancelled && state && strcmp(state, "57014") == 0))
		{
			answer = bridge_failure_json(conn, res, inflight->id, &lost);
			if (!inflight_cancelled || lost)
				write_line(answer);
			free(answer);
		}
	}
	if (lost)
		conn = reconnect(cfg, conn);
	return conn;
}

static void
drain_notifies(PGconn *conn)
{
	PGnotify   *n;

	while ((n = PQnotifies(conn)) != NULL)
	{
		if (strcmp(n->relname, BRIDGE_CHANNEL) == 0)
			list_changed_due = true;
		PQfreemem(n);
	}
}

int
bridge_run_stdio(const BridgeConfig *cfg)
{
	char	   *error = NULL;
	PGconn	   *conn;
	char	   *buf = NULL;
	size_t		buflen = 0,
				bufcap = 0;
	bool		eof = false;
	bool		discarding = false;
	struct sigaction sa;

	/* stdout carries the protocol only: keep it private, point fd 1 at stderr */
	proto_fd = dup(STDOUT_FILENO);
	if (proto_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
	{
		perror(BRIDGE_NAME ": dup");
		return EXIT_USAGE;
	}

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	conn = bridge_connect(cfg, true, &error);
	if (conn == NULL)
	{
		bridge_log("cannot connect to PostgreSQL: %s", error ? error : "?");
		free(error);
		return EXIT_NOCONNECT;
	}
	if (!bridge_check_billy(conn, &error))
	{
		bridge_log("%s", error);
		free(error);
		PQfinish(conn);
		return EXIT_NOBILLY;
	}
	if (bridge_verbose)
		bridge_log("serving MCP on stdio (database %s, role %s)", PQdb(conn), PQuser(conn));

	while (!stop_requested)
	{
		struct pollfd fds[2];
		int			nfds = 0;
		int			pgi = -1;

		/* send the next request when nothing runs */
		if (inflight == NULL && queue_head)
		{
			inflight = queue_head;
			queue_head = inflight->next;
			if (queue_head == NULL)
				queue_tail = NULL;
			inflight_cancelled = false;
			cancel_sent = false;
			if (conn == NULL)
				conn = reconnect(cfg, NULL);
			if (conn == NULL ||
				!PQsendQueryPrepared(conn, BRIDGE_STATEMENT, 1,
									 (const char *const *) &inflight->text, NULL, NULL, 0))
			{
				char	   *answer = bridge_error_json(inflight->id, -32603,
													   "internal error: PostgreSQL is unreachable; the bridge keeps trying to reconnect");

				if (conn)
					bridge_log("cannot send to PostgreSQL: %s", PQerrorMessage(conn));
				write_line(answer);
				free(answer);
				free_pending(inflight);
				inflight = NULL;
				if (conn && PQstatus(conn) != CONNECTION_OK)
				{
					PQfinish(conn);
					conn = NULL;
				}
				continue;
			}
		}

		if (list_changed_due && initialized && inflight == NULL)
		{
			write_line("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}");
			list_changed_due = false;
		}

		if (eof && inflight == NULL && queue_head == NULL)
			break;

		if (!eof)
		{
			fds[nfds].fd = STDIN_FILENO;
			fds[nfds].events = POLLIN;
			nfds++;
		}
		if (conn)
		{
			pgi = nfds;
			fds[nfds].fd = PQsocket(conn);
			fds[nfds].events = POLLIN;
			nfds++;
		}
		if (nfds == 0)
		{
			usleep(100000);
			conn = reconnect(cfg, NULL);
			continue;
		}
		if (poll(fds, nfds, conn ? -1 : 1000) < 0)
		{
			if (errno == EINTR)
				continue;
			bridge_log("poll: %s", strerror(errno));
			break;
		}

		/* stdin: complete lines */
		if (!eof && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
		{
			ssize_t		r;

			if (bufcap - buflen < 65536)
			{
				bufcap = bufcap ? bufcap * 2 : 131072;
				buf = realloc(buf, bufcap);
			}
			r = read(STDIN_FILENO, buf + buflen, bufcap - buflen - 1);
			if (r < 0 && errno != EINTR && errno != EAGAIN)
				eof = true;
			else if (r == 0)
				eof = true;
			else if (r > 0)
			{
				size_t		start = 0;

				buflen += r;
				for (size_t i = buflen - r; i < buflen; i++)
				{
					if (buf[i] != '\n')
						continue;
					buf[i] = '\0';
					if (discarding)
						discarding = false;
					else
						handle_line(buf + start, i - start);
					start = i + 1;
				}
				memmove(buf, buf + start, buflen - start);
				buflen -= start;
				if (buflen > MAX_LINE)
				{
					char	   *answer = bridge_error_json(NULL, -32600, "invalid request: message larger than 64 MiB");

					write_line(answer);
					free(answer);
					buflen = 0;
					discarding = true;
				}
			}
			if (eof && buflen > 0 && !discarding)
			{
				buf[buflen] = '\0';
				handle_line(buf, buflen);	/* a last line without \n */
				buflen = 0;
			}
		}

		/* a cancel asked for on stdin */
		if (inflight && inflight_cancelled && !cancel_sent && conn)
		{
			PGcancel   *c = PQgetCancel(conn);
			char		err[256];

			if (c && !PQcancel(c, err, sizeof err))
				bridge_log("cannot cancel the running query: %s", err);
			PQfreeCancel(c);
			cancel_sent = true;
		}

		/* PostgreSQL: results and notifications */
		if (conn && pgi >= 0 && (fds[pgi].revents & (POLLIN | POLLHUP | POLLERR)))
		{
			if (!PQconsumeInput(conn))
			{
				bridge_log("lost the connection to PostgreSQL: %s", PQerrorMessage(conn));
				if (inflight)
				{
					char	   *answer = bridge_error_json(inflight->id, -32603,
														   "internal error: the connection to PostgreSQL was lost; the bridge reconnects, send the request again");

					if (!inflight_cancelled)
						write_line(answer);
					free(answer);
					free_pending(inflight);
					inflight = NULL;
				}
				conn = reconnect(cfg, conn);
				continue;
			}
			drain_notifies(conn);
			while (inflight && !PQisBusy(conn))
			{
				PGresult   *res = PQgetResult(conn);

				if (res == NULL)
				{
					free_pending(inflight);
					inflight = NULL;
					break;
				}
				conn = finish_inflight(cfg, conn, res);
				PQclear(res);
				if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
				{
					free_pending(inflight);
					inflight = NULL;
					break;
				}
			}
			if (conn)
				drain_notifies(conn);
		}
	}

	if (inflight && conn && stop_requested)
	{
		PGcancel   *c = PQgetCancel(conn);
		char		err[256];

		if (c)
			PQcancel(c, err, sizeof err);
		PQfreeCancel(c);
	}
	PQfinish(conn);
	free(buf);
	return EXIT_OK;
}
