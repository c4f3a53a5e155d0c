/* SPDX-License-Identifier: MIT */
/*
 * Container identity from the kernel's cgroup id. The BPF program records
 * the sampled task's cgroup id (bpf/profile.h: kiln_sample.cgroup_id), and
 * this cache turns an id into the container id found in the cgroup's path,
 * so that no /proc/PID/cgroup is opened for processes that may be gone.
 *
 * Which hierarchy the id belongs to is chosen once, at start: the unified
 * (cgroup v2) hierarchy when no cgroup v1 controller is mounted, else one
 * v1 controller's hierarchy (memory, pids, cpu, or the first mounted),
 * where container runtimes on v1 hosts put their containers. An id is
 * resolved with open_by_handle_at() on that hierarchy's mount (a kernfs
 * file handle is the id), three system calls once per cgroup.
 */
#ifndef KILN_CGROUPS_H
#define KILN_CGROUPS_H

#include <stdint.h>

struct cgroups;

/* Never NULL for lack of cgroups: ids then resolve to -EOPNOTSUPP. NULL
 * with errno ENOMEM only. */
struct cgroups *cgroups__new(void);
void cgroups__free(struct cgroups *c);

/*
 * The hierarchy the BPF program must read ids from: 0 for cgroup v2's,
 * else 1 + the v1 controller's index in /proc/cgroups (its kernel ssid).
 */
unsigned int cgroups__v1_controller(const struct cgroups *c);

/*
 * The container id (Docker's 12-digit short form) of cgroup 'id', NULL in
 * *container when its path names none or the cgroup is gone. The string
 * belongs to the cache, valid until the next call. Returns 0, or
 * -EOPNOTSUPP when ids cannot be resolved on this host (no mount, no
 * CAP_DAC_READ_SEARCH): read /proc/PID/cgroup instead.
 */
int cgroups__container(struct cgroups *c, uint64_t id, const char **container);

/* Cache size, for /metrics: ids held, and ids resolved so far. */
void cgroups__stats(const struct cgroups *c, uint64_t *held,
		    uint64_t *resolved);

/*
 * The container id in one line of /proc/PID/cgroup or a cgroup path: the
 * first run of exactly 64 hex digits (docker-<id>.scope,
 * cri-containerd-<id>, /docker/<id>), shortened to 12. Returns 'out', or
 * NULL when there is none.
 */
char *cgroups__container_in_path(const char *path, char out[13]);

#endif
