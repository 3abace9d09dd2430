/* nodes.c - this node as the others and the API see it: what it reports
 * (sessions, transfers, draining), the list of nodes sharing the records,
 * and a drain asked of any of them.
 *
 * With PostgreSQL, each node's heartbeat (nodes_pg.c, about once a
 * second) writes its report and reads whether a drain was asked of it;
 * the list comes from those rows. With SQLite there is one node: this.
 */
#include <errno.h>
#include <string.h>

#include "gw.h"
#include "store_int.h"
#include "store_records.h"

void store_node_hooks(struct store *st, store_node_report_fn *report, store_node_drain_fn *drain,
		      void *arg)
{
	pthread_mutex_lock(&st->node_lock);
	st->node_report = report;
	st->node_drain = drain;
	st->node_arg = arg;
	pthread_mutex_unlock(&st->node_lock);
}

void store_node_report(struct store *st, struct store_node_report *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&st->node_lock);
	if (st->node_report)
		st->node_report(st->node_arg, out);
	pthread_mutex_unlock(&st->node_lock);
}

void store_node_drain_now(struct store *st, const char *why)
{
	store_node_drain_fn *fn;
	void *arg;

	pthread_mutex_lock(&st->node_lock);
	fn = st->drain_asked ? NULL : st->node_drain;
	arg = st->node_arg;
	if (fn)
		st->drain_asked = true;
	pthread_mutex_unlock(&st->node_lock);
	if (fn) {
		gw_info("daemon.drain", "%s", why);
		fn(arg);
	}
}

static void self_row(struct store *st, struct store_node *out)
{
	struct store_node_report rep;

	store_node_report(st, &rep);
	memset(out, 0, sizeof(*out));
	gw_strlcpy(out->node, st->node, sizeof(out->node));
	gw_strlcpy(out->version, FTPSGATE_VERSION, sizeof(out->version));
	out->started_at_ms = st->started_at_ms;
	out->seen_at_ms = gw_now_ms();
	out->sessions = rep.sessions;
	out->transfers = rep.transfers;
	out->draining = rep.draining;
	out->alive = out->self = true;
}

int store_nodes_list(struct store *st, struct store_node *items, unsigned max, unsigned *n)
{
	int64_t counts[STORE_STATES];
	bool listed = false;
	int r;

	*n = 0;
	if (max == 0)
		return 0;
	r = st->rec->nodes_list(st, items, max, n);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < *n; i++) {
		if (strcmp(items[i].node, st->node))
			continue;
		/* this node as it is now, not as its last heartbeat wrote it */
		int64_t receiving = items[i].uploads_receiving;

		self_row(st, &items[i]);
		items[i].uploads_receiving = receiving;
		listed = true;
	}
	if (listed)
		return 0;
	/* one node (SQLite), or before its first heartbeat: this one first */
	if (*n == max)
		(*n)--;
	memmove(items + 1, items, *n * sizeof(*items));
	self_row(st, &items[0]);
	r = st->rec->upload_counts(st, counts);
	for (size_t k = 0; r == 0 && k < STORE_STATES; k++)
		if (!strcmp(store_upload_state_name(k), "receiving"))
			items[0].uploads_receiving = counts[k];
	(*n)++;
	return r;
}

int store_node_drain(struct store *st, const char *node)
{
	if (!strcmp(node, st->node)) {
		store_node_drain_now(st, "a drain of this node was asked through its API");
		return 0;
	}
	return st->rec->node_drain(st, node);
}
