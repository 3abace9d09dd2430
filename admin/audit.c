/* audit.c - the audit log of changes made through the API.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

static int fetch_audit(struct ctx *x, const void *arg, int64_t cursor, unsigned limit,
		       void *items, unsigned *n, bool *more)
{
	return store_audit_list(x->store, cursor, (int64_t)*(const uint64_t *)arg, limit, items, n, more);
}

static json_t *audit_item(struct ctx *x, const void *item)
{
	const struct store_audit *a = item;

	(void)x;
	return json_pack("{s:I, s:o, s:o, s:s, s:s, s:s, s:s, s:i, s:s, s:o}", "id", (json_int_t)a->id,
			 "at", admin_time_or_null(a->at_ms),
			 "token_id", a->token_id ? json_integer(a->token_id) : json_null(),
			 "token_name", a->token_name, "client_address", a->client_address,
			 "method", a->method, "path", a->path, "status", a->status, "detail", a->detail,
			 "account_id", a->account_id ? json_integer(a->account_id) : json_null());
}

static int64_t audit_id(const void *a)
{
	return ((const struct store_audit *)a)->id;
}

struct reply admin_list_audit(struct ctx *x)
{
	static const struct admin_lister l = { "the audit log", sizeof(struct store_audit), fetch_audit,
					 audit_item, audit_id, NULL };
	uint64_t account;

	/* ?account_id=N: the changes made to that account and its uploads */
	if (admin_query_int(x, "account_id", 1, INT64_MAX, 0, &account) < 0)
		return admin_problem(400, "invalid account_id: expected a positive integer");
	return admin_list_with(x, &l, &account);
}

