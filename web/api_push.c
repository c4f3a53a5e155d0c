// SPDX-License-Identifier: MIT
/*
 * The cluster endpoints: POST /api/v1/push (windows from `kiln agent
 * --push`, storage/wire.h), POST /ingest (Pyroscope's ingest API, so
 * tools that push to Pyroscope can push here) and GET /api/v1/hosts.
 *
 * Parsing runs outside the server's write lock, so many agents decode in
 * parallel and only the store write is serialised. A push that fails to
 * parse writes nothing; one that is already stored answers 409, which
 * the agent takes as an acknowledgement.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/escape.h"
#include "lib/xalloc.h"
#include "profile/format.h"
#include "profile/ingest.h"
#include "storage/wire.h"
#include "web/api.h"

#define NS 1000000000ULL
#define MS 1000000ULL
#define MAX_PYRO_LABELS 32

static uint64_t header_u64(const char *s)
{
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	return errno || *end || *s == '-' ? 0 : (uint64_t)v;
}

int api__push_parse(const void *body, size_t len, const char *version,
		    const char *pending, const char *lost, struct push_req *out,
		    struct web_response *r)
{
	struct wire_limits lim;
	char err[256];
	int ret;

	memset(out, 0, sizeof(*out));
	out->p = profile__new();
	if (!out->p) {
		web_response__error(r, 500, "out of memory");
		return -ENOMEM;
	}
	wire_limits__default(&lim);
	ret = wire__decode(body, len, &lim, &out->h, out->p, err, sizeof(err));
	if (ret) {
		web_response__error(r,
				    ret == -E2BIG    ? 413
				    : ret == -ENOMEM ? 500
						     : 400,
				    "bad push: %s", err);
		return ret;
	}
	/* The agent's version is shown on the hosts page: text only. */
	if (version && escape__utf8_valid(version, strlen(version)) &&
	    strlen(version) < sizeof(out->version))
		snprintf(out->version, sizeof(out->version), "%s", version);
	for (char *c = out->version; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	out->pending = header_u64(pending);
	out->lost = header_u64(lost);
	return 0;
}

/* Every series carries the host the window came from. */
static struct profile *with_host(struct push_req *req)
{
	char kv[WIRE_MAX_HOST + 8];
	const char *labels[1] = {kv};
	size_t n = profile__nr_series(req->p);

	for (size_t i = 0; i < n; i++) {
		const char *h =
		    profile__series_label(req->p, (uint32_t)i, LABEL_HOST);

		if (!h || strcmp(h, req->h.host))
			goto relabel;
	}
	errno = 0;
	return NULL; /* already so: no copy */
relabel:
	snprintf(kv, sizeof(kv), "host=%s", req->h.host);
	return ingest__relabel(req->p, labels, 1, 0);
}

int api__push_prepare(struct push_req *req, uint64_t now_ns,
		      struct store_pushed *out, struct web_response *r)
{
	out->w = (struct store_push){.instance = req->h.instance,
				     .seq = req->h.seq,
				     .start_ns = req->h.start_ns,
				     .end_ns = req->h.end_ns,
				     .samples = req->h.samples,
				     .host = req->h.host,
				     .version = req->version,
				     .pending = req->pending,
				     .lost_samples = req->lost,
				     .now_ns = now_ns};
	profile__free(req->rel);
	req->rel = with_host(req);
	if (!req->rel && errno == ENOMEM) {
		web_response__error(r, 500, "out of memory");
		return -ENOMEM;
	}
	out->p = req->rel ? req->rel : req->p;
	return 0;
}

void api__push_answer(const struct store_pushed *w, int ret,
		      struct web_response *r)
{
	if (ret == -EEXIST) {
		web_response__error(r, 409,
				    "window %llu of instance %016llx (host "
				    "'%s') is already stored",
				    (unsigned long long)w->w.seq,
				    (unsigned long long)w->w.instance,
				    w->w.host);
		return;
	}
	if (ret == -ENOSPC || ret == -EBUSY || ret == -EIO || ret == -EAGAIN) {
		web_response__error(r, 503, "cannot store the window now: %s",
				    ret == -ENOSPC ? "the server's disk is full"
						   : strerror(-ret));
		r->retry_after = 30;
		return;
	}
	if (ret) {
		web_response__error(r, 500, "cannot store the window: %s",
				    strerror(-ret));
		return;
	}
	jbuf__printf(&r->body,
		     "{\"stored\":true,\"instance\":\"%016llx\",\"seq\":%llu,"
		     "\"samples\":%llu}\n",
		     (unsigned long long)w->w.instance,
		     (unsigned long long)w->w.seq,
		     (unsigned long long)w->w.samples);
}

void api__push_store(struct store *st, struct push_req *req, uint64_t now_ns,
		     struct web_response *r)
{
	struct store_pushed w;

