// SPDX-License-Identifier: MIT
#include "profiler/sampler.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/log.h"
#include "profile.skel.h"

#define CAP_PERFMON_BIT 38
#define CAP_BPF_BIT 39
#define CAP_SYS_ADMIN_BIT 21

struct sampler {
	struct profile_bpf *skel;
	struct sampler_unwind_maps unwind;
	size_t objects_bytes; /* mmapped size */
	struct ring_buffer *rb;
	struct perf_buffer *task_pb;
	struct bpf_link **links;
	int *perf_fds;
	int nr_cpus;
	struct sampler_callbacks cb;
	uint64_t task_lost;
	unsigned int frequency;
	uint64_t records, record_bytes, bad_records;
	/* The record being delivered, unpacked to fixed places. */
	struct kiln_sample unpacked;
};

static int libbpf_log(enum libbpf_print_level level, const char *fmt,
		      va_list ap)
{
	/* libbpf is chatty; its messages matter only when debugging. */
	if (level == LIBBPF_DEBUG || log_level < LOG_DEBUG)
		return 0;
	log__vprintf(LOG_DEBUG, fmt, ap);
	return 0;
}

/* The effective capability mask, from /proc/self/status. */
static uint64_t effective_caps(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long caps = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	return caps;
}

static int check_privileges(void)
{
	uint64_t caps = effective_caps();
	bool bpf_ok =
	    (caps >> CAP_BPF_BIT & 1) && (caps >> CAP_PERFMON_BIT & 1);

	if (geteuid() == 0 || bpf_ok || (caps >> CAP_SYS_ADMIN_BIT & 1))
		return 0;
	pr_err("sampling needs root or CAP_BPF and CAP_PERFMON: run with sudo, "
	       "or `setcap cap_bpf,cap_perfmon=ep kiln`");
	return -EPERM;
}

static int check_btf(void)
{
	if (!access("/sys/kernel/btf/vmlinux", R_OK))
		return 0;
	pr_err("'/sys/kernel/btf/vmlinux' is missing: this kernel has no BTF; "
	       "kiln needs a kernel built with CONFIG_DEBUG_INFO_BTF=y");
	return -ENOENT;
}

uint64_t sampler__clock_offset(void)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return (uint64_t)(real.tv_sec - mono.tv_sec) * 1000000000ULL +
	       (uint64_t)(real.tv_nsec - mono.tv_nsec);
}

/* A length is a frame count up to KILN_MAX_STACK, or an -errno. */
static bool length_ok(int32_t len)
{
	return len >= -4095 && len <= KILN_MAX_STACK;
}

int sampler__unpack(const void *data, size_t size, struct kiln_sample *out)
{
	const char *frames = (const char *)data + KILN_SAMPLE_HEAD_SIZE;
	uint32_t nk, nu;

	if (size < KILN_SAMPLE_HEAD_SIZE)
		return -EINVAL;
	memcpy(out, data, KILN_SAMPLE_HEAD_SIZE);
	if (!length_ok(out->kstack_len) || !length_ok(out->ustack_len))
		return -EINVAL;
	nk = kiln_sample_frames(out->kstack_len);
	nu = kiln_sample_frames(out->ustack_len);
	if (size != KILN_SAMPLE_HEAD_SIZE + (size_t)(nk + nu) * sizeof(__u64))
		return -EINVAL;
	memcpy(out->kstack, frames, nk * sizeof(__u64));
	memcpy(out->ustack, frames + nk * sizeof(__u64), nu * sizeof(__u64));
	return 0;
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct sampler *s = ctx;

	/* What the record took in the ring buffer: an 8-byte header, the
	 * data rounded up to 8. */
	s->records++;
	s->record_bytes += 8 + ((size + 7) & ~(size_t)7);
	if (sampler__unpack(data, size, &s->unpacked)) {
		s->bad_records++;
		return 0;
	}
	if (s->cb.sample)
		s->cb.sample(&s->unpacked, s->cb.ctx);
	return 0;
}

