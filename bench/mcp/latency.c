/*
 * bench/mcp/latency.c - round-trip latency of one MCP tool call through
 * billy-mcp-bridge on stdio, against the same SELECT sent directly over
 * libpq.  Built and run by bench/mcp/run.
 *
 *   latency bridge N IDS TOOL ORG -- BRIDGE [ARGS]   tools/call TOOL, one at a time
 *   latency direct N IDS SQL ORG                     PQexecParams(SQL, ORG, id)
 *   latency mcp N IDS TOOL ORG                       what the bridge sends, over libpq:
 *                                                    BRIDGE_CALL_SQL with the same message, prepared
 *
 * IDS is a file of invoice ids, one a line, used in turn.  Prints
 * "p50_us p99_us mean_us errors" after 10% warm-up calls.
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
report(double *t, int n, int errors)
{
	double		sum = 0;
	int			skip = n / 10;

	qsort(t + skip, n - skip, sizeof(double), cmp);
	for (int i = skip; i < n; i++)
		sum += t[i];
	printf("%.1f %.1f %.1f %d\n", t[skip + (n - skip) / 2], t[skip + (int) ((n - skip) * 0.99)],
		   sum / (n - skip), errors);
}

int
main(int argc, char **argv)
{
	int			n,
				nids,
				errors = 0;
	char	  **ids;
	double	   *t;

	if (argc < 6)
	{
		fprintf(stderr, "usage: latency bridge|direct|mcp N IDS TOOL|SQL ORG [-- BRIDGE ARGS]\n");
		return 1;
	}
	n = atoi(argv[2]);
	ids = read_ids(argv[3], &nids);
	t = calloc(n, sizeof(double));

	if (strcmp(argv[1], "direct") == 0 || strcmp(argv[1], "mcp") == 0)
	{
		bool		mcp = strcmp(argv[1], "mcp") == 0;
		PGconn	   *conn = PQconnectdb("");
		char		msg[1024];

		if (PQstatus(conn) != CONNECTION_OK)
		{
			fprintf(stderr, "%s", PQerrorMessage(conn));
			return 1;
		}
		if (mcp)
			PQclear(PQprepare(conn, BRIDGE_STATEMENT, BRIDGE_CALL_SQL, 1, NULL));
		for (int i = 0; i < n; i++)
		{
			const char *params[2] = {argv[5], ids[i % nids]};
			double		t0;
			PGresult   *res;

			if (mcp)
			{
				snprintf(msg, sizeof msg, CALL, i + 1, argv[4], argv[5], ids[i % nids]);
				params[0] = msg;
			}
			t0 = now_us();
			res = mcp ? PQexecPrepared(conn, BRIDGE_STATEMENT, 1, params, NULL, NULL, 0)
				: PQexecParams(conn, argv[4], 2, NULL, params, NULL, NULL, 0);
			t[i] = now_us() - t0;
			if (PQresultStatus(res) != PGRES_TUPLES_OK || PQgetisnull(res, 0, 0) ||
				(mcp && strstr(PQgetvalue(res, 0, 0), "\"isError\": false") == NULL))
			{
				if (errors++ == 0)
					fprintf(stderr, "first error: %.300s%s\n", PQresultErrorMessage(res),
							PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
			}
			PQclear(res);
		}
		PQfinish(conn);
	}
	else
	{
		int			in[2],
					out[2];
		pid_t		pid;
		FILE	   *w,
				   *r;
		char	   *line = NULL;
		size_t		cap = 0;
		int			dash = 6;

		if (argc < 8 || strcmp(argv[6], "--") != 0)
		{
			fprintf(stderr, "latency bridge: -- BRIDGE [ARGS] expected\n");
			return 1;
		}
		if (pipe(in) || pipe(out))
			return 1;
		pid = fork();
		if (pid == 0)
		{
			dup2(in[0], 0);
			dup2(out[1], 1);
			close(in[1]);
			close(out[0]);
			execv(argv[dash + 1], argv + dash + 1);
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
		for (int i = 0; i < n; i++)
		{
			double		t0 = now_us();

			fprintf(w, CALL "\n", i + 1, argv[4], argv[5], ids[i % nids]);
			fflush(w);
			if (getline(&line, &cap, r) < 0)
			{
				fprintf(stderr, "the bridge stopped answering\n");
				return 1;
			}
			t[i] = now_us() - t0;
			if (strstr(line, "\"isError\": false") == NULL)
			{
				if (errors++ == 0)
					fprintf(stderr, "first error: %.300s\n", line);
			}
		}
		fclose(w);
		waitpid(pid, NULL, 0);
	}
	report(t, n, errors);
	return 0;
}
