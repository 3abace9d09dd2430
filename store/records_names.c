/* records_names.c - an account's directories and file names as records
 * (the namespace when bytes live in object storage): table `names`, one
 * row per name, (account, parent directory, name) -> upload id, or a
 * directory. The statements are the same for SQLite and PostgreSQL; a
 * small layer here runs them on either, each operation in one
 * transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "records_names.h"
#include "records_pg.h"
#include "records_sqlite.h"
#include "store_int.h"

/* ---------------------------------------------------------------- the layer */

struct nq {
	struct store *st;
	struct pg_conn *pc; /* PostgreSQL: the transaction's connection */
	bool tx;
};

struct nq_arg {
	const void *p; /* bytes (a name, a path), or NULL: the number i */
	size_t len;
	int64_t i;
};

#define NQ_I(v) ((struct nq_arg){ NULL, 0, (v) })
#define NQ_S(s) ((struct nq_arg){ (s), strlen(s), 0 })

struct nq_row {
	sqlite3_stmt *q;
	PGresult *res;
	int row;
};

typedef void nq_row_fn(void *arg, const struct nq_row *row);

static int64_t nq_i64(const struct nq_row *w, int col)
{
	return w->q ? sqlite3_column_int64(w->q, col) : pg_i64(w->res, w->row, col);
}

static void nq_text(const struct nq_row *w, int col, char *out, size_t size)
{
	if (w->q)
		store_sqlite_text(w->q, col, out, size);
	else
		pg_text(w->res, w->row, col, out, size);
}

/* A BLOB (SQLite) or BYTEA (PostgreSQL) column as a string. */
static void nq_bytes(const struct nq_row *w, int col, char *out, size_t size)
{
	if (w->q) {
		const void *p = sqlite3_column_blob(w->q, col);
		size_t n = (size_t)sqlite3_column_bytes(w->q, col);

		if (n > size - 1)
			n = size - 1;
		if (n)
			memcpy(out, p, n);
		out[n] = '\0';
	} else {
		pg_bytes(w->res, w->row, col, out, size);
	}
}

/* A transaction (write) or a run of reads on one connection. */
static int nq_begin(struct store *st, bool write, struct nq *t)
{
	int r = 0;

	t->st = st;
	t->pc = NULL;
	t->tx = write;
	if (!st->pg) {
		pthread_mutex_lock(&st->lock);
		if (write && (r = store_exec(st, "BEGIN IMMEDIATE")) < 0)
			pthread_mutex_unlock(&st->lock);
		return r;
	}
	r = pg_take(st, &t->pc);
	if (r == 0 && write && (r = pg_exec(st, t->pc, "BEGIN", NULL, NULL, "cannot begin")) < 0)
		pg_give(st, t->pc, true);
	return r;
}

static int nq_end(struct nq *t, int r)
{
	struct store *st = t->st;

	if (!st->pg) {
		if (t->tx && r >= 0)
			r = store_exec(st, "COMMIT");
		if (t->tx && r < 0)
			store_exec(st, "ROLLBACK");
		pthread_mutex_unlock(&st->lock);
		return r;
	}
	if (t->tx && r >= 0)
		r = pg_exec(st, t->pc, "COMMIT", NULL, NULL, "cannot record a change of names");
	pg_give(st, t->pc, r < 0);
	return r;
}

/* Run sql with args $1..$n; fn for each row; *changes: rows changed.
 * SQLite numbers its parameters ?1..?n. */
