/*
 * bridge.h - billy-mcp-bridge: what the transports share.
 *
 * The bridge forwards MCP messages to PostgreSQL and the answers back; all
 * protocol logic lives in billy.mcp(jsonb).  It runs exactly one statement
 * per message, always the same text with the message as a bound parameter.
 */
#ifndef BRIDGE_H
#define BRIDGE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#define BRIDGE_NAME "billy-mcp-bridge"
#define BRIDGE_VERSION "0.2.0"
#define BRIDGE_CALL_SQL "select billy.mcp($1::jsonb)"
#define BRIDGE_STATEMENT "billy_mcp"
#define BRIDGE_CHANNEL "billy_mcp_tools"
#define BRIDGE_MODERN_VERSION "2026-07-28"

/* exit codes (documented in --help and docs/mcp.md) */
#define EXIT_OK			0		/* EOF on stdin, SIGTERM or SIGINT */
#define EXIT_USAGE		1		/* bad arguments */
#define EXIT_NOCONNECT	2		/* PostgreSQL unreachable at start */
#define EXIT_NOBILLY	3		/* no billy.mcp the role may execute */
#define EXIT_NOLISTEN	4		/* HTTP: cannot listen */

typedef struct BridgeConfig
{
	const char *conninfo;		/* NULL: DATABASE_URL, then PG* variables */
	bool		http;
	char		listen_host[256];
	int			listen_port;
	bool		loopback;
	char	   *token;			/* HTTP bearer token, NULL for none */
	const char *allow_hosts[32];
	int			n_allow_hosts;
	const char *allow_origins[32];
	int			n_allow_origins;
	int			pool_size;
	size_t		max_body;
	size_t		max_buffered;	/* HTTP: all bodies being received; 0: 4 x
								 * max_body */
	int			statement_timeout_ms;
	bool		verbose;
} BridgeConfig;

/* a JSON-RPC message the bridge looked at before forwarding it */
typedef struct Message
{
	json_t	   *json;			/* the parsed message (NULL when unparsable) */
	json_t	   *id;				/* borrowed from json; NULL for notifications */
	bool		has_id;			/* an "id" member is there (even if invalid) */
	const char *method;			/* borrowed; NULL for responses */
	bool		is_object;
} Message;

/* pg.c */
extern PGconn *bridge_connect(const BridgeConfig *cfg, bool listen, char **error);
extern bool bridge_check_billy(PGconn *conn, char **error);
extern void bridge_log(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern bool bridge_verbose;

/*
 * bridge_answer_error builds a JSON-RPC error response text for id (NULL:
 * null); data may be NULL.  The caller frees it.
 */
extern char *bridge_error_json(json_t *id, int code, const char *message);

/*
 * bridge_describe_result turns a failed billy.mcp call into a JSON-RPC error
 * (or NULL when the message needs no answer); sets *lost when the connection
 * to PostgreSQL is gone.
 */
extern char *bridge_failure_json(PGconn *conn, PGresult *res, json_t *id, bool *lost);

/* parse a message; false with *error set when it is not JSON */
extern bool bridge_parse(const char *text, size_t len, Message *m, char *error, size_t errlen);

/* stdio.c, http.c */
extern int	bridge_run_stdio(const BridgeConfig *cfg);
extern int	bridge_run_http(const BridgeConfig *cfg);

extern bool bridge_supported_version(const char *v);

/* era.c: the 2026-07-28 rules only HTTP knows (headers, statuses) */
extern bool bridge_is_modern(json_t *msg);
extern char *bridge_modern_header_problem(json_t *msg, const char *version_header,
										  const char *method_header, const char *name_header);
extern unsigned int bridge_modern_status(const char *answer);
extern const char *bridge_legacy_with_modern_header(json_t *msg, int *code);

#endif							/* BRIDGE_H */
