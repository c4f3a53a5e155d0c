// SPDX-License-Identifier: MIT
/*
 * The ClickHouse engine: a store on a ClickHouse server, spoken to over its
 * HTTP interface with libcurl (TLS, timeouts and keep-alive for free), so
 * any number of kiln servers can share one database. This file holds the
 * connection, the schema (storage/clickhouse.sql), writes and retention;
 * queries are in clickhouse_query.c.
 *
 * Writes are batched per window: the dictionary rows the database may lack
 * (frames, stacks, series), then the window's samples in one INSERT per
 * hour, so each lands as one part of one partition, whole or not at all.
 * Before inserting an hour's rows the writer looks for their fingerprint
 * (window_id): a retry after an error whose outcome it could not know (a
 * timeout, ClickHouse killed mid-request) adds nothing twice.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/embedded.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "storage/clickhouse_int.h"

extern const struct embedded_file sql_assets[];

#define CONNECT_TIMEOUT_MS 3000
#define DEFAULT_TIMEOUT_MS 30000
#define WCACHE_MAX 2000000 /* writer cache entries before it starts over */
#define SEED_HI 0x6b696c6eu
#define SEED_LO 0x63682121u

static const struct store_ops clickhouse_ops;

/* ---- buffers and RowBinary ---- */

void chbuf__put(struct chbuf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0; /* so SQL text is always a C string */
}

void chbuf__printf(struct chbuf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		chbuf__put(b, small, (size_t)n);
		return;
	}
	char *big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	chbuf__put(b, big, (size_t)n);
	free(big);
}

void chbuf__quote(struct chbuf *b, const char *s)
{
	chbuf__put(b, "'", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '\'' || ch == '\\') {
			chbuf__put(b, "\\", 1);
			chbuf__put(b, s, 1);
		} else if (ch < 0x20 || ch == 0x7f) {
			chbuf__printf(b, "\\x%02x", ch);
		} else {
			chbuf__put(b, s, 1);
		}
	}
	chbuf__put(b, "'", 1);
}

void chbuf__release(struct chbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void chbuf__varint(struct chbuf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	chbuf__put(b, tmp, n);
}

void chbuf__str(struct chbuf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	chbuf__varint(b, n);
	chbuf__put(b, s, n);
}

static bool rbin__need(struct rbin *r, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return false;
	}
	return true;
}

uint8_t rbin__u8(struct rbin *r)
{
	return rbin__need(r, 1) ? *r->p++ : 0;
}

/* n little-endian bytes into *v, left as it is when they are not there. */
static void rbin__fixed(struct rbin *r, void *v, size_t n)
{
	if (rbin__need(r, n)) {
		memcpy(v, r->p, n);
		r->p += n;
	}
}

uint32_t rbin__u32(struct rbin *r)
{
	uint32_t v = 0;

	rbin__fixed(r, &v, sizeof(v));
	return v;
}

uint64_t rbin__u64(struct rbin *r)
{
	uint64_t v = 0;

	rbin__fixed(r, &v, sizeof(v));
	return v;
}

uint64_t rbin__varint(struct rbin *r)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (!rbin__need(r, 1))
			return 0;
		b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

const char *rbin__str(struct rbin *r, size_t *len)
{
	uint64_t n = rbin__varint(r);
	const char *s;

	*len = 0;
	if (n > CH_MAX_STRING) {
		r->bad = true;
		return "";
	}
	if (!rbin__need(r, (size_t)n))
		return "";
	s = (const char *)r->p;
	r->p += n;
	*len = (size_t)n;
	return s;
}

/* ---- the HTTP client ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
	struct chbuf *b = ctx;
	size_t len = size * n;

	if (b->len + len > CH_MAX_RESPONSE)
		return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
	chbuf__put(b, data, len);
	return len;
}

/* ClickHouse's "Code: N, e.displayText() = ..." as -errno. */
static int ch_code_err(int code)
{
	switch (code) {
	case 159: /* TIMEOUT_EXCEEDED */
	case 160: /* TOO_SLOW */
	case 202: /* TOO_MANY_SIMULTANEOUS_QUERIES */
	case 209: /* SOCKET_TIMEOUT */
	case 210: /* NETWORK_ERROR */
	case 241: /* MEMORY_LIMIT_EXCEEDED */
	case 252: /* TOO_MANY_PARTS */
		return -EAGAIN;
	case 81: /* UNKNOWN_DATABASE */
	case 60: /* UNKNOWN_TABLE */
		return -ENOENT;
	case 192: /* UNKNOWN_USER */
	case 193: /* WRONG_PASSWORD */
	case 194: /* REQUIRED_PASSWORD */
	case 195: /* IP_ADDRESS_NOT_ALLOWED */
	case 164: /* READONLY */
	case 497: /* ACCESS_DENIED */
	case 516: /* AUTHENTICATION_FAILED */
		return -EACCES;
	case 243: /* NOT_ENOUGH_SPACE */
		return -ENOSPC;
	default:
		return -EIO;
	}
}

/* The first line of an error body, printable bytes only, bounded. */
static void error_text(const struct chbuf *b, char *out, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < b->len && n + 1 < size; i++) {
		unsigned char ch = b->p[i];

		if (ch == '\n' || ch == '\r')
			break;
		out[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	out[n] = 0;
	/* Drop the noise after the message on old servers. */
	char *w = strstr(out, ", e.what()");
	if (w)
		*w = 0;
}

static int report(struct ch_store *c, int err, const char *what,
		  const char *why)
{
	if (err != c->last_err) {
		pr_err("store '%s': %s failed: %s", c->name, what, why);
		c->last_err = err;
	}
	return err;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One HTTP request; 'ids', when not NULL, goes as the external table
 * "ids" (id UInt64) of a multipart body. */
static int request(struct ch_store *c, const char *sql,
		   const struct chbuf *body, const struct chbuf *ids,
		   const char *what)
{
	CURL *h = c->curl;
	char *esc = NULL, *url = NULL, errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	curl_mime *mime = NULL;
	struct chbuf post = {0};
	long status = 0;
	CURLcode rc;
	int err = 0;

	c->resp.len = 0;
	/*
	 * Settings ride in the URL: the database, and wait_end_of_query so a
	 * query that fails half-way answers with an error status instead of
	 * a 200 and a truncated body. A statement with rows after it (INSERT
	 * ... FORMAT RowBinary) or with an external table goes in the URL;
	 * otherwise in the body.
	 */
	if (body || ids) {
		esc = curl_easy_escape(h, sql, 0);
		if (!esc)
			return -ENOMEM;
	}
	/* ClickHouse stops the query a second before curl gives up on it;
	 * a caller's deadline shortens both. */
	long curl_ms = c->timeout_ms, exec_s = (c->timeout_ms + 999) / 1000 - 1;
	char groups[96] = "";
	if (c->deadline_ns) {
		uint64_t now = (uint64_t)(mono_s() * 1e9);

		if (now >= c->deadline_ns) {
			curl_free(esc);
			return -ETIME;
		}
		long rem_ms = (long)((c->deadline_ns - now) / 1000000);
		if (rem_ms + 1000 < curl_ms)
			curl_ms = rem_ms + 1000;
		if (rem_ms / 1000 < exec_s)
			exec_s = rem_ms / 1000 > 0 ? rem_ms / 1000 : 1;
	}
	if (c->max_groups)
		snprintf(
		    groups, sizeof(groups),
		    "&max_rows_to_group_by=%zu&group_by_overflow_mode=throw",
		    c->max_groups);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, curl_ms);
	if (asprintf(&url,
		     "%s?database=%s&wait_end_of_query=1&max_query_size="
		     "67108864&max_insert_block_size=100000000&"
		     "max_execution_time=%ld%s%s%s%s",
		     c->endpoint, c->db, exec_s, groups,
		     ids ? "&ids_structure=id%20UInt64&ids_format=RowBinary"
			 : "",
		     esc ? "&query=" : "", esc ? esc : "") < 0) {
		curl_free(esc);
		return -ENOMEM;
	}
	curl_free(esc);
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (ids) {
		curl_mimepart *part;

		mime = curl_mime_init(h);
		part = mime ? curl_mime_addpart(mime) : NULL;
		if (!part || curl_mime_name(part, "ids") ||
		    curl_mime_filename(part, "ids") ||
		    curl_mime_data(part, (const char *)ids->p, ids->len)) {
			curl_mime_free(mime);
			free(url);
			return -ENOMEM;
		}
		curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
	} else {
		if (!body)
			chbuf__put(&post, sql, strlen(sql));
		hdr = curl_slist_append(
		    hdr, "Content-Type: application/octet-stream");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS,
				 body ? (const char *)body->p
				      : (const char *)post.p);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(body ? body->len : post.len));
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->resp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	double t0 = mono_s();
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	pr_debug("store '%s': %.1f ms, %zu bytes back: %.60s", c->name,
		 (mono_s() - t0) * 1e3, c->resp.len, sql);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	if (mime) {
		curl_easy_setopt(h, CURLOPT_MIMEPOST, NULL);
		curl_mime_free(mime);
	}
	curl_slist_free_all(hdr);
	free(url);
	chbuf__release(&post);
	if (rc != CURLE_OK) {
		const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);

		if (rc == CURLE_WRITE_ERROR && c->resp.len) {
			report(c, -EFBIG, what, "response larger than 512 MiB");
			return -EFBIG;
		}
		if (rc == CURLE_OUT_OF_MEMORY)
			return -ENOMEM;
		if (c->deadline_ns && mono_s() * 1e9 >= c->deadline_ns)
			return -ETIME;
		/* Down, unreachable, slow or cut off: try again later. */
		return report(c, -EAGAIN, what, why);
	}
	if (status != 200) {
		char text[300];
		int code = 0;

		error_text(&c->resp, text, sizeof(text));
		/* Over the caller's budget: its own errors, not ours. */
		if (sscanf(text, "Code: %d", &code) == 1 && code == 159 &&
		    c->deadline_ns)
			return -ETIME;
		if (code == 158 && c->max_groups)
			return -E2BIG;
		if (code)
			err = ch_code_err(code);
		else if (status == 401 || status == 403)
			err = -EACCES;
		else if (status == 503 || status == 502 || status == 504)
			err = -EAGAIN;
		else
			err = -EIO;
		if (!text[0])
			snprintf(text, sizeof(text), "HTTP status %ld", status);
		/* A missing table is how callers probe: they say it if it
		 * matters. */
		if (err == -ENOENT)
			return err;
		return report(c, err, what, text);
	}
	if (c->last_err && c->last_err != 1)
		pr_info("store '%s': ClickHouse answers again", c->name);
	c->last_err = 0;
	return 0;
}