/* Layouts of perf's side-band records (see linux/perf_event.h). */
struct mmap2_record {
	struct perf_event_header header;
	uint32_t pid, tid;
	uint64_t addr, len, pgoff;
	union {
		struct {
			uint32_t maj, min;
			uint64_t ino, ino_generation;
		};
		struct {
			uint8_t build_id_size;
			uint8_t reserved1;
			uint16_t reserved2;
			uint8_t build_id[20];
		};
	};
	uint32_t prot, flags;
	char filename[];
};

struct comm_record {
	struct perf_event_header header;
	uint32_t pid, tid;
	char comm[];
};

struct task_record {
	struct perf_event_header header;
	uint32_t pid, ppid, tid, ptid;
	uint64_t time;
};

struct lost_record {
	struct perf_event_header header;
	uint64_t id, lost;
};

static enum bpf_perf_event_ret on_task_record(void *ctx, int cpu,
					      struct perf_event_header *h)
{
	struct sampler *s = ctx;
	struct task_event e = {0};

	(void)cpu;
	switch (h->type) {
	case PERF_RECORD_MMAP2: {
		const struct mmap2_record *r = (const void *)h;

		e.type = TASK_MMAP;
		e.pid = r->pid;
		e.tid = r->tid;
		e.addr = r->addr;
		e.len = r->len;
		e.pgoff = r->pgoff;
		e.filename = r->filename;
		if (h->misc & PERF_RECORD_MISC_MMAP_BUILD_ID) {
			e.build_id = r->build_id;
			e.build_id_len =
			    r->build_id_size <= 20 ? r->build_id_size : 20;
		} else {
			e.dev = ((uint64_t)r->maj << 32) | r->min;
			e.ino = r->ino;
		}
		break;
	}
	case PERF_RECORD_COMM: {
		const struct comm_record *r = (const void *)h;

		e.type = TASK_COMM;
		e.pid = r->pid;
		e.tid = r->tid;
		e.comm = r->comm;
		e.exec = h->misc & PERF_RECORD_MISC_COMM_EXEC;
		break;
	}
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT: {
		const struct task_record *r = (const void *)h;

		e.type = h->type == PERF_RECORD_FORK ? TASK_FORK : TASK_EXIT;
		e.pid = r->pid;
		e.tid = r->tid;
		e.ppid = r->ppid;
		e.ptid = r->ptid;
		break;
	}
	case PERF_RECORD_LOST:
		s->task_lost += ((const struct lost_record *)h)->lost;
		return LIBBPF_PERF_EVENT_CONT;
	default:
		return LIBBPF_PERF_EVENT_CONT;
	}
	if (s->cb.task)
		s->cb.task(&e, s->cb.ctx);
	return LIBBPF_PERF_EVENT_CONT;
}

static int open_task_events(struct sampler *s)
{
	struct perf_event_attr attr = {
	    .type = PERF_TYPE_SOFTWARE,
	    .config = PERF_COUNT_SW_DUMMY,
	    .size = sizeof(attr),
	    .mmap = 1,
	    .mmap2 = 1,
	    .comm = 1,
	    .comm_exec = 1,
	    .task = 1,
	    .build_id = 1,
	    .sample_period = 1,
	    /* Wake on every record: a new file must reach the unwinder
	     * soon after its first mapping (a short-lived gzip runs
	     * for a few tens of milliseconds), and its files must be opened
	     * while /proc/PID/map_files still reaches them. Side-band records
	     * are not samples, so wakeup_events would not count them: a
	     * byte watermark does. */
	    .watermark = 1,
	    .wakeup_watermark = 1,
	};

	s->task_pb =
	    perf_buffer__new_raw(bpf_map__fd(s->skel->maps.task_events), 64,
				 &attr, on_task_record, s, NULL);
	if (!s->task_pb) {
		int err = -errno;

		pr_err("failed to open task event buffers: %s", strerror(-err));
		return err;
	}
	return 0;
}

