/* webhooks.c - webhooks: create (the secret shown once), list, read,
 * delete; their deliveries, listed and replayed. Sending is
 * webhook_sender.c's.
 */
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

static json_t *events_json(const char *events)
{
	json_t *arr = json_array();

	for (const char *p = events; arr && *p;) {
		size_t len = strcspn(p, ",");

		json_array_append_new(arr, json_stringn(p, len));
		p += len;
		if (*p)
			p++;
	}
	return arr;
}

static json_t *webhook_json(const struct store_webhook *w, const char *secret)
{
	json_t *o = json_pack("{s:I, s:s, s:o, s:o, s:{s:I, s:I}}", "id", (json_int_t)w->id,
			      "url", w->url, "events", events_json(w->events), "created_at",
			      admin_time_or_null(w->created_at_ms), "deliveries", "pending",
			      (json_int_t)w->pending, "dead", (json_int_t)w->dead);

	if (o && secret)
		json_object_set_new(o, "secret", json_string(secret));
	return o;
}

/* An https URL with a host; a literal address that is private refused
 * unless allowed (names are checked where they resolve, at connect). */
static int check_url(struct ctx *x, const char *url, struct reply *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int r = -EINVAL;

	if (!u || strlen(url) > GW_WEBHOOK_URL_MAX ||
	    curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		*err = admin_problem(400, "invalid url: expected https://HOST[:PORT]/PATH, at most %d bytes",
				     GW_WEBHOOK_URL_MAX);
		goto out;
	}
	if (strcmp(scheme, "https")) {
		*err = admin_problem(400, "invalid url: webhooks are sent over https only");
		goto out;
	}
	if (!x->cfg->webhook_allow_private) {
		struct addrinfo hints = { .ai_flags = AI_NUMERICHOST }, *res = NULL;
		char bare[64];
		size_t len = strlen(host);

		/* "[::1]" as the URL has it */
		if (len > 2 && host[0] == '[' && len - 2 < sizeof(bare)) {
			memcpy(bare, host + 1, len - 2);
			bare[len - 2] = '\0';
		} else {
			gw_strlcpy(bare, host, sizeof(bare));
		}
		if (getaddrinfo(bare, NULL, &hints, &res) == 0) {
			bool private = admin_address_is_private(res->ai_addr);

			freeaddrinfo(res);
			if (private) {
				*err = admin_problem(400, "invalid url: %s is a loopback or private address;"
							  " set webhook_allow_private to send there", bare);
				goto out;
			}
		}
	}
	r = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}

/* events: a non-empty array of patterns, into "a,b,c". */
static int events_field(json_t *v, char *out, size_t size, struct reply *err)
{
	size_t used = 0, i;
	json_t *item;

	out[0] = '\0';
	json_array_foreach(v, i, item) {
		const char *s = json_string_value(item);
		size_t len = s ? strlen(s) : 0;

		if (!s || used + len + 2 > size)
			break;
		if (used)
			out[used++] = ',';
		memcpy(out + used, s, len + 1);
		used += len;
	}
	if (i != json_array_size(v) || !store_webhook_events_valid(out)) {
		*err = admin_problem(400, "invalid events: expected 1 to 16 of upload.received,"
					  " upload.rejected, upload.imported, upload.failed,"
					  " account.created, account.updated, account.disabled,"
					  " account.enabled, account.deleted, account.password_changed,"
					  " account.key_issued, account.key_revoked, upload.*, account.* or *");
		return -EINVAL;
	}
	return 0;
}

struct reply admin_create_webhook(struct ctx *x)
{
	static const struct admin_field fields[] = {
		{ "url", "string", false },
		{ "events", "array", false },
	};
	char secret[STORE_WEBHOOK_SECRET_LEN + 1], events[GW_WEBHOOK_EVENTS_MAX + 1];
	struct store_webhook w;
	const char *url;
	struct reply err;
	json_t *body;
	int rc;

	if (admin_parse_body(x, &body, &err) < 0)
		return err;
	if (admin_check_fields(body, fields, GW_ARRAY_SIZE(fields), &err) < 0)
		goto bad;
	url = json_string_value(json_object_get(body, "url"));
	if (!url || !json_object_get(body, "events")) {
		err = admin_problem(400, "url and events are required");
		goto bad;
	}
	if (check_url(x, url, &err) < 0 ||
	    events_field(json_object_get(body, "events"), events, sizeof(events), &err) < 0)
		goto bad;
	rc = store_webhook_create(x->store, url, events, &w, secret);
	json_decref(body);
	if (rc == -E2BIG)
		return admin_problem(409, "there are %d webhooks already; delete one first",
				     GW_WEBHOOKS_MAX);
	if (rc < 0)
		return admin_problem(500, "cannot create the webhook");
	snprintf(x->detail, sizeof(x->detail), "webhook %lld to %.120s for %.100s created", (long long)w.id,
		 w.url, w.events);
	err = admin_ok(201, webhook_json(&w, secret));
	explicit_bzero(secret, sizeof(secret));
	return err;
bad:
	json_decref(body);
	return err;
}

static int fetch_webhooks(struct ctx *x, const void *arg, int64_t cursor, unsigned limit,
			  void *items, unsigned *n, bool *more)
{
	(void)arg;
	return store_webhook_list(x->store, cursor, limit, items, n, more);
}

