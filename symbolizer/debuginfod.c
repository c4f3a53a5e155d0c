// SPDX-License-Identifier: MIT
/*
 * debuginfod client: debug files for build ids that have none locally,
 * fetched by a background thread, never on the sampling or symbolizing
 * path (lookups only read a table under a mutex).
 *
 * libcurl rather than elfutils' libdebuginfod: every request here has its
 * own bounds (total time, a low-speed cutoff, a byte limit enforced while
 * receiving), the disk cache is ours with a byte limit, misses are cached
 * in memory for a while, and nothing depends on process-wide environment
 * settings or opens a socket pair per object.
 *
 * A downloaded file is kept only if it is an ELF file carrying the build
 * id that was asked for: the server is not trusted either.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "symbolizer/debuginfod.h"
#include "symbolizer/sym_int.h"

#define MAX_ENTRIES 4096

enum dbgd_state { ST_QUEUED, ST_FETCHING, ST_READY, ST_MISSING, ST_FAILED };

struct dbgd_entry {
	char id[129];
	enum dbgd_state state;
	time_t retry_at; /* ST_MISSING / ST_FAILED: when to ask again */
	time_t used;	 /* last lookup, for eviction */
};

struct dbgd {
	struct dbgd_opts o;
	char *urls, *dir;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, started;
	struct dbgd_entry *e;
	size_t nr;
	struct dbgd_stats stats;
};

static time_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static bool valid_id(const char *id)
{
	size_t n = strspn(id, "0123456789abcdef");

	return n >= 2 && n <= 128 && !id[n] && !(n & 1);
}

static void cache_path(const struct dbgd *d, const char *id, char *buf,
		       size_t size)
{
	snprintf(buf, size, "%s/%s.debug", d->dir, id);
}

static struct dbgd_entry *find(struct dbgd *d, const char *id)
{
	for (size_t i = 0; i < d->nr; i++)
		if (!strcmp(d->e[i].id, id))
			return &d->e[i];
	return NULL;
}

/* ---- the worker ---- */

struct sink {
	FILE *f;
	uint64_t bytes, max;
	bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct sink *s = ctx;
	size_t len = size * n;

	if (len > s->max - s->bytes) {
		s->too_big = true;
		return 0; /* aborts the transfer */
	}
	s->bytes += len;
	return fwrite(p, 1, len, s->f) == len ? len : 0;
}

/* Removes the oldest cached files until the cache fits its limit. */
static void trim_cache(struct dbgd *d)
{
	struct cfile {
		char name[160];
		time_t mtime;
		uint64_t size;
	} *files = NULL;
	size_t nr = 0, cap = 0;
	uint64_t total = 0;
	struct dirent *de;
	DIR *dir = opendir(d->dir);

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		struct stat st;

		if (len < 7 || len >= sizeof(files->name) ||
		    strcmp(de->d_name + len - 6, ".debug") ||
		    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(st.st_mode))
			continue;
		if (nr == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct cfile *f = realloc(files, nc * sizeof(*f));

			if (!f)
				break;
			files = f;
			cap = nc;
		}
		memcpy(files[nr].name, de->d_name, len + 1);
		files[nr].mtime = st.st_mtime;
		files[nr].size = (uint64_t)st.st_size;
		total += files[nr++].size;
	}
	while (total > d->o.cache_bytes && nr) {
		size_t old = 0;

		for (size_t i = 1; i < nr; i++)
			if (files[i].mtime < files[old].mtime)
				old = i;
		unlinkat(dirfd(dir), files[old].name, 0);
		d->stats.evicted++;
		total -= files[old].size;
		files[old] = files[--nr];
	}
	closedir(dir);
	free(files);
}