int ch__request(struct ch_store *c, const char *sql, const struct chbuf *body,
		const char *what)
{
	return request(c, sql, body, NULL, what);
}

int ch__request_ids(struct ch_store *c, const char *sql, const uint64_t *ids,
		    size_t n, const char *what)
{
	struct chbuf b = {0};
	int err;

	chbuf__put(&b, ids, n * sizeof(*ids));
	err = request(c, sql, NULL, &b, what);
	chbuf__release(&b);
	return err;
}

/* ---- opening: the URL, the schema ---- */

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decodes [s, s + n) into a new string; NULL when malformed. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(s[i + 2]) : -1;

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = 0;
	return out;
}

static bool is_ident(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/*
 * clickhouse://[USER[:PASS]@]HOST[:PORT][/DB][?timeout=SECONDS]
 * clickhouses://... speaks TLS (default port 8443). DB defaults to "kiln".
 */
static int parse_url(struct ch_store *c, const char *url)
{
	bool tls = !strncmp(url, "clickhouses://", 14);
	const char *p = url + (tls ? 14 : 13), *at, *slash, *q, *hostend;
	char host[256], *dbs = NULL;
	unsigned long port = tls ? 8443 : 8123;
	size_t hl;

	q = strchr(p, '?');
	slash = strchr(p, '/');
	if (q && slash && slash > q)
		slash = NULL;
	hostend = slash ? slash : q ? q : p + strlen(p);
	at = memchr(p, '@', (size_t)(hostend - p));
	/* The password may hold '@' when not percent-encoded: the last
	 * '@' before the host ends the credentials. */
	for (const char *a = at; a && a < hostend;
	     a = memchr(a + 1, '@', (size_t)(hostend - a - 1)))
		at = a;
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));

		c->user = pct_decode(p, (size_t)((colon ? colon : at) - p));
		if (colon)
			c->pass =
			    pct_decode(colon + 1, (size_t)(at - colon - 1));
		if (!c->user || (colon && !c->pass))
			return -EINVAL;
		p = at + 1;
	}
	hl = (size_t)(hostend - p);
	if (!hl || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, p, hl);
	host[hl] = 0;
	/* [v6]:port or host:port */
	char *colon = host[0] == '[' ? strstr(host, "]:") : strrchr(host, ':');
	if (colon) {
		char *end;

		if (host[0] == '[')
			colon++;
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || *end || end == colon + 1 || !port || port > 65535)
			return -EINVAL;
		*colon = 0;
	}
	if (!host[0] || strpbrk(host, " /?#@"))
		return -EINVAL;
	if (slash) {
		const char *e = q ? q : slash + strlen(slash);

		dbs = pct_decode(slash + 1, (size_t)(e - slash - 1));
		if (!dbs)
			return -EINVAL;
	}
	c->db = xstrdup(dbs && *dbs ? dbs : "kiln");
	free(dbs);
	if (!is_ident(c->db))
		return -EINVAL;
	c->timeout_ms = DEFAULT_TIMEOUT_MS;
	for (const char *o = q ? q + 1 : NULL; o && *o;) {
		const char *amp = strchr(o, '&');
		size_t n = amp ? (size_t)(amp - o) : strlen(o);
		unsigned long v;
		char *end;

		if (n > 8 && !strncmp(o, "timeout=", 8)) {
			errno = 0;
			v = strtoul(o + 8, &end, 10);
			if (errno || end != o + n || v < 2 || v > 3600)
				return -EINVAL;
			c->timeout_ms = (long)v * 1000;
		} else {
			return -EINVAL;
		}
		o = amp ? amp + 1 : NULL;
	}
	if (asprintf(&c->endpoint, "%s://%s:%lu/", tls ? "https" : "http", host,
		     port) < 0)
		return -ENOMEM;
	if (asprintf(&c->name, "%s://%s%s%s:%lu/%s",
		     tls ? "clickhouses" : "clickhouse", c->user ? c->user : "",
		     c->user ? "@" : "", host, port, c->db) < 0)
		return -ENOMEM;
	return 0;
}

/* The version in kiln_schema: 0 when the table does not exist. */
static int schema_version(struct ch_store *c, uint32_t *version)
{
	struct rbin r;
	int err = ch__request(
	    c,
	    "SELECT toUInt32(max(version)) FROM kiln_schema FORMAT RowBinary",
	    NULL, "reading the schema version");

	*version = 0;
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	r = (struct rbin){c->resp.p, c->resp.p + c->resp.len, false};
	*version = rbin__u32(&r);
	return r.bad ? -EBADMSG : 0;
}

/* Runs storage/clickhouse.sql statement by statement. */
static int apply_schema(struct ch_store *c)
{
	const struct embedded_file *f =
	    embedded__find(sql_assets, "clickhouse.sql");
	struct chbuf stmt = {0};
	const char *p, *end;
	int err = 0;

	if (!f) {
		pr_err("store: 'clickhouse.sql' is missing from this build");
		return -ENOENT;
	}
	p = (const char *)f->data;
	end = p + f->size;
	while (p < end && !err) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *line = p;

		p += n + (nl ? 1 : 0);
		while (n && (*line == ' ' || *line == '\t')) {
			line++;
			n--;
		}
		if (!n || (n >= 2 && !strncmp(line, "--", 2)))
			continue;
		chbuf__put(&stmt, line, n);
		chbuf__put(&stmt, "\n", 1);
		if (line[n - 1] == ';') {
			err = ch__request(c, (const char *)stmt.p, NULL,
					  "creating the schema");
			stmt.len = 0;
		}
	}
	chbuf__release(&stmt);
	if (err)
		return err == -ENOENT ? -EIO : err;
	char sql[128];
	snprintf(sql, sizeof(sql), "INSERT INTO kiln_schema VALUES (%d, now())",
		 CH_SCHEMA_VERSION);
	return ch__request(c, sql, NULL, "recording the schema version");
}

