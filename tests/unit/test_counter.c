/* Counts per key, and the counts other nodes hold beside them. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "gw.h"

static void sum(void *arg, const char *key, unsigned count)
{
	unsigned *total = arg;

	(void)key;
	*total += count;
}

int main(void)
{
	struct gw_counter *c;
	const char *keys[] = { "7", "192.0.2.1" };
	const unsigned counts[] = { 2, 5 };
	unsigned total = 0;

	CHECK_INT(gw_counter_new(&c), 0);
	/* alone: up to max */
	CHECK(gw_counter_take(c, "7", 3));
	CHECK(gw_counter_take(c, "7", 3));
	CHECK(gw_counter_take(c, "7", 3));
	CHECK(!gw_counter_take(c, "7", 3));
	gw_counter_give(c, "7");
	gw_counter_give(c, "7");
	/* others hold 2 of "7": one here fills 3 */
	CHECK_INT(gw_counter_set_others(c, keys, counts, 2), 0);
	CHECK(!gw_counter_take(c, "7", 3));
	CHECK(gw_counter_take(c, "7", 4));
	CHECK(gw_counter_take(c, "8", 1)); /* other keys as before */
	/* a key only others hold: refused at their count, and no entry is left */
	CHECK(!gw_counter_take(c, "192.0.2.1", 5));
	CHECK(gw_counter_take(c, "192.0.2.1", 0)); /* 0: no limit */
	gw_counter_give(c, "192.0.2.1");
	/* the local counts, without the others' */
	gw_counter_each(c, sum, &total);
	CHECK_INT(total, 3); /* "7": 2, "8": 1 */
	/* a new set replaces the last: nobody else holds any now */
	CHECK_INT(gw_counter_set_others(c, NULL, NULL, 0), 0);
	CHECK(gw_counter_take(c, "7", 3));
	CHECK(!gw_counter_take(c, "7", 3));
	gw_counter_free(c);
	return check_report("test_counter");
}