static int nq_run(struct nq *t, const char *sql, const struct nq_arg *a, int n, nq_row_fn *fn,
		  void *arg, int64_t *changes)
{
	struct nq_row w = { NULL, NULL, 0 };
	int r, i, rc = SQLITE_DONE;

	if (!t->st->pg) {
		char lite[1024];
		size_t k;

		for (k = 0; k < sizeof(lite) - 1 && sql[k]; k++)
			lite[k] = sql[k];
		for (size_t at = 0; at < k; at++)
			if (lite[at] == '$')
				lite[at] = '?';
		lite[k] = '\0';
		if (sql[k])
			GW_BUG("a statement of names longer than %zu", sizeof(lite));
		r = store_prepare(t->st, lite, &w.q);
		for (i = 0; r == 0 && i < n; i++) {
			if (a[i].p)
				sqlite3_bind_blob(w.q, i + 1, a[i].p, (int)a[i].len, SQLITE_TRANSIENT);
			else
				sqlite3_bind_int64(w.q, i + 1, a[i].i);
		}
		while (r == 0 && (rc = sqlite3_step(w.q)) == SQLITE_ROW)
			if (fn)
				fn(arg, &w);
		if (r == 0 && rc != SQLITE_DONE)
			r = store_db_error(t->st, "cannot read or change names");
		if (r == 0 && changes)
			*changes = sqlite3_changes(t->st->db);
		sqlite3_finalize(w.q);
		return r;
	} else {
		struct pg_args pa = { 0 };

		for (i = 0; i < n; i++) {
			if (a[i].p)
				pg_arg_blob(&pa, a[i].p, a[i].len);
			else
				pg_arg_i64(&pa, a[i].i);
		}
		r = pg_exec(t->st, t->pc, sql, &pa, &w.res, "cannot read or change names");
		if (r < 0)
			return r;
		for (w.row = 0; fn && w.row < PQntuples(w.res); w.row++)
			fn(arg, &w);
		if (changes)
			*changes = pg_changes(w.res);
		PQclear(w.res);
		return 0;
	}
}

/* ---------------------------------------------------------------- names */

#define ROW_COLUMNS                                                                          \
	"n.name, COALESCE(n.upload_id, 0), n.mtime_ms, COALESCE(u.state, ''),"               \
	" COALESCE(u.size, u.bytes_received, 0), CASE WHEN u.size IS NULL THEN 0 ELSE 1 END,"  \
	" COALESCE(u.sha256, '')"                                                           \
	" FROM names n LEFT JOIN uploads u ON u.id = n.upload_id"

static void take_row(void *arg, const struct nq_row *w)
{
	struct store_name_row *out = arg;

	nq_bytes(w, 0, out->name, sizeof(out->name));
	out->upload_id = nq_i64(w, 1);
	out->mtime_ms = nq_i64(w, 2);
	nq_text(w, 3, out->state, sizeof(out->state));
	out->size = nq_i64(w, 4);
	out->is_complete = nq_i64(w, 5) != 0;
	nq_text(w, 6, out->sha256, sizeof(out->sha256));
	out->found = true;
}

static int get(struct nq *t, int64_t account, const char *parent, const char *name,
	       struct store_name_row *out)
{
	struct nq_arg a[] = { NQ_I(account), NQ_S(parent), NQ_S(name) };
	int r;

	memset(out, 0, sizeof(*out));
	r = nq_run(t, "SELECT " ROW_COLUMNS " WHERE n.account_id = $1 AND n.parent = $2 AND n.name = $3",
		   a, 3, take_row, out, NULL);
	return r < 0 ? r : out->found ? 0 : -ENOENT;
}

/* Split a normalized path into its directory and last name ("/" for a
 * name at the top). -EINVAL for "/" itself. */
static int split(const char *path, char parent[GW_PATH_MAX + 1], const char **name)
{
	const char *slash = strrchr(path, '/');

	if (!slash || !slash[1] || path[0] != '/')
		return -EINVAL;
	if (slash == path) {
		parent[0] = '/';
		parent[1] = '\0';
	} else {
		memcpy(parent, path, (size_t)(slash - path));
		parent[slash - path] = '\0';
	}
	*name = slash + 1;
	return 0;
}

