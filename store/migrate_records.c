/* migrate_records.c - moving a deployment's records from SQLite to
 * PostgreSQL (`ftpsgate migrate-records`): every account, key, token,
 * audit entry and upload record (and the parts of uploads in object
 * storage), byte for byte and with its id, in one
 * transaction, into a PostgreSQL database that holds no records yet.
 *
 * Both ends are opened as the gateway opens them (so each schema is at
 * this binary's version and the SQLite side's interrupted uploads are set
 * right first); then each table is copied column by column by name: a
 * column PostgreSQL keeps as BYTEA (paths, errors, sealed keys) travels
 * as bytes, the others as text. The uploads become the given node's, so
 * that node's next start recovers any still 'receiving'. The gateway must
 * be stopped meanwhile; the SQLite file is only read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "records_pg.h"
#include "records_sqlite.h"
#include "store_int.h"

/* In the order their references need, each with the order its rows are
 * read in and whether new rows take ids from a sequence. Events are not
 * moved: they are the live feed, not records. */
static const struct {
	const char *name;
	const char *order;
	bool has_id;
} tables[] = {
	{ "accounts", "id", true },
	{ "keys", "id", true },
	{ "admin_tokens", "id", true },
	{ "audit", "id", true },
	{ "uploads", "id", true },
	{ "upload_parts", "upload_id, number", false }, /* object storage's journal */
	{ "names", "account_id, parent, name", false }, /* names kept as records */
};

_Static_assert(sizeof(tables) / sizeof(tables[0]) == STORE_MIGRATE_TABLES,
	       "store.h counts the tables copied");

#define COLUMNS_MAX PG_ARGS_MAX

struct column {
	char name[64];
	bool bytea;
};

/* The table's columns in PostgreSQL and whether each is BYTEA. */
static int pg_columns(struct store *pg, struct pg_conn *c, const char *table,
		      struct column *cols, unsigned *n, char *err, size_t err_size)
{
	struct pg_args a = { 0 };
	PGresult *res = NULL;
	int r, i, rows;

	pg_arg_text(&a, table);
	r = pg_exec(pg, c, "SELECT column_name, data_type FROM information_schema.columns"
			   " WHERE table_schema = current_schema() AND table_name = $1",
		    &a, &res, "cannot read the PostgreSQL schema");
	if (r < 0) {
		snprintf(err, err_size, "cannot read the columns of '%s' in PostgreSQL", table);
		return r;
	}
	rows = PQntuples(res);
	if (rows > COLUMNS_MAX) {
		PQclear(res);
		snprintf(err, err_size, "table '%s' has more columns than this tool copies", table);
		return -E2BIG;
	}
	for (i = 0; i < rows; i++) {
		pg_text(res, i, 0, cols[i].name, sizeof(cols[i].name));
		cols[i].bytea = !strcmp(PQgetvalue(res, i, 1), "bytea");
	}
	*n = (unsigned)rows;
	PQclear(res);
	return 0;
}

static const struct column *find_column(const struct column *cols, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(cols[i].name, name))
			return &cols[i];
	return NULL;
}

