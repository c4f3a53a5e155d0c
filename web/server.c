// SPDX-License-Identifier: MIT
/*
 * The HTTP side: civetweb setup, authentication, routing, static assets
 * from memory, /metrics and /healthz. One catch-all handler routes every
 * path itself, so nothing civetweb would serve on its own (files,
 * directory listings) is ever reachable. The JSON API lives in api.c.
 */
#include <arpa/inet.h>
#include <civetweb.h>
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/clock.h"
#include "lib/embedded.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "web/api.h"
#include "web/server.h"

/* The files of web/ui/, embedded by scripts/embed.sh. */
extern const struct embedded_file ui_assets[];
/* web/compat/libssl_shim.c built as a shared object (see there). */
extern const struct embedded_file tls_assets[];

#ifndef KILN_BUILD_ID
#define KILN_BUILD_ID "dev"
#endif

#define MAX_TOKEN 512
#define MAX_TOKENS 16
#define MAX_PUSH_BODY (16u << 20) /* a window frame, compressed */
#define GZIP_MIN 1024
#define MAX_POOL 16
#define MAX_BODY (64u << 20) /* uploads: pprof/folded, before decompression */
#define BODY_DEADLINE_US (30ULL * 1000000) /* a trickling client is cut off */
#define MAX_SESSIONS 64
#define SESSION_TTL_S (12 * 3600)
#define SESSION_ID_LEN 32 /* hex of 16 random bytes */

/*
 * Sent with every answer. No inline script anywhere in web/ui/ (the
 * legend's colour swatches use style attributes, hence 'unsafe-inline'
 * for styles only); nothing may frame the UI; no referrer carries a
 * ?token= login URL elsewhere.
 */
#define SECURITY_HEADERS                                                       \
	"Content-Security-Policy: default-src 'none'; script-src 'self'; "     \
	"style-src 'self' 'unsafe-inline'; img-src 'self' data:; "             \
	"connect-src 'self'; base-uri 'none'; form-action 'self'; "            \
	"frame-ancestors 'none'\r\n"                                           \
	"X-Frame-Options: DENY\r\n"                                            \
	"Referrer-Policy: no-referrer\r\n"                                     \
	"Cross-Origin-Resource-Policy: same-origin\r\n"

/* A heavy query waits this long for a slot (they queue behind each other
 * on a busy server), an upload this long (it holds its body), then 503. */
#define HEAVY_WAIT_S 30
#define UPLOAD_WAIT_S 5
#define REQUEST_BUDGET_S 20 /* CPU-heavy work of one request, then 503 */
#define UPLOAD_SLOTS 2	    /* uploads read, parsed and written at once */
/* A batch of pushes is written once it holds this many windows or sample
 * entries (or its time is up): bounded memory while they wait. */
#define BATCH_MAX_WINDOWS 256
#define BATCH_MAX_SAMPLES 2000000

/*
 * A bounded number of requests doing one kind of heavy work at a time:
 * the rest wait a little, then get 503 with Retry-After, so a burst of
 * big queries cannot take every CPU and the memory with it while cheap
 * requests (/healthz, assets, /labels) keep being answered.
 */
struct slots {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int running, max;
};

static void slots_init(struct slots *sl, int max)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&sl->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sl->cond, &ca);
	pthread_condattr_destroy(&ca);
	sl->running = 0;
	sl->max = max;
}

static void slots_destroy(struct slots *sl)
{
	pthread_mutex_destroy(&sl->lock);
	pthread_cond_destroy(&sl->cond);
}

static bool slots_enter(struct slots *sl, int wait_s)
{
	struct timespec until;
	bool ok = true;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += wait_s;
	pthread_mutex_lock(&sl->lock);
	while (sl->running >= sl->max) {
		if (pthread_cond_timedwait(&sl->cond, &sl->lock, &until) ==
			ETIMEDOUT &&
		    sl->running >= sl->max) {
			ok = false;
			break;
		}
	}
	if (ok)
		sl->running++;
	pthread_mutex_unlock(&sl->lock);
	return ok;
}

static void slots_leave(struct slots *sl)
{
	pthread_mutex_lock(&sl->lock);
	sl->running--;
	pthread_cond_signal(&sl->cond);
	pthread_mutex_unlock(&sl->lock);
}

/*
 * Pushes waiting to be written together, for a store that writes several
 * windows in one go (store__write_pushed_batch: ClickHouse, where an
 * INSERT per window is what limits a large fleet). The first push to
 * arrive leads: it collects the pushes that come within --push-batch-ms
 * (or until the batch is full), writes them all under write_lock and
 * hands every push its own result; each request answers only after its
 * window was written, so a 200 still means stored. One batch collects
 * while the previous one is written, at most: pushes arriving at a full
 * batch wait for room, then 503.
 */
struct push_wait {
	struct store_pushed w;
	size_t samples;
	int ret;
	bool done;
	struct push_wait *next;
};

struct push_batch {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* any change: room, written, full */
	struct push_wait *head, **tail;
	size_t n, samples;
	bool leading;	    /* a push collects the batch */
	bool writing;	    /* a leader writes the previous batch */
	atomic_int batches; /* the store: -1 not known yet, 0 no, 1 yes */
	atomic_ullong written, windows; /* batches written, their windows */
};

/* A browser login: a random id, never the token itself. */
struct web_session {
	char id[SESSION_ID_LEN + 1];
	uint64_t expires_s; /* CLOCK_MONOTONIC seconds; 0: free */
};

enum auth_kind { AUTH_OPEN, AUTH_BEARER, AUTH_COOKIE, AUTH_FAILED };

struct web_server {
	struct mg_context *ctx;
	struct web_opts opts;
	char *db_path;
	char db_name[512]; /* db_path without a password, for messages */
	char token[MAX_TOKENS][MAX_TOKEN + 1];
	size_t token_len[MAX_TOKENS];
	int nr_tokens; /* several, so one can be rotated without downtime */
	bool tls;
	int tls_fd; /* memfd holding key + certificate, or -1 */
	char tls_pem_path[32];
	bool need_auth;
	int port;
	char *index_html; /* index.html with the build id filled in */
	size_t index_len;
	/* --public-url: its "host[:port]" and its origin, or "" */
	char public_host[256];
	char public_origin[300];

	pthread_mutex_t session_lock;
	struct web_session sessions[MAX_SESSIONS];

	struct slots heavy, uploads;
	size_t max_upload;
	atomic_ullong busy_refused; /* 503: no slot in time */

	pthread_mutex_t write_lock; /* one writer: uploads */
	struct store *wstore;
	struct push_batch batch;
	pthread_mutex_t pool_lock;
	struct store *pool[MAX_POOL];
	int nr_pool;

	atomic_ullong req_by_class[6]; /* 1xx..5xx by status / 100 */
	atomic_ullong bytes_sent;
	atomic_ullong req_usec;
	atomic_ullong store_open_errors;
};

/* ---- store pool: one read-only connection per concurrent request ---- */

static struct store *pool_get(struct web_server *srv)
{
	struct store_opts so = {.path = srv->db_path, .read_only = true};
	struct store *st = NULL;

