/* session.c - the console's sign-in: an admin token exchanged for a
 * session cookie (HttpOnly, Secure, SameSite=Strict), and the CSRF token
 * every change made with that cookie must carry.
 *
 * Sessions live in this node's memory, at most SESSIONS_MAX: the token
 * itself is never kept, only its id, looked up on every request so that a
 * revoked token ends its sessions at once. A session ends an hour after
 * its last request, 12 hours after sign-in, at sign-out, or when the
 * gateway restarts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin_int.h"

/* Compare two secrets of SESSION_SECRET_LEN in constant time. */
static bool same_secret(const char *a, const char *b)
{
	unsigned char d = 0;
	size_t i;

	if (strlen(b) != SESSION_SECRET_LEN)
		return false;
	for (i = 0; i < SESSION_SECRET_LEN; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static bool expired(const struct console_session *s, int64_t mono)
{
	return mono - s->used_ms >= SESSION_IDLE_MS || mono - s->started_ms >= SESSION_LIFE_MS;
}

/* The slot holding cookie, or NULL (an ended session is freed). Called
 * with session_lock held. */
static struct console_session *find_locked(struct admin_server *srv, const char *cookie,
					   int64_t mono)
{
	struct console_session *found = NULL;
	size_t i;

	/* every slot, so the time taken does not depend on which matched */
	for (i = 0; i < SESSIONS_MAX; i++)
		if (srv->sessions[i].id[0] && same_secret(srv->sessions[i].id, cookie))
			found = &srv->sessions[i];
	if (found && expired(found, mono)) {
		explicit_bzero(found, sizeof(*found));
		found = NULL;
	}
	return found;
}

/* The request's origin is this server's: no Origin header (curl, a
 * same-origin GET), or one naming the host the request was sent to; and
 * no browser saying the request came from another site. */
static bool same_origin(struct ctx *x)
{
	const char *origin = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, "Origin");
	const char *site = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, "Sec-Fetch-Site");
	const char *host = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	const char *p;

	if (site && strcmp(site, "same-origin") && strcmp(site, "none"))
		return false;
	if (!origin)
		return true;
	if (!host)
		return false;
	/* behind a TLS-terminating proxy the browser's origin is https
	 * while this listener speaks http: the host is what must match */
	p = strstr(origin, "://");
	return p && !strcasecmp(p + 3, host);
}

int admin_session_auth(struct ctx *x, const char *cookie, struct reply *err)
{
	struct admin_server *srv = x->srv;
	const char *csrf = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, "X-CSRF-Token");
	struct console_session *s;
	int64_t mono = gw_mono_ms(), token_id = 0;
	struct store_token tok;
	bool csrf_ok = false;
	int rc;

	pthread_mutex_lock(&srv->session_lock);
	s = find_locked(srv, cookie, mono);
	if (s) {
		s->used_ms = mono;
		token_id = s->token_id;
		gw_strlcpy(x->csrf, s->csrf, sizeof(x->csrf));
		x->session_expires_ms = s->expires_at_ms;
		csrf_ok = csrf && same_secret(s->csrf, csrf);
	}
	pthread_mutex_unlock(&srv->session_lock);
	if (!token_id) {
		*err = admin_problem(401, "the console session has ended: sign in again");
		return -EACCES;
	}
	rc = store_token_get(x->store, token_id, &tok);
	if (rc < 0 && rc != -ENOENT) {
		*err = admin_unavailable(x, "cannot check the session's token now");
		return rc;
	}
	if (rc == -ENOENT || tok.revoked_at_ms) {
		pthread_mutex_lock(&srv->session_lock);
		s = find_locked(srv, cookie, mono);
		if (s)
			explicit_bzero(s, sizeof(*s));
		pthread_mutex_unlock(&srv->session_lock);
		*err = admin_problem(401, "the token this session signed in with was revoked");
		return -EACCES;
	}
	x->who = tok;
	x->via_cookie = true;
	if (strcmp(x->method, "GET") && strcmp(x->method, "HEAD")) {
		/* A change: the page that asks must be the console's own. */
		if (!same_origin(x)) {
			*err = admin_problem(403, "refused: a change made from another site");
			return -EPERM;
		}
		if (!csrf_ok) {
			*err = admin_problem(403, "refused: a change needs the session's X-CSRF-Token");
			return -EPERM;
		}
	}
	return 0;
}