/* Copy table t's rows; *copied counts them. */
static int copy_table(struct store *lite, struct store *pg, struct pg_conn *c, size_t t,
		      int64_t *copied, char *err, size_t err_size)
{
	const char *table = tables[t].name;
	struct column pcols[COLUMNS_MAX];
	const struct column *to[COLUMNS_MAX];
	bool is_uploads = !strcmp(table, "uploads");
	unsigned n_pcols = 0, n, i;
	struct gw_buf sql;
	sqlite3_stmt *q = NULL;
	char select[96];
	int r, step;

	memset(pcols, 0, sizeof(pcols));
	r = pg_columns(pg, c, table, pcols, &n_pcols, err, err_size);
	if (r < 0)
		return r;
	snprintf(select, sizeof(select), "SELECT * FROM %s ORDER BY %s", table, tables[t].order);
	r = store_prepare(lite, select, &q);
	if (r < 0) {
		snprintf(err, err_size, "cannot read table '%s' of the SQLite database", table);
		return r;
	}
	n = (unsigned)sqlite3_column_count(q);
	gw_buf_init(&sql, 8192);
	if (n + (is_uploads ? 1 : 0) > COLUMNS_MAX) {
		snprintf(err, err_size, "table '%s' has more columns than this tool copies", table);
		r = -E2BIG;
		goto out;
	}
	gw_buf_addf(&sql, "INSERT INTO %s (", table);
	for (i = 0; i < n; i++) {
		const char *name = sqlite3_column_name(q, (int)i);

		to[i] = find_column(pcols, n_pcols, name);
		if (!to[i] || (is_uploads && !strcmp(name, "node"))) {
			snprintf(err, err_size, "column '%s' of table '%s' has no place in the"
				 " PostgreSQL schema: is this binary older than the SQLite database?",
				 name, table);
			r = -EPROTO;
			goto out;
		}
		gw_buf_addf(&sql, "%s%s", i ? ", " : "", name);
	}
	gw_buf_adds(&sql, is_uploads ? ", node) VALUES (" : ") VALUES (");
	for (i = 0; i < n + (is_uploads ? 1 : 0); i++)
		gw_buf_addf(&sql, "%s$%u", i ? ", " : "", i + 1);
	gw_buf_adds(&sql, ")");
	if (!sql.data) {
		r = -ENOMEM;
		goto out;
	}
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		struct pg_args a = { 0 };

		for (i = 0; i < n; i++) {
			int type = sqlite3_column_type(q, (int)i);

			if (type == SQLITE_NULL)
				pg_arg_text(&a, NULL);
			else if (to[i]->bytea)
				pg_arg_blob(&a, type == SQLITE_BLOB ? sqlite3_column_blob(q, (int)i)
								    : (const void *)sqlite3_column_text(q, (int)i),
					    (size_t)sqlite3_column_bytes(q, (int)i));
			else
				pg_arg_text(&a, (const char *)sqlite3_column_text(q, (int)i));
		}
		if (is_uploads)
			pg_arg_text(&a, pg->node);
		r = pg_exec(pg, c, sql.data, &a, NULL, "cannot copy a record");
		if (r < 0) {
			snprintf(err, err_size, "cannot copy record %lld of table '%s' (the log says why)",
				 (long long)sqlite3_column_int64(q, 0), table);
			goto out;
		}
		(*copied)++;
	}
	if (step != SQLITE_DONE) {
		r = store_db_error(lite, "cannot read the SQLite database");
		snprintf(err, err_size, "cannot read table '%s' of the SQLite database", table);
		goto out;
	}
	/* new records continue after the copied ids */
	if (!tables[t].has_id)
		goto out;
	gw_buf_reset(&sql);
	gw_buf_addf(&sql, "SELECT setval(pg_get_serial_sequence('%s', 'id'),"
			  " COALESCE(max(id), 0) + 1, false) FROM %s", table, table);
	r = sql.data ? pg_exec(pg, c, sql.data, NULL, NULL, "cannot move an id sequence") : -ENOMEM;
	if (r < 0)
		snprintf(err, err_size, "cannot continue the ids of table '%s'", table);
out:
	gw_buf_release(&sql);
	sqlite3_finalize(q);
	return r;
}

/* Nothing there yet: a copy never mixes with records made elsewhere. */
static int check_empty(struct store *pg, struct pg_conn *c, char *err, size_t err_size)
{
	PGresult *res = NULL;
	int64_t held;
	int r = pg_exec(pg, c, "SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM keys)"
			       " + (SELECT count(*) FROM admin_tokens) + (SELECT count(*) FROM audit)"
			       " + (SELECT count(*) FROM uploads)",
			NULL, &res, "cannot count records");

	if (r < 0) {
		snprintf(err, err_size, "cannot read the PostgreSQL database");
		return r;
	}
	held = pg_i64(res, 0, 0);
	PQclear(res);
	if (held) {
		snprintf(err, err_size, "the PostgreSQL database already holds %lld records: move"
			 " into a database no gateway has used yet", (long long)held);
		return -EEXIST;
	}
	return 0;
}

int store_migrate_records(const struct store_params *p, const char *to_url,
			  int64_t copied[STORE_MIGRATE_TABLES], char *err, size_t err_size)
{
	struct store_params from = *p, to = *p;
	struct store *lite = NULL, *pg = NULL;
	struct pg_conn *c = NULL;
	size_t i;
	int r;

	if (!to_url || (strncmp(to_url, "postgresql://", 13) && strncmp(to_url, "postgres://", 11))) {
		snprintf(err, err_size, "--to must be a 'postgresql://' URL");
		return -EINVAL;
	}
	from.database_url = "sqlite:";
	to.database_url = to_url;
	memset(copied, 0, STORE_MIGRATE_TABLES * sizeof(copied[0]));
	r = store_open(&from, &lite, err, err_size);
	if (r < 0)
		return r;
	r = store_open(&to, &pg, err, err_size);
	if (r < 0)
		goto out;
	r = pg_take(pg, &c);
	if (r < 0) {
		snprintf(err, err_size, "cannot reach the PostgreSQL database");
		goto out;
	}
	r = pg_exec(pg, c, "BEGIN", NULL, NULL, "cannot begin");
	if (r == 0)
		r = check_empty(pg, c, err, err_size);
	for (i = 0; r == 0 && i < GW_ARRAY_SIZE(tables); i++)
		r = copy_table(lite, pg, c, i, &copied[i], err, err_size);
	if (r == 0 && (r = pg_exec(pg, c, "COMMIT", NULL, NULL, "cannot commit the copy")) < 0)
		snprintf(err, err_size, "cannot commit the copy");
	pg_give(pg, c, true); /* ROLLBACK when it did not commit */
out:
	store_close(pg);
	store_close(lite);
	return r;
}

const char *store_migrate_table_name(size_t i)
{
	return i < GW_ARRAY_SIZE(tables) ? tables[i].name : NULL;
}
