/* SPDX-License-Identifier: MIT */
/*
 * Private to web/: the /api/v1/ handlers, free of civetweb so tests and
 * benches call them directly with a store. server.c does the HTTP part.
 */
#ifndef KILN_WEB_API_H
#define KILN_WEB_API_H

#include <stdint.h>

#include "storage/store.h"
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

#endif
