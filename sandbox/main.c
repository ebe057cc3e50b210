/*
 * main.c - billy-sandbox's command line: options, generation of the
 * organizations, the loopback listening socket, the ready protocol on
 * stdout and a clean exit on SIGTERM/SIGINT.
 *
 * stdout carries exactly one line per organization and then one ready
 * line, tab-separated (see README); everything else goes to stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "faults.h"
#include "gen.h"
#include "http.h"
#include "json.h"
#include "request.h"
#include "store.h"

/* usage prints --help */
static void
usage(FILE *f)
{
	fputs("Usage: billy-sandbox [options]\n"
		  "A fake of Billy's API v2 (billy.dk) with realistic Danish books, for tests and demos.\n"
		  "\n"
		  "Options:\n"
		  "  --listen HOST:PORT   loopback address to listen on (default 127.0.0.1:0; port 0 picks one)\n"
		  "  --seed N             seed of all generated data (default 1)\n"
		  "  --orgs N             number of organizations (default 1)\n"
		  "  --invoices N         invoices per organization, credit notes included (default 2000)\n"
		  "  --contacts N         contacts per organization (default 300)\n"
		  "  --products N         products per organization (default 60)\n"
		  "  --bills N            bills per organization (default 600)\n"
		  "  --bank-payments N    at most N bank payments per organization (default: every payment\n"
		  "                       the generated documents received)\n"
		  "  --threads N          HTTP worker threads (default 2)\n"
		  "  --today YYYY-MM-DD   data horizon; makes the clock logical (default: today, UTC)\n"
		  "  --help               this text\n"
		  "\n"
		  "stdout: one line per organization, then a ready line, tab-separated:\n"
		  "  organization <id> <token> <baseUrl> <name>\n"
		  "  ready <baseUrl> <port>\n"
		  "Control API (no token): /_sandbox/faults, /mutate, /reset, /stats, /dump, /organizations.\n",
		  f);
}

/* parse_num reads a whole number option within bounds, or exits 2 */
static long long
parse_num(const char *opt, const char *v, long long lo, long long hi)
{
	char	   *end;
	long long	n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || *end || end == v || n < lo || n > hi)
		die("%s must be a whole number from %lld to %lld, not \"%s\"", opt, lo, hi, v);
	return n;
}

/*
 * parse_listen accepts HOST:PORT where HOST is an IPv4 address in
 * 127.0.0.0/8 or "localhost".  Anything else is refused: the sandbox must
 * never be reachable from another machine.
 */
static void
parse_listen(const char *v, Config *cfg)
{
	const char *colon = strrchr(v, ':');
	char		host[64];
	struct in_addr a;

	if (colon == NULL || colon == v || (size_t) (colon - v) >= sizeof(host))
		die("--listen must be HOST:PORT with a loopback HOST (127.0.0.0/8 or localhost), not \"%s\"", v);
	memcpy(host, v, (size_t) (colon - v));
	host[colon - v] = '\0';
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
		die("refusing to listen on \"%s\": only loopback addresses (127.0.0.0/8 or localhost) are allowed", v);
	cfg->port = (int) parse_num("--listen port", colon + 1, 0, 65535);
	snprintf(cfg->listen_host, sizeof(cfg->listen_host), "%s", host);
}

/* open_listener binds and listens on the loopback address; returns the socket */
static int
open_listener(const Config *cfg, int *port_out)
{
	struct sockaddr_in sa;
	socklen_t	sl = sizeof(sa);
	int			one = 1;
	int			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t) cfg->port);
	inet_pton(AF_INET, cfg->listen_host, &sa.sin_addr);
	if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0 ||
		getsockname(fd, (struct sockaddr *) &sa, &sl) != 0)
	{
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	*port_out = ntohs(sa.sin_port);
	return fd;
}

