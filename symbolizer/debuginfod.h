/* SPDX-License-Identifier: MIT */
/*
 * debuginfod client for the symbolizer: debug files fetched by build id in
 * a background thread, cached on disk under a byte limit, misses and
 * failures remembered so a server is not asked again for a while.
 */
#ifndef KILN_DEBUGINFOD_H
#define KILN_DEBUGINFOD_H

#include <stddef.h>
#include <stdint.h>

struct dbgd;

struct dbgd_opts {
	const char *urls;      /* space separated, as DEBUGINFOD_URLS */
	const char *cache_dir; /* created if missing */
	uint64_t cache_bytes;  /* 0: 2 GiB */
	uint64_t max_bytes;    /* largest file accepted; 0: 512 MiB */
	unsigned timeout_ms;   /* per request; 0: 30 s */
	unsigned retry_s;      /* after a failure (server down); 0: 60 s */
	unsigned miss_s;       /* after "not found" (404); 0: 600 s */
};

struct dbgd_stats {
	uint64_t requests, fetched, bytes, missing, failed;
	uint64_t too_big, timeouts, evicted;
};

/* Starts the client and its thread. NULL with errno set. */
struct dbgd *dbgd__new(const struct dbgd_opts *opts);
/* Stops the thread (waits for a transfer under way, bounded by its
 * timeout). NULL is fine. */
void dbgd__free(struct dbgd *d);

/*
 * Never blocks on the network. 0: the debug file of 'build_id' (lowercase
 * hex) is at 'path'; -EAGAIN: asked for, or to be asked again later;
 * -ENOENT: no server has it (remembered for a while); -EINVAL: bad id.
 */
int dbgd__lookup(struct dbgd *d, const char *build_id, char *path, size_t size);

void dbgd__stats(struct dbgd *d, struct dbgd_stats *out);

#endif
