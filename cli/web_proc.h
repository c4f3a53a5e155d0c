/* SPDX-License-Identifier: MIT */
/*
 * The agent's web server in its own process (issue 12): the root sampling
 * process opens no listening socket; it forks and executes `kiln server
 * --agent-fd 3` as an unprivileged user (no capabilities, no new
 * privileges, no descriptor of the sampler's but a control socket), which
 * opens the store itself. /metrics and /healthz ask the agent over the
 * control socket. A web process that dies is logged, counted and started
 * again; sampling and window writes never wait for it.
 *
 * Control protocol (SOCK_SEQPACKET, one message each):
 *   web -> agent  "P<port>"           listening (once per start)
 *   web -> agent  "m<seq>" / "h<seq>" metrics / health request
 *   agent -> web  "M<seq>\n<text>"    Prometheus text of the agent
 *   agent -> web  "H<seq>\n1" or "H<seq>\n0<reason>"
 */
#ifndef KILN_CLI_WEB_PROC_H
#define KILN_CLI_WEB_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The web process finds a store URL (which may hold a password) in this
 * environment variable when its --db says so. */
#define WEB_PROC_DB_ENV "KILN_WEB_STORE"

struct web_proc_opts {
	const char *db_path; /* as given; made absolute for the child */
	const char *listen;  /* NULL: 127.0.0.1:7070 */
	const char *auth_token_file;
	const char *public_url;
	bool enable_ingest;
	size_t max_upload_bytes;
	/* The user to run as; NULL: "kiln" when it exists, else "nobody".
	 * Ignored (with a warning) when the agent is not root. */
	const char *user;
	/* What the agent answers the web process with; called from the
	 * control thread, so they must be thread safe. */
	void (*metrics)(FILE *out, void *ctx);
	bool (*healthy)(void *ctx, char *reason, size_t size);
	void *ctx;
};

struct web_proc;

/*
 * Starts the web process and waits (up to 15 s) until it listens. Returns
 * NULL when it could not: *exit_code is then the web process's own exit
 * code (2 for a refused address, 3 for a runtime error such as a taken
 * port), and it has said why on stderr.
 */
struct web_proc *web_proc__start(const struct web_proc_opts *opts,
				 int *exit_code);

/* The port the web process listens on. */
int web_proc__port(const struct web_proc *wp);

/*
 * Nothing to do from the agent's loop: a thread of the agent answers the
 * web process's requests, notices its death and restarts it (after 1 s,
 * doubling up to 30 s while it keeps dying within a minute). Kept so the
 * loop's shape does not depend on that.
 */
void web_proc__tick(struct web_proc *wp);

/* Times the web process died and was restarted. */
uint64_t web_proc__restarts(const struct web_proc *wp);

/* Stops the web process (SIGTERM, then SIGKILL after 5 s). NULL ok. */
void web_proc__stop(struct web_proc *wp);

/*
 * The web process's side: metrics and health callbacks for web_opts that
 * ask the agent over 'fd', and the "listening" message.
 */
void web_proc__child_ready(int fd, int port);
void web_proc__child_metrics(FILE *out, void *ctx);
bool web_proc__child_healthy(void *ctx, char *reason, size_t size);

#endif
