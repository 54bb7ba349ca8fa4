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
	assert_null(session_table_new(0, 100));
	assert_null(session_table_new(30001, 30001));
	assert_null(session_table_new(40000, 30000));
}

static void test_lookup(void **state)
{
	struct session_table *st = session_table_new(30001, 30010); /* pairs 30002..30009 */
	struct latch_expect e;
	struct session_flow *f;
	enum latch_comp c;

	(void)state;
	exp_init(&e);
	assert_non_null(st);
	assert_int_equal(session_add(st, 30000, 30004, &e, 0), -EINVAL);
	assert_int_equal(session_add(st, 30003, 30004, &e, 0), -EINVAL); /* odd */
	assert_int_equal(session_add(st, 30010, 30004, &e, 0), -EINVAL); /* no RTCP port */
	assert_int_equal(session_add(st, 30002, 30004, &e, 0), 0);
	assert_int_equal(session_add(st, 30002, 30004, &e, 0), -EEXIST);
	assert_int_equal(session_add(st, 30008, 30002, &e, 0), 0);
	assert_int_equal(session_count(st), 2);

	f = session_lookup(st, 30002, &c);
	assert_non_null(f);
	assert_int_equal(c, LATCH_COMP_RTP);
	assert_true(f->used);
	assert_int_equal(f->port, 30002);
	assert_int_equal(f->peer_port, 30004);
	assert_ptr_equal(session_lookup(st, 30003, &c), f);
	assert_int_equal(c, LATCH_COMP_RTCP);
	assert_null(session_lookup(st, 30004, &c));
	assert_null(session_lookup(st, 30001, &c));
	assert_null(session_lookup(st, 30010, &c));
	assert_null(session_lookup(st, 65535, &c));
	assert_non_null(session_lookup(st, 30009, &c));

	assert_int_equal(session_update(st, 30002, &e, 10), 2);
	assert_int_equal(session_update(st, 30004, &e, 10), -ENOENT);
	assert_int_equal(session_del(st, 30004), -ENOENT);
	assert_int_equal(session_del(st, 30002), 0);
	assert_int_equal(session_del(st, 30002), -ENOENT);
	assert_null(session_lookup(st, 30002, &c));
	assert_int_equal(session_count(st), 1);
	session_table_free(st);
}

static void test_counters(void **state)
{
	struct session_table *st = session_table_new(30000, 30099);
	struct session_flow_stats s;
	struct latch_expect e;
	struct session_flow *f;
	enum latch_comp c;

	(void)state;
	exp_init(&e);
	assert_int_equal(session_flow_read(st, 30000, 1000, &s), -ENOENT);
	assert_int_equal(session_add(st, 30000, 30002, &e, 0), 0);
	f = session_lookup(st, 30001, &c);
	session_counter_add32(&f->pkts_in, 3);
	session_counter_add(&f->bytes_in, 480);
	f->last_seen_ms = 99;
	assert_int_equal(session_flow_read(st, 30000, 1000, &s), 0);
	assert_int_equal(s.pkts_in, 3);
	assert_int_equal(s.bytes_in, 480);
	assert_int_equal(s.last_seen_ms, 99);
	/* The worker keeps the low 32 bits of the clock; the reader rebuilds the full time. */
	f->last_seen_ms = 0xfffffff0u;
	assert_int_equal(session_flow_read(st, 30000, (1ull << 32) + 16, &s), 0);
	assert_int_equal(s.last_seen_ms, 0xfffffff0u);
	assert_int_equal(session_flow_read(st, 30000, (5ull << 32) + 16, &s), 0);
	assert_int_equal(s.last_seen_ms, (4ull << 32) + 0xfffffff0u);
	/* Two legs of a session within the budget (docs/PERFORMANCE.md). */
	assert_true(sizeof(struct session_flow) <= 88);
	/* A re-used slot starts from zero. */
	assert_int_equal(session_del(st, 30000), 0);
	assert_int_equal(session_add(st, 30000, 30002, &e, 0), 0);
	assert_int_equal(session_flow_read(st, 30000, 1000, &s), 0);
	assert_int_equal(s.pkts_in, 0);
	session_table_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_counters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
