// SPDX-License-Identifier: MIT
/*
 * The agent's push thread: spool -> HTTP (libcurl). See push.h for the
 * delivery contract. One request at a time, oldest window first: a
 * window is never acknowledged before every older one, so "what the
 * server has" is always a prefix of the spool.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/push.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "profile/format.h"
#include "storage/store.h"
#include "storage/wire.h"

#ifndef KILN_BUILD_ID
#define KILN_BUILD_ID "dev"
#endif

#define MAX_TOKEN 512
#define MAX_REPLY 4096
#define MIN_BACKOFF_S 0.5
#define LOG_EVERY_S 60.0
#define IDLE_POLL_S 1.0
/* A window the server refuses as bad (400, 413, 422) is tried this many
 * times, then dropped and counted, so one bad window cannot stall the
 * ones behind it forever. */
#define MAX_REJECTS 3

enum outcome { SENT, RETRY, AUTH, REJECTED };

struct pusher {
	struct push_opts o;
	char *url, *token_file, *ca_file, *db_path, *host, *app;
	char token[MAX_TOKEN + 1];
	pthread_t thread;
	bool started;

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t cond;
	bool stop, wake;
	double drain_until; /* monotonic seconds, while stopping */
	uint64_t lost;
	struct push_stats stats;

	/* the thread's own */
	CURL *curl;
	struct store *st;
	uint64_t instance;
	char reply[MAX_REPLY + 1];
	size_t reply_len;
	char curl_err[CURL_ERROR_SIZE];
	double last_log;
	const char *last_fmt; /* the kind of failure last logged */
	bool fresh; /* the last request failed: a new connection next */
	int rejects;
	uint64_t reject_seq;
};

static double unix_s(void)
{
	return (double)clock__unix_ns() / 1e9;
}

static int read_token(const char *path, char *out)
{
	char buf[MAX_TOKEN + 2];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		pr_err("push: cannot read token file '%s': %s", path,
		       strerror(errno));
		return -errno;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		pr_err("push: cannot read token file '%s': %s", path,
		       strerror(errno));
		return -EIO;
	}
	buf[n] = '\0';
	/* The first line: a server may hold several, an agent sends one. */
	buf[strcspn(buf, "\r\n")] = '\0';
	n = (ssize_t)strlen(buf);
	while (n && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	if (!n || n > MAX_TOKEN) {
		pr_err("push: token file '%s' must hold a token of 1..%d "
		       "characters on its first line",
		       path, MAX_TOKEN);
		return -EINVAL;
	}
	memcpy(out, buf, (size_t)n + 1);
	return 0;
}

static size_t on_reply(char *data, size_t size, size_t n, void *ctx)
{
	struct pusher *p = ctx;
	size_t len = size * n, room = MAX_REPLY - p->reply_len;

	memcpy(p->reply + p->reply_len, data, len < room ? len : room);
	p->reply_len += len < room ? len : room;
	p->reply[p->reply_len] = '\0';
	return len;
}

/* Logs the same kind of failure at most once a minute; a different kind
 * (the server back, but with its disk full) at once. */
static void log_failure(struct pusher *p, const char *fmt, const char *what)
{
	double now = clock__mono_s();

	if (p->last_log && fmt == p->last_fmt &&
	    now - p->last_log < LOG_EVERY_S)
		return;
	p->last_log = now;
	p->last_fmt = fmt;
	pr_warn(fmt, what);
}

/* Percent-encodes 's' for a query string value. */
static void url_encode(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
			fputc(c, out);
		else
			fprintf(out, "%%%02X", c);
	}
}

