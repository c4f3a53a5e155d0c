/* SPDX-License-Identifier: MIT */
/*
 * kiln's HTTP server: the JSON API under /api/v1/, /metrics, /healthz and the
 * browser UI (web/ui/, embedded at build time). Used by `kiln server` and
 * embedded by `kiln agent`. civetweb is private to web/.
 *
 * API (all GET unless said; JSON; times as in `kiln query`: RFC 3339, unix
 * seconds, -15m, now; filter=key=value repeatable, same key ORs):
 *   /api/v1/labels                      {"names":[...]}
 *   /api/v1/labels/NAME/values          {"name":..,"values":[...]}
 *   /api/v1/timeline?step=&group_by=
 * {"step_ms":..,"series":[{"group":..,"points":[[t_ms,n]...]}]} /api/v1/heatmap
 * {"slot_ms":20,"slots":50,"columns":[[sec_ms,[50 counts]]...]}
 *   /api/v1/flamegraph?max_nodes=&match=  flamebearer-like tree, see
 * web/flame.c /api/v1/top?limit=&match=
 * {"total":..,"functions":[{name,kind,file,self,total}]}
 *   /api/v1/diff?a_from=&a_to=&a_filter=&b_from=&b_to=&b_filter=
 *   /api/v1/export?format=folded|pprof|speedscope|svg   the profile as a file
 *   POST /api/v1/ingest (when enabled and the ingest module exists)
 * Errors: {"error":"..."} with 400 (bad parameter), 401, 403 (a write
 * from another origin or with a form Content-Type), 404, 405, 413, 421
 * (Host not this server: DNS rebinding), 500 (a damaged store), 503 with
 * Retry-After (busy, or over a request's time or memory budget).
 */
#ifndef KILN_WEB_SERVER_H
#define KILN_WEB_SERVER_H

#include <stdbool.h>
#include <stdio.h>

#define WEB_DEFAULT_THREADS 256

struct web_opts {
	/* "HOST:PORT" or "PORT"; NULL means 127.0.0.1:7070. Port 0 picks a
	 * free port (see web_server__port). */
	const char *listen;
	/* File holding the bearer token; required unless 'listen' is a
	 * loopback address. */
	const char *auth_token_file;
	/* The store every request reads (each worker opens it read-only). */
	const char *db_path;
	/* Prometheus text for /metrics, appended after the server's own
	 * counters; called from a worker thread, so it must be thread safe. */
	void (*metrics)(FILE *out, void *ctx);
	void *metrics_ctx;
	/*
	 * "http(s)://HOST[:PORT]" users reach this server by (a reverse
	 * proxy, a DNS name): its Host and Origin are accepted besides IP
	 * literals and localhost. NULL: none.
	 */
	const char *public_url;
	/* /healthz: returns false and fills 'reason' when unhealthy (503
	 * with {"error": reason}); NULL means always healthy. Called from a
	 * worker thread, with metrics_ctx. */
	bool (*healthy)(void *ctx, char *reason, size_t size);
	/* Largest upload body accepted (413 above); 0 picks 64 MiB. */
	size_t max_upload_bytes;
	/* Accept POST /api/v1/ingest, /api/v1/push (agents) and /ingest
	 * (Pyroscope's API); these write to the store. */
	bool enable_ingest;
	/* PEM certificate and private key: serve https (civetweb's OpenSSL,
	 * loaded at run time as libssl.so). Both or neither. */
	const char *tls_cert, *tls_key;
	/*
	 * Worker threads (connections served at once; idle or slow clients
	 * hold one each until their deadline); 0 picks WEB_DEFAULT_THREADS.
	 * Heavy queries run at most max(2, CPUs) at a time whatever this is.
	 */
	int threads;
	/*
	 * With a store that writes pushes in batches (ClickHouse), a push
	 * waits up to this many milliseconds for others to be written with
	 * it (each is still answered only once written). 0: one at a time.
	 */
	int push_batch_ms;
};

struct web_server;

/*
 * Starts serving in background threads. Returns NULL with errno set and
 * one logged line saying why: EINVAL for a bad listen address, EPERM for a
 * non-loopback address without a token file, EADDRINUSE or other errors
 * from binding, ENOENT for an unreadable token file or database.
 */
struct web_server *web_server__start(const struct web_opts *opts);

/* The port actually bound (useful with port 0). */
int web_server__port(const struct web_server *srv);

/* Stops the workers (waiting for running requests) and frees. NULL ok. */
void web_server__stop(struct web_server *srv);

#endif
