/*
 * http.c - the Streamable HTTP transport, stateless (spec/mcp.md section 2):
 *
 *   POST /mcp     one JSON-RPC object per body: a request gets 200 and one
 *                 application/json response; a notification or a response
 *                 gets 202 and no body; not JSON 400 (-32700); an array or
 *                 another value 400 (-32600); bigger than --max-body 413
 *   GET, DELETE   405 (no server-to-client stream, no sessions)
 *   GET /healthz  200 when PostgreSQL answers, else 503
 *   GET /metrics  billy.metrics() in the Prometheus text format
 *   GET /         the dashboard page (no token: it holds no data), web.c
 *   GET /events   the dashboard's live stream of billy_changes (token), web.c
 *
 * Before anything: the Host header must name this server (DNS rebinding),
 * an Origin header must be allowed (403 otherwise), the bearer token must
 * match when one is configured (401), and an MCP-Protocol-Version header
 * must be one billy speaks (400).  Accept is not checked: clients send
 * either type alone.  No session ids are minted; a stray one is ignored.
 *
 * Both protocol eras are served on /mcp: a 2026-07-28 request (its _meta
 * names the version) also has its Mcp-Method and Mcp-Name headers checked
 * against the body and gets the HTTP status its answer calls for (era.c).
 *
 * libmicrohttpd runs a pool of threads; each request borrows one of a small
 * pool of PostgreSQL connections for its one statement.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "bridge.h"
#include "web.h"

typedef struct Pool
{
	pthread_mutex_t lock;
	pthread_cond_t free_cond;
	PGconn	  **conns;
	bool	   *busy;
	int			size;
} Pool;

typedef struct Upload
{
	char	   *data;
	size_t		len;
	size_t		cap;			/* allocated, counted in buffered_total */
	bool		too_large;		/* over --max-body: 413 */
	bool		too_busy;		/* over --max-buffered for all: 503 */
	size_t		expected;		/* Content-Length, 0 when not sent */
} Upload;

static const BridgeConfig *config;
static Pool pool;
static int	bound_port;
static volatile sig_atomic_t stop_requested = 0;

static void
on_signal(int sig)
{
	(void) sig;
	stop_requested = 1;
}

/* ------------------------------------------------------------ pool */

static int
pool_acquire(void)
{
	int			slot = -1;

	pthread_mutex_lock(&pool.lock);
	while (slot < 0)
	{
		for (int i = 0; i < pool.size; i++)
			if (!pool.busy[i])
			{
				slot = i;
				break;
			}
		if (slot < 0)
			pthread_cond_wait(&pool.free_cond, &pool.lock);
	}
	pool.busy[slot] = true;
	pthread_mutex_unlock(&pool.lock);

	if (pool.conns[slot] == NULL || PQstatus(pool.conns[slot]) != CONNECTION_OK)
	{
		char	   *error = NULL;

		PQfinish(pool.conns[slot]);
		pool.conns[slot] = bridge_connect(config, false, &error);
		if (pool.conns[slot] == NULL)
		{
			bridge_log("cannot connect to PostgreSQL: %s", error ? error : "?");
			free(error);
		}
	}
	return slot;
}

static void
pool_release(int slot)
{
	pthread_mutex_lock(&pool.lock);
	pool.busy[slot] = false;
	pthread_cond_signal(&pool.free_cond);
	pthread_mutex_unlock(&pool.lock);
}

/* ------------------------------------------------------------ responses */

static enum MHD_Result
respond(struct MHD_Connection *c, unsigned int status, const char *type, const char *body)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t		len = body ? strlen(body) : 0;

	r = MHD_create_response_from_buffer(len, (void *) (body ? body : ""), MHD_RESPMEM_MUST_COPY);
	if (type)
		MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "POST");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"" BRIDGE_NAME "\"");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result
web_respond(struct MHD_Connection *c, unsigned int status, const char *type, const char *body)
{
	return respond(c, status, type, body);
}

static enum MHD_Result
respond_rpc_error(struct MHD_Connection *c, unsigned int status, int code, const char *message)
{
	char	   *body = bridge_error_json(NULL, code, message);
	enum MHD_Result ret = respond(c, status, "application/json", body);

	free(body);
	return ret;
}

/* ------------------------------------------------------------ checks */

/*
 * host_allowed: the Host header names this server, strictly: an allowed name
 * (or [IPv6] literal), optionally ":" and this server's port in digits, and
 * nothing else ("127.0.0.1:8765abc" and "[::1]evil:8765" are refused).
 */