static enum outcome post(struct pusher *p, const char *url, const void *body,
			 size_t len, const char *type, uint64_t pending)
{
	struct curl_slist *hdrs = NULL;
	char h[MAX_TOKEN + 64];
	long status = 0;
	CURLcode rc;

	snprintf(h, sizeof(h), "Content-Type: %s", type);
	hdrs = curl_slist_append(hdrs, h);
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (p->token[0]) {
		snprintf(h, sizeof(h), "Authorization: Bearer %s", p->token);
		hdrs = curl_slist_append(hdrs, h);
	}
	snprintf(h, sizeof(h), "X-Kiln-Version: %s", KILN_BUILD_ID);
	hdrs = curl_slist_append(hdrs, h);
	snprintf(h, sizeof(h), "X-Kiln-Pending: %llu",
		 (unsigned long long)pending);
	hdrs = curl_slist_append(hdrs, h);
	pthread_mutex_lock(&p->lock);
	snprintf(h, sizeof(h), "X-Kiln-Lost-Samples: %llu",
		 (unsigned long long)p->lost);
	pthread_mutex_unlock(&p->lock);
	hdrs = curl_slist_append(hdrs, h);

	p->reply_len = 0;
	p->reply[0] = '\0';
	p->curl_err[0] = '\0';
	curl_easy_setopt(p->curl, CURLOPT_URL, url);
	curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	/* After a failure (a server restarted, with another certificate) no
	 * cached connection is reused. */
	curl_easy_setopt(p->curl, CURLOPT_FRESH_CONNECT, p->fresh ? 1L : 0L);
	rc = curl_easy_perform(p->curl);
	p->fresh = rc != CURLE_OK;
	curl_slist_free_all(hdrs);
	if (rc == CURLE_PEER_FAILED_VERIFICATION) {
		/* An expired, unknown or misnamed certificate: say so, the
		 * operator fixes the server or --push-ca, not the network. */
		log_failure(p,
			    "push: the server's TLS certificate is not "
			    "accepted: %s (fix the certificate or --push-ca; "
			    "will retry, windows stay spooled)",
			    p->curl_err[0] ? p->curl_err
					   : curl_easy_strerror(rc));
		return RETRY;
	}
	if (rc != CURLE_OK) {
		log_failure(p,
			    "push: cannot reach the server: %s (will retry; "
			    "windows stay spooled)",
			    p->curl_err[0] ? p->curl_err
					   : curl_easy_strerror(rc));
		return RETRY;
	}
	curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300)
		return SENT;
	if (status == 409)
		return SENT; /* already stored: a retry of a delivered window */
	if (status == 401 || status == 403) {
		log_failure(p,
			    "push: the server refused the token (%s): "
			    "check --push-token-file; samples are kept",
			    status == 401 ? "401" : "403");
		return AUTH;
	}
	if (status == 421) {
		log_failure(p,
			    "push: the server refuses the host name in %s: "
			    "start it with --public-url set to that URL "
			    "(windows stay spooled)",
			    p->url);
		return RETRY;
	}
	if (status == 400 || status == 413 || status == 422) {
		pr_warn("push: the server refused a window (HTTP %ld): %.200s",
			status, p->reply);
		return REJECTED;
	}
	{
		char what[64];

		snprintf(what, sizeof(what), "HTTP %ld", status);
		log_failure(p,
			    "push: the server answered %s (will retry; "
			    "windows stay spooled)",
			    what);
	}
	return RETRY;
}

static enum outcome send_kiln(struct pusher *p, const struct store_spooled *sp,
			      uint64_t pending, size_t *bytes)
{
	struct wire_header h = {.instance = p->instance,
				.seq = sp->seq,
				.start_ns = sp->start_ns,
				.end_ns = sp->end_ns,
				.samples = sp->samples};
	char url[2048];
	uint8_t *frame;
	size_t len;
	enum outcome r;

	snprintf(h.host, sizeof(h.host), "%s", p->host);
	if (wire__frame(&h, sp->raw_len, sp->data, sp->len, &frame, &len))
		return RETRY;
	snprintf(url, sizeof(url), "%s/api/v1/push", p->url);
	r = post(p, url, frame, len, "application/x-kiln-window", pending);
	*bytes = len;
	free(frame);
	return r;
}

