/* pipeline.c - from 'received' to 'imported': verification, then the
 * import hook (or filing into the local tree), with retries and backoff.
 *
 * The queue is the uploads table: a worker claims one upload with one
 * UPDATE ... RETURNING, so two workers never take the same, and whatever
 * was in flight at a crash is found again at the next start.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "age.h"
#include "gw.h"
#include "store_int.h"
#include "store_records.h"

#define OUTPUT_TAIL 4096
#define KEYS_MAX 16


struct store_pipeline {
	struct store *st;
	struct store_pipeline_params p;
	char command[4096];
	volatile int stopping;
	unsigned started; /* atomic: workers that have begun */
	unsigned nthreads;
	pthread_t threads[64];
};


/* ---------------------------------------------------------------- queue */

static int write_state(struct store *st, const struct store_work *w, const char *state,
		       const char *error, int64_t next_attempt_ms, bool hook, int hook_exit,
		       const char *hook_output, bool again)
{
	struct store_work_state ws = { state, error, next_attempt_ms, hook, hook_exit, hook_output };
	bool makes_work = !strcmp(state, "verified");
	int r;

	if (makes_work && !again)
		store_emit_before(st, "upload", w->id, w->account_id, state);
	r = st->rec->work_set(st, w->id, &ws, gw_now_ms(), again);
	if (r == 0 && !makes_work)
		store_emit(st, "upload", w->id, w->account_id, state);
	return r;
}

/* Record where an upload's verification or import ended. While the
 * database refuses (disk full, locked by another process, read-only),
 * this worker tries again each second rather than leave the record
 * 'verifying' or 'importing'; a stop ends the wait, and the next start
 * puts such records back in the queue. */
static void set_state(struct store_pipeline *pl, const struct store_work *w, const char *state,
		      const char *error, int64_t next_attempt_ms, bool hook, int hook_exit,
		      const char *hook_output)
{
	unsigned tries = 0;
	int r;

	while ((r = write_state(pl->st, w, state, error, next_attempt_ms, hook, hook_exit,
				hook_output, tries > 0)) < 0) {
		if (r == -ESTALE) {
			gw_warn("upload.lease_lost", "upload %lld: its claim ended before '%s' was"
				" recorded; another node has its work now", (long long)w->id, state);
			return;
		}
		if (++tries == 1)
			gw_warn("upload.unsaved", "upload %lld: the database refused its state '%s';"
				" trying again each second", (long long)w->id, state);
		for (int i = 0; i < 10; i++) {
			if (__atomic_load_n(&pl->stopping, __ATOMIC_RELAXED))
				return;
			usleep(100 * 1000);
		}
	}
	if (tries)
		gw_info("upload.unsaved", "upload %lld recorded as %s after %u tries", (long long)w->id,
			state, tries + 1);
}

/* ---------------------------------------------------------------- leases */

/* The claim on a piece of work, kept while it runs (records_pg.c: a
 * lease other nodes wait for). */
struct lease {
	int64_t next_ms;    /* renew then */
	int64_t last_ok_ms; /* last confirmed */
};

static void lease_begin(struct lease *l)
{
	l->last_ok_ms = gw_mono_ms();
	l->next_ms = l->last_ok_ms;
}

/* Renew when due: false once the claim is lost or could not be renewed
 * for two thirds of its time, so the work stops before another node may
 * take it. */