/* Whether table 'frames' has column 'col': 1, 0, or -errno. */
static int has_frames_column(struct ch_store *c, const char *col)
{
	char sql[200];
	struct rbin r;
	uint64_t n;
	int err;

	snprintf(sql, sizeof(sql),
		 "SELECT count() FROM system.columns WHERE database = "
		 "currentDatabase() AND table = 'frames' AND name = '%s' "
		 "FORMAT RowBinary",
		 col);
	if ((err = ch__request(c, sql, NULL, "reading the frames' columns")))
		return err == -ENOENT ? -EIO : err;
	r = (struct rbin){c->resp.p, c->resp.p + c->resp.len, false};
	n = rbin__u64(&r);
	return r.bad ? -EBADMSG : n > 0;
}

/*
 * Version 2 -> 3: frames get system_name, build_id and file_offset. No
 * ADD COLUMN IF NOT EXISTS on 18.16: a column already there (another
 * server upgrading at the same time) is looked for before and after.
 */
static int migrate_v3(struct ch_store *c)
{
	static const char *const cols[][2] = {
	    {"system_name", "String DEFAULT ''"},
	    {"build_id", "String DEFAULT ''"},
	    {"file_offset", "UInt64 DEFAULT 0"},
	};
	char sql[200];
	int err, has;

	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		if ((has = has_frames_column(c, cols[i][0])) < 0)
			return has;
		if (has)
			continue;
		snprintf(sql, sizeof(sql),
			 "ALTER TABLE frames ADD COLUMN %s %s", cols[i][0],
			 cols[i][1]);
		err = ch__request(c, sql, NULL, "adding a column to frames");
		if (err && has_frames_column(c, cols[i][0]) != 1)
			return err == -ENOENT ? -EIO : err;
	}
	err = ch__request(c, "INSERT INTO kiln_schema VALUES (3, now())", NULL,
			  "recording the schema version");
	if (!err)
		pr_info("store '%s': schema version 2 upgraded to 3 (frames "
			"keep system_name, build_id, file_offset)",
			c->name);
	return err;
}

static int setup(struct ch_store *c)
{
	uint32_t version;
	char sql[160];
	int err;

	if ((err = schema_version(c, &version)))
		return err;
	if (version > CH_SCHEMA_VERSION) {
		pr_err("cannot open store '%s': it has schema version %u, "
		       "written by a newer kiln (this one knows up to %d)",
		       c->name, version, CH_SCHEMA_VERSION);
		return -EPROTO;
	}
	c->schema = version;
	if (version == CH_SCHEMA_VERSION)
		return 0;
	/* Readers read version 2 as it is (no v3 columns: '' and 0), and
	 * versions 2 and 3 without push_attempts, which only writers use. */
	if (version == 2 || version == 3) {
		if (c->read_only)
			return 0;
		if (version == 2 && (err = migrate_v3(c)))
			return err;
		/* Version 4 added a table: the schema's statements are all
		 * idempotent. */
		if ((err = apply_schema(c)))
			return err;
		c->schema = CH_SCHEMA_VERSION;
		pr_info("store '%s': schema version 3 upgraded to %d "
			"(push_attempts)",
			c->name, CH_SCHEMA_VERSION);
		return 0;
	}
	/* Version 1 was only ever made by development builds (the sample
	 * layout changed before any release): nothing to migrate. */
	if (version) {
		pr_err(
		    "cannot open store '%s': schema version %u was made by a "
		    "development build of kiln and cannot be upgraded; "
		    "copy the data again into a new database",
		    c->name, version);
		return -EPROTO;
	}
	if (c->read_only) {
		pr_err("cannot open store '%s': no kiln schema in database "
		       "'%s' (a kiln server or `kiln migrate` creates it)",
		       c->name, c->db);
		return -ENOENT;
	}
	/* The database itself: created from the default database, since
	 * naming a missing one in the URL fails the request. */
	char *db = c->db;
	c->db = (char *)"default";
	snprintf(sql, sizeof(sql), "CREATE DATABASE IF NOT EXISTS %s", db);
	err = ch__request(c, sql, NULL, "creating the database");
	c->db = db;
	if (err)
		return err == -ENOENT ? -EIO : err;
	if ((err = apply_schema(c)))
		return err;
	c->schema = CH_SCHEMA_VERSION;
	pr_info("store '%s': created schema version %d", c->name,
		CH_SCHEMA_VERSION);
	return 0;
}

static void ch__close(struct store *st);

struct store *clickhouse__open(const struct store_opts *opts)
{
	struct ch_store *c = xcalloc(1, sizeof(*c));
	CURL *h;
	int err;

	c->base.ops = &clickhouse_ops;
	c->read_only = opts->read_only;
	c->retention_ns = opts->retention_ns;
	c->max_size = opts->max_size_bytes;
	c->last_err = 1; /* not an errno: the first error is always logged */
	idxset__init(&c->w_frames);
	idxset__init(&c->w_stacks);
	idxset__init(&c->w_series);
	idxset__init(&c->rd.frame_set);
	idxset__init(&c->rd.stack_set);
	idxset__init(&c->rd.series_set);
	if ((err = parse_url(c, opts->path))) {
		pr_err("store URL '%s' is malformed: expected "
		       "clickhouse://[USER[:PASS]@]HOST[:PORT][/DB]"
		       "[?timeout=SECONDS]",
		       opts->path);
		goto fail;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK || !(h = curl_easy_init())) {
		pr_err("store '%s': cannot start libcurl", c->name);
		err = -ENOMEM;
		goto fail;
	}
	c->curl = h;
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (c->user) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->pass ? c->pass : "");
	}
	if ((err = setup(c))) {
		if (err == -EAGAIN)
			pr_err("cannot open store '%s': ClickHouse does not "
			       "answer",
			       c->name);
		goto fail;
	}
	c->last_err = 0;
	return (struct store *)(void *)c;
fail:
	ch__close((struct store *)(void *)c);
	errno = -err;
	return NULL;
}

void ch__dict_release(struct ch_dict *d)
{
	for (size_t i = 0; i < d->nr_frames; i++) {
		free(d->frames[i].name);
		free(d->frames[i].file);
		free(d->frames[i].module);
		free(d->frames[i].system_name);
		free(d->frames[i].build_id);
	}
	for (size_t i = 0; i < d->nr_series; i++) {
		for (uint32_t j = 0; j < 2 * d->series[i].n; j++)
			free(d->series[i].kv[j]);
		free(d->series[i].kv);
	}
	free(d->frames);
	free(d->stacks);
	free(d->stack_frames);
	free(d->series);
	idxset__release(&d->frame_set);
	idxset__release(&d->stack_set);
	idxset__release(&d->series_set);
	memset(d, 0, sizeof(*d));
}

static void ch__close(struct store *st)
{
	struct ch_store *c = ch_of(st);

	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	idxset__release(&c->w_frames);
	idxset__release(&c->w_stacks);
	idxset__release(&c->w_series);
	free(c->w_ids);
	free(c->w_hour);
	ch__dict_release(&c->rd);
	chbuf__release(&c->resp);
	free(c->endpoint);
	free(c->db);
	free(c->user);
	free(c->pass);
	free(c->name);
	free(c);
}

/* ---- writing ---- */

static uint64_t fingerprint(const void *data, size_t len)
{
	return (uint64_t)hash__bytes(data, len, SEED_HI) << 32 |
	       hash__bytes(data, len, SEED_LO);
}

static bool w_eq(uint32_t pos, const void *key, void *ctx)
{
	return ((const uint64_t *)ctx)[pos] == *(const uint64_t *)key;
}

/* Whether the writer knows 'id' is stored; *pos is its cache slot. */
static bool w_known(struct ch_store *c, struct idxset *set, uint64_t id,
		    uint32_t *pos)
{
	return !idxset__find(set, (uint32_t)id, &id, w_eq, c->w_ids, pos);
}

static uint32_t w_add(struct ch_store *c, struct idxset *set, uint64_t id)
{
	if (c->w_nr == c->w_cap) {
		c->w_cap = c->w_cap ? 2 * c->w_cap : 1024;
		c->w_ids = xrealloc(c->w_ids, c->w_cap * sizeof(*c->w_ids));
		c->w_hour = xrealloc(c->w_hour, c->w_cap * sizeof(*c->w_hour));
	}
	c->w_ids[c->w_nr] = id;
	c->w_hour[c->w_nr] = 0;
	idxset__insert(set, (uint32_t)id, (uint32_t)c->w_nr);
	return (uint32_t)c->w_nr++;
}