static bool
host_allowed(const char *host)
{
	char		name[300];
	const char *rest;
	size_t		n;

	if (host == NULL || host[0] == '\0' || strlen(host) >= sizeof name)
		return false;
	if (host[0] == '[')
	{
		const char *end = strchr(host, ']');

		if (end == NULL)
			return false;
		n = end - host + 1;
	}
	else
		n = strcspn(host, ":");
	memcpy(name, host, n);
	name[n] = '\0';
	rest = host + n;
	if (*rest == ':')
	{
		long		port = 0;

		if (rest[1] == '\0')
			return false;
		for (const char *p = rest + 1; *p; p++)
		{
			if (*p < '0' || *p > '9')
				return false;
			port = port * 10 + (*p - '0');
			if (port > 65535)
				return false;
		}
		if (port != bound_port)
			return false;
	}
	else if (*rest != '\0')
		return false;
	for (int i = 0; i < config->n_allow_hosts; i++)
		if (strcasecmp(name, config->allow_hosts[i]) == 0)
			return true;
	return false;
}

static bool
origin_allowed(const char *origin)
{
	char		own[320];

	for (int i = 0; i < config->n_allow_hosts; i++)
	{
		snprintf(own, sizeof own, "http://%s:%d", config->allow_hosts[i], bound_port);
		if (strcasecmp(origin, own) == 0)
			return true;
	}
	for (int i = 0; i < config->n_allow_origins; i++)
		if (strcasecmp(origin, config->allow_origins[i]) == 0)
			return true;
	return false;
}

/* token_ok compares the bearer token in constant time */
static bool
token_ok(struct MHD_Connection *c)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	const char *given;
	size_t		want_len,
				given_len;
	unsigned char diff = 0;

	if (config->token == NULL)
		return true;
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	given = auth + 7;
	while (*given == ' ')
		given++;
	want_len = strlen(config->token);
	given_len = strlen(given);
	diff = want_len != given_len;
	for (size_t i = 0; i < want_len; i++)
		diff |= (unsigned char) config->token[i] ^ (unsigned char) (i < given_len ? given[i] : 0);
	return diff == 0;
}

/*
 * refused_on_headers checks a request on its headers alone, before any body
 * byte is read or buffered: the Host names this server (DNS rebinding), an
 * Origin is allowed, the bearer token matches when needs_token (and one is
 * configured), and a declared Content-Length fits --max-body.  When one
 * fails it queues the refusal in *ret and returns true: libmicrohttpd then
 * answers and closes the connection without reading the body.  Every path
 * the bridge serves goes through it first.
 */