/* main parses options, generates the books, serves until SIGTERM/SIGINT */
int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"seed", required_argument, NULL, 's'},
		{"orgs", required_argument, NULL, 'o'},
		{"invoices", required_argument, NULL, 'i'},
		{"contacts", required_argument, NULL, 'c'},
		{"products", required_argument, NULL, 'p'},
		{"bills", required_argument, NULL, 'b'},
		{"bank-payments", required_argument, NULL, 'B'},
		{"threads", required_argument, NULL, 't'},
		{"today", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	Config	   *cfg = &sb.cfg;
	sigset_t	sigs;
	int			sig,
				fd,
				port = 0,
				ch;
	double		t0 = mono_now();
	pthread_rwlockattr_t attr;
	Buf			lines = {0};

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->listen_host, sizeof(cfg->listen_host), "127.0.0.1");
	cfg->seed = 1;
	cfg->orgs = 1;
	cfg->invoices = 2000;
	cfg->contacts = 300;
	cfg->products = 60;
	cfg->bills = 600;
	cfg->bank_payments = -1;
	cfg->threads = 2;
	cfg->today = date_today_utc();

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1)
	{
		switch (ch)
		{
			case 'l':
				parse_listen(optarg, cfg);
				break;
			case 's':
				{
					char	   *end;

					errno = 0;
					cfg->seed = strtoull(optarg, &end, 10);
					if (errno || *end || end == optarg || optarg[0] == '-')
						die("--seed must be a non-negative whole number, not \"%s\"", optarg);
				}
				break;
			case 'o':
				cfg->orgs = (int) parse_num("--orgs", optarg, 1, 1000);
				break;
			case 'i':
				cfg->invoices = (int) parse_num("--invoices", optarg, 0, 20000000);
				break;
			case 'c':
				cfg->contacts = (int) parse_num("--contacts", optarg, 0, 5000000);
				break;
			case 'p':
				cfg->products = (int) parse_num("--products", optarg, 0, 1000000);
				break;
			case 'b':
				cfg->bills = (int) parse_num("--bills", optarg, 0, 20000000);
				break;
			case 'B':
				cfg->bank_payments = (int) parse_num("--bank-payments", optarg, 0, 40000000);
				break;
			case 't':
				cfg->threads = (int) parse_num("--threads", optarg, 1, 64);
				break;
			case 'd':
				if (!date_parse(optarg, &cfg->today))
					die("--today must be a date YYYY-MM-DD, not \"%s\"", optarg);
				cfg->today_given = true;
				break;
			case 'h':
				usage(stdout);
				return 0;
			default:
				usage(stderr);
				return 2;
		}
	}
	if (optind < argc)
		die("unexpected argument \"%s\" (see --help)", argv[optind]);

	/* signals are taken by sigwait in this thread only */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&sb.lock, &attr);
	pthread_rwlockattr_destroy(&attr);

	fd = open_listener(cfg, &port);
	if (fd < 0)
	{
		fprintf(stderr, "billy-sandbox: cannot listen on %s:%d: %s\n", cfg->listen_host, cfg->port, strerror(errno));
		return 1;
	}
	snprintf(sb.host_url, sizeof(sb.host_url), "http://%s:%d", cfg->listen_host, port);
	snprintf(sb.base_url, sizeof(sb.base_url), "http://%s:%d/v2", cfg->listen_host, port);

	clock_init(cfg->today_given, cfg->today);
	gen_horizon = cfg->today_given ? time_from_date(cfg->today, 16, 59, 59) : clock_now() - 1;
	faults_seed(cfg->seed);
	orgs_generate(&sb.orgs, &sb.n_orgs);
	fprintf(stderr, "billy-sandbox: generated %d organization(s) in %.2f s\n", sb.n_orgs, mono_now() - t0);

	/* the lines are written before serving starts: requests may rename orgs */
	for (int i = 0; i < sb.n_orgs; i++)
		buf_printf(&lines, "organization\t%s\t%s\t%s\t%s\n", sb.orgs[i]->id, sb.orgs[i]->token,
				   sb.base_url, sb.orgs[i]->name);
	buf_printf(&lines, "ready\t%s\t%d\n", sb.base_url, port);
	api_init();
	if (!http_start(fd, cfg->threads))
	{
		fprintf(stderr, "billy-sandbox: cannot start the HTTP server\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	fwrite(lines.p, 1, lines.len, stdout);
	fflush(stdout);
	buf_free(&lines);

	for (;;)
	{
		if (sigwait(&sigs, &sig) == 0 && (sig == SIGTERM || sig == SIGINT))
			break;
	}
	fprintf(stderr, "billy-sandbox: stopping (signal %d)\n", sig);
	http_stop();
	for (int i = 0; i < sb.n_orgs; i++)
		org_free(sb.orgs[i]);
	free(sb.orgs);
	return 0;
}
