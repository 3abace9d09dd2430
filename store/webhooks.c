/* webhooks.c - webhooks and their deliveries: the patterns a webhook
 * subscribes with, its secret (sealed under the master key, shown once),
 * the events turned into deliveries, and what becomes of each attempt.
 * The sending itself (HTTP) is admin/webhook_sender.c's.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "store_int.h"
#include "store_records.h"

#define SECRET_AAD "ftpsgate webhook secret"
#define FANOUT_BATCH 500
#define FANOUT_ROUNDS 8

static const char *const event_types[] = {
	"upload.received",	"upload.rejected",	  "upload.imported",	"upload.failed",
	"account.created",	"account.updated",	  "account.disabled",	"account.enabled",
	"account.deleted",	"account.password_changed", "account.key_issued", "account.key_revoked",
};

/* One pattern (len bytes): a type, a family ("upload.*") or "*". */
static bool pattern_valid(const char *p, size_t len)
{
	if (len == 1 && p[0] == '*')
		return true;
	if ((len == 8 && !memcmp(p, "upload.*", 8)) || (len == 9 && !memcmp(p, "account.*", 9)))
		return true;
	for (size_t i = 0; i < GW_ARRAY_SIZE(event_types); i++)
		if (strlen(event_types[i]) == len && !memcmp(event_types[i], p, len))
			return true;
	return false;
}

static bool pattern_match(const char *p, size_t len, const char *type)
{
	if (len == 1 && p[0] == '*')
		return true;
	if (len >= 2 && p[len - 1] == '*')
		return !strncmp(type, p, len - 1);
	return strlen(type) == len && !memcmp(type, p, len);
}

bool store_webhook_events_valid(const char *events)
{
	unsigned n = 0;

	if (!events[0] || strlen(events) > GW_WEBHOOK_EVENTS_MAX)
		return false;
	for (const char *p = events; *p;) {
		size_t len = strcspn(p, ",");

		if (!pattern_valid(p, len) || ++n > 16)
			return false;
		p += len;
		if (*p == ',' && !*++p)
			return false; /* a trailing comma */
	}
	return true;
}

static bool wants(const char *events, const char *type)
{
	for (const char *p = events; *p;) {
		size_t len = strcspn(p, ",");

		if (pattern_match(p, len, type))
			return true;
		p += len;
		if (*p)
			p++;
	}
	return false;
}

int store_webhook_create(struct store *st, const char *url, const char *events,
			 struct store_webhook *out, char secret[STORE_WEBHOOK_SECRET_LEN + 1])
{
	uint8_t raw[32], sealed[STORE_KEY_SEALED_LEN];
	int64_t id = 0;
	int r;

	if (!store_webhook_events_valid(events) || strlen(url) > GW_WEBHOOK_URL_MAX)
		return -EINVAL;
	r = RAND_bytes(raw, sizeof(raw)) == 1 ? 0 : -EIO;
	if (r == 0)
		r = store_seal32(st, true, SECRET_AAD, raw, sealed);
	if (r == 0)
		r = st->rec->webhook_insert(st, url, events, sealed, gw_now_ms(), &id);
	if (r == 0)
		r = st->rec->webhook_get(st, id, out);
	if (r == 0)
		gw_hex(raw, sizeof(raw), secret);
	explicit_bzero(raw, sizeof(raw));
	return r;
}

int store_webhook_get(struct store *st, int64_t id, struct store_webhook *out)
{
	return st->rec->webhook_get(st, id, out);
}

int store_webhook_list(struct store *st, int64_t after_id, unsigned max,
		       struct store_webhook *items, unsigned *n, bool *more)
{
	return st->rec->webhook_list(st, after_id, max, items, n, more);
}

int store_webhook_delete(struct store *st, int64_t id)
{
	return st->rec->webhook_delete(st, id, gw_now_ms());
}

int store_delivery_list(struct store *st, int64_t webhook_id, const char *state,
			int64_t before_event, unsigned max, struct store_delivery *items,
			unsigned *n, bool *more)
{
	return st->rec->delivery_list(st, webhook_id, state, before_event, max, items, n, more);
}

int store_delivery_retry(struct store *st, int64_t webhook_id, int64_t event_id,
			 struct store_delivery *out)
{
	struct store_delivery d;
	int r = st->rec->delivery_get(st, webhook_id, event_id, &d);

	if (r < 0)
		return r;
	if (!strcmp(d.state, "pending"))
		return -EBUSY;
	gw_strlcpy(d.state, "pending", sizeof(d.state));
	d.attempts = 0;
	d.first_at_ms = 0;
	d.delivered_at_ms = 0;
	d.next_at_ms = gw_now_ms();
	r = st->rec->delivery_set(st, &d);
	if (r == 0)
		r = st->rec->delivery_get(st, webhook_id, event_id, out);
	return r;
}