	pthread_mutex_lock(&srv->pool_lock);
	if (srv->nr_pool)
		st = srv->pool[--srv->nr_pool];
	pthread_mutex_unlock(&srv->pool_lock);
	if (!st) {
		st = store__open(&so);
		if (!st)
			atomic_fetch_add(&srv->store_open_errors, 1);
	}
	return st;
}

static void pool_put(struct web_server *srv, struct store *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&srv->pool_lock);
	if (srv->nr_pool < MAX_POOL) {
		srv->pool[srv->nr_pool++] = st;
		st = NULL;
	}
	pthread_mutex_unlock(&srv->pool_lock);
	store__close(st);
}

/* ---- sending ---- */

static bool accepts_gzip(struct mg_connection *conn)
{
	const char *ae = mg_get_header(conn, "Accept-Encoding");

	return ae && strstr(ae, "gzip");
}

/* Gzips 'len' bytes; returns a malloc'ed buffer or NULL (send plain). */
static unsigned char *gzip_buf(const void *data, size_t len, size_t *out_len)
{
	z_stream zs;
	unsigned char *out;
	size_t cap;

	memset(&zs, 0, sizeof(zs));
	/* Level 1: most of the gain on repetitive JSON, little CPU. */
	if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return NULL;
	cap = deflateBound(&zs, len) + 32;
	out = malloc(cap);
	if (!out) {
		deflateEnd(&zs);
		return NULL;
	}
	zs.next_in = (unsigned char *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	if (len > UINT32_MAX || deflate(&zs, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&zs);
		free(out);
		return NULL;
	}
	*out_len = zs.total_out;
	deflateEnd(&zs);
	return out;
}

static int send_response(struct web_server *srv, struct mg_connection *conn,
			 int status, const char *type, const char *cache,
			 const char *extra, const void *body, size_t len)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	bool head = !strcmp(ri->request_method, "HEAD");
	unsigned char *gz = NULL;
	size_t gz_len = 0;
	char hdr[32];
	int n;

	if (len >= GZIP_MIN && accepts_gzip(conn)) {
		gz = gzip_buf(body, len, &gz_len);
		if (gz) {
			body = gz;
			len = gz_len;
		}
	}
	/*
	 * The header API (not raw mg_write) lets civetweb see the status and
	 * length, which keep-alive and its access accounting rely on.
	 */
	mg_response_header_start(conn, status);
	mg_response_header_add(conn, "Content-Type", type, -1);
	n = snprintf(hdr, sizeof(hdr), "%zu", len);
	mg_response_header_add(conn, "Content-Length", hdr, n);
	mg_response_header_add(conn, "Cache-Control",
			       cache ? cache : "no-store", -1);
	mg_response_header_add(conn, "X-Content-Type-Options", "nosniff", -1);
	mg_response_header_add_lines(conn, SECURITY_HEADERS);
	if (gz) {
		mg_response_header_add(conn, "Content-Encoding", "gzip", -1);
		mg_response_header_add(conn, "Vary", "Accept-Encoding", -1);
	}
	if (extra && *extra)
		mg_response_header_add_lines(conn, extra);
	mg_response_header_send(conn);
	if (!head && len)
		mg_write(conn, body, len);
	atomic_fetch_add(&srv->bytes_sent,
			 (unsigned long long)(head ? 0 : len));
	free(gz);
	return status;
}

static int send_json_error(struct web_server *srv, struct mg_connection *conn,
			   int status, const char *msg, const char *extra)
{
	struct web_response r;
	int ret;

	web_response__init(&r);
	web_response__error(&r, status, "%s", msg);
	ret = send_response(srv, conn, status, r.content_type, NULL, extra,
			    r.body.p, r.body.len);
	web_response__release(&r);
	return ret;
}

/* ---- authentication ---- */

static bool token_eq(const struct web_server *srv, const char *s, size_t len)
{
	unsigned char any = 0;

	/* Constant time in the tokens: every stored token is walked whole,
	 * whichever matches. */
	for (int t = 0; t < srv->nr_tokens; t++) {
		unsigned char diff = len != srv->token_len[t];

		for (size_t i = 0; i < srv->token_len[t]; i++)
			diff |= (unsigned char)srv->token[t][i] ^
				(unsigned char)(i < len ? s[i] : 0);
		any |= diff == 0;
	}
	return any;
}

static uint64_t mono_s(void)
{
	return clock__mono_us() / 1000000;
}

/* Creates a session and writes its id into 'id'. Returns 0 or -errno. */
static int session_new(struct web_server *srv, char id[SESSION_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[SESSION_ID_LEN / 2];
	uint64_t now = mono_s();
	int slot = 0;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	for (size_t i = 0; i < sizeof(rnd); i++) {
		id[2 * i] = hex[rnd[i] >> 4];
		id[2 * i + 1] = hex[rnd[i] & 15];
	}
	id[SESSION_ID_LEN] = '\0';
	pthread_mutex_lock(&srv->session_lock);
	/* A free or expired slot, else the one that expires first. */
	for (int i = 0; i < MAX_SESSIONS; i++) {
		if (srv->sessions[i].expires_s <= now) {
			slot = i;
			break;
		}
		if (srv->sessions[i].expires_s < srv->sessions[slot].expires_s)
			slot = i;
	}
	memcpy(srv->sessions[slot].id, id, SESSION_ID_LEN + 1);
	srv->sessions[slot].expires_s = now + SESSION_TTL_S;
	pthread_mutex_unlock(&srv->session_lock);
	return 0;
}

static bool session_valid(struct web_server *srv, const char *v, size_t len)
{
	uint64_t now = mono_s();
	bool found = false;

	if (len != SESSION_ID_LEN)
		return false;
	pthread_mutex_lock(&srv->session_lock);
	for (int i = 0; i < MAX_SESSIONS; i++) {
		unsigned char diff = 0;

		/* Constant time in the id: compare every byte of each. */
		for (size_t k = 0; k < SESSION_ID_LEN; k++)
			diff |= (unsigned char)srv->sessions[i].id[k] ^
				(unsigned char)v[k];
		if (!diff && srv->sessions[i].expires_s > now)
			found = true;
	}
	pthread_mutex_unlock(&srv->session_lock);
	return found;
}

static bool cookie_session(struct web_server *srv, const char *cookies)
{
	const char *p = cookies;

	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		if (!strncmp(p, "kiln_session=", 13)) {
			const char *v = p + 13;

			if (session_valid(srv, v, strcspn(v, "; ")))
				return true;
		}
		p = strchr(p, ';');
	}
	return false;
}

static enum auth_kind authorized(struct web_server *srv,
				 struct mg_connection *conn)
{
	const char *h;

	if (!srv->need_auth)
		return AUTH_OPEN;
	h = mg_get_header(conn, "Authorization");
	if (h && !strncasecmp(h, "Bearer ", 7)) {
		h += 7;
		return token_eq(srv, h, strlen(h)) ? AUTH_BEARER : AUTH_FAILED;
	}
	return cookie_session(srv, mg_get_header(conn, "Cookie")) ? AUTH_COOKIE
								  : AUTH_FAILED;
}

/* ---- what a web page must not be able to do ---- */

/*
 * DNS rebinding: a page whose name the attacker points at 127.0.0.1 is
 * same-origin with us to the browser, but its Host header carries the
 * attacker's name. Allowed: any IP literal or "localhost" with our port,
 * or exactly the --public-url's host[:port]. No Host (HTTP/1.0) is fine:
 * browsers always send one.
 */