static void w_reset(struct ch_store *c)
{
	idxset__clear(&c->w_frames);
	idxset__clear(&c->w_stacks);
	idxset__clear(&c->w_series);
	c->w_nr = 0;
}

struct wrow {
	uint64_t tick; /* unix time / 20 ms */
	uint64_t series, stack, count;
};

/* The rows of one window within one hour, under one window_id. */
struct wgroup {
	size_t start, n; /* into wbatch.rows */
	uint64_t win;
	bool check;  /* may be stored already: look for them */
	bool stored; /* the database has them already */
};

/* Windows encoded for one write: the dictionary rows the database may
 * lack, and sample rows grouped by (window, hour). */
struct wbatch {
	struct chbuf frames, stacks, series, tmp;
	struct wrow *rows;
	size_t nrows, cap_rows;
	struct wgroup *groups;
	size_t ngroups, cap_groups;
	uint64_t period_ns; /* of the last window that had one */
};

static void wbatch__release(struct wbatch *b)
{
	chbuf__release(&b->frames);
	chbuf__release(&b->stacks);
	chbuf__release(&b->series);
	chbuf__release(&b->tmp);
	free(b->rows);
	free(b->groups);
	memset(b, 0, sizeof(*b));
}

static int wrow_cmp(const void *a, const void *b)
{
	const struct wrow *x = a, *y = b;

	if (x->tick != y->tick)
		return x->tick < y->tick ? -1 : 1;
	if (x->series != y->series)
		return x->series < y->series ? -1 : 1;
	if (x->stack != y->stack)
		return x->stack < y->stack ? -1 : 1;
	return 0;
}

static uint64_t frame_id(const struct profile *p, uint32_t fid,
			 struct chbuf *tmp)
{
	const struct frame *f = profile__frame(p, fid);
	uint32_t nums[2] = {f->line, f->kind};

	tmp->len = 0;
	chbuf__str(tmp, profile__str(p, f->name));
	chbuf__str(tmp, profile__str(p, f->file));
	chbuf__str(tmp, profile__str(p, f->module));
	chbuf__put(tmp, nums, sizeof(nums));
	chbuf__u64(tmp, f->addr);
	/* Frames without them keep the ids version 2 gave them. */
	if (f->sysname || f->build_id) {
		chbuf__str(tmp, profile__str(p, f->sysname));
		chbuf__str(tmp, profile__str(p, f->build_id));
		chbuf__u64(tmp, f->build_id ? f->offset : 0);
	}
	return fingerprint(tmp->p, tmp->len);
}

/* Room for 'more' rows and one group per hour of them. */
static int wbatch__reserve(struct wbatch *b, size_t more)
{
	if (b->nrows + more > b->cap_rows) {
		size_t cap = b->cap_rows ? b->cap_rows : 4096;
		struct wrow *r;

		while (cap < b->nrows + more)
			cap *= 2;
		if (!(r = realloc(b->rows, cap * sizeof(*r))))
			return -ENOMEM;
		b->rows = r;
		b->cap_rows = cap;
	}
	return 0;
}

static int wbatch__group(struct wbatch *b, size_t start, size_t n, uint64_t win,
			 bool check)
{
	if (b->ngroups == b->cap_groups) {
		size_t cap = b->cap_groups ? 2 * b->cap_groups : 16;
		struct wgroup *g = realloc(b->groups, cap * sizeof(*g));

		if (!g)
			return -ENOMEM;
		b->groups = g;
		b->cap_groups = cap;
	}
	b->groups[b->ngroups++] = (struct wgroup){start, n, win, check, false};
	return 0;
}

/*
 * Adds window 'p' to 'b': the frames, stacks and series the writer does
 * not know to be stored, and its sample rows, summed per (20 ms slot,
 * series, stack) and grouped by hour. Each hour's rows get a window_id:
 * the fingerprint of the window's identity and the hour when it has one
 * (a pushed window: agent instance and window number), else of the rows.
 * 'check': rows of this window may be stored already (see flush_batch).
 */
static int encode_window(struct ch_store *c, struct wbatch *b,
			 const struct profile *p, const uint64_t *ident,
			 bool check, uint64_t *nsamples)
{
	size_t n, nf = profile__nr_frames(p), nst = profile__nr_stacks(p),
		  nse = profile__nr_series(p), m = 0, k = 0;
	const struct sample *s = profile__samples(p, &n);
	const struct profile_meta *meta = profile__meta_const(p);
	uint64_t fallback = meta->start_ns ? meta->start_ns : clock__unix_ns();
	uint64_t *fid = xcalloc(nf + 1, sizeof(*fid));
	uint64_t *stid = xcalloc(nst + 1, sizeof(*stid));
	uint64_t *seid = xcalloc(nse + 1, sizeof(*seid));
	uint32_t *sehour = xcalloc(nse + 1, sizeof(*sehour));
	struct chbuf *tmp = &b->tmp;
	size_t ngroups0 = b->ngroups;
	struct wrow *rows;
	int err = 0;

	if ((err = wbatch__reserve(b, n)))
		goto out;
	rows = b->rows + b->nrows;
	if (c->w_nr > WCACHE_MAX)
		w_reset(c);
	for (size_t i = 0; i < n; i++) {
		uint64_t t = s[i].time_ns ? s[i].time_ns : fallback;
		uint32_t pos, hour = (uint32_t)(t / 1000000000ULL / 3600);

		if (!s[i].count)
			continue;
		if (!stid[s[i].stack]) {
			size_t depth;
			const uint32_t *fr =
			    profile__stack(p, s[i].stack, &depth);
			uint64_t ids[depth ? depth : 1];

			for (size_t j = 0; j < depth; j++) {
				if (!fid[fr[j]])
					fid[fr[j]] =
					    frame_id(p, fr[j], tmp) | 1;
				ids[j] = fid[fr[j]];
				if (w_known(c, &c->w_frames, ids[j], &pos))
					continue;
				const struct frame *f =
				    profile__frame(p, fr[j]);
				chbuf__u64(&b->frames, ids[j]);
				chbuf__str(&b->frames,
					   profile__str(p, f->name));
				chbuf__str(&b->frames,
					   profile__str(p, f->file));
				chbuf__str(&b->frames,
					   profile__str(p, f->module));
				chbuf__u32(&b->frames, f->line);
				chbuf__u8(&b->frames, (uint8_t)f->kind);
				chbuf__u64(&b->frames, f->addr);
				chbuf__str(&b->frames,
					   profile__str(p, f->sysname));
				chbuf__str(&b->frames,
					   profile__str(p, f->build_id));
				chbuf__u64(&b->frames,
					   f->build_id ? f->offset : 0);
				w_add(c, &c->w_frames, ids[j]);
			}
			stid[s[i].stack] =
			    fingerprint(ids, depth * sizeof(*ids)) | 1;
			if (!w_known(c, &c->w_stacks, stid[s[i].stack], &pos)) {
				chbuf__u64(&b->stacks, stid[s[i].stack]);
				chbuf__varint(&b->stacks, depth);
				chbuf__put(&b->stacks, ids,
					   depth * sizeof(*ids));
				w_add(c, &c->w_stacks, stid[s[i].stack]);
			}
		}
		if (!seid[s[i].series]) {
			size_t nl;
			const struct label *l =
			    profile__series(p, s[i].series, &nl);

			tmp->len = 0;
			for (size_t j = 0; j < nl; j++) {
				chbuf__str(tmp, profile__str(p, l[j].key));
				chbuf__str(tmp, profile__str(p, l[j].value));
			}
			seid[s[i].series] = fingerprint(tmp->p, tmp->len) | 1;
		}
		if (hour > sehour[s[i].series])
			sehour[s[i].series] = hour;
		rows[m++] = (struct wrow){t / CH_SLOT_NS, seid[s[i].series],
					  stid[s[i].stack], s[i].count};
		*nsamples += s[i].count;
	}
	/* Series whose row is missing or names an older hour. */
	for (size_t i = 0; i < nse; i++) {
		uint32_t pos;
		size_t nl;
		const struct label *l;

		if (!seid[i])
			continue;
		if (!w_known(c, &c->w_series, seid[i], &pos))
			pos = w_add(c, &c->w_series, seid[i]);
		else if (c->w_hour[pos] >= sehour[i])
			continue;
		l = profile__series(p, (uint32_t)i, &nl);
		chbuf__u64(&b->series, seid[i]);
		chbuf__varint(&b->series, nl);
		for (size_t j = 0; j < nl; j++)
			chbuf__str(&b->series, profile__str(p, l[j].key));
		chbuf__varint(&b->series, nl);
		for (size_t j = 0; j < nl; j++)
			chbuf__str(&b->series, profile__str(p, l[j].value));
		chbuf__u32(&b->series, sehour[i]);
		c->w_hour[pos] = sehour[i];
	}
	qsort(rows, m, sizeof(*rows), wrow_cmp);
	for (size_t i = 0; i < m; i++) {
		if (k && !wrow_cmp(&rows[k - 1], &rows[i]))
			rows[k - 1].count += rows[i].count;
		else
			rows[k++] = rows[i];
	}
	if (k && rows[k - 1].tick / CH_SLOTS_PER_S / 3600 > c->newest_hour)
		c->newest_hour = rows[k - 1].tick / CH_SLOTS_PER_S / 3600;
	for (size_t i = 0, j; i < k && !err; i = j) {
		uint64_t hour = rows[i].tick / CH_SLOTS_PER_S / 3600, win;

		for (j = i;
		     j < k && rows[j].tick / CH_SLOTS_PER_S / 3600 == hour; j++)
			;
		if (ident) {
			uint64_t key[3] = {ident[0], ident[1], hour};

			win = fingerprint(key, sizeof(key));
		} else {
			win = fingerprint(rows + i, (j - i) * sizeof(*rows));
		}
		err = wbatch__group(b, b->nrows + i, j - i, win, check);
	}
	if (err) { /* none of this window's rows go */
		b->ngroups = ngroups0;
		goto out;
	}
	b->nrows += k;
	if (meta->period_ns)
		b->period_ns = meta->period_ns;
out:
	free(fid);
	free(stid);
	free(seid);
	free(sehour);
	return err;
}

