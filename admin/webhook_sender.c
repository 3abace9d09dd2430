/* webhook_sender.c - the thread that sends webhook deliveries: claims the
 * due ones from the records (store/webhooks.c), POSTs each as signed JSON
 * with libcurl, and records how it went.
 *
 * What a receiver gets: a JSON body with the event's id (the same at every
 * attempt), its type, when it happened, the upload or account it is about,
 * and the attempt's time; headers X-Ftpsgate-Event-Id, X-Ftpsgate-Event,
 * X-Ftpsgate-Timestamp (the attempt's, in seconds, also in the body) and
 * X-Ftpsgate-Signature: sha256=HEX, the HMAC-SHA256 of the body with the
 * webhook's secret. Only a 2xx is a delivery; redirects are not followed.
 * HTTPS is verified; receivers on loopback, private, link-local or other
 * special addresses are refused at connect (after name resolution, so a
 * name that resolves there is refused too) unless webhook_allow_private.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "admin_int.h"

#define CLAIM_MAX 32
#define LEASE_MS (5 * 60 * 1000)
#define PRUNE_EVERY_MS (3600 * 1000)
#define KEEP_MS (7LL * 86400 * 1000) /* delivered deliveries and their events */
#define ANSWER_MAX 512               /* of a receiver's answer, kept with a failure */

struct webhook_sender {
	struct admin_server *srv;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
};

/* One attempt: what the receiver answered, and why it failed. */
struct attempt {
	bool refused_address;
	char address[INET6_ADDRSTRLEN];
	char answer[ANSWER_MAX + 1];
	size_t answer_len;
	bool allow_private;
};

/* ---------------------------------------------------------------- addresses */

static bool v4_special(const uint8_t *a)
{
	return a[0] == 0 || a[0] == 10 || a[0] == 127 || (a[0] == 100 && (a[1] & 0xC0) == 64) ||
	       (a[0] == 169 && a[1] == 254) || (a[0] == 172 && (a[1] & 0xF0) == 16) ||
	       (a[0] == 192 && a[1] == 168) || (a[0] == 192 && a[1] == 0 && a[2] == 0) ||
	       (a[0] == 198 && (a[1] & 0xFE) == 18) || a[0] >= 224;
}

/* An address a webhook may not reach unless webhook_allow_private:
 * loopback, private (RFC 1918, ULA), link-local, shared (100.64/10),
 * unspecified, multicast, reserved, and IPv4 ones inside IPv6. */
bool admin_address_is_private(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return v4_special((const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		const uint8_t *b = a->s6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a))
			return v4_special(b + 12);
		return IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a) ||
		       IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_SITELOCAL(a) ||
		       IN6_IS_ADDR_MULTICAST(a) || (b[0] & 0xFE) == 0xFC ||
		       (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) || /* docs */
		       (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b); /* NAT64 */
	}
	return true;
}

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct attempt *at = arg;

	(void)purpose;
	if (!at->allow_private && admin_address_is_private(&addr->addr)) {
		const void *ip = addr->family == AF_INET
					 ? (const void *)&((struct sockaddr_in *)(void *)&addr->addr)->sin_addr
					 : (const void *)&((struct sockaddr_in6 *)(void *)&addr->addr)->sin6_addr;

		inet_ntop(addr->family, ip, at->address, sizeof(at->address));
		at->refused_address = true;
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static size_t keep_answer(char *data, size_t size, size_t n, void *arg)
{
	struct attempt *at = arg;
	size_t len = size * n, room = ANSWER_MAX - at->answer_len;

	memcpy(at->answer + at->answer_len, data, len < room ? len : room);
	at->answer_len += len < room ? len : room;
	at->answer[at->answer_len] = '\0';
	return len;
}

/* ---------------------------------------------------------------- the body */

/* The event as the receiver gets it; NULL when out of memory. */
static char *event_body(struct store *st, const struct store_delivery *d, int64_t now_ms)
{
	char id[32], at[32], sent[32];
	json_t *o, *about = NULL;
	char *text;

	snprintf(id, sizeof(id), "evt_%lld", (long long)d->event_id);
	gw_format_time(d->event_at_ms, at);
	gw_format_time(now_ms, sent);
	if (d->upload_id) {
		struct store_upload_info u;

		if (store_upload_get(st, d->upload_id, &u) == 0)
			about = admin_upload_json(&u);
		if (about && d->error[0])
			json_object_set_new(about, "event_error", json_string(d->error));
	} else {
		struct store_account a;

		if (store_account_get(st, d->account_id, &a) == 0)
			about = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)a.id, "username",
					  a.username, "status", a.status);
	}
	if (!about) /* gone since: what is known */
		about = json_pack("{s:I}", "id", (json_int_t)(d->upload_id ? d->upload_id : d->account_id));
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "id", id, "type", d->type, "created_at", at,
		      "timestamp", (json_int_t)(now_ms / 1000), "account_id",
		      (json_int_t)d->account_id, "sent_at", sent);
	if (!o) {
		json_decref(about);
		return NULL;
	}
	json_object_set_new(o, d->upload_id ? "upload" : "account", about);
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return text;
}

/* ---------------------------------------------------------------- one attempt */