static bool host_ok(const struct web_server *srv, const char *host)
{
	char name[256];
	const char *port = NULL, *end;
	unsigned char addr[16];
	size_t n;

	if (!host)
		return true;
	if (srv->public_host[0] && !strcasecmp(host, srv->public_host))
		return true;
	if (host[0] == '[') {
		end = strchr(host, ']');
		if (!end || (end[1] && end[1] != ':'))
			return false;
		n = (size_t)(end - host - 1);
		if (n >= sizeof(name))
			return false;
		memcpy(name, host + 1, n);
		name[n] = '\0';
		if (inet_pton(AF_INET6, name, addr) != 1)
			return false;
		port = end[1] ? end + 2 : NULL;
	} else {
		end = strchr(host, ':');
		n = end ? (size_t)(end - host) : strlen(host);
		if (n >= sizeof(name))
			return false;
		memcpy(name, host, n);
		name[n] = '\0';
		if (strcasecmp(name, "localhost") &&
		    inet_pton(AF_INET, name, addr) != 1)
			return false;
		port = end ? end + 1 : NULL;
	}
	if (!port)
		return srv->port == 80;
	if (!*port || strspn(port, "0123456789") != strlen(port) ||
	    strlen(port) > 5)
		return false;
	return atoi(port) == srv->port;
}

/*
 * Requests that change state (POST) from a browser carry an Origin: it
 * must be this server as the browser reached it (http://HOST) or the
 * --public-url. Without an Origin the client is not a browser, which is
 * fine unless it authenticated with the browser's cookie. Sec-Fetch-Site,
 * when sent, must say same-origin too. A simple content type (text/plain,
 * forms) is refused so that no cross-origin page can send one without a
 * CORS preflight, which this server never grants.
 */
static const char *write_refusal(const struct web_server *srv,
				 struct mg_connection *conn,
				 enum auth_kind auth, const char *path)
{
	static const char *const simple[] = {
	    "text/plain", "application/x-www-form-urlencoded",
	    "multipart/form-data"};
	const char *origin = mg_get_header(conn, "Origin");
	const char *host = mg_get_header(conn, "Host");
	const char *site = mg_get_header(conn, "Sec-Fetch-Site");
	const char *type = mg_get_header(conn, "Content-Type");
	size_t tl;

	if (origin) {
		bool ok = srv->public_origin[0] &&
			  !strcasecmp(origin, srv->public_origin);

		const char *scheme = srv->tls ? "https://" : "http://";
		size_t sl = strlen(scheme);

		if (!ok && host && !strncasecmp(origin, scheme, sl) &&
		    !strcasecmp(origin + sl, host))
			ok = true;
		if (!ok)
			return "cross-origin request refused (Origin is not "
			       "this server)";
	} else if (auth == AUTH_COOKIE) {
		return "a browser session needs an Origin header to change "
		       "anything";
	}
	if (site && strcmp(site, "same-origin") && strcmp(site, "none"))
		return "cross-site request refused (Sec-Fetch-Site)";
	/*
	 * Pyroscope's clients send multipart forms and text/plain. A bearer
	 * token is proof enough there: no page can attach one cross-origin
	 * without a preflight.
	 */
	if (auth == AUTH_BEARER && !strcmp(path, "/ingest"))
		return NULL;
	if (!type || !*type)
		return "Content-Type is required";
	tl = strcspn(type, "; \t");
	for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (tl == strlen(simple[i]) &&
		    !strncasecmp(type, simple[i], tl))
			return "Content-Type text/plain, forms and multipart "
			       "are refused (a web page could send them): use "
			       "text/x-folded or application/x-protobuf";
	return NULL;
}

/* ---- static UI ---- */

static const char *mime_type(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (!dot)
		return "application/octet-stream";
	if (!strcmp(dot, ".html"))
		return "text/html; charset=utf-8";
	if (!strcmp(dot, ".js"))
		return "text/javascript; charset=utf-8";
	if (!strcmp(dot, ".css"))
		return "text/css; charset=utf-8";
	if (!strcmp(dot, ".svg"))
		return "image/svg+xml";
	if (!strcmp(dot, ".png"))
		return "image/png";
	if (!strcmp(dot, ".json"))
		return "application/json";
	return "application/octet-stream";
}

static bool etag_matches(struct mg_connection *conn)
{
	const char *inm = mg_get_header(conn, "If-None-Match");

	return inm && strstr(inm, "\"" KILN_BUILD_ID "\"");
}

static int serve_index(struct web_server *srv, struct mg_connection *conn)
{
	const char *extra = "ETag: \"" KILN_BUILD_ID "\"\r\n";

	if (!srv->index_html)
		return send_json_error(srv, conn, 500, "UI not built in", NULL);
	if (etag_matches(conn))
		return send_response(srv, conn, 304, "text/html; charset=utf-8",
				     "no-cache", extra, NULL, 0);
	return send_response(srv, conn, 200, "text/html; charset=utf-8",
			     "no-cache", extra, srv->index_html,
			     srv->index_len);
}

static int serve_asset(struct web_server *srv, struct mg_connection *conn,
		       const char *path, const char *qs)
{
	const struct embedded_file *f = embedded__find(ui_assets, path);
	const char *extra = "ETag: \"" KILN_BUILD_ID "\"\r\n";
	/* Versioned URLs never change within a build: cache them for good. */
	const char *cache = qs && !strcmp(qs, "v=" KILN_BUILD_ID)
				? "public, max-age=31536000, immutable"
				: "no-cache";

	if (!f || strstr(path, ".."))
		return send_json_error(srv, conn, 404, "no such asset", NULL);
	if (etag_matches(conn))
		return send_response(srv, conn, 304, mime_type(path), cache,
				     extra, NULL, 0);
	return send_response(srv, conn, 200, mime_type(path), cache, extra,
			     f->data, f->size);
}

static int build_index(struct web_server *srv)
{
	const struct embedded_file *f = embedded__find(ui_assets, "index.html");
	struct jbuf b;
	const char *p, *q;

	if (!f)
		return -ENOENT;
	jbuf__init(&b);
	for (p = (const char *)f->data; (q = strstr(p, "{{BUILD}}"));
	     p = q + 9) {
		jbuf__raw(&b, p, (size_t)(q - p));
		jbuf__puts(&b, KILN_BUILD_ID);
	}
	jbuf__puts(&b, p);
	if (b.oom) {
		jbuf__release(&b);
		return -ENOMEM;
	}
	srv->index_html = b.p;
	srv->index_len = b.len;
	return 0;
}

/* ---- /metrics, /healthz ---- */