static json_t *webhook_item(struct ctx *x, const void *w)
{
	(void)x;
	return webhook_json(w, NULL);
}

static int64_t webhook_id(const void *w)
{
	return ((const struct store_webhook *)w)->id;
}

struct reply admin_list_webhooks(struct ctx *x)
{
	static const struct admin_lister l = { "webhooks", sizeof(struct store_webhook),
					       fetch_webhooks, webhook_item, webhook_id, NULL };

	return admin_list_with(x, &l, NULL);
}

static struct reply no_webhook(struct ctx *x)
{
	return admin_problem(404, "no webhook with id %lld", (long long)x->ids[0]);
}

struct reply admin_get_webhook(struct ctx *x)
{
	struct store_webhook w;
	int rc = store_webhook_get(x->store, x->ids[0], &w);

	if (rc == -ENOENT)
		return no_webhook(x);
	if (rc < 0)
		return admin_problem(500, "cannot read the webhook");
	return admin_ok(200, webhook_json(&w, NULL));
}

struct reply admin_delete_webhook(struct ctx *x)
{
	struct reply err;
	int rc;

	if (admin_no_fields(x, &err) < 0)
		return err;
	rc = store_webhook_delete(x->store, x->ids[0]);
	if (rc == -ENOENT)
		return no_webhook(x);
	if (rc < 0)
		return admin_problem(500, "cannot delete the webhook");
	snprintf(x->detail, sizeof(x->detail), "webhook %lld deleted", (long long)x->ids[0]);
	return admin_no_content();
}

/* ---------------------------------------------------------------- deliveries */

static json_t *delivery_json(const struct store_delivery *d)
{
	char id[32];
	json_t *o;

	snprintf(id, sizeof(id), "evt_%lld", (long long)d->event_id);
	o = json_pack("{s:I, s:s, s:s, s:o, s:I, s:o, s:s, s:i, s:o, s:o, s:o, s:o, s:o}",
		      "number", (json_int_t)d->event_id, "event_id", id, "type", d->type,
		      "event_at", admin_time_or_null(d->event_at_ms),
		      "account_id", (json_int_t)d->account_id,
		      "upload_id", d->upload_id ? json_integer(d->upload_id) : json_null(),
		      "state", d->state, "attempts", (int)d->attempts,
		      "next_attempt_at",
		      !strcmp(d->state, "pending") ? admin_time_or_null(d->next_at_ms) : json_null(),
		      "first_attempt_at", admin_time_or_null(d->first_at_ms),
		      "delivered_at", admin_time_or_null(d->delivered_at_ms),
		      "last_status", d->last_status ? json_integer(d->last_status) : json_null(),
		      "last_error", d->last_error[0] && gw_is_utf8(d->last_error)
					    ? json_string(d->last_error)
					    : json_null());
	return o;
}

struct delivery_filter {
	int64_t webhook_id;
	const char *state;
};

static int fetch_deliveries(struct ctx *x, const void *arg, int64_t cursor, unsigned limit,
			    void *items, unsigned *n, bool *more)
{
	const struct delivery_filter *f = arg;

	return store_delivery_list(x->store, f->webhook_id, f->state, cursor, limit, items, n, more);
}

static json_t *delivery_item(struct ctx *x, const void *d)
{
	(void)x;
	return delivery_json(d);
}

static int64_t delivery_number(const void *d)
{
	return ((const struct store_delivery *)d)->event_id;
}

struct reply admin_list_deliveries(struct ctx *x)
{
	static const struct admin_lister l = { "deliveries", sizeof(struct store_delivery),
					       fetch_deliveries, delivery_item, delivery_number, NULL };
	struct delivery_filter f = { x->ids[0], admin_query(x, "state") };
	struct store_webhook w;
	int rc;

	if (f.state && strcmp(f.state, "pending") && strcmp(f.state, "delivered") &&
	    strcmp(f.state, "dead"))
		return admin_problem(400, "invalid state: expected pending, delivered or dead");
	rc = store_webhook_get(x->store, x->ids[0], &w);
	if (rc == -ENOENT)
		return no_webhook(x);
	if (rc < 0)
		return admin_problem(500, "cannot read the webhook");
	return admin_list_with(x, &l, &f);
}

struct reply admin_retry_delivery(struct ctx *x)
{
	struct store_delivery d;
	struct reply err;
	int rc;

	if (admin_no_fields(x, &err) < 0)
		return err;
	rc = store_delivery_retry(x->store, x->ids[0], x->ids[1], &d);
	if (rc == -ENOENT)
		return admin_problem(404, "webhook %lld has no delivery %lld", (long long)x->ids[0],
				     (long long)x->ids[1]);
	if (rc == -EBUSY)
		return admin_problem(409, "delivery %lld is pending already", (long long)x->ids[1]);
	if (rc < 0)
		return admin_problem(500, "cannot retry the delivery");
	snprintf(x->detail, sizeof(x->detail), "delivery %lld of webhook %lld sent again",
		 (long long)x->ids[1], (long long)x->ids[0]);
	return admin_ok(202, delivery_json(&d));
}