static bool
refused_on_headers(struct MHD_Connection *c, bool needs_token, bool json_errors, enum MHD_Result *ret)
{
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");

	if (!host_allowed(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host")))
		*ret = respond(c, MHD_HTTP_FORBIDDEN, "text/plain", "forbidden: this Host is not allowed (--allow-host)\n");
	else if (origin && !origin_allowed(origin))
		*ret = respond(c, MHD_HTTP_FORBIDDEN, "text/plain", "forbidden: this Origin is not allowed (--allow-origin)\n");
	else if (needs_token && !token_ok(c))
		*ret = json_errors
			? respond_rpc_error(c, MHD_HTTP_UNAUTHORIZED, -32001, "unauthorized: send Authorization: Bearer <token>")
			: respond(c, MHD_HTTP_UNAUTHORIZED, "text/plain", "a bearer token is required\n");
	else if (length && strtoull(length, NULL, 10) > config->max_body)
		*ret = respond_rpc_error(c, MHD_HTTP_CONTENT_TOO_LARGE, -32600, "invalid request: the body is larger than the bridge accepts (--max-body)");
	else
		return false;
	return true;
}

/* ------------------------------------------------------------ handlers */

static enum MHD_Result
serve_mcp(struct MHD_Connection *c, Upload *u)
{
	Message		m;
	char		error[512];
	int			slot;
	PGconn	   *conn;
	PGresult   *res;
	const char *params[1];
	enum MHD_Result ret;
	const char *version = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "MCP-Protocol-Version");
	bool		modern;
	bool		modern_header;

	if (u->too_large)
		return respond_rpc_error(c, MHD_HTTP_CONTENT_TOO_LARGE, -32600, "invalid request: the body is larger than the bridge accepts (--max-body)");
	if (u->len == 0)
		return respond_rpc_error(c, MHD_HTTP_BAD_REQUEST, -32700, "parse error: the body is empty");
	if (!bridge_parse(u->data, u->len, &m, error, sizeof error))
		return respond_rpc_error(c, MHD_HTTP_BAD_REQUEST, -32700, error);
	if (json_is_array(m.json))
	{
		json_decref(m.json);
		return respond_rpc_error(c, MHD_HTTP_BAD_REQUEST, -32600, "invalid request: batches are not supported; send one JSON-RPC message per request");
	}
	if (!m.is_object)
	{
		json_decref(m.json);
		return respond_rpc_error(c, MHD_HTTP_BAD_REQUEST, -32600, "invalid request: a JSON-RPC message must be an object");
	}

	/*
	 * The era: a message whose _meta names a protocol version is modern, and
	 * billy.mcp judges that version (-32022).  Otherwise the header must name
	 * a version billy speaks.
	 */
	modern = bridge_is_modern(m.json);
	modern_header = version && strcmp(version, BRIDGE_MODERN_VERSION) == 0;
	if (version && !modern && !modern_header && !bridge_supported_version(version))
	{
		json_decref(m.json);
		snprintf(error, sizeof error,
				 "unsupported MCP-Protocol-Version %.40s: billy speaks " BRIDGE_MODERN_VERSION " (with _meta), 2025-11-25, 2025-06-18, 2025-03-26 and 2024-11-05", version);
		return respond_rpc_error(c, MHD_HTTP_BAD_REQUEST, -32600, error);
	}
	if (!m.has_id && (m.method || json_object_get(m.json, "result") || json_object_get(m.json, "error")))
	{
		/* a notification or a response: accepted, nothing to answer */
		json_decref(m.json);
		return respond(c, MHD_HTTP_ACCEPTED, NULL, NULL);
	}
	if (modern)
	{
		char	   *problem = bridge_modern_header_problem(m.json, version,
														   MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Mcp-Method"),
														   MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Mcp-Name"));

		if (problem)
		{
			char	   *body = bridge_error_json(m.id, -32020, problem);

			ret = respond(c, MHD_HTTP_BAD_REQUEST, "application/json", body);
			free(body);
			free(problem);
			json_decref(m.json);
			return ret;
		}
	}
	else if (modern_header)
	{
		int			code;
		const char *problem = bridge_legacy_with_modern_header(m.json, &code);
		char	   *body = bridge_error_json(m.id, code, problem);

		ret = respond(c, MHD_HTTP_BAD_REQUEST, "application/json", body);
		free(body);
		json_decref(m.json);
		return ret;
	}

	slot = pool_acquire();
	conn = pool.conns[slot];
	if (conn == NULL)
	{
		char	   *body = bridge_error_json(m.id, -32603, "internal error: PostgreSQL is unreachable");

		pool_release(slot);
		ret = respond(c, MHD_HTTP_OK, "application/json", body);
		free(body);
		json_decref(m.json);
		return ret;
	}
	params[0] = u->data;
	res = PQexecPrepared(conn, BRIDGE_STATEMENT, 1, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		if (PQgetisnull(res, 0, 0))
			ret = respond(c, MHD_HTTP_ACCEPTED, NULL, NULL);
		else
			ret = respond(c, modern ? bridge_modern_status(PQgetvalue(res, 0, 0)) : MHD_HTTP_OK,
						  "application/json", PQgetvalue(res, 0, 0));
	}
	else
	{
		bool		lost;
		char	   *body = bridge_failure_json(conn, res, m.id, &lost);

		if (lost)
		{
			bridge_log("lost a connection to PostgreSQL; reconnecting");
			PQfinish(conn);
			pool.conns[slot] = NULL;
		}
		ret = respond(c, MHD_HTTP_OK, "application/json", body);
		free(body);
	}
	PQclear(res);
	pool_release(slot);
	json_decref(m.json);
	return ret;
}

static enum MHD_Result
serve_query(struct MHD_Connection *c, const char *sql, const char *type, bool health)
{
	int			slot = pool_acquire();
	PGconn	   *conn = pool.conns[slot];
	PGresult   *res;
	enum MHD_Result ret;

	if (conn == NULL)
	{
		pool_release(slot);
		return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "PostgreSQL is unreachable\n");
	}
	res = PQexec(conn, sql);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		ret = health ? respond(c, MHD_HTTP_OK, "application/json", "{\"status\":\"ok\"}")
			: respond(c, MHD_HTTP_OK, type, PQgetvalue(res, 0, 0));
	else
	{
		char		msg[1024];

		snprintf(msg, sizeof msg, "%s\n", PQresultErrorMessage(res));
		if (PQstatus(conn) != CONNECTION_OK)
		{
			PQfinish(conn);
			pool.conns[slot] = NULL;
		}
		ret = respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", msg);
	}
	PQclear(res);
	pool_release(slot);
	return ret;
}

/* bytes held in request bodies being received, over all connections */
static size_t buffered_total = 0;

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
		   const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	Upload	   *u = *con_cls;
	bool		is_mcp = strcmp(url, "/mcp") == 0;

	(void) cls;
	(void) version;

	if (u == NULL)
	{
		enum MHD_Result ret;

		/* the headers are in: refuse now, before any body byte arrives */
		if (refused_on_headers(c, is_mcp || strcmp(url, "/metrics") == 0 || strcmp(url, "/events") == 0, is_mcp, &ret))
			return ret;
		u = calloc(1, sizeof *u);
		if (u == NULL)
			return MHD_NO;
		{
			const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");

			/* at most max_body: refused_on_headers said so */
			u->expected = length ? strtoull(length, NULL, 10) : 0;
		}
		*con_cls = u;
		return MHD_YES;
	}
	if (*upload_size > 0)
	{
		size_t		cap = config->max_buffered ? config->max_buffered : 4 * config->max_body;

		if (!u->too_large && !u->too_busy)
		{
			if (!is_mcp || u->len + *upload_size > config->max_body)
				u->too_large = true;
			else if (u->len + *upload_size + 1 > u->cap)
			{
				/*
				 * the declared length at once, else doubling, never past
				 * max_body
				 */
				size_t		want = u->expected >= u->len + *upload_size ? u->expected + 1
				: (u->len + *upload_size + 1) * 2;

				want = want > config->max_body + 1 ? config->max_body + 1 : want;
				/* the global cap: all bodies being received at once */
				if (__atomic_add_fetch(&buffered_total, want - u->cap, __ATOMIC_SEQ_CST) > cap)
				{
					__atomic_sub_fetch(&buffered_total, want - u->cap, __ATOMIC_SEQ_CST);
					u->too_busy = true;
				}
				else
				{
					char	   *grown = realloc(u->data, want);

					if (grown == NULL)
					{
						__atomic_sub_fetch(&buffered_total, want - u->cap, __ATOMIC_SEQ_CST);
						u->too_busy = true;
					}
					else
					{
						u->data = grown;
						u->cap = want;
					}
				}
			}
			if (u->too_large || u->too_busy)
			{
				free(u->data);
				__atomic_sub_fetch(&buffered_total, u->cap, __ATOMIC_SEQ_CST);
				u->data = NULL;
				u->len = 0;
				u->cap = 0;
			}
			else
			{
				memcpy(u->data + u->len, upload_data, *upload_size);
				u->len += *upload_size;
				u->data[u->len] = '\0';
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}

	if (u->too_busy)
		return respond_rpc_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, -32603,
								 "the bridge is receiving too many request bodies at once (--max-buffered); send it again in a moment");
	if (strcmp(url, "/healthz") == 0)
	{
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, NULL);
		return serve_query(c, "SELECT 1", NULL, true);
	}
	if (strcmp(url, "/metrics") == 0)
	{
		if (strcmp(method, "GET") != 0)
			return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, NULL);
		return serve_query(c, "SELECT billy.metrics()", "text/plain; version=0.0.4; charset=utf-8", false);
	}
	if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
	{
		enum MHD_Result ret;
		int			slot;

		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, NULL);
		slot = pool_acquire();
		ret = web_serve_app(c, pool.conns[slot], strcmp(method, "HEAD") == 0);
		if (pool.conns[slot] && PQstatus(pool.conns[slot]) != CONNECTION_OK)
		{
			PQfinish(pool.conns[slot]);
			pool.conns[slot] = NULL;	/* the next request reconnects */
		}
		pool_release(slot);
		return ret;
	}
	if (strcmp(url, "/events") == 0)
	{
		/* its token was checked on the headers */
		if (strcmp(method, "GET") != 0)
			return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, NULL);
		return web_serve_events(c);
	}
	if (!is_mcp)
		return respond(c, MHD_HTTP_NOT_FOUND, "text/plain", "not found: MCP is served at /mcp\n");
	if (strcmp(method, "POST") != 0)
		return respond(c, MHD_HTTP_METHOD_NOT_ALLOWED, NULL, NULL);
	return serve_mcp(c, u);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	Upload	   *u = *con_cls;

	(void) cls;
	(void) c;
	(void) toe;
	if (u)
	{
		free(u->data);
		__atomic_sub_fetch(&buffered_total, u->cap, __ATOMIC_SEQ_CST);
		free(u);
		*con_cls = NULL;
	}
}

