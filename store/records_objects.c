/* records_objects.c - the object-storage backend's journal (store_bytes.h)
 * in the records store: an upload's multipart upload in its record, its
 * confirmed parts in upload_parts; SQLite and PostgreSQL side by side,
 * statement for statement, and the journal that store.c hands the S3
 * backend.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "records_pg.h"
#include "records_sqlite.h"
#include "store_int.h"

/* ---------------------------------------------------------------- SQLite */

static int sqlite_write(struct store *st, const char *sql, int64_t id, const char *text,
			const struct store_bytes_part *part, const char *what)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, sql, &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, id);
		if (text)
			sqlite3_bind_text(q, 2, text, -1, SQLITE_TRANSIENT);
		if (part) {
			sqlite3_bind_int(q, 2, (int)part->number);
			sqlite3_bind_int64(q, 3, (int64_t)part->size);
			sqlite3_bind_text(q, 4, part->etag, -1, SQLITE_TRANSIENT);
			if (part->state)
				sqlite3_bind_blob(q, 5, part->state, (int)part->state_len,
						  SQLITE_TRANSIENT);
		}
		if (sqlite3_step(q) != SQLITE_DONE)
			r = store_db_error(st, what);
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_object_begun(struct store *st, int64_t id, const char *upload_id)
{
	int r = sqlite_write(st, "UPDATE uploads SET object_upload = ?2 WHERE id = ?1", id,
			     upload_id, NULL, "cannot record the upload's multipart upload");

	if (r == 0)
		r = sqlite_write(st, "DELETE FROM upload_parts WHERE upload_id = ?1", id, NULL,
				 NULL, "cannot record the upload's multipart upload");
	return r;
}

int store_sqlite_object_part(struct store *st, int64_t id, const struct store_bytes_part *part)
{
	int r = sqlite_write(st,
			     "INSERT INTO upload_parts(upload_id, number, size, etag, state)"
			     " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (upload_id, number)"
			     " DO UPDATE SET size = excluded.size, etag = excluded.etag,"
			     " state = excluded.state",
			     id, NULL, part, "cannot record a part of the upload");

	/* a resume goes on from the last part without a gap: states well
	 * before this one are not needed again */
	if (r == 0 && part->number > STORE_PART_STATES_KEPT)
		sqlite_write(st,
			     "UPDATE upload_parts SET state = NULL WHERE upload_id = ?1"
			     " AND number < ?2 - " GW_STR(STORE_PART_STATES_KEPT) " AND state IS NOT NULL",
			     id, NULL, &(struct store_bytes_part){ .number = part->number },
			     "cannot record a part of the upload");
	return r;
}

int store_sqlite_object_trim(struct store *st, int64_t id, unsigned number)
{
	return sqlite_write(st, "DELETE FROM upload_parts WHERE upload_id = ?1 AND number > ?2",
			    id, NULL, &(struct store_bytes_part){ .number = number },
			    "cannot forget parts of the upload");
}

int store_sqlite_object_state(struct store *st, int64_t id, unsigned number, void *state,
			      size_t cap, size_t *len)
{
	sqlite3_stmt *q = NULL;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT state FROM upload_parts WHERE upload_id = ?1 AND number = ?2",
			  &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, id);
		sqlite3_bind_int64(q, 2, number);
		if (sqlite3_step(q) != SQLITE_ROW || sqlite3_column_type(q, 0) == SQLITE_NULL) {
			r = -ENOENT;
		} else {
			size_t n = (size_t)sqlite3_column_bytes(q, 0);

			if (n > cap) {
				r = -EMSGSIZE;
			} else {
				memcpy(state, sqlite3_column_blob(q, 0), n);
				*len = n;
			}
		}
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	return r;
}

int store_sqlite_object_load(struct store *st, int64_t id, char *upload_id, size_t upload_id_size,
			     struct store_bytes_part *parts, unsigned max, unsigned *n)
{
	sqlite3_stmt *q = NULL;
	unsigned count = 0;
	int r;

	pthread_mutex_lock(&st->lock);
	r = store_prepare(st, "SELECT object_upload FROM uploads WHERE id = ?1", &q);
	if (r == 0) {
		sqlite3_bind_int64(q, 1, id);
		if (sqlite3_step(q) != SQLITE_ROW || sqlite3_column_type(q, 0) == SQLITE_NULL)
			r = -ENOENT;
		else
			store_sqlite_text(q, 0, upload_id, upload_id_size);
	}
	sqlite3_finalize(q);
	q = NULL;
	if (r == 0 && max)
		r = store_prepare(st,
				  "SELECT number, size, etag FROM upload_parts WHERE upload_id = ?1"
				  " ORDER BY number LIMIT ?2",
				  &q);
	if (r == 0 && q) {
		sqlite3_bind_int64(q, 1, id);
		sqlite3_bind_int64(q, 2, max);
		while (sqlite3_step(q) == SQLITE_ROW && count < max) {
			parts[count].number = (unsigned)sqlite3_column_int(q, 0);
			parts[count].size = (uint64_t)sqlite3_column_int64(q, 1);
			store_sqlite_text(q, 2, parts[count].etag, sizeof(parts[count].etag));
			count++;
		}
	}
	sqlite3_finalize(q);
	pthread_mutex_unlock(&st->lock);
	*n = count;
	return r;
}

/* ---------------------------------------------------------------- PostgreSQL */