static void send_one(struct webhook_sender *ws, CURL *h, const struct store_delivery *d)
{
	const struct gw_config *cfg = ws->srv->cfg;
	struct store *st = ws->srv->store;
	struct attempt at = { .allow_private = cfg->webhook_allow_private };
	int64_t now = gw_now_ms();
	char *body = event_body(st, d, now), sig[65], error[256] = "";
	char hdr_sig[96], hdr_id[64], hdr_type[64], hdr_ts[64];
	struct curl_slist *headers = NULL;
	long status = 0;
	CURLcode rc;
	bool ok = false;

	if (!body || store_webhook_sign(st, d->webhook_id, body, strlen(body), sig) < 0) {
		gw_error("webhook.send", "cannot make event %lld for webhook %lld", (long long)d->event_id,
			 (long long)d->webhook_id);
		store_delivery_done(st, d, false, 0, "the gateway could not make the request",
				    (int64_t)cfg->webhook_backoff_s * 1000,
				    (int64_t)cfg->webhook_retry_for_s * 1000);
		free(body);
		return;
	}
	snprintf(hdr_sig, sizeof(hdr_sig), "X-Ftpsgate-Signature: sha256=%s", sig);
	snprintf(hdr_id, sizeof(hdr_id), "X-Ftpsgate-Event-Id: evt_%lld", (long long)d->event_id);
	snprintf(hdr_type, sizeof(hdr_type), "X-Ftpsgate-Event: %s", d->type);
	snprintf(hdr_ts, sizeof(hdr_ts), "X-Ftpsgate-Timestamp: %lld", (long long)(now / 1000));
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, hdr_sig);
	headers = curl_slist_append(headers, hdr_id);
	headers = curl_slist_append(headers, hdr_type);
	headers = curl_slist_append(headers, hdr_ts);
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, d->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)cfg->webhook_timeout_s);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)cfg->webhook_timeout_s);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->webhook_ca_file[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, cfg->webhook_ca_file);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "ftpsgate-webhook");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &at);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_answer);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &at);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (at.refused_address)
		snprintf(error, sizeof(error), "the receiver's address %s is loopback or private, which"
			 " webhook_allow_private does not allow", at.address);
	else if (rc != CURLE_OK)
		snprintf(error, sizeof(error), "%s", curl_easy_strerror(rc));
	else if (status >= 200 && status < 300)
		ok = true;
	else
		snprintf(error, sizeof(error), "HTTP %ld%s%.200s", status,
			 at.answer_len ? ": " : "", at.answer);
	if (!ok)
		gw_warn("webhook.failed", "event %lld (%s) to webhook %lld, attempt %u: %s",
			(long long)d->event_id, d->type, (long long)d->webhook_id, d->attempts + 1, error);
	store_delivery_done(st, d, ok, (int)status, error, (int64_t)cfg->webhook_backoff_s * 1000,
			    (int64_t)cfg->webhook_retry_for_s * 1000);
	curl_slist_free_all(headers);
	free(body);
}

/* ---------------------------------------------------------------- the thread */

static void *sender_main(void *arg)
{
	struct webhook_sender *ws = arg;
	struct store_delivery *items = calloc(CLAIM_MAX, sizeof(*items));
	CURL *h = curl_easy_init();
	int64_t next_prune = gw_mono_ms() + 60 * 1000;

	if (!items || !h) {
		gw_error("webhook.send", "cannot start sending webhooks: out of memory");
		goto out;
	}
	for (;;) {
		unsigned n = 0;
		struct timespec until;
		long wait_ms;
		int hooks = store_delivery_claim(ws->srv->store, LEASE_MS, CLAIM_MAX, items, &n);

		/* none: a rarer look, so that an idle node does not keep the
		 * database busy; the records store away: its error is logged */
		wait_ms = hooks > 0 ? 250 : 2000;
		if (hooks < 0)
			n = 0;
		for (unsigned i = 0; i < n && !__atomic_load_n(&ws->stopping, __ATOMIC_RELAXED); i++)
			send_one(ws, h, &items[i]);
		if (gw_mono_ms() >= next_prune) {
			store_webhook_prune(ws->srv->store, gw_now_ms() - KEEP_MS);
			next_prune = gw_mono_ms() + PRUNE_EVERY_MS;
		}
		pthread_mutex_lock(&ws->lock);
		if (!ws->stopping && n < CLAIM_MAX) {
			/* nothing more due now: look again in a moment, or when woken */
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += wait_ms / 1000;
			until.tv_nsec += (wait_ms % 1000) * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&ws->cond, &ws->lock, &until);
		}
		if (ws->stopping) {
			pthread_mutex_unlock(&ws->lock);
			break;
		}
		pthread_mutex_unlock(&ws->lock);
	}
out:
	curl_easy_cleanup(h);
	free(items);
	return NULL;
}

int admin_webhooks_start(struct admin_server *srv, struct webhook_sender **out)
{
	struct webhook_sender *ws = calloc(1, sizeof(*ws));
	pthread_condattr_t attr;
	int r;

	if (!ws)
		return -ENOMEM;
	ws->srv = srv;
	pthread_mutex_init(&ws->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&ws->cond, &attr);
	pthread_condattr_destroy(&attr);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = -pthread_create(&ws->thread, NULL, sender_main, ws);
	if (r < 0) {
		pthread_cond_destroy(&ws->cond);
		pthread_mutex_destroy(&ws->lock);
		free(ws);
		return r;
	}
	*out = ws;
	return 0;
}

void admin_webhooks_stop(struct webhook_sender *ws)
{
	if (!ws)
		return;
	pthread_mutex_lock(&ws->lock);
	__atomic_store_n(&ws->stopping, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&ws->cond);
	pthread_mutex_unlock(&ws->lock);
	pthread_join(ws->thread, NULL);
	pthread_cond_destroy(&ws->cond);
	pthread_mutex_destroy(&ws->lock);
	free(ws);
}
