/* The failed-login table: windows, bans, lifting, and its bound. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "gw.h"

/* What the watcher heard: the last change. */
static struct {
	int calls;
	enum gw_guard_kind kind;
	char key[GW_GUARD_KEY_MAX + 1];
	int64_t left_ms;
} heard;

static void hear(void *arg, enum gw_guard_kind kind, const char *key, int64_t left_ms)
{
	(void)arg;
	heard.calls++;
	heard.kind = kind;
	snprintf(heard.key, sizeof(heard.key), "%s", key);
	heard.left_ms = left_ms;
}

/* Bans from elsewhere (another node) and the watcher that tells others. */
static void test_shared_bans(void)
{
	const struct gw_guard_policy p = { 2, 60, 100 };
	struct gw_guard *g;
	int64_t t = 5000000;

	CHECK_INT(gw_guard_new(4, &g), 0);
	gw_guard_watch(g, hear, NULL);
	/* a ban earned here is told, with its length; a failure is not */
	CHECK(!gw_guard_failed(g, GW_GUARD_ADDRESS, "192.0.2.7", &p, t));
	CHECK_INT(heard.calls, 0);
	CHECK(gw_guard_failed(g, GW_GUARD_ADDRESS, "192.0.2.7", &p, t));
	CHECK_INT(heard.calls, 1);
	CHECK_STR(heard.key, "192.0.2.7");
	CHECK_INT(heard.left_ms, 100000);
	/* a ban from elsewhere bans, is not told back, and never shortens one */
	gw_guard_ban(g, GW_GUARD_ADDRESS, "198.51.100.9", 5000, t);
	CHECK_INT(gw_guard_banned(g, GW_GUARD_ADDRESS, "198.51.100.9", t), 5000);
	gw_guard_ban(g, GW_GUARD_ADDRESS, "192.0.2.7", 10, t);
	CHECK_INT(gw_guard_banned(g, GW_GUARD_ADDRESS, "192.0.2.7", t), 100000);
	CHECK_INT(heard.calls, 1);
	/* lifted elsewhere: gone, not told; lifted here: told with 0 */
	gw_guard_ban(g, GW_GUARD_ADDRESS, "198.51.100.9", 0, t);
	CHECK_INT(gw_guard_banned(g, GW_GUARD_ADDRESS, "198.51.100.9", t), 0);
	CHECK_INT(heard.calls, 1);
	CHECK(gw_guard_lift(g, GW_GUARD_ADDRESS, "192.0.2.7"));
	CHECK_INT(heard.calls, 2);
	CHECK_INT(heard.left_ms, 0);
	/* a ban from elsewhere on a full table is dropped, not grown past max */
	for (int i = 0; i < 6; i++) {
		char key[32];

		snprintf(key, sizeof(key), "203.0.113.%d", i);
		gw_guard_ban(g, GW_GUARD_ADDRESS, key, 1000, t);
	}
	CHECK_INT(gw_guard_bans(g, t), 4);
	gw_guard_free(g);
}

int main(void)
{
	const struct gw_guard_policy p = { 3, 60, 100 }; /* 3 in 60 s: banned 100 s */
	struct gw_guard_entry list[8];
	struct gw_guard *g;
	char key[GW_GUARD_KEY_MAX + 8];
	int64_t t = 1000000;
	int i;

	CHECK_INT(gw_guard_new(4, &g), 0);
	/* Two failures, then the window passes: counting starts again. */
	CHECK(!gw_guard_failed(g, GW_GUARD_ADDRESS, "192.0.2.1", &p, t));
	CHECK(!gw_guard_failed(g, GW_GUARD_ADDRESS, "192.0.2.1", &p, t + 1000));
	t += 61000;
	CHECK(!gw_guard_failed(g, GW_GUARD_ADDRESS, "192.0.2.1", &p, t));
	CHECK(!gw_guard_failed(g, GW_GUARD_ADDRESS, "192.0.2.1", &p, t));
	CHECK_INT(gw_guard_banned(g, GW_GUARD_ADDRESS, "192.0.2.1", t), 0);
	/* The third within the window bans, for ban_s. */
	CHECK(gw_guard_failed(g, GW_GUARD_ADDRESS, "192.0.2.1", &p, t));
	CHECK_INT(gw_guard_banned(g, GW_GUARD_ADDRESS, "192.0.2.1", t), 100000);
	CHECK_INT(gw_guard_banned(g, GW_GUARD_ADDRESS, "192.0.2.1", t + 99999), 1);
	CHECK_INT(gw_guard_banned(g, GW_GUARD_ADDRESS, "192.0.2.1", t + 100000), 0);
	/* The same key of the other kind is another entry. */
	CHECK_INT(gw_guard_banned(g, GW_GUARD_ACCOUNT, "192.0.2.1", t), 0);
	CHECK_INT(gw_guard_bans(g, t), 1);
	/* A success forgets failures but not a ban. */
	gw_guard_succeeded(g, GW_GUARD_ADDRESS, "192.0.2.1");
	CHECK(gw_guard_banned(g, GW_GUARD_ADDRESS, "192.0.2.1", t) > 0);
	CHECK(!gw_guard_failed(g, GW_GUARD_ADDRESS, "192.0.2.2", &p, t));
	gw_guard_succeeded(g, GW_GUARD_ADDRESS, "192.0.2.2");
	CHECK_INT(gw_guard_list(g, t, 60, list, 8), 1);
	CHECK_STR(list[0].key, "192.0.2.1");
	CHECK_INT(list[0].kind, GW_GUARD_ADDRESS);
	CHECK_INT(list[0].banned_ms, 100000);
	/* Lifting forgets it; lifting what is not there says so. */
	CHECK(gw_guard_lift(g, GW_GUARD_ADDRESS, "192.0.2.1"));
	CHECK(!gw_guard_lift(g, GW_GUARD_ADDRESS, "192.0.2.1"));
	CHECK_INT(gw_guard_banned(g, GW_GUARD_ADDRESS, "192.0.2.1", t), 0);
	/* Full (4 per kind): a new key goes uncounted until entries expire;
	 * accounts have their own room. */
	for (i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "198.51.100.%d", i);
		gw_guard_failed(g, GW_GUARD_ADDRESS, key, &p, t);
	}
	CHECK_INT(gw_guard_list(g, t, 60, list, 8), 4);
	CHECK(!gw_guard_failed(g, GW_GUARD_ACCOUNT, "alice", &p, t));
	CHECK_INT(gw_guard_list(g, t, 60, list, 8), 5);
	CHECK(!gw_guard_failed(g, GW_GUARD_ADDRESS, "203.0.113.9", &p, t + 61000));
	CHECK_INT(gw_guard_list(g, t + 61000, 60, list, 8), 1);
	/* Keys longer than an address or a user name are not counted. */
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	CHECK(!gw_guard_failed(g, GW_GUARD_ACCOUNT, key, &p, t));
	/* max_failures 0: counted, never banned. */
	{
		const struct gw_guard_policy never = { 0, 60, 100 };

		for (i = 0; i < 10; i++)
			CHECK(!gw_guard_failed(g, GW_GUARD_ACCOUNT, "bob", &never, t));
	}
	gw_guard_free(g);
	test_shared_bans();
	return check_report("test_guard");
}