/* 0 when directory path exists (the top always does). */
static int dir_exists(struct nq *t, int64_t account, const char *path)
{
	char parent[GW_PATH_MAX + 1];
	struct store_name_row row;
	const char *name;
	int r;

	if (!strcmp(path, "/"))
		return 0;
	r = split(path, parent, &name);
	if (r == 0)
		r = get(t, account, parent, name, &row);
	if (r == 0 && row.upload_id)
		r = -ENOTDIR;
	return r;
}

/* A write transaction on the name path (split into parent and name). */
static int begin_at(struct store *st, const char *path, char parent[GW_PATH_MAX + 1],
		    const char **name, struct nq *t)
{
	int r = split(path, parent, name);

	return r < 0 ? r : nq_begin(st, true, t);
}

int store_names_db_get(struct store *st, int64_t account, const char *path,
		       struct store_name_row *out)
{
	char parent[GW_PATH_MAX + 1];
	const char *name;
	struct nq t;
	int r;

	r = split(path, parent, &name);
	if (r < 0)
		return r;
	r = nq_begin(st, false, &t);
	if (r < 0)
		return r;
	return nq_end(&t, get(&t, account, parent, name, out));
}

struct list_page {
	struct store_name_row *rows;
	unsigned n, max;
};

static void take_list_row(void *arg, const struct nq_row *w)
{
	struct list_page *p = arg;

	if (p->n < p->max)
		take_row(&p->rows[p->n++], w);
}

int store_names_db_list(struct store *st, int64_t account, const char *dir, const char *after,
			struct store_name_row *rows, unsigned max, unsigned *n)
{
	struct nq_arg a[] = { NQ_I(account), NQ_S(dir), NQ_S(after), NQ_I(max) };
	struct list_page p = { rows, 0, max };
	struct nq t;
	int r;

	r = nq_begin(st, false, &t);
	if (r < 0)
		return r;
	r = nq_run(&t,
		   "SELECT " ROW_COLUMNS " WHERE n.account_id = $1 AND n.parent = $2 AND n.name > $3"
		   " ORDER BY n.name LIMIT $4",
		   a, 4, take_list_row, &p, NULL);
	*n = p.n;
	return nq_end(&t, r);
}

int store_names_db_put(struct store *st, int64_t account, const char *path, int64_t upload_id,
		       int64_t now_ms, int64_t *prev)
{
	char parent[GW_PATH_MAX + 1];
	struct store_name_row row;
	const char *name;
	struct nq t;
	int r;

	r = begin_at(st, path, parent, &name, &t);
	if (r < 0)
		return r;
	r = dir_exists(&t, account, parent);
	if (r == 0) {
		r = get(&t, account, parent, name, &row);
		if (r == 0 && (!row.upload_id || !upload_id))
			r = row.upload_id ? -EEXIST : upload_id ? -EISDIR : -EEXIST;
		else if (r == -ENOENT)
			r = 0;
	}
	if (r == 0) {
		struct nq_arg a[] = { NQ_I(account), NQ_S(parent), NQ_S(name), NQ_I(now_ms),
				      NQ_I(upload_id) };

		*prev = row.upload_id;
		if (upload_id)
			r = nq_run(&t,
				   "INSERT INTO names(account_id, parent, name, mtime_ms, upload_id)"
				   " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, parent, name)"
				   " DO UPDATE SET upload_id = excluded.upload_id,"
				   " mtime_ms = excluded.mtime_ms",
				   a, 5, NULL, NULL, NULL);
		else
			r = nq_run(&t,
				   "INSERT INTO names(account_id, parent, name, mtime_ms)"
				   " VALUES ($1, $2, $3, $4)",
				   a, 4, NULL, NULL, NULL);
	}
	return nq_end(&t, r);
}