/* 0: the file is at 'dst'; -ENOENT: no server has it; other: failed. */
static int fetch(struct dbgd *d, const char *id, const char *dst)
{
	char tmp[PATH_MAX], url[4096], *urls = strdup(d->urls), *save = NULL;
	int err = -ENOENT;

	if (!urls)
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), "%s/.%s.part", d->dir, id);
	for (char *u = strtok_r(urls, " \t", &save); u;
	     u = strtok_r(NULL, " \t", &save)) {
		size_t ul = strlen(u);
		struct sink s = {.max = d->o.max_bytes};
		long code = 0;
		CURLcode rc;
		CURL *c;

		while (ul && u[ul - 1] == '/')
			u[--ul] = 0;
		snprintf(url, sizeof(url), "%s/buildid/%s/debuginfo", u, id);
		s.f = fopen(tmp, "we");
		c = curl_easy_init();
		if (!s.f || !c) {
			if (s.f)
				fclose(s.f);
			curl_easy_cleanup(c);
			err = -EIO;
			break;
		}
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)d->o.timeout_ms);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
				 (long)d->o.timeout_ms);
		/* A trickle is cut off long before the total timeout. */
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
				 (long)(d->o.timeout_ms / 2000 + 1));
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
				 (curl_off_t)d->o.max_bytes);
		curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
		rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		curl_easy_cleanup(c);
		if (fclose(s.f) && rc == CURLE_OK)
			rc = CURLE_WRITE_ERROR;
		if (rc == CURLE_OK && code == 200) {
			uint8_t got[64], want[64];
			size_t n = strlen(id) / 2;
			int fd = open(tmp, O_RDONLY | O_CLOEXEC), len;

			for (size_t i = 0; i < n; i++)
				sscanf(id + 2 * i, "%2hhx", &want[i]);
			len = fd >= 0 ? fd__build_id(fd, got, sizeof(got)) : -1;
			if (fd >= 0)
				close(fd);
			if (len == (int)n && !memcmp(got, want, n) &&
			    !rename(tmp, dst)) {
				d->stats.fetched++;
				d->stats.bytes += s.bytes;
				err = 0;
				break;
			}
			pr_warn("debuginfod: '%s' sent a file that is not the "
				"debug file of build id %s",
				u, id);
			err = -EBADMSG;
		} else if (rc == CURLE_OK && code == 404) {
			continue; /* try the next server */
		} else {
			if (s.too_big || rc == CURLE_FILESIZE_EXCEEDED)
				d->stats.too_big++;
			else if (rc == CURLE_OPERATION_TIMEDOUT)
				d->stats.timeouts++;
			pr_debug("debuginfod: %s: %s (HTTP %ld)", url,
				 s.too_big ? "over the size limit"
					   : curl_easy_strerror(rc),
				 code);
			err = -EIO;
		}
	}
	unlink(tmp);
	free(urls);
	return err;
}

