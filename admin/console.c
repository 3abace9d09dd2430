/* console.c - the browser console's side of the admin API: its files
 * (console/, built into the binary by admin/embed_console.cmake), the
 * headers that keep them from being framed or fed another site's
 * script, and GET /stats, the overview's figures: uploads by state and
 * what this node received, in 10-second buckets over the last hour.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

/* The generated table of console/ (console_blob.c). */
struct admin_asset {
	const char *name; /* "app.js" */
	const char *type; /* its Content-Type */
	const unsigned char *data;
	size_t len;
};
extern const struct admin_asset admin_assets[];
extern const size_t admin_nassets;

void admin_security_headers(struct MHD_Response *resp)
{
	/* The console loads only its own files and talks only to this
	 * origin: no inline script, no other site, never in a frame. */
	MHD_add_response_header(resp, "Content-Security-Policy",
				"default-src 'none'; script-src 'self'; style-src 'self';"
				" img-src 'self' data:; connect-src 'self'; font-src 'self';"
				" base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
}

struct reply admin_console_asset(struct ctx *x)
{
	const char *name = NULL;
	struct reply r;
	size_t i;

	if (!strcmp(x->url, "/") || !strcmp(x->url, "/index.html"))
		name = "index.html";
	else if (!strncmp(x->url, "/console/", 9))
		name = x->url + 9;
	for (i = 0; name && i < admin_nassets; i++)
		if (!strcmp(admin_assets[i].name, name))
			break;
	if (!name || i == admin_nassets)
		return admin_problem(404, "no such page: the console is at /, the API under " API);
	if (strcmp(x->method, "GET") && strcmp(x->method, "HEAD")) {
		r = admin_problem(405, "method %s is not allowed here", x->method);
		gw_strlcpy(r.allow, "GET, HEAD", sizeof(r.allow));
		return r;
	}
	r = admin_ok(200, NULL);
	r.raw = MHD_create_response_from_buffer(admin_assets[i].len, (void *)admin_assets[i].data,
						MHD_RESPMEM_PERSISTENT);
	if (!r.raw)
		return admin_problem(500, "out of memory");
	MHD_add_response_header(r.raw, MHD_HTTP_HEADER_CONTENT_TYPE, admin_assets[i].type);
	return r;
}

/* ---------------------------------------------------------------- throughput */

/* Move to bucket `now`'s, emptying those passed over. Called with
 * rate_lock held. */
static void rate_advance_locked(struct admin_server *srv, int64_t bucket)
{
	int64_t b;

	if (bucket - srv->rate_bucket >= RATE_BUCKETS)
		memset(srv->rate, 0, sizeof(srv->rate));
	else
		for (b = srv->rate_bucket + 1; b <= bucket; b++)
			srv->rate[b % RATE_BUCKETS] = 0;
	if (bucket > srv->rate_bucket)
		srv->rate_bucket = bucket;
}

void admin_rate_tick(struct admin_server *srv, int64_t now_ms)
{
	int64_t total = gw_metric_get(GW_M_BYTES_RECEIVED);

	pthread_mutex_lock(&srv->rate_lock);
	rate_advance_locked(srv, now_ms / RATE_BUCKET_MS);
	if (total > srv->rate_last)
		srv->rate[srv->rate_bucket % RATE_BUCKETS] += (uint64_t)(total - srv->rate_last);
	srv->rate_last = total;
	pthread_mutex_unlock(&srv->rate_lock);
}

/* GET /stats */
struct reply admin_get_stats(struct ctx *x)
{
	struct admin_server *srv = x->srv;
	int64_t counts[STORE_STATES];
	uint64_t hour = 0;
	json_t *by_state, *buckets;
	struct reply err;
	size_t i;
	int rc;

	if (admin_no_fields(x, &err) < 0)
		return err;
	rc = store_upload_counts(x->store, counts);
	if (rc < 0)
		return admin_problem(500, "cannot count the uploads");
	by_state = json_object();
	for (i = 0; i < STORE_STATES; i++)
		json_object_set_new(by_state, store_upload_state_name(i), json_integer(counts[i]));
	admin_rate_tick(srv, gw_mono_ms());
	buckets = json_array();
	pthread_mutex_lock(&srv->rate_lock);
	/* oldest first; the last is the bucket being filled */
	for (i = 1; i <= RATE_BUCKETS; i++) {
		uint64_t v = srv->rate[(srv->rate_bucket + (int64_t)i) % RATE_BUCKETS];

		hour += v;
		json_array_append_new(buckets, json_integer((json_int_t)v));
	}
	pthread_mutex_unlock(&srv->rate_lock);
	return admin_ok(200, json_pack("{s:o, s:{s:s, s:I, s:I, s:I, s:o}, s:I, s:I}",
				       "uploads", by_state,
				       "received", "node", store_node_id(x->store),
				       "bytes_total",
				       (json_int_t)gw_metric_get(GW_M_BYTES_RECEIVED),
				       "last_hour_bytes", (json_int_t)hour,
				       "bucket_seconds", (json_int_t)(RATE_BUCKET_MS / 1000),
				       "buckets", buckets,
				       "sessions", (json_int_t)gw_metric_get(GW_M_SESSIONS),
				       "transfers", (json_int_t)gw_metric_get(GW_M_TRANSFERS)));
}
