/* tokens.c - admin tokens: create (the secret shown once), list, read, revoke.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

static json_t *token_json(const struct store_token *t, const char *secret)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:o, s:o, s:o}", "id", (json_int_t)t->id,
			      "name", t->name, "scope", t->scope,
			      "created_at", admin_time_or_null(t->created_at_ms),
			      "last_used_at", admin_time_or_null(t->last_used_at_ms),
			      "revoked_at", admin_time_or_null(t->revoked_at_ms));

	if (o && secret)
		json_object_set_new(o, "token", json_string(secret));
	return o;
}

static bool token_name_is_valid(const char *name)
{
	size_t n = strlen(name), i;

	if (n == 0 || n > 64)
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

struct reply admin_create_token(struct ctx *x)
{
	static const struct admin_field fields[] = {
		{ "name", "string", false },
		{ "scope", "string", false },
	};
	char secret[STORE_TOKEN_LEN + 1];
	const char *name, *scope;
	struct store_token t;
	struct reply err;
	json_t *body;
	int rc;

	if (admin_parse_body(x, &body, &err) < 0)
		return err;
	if (admin_check_fields(body, fields, GW_ARRAY_SIZE(fields), &err) < 0) {
		json_decref(body);
		return err;
	}
	name = json_string_value(json_object_get(body, "name"));
	scope = json_string_value(json_object_get(body, "scope"));
	if (!scope)
		scope = "read";
	if (!name || !token_name_is_valid(name)) {
		json_decref(body);
		return admin_problem(400, "invalid name: 1 to 64 letters, digits, '.', '_' or '-'");
	}
	if (strcmp(scope, "admin") && strcmp(scope, "read")) {
		json_decref(body);
		return admin_problem(400, "invalid scope: expected admin or read");
	}
	rc = store_token_create(x->store, name, scope, &t, secret);
	json_decref(body);
	if (rc == -EEXIST)
		return admin_problem(409, "a token with this name exists");
	if (rc < 0)
		return admin_problem(500, "cannot create the token");
	snprintf(x->detail, sizeof(x->detail), "token %lld (%s, %s) created", (long long)t.id,
		 t.name, t.scope);
	err = admin_ok(201, token_json(&t, secret));
	explicit_bzero(secret, sizeof(secret));
	return err;
}

static int fetch_tokens(struct ctx *x, const void *arg, int64_t cursor, unsigned limit,
			void *items, unsigned *n, bool *more)
{
	(void)arg;
	return store_token_list(x->store, cursor, limit, items, n, more);
}

static json_t *token_item(struct ctx *x, const void *t)
{
	(void)x;
	return token_json(t, NULL);
}

static int64_t token_id(const void *t)
{
	return ((const struct store_token *)t)->id;
}

struct reply admin_list_tokens(struct ctx *x)
{
	static const struct admin_lister l = { "tokens", sizeof(struct store_token), fetch_tokens,
					 token_item, token_id, NULL };

	return admin_list_with(x, &l, NULL);
}

static struct reply token_reply(struct ctx *x, int rc, const struct store_token *t)
{
	if (rc == -ENOENT)
		return admin_problem(404, "no token with id %lld", (long long)x->ids[0]);
	if (rc < 0)
		return admin_problem(500, "cannot read the token");
	return admin_ok(200, token_json(t, NULL));
}

struct reply admin_get_token(struct ctx *x)
{
	struct store_token t;

	return token_reply(x, store_token_get(x->store, x->ids[0], &t), &t);
}

struct reply admin_revoke_token(struct ctx *x)
{
	struct store_token t;
	struct reply err;
	int rc;

	if (admin_no_fields(x, &err) < 0)
		return err;
	rc = store_token_revoke(x->store, x->ids[0], &t);

	if (rc == 0)
		snprintf(x->detail, sizeof(x->detail), "token %lld (%s) revoked", (long long)t.id,
			 t.name);
	return token_reply(x, rc, &t);
}