static int serve_metrics(struct web_server *srv, struct mg_connection *conn)
{
	static const char *const classes[] = {"",    "1xx", "2xx",
					      "3xx", "4xx", "5xx"};
	struct store_stats ss = {0};
	struct store *st;
	char *data = NULL;
	size_t size = 0;
	FILE *out;
	int ret;

	out = open_memstream(&data, &size);
	if (!out)
		return send_json_error(srv, conn, 500, "out of memory", NULL);
	fprintf(out,
		"# HELP kiln_build_info Build of the running kiln.\n"
		"# TYPE kiln_build_info gauge\n"
		"kiln_build_info{build_id=\"%s\"} 1\n",
		KILN_BUILD_ID);
	fprintf(out, "# HELP kiln_http_requests_total HTTP requests answered, "
		     "by status class.\n"
		     "# TYPE kiln_http_requests_total counter\n");
	for (int i = 1; i < 6; i++)
		fprintf(out, "kiln_http_requests_total{code=\"%s\"} %llu\n",
			classes[i],
			(unsigned long long)atomic_load(&srv->req_by_class[i]));
	fprintf(out,
		"# HELP kiln_http_response_bytes_total Bytes sent in HTTP "
		"responses.\n"
		"# TYPE kiln_http_response_bytes_total counter\n"
		"kiln_http_response_bytes_total %llu\n"
		"# HELP kiln_http_request_seconds_total Time spent answering "
		"requests.\n"
		"# TYPE kiln_http_request_seconds_total counter\n"
		"kiln_http_request_seconds_total %.6f\n"
		"# HELP kiln_http_busy_refused_total Requests refused with 503 "
		"because too many heavy queries or uploads were running.\n"
		"# TYPE kiln_http_busy_refused_total counter\n"
		"kiln_http_busy_refused_total %llu\n"
		"# HELP kiln_web_store_open_errors_total Failures to open the "
		"store for a request.\n"
		"# TYPE kiln_web_store_open_errors_total counter\n"
		"kiln_web_store_open_errors_total %llu\n"
		"# HELP kiln_push_batches_total Store writes of agents' "
		"pushes made in batches (--push-batch-ms).\n"
		"# TYPE kiln_push_batches_total counter\n"
		"kiln_push_batches_total %llu\n"
		"# HELP kiln_push_batched_windows_total Pushes written in "
		"those batches.\n"
		"# TYPE kiln_push_batched_windows_total counter\n"
		"kiln_push_batched_windows_total %llu\n",
		(unsigned long long)atomic_load(&srv->bytes_sent),
		(double)atomic_load(&srv->req_usec) / 1e6,
		(unsigned long long)atomic_load(&srv->busy_refused),
		(unsigned long long)atomic_load(&srv->store_open_errors),
		(unsigned long long)atomic_load(&srv->batch.written),
		(unsigned long long)atomic_load(&srv->batch.windows));
	st = pool_get(srv);
	if (st) {
		store__stats(st, &ss);
		pool_put(srv, st);
		fprintf(out,
			"# HELP kiln_store_size_bytes Store file size "
			"including the WAL.\n"
			"# TYPE kiln_store_size_bytes gauge\n"
			"kiln_store_size_bytes %llu\n"
			"# HELP kiln_store_oldest_sample_seconds Unix time of "
			"the oldest data.\n"
			"# TYPE kiln_store_oldest_sample_seconds gauge\n"
			"kiln_store_oldest_sample_seconds %.3f\n"
			"# HELP kiln_store_newest_sample_seconds Unix time of "
			"the newest data.\n"
			"# TYPE kiln_store_newest_sample_seconds gauge\n"
			"kiln_store_newest_sample_seconds %.3f\n",
			(unsigned long long)ss.size_bytes,
			(double)ss.first_ns / 1e9, (double)ss.last_ns / 1e9);
	}
	if (srv->opts.metrics)
		srv->opts.metrics(out, srv->opts.metrics_ctx);
	if (fclose(out)) {
		free(data);
		return send_json_error(srv, conn, 500, "out of memory", NULL);
	}
	ret = send_response(srv, conn, 200,
			    "text/plain; version=0.0.4; charset=utf-8", NULL,
			    NULL, data, size);
	free(data);
	return ret;
}

static int serve_api(struct web_server *srv, struct mg_connection *conn,
		     const char *path, const char *qs)
{
	struct api_ctx c = {.now_ns = clock__unix_ns()};
	struct web_response r;
	char extra[256] = "";
	/* Everything but the label list reads samples over a range. */
	bool heavy = strcmp(path, "labels") != 0;
	int ret;

	web_response__init(&r);
	if (heavy && !slots_enter(&srv->heavy, HEAVY_WAIT_S)) {
		atomic_fetch_add(&srv->busy_refused, 1);
		r.retry_after = 2;
		web_response__error(&r, 503,
				    "busy: %d heavy queries are running; try "
				    "again",
				    srv->heavy.max);
		goto send;
	}
	c.deadline_mono_ns =
	    (clock__mono_us() + REQUEST_BUDGET_S * 1000000ULL) * 1000;
	c.st = pool_get(srv);
	if (!c.st) {
		web_response__error(&r, 503, "cannot open the store '%s'",
				    srv->db_name);
	} else {
		api__get(&c, path, qs, &r);
		pool_put(srv, c.st);
	}
	if (heavy)
		slots_leave(&srv->heavy);
send:
	if (r.disposition[0])
		snprintf(extra, sizeof(extra), "Content-Disposition: %s\r\n",
			 r.disposition);
	if (r.retry_after > 0)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
			 "Retry-After: %d\r\n", r.retry_after);
	ret = send_response(srv, conn, r.status, r.content_type, NULL, extra,
			    r.body.p, r.body.len);
	web_response__release(&r);
	return ret;
}