static bool lease_keep(struct store_pipeline *pl, const struct store_work *w, struct lease *l)
{
	struct store *st = pl->st;
	int64_t now = gw_mono_ms();
	int r;

	if (now < l->next_ms)
		return true;
	r = st->rec->work_renew(st, w->id);
	if (r == 0) {
		l->last_ok_ms = now;
	} else if (r == -ESTALE) {
		gw_warn("upload.lease_lost", "upload %lld: its claim was taken over", (long long)w->id);
		return false;
	}
	l->next_ms = now + st->lease_ms / 6;
	if (now - l->last_ok_ms > st->lease_ms * 2 / 3) {
		gw_warn("upload.lease_lost", "upload %lld: its claim could not be renewed for %lld ms;"
			" the work stops so that another node can take it", (long long)w->id,
			(long long)(now - l->last_ok_ms));
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------- verify */

/* Verified while it arrived (key_id set), or needs no encryption; an
 * upload without a verdict for an account that requires one (received
 * before the setting changed) is read again now. */
static void verify(struct store_pipeline *pl, struct store_work *w)
{
	struct store *st = pl->st;
	uint8_t secrets[KEYS_MAX][32];
	int64_t ids[KEYS_MAX];
	struct store_account a;
	struct age_reader *r = NULL;
	size_t n = 0;
	uint8_t buf[65536];
	ssize_t got = 0;
	struct store_bytes_reader *rd = NULL;
	struct lease lease;
	int rc;

	if (w->key_id || st->rec->account_get(st, w->account_id, false, &a) < 0 ||
	    !a.require_encryption) {
		gw_info("upload.verified", "upload %lld of account %lld verified (%s)", (long long)w->id,
			(long long)w->account_id, w->key_id ? "an age file for one of its keys, checked as"
							      " it arrived" : "no encryption required");
		set_state(pl, w, "verified", NULL, 0, false, 0, NULL);
		return;
	}
	if (st->bytes->ops->open_read(st->bytes, w->id, 0, &rd) < 0)
		rd = NULL;
	rc = store_key_secrets(st, w->account_id, secrets, ids, KEYS_MAX, &n);
	if (rc == 0 && n && rd)
		rc = age_reader_new((const uint8_t(*)[32])secrets, n, true, NULL, NULL, &r);
	explicit_bzero(secrets, sizeof(secrets));
	if (!rd || rc < 0 || !n) {
		set_state(pl, w, "rejected", n ? "its file cannot be read" : "the account has no key in use",
			  0, false, 0, NULL);
		goto out;
	}
	rc = 0;
	lease_begin(&lease);
	while (rc == 0 && (got = st->bytes->ops->read(rd, buf, sizeof(buf))) > 0) {
		rc = age_reader_feed(r, buf, (size_t)got);
		if (!lease_keep(pl, w, &lease))
			goto out; /* another node verifies it */
	}
	if (got < 0 && rc == 0) {
		set_state(pl, w, "rejected", "its file cannot be read", 0, false, 0, NULL);
		goto out;
	}
	if (rc == 0)
		rc = age_reader_finish(r);
	if (rc < 0) {
		set_state(pl, w, "rejected", age_reader_reason(r), 0, false, 0, NULL);
	} else {
		st->rec->upload_set_key(st, w->id, ids[age_reader_key(r)]);
		set_state(pl, w, "verified", NULL, 0, false, 0, NULL);
	}
out:
	if (rd)
		st->bytes->ops->close_read(rd);
	age_reader_free(r);
}

/* ---------------------------------------------------------------- default import */

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t k = write(fd, p, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

/* Object storage: the upload's bytes copied to target (through a
 * temporary name of the upload's own, made durable, then renamed), and
 * checked against the SHA-256 recorded on the way. */
static int copy_object(struct store_pipeline *pl, const struct store_work *w, const char *target,
		       char *why, size_t why_size)
{
	struct store *st = pl->st;
	char tmp[PATH_MAX + GW_PATH_MAX + 80], hex[65];
	struct store_bytes_reader *src = NULL;
	struct store_sha256 sha;
	struct lease lease;
	unsigned char *buf = malloc(1 << 20);
	uint8_t md[32];
	ssize_t n = 0;
	int fd = -1, r;

	/* beside it, under a name of the upload's own */
	snprintf(tmp, sizeof(tmp), "%.*s/.%lld.part", (int)(strrchr(target, '/') - target), target,
		 (long long)w->id);
	store_sha256_start(&sha);
	lease_begin(&lease);
	r = buf ? st->bytes->ops->open_read(st->bytes, w->id, 0, &src) : -ENOMEM;
	if (r < 0) {
		snprintf(why, why_size, "cannot read its object: %s", strerror(-r));
		goto out;
	}
	unlink(tmp); /* left by an attempt that was cut short */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0440);
	if (fd < 0) {
		r = -errno;
		snprintf(why, why_size, "cannot create '%.120s': %s", tmp, strerror(errno));
		goto out;
	}
	while ((n = st->bytes->ops->read(src, buf, 1 << 20)) > 0) {
		/* stopping, or the claim lost: the copy goes no further (an
		 * import cut short runs again) */
		if (__atomic_load_n(&pl->stopping, __ATOMIC_RELAXED) || !lease_keep(pl, w, &lease)) {
			r = -ECANCELED;
			break;
		}
		store_sha256_add(&sha, buf, (size_t)n);
		if (write_all(fd, buf, (size_t)n) < 0) {
			n = -errno;
			break;
		}
	}
	store_sha256_end(&sha, md);
	gw_hex(md, 32, hex);
	if (r < 0) {
		/* cancelled */
	} else if (n < 0) {
		r = (int)n;
		snprintf(why, why_size, "cannot copy its object: %s", strerror(-r));
	} else if (strcmp(hex, w->sha256)) {
		r = -EIO;
		snprintf(why, why_size, "its object does not have the SHA-256 recorded");
	} else if (fsync(fd) < 0 || rename(tmp, target) < 0) {
		r = -errno;
		snprintf(why, why_size, "cannot file it at '%.120s': %s", target, strerror(errno));
	}
	if (r < 0)
		unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	if (src)
		st->bytes->ops->close_read(src);
	free(buf);
	return r;
}

/* File the upload as data_dir/imported/<account>/<id>/<path>, with its
 * manifest at imported/<account>/<id>.json. Every name the filing makes
 * starts with the upload's id, which no other upload has: nothing a user
 * names can collide with it, so no file of another upload is ever opened
 * for writing. The filed file is a link to the upload's own bytes, which
 * are read-only once received. Idempotent: filing the same upload again
 * finds what the last attempt made and finishes it. */
static int file_locally(struct store_pipeline *pl, const struct store_work *w, char *why, size_t why_size)
{
	struct store *st = pl->st;
	char base[PATH_MAX], target[PATH_MAX + GW_PATH_MAX + 64], manifest[PATH_MAX + 48];
	char tmp[PATH_MAX + 48], obj[32], *slash;
	struct gw_buf body;
	struct stat sb, ob = { 0 };
	int fd = -1, dfd = -1, n, r = -EIO;

	snprintf(obj, sizeof(obj), "%lld", (long long)w->id);
	if (!st->s3 && fstatat(st->uploads_fd, obj, &ob, 0) < 0) {
		snprintf(why, why_size, "its file is gone: %s", strerror(errno));
		return -ENOENT;
	}
	n = snprintf(base, sizeof(base), "%s/imported/%lld", st->data_dir, (long long)w->account_id);
	if (n > 0 && (size_t)n < sizeof(base))
		n = snprintf(target, sizeof(target), "%s/%lld%s", base, (long long)w->id, w->path);
	if (n < 0 || (size_t)n >= sizeof(base) || w->path[0] != '/') {
		snprintf(why, why_size, "path too long");
		return -ENAMETOOLONG;
	}
	slash = strrchr(target, '/');
	*slash = '\0';
	if (gw_mkdir_p(target) < 0) {
		snprintf(why, why_size, "cannot create '%.120s': %s", target, strerror(errno));
		return -EIO;
	}
	*slash = '/';
	if (st->s3) {
		r = copy_object(pl, w, target, why, why_size);
		if (r < 0)
			return r;
	} else if (linkat(st->uploads_fd, obj, AT_FDCWD, target, 0) < 0) {
		/* Only an earlier attempt at this upload can have made it. */
		if (errno != EEXIST || stat(target, &sb) < 0 || sb.st_ino != ob.st_ino ||
		    sb.st_dev != ob.st_dev) {
			snprintf(why, why_size, "cannot file it at '%.120s': %s", target,
				 errno == EEXIST || errno == 0 ? "another file is there" : strerror(errno));
			return -EIO;
		}
	}
	/* The manifest: written whole under a name of this upload's own,
	 * then renamed into place. */
	snprintf(manifest, sizeof(manifest), "%s/%lld.json", base, (long long)w->id);
	snprintf(tmp, sizeof(tmp), "%s/.%lld.json.tmp", base, (long long)w->id);
	gw_buf_init(&body, GW_PATH_MAX * 8 + 512);
	gw_buf_addf(&body, "{\"upload_id\":%lld,\"account_id\":%lld,\"path\":",
		    (long long)w->id, (long long)w->account_id);
	gw_json_quote(&body, w->path);
	gw_buf_addf(&body, ",\"file\":");
	gw_json_quote(&body, target + strlen(base) + 1);
	if (gw_buf_addf(&body, ",\"size\":%lld,\"sha256\":\"%s\",\"key_id\":%lld,"
			"\"imported_at_ms\":%lld}\n", (long long)w->size, w->sha256,
			(long long)w->key_id, (long long)gw_now_ms()) < 0) {
		snprintf(why, why_size, "the manifest is too long");
		goto out;
	}
	unlink(tmp); /* left by an attempt that was cut short */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0440);
	if (fd < 0 || write(fd, gw_buf_str(&body), body.len) != (ssize_t)body.len || fsync(fd) < 0 ||
	    rename(tmp, manifest) < 0) {
		snprintf(why, why_size, "cannot write the manifest '%.120s': %s", manifest, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		goto out;
	}
	/* Durable before 'imported' is recorded: the file's directory and
	 * the account's, which holds the manifest and the upload's folder. */
	*slash = '\0';
	dfd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*slash = '/';
	if (dfd < 0 || gw_fsync_dir(dfd) < 0) {
		snprintf(why, why_size, "cannot sync '%.120s': %s", target, strerror(errno));
		goto out;
	}
	close(dfd);
	dfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || gw_fsync_dir(dfd) < 0) {
		snprintf(why, why_size, "cannot sync '%.120s': %s", base, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (dfd >= 0)
		close(dfd);
	if (fd >= 0)
		close(fd);
	gw_buf_release(&body);
	return r;
}

/* ---------------------------------------------------------------- hook */

struct feed {
	struct gw_buf pending;
};

static int to_pending(void *arg, const uint8_t *plain, size_t len)
{
	return gw_buf_add(&((struct feed *)arg)->pending, plain, len);
}

static void keep_tail(struct gw_buf *tail, const char *data, size_t n)
{
	if (n >= OUTPUT_TAIL) {
		gw_buf_reset(tail);
		gw_buf_add(tail, data + n - OUTPUT_TAIL, OUTPUT_TAIL);
		return;
	}
	if (tail->len + n > OUTPUT_TAIL)
		gw_buf_consume(tail, tail->len + n - OUTPUT_TAIL);
	gw_buf_add(tail, data, n);
}

/* Start the hook: no shell, the environment given, its own process group
 * (a timeout kills all of it), signals as a new program expects them, and
 * a parent-death signal: a gateway killed with SIGKILL takes its hook with
 * it, so that when another node takes the upload after the lease, two
 * hooks for one upload never run at once (posix_spawn cannot ask for
 * that). Between fork and exec the child makes only system calls. in_fd
 * < 0: /dev/null. 0 or a positive errno. */
int store_spawn_hook(const char *command, char *const argv[], char *const envp[], int in_fd,
		     int out_fd, pid_t *out)
{
	pid_t parent = getpid(), pid;
	int report[2], err = 0;
	ssize_t n;

	if (pipe2(report, O_CLOEXEC) < 0)
		return errno;
	pid = fork();
	if (pid < 0) {
		err = errno;
		close(report[0]);
		close(report[1]);
		return err;
	}
	if (pid == 0) {
		sigset_t none;
		int fd0 = in_fd;

		sigemptyset(&none);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127); /* the gateway is already gone */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		pthread_sigmask(SIG_SETMASK, &none, NULL);
		if (fd0 < 0)
			fd0 = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd0 >= 0 && dup2(fd0, 0) == 0 && dup2(out_fd, 1) == 1 && dup2(out_fd, 2) == 2)
			execve(command, argv, envp);
		err = errno;
		n = write(report[1], &err, sizeof(err));
		(void)n;
		_exit(127);
	}
	close(report[1]);
	do
		n = read(report[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n == (ssize_t)sizeof(err)) { /* it could not start */
		waitpid(pid, NULL, 0);
		return err;
	}
	*out = pid;
	return 0;
}

/* Run the hook for one upload: its exit status (>= 0), or -1 when it was
 * killed, with why. */
static int run_hook(struct store_pipeline *pl, const struct store_work *w, struct gw_buf *tail,
		    char *why, size_t why_size)
{
	struct store *st = pl->st;
	static char path_env[] = "PATH=/usr/local/bin:/usr/bin:/bin";
	char env[9][PATH_MAX + 128], file[PATH_MAX + 64];
	char *envp[11], *argv[2];
	struct store_bytes_reader *src = NULL;
	int out[2] = { -1, -1 }, in[2] = { -1, -1 }, status = 0, rc = -1;
	struct age_reader *r = NULL;
	struct feed feed;
	bool exited = false, out_open = true, file_done = false;
	bool stdin_fed = pl->p.stdin_plaintext || pl->p.stdin_as_is;
	int64_t deadline = gw_mono_ms() + (int64_t)pl->p.timeout_s * 1000;
	struct lease lease;
	pid_t pid = -1;
	size_t i;

	gw_buf_init(&feed.pending, 1 << 20);
	if (st->s3)
		snprintf(file, sizeof(file), "FTPSGATE_UPLOAD_OBJECT=%s", "");
	if (st->s3)
		store_storage_object_url(st, w->id, file + strlen(file), sizeof(file) - strlen(file));
	else
		snprintf(file, sizeof(file), "FTPSGATE_UPLOAD_FILE=%s/uploads/%lld", st->data_dir,
			 (long long)w->id);
	snprintf(env[0], sizeof(env[0]), "FTPSGATE_UPLOAD_ID=%lld", (long long)w->id);
	snprintf(env[1], sizeof(env[1]), "FTPSGATE_UPLOAD_ACCOUNT=%lld", (long long)w->account_id);
	snprintf(env[2], sizeof(env[2]), "FTPSGATE_UPLOAD_PATH=%s", w->path);
	snprintf(env[3], sizeof(env[3]), "FTPSGATE_UPLOAD_SIZE=%lld", (long long)w->size);
	snprintf(env[4], sizeof(env[4]), "FTPSGATE_UPLOAD_SHA256=%s", w->sha256);
	snprintf(env[5], sizeof(env[5]), "FTPSGATE_UPLOAD_KEY_ID=%lld", (long long)w->key_id);
	/* its bytes: a file in the data directory, or an object */
	snprintf(env[6], sizeof(env[6]), "%s", file);
	snprintf(env[7], sizeof(env[7]), "FTPSGATE_UPLOAD_ATTEMPT=%d", w->attempts);
	snprintf(env[8], sizeof(env[8]), "FTPSGATE_NODE_ID=%s", st->node);
	for (i = 0; i < 9; i++)
		envp[i] = env[i];
	envp[9] = path_env;
	envp[10] = NULL;
	argv[0] = pl->command;
	argv[1] = NULL;

	if (pipe2(out, O_CLOEXEC) < 0 || (stdin_fed && pipe2(in, O_CLOEXEC) < 0)) {
		snprintf(why, why_size, "cannot make pipes: %s", strerror(errno));
		goto out;
	}
	if (pl->p.stdin_as_is && st->bytes->ops->open_read(st->bytes, w->id, 0, &src) < 0) {
		snprintf(why, why_size, "cannot read the upload for the hook");
		goto out;
	}
	if (pl->p.stdin_plaintext) {
		uint8_t secrets[KEYS_MAX][32];
		int64_t ids[KEYS_MAX];
		size_t n = 0;

		if (st->bytes->ops->open_read(st->bytes, w->id, 0, &src) < 0)
			src = NULL;
		if (w->key_id)
			store_key_secrets(st, w->account_id, secrets, ids, KEYS_MAX, &n);
		/* An upload that was not encrypted is its own plaintext. */
		if (!src || (w->key_id && (!n ||
		    age_reader_new((const uint8_t(*)[32])secrets, n, true, to_pending, &feed, &r) < 0))) {
			explicit_bzero(secrets, sizeof(secrets));
			snprintf(why, why_size, "cannot decrypt the upload for the hook");
			goto out;
		}
		explicit_bzero(secrets, sizeof(secrets));
	}
	rc = store_spawn_hook(pl->command, argv, envp, stdin_fed ? in[0] : -1, out[1], &pid);
	close(out[1]);
	out[1] = -1;
	if (in[0] >= 0) {
		close(in[0]);
		in[0] = -1;
		fcntl(in[1], F_SETFL, O_NONBLOCK);
	}
	if (rc != 0) {
		snprintf(why, why_size, "cannot run '%.120s': %s", pl->command, strerror(rc));
		rc = -1;
		goto out;
	}
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	rc = -1;
	lease_begin(&lease);
	while (!exited || out_open) {
		struct pollfd fds[2];
		int nfds = 0, left = (int)(deadline - gw_mono_ms());

		if (!lease_keep(pl, w, &lease)) {
			/* Another node may take it now: never two hooks at once. */
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			rc = -2;
			goto out;
		}
		if (__atomic_load_n(&pl->stopping, __ATOMIC_RELAXED)) {
			/* Shutting down: the upload stays 'importing' and goes
			 * back to the queue at the next start. */
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			rc = -2;
			goto out;
		}
		if (left <= 0) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			snprintf(why, why_size, "the import hook ran past %u s and was killed",
				 pl->p.timeout_s);
			goto out;
		}
		/* plaintext for its stdin, a chunk at a time */
		if (in[1] >= 0 && feed.pending.len == 0 && !file_done) {
			uint8_t buf[65536];
			ssize_t n = st->bytes->ops->read(src, buf, sizeof(buf));

			if (n > 0 && !r)
				gw_buf_add(&feed.pending, buf, (size_t)n);
			else if (n > 0 && age_reader_feed(r, buf, (size_t)n) < 0)
				n = -1;
			if (n == 0 && r && age_reader_finish(r) < 0)
				n = -1;
			if (n <= 0) {
				file_done = true;
				if (n < 0)
					snprintf(why, why_size, "the upload could not be read: %s",
						 r ? age_reader_reason(r) : strerror((int)-n));
			}
		}
		if (in[1] >= 0 && feed.pending.len == 0 && file_done) {
			close(in[1]); /* EOF for the hook */
			in[1] = -1;
		}
		if (out_open) {
			fds[nfds].fd = out[0];
			fds[nfds++].events = POLLIN;
		}
		if (in[1] >= 0 && feed.pending.len) {
			fds[nfds].fd = in[1];
			fds[nfds++].events = POLLOUT;
		}
		poll(fds, (nfds_t)nfds, left < 200 ? left : 200);
		if (in[1] >= 0 && feed.pending.len) {
			ssize_t n = write(in[1], feed.pending.data, feed.pending.len);

			if (n > 0) {
				gw_buf_consume(&feed.pending, (size_t)n);
			} else if (n < 0 && errno != EAGAIN) {
				/* it stopped reading: fine, its exit status tells */
				close(in[1]);
				in[1] = -1;
			}
		}
		if (out_open) {
			char buf[8192];
			ssize_t n = read(out[0], buf, sizeof(buf));

			if (n > 0)
				keep_tail(tail, buf, (size_t)n);
			else if (n == 0 || errno != EAGAIN)
				out_open = false;
		}
		if (!exited && waitpid(pid, &status, WNOHANG) == pid)
			exited = true;
	}
	if (WIFEXITED(status)) {
		rc = WEXITSTATUS(status);
		if (rc)
			snprintf(why, why_size, "the import hook exited with status %d", rc);
	} else {
		snprintf(why, why_size, "the import hook was killed by signal %d", WTERMSIG(status));
	}
out:
	for (i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (in[i] >= 0)
			close(in[i]);
	}
	if (src)
		st->bytes->ops->close_read(src);
	age_reader_free(r);
	gw_buf_release(&feed.pending);
	return rc;
}

/* ---------------------------------------------------------------- import */

static void import(struct store_pipeline *pl, struct store_work *w)
{
	struct gw_buf tail;
	char why[256] = "";
	int rc;

	int64_t began = gw_mono_ms();

	gw_buf_init(&tail, OUTPUT_TAIL);
	if (pl->command[0]) {
		rc = run_hook(pl, w, &tail, why, sizeof(why));
	} else {
		rc = file_locally(pl, w, why, sizeof(why));
		rc = rc == -ECANCELED ? -2 : rc < 0 ? 1 : 0;
	}
	if (rc == -2) {
		gw_buf_release(&tail);
		return; /* stopped, or its claim lost: see run_hook */
	}
	if (rc != 0)
		gw_metric_add(GW_M_HOOK_FAILURES, 1);
	if (rc == 0) {
		gw_metric_add(GW_M_IMPORTS, 1);
		gw_metric_add(GW_M_IMPORT_MS, gw_mono_ms() - began);
		gw_info("upload.imported", "upload %lld of account %lld imported (attempt %d)",
			(long long)w->id, (long long)w->account_id, w->attempts);
		set_state(pl, w, "imported", NULL, 0, pl->command[0] != '\0', 0, gw_buf_str(&tail));
	} else if ((unsigned)w->attempts >= pl->p.attempts) {
		char error[320];

		snprintf(error, sizeof(error), "%s; gave up after %d attempts", why, w->attempts);
		gw_error("upload.import_failed", "upload %lld: %s", (long long)w->id, error);
		set_state(pl, w, "failed", error, 0, pl->command[0] != '\0', rc, gw_buf_str(&tail));
	} else {
		int64_t wait_ms = (int64_t)pl->p.backoff_s * 1000 << (w->attempts - 1 < 16 ? w->attempts - 1 : 16);

		if (wait_ms > 3600 * 1000)
			wait_ms = 3600 * 1000;
		gw_warn("upload.import_retry", "upload %lld: %s; attempt %d of %u, next in %lld s",
			(long long)w->id, why, w->attempts, pl->p.attempts, (long long)(wait_ms / 1000));
		set_state(pl, w, "verified", why, gw_now_ms() + wait_ms, pl->command[0] != '\0', rc,
			  gw_buf_str(&tail));
	}
	gw_buf_release(&tail);
}

/* Retention: an imported upload's file is purged retention_days after it
 * was completed (its record stays, a tombstone); a tombstone goes
 * retention_days after its purge. */
static void retain(struct store_pipeline *pl)
{
	struct store *st = pl->st;
	int64_t cutoff = gw_now_ms() - (int64_t)pl->p.retention_days * 86400 * 1000;
	int64_t ids[256];
	unsigned n = 0, dropped = 0, i;

	st->rec->work_expired(st, cutoff, ids, GW_ARRAY_SIZE(ids), &n, &dropped);
	if (dropped)
		gw_info("store.retention", "dropped %u tombstone(s) older than %u days", dropped,
			pl->p.retention_days);
	for (i = 0; i < n; i++) {
		struct store_upload_info u;

		if (store_upload_purge(st, ids[i], &u) == 0)
			gw_info("store.retention", "purged the file of upload %lld, imported over %u days ago",
				(long long)ids[i], pl->p.retention_days);
	}
}

/* An upload received or (again) verified is work; the other events,
 * most of them, are not. On PostgreSQL every claim is a round trip, and
 * every worker woken by each of an upload's six events and trying both
 * claims made 24 of them an upload. */
static bool makes_work(const struct store_event *e)
{
	return !strcmp(e->kind, "upload") && (!strcmp(e->state, "received") ||
					     !strcmp(e->state, "verified"));
}

static void wait_for_work(struct store *st, uint64_t seen)
{
	int64_t until = gw_mono_ms() + 1000;
	struct store_event ev[32];
	unsigned n, i;
	bool missed;

	for (;;) {
		int64_t left = until - gw_mono_ms();

		if (left <= 0)
			return;
		store_events_wait(st, seen, ev, GW_ARRAY_SIZE(ev), (int)left, &n, &missed);
		if (missed || n == 0) /* too many to look at; the time is up; closed */
			return;
		for (i = 0; i < n; i++) {
			if (makes_work(&ev[i]))
				return;
			seen = ev[i].seq;
		}
	}
}

static void *worker(void *arg)
{
	struct store_pipeline *pl = arg;
	struct store *st = pl->st;
	int64_t next_retention = 0, next_sweep = 0;
	/* the first worker also keeps retention */
	bool janitor = __atomic_fetch_add(&pl->started, 1, __ATOMIC_RELAXED) == 0;

	while (!__atomic_load_n(&pl->stopping, __ATOMIC_RELAXED)) {
		uint64_t seen = store_events_last(st);
		struct store_work w;

		if (st->rec->work_claim(st, false, gw_now_ms(), &w) == 1) {
			store_emit(st, "upload", w.id, w.account_id, "verifying");
			verify(pl, &w);
			continue;
		}
		if (st->rec->work_claim(st, true, gw_now_ms(), &w) == 1) {
			store_emit(st, "upload", w.id, w.account_id, "importing");
			import(pl, &w);
			continue;
		}
		if (janitor)
			store_flush_unsaved(st);
		if (janitor && pl->p.retention_days && gw_mono_ms() >= next_retention) {
			retain(pl);
			next_retention = gw_mono_ms() + 60 * 1000;
		}
		if (janitor && pl->p.abandon_after_s && gw_mono_ms() >= next_sweep) {
			unsigned aborted = 0, every_s = pl->p.abandon_after_s / 4;

			store_sweep_abandoned(st, (int64_t)pl->p.abandon_after_s * 1000, &aborted);
			every_s = every_s < 5 ? 5 : every_s > 600 ? 600 : every_s;
			next_sweep = gw_mono_ms() + (int64_t)every_s * 1000;
		}
		/* Nothing to do: wait for a change that makes work, or a
		 * second (a retry's time, another node's lease ended). */
		wait_for_work(st, seen);
	}
	return NULL;
}

int store_pipeline_start(struct store *st, const struct store_pipeline_params *p,
			 struct store_pipeline **out)
{
	struct store_pipeline *pl = calloc(1, sizeof(*pl));
	unsigned i;

	if (!pl)
		return -ENOMEM;
	pl->st = st;
	pl->p = *p;
	gw_strlcpy(pl->command, p->command ? p->command : "", sizeof(pl->command));
	if (pl->p.workers == 0 || pl->p.workers > 64)
		pl->p.workers = 2;
	/* What a crash interrupted goes back in the queue. */
	st->rec->work_requeue(st);
	for (i = 0; i < pl->p.workers; i++) {
		if (pthread_create(&pl->threads[i], NULL, worker, pl) != 0)
			break;
		pl->nthreads++;
	}
	if (!pl->nthreads) {
		free(pl);
		return -EAGAIN;
	}
	*out = pl;
	return 0;
}

void store_pipeline_stop(struct store_pipeline *pl)
{
	unsigned i;

	if (!pl)
		return;
	__atomic_store_n(&pl->stopping, 1, __ATOMIC_RELAXED);
	for (i = 0; i < pl->nthreads; i++)
		pthread_join(pl->threads[i], NULL);
	free(pl);
}
