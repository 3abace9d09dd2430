/* accept_hook.c - the accept_command: a program run on each completed
 * upload, once its bytes are durable and before the client hears 226,
 * that may refuse it. Exit 0 accepts; any other exit refuses, with the
 * first line it printed as the reason the client and the record get.
 * One that cannot start, is killed by a signal, or runs past
 * accept_timeout_s decides nothing: the upload stays partial (a resume
 * asks again) and the client hears 451.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gw.h"
#include "store_int.h"
#include "store_records.h"

#define OUTPUT_MAX 4096

/* The first line of out, printable, at most size - 1 bytes. */
static void first_line(const char *out, size_t len, char *line, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < len && out[i] != '\n' && n + 1 < size; i++) {
		unsigned char c = (unsigned char)out[i];

		if (c == '\r')
			continue;
		if (c < 0x20 || c == 0x7f)
			line[n++] = ' ';
		else
			line[n++] = out[i];
	}
	while (n && line[n - 1] == ' ')
		n--;
	line[n] = '\0';
	if (!gw_is_utf8(line))
		line[0] = '\0';
}

int store_accept_hook(struct store *st, int64_t id, int64_t account_id, const char *path,
		      uint64_t size, const char *sha256, char *reason, size_t reason_size)
{
	static char path_env[] = "PATH=/usr/local/bin:/usr/bin:/bin";
	char env[8][PATH_MAX + 128], out_buf[OUTPUT_MAX], line[160];
	char *envp[10], *argv[2] = { st->accept_command, NULL };
	int64_t deadline = gw_mono_ms() + (int64_t)st->accept_timeout_s * 1000;
	struct store_account a;
	size_t out_len = 0;
	int pipefd[2], status = 0, r;
	bool done = false;
	pid_t pid = -1;

	if (!st->accept_command[0])
		return 0;
	if (st->rec->account_get(st, account_id, false, &a) < 0)
		a.username[0] = '\0';
	snprintf(env[0], sizeof(env[0]), "FTPSGATE_UPLOAD_ID=%lld", (long long)id);
	snprintf(env[1], sizeof(env[1]), "FTPSGATE_UPLOAD_ACCOUNT=%lld", (long long)account_id);
	snprintf(env[2], sizeof(env[2]), "FTPSGATE_UPLOAD_USERNAME=%s", a.username);
	snprintf(env[3], sizeof(env[3]), "FTPSGATE_UPLOAD_PATH=%s", path);
	snprintf(env[4], sizeof(env[4]), "FTPSGATE_UPLOAD_SIZE=%llu", (unsigned long long)size);
	snprintf(env[5], sizeof(env[5]), "FTPSGATE_UPLOAD_SHA256=%s", sha256);
	if (st->s3) {
		snprintf(env[6], sizeof(env[6]), "FTPSGATE_UPLOAD_OBJECT=");
		store_storage_object_url(st, id, env[6] + strlen(env[6]), sizeof(env[6]) - strlen(env[6]));
	} else {
		snprintf(env[6], sizeof(env[6]), "FTPSGATE_UPLOAD_FILE=%s/uploads/%lld", st->data_dir,
			 (long long)id);
	}
	snprintf(env[7], sizeof(env[7]), "FTPSGATE_NODE_ID=%s", st->node);
	for (size_t i = 0; i < 8; i++)
		envp[i] = env[i];
	envp[8] = path_env;
	envp[9] = NULL;

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(reason, reason_size, "the accept hook could not run: %s", strerror(errno));
		return -EIO;
	}
	r = store_spawn_hook(st->accept_command, argv, envp, -1, pipefd[1], &pid);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		gw_error("upload.accept", "cannot run accept_command '%s': %s", st->accept_command,
			 strerror(r));
		snprintf(reason, reason_size, "the accept hook could not run");
		return -EIO;
	}
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	while (!done) {
		struct pollfd p = { pipefd[0], POLLIN, 0 };
		int left = (int)(deadline - gw_mono_ms());
		ssize_t n;

		if (left <= 0)
			break;
		if (poll(&p, 1, left) < 0 && errno != EINTR)
			break;
		n = read(pipefd[0], out_buf + out_len, out_len < sizeof(out_buf) ? sizeof(out_buf) - out_len
										 : 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
		    out_len == sizeof(out_buf))
			done = true; /* its end of the pipe is closed (or enough said) */
		else if (n > 0)
			out_len += (size_t)n;
	}
	close(pipefd[0]);
	/* its output ended (or its time did): its exit, within the time left */
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (gw_mono_ms() >= deadline) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			gw_warn("upload.accept", "accept_command ran past %u s on upload %lld and was killed",
				st->accept_timeout_s, (long long)id);
			snprintf(reason, reason_size, "the accept hook did not answer within %u s",
				 st->accept_timeout_s);
			return -ETIMEDOUT;
		}
		usleep(10000);
	}
	if (!WIFEXITED(status)) {
		snprintf(reason, reason_size, "the accept hook was killed by signal %d",
			 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		return -EIO;
	}
	if (WEXITSTATUS(status) == 0)
		return 0;
	first_line(out_buf, out_len, line, sizeof(line));
	if (line[0])
		snprintf(reason, reason_size, "%s", line);
	else
		snprintf(reason, reason_size, "refused by the accept hook (exit %d)",
			 WEXITSTATUS(status));
	gw_info("upload.refused_by_hook", "upload %lld '%s' of account %lld refused by accept_command:"
		" %s", (long long)id, path, (long long)account_id, reason);
	return -EPERM;
}