struct srange {
	uint64_t s0, s1; /* seconds, inclusive */
};

static int srange_cmp(const void *a, const void *b)
{
	const struct srange *x = a, *y = b;

	return x->s0 < y->s0 ? -1 : x->s0 > y->s0;
}

/* Appends "((block AND second range) OR ...)" covering the rows of the
 * groups to check, overlapping ranges merged; false when there are none. */
static bool ranges_sql(struct chbuf *sql, const struct wbatch *b)
{
	struct srange *r = xcalloc(b->ngroups + 1, sizeof(*r));
	size_t n = 0, k = 0;

	for (size_t i = 0; i < b->ngroups; i++) {
		const struct wgroup *g = &b->groups[i];

		if (g->check)
			r[n++] = (struct srange){
			    b->rows[g->start].tick / CH_SLOTS_PER_S,
			    b->rows[g->start + g->n - 1].tick / CH_SLOTS_PER_S};
	}
	qsort(r, n, sizeof(*r), srange_cmp);
	for (size_t i = 0; i < n; i++) {
		if (k && r[i].s0 <= r[k - 1].s1 + 1) {
			if (r[i].s1 > r[k - 1].s1)
				r[k - 1].s1 = r[i].s1;
		} else {
			r[k++] = r[i];
		}
	}
	chbuf__put(sql, "(", 1);
	for (size_t i = 0; i < k; i++)
		chbuf__printf(
		    sql,
		    "%s(block >= %llu AND block <= %llu AND second >= "
		    "%llu AND second <= %llu)",
		    i ? " OR " : "", (unsigned long long)(r[i].s0 / 600),
		    (unsigned long long)(r[i].s1 / 600),
		    (unsigned long long)r[i].s0, (unsigned long long)r[i].s1);
	chbuf__put(sql, ")", 1);
	free(r);
	return k > 0;
}

/*
 * Writes what encode_window gathered: the dictionary first (samples never
 * name what is not there), then every (window, hour) group whose
 * window_id the database does not hold yet, all in one INSERT. Only
 * groups marked 'check' are looked for: window_id is not in the sort key,
 * so the lookup reads the window_id of every row in the groups' 10-minute
 * blocks (a large fleet's block holds hundreds of millions of rows). The rows
 * of one group sit in one hour partition, which ClickHouse writes as one
 * part of one block (max_insert_block_size is above any batch): a group
 * lands whole or not at all, so a retry after an error whose outcome
 * kiln cannot know (a timeout, ClickHouse killed mid-request) finds what
 * landed and adds only the rest.
 */
static int flush_batch(struct ch_store *c, struct wbatch *b)
{
	struct chbuf sql = {0}, body = {0};
	uint64_t *wins = NULL;
	struct rbin r;
	int err = 0;

	chbuf__printf(&sql, "SELECT DISTINCT window_id FROM samples WHERE ");
	if (ranges_sql(&sql, b)) {
		size_t nw = 0;

		if (!(wins = malloc(b->ngroups * sizeof(*wins)))) {
			err = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < b->ngroups; i++)
			if (b->groups[i].check)
				wins[nw++] = b->groups[i].win;
		chbuf__printf(&sql, " AND window_id IN ids FORMAT RowBinary");
		err = ch__request_ids(c, (const char *)sql.p, wins, nw,
				      "looking for windows");
		free(wins);
		if (err)
			goto out;
		r = (struct rbin){c->resp.p, c->resp.p + c->resp.len, false};
		while (rbin__more(&r)) {
			uint64_t win = rbin__u64(&r);

			for (size_t i = 0; i < b->ngroups && !r.bad; i++)
				if (b->groups[i].check &&
				    b->groups[i].win == win) {
					b->groups[i].stored = true;
					pr_debug(
					    "store '%s': window %016llx is "
					    "stored already",
					    c->name, (unsigned long long)win);
				}
		}
		if (r.bad) {
			err = -EBADMSG;
			goto out;
		}
	}
	if (b->frames.len && (err = ch__request(c,
						"INSERT INTO frames (id, name, "
						"file, module, line, kind, "
						"addr, system_name, build_id, "
						"file_offset) FORMAT RowBinary",
						&b->frames, "writing frames")))
		goto out;
	if (b->stacks.len &&
	    (err = ch__request(c,
			       "INSERT INTO stacks (id, frames) FORMAT "
			       "RowBinary",
			       &b->stacks, "writing stacks")))
		goto out;
	if (b->series.len &&
	    (err = ch__request(c,
			       "INSERT INTO series (id, label_keys, "
			       "label_values, hour) FORMAT RowBinary",
			       &b->series, "writing series")))
		goto out;
	for (size_t i = 0; i < b->ngroups; i++) {
		const struct wgroup *g = &b->groups[i];

		if (g->stored)
			continue;
		for (size_t j = g->start; j < g->start + g->n; j++) {
			const struct wrow *w = &b->rows[j];
			uint64_t sec = w->tick / CH_SLOTS_PER_S;

			chbuf__u32(&body, (uint32_t)(sec / 600));
			chbuf__u32(&body, (uint32_t)sec);
			chbuf__u8(&body, (uint8_t)(w->tick % CH_SLOTS_PER_S));
			chbuf__u64(&body, w->series);
			chbuf__u64(&body, w->stack);
			chbuf__u64(&body, w->count);
			chbuf__u64(&body, g->win);
		}
	}
	if (body.len &&
	    (err = ch__request(c,
			       "INSERT INTO samples (block, second, slot, "
			       "series, stack, count, window_id) FORMAT "
			       "RowBinary",
			       &body, "writing samples")))
		goto out;
	if (b->period_ns && b->period_ns != c->period_ns) {
		char q[160];

		snprintf(q, sizeof(q),
			 "INSERT INTO meta VALUES ('period_ns', %llu, %llu)",
			 (unsigned long long)b->period_ns,
			 (unsigned long long)clock__unix_ns());
		if (!(err = ch__request(c, q, NULL, "writing settings")))
			c->period_ns = b->period_ns;
	}
out:
	chbuf__release(&sql);
	chbuf__release(&body);
	return err;
}

/* ---- hourly rollups ---- */

#define ROLL_EVERY_S 300 /* a pass over stale hours at most this often */
#define ROLL_PER_PASS 6	 /* hours rolled up by one pass, at most */

struct hour_rows {
	uint64_t hour, rows;
};