int store_names_db_unput(struct store *st, int64_t account, const char *path, int64_t upload_id,
			 int64_t prev_id)
{
	char parent[GW_PATH_MAX + 1];
	struct store_name_row row;
	const char *name;
	struct nq t;
	int r;

	r = begin_at(st, path, parent, &name, &t);
	if (r < 0)
		return r;
	r = get(&t, account, parent, name, &row);
	if (r == 0 && row.upload_id == upload_id) {
		struct nq_arg a[] = { NQ_I(account), NQ_S(parent), NQ_S(name), NQ_I(prev_id) };

		/* what the name showed before comes back, if its bytes are kept */
		r = nq_run(&t,
			   "UPDATE names SET upload_id = $4 WHERE account_id = $1 AND parent = $2"
			   " AND name = $3 AND EXISTS (SELECT 1 FROM uploads WHERE id = $4"
			   " AND purged_at IS NULL)",
			   a, 4, NULL, NULL, NULL);
		if (r == 0)
			r = nq_run(&t,
				   "DELETE FROM names WHERE account_id = $1 AND parent = $2 AND name = $3"
				   " AND upload_id != $4",
				   a, 4, NULL, NULL, NULL);
	} else if (r == -ENOENT || r == 0) {
		r = 0; /* someone else's name by now */
	}
	return nq_end(&t, r);
}

int store_names_db_remove(struct store *st, int64_t account, const char *path, bool dir)
{
	char parent[GW_PATH_MAX + 1];
	struct store_name_row row, child;
	const char *name;
	struct nq t;
	int r;

	r = begin_at(st, path, parent, &name, &t);
	if (r < 0)
		return r;
	r = get(&t, account, parent, name, &row);
	if (r == 0 && dir != !row.upload_id)
		r = dir ? -ENOTDIR : -EISDIR;
	if (r == 0 && dir) {
		struct nq_arg a[] = { NQ_I(account), NQ_S(path) };

		memset(&child, 0, sizeof(child));
		r = nq_run(&t, "SELECT " ROW_COLUMNS " WHERE n.account_id = $1 AND n.parent = $2 LIMIT 1",
			   a, 2, take_row, &child, NULL);
		if (r == 0 && child.found)
			r = -ENOTEMPTY;
	}
	if (r == 0) {
		struct nq_arg a[] = { NQ_I(account), NQ_S(parent), NQ_S(name) };

		r = nq_run(&t, "DELETE FROM names WHERE account_id = $1 AND parent = $2 AND name = $3",
			   a, 3, NULL, NULL, NULL);
	}
	return nq_end(&t, r);
}

/* The directories at or below `from` (their paths as parents of rows). */
struct subdirs {
	char (*paths)[GW_PATH_MAX + 1];
	unsigned n, cap;
	bool overflow;
};

static void take_subdir(void *arg, const struct nq_row *w)
{
	struct subdirs *s = arg;

	if (s->n == s->cap) {
		unsigned cap = s->cap ? s->cap * 2 : 16;
		void *p = cap <= GW_NAMES_SUBDIRS_MAX ? realloc(s->paths, cap * sizeof(*s->paths)) : NULL;

		if (!p) {
			s->overflow = true;
			return;
		}
		s->paths = p;
		s->cap = cap;
	}
	nq_bytes(w, 0, s->paths[s->n], sizeof(s->paths[s->n]));
	s->n++;
}

/* Every row under directory from moves under to. */
static int move_subtree(struct nq *t, int64_t account, const char *from, const char *to)
{
	char slash[GW_PATH_MAX + 2] = "";
	size_t len = strlen(from);
	struct subdirs s = { NULL, 0, 0, false };
	struct nq_arg a[] = { NQ_I(account), NQ_S(from), NQ_I(0), NQ_I((int64_t)len + 1) };
	unsigned i;
	int r;

	snprintf(slash, sizeof(slash), "%s/", from);
	a[2] = NQ_S(slash);
	r = nq_run(t,
		   "SELECT DISTINCT parent FROM names WHERE account_id = $1 AND (parent = $2"
		   " OR substr(parent, 1, $4) = $3)",
		   a, 4, take_subdir, &s, NULL);
	if (r == 0 && s.overflow)
		r = -ENOMEM;
	for (i = 0; r == 0 && i < s.n; i++) {
		char moved[GW_PATH_MAX + 1] = "";
		struct nq_arg b[] = { NQ_I(account), NQ_S(s.paths[i]), NQ_I(0) };

		if ((size_t)snprintf(moved, sizeof(moved), "%s%s", to, s.paths[i] + len) >=
		    sizeof(moved)) {
			r = -ENAMETOOLONG;
			break;
		}
		b[2] = NQ_S(moved);
		r = nq_run(t, "UPDATE names SET parent = $3 WHERE account_id = $1 AND parent = $2", b,
			   3, NULL, NULL, NULL);
	}
	free(s.paths);
	return r;
}

