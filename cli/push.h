/* SPDX-License-Identifier: MIT */
/*
 * The agent's push thread (`kiln agent --push URL`): ships every window
 * spooled in the agent's store to a kiln server (POST /api/v1/push, the
 * storage/wire.h format) or to a Pyroscope-compatible /ingest (pprof per
 * window), oldest first, with retries, backoff and jitter. It has its own
 * store handle and never blocks sampling or window writes: the sampler
 * only spools (store__write_spooled) and calls push__wake().
 *
 * Delivery is at least once from the agent and exactly once in effect:
 * a window is dropped from the spool only after the server acknowledged
 * it (2xx, or 409 "already stored"), and the server dedupes by the
 * window's identity (agent instance id, window number).
 */
#ifndef KILN_PUSH_H
#define KILN_PUSH_H

#include <stdint.h>
#include <stdio.h>

enum push_format { PUSH_KILN = 0, PUSH_PYROSCOPE };

struct push_opts {
	const char *url;	/* http(s)://HOST:PORT[/prefix] */
	const char *token_file; /* bearer token, re-read after a 401 */
	const char *ca_file;	/* CA bundle for https; NULL: the system's */
	const char *db_path;	/* the agent's store */
	const char *host;	/* this host's name */
	const char *app;	/* Pyroscope application name */
	enum push_format format;
	uint64_t max_backoff_ns; /* 0 picks 30 s */
	uint64_t timeout_ns;	 /* per request; 0 picks 30 s */
};

struct push_stats {
	uint64_t windows_sent, samples_sent, bytes_sent;
	uint64_t retries, rejected, auth_failures;
	uint64_t pending; /* windows in the spool at the last look */
	double last_ok;	  /* unix seconds of the last acknowledgement */
};

struct pusher;

/* Checks the options (URL, token file), starts the thread. NULL with a
 * logged reason on error. */
struct pusher *push__start(const struct push_opts *opts);
/* A window was spooled: send it now rather than at the next poll. */
void push__wake(struct pusher *p);
/* Samples the agent lost so far, reported to the server. */
void push__set_lost(struct pusher *p, uint64_t lost_samples);
void push__stats(struct pusher *p, struct push_stats *out);
/* Prometheus lines for /metrics. */
void push__metrics(struct pusher *p, FILE *out);
/*
 * Stops the thread, first giving it up to 'drain_s' seconds to deliver
 * what is spooled (what is left stays spooled for the next start).
 */
void push__stop(struct pusher *p, double drain_s);

#endif