int
bridge_run_http(const BridgeConfig *cfg)
{
	struct MHD_Daemon *d;
	struct sockaddr_storage addr;
	socklen_t	addrlen;
	char	   *error = NULL;
	const union MHD_DaemonInfo *info;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
	struct sigaction sa;

	config = cfg;
	memset(&addr, 0, sizeof addr);
	if (strchr(cfg->listen_host, ':'))
	{
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *) &addr;

		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(cfg->listen_port);
		if (inet_pton(AF_INET6, cfg->listen_host, &a6->sin6_addr) != 1)
		{
			bridge_log("not an IPv6 address: %s", cfg->listen_host);
			return EXIT_USAGE;
		}
		addrlen = sizeof *a6;
		flags |= MHD_USE_IPv6;
	}
	else
	{
		struct sockaddr_in *a4 = (struct sockaddr_in *) &addr;

		a4->sin_family = AF_INET;
		a4->sin_port = htons(cfg->listen_port);
		if (inet_pton(AF_INET, cfg->listen_host, &a4->sin_addr) != 1)
		{
			bridge_log("not an IPv4 address: %s", cfg->listen_host);
			return EXIT_USAGE;
		}
		addrlen = sizeof *a4;
	}
	(void) addrlen;

	/* the pool: every connection up front, so a wrong setting fails now */
	pthread_mutex_init(&pool.lock, NULL);
	pthread_cond_init(&pool.free_cond, NULL);
	pool.size = cfg->pool_size;
	pool.conns = calloc(pool.size, sizeof(PGconn *));
	pool.busy = calloc(pool.size, sizeof(bool));
	for (int i = 0; i < pool.size; i++)
	{
		pool.conns[i] = bridge_connect(cfg, false, &error);
		if (pool.conns[i] == NULL)
		{
			bridge_log("cannot connect to PostgreSQL: %s", error ? error : "?");
			free(error);
			return EXIT_NOCONNECT;
		}
	}
	if (!bridge_check_billy(pool.conns[0], &error))
	{
		bridge_log("%s", error);
		free(error);
		return EXIT_NOBILLY;
	}

	signal(SIGPIPE, SIG_IGN);
	if (!web_start(cfg))
		bridge_log("the dashboard's event stream (/events) is off: no LISTEN connection");

	/*
	 * The per-connection pool holds headers and read buffers only (bodies go
	 * to an Upload, answers to their own buffers); libmicrohttpd clears it
	 * for every request, so a big one costs a memset per call: 256 kB took a
	 * fifth of the bridge's time at 3,000 calls/s.
	 */
	d = MHD_start_daemon(flags, (uint16_t) cfg->listen_port, NULL, NULL, on_request, NULL,
						 MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
						 MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) cfg->pool_size,
						 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 120,
						 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) 64 * 1024,
						 MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
						 MHD_OPTION_END);
	if (d == NULL)
	{
		bridge_log("cannot listen on %s:%d: %s", cfg->listen_host, cfg->listen_port, strerror(errno));
		return EXIT_NOLISTEN;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	bound_port = info ? info->port : cfg->listen_port;

	/*
	 * the ready line: on stdout, which the HTTP transport does not otherwise
	 * use
	 */
	printf("listening http://%s%s%s:%d/mcp\n", strchr(cfg->listen_host, ':') ? "[" : "",
		   cfg->listen_host, strchr(cfg->listen_host, ':') ? "]" : "", bound_port);
	fflush(stdout);
	if (!cfg->loopback)
		bridge_log("listening beyond loopback on %s: only requests with the bearer token are served", cfg->listen_host);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stop_requested)
		pause();

	web_stop();
	MHD_stop_daemon(d);
	web_join();
	for (int i = 0; i < pool.size; i++)
		PQfinish(pool.conns[i]);
	return EXIT_OK;
}