/* Sample rows per hour partition (exact: active parts only). */
static int hour_rows(struct ch_store *c, uint64_t h0, uint64_t h1,
		     struct hour_rows **out, size_t *n)
{
	struct chbuf sql = {0};
	struct rbin r;
	size_t cap = 0;
	int err;

	*out = NULL;
	*n = 0;
	chbuf__printf(&sql,
		      "SELECT toUInt64(partition) AS h, toUInt64(sum(rows)) "
		      "FROM system.parts WHERE database = ");
	chbuf__quote(&sql, c->db);
	chbuf__printf(&sql,
		      " AND table = 'samples' AND active GROUP BY h HAVING h "
		      ">= %llu AND h < %llu ORDER BY h FORMAT RowBinary",
		      (unsigned long long)h0, (unsigned long long)h1);
	err = ch__request(c, (const char *)sql.p, NULL, "counting rows");
	chbuf__release(&sql);
	if (err)
		return err;
	r = (struct rbin){c->resp.p, c->resp.p + c->resp.len, false};
	while (rbin__more(&r) && *n < 1000000) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[*n].hour = rbin__u64(&r);
		(*out)[*n].rows = rbin__u64(&r);
		++*n;
	}
	return r.bad ? -EBADMSG : 0;
}

struct roll_row {
	uint64_t hour, version, attempt;
};

static int roll_rows(struct ch_store *c, uint64_t h0, uint64_t h1,
		     struct roll_row **out, size_t *n)
{
	char sql[200];
	struct rbin r;
	size_t cap = 0;
	int err;

	*out = NULL;
	*n = 0;
	snprintf(sql, sizeof(sql),
		 "SELECT toUInt64(hour), version, attempt FROM rollups WHERE "
		 "hour >= %llu AND hour < %llu ORDER BY hour, attempt FORMAT "
		 "RowBinary",
		 (unsigned long long)h0, (unsigned long long)h1);
	if ((err = ch__request(c, sql, NULL, "reading rollups")))
		return err;
	r = (struct rbin){c->resp.p, c->resp.p + c->resp.len, false};
	while (rbin__more(&r) && *n < 10000000) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[*n].hour = rbin__u64(&r);
		(*out)[*n].version = rbin__u64(&r);
		(*out)[*n].attempt = rbin__u64(&r);
		++*n;
	}
	return r.bad ? -EBADMSG : 0;
}

/* The usable attempt for 'hr' among rollup rows sorted by (hour, attempt):
 * the first whose version is the hour's row count now; 0 when none. */
static uint64_t usable(const struct roll_row *rr, size_t n,
		       const struct hour_rows *hr)
{
	for (size_t i = 0; i < n; i++)
		if (rr[i].hour == hr->hour && rr[i].version == hr->rows)
			return rr[i].attempt;
	return 0;
}

int ch__rolled(struct ch_store *c, uint64_t from_ns, uint64_t to_ns,
	       struct ch_rolled *out)
{
	uint64_t h0 = (from_ns / 1000000000ULL + 3599) / 3600,
		 h1 = to_ns / 1000000000ULL / 3600;
	struct hour_rows *hr = NULL;
	struct roll_row *rr = NULL;
	size_t nhr, nrr;
	int err;

	memset(out, 0, sizeof(*out));
	if (h0 >= h1)
		return 0;
	if ((err = hour_rows(c, h0, h1, &hr, &nhr)) ||
	    (err = roll_rows(c, h0, h1, &rr, &nrr)))
		goto out;
	out->hours = xcalloc(nhr + 1, sizeof(*out->hours));
	out->attempts = xcalloc(nhr + 1, sizeof(*out->attempts));
	for (size_t i = 0; i < nhr; i++) {
		uint64_t a = hr[i].rows ? usable(rr, nrr, &hr[i]) : 0;

		if (a) {
			out->hours[out->n] = (uint32_t)hr[i].hour;
			out->attempts[out->n++] = a;
		}
	}
out:
	free(hr);
	free(rr);
	return err;
}

void ch__rolled_release(struct ch_rolled *r)
{
	free(r->hours);
	free(r->attempts);
	memset(r, 0, sizeof(*r));
}

static int roll_hour(struct ch_store *c, const struct hour_rows *hr)
{
	uint64_t key[3] = {hr->hour, clock__unix_ns(), (uint64_t)getpid()};
	uint64_t attempt = fingerprint(key, sizeof(key)) | 1;
	char sql[512];
	int err;

	/* Rows counted before the SELECT: if more arrive meanwhile, the
	 * count never matches 'version' again and the attempt is unused. */
	snprintf(sql, sizeof(sql),
		 "INSERT INTO samples_1h SELECT toUInt32(%llu), series, stack, "
		 "sum(count), toUInt64(%llu) FROM samples WHERE block >= %llu "
		 "AND block < %llu AND second >= %llu AND second < %llu GROUP "
		 "BY series, stack",
		 (unsigned long long)hr->hour, (unsigned long long)attempt,
		 (unsigned long long)(hr->hour * 6),
		 (unsigned long long)(hr->hour * 6 + 6),
		 (unsigned long long)(hr->hour * 3600),
		 (unsigned long long)(hr->hour * 3600 + 3600));
	if ((err = ch__request(c, sql, NULL, "rolling up an hour")))
		return err;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO totals_1m SELECT toUInt32(intDiv(second, 60)) AS "
		 "m, series, sum(count), toUInt64(%llu) FROM samples WHERE "
		 "block >= %llu AND block < %llu AND second >= %llu AND second "
		 "< %llu GROUP BY m, series",
		 (unsigned long long)attempt,
		 (unsigned long long)(hr->hour * 6),
		 (unsigned long long)(hr->hour * 6 + 6),
		 (unsigned long long)(hr->hour * 3600),
		 (unsigned long long)(hr->hour * 3600 + 3600));
	if ((err = ch__request(c, sql, NULL, "rolling up an hour")))
		return err;
	snprintf(sql, sizeof(sql),
		 "INSERT INTO rollups VALUES (%llu, %llu, %llu, now())",
		 (unsigned long long)hr->hour, (unsigned long long)hr->rows,
		 (unsigned long long)attempt);
	return ch__request(c, sql, NULL, "recording a rollup");
}

/* Rolls up hours that are not the newest and whose rollup is missing or
 * stale, a few per pass, newest first. */
static int roll_pass(struct ch_store *c)
{
	struct hour_rows *hr = NULL;
	struct roll_row *rr = NULL;
	size_t nhr, nrr, done = 0;
	int err;

	c->last_roll = mono_s();
	if ((err = hour_rows(c, 0, UINT32_MAX, &hr, &nhr)) ||
	    (err = roll_rows(c, 0, UINT32_MAX, &rr, &nrr)))
		goto out;
	for (size_t i = nhr > 0 ? nhr - 1 : 0;
	     i-- > 0 && done < ROLL_PER_PASS;) {
		if (!hr[i].rows || usable(rr, nrr, &hr[i]))
			continue;
		if ((err = roll_hour(c, &hr[i])))
			break;
		done++;
	}
out:
	free(hr);
	free(rr);
	return err;
}

/* Bookkeeping after a write of 'windows' windows and 'samples' samples. */
static int written(struct ch_store *c, int err, size_t windows,
		   uint64_t samples)
{
	if (err) {
		/* What the cache says was written may not have been. */
		w_reset(c);
		c->stats.write_errors++;
		return err;
	}
	c->stats.windows_written += windows;
	c->stats.samples_written += samples;
	/* A new hour began, or a while passed: roll up what is complete.
	 * A failure here costs speed only; queries read the samples. */
	if (c->newest_hour > c->prev_newest_hour ||
	    mono_s() - c->last_roll >= ROLL_EVERY_S) {
		c->prev_newest_hour = c->newest_hour;
		roll_pass(c);
	}
	return 0;
}

static int ch__write(struct store *st, const struct profile *p)
{
	struct ch_store *c = ch_of(st);
	struct wbatch b = {0};
	uint64_t nsamples = 0;
	int err;

	if (c->read_only)
		return -EROFS;
	if (!(err = encode_window(c, &b, p, NULL, true, &nsamples)))
		err = flush_batch(c, &b);
	wbatch__release(&b);
	return written(c, err, 1, nsamples);
}

/* ---- pushed windows (kiln agent --push): identities and agents ---- */

/* Among the windows whose rets[i] is 1 (to be written): rets[i] = -EEXIST
 * for those push_windows holds (stored), tried[i] = true for those
 * push_attempts holds (a write of them began). */
