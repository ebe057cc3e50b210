/*
 * bench/mcp/latency.c - round-trip latency of one MCP tool call through
 * billy-mcp-bridge on stdio, against the same call sent to PostgreSQL
 * without the bridge.  Built and run by bench/mcp/run.
 *
 *   latency N IDS TOOL ORG SQL -- BRIDGE [ARGS]
 *
 * Three measures, N calls each, one at a time:
 *   direct  PQexecParams(SQL, ORG, id): the query the tool answers from
 *   mcp     what the bridge sends, over libpq: BRIDGE_CALL_SQL with the
 *           tools/call message, prepared (as the bridge prepares it)
 *   bridge  the same message as a line on the stdin of BRIDGE (started
 *           here, so it runs where this process may run), the answer's
 *           line read back
 * They take turns in blocks of BLOCK calls, so that the machine's other
 * work, which comes and goes over seconds, falls on all three alike.  IDS
 * is a file of invoice ids, one a line, used in turn.  Prints a line
 * "NAME p50_us p99_us mean_us errors" for each, after 10% warm-up calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <libpq-fe.h>

#include "../../mcp-bridge/bridge.h"

/* the tools/call message, the same for the bridge and billy.mcp direct */
#define CALL "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\"," \
	"\"arguments\":{\"organization\":\"%s\",\"invoice_id\":\"%s\"}}}"
#define BLOCK 50

enum
{
	DIRECT, MCP, BRIDGE, NMEASURES
};
static const char *const names[NMEASURES] = {"direct", "mcp", "bridge"};

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static char **
read_ids(const char *path, int *n)
{
	FILE	   *f = fopen(path, "r");
	char		line[256];
	char	  **ids = NULL;
	int			cap = 0;

	*n = 0;
	if (f == NULL)
	{
		perror(path);
		exit(1);
	}
	while (fgets(line, sizeof line, f))
	{
		line[strcspn(line, "\r\n")] = '\0';
		if (!*line)
			continue;
		if (*n == cap)
			ids = realloc(ids, (cap = cap ? cap * 2 : 1024) * sizeof(char *));
		ids[(*n)++] = strdup(line);
	}
	fclose(f);
	if (*n == 0)
	{
		fprintf(stderr, "no ids in %s\n", path);
		exit(1);
	}
	return ids;
}

static void
report(const char *name, double *t, int n, int errors)
{
	double		sum = 0;
	int			skip = n / 10;

	qsort(t + skip, n - skip, sizeof(double), cmp);
	for (int i = skip; i < n; i++)
		sum += t[i];
	printf("%s %.1f %.1f %.1f %d\n", name, t[skip + (n - skip) / 2], t[skip + (int) ((n - skip) * 0.99)],
		   sum / (n - skip), errors);
}

static void
error_seen(int *errors, const char *name, const char *what)
{
	if ((*errors)++ == 0)
		fprintf(stderr, "%s: first error: %.300s\n", name, what);
}

int
main(int argc, char **argv)
{
	int			n,
				nids,
				errors[NMEASURES] = {0};
	char	  **ids;
	double	   *t[NMEASURES];
	const char *tool,
			   *org,
			   *sql;
	PGconn	   *conn;
	int			in[2],
				out[2];
	pid_t		pid;
	FILE	   *w,
			   *r;
	char	   *line = NULL;
	size_t		cap = 0;
	char		msg[1024];

	if (argc < 8 || strcmp(argv[6], "--") != 0)
	{
		fprintf(stderr, "usage: latency N IDS TOOL ORG SQL -- BRIDGE [ARGS]\n");
		return 1;
	}
	n = atoi(argv[1]);
	ids = read_ids(argv[2], &nids);
	tool = argv[3];
	org = argv[4];
	sql = argv[5];
	for (int m = 0; m < NMEASURES; m++)
		t[m] = calloc(n, sizeof(double));

	conn = PQconnectdb("");
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "%s", PQerrorMessage(conn));
		return 1;
	}
	PQclear(PQprepare(conn, BRIDGE_STATEMENT, BRIDGE_CALL_SQL, 1, NULL));

	if (pipe(in) || pipe(out))
		return 1;
	pid = fork();
	if (pid == 0)
	{
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execv(argv[7], argv + 7);
		perror("execv");
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	w = fdopen(in[1], "w");
	r = fdopen(out[0], "r");
	fprintf(w, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"bench\",\"version\":\"0\"}}}\n"
			"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
	fflush(w);
	if (getline(&line, &cap, r) < 0)
	{
		fprintf(stderr, "the bridge did not answer initialize\n");
		return 1;
	}

	for (int start = 0; start < n; start += BLOCK)
	{
		for (int m = 0; m < NMEASURES; m++)
		{
			for (int i = start; i < n && i < start + BLOCK; i++)
			{
				const char *id = ids[i % nids];
				const char *params[2] = {org, id};
				double		t0;
				PGresult   *res = NULL;

				snprintf(msg, sizeof msg, CALL, i + 1, tool, org, id);
				t0 = now_us();
				if (m == DIRECT)
					res = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
				else if (m == MCP)
				{
					params[0] = msg;
					res = PQexecPrepared(conn, BRIDGE_STATEMENT, 1, params, NULL, NULL, 0);
				}
				else
				{
					fputs(msg, w);
					fputc('\n', w);
					fflush(w);
					if (getline(&line, &cap, r) < 0)
					{
						fprintf(stderr, "the bridge stopped answering\n");
						return 1;
					}
				}
				t[m][i] = now_us() - t0;

				if (m == BRIDGE)
				{
					if (strstr(line, "\"isError\": false") == NULL)
						error_seen(&errors[m], names[m], line);
				}
				else
				{
					if (PQresultStatus(res) != PGRES_TUPLES_OK || PQgetisnull(res, 0, 0))
						error_seen(&errors[m], names[m], PQresultErrorMessage(res));
					else if (m == MCP && strstr(PQgetvalue(res, 0, 0), "\"isError\": false") == NULL)
						error_seen(&errors[m], names[m], PQgetvalue(res, 0, 0));
					PQclear(res);
				}
			}
		}
	}
	fclose(w);
	waitpid(pid, NULL, 0);
	PQfinish(conn);
	for (int m = 0; m < NMEASURES; m++)
		report(names[m], t[m], n, errors[m]);
	return 0;
}