int store_names_db_rename(struct store *st, int64_t account, const char *from, const char *to)
{
	char fp[GW_PATH_MAX + 1], tp[GW_PATH_MAX + 1];
	struct store_name_row row, there;
	const char *fn, *tn;
	size_t flen = strlen(from);
	struct nq t;
	int r;

	r = split(from, fp, &fn);
	if (r == 0)
		r = split(to, tp, &tn);
	if (r < 0)
		return r;
	if (!strcmp(from, to))
		return 0;
	r = nq_begin(st, true, &t);
	if (r < 0)
		return r;
	r = get(&t, account, fp, fn, &row);
	if (r == 0)
		r = dir_exists(&t, account, tp);
	if (r == 0 && !row.upload_id && !strncmp(to, from, flen) && to[flen] == '/')
		r = -EINVAL; /* a directory into itself */
	if (r == 0) {
		r = get(&t, account, tp, tn, &there);
		if (r == -ENOENT)
			r = 0;
		else if (r == 0 && (!row.upload_id || !there.upload_id))
			r = !there.upload_id ? -EISDIR : -ENOTDIR;
	}
	if (r == 0 && there.found) {
		struct nq_arg a[] = { NQ_I(account), NQ_S(tp), NQ_S(tn) };

		r = nq_run(&t, "DELETE FROM names WHERE account_id = $1 AND parent = $2 AND name = $3",
			   a, 3, NULL, NULL, NULL);
	}
	if (r == 0) {
		struct nq_arg a[] = { NQ_I(account), NQ_S(fp), NQ_S(fn), NQ_S(tp), NQ_S(tn) };

		r = nq_run(&t,
			   "UPDATE names SET parent = $4, name = $5 WHERE account_id = $1"
			   " AND parent = $2 AND name = $3",
			   a, 5, NULL, NULL, NULL);
	}
	if (r == 0 && !row.upload_id)
		r = move_subtree(&t, account, from, to);
	return nq_end(&t, r);
}

int store_names_db_touch(struct store *st, int64_t account, const char *path, int64_t mtime_ms,
			 int64_t *upload_id)
{
	char parent[GW_PATH_MAX + 1];
	struct store_name_row row;
	const char *name;
	int64_t changed = 0;
	struct nq t;
	int r;

	r = begin_at(st, path, parent, &name, &t);
	if (r < 0)
		return r;
	r = get(&t, account, parent, name, &row);
	if (r == 0 && !row.upload_id)
		r = -EISDIR;
	if (r == 0) {
		struct nq_arg a[] = { NQ_I(account), NQ_S(parent), NQ_S(name), NQ_I(mtime_ms) };

		r = nq_run(&t,
			   "UPDATE names SET mtime_ms = $4 WHERE account_id = $1 AND parent = $2"
			   " AND name = $3",
			   a, 4, NULL, NULL, &changed);
		*upload_id = row.upload_id;
	}
	return nq_end(&t, r);
}

int store_names_db_forget(struct store *st, int64_t upload_id)
{
	struct nq_arg a[] = { NQ_I(upload_id) };
	struct nq t;
	int r;

	r = nq_begin(st, true, &t);
	if (r < 0)
		return r;
	r = nq_run(&t, "DELETE FROM names WHERE upload_id = $1", a, 1, NULL, NULL, NULL);
	return nq_end(&t, r);
}