/* The events after w's cursor that it wants become its deliveries. */
static int fan_out(struct store *st, const struct store_webhook *w, struct store_delivery *ev,
		   int64_t *event_ids, int64_t *upload_ids)
{
	int64_t cursor = w->cursor;

	for (int round = 0; round < FANOUT_ROUNDS; round++) {
		unsigned n = 0, k = 0;
		int r = st->rec->hook_events_after(st, cursor, FANOUT_BATCH, ev, &n);

		if (r < 0 || n == 0)
			return r;
		for (unsigned i = 0; i < n; i++) {
			if (!wants(w->events, ev[i].type))
				continue;
			event_ids[k] = ev[i].event_id;
			upload_ids[k++] = ev[i].upload_id;
		}
		cursor = ev[n - 1].event_id;
		r = st->rec->delivery_add(st, w->id, event_ids, upload_ids, k, cursor, gw_now_ms());
		if (r < 0 || n < FANOUT_BATCH)
			return r;
	}
	return 0;
}

int store_delivery_claim(struct store *st, int64_t lease_ms, unsigned max,
			 struct store_delivery *items, unsigned *n)
{
	struct store_webhook *hooks = calloc(GW_WEBHOOKS_MAX, sizeof(*hooks));
	struct store_delivery *ev = calloc(FANOUT_BATCH, sizeof(*ev));
	int64_t *event_ids = calloc(FANOUT_BATCH, sizeof(int64_t));
	int64_t *upload_ids = calloc(FANOUT_BATCH, sizeof(int64_t));
	unsigned nhooks = 0;
	bool more = false;
	int r = -ENOMEM;

	*n = 0;
	if (hooks && ev && event_ids && upload_ids)
		r = st->rec->webhook_list(st, 0, GW_WEBHOOKS_MAX, hooks, &nhooks, &more);
	for (unsigned i = 0; r == 0 && i < nhooks; i++)
		r = fan_out(st, &hooks[i], ev, event_ids, upload_ids);
	if (r == 0 && nhooks)
		r = st->rec->delivery_claim(st, gw_now_ms(), lease_ms, max, items, n);
	free(hooks);
	free(ev);
	free(event_ids);
	free(upload_ids);
	return r < 0 ? r : (int)nhooks;
}

int store_delivery_done(struct store *st, const struct store_delivery *d, bool ok, int status,
			const char *error, int64_t backoff_ms, int64_t retry_for_ms)
{
	struct store_delivery next = *d;
	int64_t now = gw_now_ms(), wait = backoff_ms;

	next.attempts++;
	if (!next.first_at_ms)
		next.first_at_ms = now;
	next.last_status = status;
	gw_strlcpy(next.last_error, ok ? "" : error ? error : "", sizeof(next.last_error));
	if (ok) {
		gw_strlcpy(next.state, "delivered", sizeof(next.state));
		next.delivered_at_ms = now;
	} else if (now - next.first_at_ms >= retry_for_ms) {
		gw_strlcpy(next.state, "dead", sizeof(next.state));
		gw_warn("webhook.dead", "event %lld (%s) to webhook %lld given up after %u attempts: %s",
			(long long)d->event_id, d->type, (long long)d->webhook_id, next.attempts,
			next.last_error);
	} else {
		for (unsigned i = 1; i < next.attempts && wait < 3600 * 1000; i++)
			wait *= 2;
		next.next_at_ms = now + (wait < 3600 * 1000 ? wait : 3600 * 1000);
	}
	return st->rec->delivery_set(st, &next);
}

int store_webhook_sign(struct store *st, int64_t webhook_id, const void *data, size_t len,
		       char hex[65])
{
	uint8_t sealed[STORE_KEY_SEALED_LEN], raw[32], mac[32];
	char key[STORE_WEBHOOK_SECRET_LEN + 1];
	unsigned mac_len = 0;
	int r = st->rec->webhook_sealed(st, webhook_id, sealed);

	if (r == 0)
		r = store_seal32(st, false, SECRET_AAD, sealed, raw);
	if (r == 0) {
		/* the key is the secret as the admin was given it: its hex */
		gw_hex(raw, sizeof(raw), key);
		if (!HMAC(EVP_sha256(), key, STORE_WEBHOOK_SECRET_LEN, data, len, mac, &mac_len) ||
		    mac_len != sizeof(mac))
			r = -EIO;
		else
			gw_hex(mac, sizeof(mac), hex);
	}
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(key, sizeof(key));
	return r;
}

int store_webhook_prune(struct store *st, int64_t cutoff_ms)
{
	return st->rec->webhook_prune(st, cutoff_ms);
}