/* Reads the request body, bounded in size and in total time. */
static int read_body(struct web_server *srv, struct mg_connection *conn,
		     char **out, size_t *out_len, int *status, const char **msg)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	uint64_t deadline = clock__mono_us() + BODY_DEADLINE_US;
	size_t len, got = 0;
	char *buf;

	if (ri->content_length < 0) {
		*status = 411;
		*msg = "Content-Length required";
		return -EINVAL;
	}
	if ((unsigned long long)ri->content_length > srv->max_upload) {
		*status = 413;
		*msg = "body larger than the upload limit (--max-upload, "
		       "default 64 MiB)";
		return -E2BIG;
	}
	len = (size_t)ri->content_length;
	buf = malloc(len + 1);
	if (!buf) {
		*status = 500;
		*msg = "out of memory";
		return -ENOMEM;
	}
	while (got < len) {
		int n = mg_read(conn, buf + got, len - got);

		if (n <= 0 || clock__mono_us() > deadline) {
			free(buf);
			*status = 400;
			*msg =
			    n <= 0 ? "body ended early" : "body took too long";
			return -EIO;
		}
		got += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

/* The writable store, opened on first use; call with write_lock held. */
static struct store *write_store(struct web_server *srv)
{
	struct store_opts so = {.path = srv->db_path};

	if (!srv->wstore)
		srv->wstore = store__open(&so);
	return srv->wstore;
}

/*
 * Takes write_lock and returns the writable store, the lock held. When the
 * store cannot be opened: the lock released, r a 503 (Retry-After:
 * retry_after when above 0), and NULL.
 */
static struct store *lock_write_store(struct web_server *srv,
				      struct web_response *r, int retry_after)
{
	pthread_mutex_lock(&srv->write_lock);
	if (write_store(srv))
		return srv->wstore;
	web_response__error(r, 503, "cannot open the store '%s' for writing",
			    srv->db_name);
	r->retry_after = retry_after;
	pthread_mutex_unlock(&srv->write_lock);
	return NULL;
}

/* What an upload endpoint refuses before it reads the body. */
struct upload_kind {
	const char *disabled; /* 404 without --ingest */
	size_t max_len;	      /* 413 above this announced length; 0: none */
	const char *too_large;
};

static const struct upload_kind UPLOADS = {
    "uploads are disabled (start with --ingest)", 0, NULL};
static const struct upload_kind PUSHES = {
    "pushes are disabled (start with --ingest)", MAX_PUSH_BODY,
    "push larger than 16 MiB"};

/*
 * Starts an upload: 404 unless the server takes uploads (--ingest), 413
 * over the kind's length, then takes an upload slot (503 when all are
 * busy) and reads the body. Returns 0 with the slot held and *body to
 * free; otherwise it has answered the request, *ret is that answer's
 * result, and no slot is held.
 */
static int upload_begin(struct web_server *srv, struct mg_connection *conn,
			const struct upload_kind *kind, char **body,
			size_t *len, int *ret)
{
	const char *msg = NULL;
	int status;

	if (!srv->opts.enable_ingest) {
		*ret = send_json_error(srv, conn, 404, kind->disabled, NULL);
		return -1;
	}
	if (kind->max_len && mg_get_request_info(conn)->content_length >
				 (long long)kind->max_len) {
		*ret = send_json_error(srv, conn, 413, kind->too_large, NULL);
		return -1;
	}
	if (!slots_enter(&srv->uploads, UPLOAD_WAIT_S)) {
		atomic_fetch_add(&srv->busy_refused, 1);
		*ret = send_json_error(srv, conn, 503,
				       "busy: other uploads are running; try "
				       "again",
				       "Retry-After: 2\r\n");
		return -1;
	}
	if (read_body(srv, conn, body, len, &status, &msg)) {
		slots_leave(&srv->uploads);
		*ret = send_json_error(srv, conn, status, msg, NULL);
		return -1;
	}
	return 0;
}

static int serve_ingest(struct web_server *srv, struct mg_connection *conn,
			const char *qs)
{
	struct api_ctx c = {.now_ns = clock__unix_ns()};
	struct profile *rel = NULL;
	struct web_response r;
	char *body = NULL;
	size_t len = 0;
	int ret;

	if (upload_begin(srv, conn, &UPLOADS, &body, &len, &ret))
		return ret;
	web_response__init(&r);
	/* Parsing needs no lock: only the write holds the store's. */
	rel = api__ingest_parse(&c, qs, body, len,
				mg_get_header(conn, "Content-Type"), &r);
	free(body);
	if (rel) {
		c.st = lock_write_store(srv, &r, 0);
		if (c.st) {
			api__ingest_write(&c, rel, &r);
			pthread_mutex_unlock(&srv->write_lock);
		}
		profile__free(rel);
	}
	slots_leave(&srv->uploads);
	ret = send_response(srv, conn, r.status, r.content_type, NULL, NULL,
			    r.body.p, r.body.len);
	web_response__release(&r);
	return ret;
}

static int send_api_response(struct web_server *srv, struct mg_connection *conn,
			     struct web_response *r)
{
	char extra[64] = "";

	if (r->retry_after > 0)
		snprintf(extra, sizeof(extra), "Retry-After: %d\r\n",
			 r->retry_after);
	return send_response(srv, conn, r->status, r->content_type, NULL, extra,
			     r->body.p, r->body.len);
}

/* Whether the store writes batches of pushes; -1 with 'r' a 503 when it
 * cannot be opened. */
static int store_batches(struct web_server *srv, struct web_response *r)
{
	int b = atomic_load(&srv->batch.batches);

	if (b >= 0)
		return b;
	if (!lock_write_store(srv, r, 30))
		return -1;
	b = !store__write_pushed_batch(srv->wstore, NULL, 0, NULL);
	pthread_mutex_unlock(&srv->write_lock);
	atomic_store(&srv->batch.batches, b);
	return b;
}

static bool batch_full(const struct push_batch *b)
{
	return b->n >= BATCH_MAX_WINDOWS || b->samples >= BATCH_MAX_SAMPLES;
}

static void deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* The leader's half: writes the batch it took, hands out the results. */
static void batch_write(struct web_server *srv, struct push_wait *list,
			size_t n)
{
	struct push_batch *b = &srv->batch;
	struct store_pushed *w = calloc(n ? n : 1, sizeof(*w));
	int *rets = calloc(n ? n : 1, sizeof(*rets));
	struct web_response r;
	size_t i = 0;
	int err = 0;

	web_response__init(&r);
	for (struct push_wait *pw = list; pw; pw = pw->next)
		if (w)
			w[i++] = pw->w;
	if (!w || !rets)
		err = -ENOMEM;
	else if (!lock_write_store(srv, &r, 30))
		err = -EAGAIN;
	else {
		err = store__write_pushed_batch(srv->wstore, w, n, rets);
		pthread_mutex_unlock(&srv->write_lock);
		atomic_fetch_add(&b->written, 1);
		atomic_fetch_add(&b->windows, n);
	}
	web_response__release(&r);
	pthread_mutex_lock(&b->lock);
	i = 0;
	for (struct push_wait *pw = list; pw; pw = pw->next, i++) {
		pw->ret = err ? err : rets[i];
		pw->done = true;
	}
	b->writing = false;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	free(w);
	free(rets);
}

/* Writes one parsed push as part of a batch; its answer goes to 'r'. */
static void push_batched(struct web_server *srv, struct push_req *req,
			 struct web_response *r)
{
	struct push_batch *b = &srv->batch;
	struct push_wait me = {0};
	struct timespec until;
	bool lead = false;
	size_t ns;

	if (api__push_prepare(req, clock__unix_ns(), &me.w, r))
		return;
	profile__samples(me.w.p, &ns);
	me.samples = ns;
	pthread_mutex_lock(&b->lock);
	deadline_in(&until, UPLOAD_WAIT_S * 1000L);
	while (batch_full(b))
		if (pthread_cond_timedwait(&b->cond, &b->lock, &until) ==
			ETIMEDOUT &&
		    batch_full(b)) {
			pthread_mutex_unlock(&b->lock);
			atomic_fetch_add(&srv->busy_refused, 1);
			web_response__error(r, 503,
					    "busy: the write queue is full; "
					    "try again");
			r->retry_after = 2;
			return;
		}
	*b->tail = &me;
	b->tail = &me.next;
	b->n++;
	b->samples += me.samples;
	if (!b->leading) {
		b->leading = lead = true;
		deadline_in(&until, srv->opts.push_batch_ms);
	} else if (batch_full(b)) {
		pthread_cond_broadcast(&b->cond);
	}
	if (lead) {
		/* Collect until the time is up or the batch is full, and for
		 * as long as the previous batch is being written. */
		for (;;) {
			struct timespec now;

			clock_gettime(CLOCK_MONOTONIC, &now);
			bool late = now.tv_sec > until.tv_sec ||
				    (now.tv_sec == until.tv_sec &&
				     now.tv_nsec >= until.tv_nsec);
			if (!b->writing && (late || batch_full(b)))
				break;
			if (b->writing)
				pthread_cond_wait(&b->cond, &b->lock);
			else
				pthread_cond_timedwait(&b->cond, &b->lock,
						       &until);
		}
		struct push_wait *list = b->head;
		size_t n = b->n;

		b->head = NULL;
		b->tail = &b->head;
		b->n = b->samples = 0;
		b->leading = false;
		b->writing = true;
		pthread_cond_broadcast(&b->cond); /* room again */
		pthread_mutex_unlock(&b->lock);
		batch_write(srv, list, n);
		pthread_mutex_lock(&b->lock);
	}
	while (!me.done)
		pthread_cond_wait(&b->cond, &b->lock);
	pthread_mutex_unlock(&b->lock);
	api__push_answer(&me.w, me.ret, r);
}

/* POST /api/v1/push: one window from `kiln agent --push`. */
static int serve_push(struct web_server *srv, struct mg_connection *conn)
{
	struct web_response r;
	struct push_req req = {0};
	char *body = NULL;
	size_t len = 0;
	bool slot = true;
	int ret;

	if (upload_begin(srv, conn, &PUSHES, &body, &len, &ret))
		return ret;
	web_response__init(&r);
	/* Decoding needs no lock: only the write holds the store's. */
	if (!api__push_parse(body, len, mg_get_header(conn, "X-Kiln-Version"),
			     mg_get_header(conn, "X-Kiln-Pending"),
			     mg_get_header(conn, "X-Kiln-Lost-Samples"), &req,
			     &r)) {
		free(body);
		body = NULL;
		int batches =
		    srv->opts.push_batch_ms > 0 ? store_batches(srv, &r) : 0;

		if (batches > 0) {
			/* Decoded: waiting for the batch holds no slot. */
			slots_leave(&srv->uploads);
			slot = false;
			push_batched(srv, &req, &r);
		} else if (batches == 0 && lock_write_store(srv, &r, 30)) {
			api__push_store(srv->wstore, &req, clock__unix_ns(),
					&r);
			pthread_mutex_unlock(&srv->write_lock);
		}
	}
	api__push_release(&req);
	free(body);
	if (slot)
		slots_leave(&srv->uploads);
	ret = send_api_response(srv, conn, &r);
	web_response__release(&r);
	return ret;
}

/* POST /ingest: Pyroscope's ingest API. */
static int serve_pyroscope(struct web_server *srv, struct mg_connection *conn,
			   const char *qs)
{
	struct web_response r;
	struct profile *p = NULL;
	char *body = NULL;
	size_t len = 0;
	int ret;

	if (upload_begin(srv, conn, &UPLOADS, &body, &len, &ret))
		return ret;
	web_response__init(&r);
	api__pyroscope_parse(qs, body, len, mg_get_header(conn, "Content-Type"),
			     clock__unix_ns(), &p, &r);
	if (p) {
		if (lock_write_store(srv, &r, 30)) {
			api__pyroscope_store(srv->wstore, p, &r);
			pthread_mutex_unlock(&srv->write_lock);
		}
	}
	profile__free(p);
	free(body);
	slots_leave(&srv->uploads);
	ret = send_api_response(srv, conn, &r);
	web_response__release(&r);
	return ret;
}

/*
 * "/?token=T" from a browser: trade the token for a session cookie (a
 * random id that expires; the token itself never goes into a cookie, which
 * every service on this host name would receive), then reload.
 */
static int serve_login(struct web_server *srv, struct mg_connection *conn,
		       const char *qs)
{
	char tok[MAX_TOKEN + 1], id[SESSION_ID_LEN + 1], extra[256];
	int n = mg_get_var(qs, strlen(qs), "token", tok, sizeof(tok));

	if (n < 0 || !token_eq(srv, tok, (size_t)n))
		return send_json_error(srv, conn, 401, "bad token", NULL);
	if (session_new(srv, id))
		return send_json_error(srv, conn, 500,
				       "cannot create a session", NULL);
	snprintf(extra, sizeof(extra),
		 "Set-Cookie: kiln_session=%s; Max-Age=%d; HttpOnly; "
		 "SameSite=Strict; Path=/\r\n"
		 "Location: /\r\n",
		 id, SESSION_TTL_S);
	return send_response(srv, conn, 302, "text/plain", NULL, extra, "", 0);
}

/*
 * Two Content-Length headers (or one beside Transfer-Encoding) let a proxy
 * in front and this server disagree on where a request ends.
 */
static bool framing_ambiguous(const struct mg_request_info *ri)
{
	int cl = 0, te = 0;

	for (int i = 0; i < ri->num_headers; i++) {
		const char *name = ri->http_headers[i].name;

		if (!name)
			continue;
		cl += !strcasecmp(name, "Content-Length");
		te += !strcasecmp(name, "Transfer-Encoding");
	}
	return cl > 1 || (cl && te);
}

/* Paths that take a POST: each goes through write_refusal() first. */
static bool is_write_path(const char *path)
{
	return !strcmp(path, "/api/v1/ingest") ||
	       !strcmp(path, "/api/v1/push") || !strcmp(path, "/ingest");
}

static int handle(struct mg_connection *conn, void *data)
{
	struct web_server *srv = data;
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *path = ri->local_uri ? ri->local_uri : "/";
	const char *qs = ri->query_string ? ri->query_string : "";
	const char *m = ri->request_method;
	uint64_t start = clock__mono_us();
	bool reads = !strcmp(m, "GET") || !strcmp(m, "HEAD");
	const char *refusal = NULL;
	enum auth_kind auth = AUTH_FAILED;
	int status;

	if (framing_ambiguous(ri)) {
		status = send_json_error(
		    srv, conn, 400,
		    "more than one Content-Length, or Content-Length with "
		    "Transfer-Encoding (request smuggling)",
		    "Connection: close\r\n");
	} else if (!host_ok(srv, mg_get_header(conn, "Host"))) {
		status = send_json_error(
		    srv, conn, 421,
		    "this server does not answer to that Host name (use its "
		    "IP address, localhost, or start it with --public-url)",
		    NULL);
	} else if (!strcmp(path, "/") && !strncmp(qs, "token=", 6) &&
		   srv->need_auth) {
		status = serve_login(srv, conn, qs);
	} else if ((auth = authorized(srv, conn)) == AUTH_FAILED) {
		status = send_json_error(srv, conn, 401,
					 "missing or wrong bearer token",
					 "WWW-Authenticate: Bearer\r\n");
	} else if (!reads && !is_write_path(path)) {
		status =
		    send_json_error(srv, conn, 405, "only GET and HEAD here",
				    "Allow: GET, HEAD\r\n");
	} else if (!reads && (refusal = write_refusal(srv, conn, auth, path))) {
		status = send_json_error(srv, conn, 403, refusal, NULL);
	} else if (!strcmp(m, "POST") && !strcmp(path, "/api/v1/ingest")) {
		status = serve_ingest(srv, conn, qs);
	} else if (!strcmp(m, "POST") && !strcmp(path, "/api/v1/push")) {
		status = serve_push(srv, conn);
	} else if (!strcmp(m, "POST") && !strcmp(path, "/ingest")) {
		status = serve_pyroscope(srv, conn, qs);
	} else if (!reads) {
		status =
		    send_json_error(srv, conn, 405, "only GET and HEAD here",
				    "Allow: GET, HEAD\r\n");
	} else if (!strcmp(path, "/") || !strcmp(path, "/index.html")) {
		status = serve_index(srv, conn);
	} else if (!strncmp(path, "/assets/", 8)) {
		status = serve_asset(srv, conn, path + 8, qs);
	} else if (!strncmp(path, "/api/v1/", 8)) {
		status = serve_api(srv, conn, path + 8, qs);
	} else if (!strcmp(path, "/healthz")) {
		char reason[256] = "";

		if (srv->opts.healthy &&
		    !srv->opts.healthy(srv->opts.metrics_ctx, reason,
				       sizeof(reason)))
			status = send_json_error(srv, conn, 503, reason, NULL);
		else
			status = send_response(srv, conn, 200, "text/plain",
					       NULL, NULL, "ok\n", 3);
	} else if (!strcmp(path, "/metrics")) {
		status = serve_metrics(srv, conn);
	} else {
		status = send_json_error(srv, conn, 404, "not found", NULL);
	}
	if (status >= 100 && status < 600)
		atomic_fetch_add(&srv->req_by_class[status / 100], 1);
	atomic_fetch_add(&srv->req_usec, clock__mono_us() - start);
	return status;
}

static int log_message(const struct mg_connection *conn, const char *msg)
{
	(void)conn;
	pr_warn("web: %s", msg);
	return 1;
}

/* ---- start/stop ---- */

static int read_token(struct web_server *srv, const char *path)
{
	char buf[MAX_TOKENS * (MAX_TOKEN + 2) + 1024], *line, *save = NULL;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		pr_err("cannot read auth token file '%s': %s", path,
		       strerror(errno));
		return err;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		err = -errno;
		pr_err("cannot read auth token file '%s': %s", path,
		       strerror(errno));
		goto out;
	}
	buf[n] = '\0';
	srv->nr_tokens = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);

		while (len && isspace((unsigned char)line[len - 1]))
			line[--len] = '\0';
		while (isspace((unsigned char)*line)) {
			line++;
			len--;
		}
		if (!len || *line == '#')
			continue;
		if (len < 16 || len > MAX_TOKEN ||
		    strcspn(line, " \t\r;") != len) {
			pr_err("auth token in '%s' must be 16..%d characters "
			       "with no spaces or ';', one per line\n",
			       path, MAX_TOKEN);
			err = -EINVAL;
			goto out;
		}
		if (srv->nr_tokens == MAX_TOKENS) {
			pr_err("auth token file '%s' holds more than %d "
			       "tokens\n",
			       path, MAX_TOKENS);
			err = -EINVAL;
			goto out;
		}
		memcpy(srv->token[srv->nr_tokens], line, len + 1);
		srv->token_len[srv->nr_tokens++] = len;
	}
	if (!srv->nr_tokens) {
		pr_err("auth token file '%s' holds no token\n", path);
		err = -EINVAL;
	}
