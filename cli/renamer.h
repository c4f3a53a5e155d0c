/* SPDX-License-Identifier: MIT */
/*
 * Names stored frames again when better debug info arrives (debuginfod):
 * the agent's windows keep each user frame's build id and file offset,
 * so once the symbolizer holds a debug file for a build id, the frames of
 * that build id already in the store are resolved again and renamed, and
 * windows written before the file arrived show the new names.
 *
 * Runs on the agent's sampling thread (the symbolizer is not thread
 * safe), between windows, in slices bounded in time: a large store is
 * renamed over several windows, never holding up sampling for long.
 */
#ifndef KILN_CLI_RENAMER_H
#define KILN_CLI_RENAMER_H

#include <stdbool.h>
#include <stdint.h>

struct renamer;
struct store;
struct symbolizer;

/* NULL with errno set. Both are borrowed for the renamer's life. */
struct renamer *renamer__new(struct store *st, struct symbolizer *sym);
void renamer__free(struct renamer *r);

/* Works for up to 'budget_ms' on what arrived; returns quickly when
 * nothing did. True when it stopped with a build id under way (out of
 * time, or its object is being read again: worth another step once
 * the symbolizer's loads are taken in). */
bool renamer__step(struct renamer *r, unsigned budget_ms);

struct renamer_stats {
	uint64_t build_ids; /* build ids whose frames were gone through */
	uint64_t frames;    /* stored frames resolved again */
	uint64_t renamed;   /* ... whose name changed */
};
void renamer__stats(const struct renamer *r, struct renamer_stats *out);

#endif
