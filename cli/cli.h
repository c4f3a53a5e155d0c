/* SPDX-License-Identifier: MIT */
/* Small pieces every long-running command shares: stop signals, clocks. */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include <signal.h>
#include <stdint.h>

/* Set by SIGINT/SIGTERM once cli__catch_stop_signals() ran. */
extern volatile sig_atomic_t cli__stop;

/* SIGINT and SIGTERM set cli__stop (so the command can finish its work);
 * SIGPIPE is ignored (a closed socket or pipe is an error return). */
void cli__catch_stop_signals(void);

double cli__monotonic_s(void);
uint64_t cli__unix_ns(void);

#endif
