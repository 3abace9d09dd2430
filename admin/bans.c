/* bans.c - bans and account locks from failed logins: list, lift.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"

static const char *guard_kind_name(enum gw_guard_kind k)
{
	return k == GW_GUARD_ACCOUNT ? "account" : "address";
}

/* Addresses and account names with failed logins in the window, and
 * those banned (locked): what the FTPS side counts right now. */
struct reply admin_list_bans(struct ctx *x)
{
	enum { MAX = 1000 };
	struct gw_guard_entry *list = calloc(MAX, sizeof(*list));
	int64_t mono = gw_mono_ms(), now = gw_now_ms();
	size_t n, i;
	json_t *items;

	if (!list)
		return admin_problem(503, "out of memory");
	n = gw_guard_list(x->guard, mono, gw_live()->ban_window_s,
			  list, MAX);
	items = json_array();
	for (i = 0; i < n && i < MAX; i++)
		json_array_append_new(items, json_pack("{s:s, s:s, s:I, s:o}",
						       "kind", guard_kind_name(list[i].kind),
						       "key", list[i].key,
						       "failures", (json_int_t)list[i].failures,
						       "banned_until",
						       admin_time_or_null(list[i].banned_ms
									    ? now + list[i].banned_ms
									    : 0)));
	free(list);
	return admin_ok(200, json_pack("{s:o, s:I, s:b}", "items", items, "total", (json_int_t)n,
				       "truncated", n > MAX));
}

struct reply admin_lift_ban(struct ctx *x)
{
	const char *address = admin_query(x, "address"), *account = admin_query(x, "account");
	enum gw_guard_kind kind = account ? GW_GUARD_ACCOUNT : GW_GUARD_ADDRESS;
	const char *key = account ? account : address;
	struct reply err;

	if (admin_no_fields(x, &err) < 0)
		return err;
	if (!address == !account)
		return admin_problem(400, "name what to lift: ?address=IP or ?account=USERNAME");
	if (!gw_guard_lift(x->guard, kind, key))
		return admin_problem(404, "no failed logins or ban for %s '%.64s'",
				     guard_kind_name(kind), key);
	snprintf(x->detail, sizeof(x->detail), "ban of %s '%.64s' lifted", guard_kind_name(kind), key);
	return admin_no_content();
}