	if (api__push_prepare(req, now_ns, &w, r))
		return;
	api__push_answer(&w, store__write_pushed(st, w.p, &w.w), r);
}

void api__push_release(struct push_req *req)
{
	profile__free(req->p);
	profile__free(req->rel);
	req->p = req->rel = NULL;
}

/* ---- Pyroscope's POST /ingest ---- */

/*
 * "app.cpu{k=v,k2=v2}" -> service_name=app.cpu, k=v, k2=v2 as "key=value"
 * strings in 'buf' (NUL separated). Returns the number of labels or -1.
 */
static int parse_name(const char *name, char *buf, size_t size,
		      const char **labels, int max)
{
	const char *brace = strchr(name, '{');
	size_t applen = brace ? (size_t)(brace - name) : strlen(name);
	char *w = buf, *end = buf + size;
	int n = 0;

	if (!applen || applen > 200)
		return -1;
	if ((size_t)(end - w) < applen + 14)
		return -1;
	labels[n++] = w;
	w += sprintf(w, "service_name=%.*s", (int)applen, name) + 1;
	if (!brace)
		return n;
	const char *p = brace + 1, *close = strchr(p, '}');

	if (!close || close[1])
		return -1;
	while (p < close) {
		const char *comma = memchr(p, ',', (size_t)(close - p));
		const char *stop = comma ? comma : close;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		size_t kl, vl;

		while (p < stop && *p == ' ')
			p++;
		if (p == stop) { /* "{}" or a trailing comma */
			p = stop + 1;
			continue;
		}
		if (!eq || eq == p || n >= max)
			return -1;
		kl = (size_t)(eq - p);
		vl = (size_t)(stop - eq - 1);
		if ((size_t)(end - w) < kl + vl + 2)
			return -1;
		/* service_name comes from the application name. */
		if (kl == 12 && !memcmp(p, "service_name", 12))
			return -1;
		labels[n++] = w;
		memcpy(w, p, kl);
		w[kl] = '=';
		memcpy(w + kl + 1, eq + 1, vl);
		w[kl + 1 + vl] = '\0';
		w += kl + vl + 2;
		p = stop + 1;
	}
	return n;
}

/* The "profile" part of a multipart/form-data body (Pyroscope's SDKs
 * send one); the whole body otherwise. */
static int multipart_profile(const char *type, const char *body, size_t len,
			     const char **out, size_t *out_len)
{
	const char *b = type ? strstr(type, "boundary=") : NULL;
	char delim[200];
	size_t dl;

	*out = body;
	*out_len = len;
	if (!type || strncasecmp(type, "multipart/form-data", 19))
		return 0;
	if (!b)
		return -EINVAL;
	b += 9;
	if (*b == '"')
		b++;
	dl = strcspn(b, "\";");
	if (!dl || dl > 150)
		return -EINVAL;
	dl = (size_t)snprintf(delim, sizeof(delim), "--%.*s", (int)dl, b);
	const char *p = memmem(body, len, delim, dl), *end = body + len;

	while (p) {
		const char *hdr = p + dl, *data, *next;

		if ((size_t)(end - hdr) < 2 || !memcmp(hdr, "--", 2))
			break;
		data = memmem(hdr, (size_t)(end - hdr), "\r\n\r\n", 4);
		if (!data)
			break;
		data += 4;
		next = memmem(data, (size_t)(end - data), delim, dl);
		if (!next || next - data < 2)
			break;
		/* Headers of this part name it. */
		if (memmem(hdr, (size_t)(data - hdr), "name=\"profile\"", 14)) {
			*out = data;
			*out_len = (size_t)(next - data - 2); /* CRLF */
			return 0;
		}
		p = next;
	}
	return -EINVAL;
}

void api__pyroscope_parse(const char *qs, const void *body, size_t len,
			  const char *content_type, uint64_t now_ns,
			  struct profile **out, struct web_response *r)
{
	const char *labels[MAX_PYRO_LABELS + 1];
	char lbuf[4096], err[256] = "";
	struct read_limits lim;
	struct query_params pp;
	struct profile *p = NULL;
	const char *name, *fmt, *from, *rate, *data;
	uint64_t from_s = 0, hz = 0;
	size_t dlen;
	int nl, ret;

