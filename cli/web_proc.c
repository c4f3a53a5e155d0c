// SPDX-License-Identifier: MIT
/*
 * The agent's web server as an unprivileged child process: see
 * web_proc.h. Everything between fork() and execve() is a system call:
 * the agent has threads, and the child must not take their locks.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/web_proc.h"
#include "lib/clock.h"
#include "lib/log.h"

#define MAX_MSG (256 * 1024)
#define READY_WAIT_S 15
#define MAX_BACKOFF_S 30
#define MAX_TOKEN 512

struct web_proc {
	struct web_proc_opts o;
	char db[PATH_MAX];
	char listen[160];
	char token[MAX_TOKEN + 2];
	size_t token_len;
	bool have_token, drop;
	char user[64];
	uid_t uid;
	gid_t gid;
	int ctl; /* our end of the control socket, -1 when none */
	pid_t pid;
	int port;
	uint64_t restarts;
	double started, next_start, backoff;
	char *msg;   /* MAX_MSG buffer for control messages */
	char **envp; /* the agent's environment plus the store URL */
	char *env_var;
	/*
	 * A thread of the agent answers the web process and restarts it, so
	 * neither waits for the sampling loop (which can sit in a store
	 * write for seconds) and the loop never waits for them.
	 */
	pthread_t thread;
	bool thread_started;
	volatile int stopping;
};

/* ---- starting the child ---- */

extern char **environ;

/* Built before fork(): the child may only make system calls. */
static int build_env(struct web_proc *wp)
{
	size_t n = 0, k = 0;
	char *var;

	if (wp->envp)
		return 0;
	while (environ[n])
		n++;
	wp->envp = calloc(n + 2, sizeof(char *));
	if (!wp->envp)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], WEB_PROC_DB_ENV "=",
			    strlen(WEB_PROC_DB_ENV) + 1))
			wp->envp[k++] = environ[i];
	if (asprintf(&var, "%s=%s", WEB_PROC_DB_ENV, wp->o.db_path) < 0)
		return -ENOMEM;
	wp->envp[k++] = var;
	wp->envp[k] = NULL;
	wp->env_var = var;
	return 0;
}

/* "sqlite:PATH" or "PATH" -> the file; NULL for other engines. */
static const char *store_file(const char *url)
{
	if (!strncmp(url, "sqlite:", 7))
		return url + 7;
	if (strstr(url, "://"))
		return NULL;
	return url;
}

/*
 * The web user reads (and with --ingest writes) the store through its
 * group: the file goes to group 'gid', mode 0660. SQLite gives the -wal
 * and -shm files it creates later the database file's owner and mode.
 * A read-only SQLite reader still writes the -shm index, hence 0660.
 */