static enum outcome send_pyroscope(struct pusher *p,
				   const struct store_spooled *sp,
				   uint64_t pending, size_t *bytes)
{
	struct wire_header h = {.instance = p->instance,
				.seq = sp->seq,
				.start_ns = sp->start_ns,
				.end_ns = sp->end_ns,
				.samples = sp->samples};
	struct profile *prof = profile__new();
	char *url = NULL, *pb = NULL, err[256];
	size_t ulen = 0, pblen = 0, len;
	uint8_t *frame = NULL;
	enum outcome r = REJECTED;
	FILE *f;

	snprintf(h.host, sizeof(h.host), "%s", p->host);
	if (!prof ||
	    wire__frame(&h, sp->raw_len, sp->data, sp->len, &frame, &len)) {
		r = RETRY;
		goto out;
	}
	if (wire__decode(frame, len, NULL, &h, prof, err, sizeof(err))) {
		pr_warn("push: spooled window %llu is unreadable: %s",
			(unsigned long long)sp->seq, err);
		goto out;
	}
	f = open_memstream(&pb, &pblen);
	if (!f || pprof__write(prof, NULL, f)) {
		if (f)
			fclose(f);
		r = RETRY;
		goto out;
	}
	fclose(f);
	f = open_memstream(&url, &ulen);
	if (!f) {
		r = RETRY;
		goto out;
	}
	fprintf(f, "%s/ingest?name=", p->url);
	{
		char name[1024];

		snprintf(name, sizeof(name), "%s{host=%s}", p->app, p->host);
		url_encode(f, name);
	}
	uint64_t period = profile__meta(prof)->period_ns;
	fprintf(
	    f, "&from=%llu&until=%llu&format=pprof&spyName=kiln",
	    (unsigned long long)(sp->start_ns / 1000000000ULL),
	    (unsigned long long)((sp->end_ns + 999999999ULL) / 1000000000ULL));
	if (period)
		fprintf(f, "&sampleRate=%llu",
			(unsigned long long)((1000000000ULL + period / 2) /
					     period));
	fclose(f);
	r = post(p, url, pb, pblen, "application/octet-stream", pending);
	*bytes = pblen;
out:
	free(url);
	free(pb);
	free(frame);
	profile__free(prof);
	return r;
}

/* Cuts a request short once a stopping agent's drain time is over. */
static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	struct pusher *p = ctx;
	bool cut;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	pthread_mutex_lock(&p->lock);
	cut = p->stop && clock__mono_s() >= p->drain_until;
	pthread_mutex_unlock(&p->lock);
	return cut;
}

/* Waits until woken, stopped or 's' seconds passed. */
static void nap(struct pusher *p, double s)
{
	struct timespec ts;
	double until;

	clock_gettime(CLOCK_REALTIME, &ts);
	until = (double)ts.tv_sec + ts.tv_nsec / 1e9 + s;
	ts.tv_sec = (time_t)until;
	ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
	pthread_mutex_lock(&p->lock);
	while (!p->wake && !p->stop &&
	       pthread_cond_timedwait(&p->cond, &p->lock, &ts) == 0)
		;
	p->wake = false;
	pthread_mutex_unlock(&p->lock);
}

/* Sleeps out a backoff; false when stopping (no more retries then). */
static bool backoff(struct pusher *p, double *cur)
{
	double max = (double)p->o.max_backoff_ns / 1e9, s;
	uint32_t r = 0;
	struct timespec ts;

	*cur = *cur ? *cur * 2 : MIN_BACKOFF_S;
	if (*cur > max)
		*cur = max;
	/* Jitter: half fixed, half random, so a fleet that lost its server
	 * together does not come back together. */
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)rand();
	s = *cur / 2 + *cur / 2 * (r / 4294967296.0);
	pthread_mutex_lock(&p->lock);
	if (p->stop) {
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	double until = (double)ts.tv_sec + ts.tv_nsec / 1e9 + s;
	ts.tv_sec = (time_t)until;
	ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
	while (!p->stop && pthread_cond_timedwait(&p->cond, &p->lock, &ts) == 0)
		;
	bool go_on = !p->stop;
	pthread_mutex_unlock(&p->lock);
	return go_on;
}

static bool stopping(struct pusher *p, bool *draining)
{
	bool stop;

	pthread_mutex_lock(&p->lock);
	stop = p->stop && clock__mono_s() >= p->drain_until;
	*draining = p->stop;
	pthread_mutex_unlock(&p->lock);
	return stop;
}

