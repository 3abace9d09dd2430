/* service.c - the service itself: health, the OpenAPI document, metrics.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

/* What a load balancer and an operator ask: is this node fit to serve,
 * and if not, which dependency is down, or whether it is draining (503
 * too: a balancer sends no one new there). */
struct reply admin_get_health(struct ctx *x)
{
	char why[256], why_bytes[256];
	bool down = store_records_status(x->store, true, why, sizeof(why)) < 0;
	bool bytes_down = store_bytes_status(x->store, true, why_bytes, sizeof(why_bytes)) < 0;
	struct store_node_report rep;
	struct reply r;
	json_t *records = json_pack("{s:s, s:s}", "backend", store_records_name(x->store), "status",
				    down ? "down" : "up");
	json_t *storage = json_pack("{s:s, s:s}", "backend", store_bytes_name(x->store), "status",
				    bytes_down ? "down" : "up");
	const char *status;

	store_node_report(x->store, &rep);
	if (records && down)
		json_object_set_new(records, "error", json_string(why));
	if (storage && bytes_down)
		json_object_set_new(storage, "error", json_string(why_bytes));
	down = down || bytes_down;
	status = rep.draining ? "draining" : down ? "degraded" : "ok";
	r = admin_ok(down || rep.draining ? 503 : 200,
		     json_pack("{s:s, s:s, s:s, s:{s:o, s:o}}", "status", status, "node",
			       store_node_id(x->store), "version", FTPSGATE_VERSION, "dependencies",
			       "records", records, "storage", storage));
	r.document = true; /* 503 too: the health document, not a problem */
	return r;
}

static json_t *node_json(const struct store_node *n)
{
	return json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:i, s:i, s:I}", "id", n->node, "version",
			 n->version,
			 "status", !n->alive ? "gone" : n->draining ? "draining" : "serving", "self",
			 n->self, "started_at", admin_time_or_null(n->started_at_ms), "seen_at",
			 admin_time_or_null(n->seen_at_ms), "sessions", (int)n->sessions, "transfers",
			 (int)n->transfers, "uploads_receiving", (json_int_t)n->uploads_receiving);
}

/* Every node on the records (its heartbeats), so that any node's API
 * shows the whole cluster. */
struct reply admin_list_nodes(struct ctx *x)
{
	enum { MAX_NODES = 256 };
	struct store_node *list = calloc(MAX_NODES, sizeof(*list));
	json_t *items = json_array();
	unsigned n = 0;
	int rc;

	if (!list || !items) {
		free(list);
		json_decref(items);
		return admin_problem(500, "out of memory");
	}
	rc = store_nodes_list(x->store, list, MAX_NODES, &n);
	for (unsigned i = 0; rc == 0 && i < n; i++)
		json_array_append_new(items, node_json(&list[i]));
	free(list);
	if (rc < 0) {
		json_decref(items);
		return admin_unavailable(x, "cannot list the nodes");
	}
	return admin_ok(200, json_pack("{s:o}", "items", items));
}

/* Drain a node: it takes no new sessions (its health says 'draining'),
 * lets running transfers finish within shutdown_grace_s, and ends. */
struct reply admin_drain_node(struct ctx *x)
{
	struct reply err;
	int rc;

	if (admin_no_fields(x, &err) < 0)
		return err;
	rc = store_node_drain(x->store, x->name);
	if (rc == -ENOENT)
		return admin_problem(404, "no node '%s' is alive (GET /api/v1/nodes lists them)",
				     x->name);
	if (rc < 0)
		return admin_unavailable(x, "cannot ask the node to drain");
	snprintf(x->detail, sizeof(x->detail), "node %s asked to drain", x->name);
	return admin_ok(202, json_pack("{s:s, s:s}", "id", x->name, "status", "draining"));
}

struct reply admin_get_openapi(struct ctx *x)
{
	struct reply r = admin_ok(200, NULL);