static int attach_cpu_clock(struct sampler *s, unsigned int frequency)
{
	struct perf_event_attr attr = {
	    .type = PERF_TYPE_SOFTWARE,
	    .config = PERF_COUNT_SW_CPU_CLOCK,
	    .size = sizeof(attr),
	    .freq = 1,
	    .sample_freq = frequency,
	};
	int attached = 0;

	for (int cpu = 0; cpu < s->nr_cpus; cpu++) {
		int fd = (int)syscall(__NR_perf_event_open, &attr, -1, cpu, -1,
				      PERF_FLAG_FD_CLOEXEC);

		if (fd < 0) {
			/* An offline CPU has no event; that is fine. */
			if (errno == ENODEV)
				continue;
			int err = -errno;
			pr_err("failed to open a cpu-clock perf event on CPU "
			       "%d: %s",
			       cpu, strerror(-err));
			return err;
		}
		s->perf_fds[cpu] = fd;
		s->links[cpu] = bpf_program__attach_perf_event(
		    s->skel->progs.sample_stack, fd);
		if (!s->links[cpu]) {
			int err = -errno;
			pr_err("failed to attach the BPF program on CPU %d: %s",
			       cpu, strerror(-err));
			return err;
		}
		attached++;
	}
	return attached ? 0 : -ENODEV;
}

/*
 * Room for half a second of samples from every CPU at their largest (both
 * stacks 127 frames deep): the loop drains it every 100 ms, so a stall of
 * a few polls loses nothing. Records are sized to their stacks, ~150-190
 * bytes on a whole system, so it holds ten times that in practice (1 MB,
 * the minimum: ~5,600 samples). The kernel maps
 * the data pages twice, so every byte here costs two in RSS; don't
 * oversize it.
 */
static size_t ringbuf_size(int nr_cpus, unsigned int frequency)
{
	size_t want =
	    (size_t)nr_cpus * frequency * sizeof(struct kiln_sample) / 2;
	size_t size = 1 << 20;

	while (size < want && size < (256u << 20))
		size <<= 1;
	return size;
}

static void *map_array(struct bpf_map *map, size_t *bytes)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t size =
	    (size_t)bpf_map__value_size(map) * bpf_map__max_entries(map);
	void *p;

	size = (size + (size_t)page - 1) & ~((size_t)page - 1);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 bpf_map__fd(map), 0);
	if (p == MAP_FAILED)
		return NULL;
	*bytes = size;
	return p;
}

static int map_unwind(struct sampler *s)
{
	s->unwind.rows_fd = bpf_map__fd(s->skel->maps.unwind_rows);
	s->unwind.objects =
	    map_array(s->skel->maps.unwind_objects, &s->objects_bytes);
	if (!s->unwind.objects) {
		int err = -errno;

		pr_err("failed to map the unwind tables: %s", strerror(-err));
		return err;
	}
	s->unwind.unknown_fd = bpf_map__fd(s->skel->maps.unwind_unknown);
	s->unwind.files_fd = bpf_map__fd(s->skel->maps.unwind_files);
	return 0;
}

bool sampler__pid_sampled(struct sampler *s, int pid)
{
	uint32_t key = (uint32_t)pid;
	uint8_t v;

	if (!s->skel->rodata->filter_pids)
		return true;
	return !bpf_map__lookup_elem(s->skel->maps.pids, &key, sizeof(key), &v,
				     sizeof(v), 0);
}

int sampler__unwind_maps(struct sampler *s, struct sampler_unwind_maps *out)
{
	if (!s->unwind.objects)
		return -ENOENT;
	*out = s->unwind;
	return 0;
}