out:
	close(fd);
	return err;
}

/*
 * Turns "PORT", "HOST:PORT" or "[V6]:PORT" into civetweb's listening_ports
 * form and says whether the address is loopback-only.
 */
static int parse_listen(const char *listen, char *out, size_t size,
			bool *loopback)
{
	char host[64];
	const char *colon, *port;
	unsigned char addr[16];
	char *end;
	long pn;

	if (!listen || !*listen)
		listen = "127.0.0.1:7070";
	colon = strrchr(listen, ':');
	if (!colon) {
		snprintf(host, sizeof(host), "127.0.0.1");
		port = listen;
	} else {
		size_t hl = (size_t)(colon - listen);

		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, listen, hl);
		host[hl] = '\0';
		port = colon + 1;
	}
	pn = strtol(port, &end, 10);
	if (!*port || *end || pn < 0 || pn > 65535)
		return -EINVAL;
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	if (host[0] == '[') {
		size_t hl = strlen(host);

		if (hl < 3 || host[hl - 1] != ']')
			return -EINVAL;
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, addr) != 1)
			return -EINVAL;
		*loopback =
		    !memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
		host[hl - 1] = ']';
		/* Debian's civetweb 1.15 is built without IPv6: say so rather
		 * than "invalid port spec". */
		if (!mg_check_feature(8))
			return -EAFNOSUPPORT;
	} else {
		if (inet_pton(AF_INET, host, addr) != 1)
			return -EINVAL;
		*loopback = addr[0] == 127;
	}
	snprintf(out, size, "%s:%ld", host, pn);
	return 0;
}

