/* session_test: the worker flow table (port -> flow, pairs, add/update/delete, shared counters). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "session.h"

static void exp_init(struct latch_expect *e)
{
	memset(e, 0, sizeof(*e));
	e->addr.family = AF_INET;
	inet_pton(AF_INET, "203.0.113.9", &e->addr.v4);
	e->rtp_port = 27910;
}

static void test_range(void **state)
{
	(void)state;
	assert_null(session_table_new(1, 0, 100));
	assert_null(session_table_new(1, 30001, 30001));
	assert_null(session_table_new(1, 40000, 30000));
	assert_null(session_table_new(0, 30000, 30099));
	assert_null(session_table_new(SESSION_MAX_ADDRS + 1, 30000, 30099));
}

/* Several media addresses: the same port is a different slot on each, O(1) either way. */
static void test_addrs(void **state)
{
	struct session_table *st = session_table_new(3, 1024, 65535);
	struct session_flow_stats s;
	struct latch_expect e;
	struct session_flow *f0, *f2;
	enum latch_comp c;

	(void)state;
	exp_init(&e);
	assert_non_null(st);
	assert_int_equal(session_addrs(st), 3);
	assert_int_equal(session_pairs(st), 32256);
	assert_int_equal(session_add(st, 0, 40000, 40002, &e, 0), 0);
	assert_int_equal(session_add(st, 2, 40000, 50000, &e, 0), 0);
	assert_int_equal(session_add(st, 2, 40000, 50000, &e, 0), -EEXIST);
	assert_int_equal(session_add(st, 3, 40000, 50000, &e, 0), -EINVAL);
	assert_int_equal(session_add(st, 2, 65534, 50000, &e, 0), 0); /* last pair, last address */
	assert_int_equal(session_count(st), 3);
	f0 = session_lookup(st, 0, 40001, &c);
	f2 = session_lookup(st, 2, 40001, &c);
	assert_non_null(f0);
	assert_non_null(f2);
	assert_ptr_not_equal(f0, f2);
	assert_int_equal(f2->peer_port, 50000);
	assert_null(session_lookup(st, 1, 40000, &c));
	assert_null(session_lookup(st, 3, 40000, &c));
	assert_non_null(session_lookup(st, 2, 65535, &c));
	assert_int_equal(c, LATCH_COMP_RTCP);
	session_prefetch(st, 2, 65535);
	session_prefetch(st, 7, 65535); /* outside: nothing */
	session_counter_add32(&f2->pkts_in, 5);
	f2->last_seen_ms = 10;
	assert_int_equal(session_flow_read(st, 2, 40000, 20, &s), 0);
	assert_int_equal(s.pkts_in, 5);
	assert_int_equal(session_flow_read(st, 0, 40000, 20, &s), 0);
	assert_int_equal(s.pkts_in, 0);
	assert_int_equal(session_flow_read(st, 1, 40000, 20, &s), -ENOENT);
	assert_int_equal(session_update(st, 1, 40000, &e, 10), -ENOENT);
	assert_int_equal(session_update(st, 2, 40000, &e, 10), 2);
	assert_int_equal(session_del(st, 1, 40000), -ENOENT);
	assert_int_equal(session_del(st, 2, 40000), 0);
	assert_null(session_lookup(st, 2, 40000, &c));
	assert_non_null(session_lookup(st, 0, 40000, &c));
	assert_int_equal(session_count(st), 2);
	session_table_free(st);
}

static void test_lookup(void **state)
{
	struct session_table *st = session_table_new(1, 30001, 30010); /* pairs 30002..30009 */
	struct latch_expect e;
	struct session_flow *f;
	enum latch_comp c;

	(void)state;
	exp_init(&e);
	assert_non_null(st);
	assert_int_equal(session_add(st, 0, 30000, 30004, &e, 0), -EINVAL);
	assert_int_equal(session_add(st, 0, 30003, 30004, &e, 0), -EINVAL); /* odd */
	assert_int_equal(session_add(st, 0, 30010, 30004, &e, 0), -EINVAL); /* no RTCP port */
	assert_int_equal(session_add(st, 0, 30002, 30004, &e, 0), 0);
	assert_int_equal(session_add(st, 0, 30002, 30004, &e, 0), -EEXIST);
	assert_int_equal(session_add(st, 0, 30008, 30002, &e, 0), 0);
	assert_int_equal(session_count(st), 2);

	f = session_lookup(st, 0, 30002, &c);
	assert_non_null(f);
	assert_int_equal(c, LATCH_COMP_RTP);
	assert_true(f->used);
	assert_int_equal(f->port, 30002);
	assert_int_equal(f->peer_port, 30004);
	assert_ptr_equal(session_lookup(st, 0, 30003, &c), f);
	assert_int_equal(c, LATCH_COMP_RTCP);
	assert_null(session_lookup(st, 0, 30004, &c));
	assert_null(session_lookup(st, 0, 30001, &c));
	assert_null(session_lookup(st, 0, 30010, &c));
	assert_null(session_lookup(st, 0, 65535, &c));
	assert_non_null(session_lookup(st, 0, 30009, &c));

	assert_int_equal(session_update(st, 0, 30002, &e, 10), 2);
	assert_int_equal(session_update(st, 0, 30004, &e, 10), -ENOENT);
	assert_int_equal(session_del(st, 0, 30004), -ENOENT);
	assert_int_equal(session_del(st, 0, 30002), 0);
	assert_int_equal(session_del(st, 0, 30002), -ENOENT);
	assert_null(session_lookup(st, 0, 30002, &c));
	assert_int_equal(session_count(st), 1);
	session_table_free(st);
}

static void test_counters(void **state)
{
	struct session_table *st = session_table_new(1, 30000, 30099);
	struct session_flow_stats s;
	struct latch_expect e;
	struct session_flow *f;
	enum latch_comp c;

	(void)state;
	exp_init(&e);
	assert_int_equal(session_flow_read(st, 0, 30000, 1000, &s), -ENOENT);
	assert_int_equal(session_add(st, 0, 30000, 30002, &e, 0), 0);
	f = session_lookup(st, 0, 30001, &c);
	session_counter_add32(&f->pkts_in, 3);
	session_counter_add(&f->bytes_in, 480);
	f->last_seen_ms = 99;
	assert_int_equal(session_flow_read(st, 0, 30000, 1000, &s), 0);
	assert_int_equal(s.pkts_in, 3);
	assert_int_equal(s.bytes_in, 480);
	assert_int_equal(s.last_seen_ms, 99);
	/* The worker keeps the low 32 bits of the clock; the reader rebuilds the full time. */
	f->last_seen_ms = 0xfffffff0u;
	assert_int_equal(session_flow_read(st, 0, 30000, (1ull << 32) + 16, &s), 0);
	assert_int_equal(s.last_seen_ms, 0xfffffff0u);
	assert_int_equal(session_flow_read(st, 0, 30000, (5ull << 32) + 16, &s), 0);
	assert_int_equal(s.last_seen_ms, (4ull << 32) + 0xfffffff0u);
	/* Two legs of a session within the budget (docs/PERFORMANCE.md). */
	assert_true(sizeof(struct session_flow) <= 88);
	/* A re-used slot starts from zero. */
	assert_int_equal(session_del(st, 0, 30000), 0);
	assert_int_equal(session_add(st, 0, 30000, 30002, &e, 0), 0);
	assert_int_equal(session_flow_read(st, 0, 30000, 1000, &s), 0);
	assert_int_equal(s.pkts_in, 0);
	session_table_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_addrs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