struct sampler *sampler__new(const struct sampler_opts *opts,
			     const struct sampler_callbacks *cb)
{
	struct sampler *s;
	int err;

	err = check_privileges();
	if (!err)
		err = check_btf();
	if (err) {
		errno = -err;
		return NULL;
	}
	libbpf_set_print(libbpf_log);
	s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->cb = *cb;
	s->nr_cpus = libbpf_num_possible_cpus();
	if (s->nr_cpus <= 0) {
		err = -ENODEV;
		goto err_free;
	}
	s->perf_fds = malloc(s->nr_cpus * sizeof(*s->perf_fds));
	s->links = calloc(s->nr_cpus, sizeof(*s->links));
	if (!s->perf_fds || !s->links) {
		err = -ENOMEM;
		goto err_free;
	}
	for (int i = 0; i < s->nr_cpus; i++)
		s->perf_fds[i] = -1;

	s->skel = profile_bpf__open();
	if (!s->skel) {
		err = -errno;
		pr_err("failed to open the BPF program: %s", strerror(-err));
		goto err_free;
	}
	s->skel->rodata->filter_pids = opts->nr_pids > 0;
	s->skel->rodata->want_kernel = opts->kernel_stacks;
	s->skel->rodata->want_user = opts->user_stacks;
	s->skel->rodata->include_idle = opts->include_idle;
	s->skel->rodata->cgroup_v1_controller = opts->cgroup_v1_controller;
	size_t rb_size = opts->ringbuf_bytes
			     ? opts->ringbuf_bytes
			     : ringbuf_size(s->nr_cpus, opts->frequency);
	bpf_map__set_max_entries(s->skel->maps.samples, rb_size);
	s->skel->rodata->unwind_mode = opts->unwind_mode;
	if (opts->unwind_mode == KILN_UNWIND_MODE_CFI) {
		s->unwind.nr_rows =
		    opts->unwind_rows ? opts->unwind_rows : 4u << 20;
		s->unwind.nr_objects =
		    opts->unwind_objects ? opts->unwind_objects : 16384;
		/* Chunks of the row array: made by the unwinder as needed. */
		bpf_map__set_max_entries(
		    s->skel->maps.unwind_rows,
		    (s->unwind.nr_rows + KILN_UNWIND_CHUNK_ROWS - 1) /
			KILN_UNWIND_CHUNK_ROWS);
		bpf_map__set_max_entries(s->skel->maps.unwind_objects,
					 s->unwind.nr_objects);
		bpf_map__set_max_entries(s->skel->maps.unwind_files,
					 s->unwind.nr_objects);
		bpf_map__set_max_entries(s->skel->maps.unwind_pcs,
					 s->nr_cpus * KILN_UNWIND_PCS_PER_CPU);
	}
	/* The loop drains every 100 ms; a wakeup is only needed when the
	 * buffer fills faster than that. */
	s->skel->rodata->wakeup_bytes = rb_size / 4;
	s->skel->rodata->ring_bytes = rb_size;
	err = profile_bpf__load(s->skel);
	if (err) {
		pr_err("failed to load the BPF program: %s%s", strerror(-err),
		       err == -EPERM ? " (needs root or CAP_BPF+CAP_PERFMON)"
				     : "");
		goto err_destroy;
	}
	if (opts->unwind_mode == KILN_UNWIND_MODE_CFI) {
		err = map_unwind(s);
		if (err)
			goto err_destroy;
	}
	for (size_t i = 0; i < opts->nr_pids; i++) {
		uint32_t pid = (uint32_t)opts->pids[i];
		uint8_t one = 1;

		err =
		    bpf_map__update_elem(s->skel->maps.pids, &pid, sizeof(pid),
					 &one, sizeof(one), BPF_ANY);
		if (err) {
			pr_err("failed to add pid %u to the sampled set: %s",
			       pid, strerror(-err));
			goto err_destroy;
		}
	}
	err = profile_bpf__attach(s->skel); /* the fork tracker */
	if (err) {
		pr_err("failed to attach the fork tracker: %s", strerror(-err));
		goto err_destroy;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.samples), on_sample,
				 s, NULL);
	if (!s->rb) {
		err = -errno;
		pr_err("failed to open the sample ring buffer: %s",
		       strerror(-err));
		goto err_destroy;
	}
	/* Task events first, so no mmap between a /proc scan and sampling
	 * is missed; sampling starts with sampler__start(). */
	err = open_task_events(s);
	if (err)
		goto err_destroy;
	s->frequency = opts->frequency;
	return s;