	(void)x;
	r.raw = MHD_create_response_from_buffer(admin_openapi_json_len, (void *)admin_openapi_json,
						MHD_RESPMEM_PERSISTENT);
	if (r.raw)
		MHD_add_response_header(r.raw, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	return r;
}

/* Prometheus text format: what every part counts, and the uploads by
 * state from the store. */
struct reply admin_get_metrics(struct ctx *x)
{
	static const struct {
		const char *name, *type, *help, *labels;
		enum gw_metric m;
		double scale;
	} metrics[] = {
		{ "ftpsgate_sessions", "gauge", "FTPS control connections open.", "", GW_M_SESSIONS, 1 },
		{ "ftpsgate_logins_total", "counter", "Logins by result.", "{result=\"ok\"}",
		  GW_M_LOGINS_OK, 1 },
		{ "ftpsgate_logins_total", NULL, NULL, "{result=\"failed\"}", GW_M_LOGINS_FAILED, 1 },
		{ "ftpsgate_tls_handshake_failures_total", "counter",
		  "TLS handshakes that failed, control and data.", "", GW_M_TLS_FAILURES, 1 },
		{ "ftpsgate_passive_ports_in_use", "gauge", "Passive listeners open.", "",
		  GW_M_PASSIVE_PORTS, 1 },
		{ "ftpsgate_transfers", "gauge", "Data transfers running.", "", GW_M_TRANSFERS, 1 },
		{ "ftpsgate_transfer_buffer_bytes", "gauge",
		  "Memory held for transfer data (uploads waiting for the disk included).", "",
		  GW_M_BUFFER_BYTES, 1 },
		{ "ftpsgate_received_bytes_total", "counter", "Upload bytes received.", "",
		  GW_M_BYTES_RECEIVED, 1 },
		{ "ftpsgate_uploads_received_total", "counter", "Uploads that arrived whole (226).", "",
		  GW_M_UPLOADS_RECEIVED, 1 },
		{ "ftpsgate_uploads_rejected_total", "counter",
		  "Uploads refused: not an age file for the account's keys.", "", GW_M_UPLOADS_REJECTED, 1 },
		{ "ftpsgate_imports_total", "counter", "Uploads imported.", "", GW_M_IMPORTS, 1 },
		{ "ftpsgate_import_seconds_total", "counter", "Time spent importing them.", "",
		  GW_M_IMPORT_MS, 0.001 },
		{ "ftpsgate_import_failures_total", "counter", "Import attempts that failed.", "",
		  GW_M_HOOK_FAILURES, 1 },
		{ "ftpsgate_bans_total", "counter",
		  "Bans given after failed logins (addresses and locked accounts).", "", GW_M_BANS, 1 },
		{ "ftpsgate_banned_refused_total", "counter",
		  "Connections and logins refused by a ban.", "", GW_M_BANNED_REFUSED, 1 },
		{ "ftpsgate_guard_full_total", "counter",
		  "Failed logins not counted: the table of failures was full.", "", GW_M_GUARD_FULL, 1 },
		{ "ftpsgate_hash_commands_total", "counter",
		  "HASH commands answered, by how: from the upload's record, or by reading the file.",
		  "{source=\"record\"}", GW_M_HASHES_RECORDED, 1 },
		{ "ftpsgate_hash_commands_total", NULL, NULL, "{source=\"file\"}", GW_M_HASHES_READ, 1 },
		{ "ftpsgate_login_cache_hits_total", "counter",
		  "Logins accepted from the verified-credential cache, without argon2id.", "",
		  GW_M_LOGIN_CACHE_HITS, 1 },
	};
	int64_t counts[STORE_STATES];
	struct gw_buf b;
	struct reply r = admin_ok(200, NULL);
	size_t i;

	gw_buf_init(&b, 64 * 1024);
	for (i = 0; i < GW_ARRAY_SIZE(metrics); i++) {
		if (metrics[i].type)
			gw_buf_addf(&b, "# HELP %s %s\n# TYPE %s %s\n", metrics[i].name, metrics[i].help,
				    metrics[i].name, metrics[i].type);
		if (metrics[i].scale == 1)
			gw_buf_addf(&b, "%s%s %lld\n", metrics[i].name, metrics[i].labels,
				    (long long)gw_metric_get(metrics[i].m));
		else
			gw_buf_addf(&b, "%s%s %.3f\n", metrics[i].name, metrics[i].labels,
				    (double)gw_metric_get(metrics[i].m) * metrics[i].scale);
	}
	gw_buf_addf(&b, "# HELP ftpsgate_node_info The node answering, and its version.\n"
			"# TYPE ftpsgate_node_info gauge\nftpsgate_node_info{node=\"%s\",version=\"%s\"} 1\n",
		    store_node_id(x->store), FTPSGATE_VERSION);
	gw_buf_addf(&b, "# HELP ftpsgate_bans Addresses and accounts banned now.\n"
			"# TYPE ftpsgate_bans gauge\nftpsgate_bans %zu\n",
		    gw_guard_bans(x->guard, gw_mono_ms()));
	if (store_upload_counts(x->store, counts) == 0) {
		gw_buf_adds(&b, "# HELP ftpsgate_uploads Uploads kept, by state.\n"
				"# TYPE ftpsgate_uploads gauge\n");
		for (i = 0; i < STORE_STATES; i++)
			gw_buf_addf(&b, "ftpsgate_uploads{state=\"%s\"} %lld\n",
				    store_upload_state_name(i), (long long)counts[i]);
	}
	r.raw = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
	if (!r.raw) {
		gw_buf_release(&b);
		return admin_problem(500, "out of memory");
	}
	MHD_add_response_header(r.raw, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4");
	return r;
}

