/* neigh_test: the neighbour table's ARP resolution state (retries, failure, refresh, learning). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "neigh.h"

static const uint8_t MAC1[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t MAC2[6] = {2, 0, 0, 0, 0, 2};

struct sent {
	unsigned n;
	uint32_t last;
};

static void on_send(void *arg, uint32_t ip)
{
	struct sent *s = arg;

	s->n++;
	s->last = ip;
}

static void test_resolve_retry_fail(void **state)
{
	struct neigh_table *nt = neigh_new(4);
	struct sent s = {0};
	uint8_t mac[6];

	(void)state;
	assert_false(neigh_lookup(nt, 1, mac));
	assert_true(neigh_resolve(nt, 1, 0));
	assert_false(neigh_resolve(nt, 1, 10)); /* pending */
	assert_int_equal(neigh_state(nt, 1), NEIGH_INCOMPLETE);
	neigh_timer(nt, 500, on_send, &s);
	assert_int_equal(s.n, 0);
	neigh_timer(nt, NEIGH_RETRY_MS, on_send, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.last, 1);
	neigh_timer(nt, 2 * NEIGH_RETRY_MS, on_send, &s);
	assert_int_equal(s.n, 2);
	neigh_timer(nt, 3 * NEIGH_RETRY_MS, on_send, &s);
	assert_int_equal(s.n, 2); /* NEIGH_TRIES requests sent: failed */
	assert_int_equal(neigh_state(nt, 1), NEIGH_FAILED);
	assert_false(neigh_resolve(nt, 1, 3 * NEIGH_RETRY_MS + 1));
	assert_true(neigh_resolve(nt, 1, 3 * NEIGH_RETRY_MS + NEIGH_FAILED_MS));
	/* An answer resolves it. */
	assert_true(neigh_learn(nt, 1, MAC1, false, 9000));
	assert_true(neigh_lookup(nt, 1, mac));
	assert_memory_equal(mac, MAC1, 6);
	assert_false(neigh_resolve(nt, 1, 9001));
	neigh_free(nt);
}

static void test_learn_refresh(void **state)
{
	struct neigh_table *nt = neigh_new(2);
	struct sent s = {0};
	uint8_t mac[6];

	(void)state;
	assert_false(neigh_learn(nt, 5, MAC1, false, 0)); /* not asked for, not created */
	assert_int_equal(neigh_state(nt, 5), 0);
	assert_true(neigh_learn(nt, 5, MAC1, true, 0));
	assert_false(neigh_learn(nt, 5, MAC1, true, 1)); /* unchanged */
	assert_true(neigh_learn(nt, 5, MAC2, false, 2)); /* changed */
	neigh_timer(nt, NEIGH_REFRESH_MS + 2, on_send, &s);
	assert_int_equal(s.n, 1);
	assert_true(neigh_lookup(nt, 5, mac)); /* still usable while refreshing */
	/* Full: the oldest entry is replaced. */
	assert_true(neigh_learn(nt, 6, MAC1, true, 10));
	assert_true(neigh_learn(nt, 7, MAC1, true, 20));
	assert_int_equal(neigh_state(nt, 5), 0);
	assert_int_equal(neigh_state(nt, 6), NEIGH_REACHABLE);
	/* An unresolved entry goes before a resolved one. */
	assert_true(neigh_resolve(nt, 8, 30));
	assert_true(neigh_learn(nt, 9, MAC1, true, 40));
	assert_int_equal(neigh_state(nt, 8), 0);
	assert_int_equal(neigh_state(nt, 7), NEIGH_REACHABLE);
	neigh_free(nt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_retry_fail),
		cmocka_unit_test(test_learn_refresh),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
