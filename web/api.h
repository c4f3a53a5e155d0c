/* SPDX-License-Identifier: MIT */
/*
 * Private to web/: the /api/v1/ handlers, free of civetweb so tests and
 * benches call them directly with a store. server.c does the HTTP part.
 */
#ifndef KILN_WEB_API_H
#define KILN_WEB_API_H

#include <stdint.h>

#include "storage/store.h"
#include "storage/wire.h"
#include "web/web_int.h"

struct web_response {
	int status;
	const char *content_type;
	char disposition[160]; /* Content-Disposition, or "" */
	int retry_after;       /* seconds for Retry-After (503), or 0 */
	struct jbuf body;
};

struct api_ctx {
	struct store *st; /* read-only, owned by the caller */
	uint64_t now_ns;
	/* CLOCK_MONOTONIC time the request must be answered by; 0: none */
	uint64_t deadline_mono_ns;
};

void web_response__init(struct web_response *r);
void web_response__release(struct web_response *r);
/* Sets a JSON {"error": msg} body with 'status'. */
void web_response__error(struct web_response *r, int status, const char *fmt,
			 ...) __attribute__((format(printf, 3, 4)));

/*
 * Handles GET /api/v1/<path>?<qs> ('path' is after "/api/v1/"). Always
 * fills 'r' (status 200, 400, 404 or 500, JSON or a download).
 *
 * Beyond web/server.h's list, what the UI relies on:
 *   filter=KEY=V, KEY!=V, KEY=~RE, KEY!~RE (a_filter=, b_filter= alike):
 *     regexes match the whole value; != and regexes are resolved against
 *     the label's values in the range (at most 1024 per side)
 *   /timeline: "lost":{"points","total","window_ms","reasons":[{reason,
 *     count}]}, the collector's lost samples taken out of the series and
 *     spread over lost_window= (default 10s) before their time
 *   /heatmap: lost samples left out, "lost_excluded" says how many
 *   /labels/pid/values: "comms":{"PID":"COMM"} beside the values
 *   /flamegraph, /diff: functions=1 adds the top table (one store query);
 *     path=A;B;C gives the subtree under that path at max_nodes detail,
 *     the levels above holding only the path ("[other]" expansion)
 *   /lines?function=F: F's file:line rows (self, total) and up to 4
 *     source files with per-line counts, for absolute paths of regular
 *     source files named by F's frames (never a path from the request)
 *   /diff_report?format=markdown|text|json|svg (+ a_/b_ ranges): what
 *     `kiln diff` writes for the two ranges
 *   /export: path=COMM;F1;.. or focus=F keep the samples of that view
 */
void api__get(struct api_ctx *c, const char *path, const char *qs,
	      struct web_response *r);

/*
 * Handles POST /api/v1/ingest: 'body' is pprof or folded (ingest__parse),
 * query parameters label=key=value (repeatable), time= (default now),
 * plain_folded=1. 'c->st' must be writable. 413 over the parse limits.
 * In two steps so that only the write holds the store's write lock:
 * api__ingest_parse() returns the relabelled profile (the caller frees
 * it) or NULL with 'r' filled; api__ingest_write() stores it.
 */
struct profile *api__ingest_parse(struct api_ctx *c, const char *qs,
				  const void *body, size_t len,
				  const char *content_type,
				  struct web_response *r);
void api__ingest_write(struct api_ctx *c, struct profile *rel,
		       struct web_response *r);
void api__ingest(struct api_ctx *c, const char *qs, const void *body,
		 size_t len, const char *content_type, struct web_response *r);

/* ---- cluster endpoints (api_push.c) ---- */

/* A decoded push, ready to store. */
struct push_req {
	struct wire_header h;
	struct profile *p;
	struct profile *rel;	/* p with the host label, when it lacked it */
	char version[64];	/* X-Kiln-Version, sanitised */
	uint64_t pending, lost; /* X-Kiln-Pending, X-Kiln-Lost-Samples */
};

/*
 * Decodes a POST /api/v1/push body (no store needed, no lock held).
 * Returns 0, or -errno with 'r' set to the 4xx/5xx answer. Release 'out'
 * with api__push_release() either way.
 */
int api__push_parse(const void *body, size_t len, const char *version,
		    const char *pending, const char *lost, struct push_req *out,
		    struct web_response *r);
/* Stores a parsed push: 200, 409 (already stored), 503 (full disk). */
void api__push_store(struct store *st, struct push_req *req, uint64_t now_ns,
		     struct web_response *r);
/*
 * api__push_store in two halves, for a write of several pushes at once
 * (store__write_pushed_batch): what to write (0, or -ENOMEM with 'r' a
 * 500), then the answer for the write's result.
 */
int api__push_prepare(struct push_req *req, uint64_t now_ns,
		      struct store_pushed *out, struct web_response *r);
void api__push_answer(const struct store_pushed *w, int ret,
		      struct web_response *r);
void api__push_release(struct push_req *req);

/*
 * Pyroscope's POST /ingest?name=app{k=v}&from=&until=&format=&sampleRate=:
 * parses into *out (labels service_name=app and k=v, time 'from') or
 * sets 'r' to a 4xx answer and leaves *out NULL.
 */
void api__pyroscope_parse(const char *qs, const void *body, size_t len,
			  const char *content_type, uint64_t now_ns,
			  struct profile **out, struct web_response *r);
void api__pyroscope_store(struct store *st, const struct profile *p,
			  struct web_response *r);

/* GET /api/v1/hosts: every agent that pushed, with its last push and lag. */
void api__hosts(struct store *st, uint64_t now_ns, struct web_response *r);

#endif