/* "http(s)://HOST[:PORT][/...]" -> the Host header and Origin to allow. */
static int parse_public_url(struct web_server *srv, const char *url)
{
	const char *p, *end;
	size_t n;

	if (!strncasecmp(url, "http://", 7))
		p = url + 7;
	else if (!strncasecmp(url, "https://", 8))
		p = url + 8;
	else
		return -EINVAL;
	end = p + strcspn(p, "/?#");
	n = (size_t)(end - p);
	if (!n || n >= sizeof(srv->public_host) || memchr(p, '@', n) ||
	    (*end && *end != '/'))
		return -EINVAL;
	memcpy(srv->public_host, p, n);
	srv->public_host[n] = '\0';
	n = (size_t)(end - url);
	if (n >= sizeof(srv->public_origin))
		return -EINVAL;
	memcpy(srv->public_origin, url, n);
	srv->public_origin[n] = '\0';
	return 0;
}

/* Appends a whole file to 'fd'. */
static int append_file(int fd, const char *path)
{
	char buf[8192];
	ssize_t n;
	int in = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (in < 0) {
		err = -errno;
		pr_err("cannot read '%s': %s\n", path, strerror(errno));
		return err;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n) {
			err = -EIO;
			break;
		}
	if (n < 0)
		err = -errno;
	if (!err && write(fd, "\n", 1) != 1)
		err = -EIO;
	close(in);
	return err;
}

/*
 * Loads the OpenSSL 3 compatibility shim once per process, from memory,
 * before civetweb looks for "libssl.so" (web/compat/libssl_shim.c). The
 * handle is kept for the life of the process, as civetweb keeps its own.
 */