static int recorded(struct ch_store *c, const struct store_pushed *w, size_t n,
		    int *rets, bool *tried)
{
	struct chbuf sql = {0}, keys = {0};
	bool any = false;
	struct rbin r;
	int err;

	for (size_t i = 0; i < n; i++) {
		if (rets[i] != 1)
			continue;
		chbuf__printf(&keys, "%s(%llu, %llu)", any ? ", " : "",
			      (unsigned long long)w[i].w.instance,
			      (unsigned long long)w[i].w.seq);
		any = true;
	}
	if (!any)
		return 0;
	chbuf__printf(&sql,
		      "SELECT instance, seq, toUInt8(1) FROM push_windows "
		      "WHERE (instance, seq) IN (%s) UNION ALL SELECT "
		      "instance, seq, toUInt8(0) FROM push_attempts WHERE "
		      "(instance, seq) IN (%s) FORMAT RowBinary",
		      (const char *)keys.p, (const char *)keys.p);
	err = ch__request(c, (const char *)sql.p, NULL, "looking for windows");
	chbuf__release(&sql);
	chbuf__release(&keys);
	if (err)
		return err;
	r = (struct rbin){c->resp.p, c->resp.p + c->resp.len, false};
	while (rbin__more(&r)) {
		uint64_t inst = rbin__u64(&r), seq = rbin__u64(&r);
		bool stored = rbin__u8(&r);

		for (size_t i = 0; i < n && !r.bad; i++) {
			if (rets[i] != 1 || w[i].w.instance != inst ||
			    w[i].w.seq != seq)
				continue;
			if (stored)
				rets[i] = -EEXIST;
			else
				tried[i] = true;
		}
	}
	return r.bad ? -EBADMSG : 0;
}

static void push_row(struct chbuf *row, const struct store_push *w)
{
	chbuf__u64(row, w->instance);
	chbuf__u64(row, w->seq);
	chbuf__str(row, w->host);
	chbuf__str(row, w->version ? w->version : "");
	chbuf__u64(row, w->start_ns);
	chbuf__u64(row, w->end_ns);
	chbuf__u64(row, w->samples);
	chbuf__u64(row, w->pending);
	chbuf__u64(row, w->lost_samples);
	chbuf__u64(row, w->now_ns);
}

/*
 * A window's identity is (instance, seq): its sample rows carry an id made
 * from it, so a retry finds them even if the push_windows row that follows
 * was never written; that row makes the next retry a cheap -EEXIST and
 * feeds the hosts page. Before its samples, a push_attempts row says a
 * write of it began: only windows with one (a retry) are looked for in
 * samples. A batch costs the same statements as one window: one lookup in
 * push_windows and push_attempts, one INSERT into push_attempts, one per
 * dictionary table, one into samples and one into push_windows (and, for
 * retried windows only, one lookup in samples).
 */
static int ch__write_pushed_batch(struct store *st,
				  const struct store_pushed *w, size_t n,
				  int *rets)
{
	struct ch_store *c = ch_of(st);
	struct wbatch b = {0};
	struct chbuf rows = {0}, tries = {0};
	size_t *first, nwin = 0;
	bool *tried;
	uint64_t nsamples = 0;
	int err = 0;

	if (!n)
		return 0;
	if (!(first = malloc(n * sizeof(*first))))
		return -ENOMEM;
	if (!(tried = calloc(n, sizeof(*tried)))) {
		free(first);
		return -ENOMEM;
	}
	/* rets[i] == 1: window i is still to be written. A window that is
	 * twice in the batch (an agent's retry while the first try waits)
	 * gets the first one's answer. */
	for (size_t i = 0; i < n; i++) {
		first[i] = i;
		for (size_t j = 0; j < i; j++)
			if (w[j].w.instance == w[i].w.instance &&
			    w[j].w.seq == w[i].w.seq) {
				first[i] = j;
				break;
			}
		rets[i] = c->read_only ? -EROFS : !w[i].w.host ? -EINVAL : 1;
		if (first[i] != i && rets[i] == 1)
			rets[i] = 0;
	}
	if ((err = recorded(c, w, n, rets, tried)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint64_t ident[2] = {w[i].w.instance, w[i].w.seq}, ns = 0;
		int e;

		if (rets[i] != 1)
			continue;
		if ((e = encode_window(c, &b, w[i].p, ident, tried[i], &ns))) {
			rets[i] = e;
			continue;
		}
		nsamples += ns;
		nwin++;
		push_row(&rows, &w[i].w);
		if (!tried[i]) {
			chbuf__u64(&tries, w[i].w.instance);
			chbuf__u64(&tries, w[i].w.seq);
			chbuf__u64(&tries, w[i].w.end_ns);
		}
	}
	/* The attempts are stored before any sample row: a window whose
	 * samples may exist always has one. */
	if (nwin && tries.len)
		err = ch__request(c,
				  "INSERT INTO push_attempts (instance, seq, "
				  "end_ns) FORMAT RowBinary",
				  &tries, "recording windows");
	if (nwin && !err && !(err = flush_batch(c, &b)))
		err = ch__request(c,
				  "INSERT INTO push_windows (instance, seq, "
				  "host, version, start_ns, end_ns, samples, "
				  "pending, lost_samples, received_ns) FORMAT "
				  "RowBinary",
				  &rows, "recording windows");
	if (nwin)
		written(c, err, nwin, nsamples);
out:
	for (size_t i = 0; i < n; i++)
		if (rets[i] == 1)
			rets[i] = err;
	for (size_t i = 0; i < n; i++)
		if (first[i] != i)
			rets[i] = rets[first[i]];
	free(first);
	free(tried);
	wbatch__release(&b);
	chbuf__release(&rows);
	chbuf__release(&tries);
	return 0;
}

static int ch__write_pushed(struct store *st, const struct profile *p,
			    const struct store_push *w)
{
	struct store_pushed one = {p, *w};
	int ret;

	ch__write_pushed_batch(st, &one, 1, &ret);
	return ret;
}

static int ch__agents(struct store *st,
		      int (*fn)(const struct store_agent *a, void *ctx),
		      void *ctx)
{
	struct ch_store *c = ch_of(st);
	struct rbin r;
	int err;

	/* One row per window first: a window recorded twice (two servers
	 * racing on one retry) counts once. */
	err = ch__request(
	    c,
	    "SELECT instance, argMax(host, t), argMax(version, t), min(t), "
	    "max(t), max(e), toUInt64(count()), toUInt64(sum(n)), "
	    "argMax(pending, t), argMax(lost, t) FROM (SELECT instance, seq, "
	    "argMax(host, received_ns) AS host, argMax(version, received_ns) "
	    "AS version, min(received_ns) AS t, max(end_ns) AS e, any(samples) "
	    "AS n, argMax(pending, received_ns) AS pending, "
	    "argMax(lost_samples, received_ns) AS lost FROM push_windows "
	    "GROUP BY instance, seq) GROUP BY instance ORDER BY argMax(host, "
	    "t), instance FORMAT RowBinary",
	    NULL, "listing agents");
	if (err)
		return err;
	r = (struct rbin){c->resp.p, c->resp.p + c->resp.len, false};
	while (rbin__more(&r) && !err) {
		struct store_agent a = {0};
		const char *s;
		size_t len;
		char host[256], version[128];

		a.instance = rbin__u64(&r);
		s = rbin__str(&r, &len);
		snprintf(host, sizeof(host), "%.*s", (int)len, s);
		s = rbin__str(&r, &len);
		snprintf(version, sizeof(version), "%.*s", (int)len, s);
		a.first_push_ns = rbin__u64(&r);
		a.last_push_ns = rbin__u64(&r);
		a.last_end_ns = rbin__u64(&r);
		a.windows = rbin__u64(&r);
		a.samples = rbin__u64(&r);
		a.pending = rbin__u64(&r);
		a.lost_samples = rbin__u64(&r);
		if (r.bad)
			break;
		a.host = host;
		a.version = version;
		err = fn(&a, ctx);
	}
	if (!err && r.bad) {
		pr_err("store '%s': malformed answer from ClickHouse", c->name);
		err = -EBADMSG;
	}
	return err;
}

/* ---- retention ---- */

/* Hour partitions of 'samples', oldest first, with their bytes. */
struct part {
	uint64_t hour, bytes;
};

static int list_parts(struct ch_store *c, struct part **out, size_t *n)
{
	struct chbuf sql = {0};
	struct rbin r;
	size_t cap = 0;
	int err;

	*out = NULL;
	*n = 0;
	chbuf__printf(
	    &sql, "SELECT toUInt64(partition), toUInt64(sum(bytes_on_disk)) "
		  "FROM system.parts WHERE database = ");
	chbuf__quote(&sql, c->db);
	chbuf__printf(&sql, " AND table = 'samples' AND active GROUP BY "
			    "partition ORDER BY toUInt64(partition) FORMAT "
			    "RowBinary");
	err = ch__request(c, (const char *)sql.p, NULL, "listing partitions");
	chbuf__release(&sql);
	if (err)
		return err;
	r = (struct rbin){c->resp.p, c->resp.p + c->resp.len, false};
	while (rbin__more(&r)) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[*n].hour = rbin__u64(&r);
		(*out)[*n].bytes = rbin__u64(&r);
		++*n;
	}
	if (r.bad || *n > 10000000) {
		free(*out);
		*out = NULL;
		*n = 0;
		return -EBADMSG;
	}
	return 0;
}