static void *push_thread(void *arg)
{
	struct pusher *p = arg;
	struct store_spooled sp;
	struct store_spool_stats ss;
	double cur_backoff = 0;
	uint64_t after = 0;
	bool draining;

	for (;;) {
		if (stopping(p, &draining))
			break;
		int err = store__spool_next(p->st, after, &sp);

		if (err == -ENOENT) {
			if (draining)
				break;
			nap(p, IDLE_POLL_S);
			continue;
		}
		if (err) {
			if (draining)
				break;
			nap(p, IDLE_POLL_S);
			continue;
		}
		if (store__spool_stats(p->st, &ss))
			ss.pending = 0;
		size_t bytes = 0;
		/* Waiting behind the window on its way. */
		uint64_t behind = ss.pending ? ss.pending - 1 : 0;
		enum outcome r = p->o.format == PUSH_PYROSCOPE
				     ? send_pyroscope(p, &sp, behind, &bytes)
				     : send_kiln(p, &sp, behind, &bytes);

		if (r == REJECTED) {
			if (p->reject_seq != sp.seq) {
				p->reject_seq = sp.seq;
				p->rejects = 0;
			}
			if (++p->rejects < MAX_REJECTS)
				r = RETRY;
		}
		pthread_mutex_lock(&p->lock);
		p->stats.pending = ss.pending;
		if (r == SENT) {
			p->stats.windows_sent++;
			p->stats.samples_sent += sp.samples;
			p->stats.bytes_sent += bytes;
			p->stats.last_ok = unix_s();
			p->stats.pending = ss.pending ? ss.pending - 1 : 0;
		} else if (r == REJECTED) {
			p->stats.rejected++;
		} else if (r == AUTH) {
			p->stats.auth_failures++;
		} else {
			p->stats.retries++;
		}
		pthread_mutex_unlock(&p->lock);
		if (r == SENT || r == REJECTED) {
			if (r == REJECTED)
				pr_err("push: dropped window %llu (%llu "
				       "samples) after %d refusals",
				       (unsigned long long)sp.seq,
				       (unsigned long long)sp.samples,
				       MAX_REJECTS);
			/* An ack that fails is made good by the next one:
			 * acknowledging N drops every window up to N. */
			store__spool_ack(p->st, sp.seq, clock__unix_ns());
			after = sp.seq;
			if (cur_backoff && r == SENT)
				pr_info("push: delivering again");
			cur_backoff = 0;
			p->last_log = 0;
		} else {
			if (r == AUTH && p->token_file) {
				char tok[MAX_TOKEN + 1];

				/* A rotated token is picked up without a
				 * restart. */
				if (!read_token(p->token_file, tok))
					memcpy(p->token, tok, sizeof(tok));
			}
			if (draining || !backoff(p, &cur_backoff)) {
				free(sp.data);
				break;
			}
		}
		free(sp.data);
	}
	return NULL;
}

struct pusher *push__start(const struct push_opts *o)
{
	struct store_opts so = {.path = o->db_path};
	struct pusher *p;
	size_t n;