static int tls_shim_load(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static void *handle;
	const struct embedded_file *f =
	    embedded__find(tls_assets, "libssl_shim.so");
	char path[32];
	int fd, err = 0;

	pthread_mutex_lock(&lock);
	if (handle)
		goto out;
	if (!f) {
		err = -ENOENT;
		goto out;
	}
	fd = memfd_create("kiln-libssl-shim", MFD_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (write(fd, f->data, f->size) != (ssize_t)f->size) {
		close(fd);
		err = -EIO;
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
	close(fd);
	if (!handle) {
		pr_err("cannot load OpenSSL for TLS: %s (is libssl3 "
		       "installed?)\n",
		       dlerror());
		err = -ENOENT;
	}
out:
	pthread_mutex_unlock(&lock);
	return err;
}

/*
 * civetweb wants the key and the certificate in one PEM file. Rather than
 * write a copy of the private key to disk, both go into an anonymous
 * memory file that civetweb reads through /proc/self/fd.
 */
static int tls_pem(struct web_server *srv, const char *cert, const char *key)
{
	int fd = memfd_create("kiln-tls", MFD_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	if ((err = append_file(fd, key)) || (err = append_file(fd, cert))) {
		close(fd);
		return err;
	}
	srv->tls_fd = fd;
	snprintf(srv->tls_pem_path, sizeof(srv->tls_pem_path),
		 "/proc/self/fd/%d", fd);
	return 0;
}

struct web_server *web_server__start(const struct web_opts *opts)
{
	struct mg_callbacks cb = {.log_message = log_message};
	struct mg_init_data init = {0};
	struct mg_error_data edata = {0};
	struct mg_server_port ports[4];
	char ports_opt[96], threads[16], errtext[256] = "";
	unsigned ecode = 0;
	const char *options[32];
	struct web_server *srv;
	struct store *st;
	bool loopback = false;
	int err, i = 0, np;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return NULL;
	srv->opts = *opts;
	srv->tls_fd = -1;
	pthread_mutex_init(&srv->pool_lock, NULL);
	pthread_mutex_init(&srv->write_lock, NULL);
	pthread_mutex_init(&srv->session_lock, NULL);
	{
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		slots_init(&srv->heavy, cpus > 2 ? (int)cpus : 2);
		slots_init(&srv->uploads, UPLOAD_SLOTS);
	}
	{
		pthread_condattr_t ca;

		pthread_mutex_init(&srv->batch.lock, NULL);
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&srv->batch.cond, &ca);
		pthread_condattr_destroy(&ca);
		srv->batch.tail = &srv->batch.head;
		atomic_init(&srv->batch.batches, -1);
	}
	srv->max_upload =
	    opts->max_upload_bytes ? opts->max_upload_bytes : MAX_BODY;
	if (opts->public_url && parse_public_url(srv, opts->public_url)) {
		pr_err("bad --public-url '%s': want http(s)://HOST[:PORT][/]",
		       opts->public_url);
		err = -EINVAL;
		goto fail;
	}
	err =
	    parse_listen(opts->listen, ports_opt, sizeof(ports_opt), &loopback);
	if (err == -EAFNOSUPPORT) {
		pr_err("cannot listen on '%s': this build's civetweb has no "
		       "IPv6 support; listen on 127.0.0.1 (or an IPv4 address) "
		       "and put an IPv6 proxy in front",
		       opts->listen);
		err = -EINVAL;
		goto fail;
	}
	if (err) {
		pr_err("bad listen address '%s': want PORT, IP:PORT or "
		       "[IPv6]:PORT "
		       "(numeric)\n",
		       opts->listen);
		err = -EINVAL;
		goto fail;
	}
	if (opts->auth_token_file) {
		err = read_token(srv, opts->auth_token_file);
		if (err)
			goto fail;
		srv->need_auth = true;
	} else if (!loopback) {
		pr_err("refusing to listen on '%s' without --auth-token-file: "
		       "anyone on the network could read every profile\n",
		       ports_opt);
		err = -EPERM;
		goto fail;
	}
	if (!opts->db_path) {
		pr_err("web server needs a database path");
		err = -EINVAL;
		goto fail;
	}
	srv->db_path = xstrdup(opts->db_path);
	store__redact(srv->db_path, srv->db_name, sizeof(srv->db_name));
	/* Fail now rather than on every request. */
	st = pool_get(srv);
	if (!st) {
		err = errno ? -errno : -ENOENT;
		pr_err("cannot open store '%s' for the web server",
		       srv->db_name);
		goto fail;
	}
	pool_put(srv, st);
	err = build_index(srv);
	if (err) {
		pr_err("web UI is missing from this build (no index.html)");
		goto fail;
	}

	if ((opts->tls_cert != NULL) != (opts->tls_key != NULL)) {
		pr_err("TLS needs both a certificate and a key\n");
		err = -EINVAL;
		goto fail;
	}
	if (opts->tls_cert) {
		err = tls_pem(srv, opts->tls_cert, opts->tls_key);
		if (!err)
			err = tls_shim_load();
		if (err)
			goto fail;
		/* civetweb marks a TLS port with an 's' suffix. */
		strncat(ports_opt, "s",
			sizeof(ports_opt) - strlen(ports_opt) - 1);
		srv->tls = true;
	} else if (!loopback) {
		pr_warn("listening on '%s' without TLS: tokens and profiles "
			"cross the network in clear text (use --tls-cert and "
			"--tls-key)\n",
			ports_opt);
	}
	snprintf(threads, sizeof(threads), "%d",
		 opts->threads > 0 ? opts->threads : WEB_DEFAULT_THREADS);
	options[i++] = "listening_ports";
	options[i++] = ports_opt;
	options[i++] = "num_threads";
	options[i++] = threads;
	/* Headers only: bodies are bounded by the handlers. */
	options[i++] = "max_request_size";
	options[i++] = "16384";
	/*
	 * civetweb counts this from the start of a request's headers, so a
	 * client trickling header lines is cut off after it; bodies have
	 * their own total deadline (read_body). Idle keep-alive sockets go
	 * after 5 s. With a worker per slow client that is what it costs.
	 */
	options[i++] = "request_timeout_ms";
	options[i++] = "5000";
	options[i++] = "enable_directory_listing";
	options[i++] = "no";
	options[i++] = "enable_keep_alive";
	options[i++] = "yes";
	/* Longer than Node's fetch keeps an idle socket (4 s): a client
	 * must not reuse a socket this end has just closed. */
	options[i++] = "keep_alive_timeout_ms";
	options[i++] = "5000";
	if (srv->tls) {
		options[i++] = "ssl_certificate";
		options[i++] = srv->tls_pem_path;
		options[i++] = "ssl_protocol_version";
		options[i++] = "4"; /* TLS 1.2 and newer */
	}
	options[i++] = NULL;

	init.callbacks = &cb;
	init.user_data = srv;
	init.configuration_options = options;
	edata.code = &ecode;
	edata.text = errtext;
	edata.text_buffer_size = sizeof(errtext);
	srv->ctx = mg_start2(&init, &edata);
	if (!srv->ctx) {
		pr_err("cannot listen on '%s': %s", ports_opt,
		       errtext[0] ? errtext : "civetweb failed to start");
		err = -EADDRINUSE;
		goto fail;
	}
	np = mg_get_server_ports(srv->ctx, 4, ports);
	srv->port = np > 0 ? ports[0].port : -1;
	/* Only now: handle() checks Host against the bound port. */
	mg_set_request_handler(srv->ctx, "/", handle, srv);
	return srv;
fail:
	web_server__stop(srv);
	errno = -err;
	return NULL;
}

int web_server__port(const struct web_server *srv)
{
	return srv->port;
}

void web_server__stop(struct web_server *srv)
{
	if (!srv)
		return;
	if (srv->ctx)
		mg_stop(srv->ctx);
	for (int i = 0; i < srv->nr_pool; i++)
		store__close(srv->pool[i]);
	store__close(srv->wstore);
	pthread_mutex_destroy(&srv->pool_lock);
	pthread_mutex_destroy(&srv->write_lock);
	pthread_mutex_destroy(&srv->session_lock);
	slots_destroy(&srv->heavy);
	slots_destroy(&srv->uploads);
	pthread_mutex_destroy(&srv->batch.lock);
	pthread_cond_destroy(&srv->batch.cond);
	free(srv->index_html);
	free(srv->db_path);
	if (srv->tls_fd >= 0)
		close(srv->tls_fd);
	free(srv);
}
