/*
 * main.c - billy-mcp-bridge: arguments, then the stdio or HTTP transport.
 *
 * The bridge is deliberately small and stateless: it parses a message only
 * far enough to route it (notifications, cancellation, malformed input) and
 * hands it to billy.mcp(jsonb) in PostgreSQL, which implements MCP.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

static void
usage(FILE *out)
{
	fprintf(out,
			"Usage: " BRIDGE_NAME " [OPTION]... [CONNINFO]\n"
			"\n"
			"Serves billy's MCP tools to AI clients: each message goes to PostgreSQL as\n"
			"select billy.mcp($1::jsonb), and the answer comes back.  Stdio by default\n"
			"(one JSON-RPC message per line; stdout carries the protocol only, logs go to\n"
			"stderr); --http serves stateless Streamable HTTP at /mcp.  Both speak MCP\n"
			"2026-07-28 (no initialize: _meta on every request, server/discover) and the\n"
			"legacy versions 2025-11-25, 2025-06-18, 2025-03-26 and 2024-11-05.\n"
			"--http also serves billy's dashboard at / (no token: the page holds no\n"
			"data; its figures come from /mcp) and its live stream of billy_changes\n"
			"at /events (Server-Sent Events, token).\n"
			"\n"
			"Connection: CONNINFO (\"dbname=books user=claude\" or a postgresql:// URL),\n"
			"else DATABASE_URL, else libpq's PG* variables (PGHOST, PGDATABASE, PGUSER,\n"
			"PGPASSWORD or ~/.pgpass, ...).  Log in as a role that is a member of\n"
			"billy_mcp (reads) and billy_admin (writes), granted its organizations with\n"
			"billy.grant_organization.\n"
			"\n"
			"Options:\n"
			"  --http ADDR:PORT       serve HTTP instead of stdio, e.g. 127.0.0.1:8765\n"
			"                         (port 0 picks one; the ready line on stdout says it)\n"
			"  --token-file FILE      HTTP: require \"Authorization: Bearer <token>\" with the\n"
			"                         token in FILE (also: BILLY_MCP_TOKEN); required when\n"
			"                         ADDR is not a loopback address\n"
			"  --allow-host NAME      HTTP: also accept this Host name (repeatable)\n"
			"  --allow-origin ORIGIN  HTTP: also accept this Origin, e.g. https://app.example\n"
			"  --pool N               HTTP: PostgreSQL connections and threads (default 4)\n"
			"  --max-body BYTES       HTTP: largest request body (default 4194304)\n"
			"  --max-buffered BYTES   HTTP: most body bytes held for all requests at once\n"
			"                         (default 4 x --max-body; 503 beyond it)\n"
			"  --statement-timeout MS longest statement (default 50000, below the clients'\n"
			"                         60 s request timeout)\n"
			"  --verbose              log more to stderr\n"
			"  --help, --version\n"
			"\n"
			"Exit status: 0 stopped normally (EOF on stdin, SIGTERM or SIGINT), 1 bad\n"
			"arguments, 2 PostgreSQL unreachable at start, 3 no billy.mcp the role may\n"
			"execute (CREATE EXTENSION billy; GRANT billy_mcp), 4 cannot listen.\n");
}

static bool
parse_listen(const char *arg, BridgeConfig *cfg)
{
	const char *colon;
	size_t		n;

	if (arg[0] == '[')
	{
		const char *end = strchr(arg, ']');

		if (end == NULL || end[1] != ':')
			return false;
		n = end - arg - 1;
		if (n >= sizeof cfg->listen_host)
			return false;
		memcpy(cfg->listen_host, arg + 1, n);
		cfg->listen_host[n] = '\0';
		colon = end + 1;
	}
	else
	{
		colon = strrchr(arg, ':');
		if (colon == NULL)
			return false;
		n = colon - arg;
		if (n == 0 || n >= sizeof cfg->listen_host)
			return false;
		memcpy(cfg->listen_host, arg, n);
		cfg->listen_host[n] = '\0';
	}
	cfg->listen_port = atoi(colon + 1);
	if (cfg->listen_port < 0 || cfg->listen_port > 65535 || colon[1] == '\0')
		return false;
	{
		struct in_addr a4;
		struct in6_addr a6;

		if (inet_pton(AF_INET, cfg->listen_host, &a4) == 1)
			cfg->loopback = (ntohl(a4.s_addr) >> 24) == 127;
		else if (inet_pton(AF_INET6, cfg->listen_host, &a6) == 1)
			cfg->loopback = IN6_IS_ADDR_LOOPBACK(&a6);
		else
			return false;
	}
	return true;
}

static char *
read_token(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char		line[1024];
	size_t		n;

	if (f == NULL)
		return NULL;
	if (fgets(line, sizeof line, f) == NULL)
		line[0] = '\0';
	fclose(f);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
		line[--n] = '\0';
	return n ? strdup(line) : NULL;
}

int
main(int argc, char **argv)
{
	static BridgeConfig cfg;
	static const struct option options[] = {
		{"http", required_argument, NULL, 'H'},
		{"token-file", required_argument, NULL, 't'},
		{"allow-host", required_argument, NULL, 'a'},
		{"allow-origin", required_argument, NULL, 'o'},
		{"pool", required_argument, NULL, 'p'},
		{"max-body", required_argument, NULL, 'b'},
		{"max-buffered", required_argument, NULL, 'B'},
		{"statement-timeout", required_argument, NULL, 's'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}
	};
	int			opt;
	const char *token_file = NULL;

	cfg.pool_size = 4;
	cfg.max_body = 4 * 1024 * 1024;
	cfg.statement_timeout_ms = 50000;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1)
	{
		switch (opt)
		{
			case 'H':
				cfg.http = true;
				if (!parse_listen(optarg, &cfg))
				{
					fprintf(stderr, "%s: --http wants ADDRESS:PORT with a numeric IPv4 or [IPv6] address, e.g. 127.0.0.1:8765\n", BRIDGE_NAME);
					return EXIT_USAGE;
				}
				break;
			case 't':
				token_file = optarg;
				break;
			case 'a':
			case 'o':
				{
					int		   *n = opt == 'a' ? &cfg.n_allow_hosts : &cfg.n_allow_origins;
					const char **list = opt == 'a' ? cfg.allow_hosts : cfg.allow_origins;

					if (*n >= 28)
					{
						fprintf(stderr, "%s: too many --allow-%s\n", BRIDGE_NAME, opt == 'a' ? "host" : "origin");
						return EXIT_USAGE;
					}
					list[(*n)++] = optarg;
					break;
				}
			case 'p':
				cfg.pool_size = atoi(optarg);
				if (cfg.pool_size < 1 || cfg.pool_size > 64)
				{
					fprintf(stderr, "%s: --pool must be between 1 and 64\n", BRIDGE_NAME);
					return EXIT_USAGE;
				}
				break;
			case 'b':
				cfg.max_body = strtoul(optarg, NULL, 10);
				if (cfg.max_body < 1024)
				{
					fprintf(stderr, "%s: --max-body must be at least 1024\n", BRIDGE_NAME);
					return EXIT_USAGE;
				}
				break;
			case 'B':
				cfg.max_buffered = strtoul(optarg, NULL, 10);
				if (cfg.max_buffered < 1024)
				{
					fprintf(stderr, "%s: --max-buffered must be at least 1024\n", BRIDGE_NAME);
					return EXIT_USAGE;
				}
				break;
			case 's':
				cfg.statement_timeout_ms = atoi(optarg);
				if (cfg.statement_timeout_ms < 0)
				{
					fprintf(stderr, "%s: --statement-timeout must be 0 (none) or more milliseconds\n", BRIDGE_NAME);
					return EXIT_USAGE;
				}
				break;
			case 'v':
				bridge_verbose = true;
				cfg.verbose = true;
				break;
			case 'h':
				usage(stdout);
				return EXIT_OK;
			case 'V':
				printf("%s %s\n", BRIDGE_NAME, BRIDGE_VERSION);
				return EXIT_OK;
			default:
				usage(stderr);
				return EXIT_USAGE;
		}
	}
	if (optind < argc)
		cfg.conninfo = argv[optind++];
	if (optind < argc)
	{
		fprintf(stderr, "%s: unexpected argument \"%s\" (see --help)\n", BRIDGE_NAME, argv[optind]);
		return EXIT_USAGE;
	}

	if (!cfg.http)
		return bridge_run_stdio(&cfg);

	if (token_file)
	{
		cfg.token = read_token(token_file);
		if (cfg.token == NULL)
		{
			fprintf(stderr, "%s: cannot read a token from %s\n", BRIDGE_NAME, token_file);
			return EXIT_USAGE;
		}
	}
	else if (getenv("BILLY_MCP_TOKEN") && *getenv("BILLY_MCP_TOKEN"))
		cfg.token = strdup(getenv("BILLY_MCP_TOKEN"));
	if (!cfg.loopback && cfg.token == NULL)
	{
		fprintf(stderr, "%s: listening on %s, beyond loopback, needs a bearer token (--token-file or BILLY_MCP_TOKEN)\n",
				BRIDGE_NAME, cfg.listen_host);
		return EXIT_USAGE;
	}
	if (cfg.token && strlen(cfg.token) < 16)
	{
		fprintf(stderr, "%s: the bearer token must be at least 16 characters\n", BRIDGE_NAME);
		return EXIT_USAGE;
	}

	/*
	 * the names this server answers to: its own address, loopback names,
	 * --allow-host
	 */
	if (cfg.loopback)
	{
		cfg.allow_hosts[cfg.n_allow_hosts++] = "127.0.0.1";
		cfg.allow_hosts[cfg.n_allow_hosts++] = "localhost";
		cfg.allow_hosts[cfg.n_allow_hosts++] = "[::1]";
	}
	if (strcmp(cfg.listen_host, "127.0.0.1") != 0 && strcmp(cfg.listen_host, "0.0.0.0") != 0 &&
		strcmp(cfg.listen_host, "::") != 0)
	{
		static char bracketed[300];

		if (strchr(cfg.listen_host, ':'))
		{
			snprintf(bracketed, sizeof bracketed, "[%s]", cfg.listen_host);
			cfg.allow_hosts[cfg.n_allow_hosts++] = bracketed;
		}
		else
			cfg.allow_hosts[cfg.n_allow_hosts++] = cfg.listen_host;
	}
	return bridge_run_http(&cfg);
}
