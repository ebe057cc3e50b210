/*
 * pg.c - billy-mcp-bridge's side of PostgreSQL: connecting (conninfo,
 * DATABASE_URL or the PG* variables), the session settings, checking that
 * billy.mcp is there, logging to stderr (libpq notices included), and
 * turning a failed call into a JSON-RPC error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"

bool		bridge_verbose = false;

static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

/* bridge_supported_version: a legacy version billy speaks (2026-07-28: era.c) */
bool
bridge_supported_version(const char *v)
{
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (strcmp(v, versions[i]) == 0)
			return true;
	return false;
}

/* bridge_log writes one line to stderr: never to stdout, which is protocol */
void
bridge_log(const char *fmt,...)
{
	va_list		ap;
	char		line[4096];

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", BRIDGE_NAME, line);
}

/* notices (RAISE NOTICE, warnings) go to stderr with a prefix */
static void
notice_processor(void *arg, const char *message)
{
	(void) arg;
	fprintf(stderr, "%s: postgres: %s", BRIDGE_NAME, message);
}

static bool
exec_ok(PGconn *conn, const char *sql, char **error)
{
	PGresult   *res = PQexec(conn, sql);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok && error)
		*error = strdup(PQresultErrorMessage(res));
	PQclear(res);
	return ok;
}

/*
 * bridge_connect opens a connection with the configured settings and
 * prepares the session: statement_timeout below the clients' 60 s, the HTTP
 * transport's capability, and LISTEN for registry changes (stdio).
 */
PGconn *
bridge_connect(const BridgeConfig *cfg, bool listen, char **error)
{
	const char *keywords[4];
	const char *values[4];
	int			n = 0;
	const char *dsn = cfg->conninfo ? cfg->conninfo : getenv("DATABASE_URL");
	PGconn	   *conn;
	char		sql[256];

	if (dsn && *dsn)
	{
		keywords[n] = "dbname";
		values[n++] = dsn;
	}
	keywords[n] = "fallback_application_name";
	values[n++] = BRIDGE_NAME;
	keywords[n] = NULL;
	values[n] = NULL;

	conn = PQconnectdbParams(keywords, values, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
	{
		*error = strdup(conn ? PQerrorMessage(conn) : "out of memory");
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, notice_processor, NULL);

	snprintf(sql, sizeof sql, "SET statement_timeout = %d", cfg->statement_timeout_ms);
	if (!exec_ok(conn, sql, error))
		goto fail;
	if (cfg->http && !exec_ok(conn, "SET billy.mcp_list_changed = off", NULL))
	{
		/* an older billy without the setting: nothing to turn off */
	}
	if (listen && !exec_ok(conn, "LISTEN " BRIDGE_CHANNEL, error))
		goto fail;
	/* the one statement, prepared once per connection */
	{
		PGresult   *res = PQprepare(conn, BRIDGE_STATEMENT, BRIDGE_CALL_SQL, 1, NULL);

		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			/* no billy.mcp yet: bridge_check_billy says so; calls re-prepare */
			PQclear(res);
			return conn;
		}
		PQclear(res);
	}
	return conn;

fail:
	PQfinish(conn);
	return NULL;
}

/* bridge_check_billy: is there a billy.mcp(jsonb) this role may execute? */
bool
bridge_check_billy(PGconn *conn, char **error)
{
	PGresult   *res = PQexec(conn,
							 "SELECT p IS NOT NULL, p IS NOT NULL AND pg_catalog.has_function_privilege(p, 'EXECUTE') "
							 "FROM pg_catalog.to_regprocedure('billy.mcp(jsonb)') p");
	bool		ok = false;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		*error = strdup(PQresultErrorMessage(res));
	else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		*error = strdup("this database has no billy.mcp(jsonb): run CREATE EXTENSION billy (0.2.0 or later)");
	else if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
		*error = strdup("this role may not execute billy.mcp(jsonb): GRANT billy_mcp TO the role the bridge logs in as");
	else
		ok = true;
	PQclear(res);
	return ok;
}

char *
bridge_error_json(json_t *id, int code, const char *message)
{
	json_t	   *o = json_object();
	json_t	   *e = json_object();
	char	   *s;

	json_object_set_new(o, "jsonrpc", json_string("2.0"));
	json_object_set(o, "id", id ? id : json_null());
	json_object_set_new(e, "code", json_integer(code));
	json_object_set_new(e, "message", json_string(message));
	json_object_set_new(o, "error", e);
	s = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(o);
	return s;
}

/*
 * bridge_failure_json: billy.mcp failed.  Its input was not JSON PostgreSQL
 * accepts (-32700), the connection was lost or the server failed (-32603).
 * The answer carries the request's id whenever the bridge could read one:
 * JSON that PostgreSQL refuses (a string holding \u0000) is JSON the bridge
 * parsed, and a client waits for an answer with its id.  Only text that is
 * not JSON at all gets id null, as JSON-RPC 2.0 says.
 */
char *
bridge_failure_json(PGconn *conn, PGresult *res, json_t *id, bool *lost)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char		text[1024];

	/*
	 * the server ended the session (terminated, shut down) or the socket
	 * broke
	 */
	*lost = PQstatus(conn) != CONNECTION_OK ||
		(state && (strncmp(state, "57P", 3) == 0 || strncmp(state, "08", 2) == 0));
	if (*lost)
		return bridge_error_json(id, -32603, "internal error: the connection to PostgreSQL was lost; the bridge reconnects, send the request again");
	if (state && (strcmp(state, "22P02") == 0 || strcmp(state, "22P05") == 0 || strcmp(state, "22032") == 0))
	{
		snprintf(text, sizeof text, "parse error: %s%s", msg ? msg : "invalid JSON",
				 strcmp(state, "22P05") == 0 ? " (a string may not contain \\u0000: leave NUL characters out)" : "");
		return bridge_error_json(id, -32700, text);
	}
	snprintf(text, sizeof text, "internal error: billy.mcp failed: %s %s", state ? state : "",
			 msg ? msg : (conn ? PQerrorMessage(conn) : "unknown"));
	return bridge_error_json(id, -32603, text);
}

/*
 * bridge_parse reads a message far enough to route it: is it an object, its
 * id and method.  The text itself is what goes to billy.mcp.
 */
bool
bridge_parse(const char *text, size_t len, Message *m, char *error, size_t errlen)
{
	json_error_t err;

	memset(m, 0, sizeof *m);
	m->json = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (m->json == NULL)
	{
		snprintf(error, errlen, "parse error: %s (line %d, column %d)", err.text, err.line, err.column);
		return false;
	}
	m->is_object = json_is_object(m->json);
	if (m->is_object)
	{
		json_t	   *method = json_object_get(m->json, "method");

		m->id = json_object_get(m->json, "id");
		m->has_id = m->id != NULL;
		if (m->id && !(json_is_string(m->id) || json_is_number(m->id)))
			m->id = NULL;
		if (json_is_string(method))
			m->method = json_string_value(method);
	}
	return true;
}