static int drop_hour(struct ch_store *c, uint64_t hour)
{
	char sql[96];
	int err;

	snprintf(sql, sizeof(sql), "ALTER TABLE samples DROP PARTITION %llu",
		 (unsigned long long)hour);
	err = ch__request(c, sql, NULL, "dropping old data");
	if (!err)
		c->stats.rows_deleted++;
	return err;
}

/*
 * Drops whole hours: those that ended before the retention age, then the
 * oldest while the samples take more than the size limit. So ClickHouse
 * keeps up to an hour more than the age asked, where SQLite cuts at 10 s.
 */
static int ch__enforce_retention(struct store *st, uint64_t now)
{
	struct ch_store *c = ch_of(st);
	struct part *parts;
	uint64_t total = 0, before = c->stats.rows_deleted, cutoff_h = 0;
	size_t n, i = 0;
	int err;

	if (c->read_only)
		return -EROFS;
	if (!c->retention_ns && !c->max_size)
		return 0;
	if ((err = list_parts(c, &parts, &n)))
		return err;
	if (c->retention_ns && now > c->retention_ns)
		cutoff_h = (now - c->retention_ns) / 1000000000ULL / 3600;
	for (size_t j = 0; j < n; j++)
		total += parts[j].bytes;
	for (; i < n && !err; i++) {
		/* Hour h holds [h, h + 1): gone when h + 1 <= cutoff. */
		if (parts[i].hour + 1 <= cutoff_h ||
		    (c->max_size && total > c->max_size && i + 1 < n)) {
			err = drop_hour(c, parts[i].hour);
			total -= parts[i].bytes;
		} else {
			break;
		}
	}
	/* Rollup days that end before the oldest hour kept. */
	if (!err && c->stats.rows_deleted != before) {
		uint64_t keep = i < n ? parts[i].hour : UINT32_MAX;
		char sql[256];
		struct rbin r;

		snprintf(
		    sql, sizeof(sql),
		    "SELECT DISTINCT toUInt64(partition) FROM system.parts "
		    "WHERE database = '%s' AND table IN ('samples_1h', "
		    "'totals_1m', 'push_windows', 'push_attempts') AND active "
		    "FORMAT RowBinary",
		    c->db);
		err = ch__request(c, sql, NULL, "listing rollups");
		r = (struct rbin){c->resp.p, c->resp.p + c->resp.len, false};
		size_t nd = 0;
		uint64_t days[4096];
		while (!err && rbin__more(&r) && nd < 4096)
			days[nd++] = rbin__u64(&r);
		for (size_t d = 0; !err && !r.bad && d < nd; d++) {
			if ((days[d] + 1) * 24 > keep)
				continue;
			/* Both are partitioned by day. */
			snprintf(sql, sizeof(sql),
				 "ALTER TABLE samples_1h DROP PARTITION %llu",
				 (unsigned long long)days[d]);
			err = ch__request(c, sql, NULL, "dropping old rollups");
			snprintf(sql, sizeof(sql),
				 "ALTER TABLE totals_1m DROP PARTITION %llu",
				 (unsigned long long)days[d]);
			if (!err)
				err = ch__request(c, sql, NULL,
						  "dropping old rollups");
			snprintf(sql, sizeof(sql),
				 "ALTER TABLE push_windows DROP PARTITION %llu",
				 (unsigned long long)days[d]);
			if (!err)
				err = ch__request(c, sql, NULL,
						  "dropping old windows");
			snprintf(
			    sql, sizeof(sql),
			    "ALTER TABLE push_attempts DROP PARTITION %llu",
			    (unsigned long long)days[d]);
			if (!err)
				err = ch__request(c, sql, NULL,
						  "dropping old windows");
		}
	}
	if (!err && c->stats.rows_deleted != before && i < n) {
		char sql[96];

		/* Series whose newest data went: a mutation, run in the
		 * background by ClickHouse. */
		snprintf(sql, sizeof(sql),
			 "ALTER TABLE series DELETE WHERE hour < %llu",
			 (unsigned long long)parts[i].hour);
		err = ch__request(c, sql, NULL, "dropping old series");
	}
	free(parts);
	return err;
}

/* ---- stats and checks ---- */

static void ch__stats(struct store *st, struct store_stats *out)
{
	struct ch_store *c = ch_of(st);
	struct chbuf sql = {0};
	struct rbin r;

	*out = c->stats;
	out->size_bytes = out->first_ns = out->last_ns = 0;
	chbuf__printf(&sql, "SELECT toUInt64(sum(bytes_on_disk)) FROM "
			    "system.parts WHERE active AND database = ");
	chbuf__quote(&sql, c->db);
	chbuf__printf(&sql, " FORMAT RowBinary");
	if (!ch__request(c, (const char *)sql.p, NULL, "reading sizes")) {
		r = (struct rbin){c->resp.p, c->resp.p + c->resp.len, false};
		out->size_bytes = rbin__u64(&r);
	}
	chbuf__release(&sql);
	if (!ch__request(c,
			 "SELECT toUInt64(min(second)), toUInt64(max(second)), "
			 "count() FROM samples FORMAT RowBinary",
			 NULL, "reading the data range")) {
		r = (struct rbin){c->resp.p, c->resp.p + c->resp.len, false};
		uint64_t lo = rbin__u64(&r), hi = rbin__u64(&r);

		/* As SQLite reports it: 10 s buckets. */
		if (rbin__u64(&r) && !r.bad) {
			out->first_ns = lo / 10 * 10 * 1000000000ULL;
			out->last_ns = (hi / 10 + 1) * 10 * 1000000000ULL;
		}
	}
}

/*
 * MergeTree tables have no CHECK TABLE on old servers: check that the
 * schema is ours and that every table reads.
 */
static int ch__check(struct store *st)
{
	static const char *const tables[] = {
	    "frames",	     "stacks",	  "series",  "samples",
	    "samples_1h",    "totals_1m", "rollups", "push_windows",
	    "push_attempts", "meta"};
	struct ch_store *c = ch_of(st);
	uint32_t version;
	char sql[96];
	int err;

	if ((err = schema_version(c, &version)))
		return err;
	if (version != CH_SCHEMA_VERSION) {
		pr_err("store '%s': schema version %u, expected %d", c->name,
		       version, CH_SCHEMA_VERSION);
		return -EBADMSG;
	}
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql),
			 "SELECT count() FROM %s FORMAT "
			 "RowBinary",
			 tables[i]);
		if ((err = ch__request(c, sql, NULL, "checking a table"))) {
			if (err == -ENOENT)
				pr_err("store '%s': table '%s' is missing",
				       c->name, tables[i]);
			return err == -ENOENT ? -EBADMSG : err;
		}
	}
	return 0;
}

static const struct store_ops clickhouse_ops = {
    .name = "clickhouse",
    .close = ch__close,
    .write = ch__write,
    .enforce_retention = ch__enforce_retention,
    .query = ch__query,
    .timeline = ch__timeline,
    .heatmap = ch__heatmap,
    .label_names = ch__label_names,
    .label_values = ch__label_values,
    .stats = ch__stats,
    .check = ch__check,
    .write_pushed = ch__write_pushed,
    .write_pushed_batch = ch__write_pushed_batch,
    .agents = ch__agents,
};
