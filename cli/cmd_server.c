// SPDX-License-Identifier: MIT
/*
 * kiln server: serves a store's UI and API without sampling, for a database
 * copied from another host or one fed by uploads. Runs until SIGINT/SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/web_proc.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/timeparse.h"
#include "storage/store.h"
#include "web/server.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: kiln server --store URL [--listen [HOST:]PORT] "
	    "[--auth-token-file FILE]\n"
	    "\n"
	    "Serves the flame graph UI and the JSON API of a kiln store.\n"
	    "\n"
	    "  --store URL, --db PATH  the store to serve: a SQLite file "
	    "(PATH or\n"
	    "                          sqlite:PATH) or "
	    "clickhouse://[USER[:PASS]@]HOST\n"
	    "                          [:PORT]/DB (read only unless "
	    "--ingest)\n"
	    "  --init                  create the store's schema if it has "
	    "none\n"
	    "  --tls-cert FILE         serve https with this PEM "
	    "certificate (chain)\n"
	    "  --tls-key FILE          and this PEM private key\n"
	    "  --listen ADDR           IP:PORT or PORT (default "
	    "127.0.0.1:7070;\n"
	    "                          port 0 picks a free port)\n"
	    "  --auth-token-file FILE  require 'Authorization: Bearer "
	    "TOKEN' (the\n"
	    "                          file's content) on every request; "
	    "needed to\n"
	    "                          listen on a non-loopback address. "
	    "Browsers\n"
	    "                          log in once with "
	    "http://HOST:PORT/?token=TOKEN;\n"
	    "                          one token per line, any of them is "
	    "accepted\n"
	    "  --threads N             connections served at once (default "
	    "256)\n"
	    "  --ingest                accept POST /api/v1/ingest uploads, "
	    "agents'\n"
	    "                          windows (POST /api/v1/push, `kiln "
	    "agent --push`)\n"
	    "                          and Pyroscope's POST /ingest\n"
	    "                          (Content-Type text/x-folded or "
	    "application/\n"
	    "                          x-protobuf; browsers only from this "
	    "origin)\n"
	    "  --public-url URL        the http(s)://HOST[:PORT] users reach "
	    "this\n"
	    "                          server by, when not an IP address or "
	    "localhost\n"
	    "                          (other Host names are refused: DNS "
	    "rebinding)\n"
	    "  --max-upload SIZE       largest upload body (default 64MB)\n"
	    "  --push-batch-ms MS      on a ClickHouse store, write the "
	    "pushes that\n"
	    "                          arrive within MS together, each "
	    "answered once\n"
	    "                          written (default 200; 0: one at a "
	    "time)\n"
	    "  --retention DURATION    drop data older than this, checked "
	    "every minute\n"
	    "                          (ClickHouse drops whole hours)\n"
	    "  --max-size SIZE         drop the oldest data above this size\n"
	    "  -h, --help              this help\n"
	    "\n"
	    "The address actually bound is printed on stdout: 'listening "
	    "on http://...'.\n");
}

int cmd_server(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"store", required_argument, NULL, 'd'},
	    {"init", no_argument, NULL, 'I'},
	    {"listen", required_argument, NULL, 'l'},
	    {"auth-token-file", required_argument, NULL, 'a'},
	    {"threads", required_argument, NULL, 't'},
	    {"ingest", no_argument, NULL, 'i'},
	    {"tls-cert", required_argument, NULL, 'c'},
	    {"tls-key", required_argument, NULL, 'k'},
	    {"public-url", required_argument, NULL, 'u'},
	    {"max-upload", required_argument, NULL, 'U'},
	    {"retention", required_argument, NULL, 'r'},
	    {"max-size", required_argument, NULL, 'M'},
	    {"push-batch-ms", required_argument, NULL, 'B'},
	    /* Hidden: run as the agent's web process (cli/web_proc.h). */
	    {"agent-fd", required_argument, NULL, 'A'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct web_opts opts = {.listen = "127.0.0.1:7070",
				.push_batch_ms = 200};
	struct web_server *srv;
	struct store_opts ro = {0}; /* retention */
	struct store *st;
	const char *host;
	bool init = false;
	int agent_fd = -1;
	unsigned long v;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			opts.db_path = optarg;
			break;
		case 'l':
			opts.listen = optarg;
			break;
		case 'a':
			opts.auth_token_file = optarg;
			break;
		case 't':
			if (cli__uint(optarg, 4096, &v)) {
				pr_err("--threads must be 1..4096, not '%s'",
				       optarg);
				return EXIT_USAGE;
			}
			opts.threads = (int)v;
			break;
		case 'i':
			opts.enable_ingest = true;
			break;
		case 'c':
			opts.tls_cert = optarg;
			break;
		case 'k':
			opts.tls_key = optarg;
			break;
		case 'u':
			opts.public_url = optarg;
			break;
		case 'A':
			agent_fd = atoi(optarg);
			if (agent_fd < 3 || fcntl(agent_fd, F_GETFD) < 0) {
				pr_err("--agent-fd is for kiln agent");
				return EXIT_USAGE;
			}
			break;
		case 'U':
			if (cli__max_upload(optarg, &opts.max_upload_bytes))
				return EXIT_USAGE;
			break;
		case 'I':
			init = true;
			break;
		case 'B': {
			char *end;
			long ms;

			errno = 0;
			ms = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || ms < 0 ||
			    ms > 10000) {
				pr_err("--push-batch-ms must be 0..10000");
				return EXIT_USAGE;
			}
			opts.push_batch_ms = (int)ms;
			break;
		}
		case 'r':
			if (timeparse__duration(optarg, &ro.retention_ns)) {
				pr_err(
				    "--retention must be a duration (7d, 12h)");
				return EXIT_USAGE;
			}
			break;
		case 'M':
			if (timeparse__size(optarg, &ro.max_size_bytes)) {
				pr_err("--max-size must be a size (10GB)");
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (cli__extra_args(argc, argv))
		return EXIT_USAGE;
	/* The agent's web process: a URL with a password came by the
	 * environment, not argv (cli/web_proc.c). */
	if (agent_fd >= 0 && opts.db_path &&
	    !strcmp(opts.db_path, WEB_PROC_DB_ENV))
		opts.db_path = getenv(WEB_PROC_DB_ENV);
	if (!opts.db_path) {
		pr_err("--store URL is required");
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((opts.tls_cert != NULL) != (opts.tls_key != NULL)) {
		pr_err("--tls-cert and --tls-key go together");
		return EXIT_USAGE;
	}
	/* Fail now, with the store's own reason, rather than on every
	 * request; --init and --ingest create the schema when it is new. */
	st = store__open(&(struct store_opts){
	    .path = opts.db_path,
	    .read_only = !init && !opts.enable_ingest,
	});
	if (!st) {
		char name[512];

		store__redact(opts.db_path, name, sizeof(name));
		pr_err("cannot open the store '%s': %s", name, strerror(errno));
		return EXIT_RUNTIME;
	}
	store__close(st);

	cli__catch_stop_signals();

	if (agent_fd >= 0) {
		prctl(PR_SET_NAME, "kiln-web", 0, 0, 0);
		/* Other processes of the same user (nobody is shared) may
		 * not ptrace it or read its environment (the store URL). */
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
		opts.metrics = web_proc__child_metrics;
		opts.healthy = web_proc__child_healthy;
		opts.metrics_ctx = (void *)(intptr_t)agent_fd;
	}
	srv = web_server__start(&opts);
	if (!srv) {
		pr_err("cannot start: %s",
		       errno == EPERM
			   ? "a non-loopback --listen needs --auth-token-file"
			   : strerror(errno));
		return errno == EPERM || errno == EINVAL ? EXIT_USAGE
							 : EXIT_RUNTIME;
	}
	host = strchr(opts.listen, ':') ? opts.listen : "127.0.0.1";
	if (strchr(opts.listen, ':')) {
		/* Print the host part as given, with the port actually bound.
		 */
		printf("listening on %s://%.*s:%d/\n",
		       opts.tls_cert ? "https" : "http",
		       (int)(strrchr(opts.listen, ':') - opts.listen), host,
		       web_server__port(srv));
	} else {
		printf("listening on %s://127.0.0.1:%d/\n",
		       opts.tls_cert ? "https" : "http", web_server__port(srv));
	}
	fflush(stdout);
	if (agent_fd >= 0)
		web_proc__child_ready(agent_fd, web_server__port(srv));
	/* Retention, once a minute, through a handle of its own. */
	ro.path = opts.db_path;
	for (unsigned tick = 0; !cli__stop; tick++) {
		if ((ro.retention_ns || ro.max_size_bytes) && tick % 60 == 0) {
			st = store__open(&ro);
			if (st) {
				store__enforce_retention(st, clock__unix_ns());
				store__close(st);
			}
		}
		if (agent_fd >= 0) {
			/* The agent's web process goes when the agent goes. */
			struct pollfd pfd = {.fd = agent_fd};

			if (poll(&pfd, 1, 1000) > 0 &&
			    (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)))
				break;
		} else {
			sleep(1);
		}
	}
	web_server__stop(srv);
	return 0;
}