int store_pg_object_begun(struct store *st, int64_t id, const char *upload_id)
{
	struct pg_args a = {0};
	PGresult *res = NULL;
	int r;

	/* one statement: the record names its multipart upload and has no
	 * parts of an earlier one */
	pg_arg_i64(&a, id);
	pg_arg_text(&a, upload_id);
	r = pg_run(st,
		   "WITH gone AS (DELETE FROM upload_parts WHERE upload_id = $1::bigint)"
		   " UPDATE uploads SET object_upload = $2 WHERE id = $1::bigint",
		   &a, &res, "cannot record the upload's multipart upload");
	PQclear(res);
	return r;
}

int store_pg_object_part(struct store *st, int64_t id, const struct store_bytes_part *part)
{
	struct pg_args a = {0};
	PGresult *res = NULL;
	int r;

	pg_arg_i64(&a, id);
	pg_arg_i64(&a, part->number);
	pg_arg_i64(&a, (int64_t)part->size);
	pg_arg_text(&a, part->etag);
	if (part->state)
		pg_arg_blob(&a, part->state, part->state_len);
	else
		pg_arg_text(&a, NULL);
	/* a resume goes on from the last part without a gap: states well
	 * before this one are not needed again */
	r = pg_run(st,
		   "WITH old AS (UPDATE upload_parts SET state = NULL WHERE upload_id = $1::bigint"
		   " AND number < $2::int - " GW_STR(STORE_PART_STATES_KEPT) " AND state IS NOT NULL)"
		   " INSERT INTO upload_parts(upload_id, number, size, etag, state)"
		   " VALUES ($1::bigint, $2::int, $3::bigint, $4, $5::bytea)"
		   " ON CONFLICT (upload_id, number) DO UPDATE SET size = EXCLUDED.size,"
		   " etag = EXCLUDED.etag, state = EXCLUDED.state",
		   &a, &res, "cannot record a part of the upload");
	PQclear(res);
	return r;
}

int store_pg_object_trim(struct store *st, int64_t id, unsigned number)
{
	struct pg_args a = {0};
	PGresult *res = NULL;
	int r;

	pg_arg_i64(&a, id);
	pg_arg_i64(&a, number);
	r = pg_run(st, "DELETE FROM upload_parts WHERE upload_id = $1::bigint AND number > $2::int",
		   &a, &res, "cannot forget parts of the upload");
	PQclear(res);
	return r;
}

int store_pg_object_state(struct store *st, int64_t id, unsigned number, void *state, size_t cap,
			  size_t *len)
{
	struct pg_args a = {0};
	PGresult *res = NULL;
	size_t n = 0;
	unsigned char *raw;
	int r;

	pg_arg_i64(&a, id);
	pg_arg_i64(&a, number);
	r = pg_run(st,
		   "SELECT state FROM upload_parts WHERE upload_id = $1::bigint AND number = $2::int",
		   &a, &res, "cannot read the state of the upload's part");
	if (r < 0)
		return r;
	if (PQntuples(res) != 1 || pg_null(res, 0, 0)) {
		PQclear(res);
		return -ENOENT;
	}
	raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0), &n);
	PQclear(res);
	if (!raw)
		return -ENOMEM;
	if (n > cap) {
		r = -EMSGSIZE;
	} else {
		memcpy(state, raw, n);
		*len = n;
	}
	PQfreemem(raw);
	return r;
}

int store_pg_object_load(struct store *st, int64_t id, char *upload_id, size_t upload_id_size,
			 struct store_bytes_part *parts, unsigned max, unsigned *n)
{
	struct pg_args a = {0};
	PGresult *res = NULL;
	int r, i, rows;

	*n = 0;
	pg_arg_i64(&a, id);
	r = pg_run(st, "SELECT object_upload FROM uploads WHERE id = $1::bigint", &a, &res,
		   "cannot read the upload's multipart upload");
	if (r < 0)
		return r;
	if (PQntuples(res) != 1 || pg_null(res, 0, 0))
		r = -ENOENT;
	else
		pg_text(res, 0, 0, upload_id, upload_id_size);
	PQclear(res);
	if (r < 0 || !max)
		return r;
	pg_arg_i64(&a, max);
	r = pg_run(st,
		   "SELECT number, size, etag FROM upload_parts WHERE upload_id = $1::bigint"
		   " ORDER BY number LIMIT $2::bigint",
		   &a, &res, "cannot read the upload's parts");
	if (r < 0)
		return r;
	rows = PQntuples(res);
	for (i = 0; i < rows && (unsigned)i < max; i++) {
		parts[i].number = (unsigned)pg_i64(res, i, 0);
		parts[i].size = (uint64_t)pg_i64(res, i, 1);
		pg_text(res, i, 2, parts[i].etag, sizeof(parts[i].etag));
	}
	*n = (unsigned)i;
	PQclear(res);
	return 0;
}

/* ---------------------------------------------------------------- the journal */

static int journal_begun(void *arg, int64_t id, const char *upload_id)
{
	struct store *st = arg;

	return st->rec->object_begun(st, id, upload_id);
}

static int journal_confirmed(void *arg, int64_t id, const struct store_bytes_part *part)
{
	struct store *st = arg;

	return st->rec->object_part(st, id, part);
}

static int journal_load(void *arg, int64_t id, char *upload_id, size_t upload_id_size,
			struct store_bytes_part *parts, unsigned max, unsigned *n)
{
	struct store *st = arg;

	return st->rec->object_load(st, id, upload_id, upload_id_size, parts, max, n);
}

static int journal_trim(void *arg, int64_t id, unsigned number)
{
	struct store *st = arg;

	return st->rec->object_trim(st, id, number);
}

void store_bytes_journal_init(struct store *st, struct store_bytes_journal *j)
{
	j->arg = st;
	j->trim = journal_trim;
	j->begun = journal_begun;
	j->confirmed = journal_confirmed;
	j->load = journal_load;
}