static void *worker(void *arg)
{
	struct dbgd *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		struct dbgd_entry *e = NULL;
		char id[129], dst[PATH_MAX];
		int err;

		for (size_t i = 0; i < d->nr && !e; i++)
			if (d->e[i].state == ST_QUEUED)
				e = &d->e[i];
		if (!e) {
			pthread_cond_wait(&d->cond, &d->lock);
			continue;
		}
		e->state = ST_FETCHING;
		memcpy(id, e->id, sizeof(id));
		pthread_mutex_unlock(&d->lock);

		cache_path(d, id, dst, sizeof(dst));
		err = fetch(d, id, dst);
		if (!err)
			trim_cache(d);

		pthread_mutex_lock(&d->lock);
		e = find(d, id); /* the table may have moved */
		if (!e)
			continue;
		if (!err) {
			e->state = ST_READY;
		} else if (err == -ENOENT) {
			e->state = ST_MISSING;
			e->retry_at = now_s() + (time_t)d->o.miss_s;
			d->stats.missing++;
		} else {
			e->state = ST_FAILED;
			e->retry_at = now_s() + (time_t)d->o.retry_s;
			d->stats.failed++;
		}
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* ---- the symbolizer's side ---- */

static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int mkdirs(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

struct dbgd *dbgd__new(const struct dbgd_opts *opts)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct dbgd *d;
	int err;

	if (!opts || !opts->urls || !opts->urls[0] || !opts->cache_dir) {
		errno = EINVAL;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->o = *opts;
	if (!d->o.timeout_ms)
		d->o.timeout_ms = 30000;
	if (!d->o.max_bytes)
		d->o.max_bytes = 512ULL << 20;
	if (!d->o.cache_bytes)
		d->o.cache_bytes = 2ULL << 30;
	if (!d->o.retry_s)
		d->o.retry_s = 60;
	if (!d->o.miss_s)
		d->o.miss_s = 600;
	d->urls = strdup(opts->urls);
	d->dir = strdup(opts->cache_dir);
	d->e = calloc(MAX_ENTRIES, sizeof(*d->e));
	if (!d->urls || !d->dir || !d->e) {
		err = -ENOMEM;
		goto fail;
	}
	err = mkdirs(d->dir);
	if (err) {
		pr_warn("debuginfod: cannot create the cache '%s': %s", d->dir,
			strerror(-err));
		goto fail;
	}
	pthread_once(&once, curl_init);
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	err = -pthread_create(&d->thread, NULL, worker, d);
	if (err) {
		pthread_cond_destroy(&d->cond);
		pthread_mutex_destroy(&d->lock);
		goto fail;
	}
	d->started = true;
	return d;
fail:
	free(d->urls);
	free(d->dir);
	free(d->e);
	free(d);
	errno = -err;
	return NULL;
}

void dbgd__free(struct dbgd *d)
{
	if (!d)
		return;
	if (d->started) {
		pthread_mutex_lock(&d->lock);
		d->stop = true;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		/* At most one transfer is under way, bounded by timeout_ms. */
		pthread_join(d->thread, NULL);
		pthread_cond_destroy(&d->cond);
		pthread_mutex_destroy(&d->lock);
	}
	if (d->stats.requests)
		pr_info("debuginfod: %llu requests, %llu fetched (%llu bytes), "
			"%llu not found, %llu failed (%llu over the size "
			"limit, %llu timed out), %llu evicted",
			(unsigned long long)d->stats.requests,
			(unsigned long long)d->stats.fetched,
			(unsigned long long)d->stats.bytes,
			(unsigned long long)d->stats.missing,
			(unsigned long long)d->stats.failed,
			(unsigned long long)d->stats.too_big,
			(unsigned long long)d->stats.timeouts,
			(unsigned long long)d->stats.evicted);
	free(d->urls);
	free(d->dir);
	free(d->e);
	free(d);
}

/* A slot for a new entry: a free one, else the least recently used that
 * is not being fetched. Called with the lock held. */
static struct dbgd_entry *new_entry(struct dbgd *d)
{
	struct dbgd_entry *old = NULL;

	if (d->nr < MAX_ENTRIES)
		return &d->e[d->nr++];
	for (size_t i = 0; i < d->nr; i++)
		if (d->e[i].state != ST_FETCHING &&
		    (!old || d->e[i].used < old->used))
			old = &d->e[i];
	return old;
}

int dbgd__lookup(struct dbgd *d, const char *build_id, char *path, size_t size)
{
	struct dbgd_entry *e;
	struct stat st;
	time_t now = now_s();
	int ret = -EAGAIN;

	if (!d || !build_id || !valid_id(build_id))
		return -EINVAL;
	cache_path(d, build_id, path, size);
	pthread_mutex_lock(&d->lock);
	e = find(d, build_id);
	if (!e) {
		e = new_entry(d);
		if (!e) {
			pthread_mutex_unlock(&d->lock);
			return -EAGAIN;
		}
		memset(e, 0, sizeof(*e));
		snprintf(e->id, sizeof(e->id), "%s", build_id);
		/* Fetched by an earlier run: the disk cache is enough. */
		e->state = !stat(path, &st) && S_ISREG(st.st_mode) ? ST_READY
								   : ST_QUEUED;
		if (e->state == ST_QUEUED) {
			d->stats.requests++;
			pthread_cond_signal(&d->cond);
		}
	}
	e->used = now;
	switch (e->state) {
	case ST_READY:
		/* Trimmed from the cache since: fetch it again. */
		if (stat(path, &st)) {
			e->state = ST_QUEUED;
			pthread_cond_signal(&d->cond);
			break;
		}
		ret = 0;
		break;
	case ST_MISSING:
	case ST_FAILED:
		if (now < e->retry_at) {
			ret = e->state == ST_MISSING ? -ENOENT : -EAGAIN;
			break;
		}
		e->state = ST_QUEUED;
		d->stats.requests++;
		pthread_cond_signal(&d->cond);
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

void dbgd__stats(struct dbgd *d, struct dbgd_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	*out = d->stats;
	pthread_mutex_unlock(&d->lock);
}