	if (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8)) {
		pr_err("push: URL '%s' must start with http:// or https://",
		       o->url);
		errno = EINVAL;
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->o = *o;
	p->url = xstrdup(o->url);
	n = strlen(p->url);
	while (n && p->url[n - 1] == '/')
		p->url[--n] = '\0';
	p->host = xstrdup(o->host ? o->host : "localhost");
	p->app = xstrdup(o->app ? o->app : "kiln");
	p->token_file = o->token_file ? xstrdup(o->token_file) : NULL;
	p->ca_file = o->ca_file ? xstrdup(o->ca_file) : NULL;
	p->db_path = xstrdup(o->db_path);
	if (!p->o.max_backoff_ns)
		p->o.max_backoff_ns = 30ULL * 1000000000ULL;
	if (!p->o.timeout_ns)
		p->o.timeout_ns = 30ULL * 1000000000ULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (p->token_file && read_token(p->token_file, p->token))
		goto fail;
	if (!strncmp(p->url, "http://", 7) && p->token[0] &&
	    strncmp(p->url + 7, "127.", 4) &&
	    strncmp(p->url + 7, "localhost", 9) &&
	    strncmp(p->url + 7, "[::1]", 5))
		pr_warn("push: sending the token to '%s' in clear text "
			"(use https://)",
			p->url);
	so.path = p->db_path;
	p->st = store__open(&so);
	if (!p->st || store__instance_id(p->st, &p->instance))
		goto fail;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		pr_err("push: cannot initialise libcurl");
		goto fail;
	}
	p->curl = curl_easy_init();
	if (!p->curl) {
		pr_err("push: cannot initialise libcurl");
		goto fail;
	}
	curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS,
			 (long)(p->o.timeout_ns / 1000000));
	curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, on_reply);
	curl_easy_setopt(p->curl, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(p->curl, CURLOPT_ERRORBUFFER, p->curl_err);
	curl_easy_setopt(p->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(p->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(p->curl, CURLOPT_XFERINFODATA, p);
	curl_easy_setopt(p->curl, CURLOPT_USERAGENT, "kiln/" KILN_BUILD_ID);
	curl_easy_setopt(p->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (p->ca_file)
		curl_easy_setopt(p->curl, CURLOPT_CAINFO, p->ca_file);
	if (pthread_create(&p->thread, NULL, push_thread, p)) {
		pr_err("push: cannot start the push thread");
		goto fail;
	}
	p->started = true;
	pthread_setname_np(p->thread, "kiln-push");
	pr_info("push: shipping windows to '%s' as host '%s' (instance "
		"%016llx, %s format)",
		p->url, p->host, (unsigned long long)p->instance,
		o->format == PUSH_PYROSCOPE ? "pyroscope" : "kiln");
	return p;
fail:
	push__stop(p, 0);
	errno = EINVAL;
	return NULL;
}

void push__wake(struct pusher *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->wake = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void push__set_lost(struct pusher *p, uint64_t lost)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->lost = lost;
	pthread_mutex_unlock(&p->lock);
}

void push__stats(struct pusher *p, struct push_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->stats;
	pthread_mutex_unlock(&p->lock);
}

void push__metrics(struct pusher *p, FILE *out)
{
	struct push_stats s;

	if (!p)
		return;
	push__stats(p, &s);
#define METRIC(name, type, help, value)                                        \
	fprintf(out,                                                           \
		"# HELP kiln_push_" name " " help "\n# TYPE kiln_push_" name   \
		" " type "\nkiln_push_" name " %llu\n",                        \
		(unsigned long long)(value))
	METRIC("windows_total", "counter",
	       "Windows acknowledged by the server.", s.windows_sent);
	METRIC("samples_total", "counter",
	       "Samples in windows acknowledged by the server.",
	       s.samples_sent);
	METRIC("bytes_total", "counter", "Request bytes of delivered windows.",
	       s.bytes_sent);
	METRIC("retries_total", "counter",
	       "Pushes that failed and will be retried.", s.retries);
	METRIC("auth_failures_total", "counter",
	       "Pushes refused for the token.", s.auth_failures);
	METRIC("rejected_windows_total", "counter",
	       "Windows the server refused as malformed, dropped.", s.rejected);
	METRIC("pending_windows", "gauge",
	       "Windows spooled and not yet acknowledged.", s.pending);
#undef METRIC
	fprintf(out,
		"# HELP kiln_push_last_success_seconds Unix time of the last "
		"acknowledged window.\n# TYPE kiln_push_last_success_seconds "
		"gauge\nkiln_push_last_success_seconds %.3f\n",
		s.last_ok);
}

void push__stop(struct pusher *p, double drain_s)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	p->drain_until = clock__mono_s() + drain_s;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (p->started)
		pthread_join(p->thread, NULL);
	if (p->curl)
		curl_easy_cleanup(p->curl);
	store__close(p->st);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->url);
	free(p->host);
	free(p->app);
	free(p->token_file);
	free(p->ca_file);
	free(p->db_path);
	free(p);
}