static json_t *session_json(struct ctx *x)
{
	return json_pack("{s:s, s:s, s:o, s:o}", "token_name", x->who.name, "scope", x->who.scope,
			 "csrf_token", x->via_cookie ? json_string(x->csrf) : json_null(),
			 "expires_at", admin_time_or_null(x->via_cookie ? x->session_expires_ms : 0));
}

/* POST /session {"token": "..."}: sign in. */
struct reply admin_sign_in(struct ctx *x)
{
	static const struct admin_field fields[] = { { "token", "string", false } };
	struct admin_server *srv = x->srv;
	struct console_session *slot = NULL;
	struct reply r;
	const char *token;
	int64_t mono = gw_mono_ms();
	json_t *body;
	int wait, rc;
	size_t i;

	if (admin_parse_body(x, &body, &r) < 0)
		return r;
	if (admin_check_fields(body, fields, GW_ARRAY_SIZE(fields), &r) < 0) {
		json_decref(body);
		return r;
	}
	token = json_string_value(json_object_get(body, "token"));
	wait = admin_auth_wait_s(srv, x->client_ip);
	if (wait) {
		json_decref(body);
		r = admin_problem(429, "too many failed authentications from this address; wait");
		r.retry_after_s = wait;
		return r;
	}
	rc = token ? store_admin_check(x->store, token, &x->who) : -EACCES;
	json_decref(body);
	if (rc < 0 && rc != -EACCES)
		return admin_unavailable(x, "cannot check the token now");
	if (rc < 0) {
		admin_auth_failed(srv, x->client_ip);
		gw_warn("admin.auth_failed", "console sign-in from %s: no valid token", x->client_ip);
		memset(&x->who, 0, sizeof(x->who));
		return admin_problem(401, "that is not a valid admin token");
	}

	pthread_mutex_lock(&srv->session_lock);
	for (i = 0; i < SESSIONS_MAX; i++) {
		struct console_session *s = &srv->sessions[i];

		if (s->id[0] && expired(s, mono))
			explicit_bzero(s, sizeof(*s));
		if (!s->id[0]) {
			slot = s;
			break;
		}
		if (!slot || s->used_ms < slot->used_ms)
			slot = s; /* full: the least recently used goes */
	}
	explicit_bzero(slot, sizeof(*slot));
	rc = gw_random_token(slot->id, SESSION_SECRET_LEN, false);
	if (rc == 0)
		rc = gw_random_token(slot->csrf, SESSION_SECRET_LEN, false);
	if (rc == 0) {
		slot->token_id = x->who.id;
		slot->started_ms = slot->used_ms = mono;
		slot->expires_at_ms = gw_now_ms() + SESSION_LIFE_MS;
		gw_strlcpy(x->csrf, slot->csrf, sizeof(x->csrf));
		x->session_expires_ms = slot->expires_at_ms;
		x->via_cookie = true;
		r = admin_ok(201, session_json(x));
		snprintf(r.cookie, sizeof(r.cookie),
			 SESSION_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; Secure; SameSite=Strict",
			 slot->id, SESSION_LIFE_MS / 1000);
	} else {
		explicit_bzero(slot, sizeof(*slot));
		r = admin_problem(500, "cannot make a session: no randomness");
	}
	pthread_mutex_unlock(&srv->session_lock);
	snprintf(x->detail, sizeof(x->detail), "console sign-in");
	return r;
}

/* GET /session: who is signed in, and the CSRF token for changes. */
struct reply admin_get_session(struct ctx *x)
{
	struct reply err;

	if (admin_no_fields(x, &err) < 0)
		return err;
	return admin_ok(200, session_json(x));
}

/* DELETE /session: sign out (any scope may). */
struct reply admin_sign_out(struct ctx *x)
{
	const char *cookie = MHD_lookup_connection_value(x->conn, MHD_COOKIE_KIND, SESSION_COOKIE);
	struct admin_server *srv = x->srv;
	struct console_session *s;
	struct reply r;

	if (admin_no_fields(x, &r) < 0)
		return r;
	if (!x->via_cookie || !cookie)
		return admin_problem(400, "no console session to end: this request used a bearer token");
	pthread_mutex_lock(&srv->session_lock);
	s = find_locked(srv, cookie, gw_mono_ms());
	if (s)
		explicit_bzero(s, sizeof(*s));
	pthread_mutex_unlock(&srv->session_lock);
	snprintf(x->detail, sizeof(x->detail), "console sign-out");
	r = admin_no_content();
	if (r.status == 204)
		snprintf(r.cookie, sizeof(r.cookie),
			 SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
	return r;
}
