// SPDX-License-Identifier: MIT
#include "profiler/cgroups.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"

/* Distinct cgroups held; past this the cache starts over (a host runs
 * far fewer containers, so only an id flood gets here). */
#define CACHE_SLOTS 4096
#define CACHE_MAX (CACHE_SLOTS * 3 / 4)

struct cgroup_slot {
	uint64_t id; /* 0: empty (no cgroup has id 0) */
	bool has_container;
	char container[13];
};

struct cgroups {
	int mount_fd; /* the chosen hierarchy's root, or -1 */
	int handle_type;
	unsigned int v1_controller;
	uint64_t nr, resolved;
	struct cgroup_slot slots[CACHE_SLOTS];
};

char *cgroups__container_in_path(const char *path, char out[13])
{
	for (const char *c = path; *c; c++) {
		size_t n = 0;

		while (isxdigit((unsigned char)c[n]))
			n++;
		if (n == 64) {
			memcpy(out, c, 12);
			out[12] = 0;
			return out;
		}
		c += n ? n - 1 : 0;
	}
	return NULL;
}

/* Whether the comma-separated 'opts' holds 'word'. */
static bool has_option(const char *opts, const char *word)
{
	size_t n = strlen(word);

	for (const char *o = opts; o; o = strchr(o, ',')) {
		if (*o == ',')
			o++;
		if (!strncmp(o, word, n) && (o[n] == ',' || !o[n]))
			return true;
	}
	return false;
}

/*
 * The mount point of the cgroup2 hierarchy (controller NULL) or of the v1
 * hierarchy holding 'controller', from /proc/self/mountinfo.
 */
static bool find_mount(const char *controller, char *out, size_t size)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char root[512], point[512], type[32], opts[512];
		const char *sep = strstr(line, " - ");

		line[strcspn(line, "\n")] = 0;
		if (!sep || strchr(line, '\\') ||
		    sscanf(line, "%*s %*s %*s %511s %511s", root, point) != 2 ||
		    sscanf(sep, " - %31s %*s %511s", type, opts) != 2 ||
		    strcmp(root, "/"))
			continue;
		if (controller ? !strcmp(type, "cgroup") &&
				     has_option(opts, controller)
			       : !strcmp(type, "cgroup2"))
			found = snprintf(out, size, "%s", point) < (int)size;
	}
	fclose(f);
	return found;
}

/*
 * The v1 controller whose hierarchy holds the container's cgroups: 1 + its
 * row in /proc/cgroups (rows are in kernel ssid order), and its name; 0
 * when no v1 controller is mounted (cgroup v2 only).
 */
static unsigned int pick_v1_controller(char *name, size_t size)
{
	static const char *const preferred[] = {"memory", "pids", "cpu"};
	char line[256], first[64] = "";
	unsigned int row = 0, pick = 0, first_row = 0, rank = 99;
	FILE *f = fopen("/proc/cgroups", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char ss[64];
		int hierarchy, enabled;

		if (line[0] == '#')
			continue;
		row++;
		if (sscanf(line, "%63s %d %*d %d", ss, &hierarchy, &enabled) !=
			3 ||
		    !hierarchy || !enabled)
			continue;
		if (!first_row) {
			first_row = row;
			snprintf(first, sizeof(first), "%s", ss);
		}
		for (unsigned int i = 0; i < 3 && i < rank; i++)
			if (!strcmp(ss, preferred[i])) {
				rank = i;
				pick = row;
				snprintf(name, size, "%s", ss);
			}
	}
	fclose(f);
	if (!pick && first_row) {
		pick = first_row;
		snprintf(name, size, "%s", first);
	}
	return pick;
}

static int open_id(struct cgroups *c, uint64_t id)
{
	struct {
		struct file_handle h;
		uint64_t id;
	} fh = {.h.handle_bytes = sizeof(uint64_t),
		.h.handle_type = c->handle_type};

	memcpy(fh.h.f_handle, &id, sizeof(id));
	return open_by_handle_at(c->mount_fd, &fh.h,
				 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

struct cgroups *cgroups__new(void)
{
	struct cgroups *c = calloc(1, sizeof(*c));
	char name[64] = "", point[512];
	struct {
		struct file_handle h;
		unsigned char bytes[64];
	} fh = {.h.handle_bytes = 64};
	uint64_t root_id;
	int mnt, fd;

	if (!c)
		return NULL;
	c->mount_fd = -1;
	c->v1_controller = pick_v1_controller(name, sizeof(name));
	if (!find_mount(c->v1_controller ? name : NULL, point, sizeof(point))) {
		pr_debug("cgroups: no %s%s mount: container ids from "
			 "/proc/PID/cgroup",
			 c->v1_controller ? "cgroup " : "cgroup2",
			 c->v1_controller ? name : "");
		return c;
	}
	c->mount_fd = open(point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* A kernfs handle is the 8-byte id; learn its type from the root. */
	if (c->mount_fd < 0 ||
	    name_to_handle_at(c->mount_fd, "", &fh.h, &mnt, AT_EMPTY_PATH) ||
	    fh.h.handle_bytes != sizeof(uint64_t))
		goto unsupported;
	c->handle_type = fh.h.handle_type;
	memcpy(&root_id, fh.h.f_handle, sizeof(root_id));
	fd = open_id(c, root_id);
	if (fd < 0)
		goto unsupported;
	close(fd);
	return c;
unsupported:
	pr_debug("cgroups: cannot resolve ids on '%s': %s", point,
		 strerror(errno));
	if (c->mount_fd >= 0)
		close(c->mount_fd);
	c->mount_fd = -1;
	return c;
}

void cgroups__free(struct cgroups *c)
{
	if (!c)
		return;
	if (c->mount_fd >= 0)
		close(c->mount_fd);
	free(c);
}

unsigned int cgroups__v1_controller(const struct cgroups *c)
{
	return c->v1_controller;
}

static struct cgroup_slot *slot_for(struct cgroups *c, uint64_t id)
{
	size_t i = (size_t)((id * 0x9E3779B97F4A7C15ull) >> 52) % CACHE_SLOTS;

	while (c->slots[i].id && c->slots[i].id != id)
		i = (i + 1) % CACHE_SLOTS;
	return &c->slots[i];
}

int cgroups__container(struct cgroups *c, uint64_t id, const char **container)
{
	struct cgroup_slot *s;
	char link[64], path[4096];
	ssize_t n;
	int fd;

	*container = NULL;
	if (c->mount_fd < 0)
		return -EOPNOTSUPP;
	if (!id)
		return 0;
	s = slot_for(c, id);
	if (s->id == id)
		goto out;
	if (c->nr >= CACHE_MAX) {
		memset(c->slots, 0, sizeof(c->slots));
		c->nr = 0;
		s = slot_for(c, id);
	}
	/* Gone (ESTALE) or unreadable: remembered as no container, since
	 * cgroup ids are never reused. */
	s->id = id;
	s->has_container = false;
	c->nr++;
	c->resolved++;
	fd = open_id(c, id);
	if (fd < 0)
		goto out;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	close(fd);
	if (n > 0) {
		path[n] = 0;
		s->has_container =
		    cgroups__container_in_path(path, s->container) != NULL;
	}
out:
	if (s->has_container)
		*container = s->container;
	return 0;
}

void cgroups__stats(const struct cgroups *c, uint64_t *held, uint64_t *resolved)
{
	*held = c->nr;
	*resolved = c->resolved;
}