	*out = NULL;
	if (query_params__parse(&pp, qs, err, sizeof(err))) {
		web_response__error(r, 400, "%s", err);
		return;
	}
	name = query_params__get(&pp, "name");
	if (!name || !*name) {
		web_response__error(r, 400, "name= is required (app{k=v})");
		goto out;
	}
	nl = parse_name(name, lbuf, sizeof(lbuf), labels, MAX_PYRO_LABELS);
	if (nl < 0) {
		web_response__error(
		    r, 400, "bad name '%.100s': want app{key=value,...}", name);
		goto out;
	}
	fmt = query_params__get(&pp, "format");
	if (fmt && strcmp(fmt, "pprof") && strcmp(fmt, "folded")) {
		web_response__error(r, 400,
				    "format '%.32s' is not supported here "
				    "(pprof or folded)",
				    fmt);
		goto out;
	}
	from = query_params__get(&pp, "from");
	if (from && *from) {
		from_s = header_u64(from);
		/* Pyroscope's clients send seconds; take ms/us/ns too. */
		while (from_s > 100000000000ULL)
			from_s /= 1000;
		if (!from_s) {
			web_response__error(r, 400, "bad from '%.32s'", from);
			goto out;
		}
	}
	rate = query_params__get(&pp, "sampleRate");
	if (rate && *rate) {
		hz = header_u64(rate);
		if (!hz || hz > 1000000) {
			web_response__error(r, 400, "bad sampleRate '%.32s'",
					    rate);
			goto out;
		}
	}
	if (multipart_profile(content_type, body, len, &data, &dlen)) {
		web_response__error(r, 400,
				    "multipart body without a 'profile' part");
		goto out;
	}
	read_limits__default(&lim);
	lim.folded_no_comm = true; /* Pyroscope's folded has no comm */
	p = profile__new();
	if (!p) {
		web_response__error(r, 500, "out of memory");
		goto out;
	}
	ret = ingest__parse(data, dlen,
			    fmt && !strcmp(fmt, "folded") ? "text/plain"
			    : fmt ? "application/x-protobuf"
				  : NULL,
			    &lim, p, err, sizeof(err));
	if (ret) {
		web_response__error(r, ret == -E2BIG ? 413 : 400, "%s",
				    err[0] ? err : strerror(-ret));
		goto out;
	}
	if (hz && !profile__meta(p)->period_ns)
		profile__meta(p)->period_ns = NS / hz;
	*out = ingest__relabel(p, labels, (size_t)nl,
			       from_s ? from_s * NS : now_ns);
	if (!*out)
		web_response__error(r, 400, "bad label in name '%.100s'", name);
out:
	profile__free(p);
	query_params__release(&pp);
}

void api__pyroscope_store(struct store *st, const struct profile *p,
			  struct web_response *r)
{
	int ret = store__write(st, p);

	if (ret == -ENOSPC || ret == -EBUSY) {
		web_response__error(r, 503, "cannot store the profile now: %s",
				    ret == -ENOSPC ? "the server's disk is full"
						   : strerror(-ret));
		r->retry_after = 30;
		return;
	}
	if (ret) {
		web_response__error(r, 500, "cannot store the profile: %s",
				    strerror(-ret));
		return;
	}
	jbuf__printf(&r->body, "{\"samples\":%llu}\n",
		     (unsigned long long)profile__total(p));
}

/* ---- GET /api/v1/hosts ---- */

struct hosts_ctx {
	struct jbuf *b;
	uint64_t now_ns;
	bool first;
};

static int host_row(const struct store_agent *a, void *ctx)
{
	struct hosts_ctx *h = ctx;
	uint64_t lag =
	    h->now_ns > a->last_end_ns ? h->now_ns - a->last_end_ns : 0;

	if (!h->first)
		jbuf__sep(h->b);
	h->first = false;
	jbuf__puts(h->b, "{\"host\":");
	jbuf__str(h->b, a->host);
	jbuf__printf(h->b, ",\"instance\":\"%016llx\",\"version\":",
		     (unsigned long long)a->instance);
	jbuf__str(h->b, a->version);
	jbuf__printf(
	    h->b,
	    ",\"first_push_ms\":%llu,\"last_push_ms\":%llu,"
	    "\"last_window_end_ms\":%llu,\"lag_ms\":%llu,"
	    "\"windows\":%llu,\"samples\":%llu,"
	    "\"pending_windows\":%llu,\"lost_samples\":%llu}",
	    (unsigned long long)(a->first_push_ns / MS),
	    (unsigned long long)(a->last_push_ns / MS),
	    (unsigned long long)(a->last_end_ns / MS),
	    (unsigned long long)(lag / MS), (unsigned long long)a->windows,
	    (unsigned long long)a->samples, (unsigned long long)a->pending,
	    (unsigned long long)a->lost_samples);
	return 0;
}

void api__hosts(struct store *st, uint64_t now_ns, struct web_response *r)
{
	struct hosts_ctx h = {.b = &r->body, .now_ns = now_ns, .first = true};
	int ret;

	jbuf__printf(&r->body, "{\"now_ms\":%llu,\"hosts\":[",
		     (unsigned long long)(now_ns / MS));
	ret = store__agents(st, host_row, &h);
	if (ret && ret != -EOPNOTSUPP) {
		jbuf__release(&r->body);
		jbuf__init(&r->body);
		web_response__error(r, 500, "cannot list agents: %s",
				    strerror(-ret));
		return;
	}
	jbuf__puts(&r->body, "]}\n");
}