err_destroy:
	sampler__free(s);
	errno = -err;
	return NULL;
err_free:
	free(s->perf_fds);
	free(s->links);
	free(s);
	errno = -err;
	return NULL;
}

int sampler__start(struct sampler *s)
{
	return attach_cpu_clock(s, s->frequency);
}

void sampler__free(struct sampler *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nr_cpus; i++) {
		bpf_link__destroy(s->links[i]);
		if (s->perf_fds[i] >= 0)
			close(s->perf_fds[i]);
	}
	perf_buffer__free(s->task_pb);
	ring_buffer__free(s->rb);
	if (s->unwind.objects)
		munmap(s->unwind.objects, s->objects_bytes);
	profile_bpf__destroy(s->skel);
	free(s->links);
	free(s->perf_fds);
	free(s);
}

int sampler__poll(struct sampler *s, int timeout_ms)
{
	struct pollfd fds[2] = {
	    {.fd = ring_buffer__epoll_fd(s->rb), .events = POLLIN},
	    {.fd = perf_buffer__epoll_fd(s->task_pb), .events = POLLIN},
	};
	int err;

	if (poll(fds, 2, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	/* Task events first: a sample's mappings must be known before it. */
	err = perf_buffer__consume(s->task_pb);
	if (err < 0 && err != -EINTR)
		return err;
	err = ring_buffer__consume(s->rb);
	if (err < 0 && err != -EINTR)
		return err;
	err = perf_buffer__consume(s->task_pb);
	return err < 0 && err != -EINTR ? err : 0;
}

int sampler__stats(struct sampler *s, struct sampler_stats *out)
{
	uint64_t totals[KILN_STAT_MAX] = {0};
	uint64_t *values = calloc(s->nr_cpus, sizeof(*values));

	if (!values)
		return -ENOMEM;
	for (uint32_t key = 0; key < KILN_STAT_MAX; key++) {
		if (bpf_map__lookup_elem(s->skel->maps.stats, &key, sizeof(key),
					 values, s->nr_cpus * sizeof(*values),
					 0))
			continue;
		for (int cpu = 0; cpu < s->nr_cpus; cpu++)
			totals[key] += values[cpu];
	}
	free(values);
	out->samples = totals[KILN_STAT_SAMPLES];
	out->filtered = totals[KILN_STAT_FILTERED];
	out->ringbuf_full = totals[KILN_STAT_RINGBUF_FULL];
	out->kstack_errors = totals[KILN_STAT_KSTACK_ERROR];
	out->ustack_errors = totals[KILN_STAT_USTACK_ERROR];
	out->kstack_truncated = totals[KILN_STAT_KSTACK_TRUNCATED];
	out->ustack_truncated = totals[KILN_STAT_USTACK_TRUNCATED];
	out->pids_full = totals[KILN_STAT_PIDS_FULL];
	for (int i = 0; i < KILN_UNWIND_END_MAX; i++)
		out->unwind_end[i] = totals[KILN_STAT_UNWIND_END + i];
	out->cfi_frames = totals[KILN_STAT_CFI_FRAMES];
	out->fp_frames = totals[KILN_STAT_FP_FRAMES];
	out->task_events_lost = s->task_lost;
	out->records = s->records;
	out->record_bytes = s->record_bytes;
	out->bad_records = s->bad_records;
	return 0;
}