static int share_store(struct web_proc *wp)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	char p[PATH_MAX + 8];

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", wp->db, sfx[i]);
		if (chown(p, (uid_t)-1, wp->gid) || chmod(p, 0660)) {
			if (errno == ENOENT && i)
				continue;
			pr_err("cannot give user '%s' access to '%s': %s",
			       wp->user, p, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static int read_token(struct web_proc *wp, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		pr_err("cannot read auth token file '%s': %s", path,
		       strerror(errno));
		return -errno;
	}
	n = read(fd, wp->token, sizeof(wp->token) - 1);
	close(fd);
	if (n < 0 || (size_t)n > MAX_TOKEN) {
		pr_err("cannot read auth token file '%s': %s", path,
		       n < 0 ? strerror(errno) : "longer than 512 bytes");
		return -EINVAL;
	}
	wp->token_len = (size_t)n;
	wp->have_token = true;
	return 0;
}

static void set_listen_port(struct web_proc *wp, int port)
{
	const char *l = wp->o.listen ? wp->o.listen : "127.0.0.1:7070";
	const char *colon = strrchr(l, ':');

	if (colon)
		snprintf(wp->listen, sizeof(wp->listen), "%.*s:%d",
			 (int)(colon - l), l, port);
	else
		snprintf(wp->listen, sizeof(wp->listen), "%d", port);
}

static int spawn(struct web_proc *wp)
{
	char upload[32], *argv[24];
	int sv[2], tp[2] = {-1, -1}, devnull, argc = 0;
	pid_t parent = getpid(), pid;
	sigset_t none;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	if (wp->have_token) {
		if (pipe2(tp, O_CLOEXEC)) {
			close(sv[0]);
			close(sv[1]);
			return -errno;
		}
		/* A pipe holds 64 KiB: the token fits without a reader. */
		if (write(tp[1], wp->token, wp->token_len) < 0)
			pr_warn("cannot pass the token: %s", strerror(errno));
		close(tp[1]);
	}
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	argv[argc++] = "kiln";
	argv[argc++] = "server";
	argv[argc++] = "--db";
	/*
	 * A store URL may hold a password: never in argv, which every user
	 * reads in /proc. The environment is readable by the process's own
	 * user only.
	 */
	argv[argc++] = store_file(wp->o.db_path) ? wp->db : WEB_PROC_DB_ENV;
	argv[argc++] = "--listen";
	argv[argc++] = wp->listen;
	argv[argc++] = "--agent-fd";
	argv[argc++] = "3";
	if (wp->have_token) {
		argv[argc++] = "--auth-token-file";
		argv[argc++] = "/proc/self/fd/4";
	}
	if (wp->o.enable_ingest)
		argv[argc++] = "--ingest";
	if (wp->o.public_url) {
		argv[argc++] = "--public-url";
		argv[argc++] = (char *)wp->o.public_url;
	}
	if (wp->o.max_upload_bytes) {
		snprintf(upload, sizeof(upload), "%zu", wp->o.max_upload_bytes);
		argv[argc++] = "--max-upload";
		argv[argc++] = upload;
	}
	argv[argc] = NULL;
	sigemptyset(&none);
	if (build_env(wp))
		return -ENOMEM;

	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(sv[0]);
		close(sv[1]);
		if (tp[0] >= 0)
			close(tp[0]);
		if (devnull >= 0)
			close(devnull);
		return err;
	}
	if (pid == 0) {
		/* Move what the child keeps out of the way, then into place. */
		int c = fcntl(sv[1], F_DUPFD, 100);
		int t = tp[0] >= 0 ? fcntl(tp[0], F_DUPFD, 100) : -1;

		if (c < 0 || dup2(c, 3) != 3)
			_exit(125);
		if (t >= 0 && dup2(t, 4) != 4)
			_exit(125);
		if (devnull >= 0)
			dup2(devnull, 1);
		/* Nothing of the sampler's: BPF maps, perf events, the store.
		 */
		syscall(SYS_close_range, t >= 0 ? 5 : 4, ~0U, 0);
		if (wp->drop) {
			/* No capability can come back even through exec. */
			for (int cap = 0; cap < 64; cap++)
				prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
			if (setgroups(0, NULL) || setgid(wp->gid) ||
			    setuid(wp->uid))
				_exit(126);
			/* Root cannot come back. */
			if (setuid(0) == 0 || geteuid() == 0)
				_exit(126);
		}
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
			_exit(126);
		/* After setuid, which clears it: die with the agent. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(0);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve("/proc/self/exe", argv, wp->envp);
		_exit(127);
	}
	close(sv[1]);
	if (tp[0] >= 0)
		close(tp[0]);
	if (devnull >= 0)
		close(devnull);
	wp->ctl = sv[0];
	wp->pid = pid;
	wp->port = 0;
	wp->started = clock__mono_s();
	wp->next_start = 0;
	return 0;
}

/* ---- the control socket ---- */

static void reply(struct web_proc *wp, const char *head, const char *body,
		  size_t len)
{
	size_t hl = strlen(head);

	if (hl + len > MAX_MSG)
		len = MAX_MSG - hl;
	memcpy(wp->msg, head, hl);
	memcpy(wp->msg + hl, body, len);
	if (send(wp->ctl, wp->msg, hl + len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		pr_debug("web process control: %s", strerror(errno));
}

static void handle_msg(struct web_proc *wp, const char *m, size_t n)
{
	char head[32], reason[256] = "";
	unsigned long seq;

	if (!n)
		return;
	if (m[0] == 'P') {
		int port = atoi(m + 1);

		if (port > 0 && port < 65536) {
			wp->port = port;
			set_listen_port(wp, port);
		}
		return;
	}
	if (m[0] != 'm' && m[0] != 'h')
		return;
	seq = strtoul(m + 1, NULL, 10);
	if (m[0] == 'm') {
		char *text = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&text, &len);

		if (!out)
			return;
		if (wp->o.metrics)
			wp->o.metrics(out, wp->o.ctx);
		fprintf(out,
			"# HELP kiln_agent_web_restarts_total Times the web "
			"process died and was started again.\n"
			"# TYPE kiln_agent_web_restarts_total counter\n"
			"kiln_agent_web_restarts_total %llu\n",
			(unsigned long long)wp->restarts);
		if (fclose(out) == 0) {
			snprintf(head, sizeof(head), "M%lu\n", seq);
			reply(wp, head, text, len);
		}
		free(text);
		return;
	}
	snprintf(head, sizeof(head), "H%lu\n", seq);
	if (!wp->o.healthy || wp->o.healthy(wp->o.ctx, reason, sizeof(reason)))
		reply(wp, head, "1", 1);
	else {
		char body[260];

		snprintf(body, sizeof(body), "0%s", reason);
		reply(wp, head, body, strlen(body));
	}
}

static void drain(struct web_proc *wp)
{
	ssize_t n;

	while (wp->ctl >= 0 &&
	       (n = recv(wp->ctl, wp->msg, MAX_MSG - 1, MSG_DONTWAIT)) > 0) {
		wp->msg[n] = '\0';
		/* handle_msg reuses the buffer for the answer: copy. */
		char req[64];

		snprintf(req, sizeof(req), "%s", wp->msg);
		handle_msg(wp, req, strlen(req));
	}
}

/* ---- life cycle ---- */

static void describe(int status, char *buf, size_t size)
{
	if (WIFSIGNALED(status))
		snprintf(buf, size, "was killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "exited with status %d",
			 WEXITSTATUS(status));
}

static void reaped(struct web_proc *wp, int status)
{
	double now = clock__mono_s();
	char how[96];

	describe(status, how, sizeof(how));
	close(wp->ctl);
	wp->ctl = -1;
	wp->pid = 0;
	__atomic_fetch_add(&wp->restarts, 1, __ATOMIC_RELAXED);
	/* Dying again soon after a start: wait longer each time. */
	wp->backoff =
	    now - wp->started < 60 ? (wp->backoff ? wp->backoff * 2 : 1) : 1;
	if (wp->backoff > MAX_BACKOFF_S)
		wp->backoff = MAX_BACKOFF_S;
	wp->next_start = now + wp->backoff;
	pr_warn("the web process %s; sampling goes on, starting it again in "
		"%.0f s (restart %llu)",
		how, wp->backoff, (unsigned long long)wp->restarts);
}

static void *control_thread(void *arg);

struct web_proc *web_proc__start(const struct web_proc_opts *opts,
				 int *exit_code)
{
	struct web_proc *wp = calloc(1, sizeof(*wp));
	const char *file = store_file(opts->db_path);
	double deadline;
	int err;

	*exit_code = 3;
	if (!wp || !(wp->msg = malloc(MAX_MSG))) {
		free(wp);
		return NULL;
	}
	wp->o = *opts;
	wp->ctl = -1;
	snprintf(wp->db, sizeof(wp->db), "%s", opts->db_path);
	if (file && !realpath(file, wp->db)) {
		pr_err("cannot resolve the store path '%s': %s", file,
		       strerror(errno));
		goto fail;
	}
	snprintf(wp->listen, sizeof(wp->listen), "%s",
		 opts->listen ? opts->listen : "127.0.0.1:7070");
	if (opts->auth_token_file && read_token(wp, opts->auth_token_file))
		goto fail;
	if (geteuid() == 0) {
		const char *name = opts->user;
		struct passwd *pw;

		if (!name)
			name = getpwnam("kiln") ? "kiln" : "nobody";
		pw = getpwnam(name);
		if (!pw) {
			pr_err("no user '%s' to run the web server as (--user; "
			       "`make install` creates 'kiln')",
			       name);
			*exit_code = 2;
			goto fail;
		}
		if (pw->pw_uid == 0) {
			pr_err("--user '%s' is root: the web server must not "
			       "run as root",
			       name);
			*exit_code = 2;
			goto fail;
		}
		snprintf(wp->user, sizeof(wp->user), "%s", name);
		wp->uid = pw->pw_uid;
		wp->gid = pw->pw_gid;
		wp->drop = true;
		if (file && share_store(wp))
			goto fail;
	} else {
		snprintf(wp->user, sizeof(wp->user), "(this user)");
		if (opts->user)
			pr_warn("not root: --user '%s' ignored, the web "
				"process runs as this user",
				opts->user);
	}
	if ((err = spawn(wp))) {
		pr_err("cannot start the web process: %s", strerror(-err));
		goto fail;
	}
	/* Wait until it listens, or says why it cannot. */
	deadline = clock__mono_s() + READY_WAIT_S;
	while (!wp->port && clock__mono_s() < deadline && !cli__stop) {
		struct pollfd pfd = {.fd = wp->ctl, .events = POLLIN};
		int status;

		if (poll(&pfd, 1, 100) > 0)
			drain(wp);
		if (!wp->port &&
		    waitpid(wp->pid, &status, WNOHANG) == wp->pid) {
			wp->pid = 0;
			*exit_code = WIFEXITED(status) && WEXITSTATUS(status)
					 ? WEXITSTATUS(status)
					 : 3;
			if (*exit_code == 126)
				pr_err("cannot drop to user '%s'", wp->user);
			else if (*exit_code == 3 && wp->drop)
				pr_err("the web process (user '%s') could not "
				       "start: can that user reach '%s'?",
				       wp->user, wp->db);
			*exit_code = *exit_code == 2 ? 2 : 3;
			goto fail;
		}
	}
	if (!wp->port) {
		pr_err("the web process did not start listening within %d s",
		       READY_WAIT_S);
		goto fail;
	}
	if ((err = pthread_create(&wp->thread, NULL, control_thread, wp))) {
		pr_err("cannot start the web control thread: %s",
		       strerror(err));
		goto fail;
	}
	wp->thread_started = true;
	pr_info("web server: process %d as user '%s' (no capabilities)",
		(int)wp->pid, wp->user);
	return wp;
fail:
	web_proc__stop(wp);
	return NULL;
}

int web_proc__port(const struct web_proc *wp)
{
	return wp->port;
}

uint64_t web_proc__restarts(const struct web_proc *wp)
{
	return wp ? __atomic_load_n(&wp->restarts, __ATOMIC_RELAXED) : 0;
}

static void *control_thread(void *arg)
{
	struct web_proc *wp = arg;

	while (!wp->stopping) {
		struct pollfd pfd = {.fd = wp->ctl, .events = POLLIN};
		int status;

		if (poll(&pfd, wp->ctl >= 0 ? 1 : 0, 200) > 0)
			drain(wp);
		if (wp->pid && waitpid(wp->pid, &status, WNOHANG) == wp->pid)
			reaped(wp, status);
		if (!wp->pid && wp->next_start && !wp->stopping &&
		    clock__mono_s() >= wp->next_start) {
			int err = spawn(wp);

			if (err) {
				pr_warn("cannot start the web process: %s",
					strerror(-err));
				wp->next_start =
				    clock__mono_s() + MAX_BACKOFF_S;
			} else {
				pr_info("web server: process %d started again",
					(int)wp->pid);
			}
		}
	}
	return NULL;
}

void web_proc__tick(struct web_proc *wp)
{
	(void)wp; /* the control thread does the work */
}

void web_proc__stop(struct web_proc *wp)
{
	int status;

	if (!wp)
		return;
	if (wp->thread_started) {
		wp->stopping = 1;
		pthread_join(wp->thread, NULL);
	}
	if (wp->pid) {
		kill(wp->pid, SIGTERM);
		for (int i = 0; i < 100; i++) {
			if (waitpid(wp->pid, &status, WNOHANG) == wp->pid) {
				wp->pid = 0;
				break;
			}
			usleep(50000);
		}
		if (wp->pid) {
			kill(wp->pid, SIGKILL);
			waitpid(wp->pid, &status, 0);
		}
	}
	if (wp->ctl >= 0)
		close(wp->ctl);
	explicit_bzero(wp->token, sizeof(wp->token));
	if (wp->env_var) {
		explicit_bzero(wp->env_var, strlen(wp->env_var));
		free(wp->env_var);
	}
	free(wp->envp);
	free(wp->msg);
	free(wp);
}

/* ---- the web process's side ---- */

static pthread_mutex_t child_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long child_seq;

void web_proc__child_ready(int fd, int port)
{
	char m[16];
	int n = snprintf(m, sizeof(m), "P%d", port);

	if (send(fd, m, (size_t)n, MSG_NOSIGNAL) < 0)
		pr_warn("cannot tell the agent the port: %s", strerror(errno));
}

/*
 * Asks the agent; returns a malloc'ed answer body (after the header) or
 * NULL when it does not answer within 2 s. Answers to earlier requests
 * that timed out are skipped by their sequence number.
 */
static char *child_ask(int fd, char kind, size_t *len)
{
	char req[32], want[32], *buf = malloc(MAX_MSG), *out = NULL;
	double deadline = clock__mono_s() + 2;
	unsigned long seq;
	int n;

	if (!buf)
		return NULL;
	pthread_mutex_lock(&child_lock);
	seq = ++child_seq;
	n = snprintf(req, sizeof(req), "%c%lu", kind, seq);
	snprintf(want, sizeof(want), "%c%lu\n", toupper(kind), seq);
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) < 0)
		goto out;
	for (;;) {
		double left = deadline - clock__mono_s();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t got;

		if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
			break;
		got = recv(fd, buf, MAX_MSG - 1, MSG_DONTWAIT);
		if (got <= 0)
			break;
		buf[got] = '\0';
		if (!strncmp(buf, want, strlen(want))) {
			size_t hl = strlen(want);

			*len = (size_t)got - hl;
			out = malloc(*len + 1);
			if (out) {
				memcpy(out, buf + hl, *len);
				out[*len] = '\0';
			}
			break;
		}
	}
out:
	pthread_mutex_unlock(&child_lock);
	free(buf);
	return out;
}

void web_proc__child_metrics(FILE *out, void *ctx)
{
	size_t len = 0;
	char *text = child_ask((int)(intptr_t)ctx, 'm', &len);

	if (text)
		fwrite(text, 1, len, out);
	free(text);
}

bool web_proc__child_healthy(void *ctx, char *reason, size_t size)
{
	size_t len = 0;
	char *ans = child_ask((int)(intptr_t)ctx, 'h', &len);
	bool ok = ans && ans[0] == '1';

	if (!ans)
		snprintf(reason, size, "the agent does not answer");
	else if (!ok)
		snprintf(reason, size, "%s", ans + 1);
	free(ans);
	return ok;
}
