/* ng_call_test: the call store's compact layout (tags inline or allocated, the first stream
 * inline, more streams allocated) and its indexes by call-id and by relay port pair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "ng_call.h"

static struct ng_call *add(struct ng_calls *cs, const char *id, const char *tag)
{
	return ng_calls_add(cs, id, strlen(id), tag, strlen(tag), NULL, 0, 1000, 1700000000);
}

static struct ng_call *add_branch(struct ng_calls *cs, const char *id, const char *tag,
				  const char *branch)
{
	return ng_calls_add(cs, id, strlen(id), tag, strlen(tag), branch, strlen(branch), 1000,
			    1700000000);
}

static void test_branches(void **state)
{
	struct ng_calls *cs = ng_calls_new(16);
	char longtag[300];
	struct ng_call *a, *b, *x;

	(void)state;
	memset(longtag, 'y', sizeof(longtag) - 1);
	longtag[sizeof(longtag) - 1] = 0;
	a = add_branch(cs, "fork@h", "t", "z9hG4bK-a");
	x = add(cs, "other", "t");
	b = add_branch(cs, "fork@h", longtag, "z9hG4bK-b");
	assert_non_null(a);
	assert_non_null(b);
	assert_null(ng_call_branch(x));
	assert_string_equal(ng_call_branch(a), "z9hG4bK-a");
	assert_string_equal(ng_call_branch(b), "z9hG4bK-b");
	assert_true(ng_call_branch_is(a, "z9hG4bK-a", 9));
	assert_false(ng_call_branch_is(a, "z9hG4bK-", 8));
	assert_false(ng_call_branch_is(x, "", 0));
	/* The branch lives after both tag rooms: setting tags never touches it. */
	assert_int_equal(ng_call_set_tag(a, 1, "to-15-characters", 16), 0);
	assert_int_equal(ng_call_set_tag(a, 1, "to-15-character", 15), 0);
	assert_int_equal(ng_call_set_tag(a, 0, "t2", 2), 0);
	assert_string_equal(ng_call_branch(a), "z9hG4bK-a");
	assert_string_equal(b->tag[0], longtag);
	/* Newest first, then older records of the same call-id only. */
	assert_ptr_equal(ng_calls_find(cs, "fork@h", 6), b);
	assert_ptr_equal(ng_calls_find_next(b), a);
	assert_null(ng_calls_find_next(a));
	assert_null(ng_calls_find_next(x));
	assert_int_equal(ng_calls_count(cs), 3);
	assert_int_equal(ng_calls_callids(cs), 2);
	ng_calls_remove(cs, b);
	assert_int_equal(ng_calls_callids(cs), 2);
	assert_ptr_equal(ng_calls_find(cs, "fork@h", 6), a);
	ng_calls_remove(cs, a);
	assert_int_equal(ng_calls_callids(cs), 1);
	assert_null(ng_calls_find(cs, "fork@h", 6));
	ng_calls_free(cs);
}

static void test_staged(void **state)
{
	struct ng_calls *cs = ng_calls_new(16);
	struct ng_call *c[40];
	struct ng_call_staged *s;
	char id[16];

	(void)state;
	for (unsigned i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "c%u", i);
		c[i] = add(cs, id, "t");
		assert_null(ng_calls_staged(cs, c[i], false));
	}
	/* More pending than side-table buckets: each record finds its own. */
	for (unsigned i = 0; i < 40; i++) {
		s = ng_calls_staged(cs, c[i], true);
		assert_non_null(s);
		assert_int_equal(s->mask, 0);
		s->mask = (uint16_t)(i + 1);
	}
	for (unsigned i = 0; i < 40; i++)
		assert_int_equal(ng_calls_staged(cs, c[i], false)->mask, i + 1);
	assert_ptr_equal(ng_calls_staged(cs, c[3], true), ng_calls_staged(cs, c[3], false));
	ng_calls_staged_drop(cs, c[3]);
	assert_null(ng_calls_staged(cs, c[3], false));
	ng_calls_staged_drop(cs, c[3]); /* twice: nothing */
	/* Removing a record frees its staged re-offer; freeing the store frees the rest. */
	ng_calls_remove(cs, c[4]);
	assert_int_equal(ng_calls_staged(cs, c[5], false)->mask, 6);
	ng_calls_free(cs);
}

static void test_tags(void **state)
{
	struct ng_calls *cs = ng_calls_new(16);
	char longtag[300];
	struct ng_call *c;

	(void)state;
	memset(longtag, 'x', sizeof(longtag) - 1);
	longtag[sizeof(longtag) - 1] = 0;
	c = add(cs, "call-1@host", "a1");
	assert_non_null(c);
	assert_string_equal(c->call_id, "call-1@host");
	assert_string_equal(c->tag[0], "a1");
	assert_null(c->tag[1]);
	assert_ptr_equal(ng_calls_find(cs, "call-1@host", 11), c);
	assert_null(ng_calls_find(cs, "call-1@hos", 10));

	/* The other party's tag: inline while it fits, else allocated; back and forth. */
	assert_int_equal(ng_call_set_tag(c, 1, "b-15-characters", 15), 0);
	assert_string_equal(c->tag[1], "b-15-characters");
	assert_int_equal(ng_call_set_tag(c, 1, longtag, strlen(longtag)), 0);
	assert_string_equal(c->tag[1], longtag);
	assert_int_equal(ng_call_set_tag(c, 1, "b2", 2), 0);
	assert_string_equal(c->tag[1], "b2");
	assert_int_equal(ng_call_tag_index(c, "b2", 2), 1);
	assert_int_equal(ng_call_tag_index(c, "a1", 2), 0);
	assert_int_equal(ng_call_tag_index(c, "a", 1), -1);
	/* Replacing the first tag never disturbs the second one's room. */
	assert_int_equal(ng_call_set_tag(c, 0, longtag, 40), 0);
	assert_int_equal(strlen(c->tag[0]), 40);
	assert_string_equal(c->tag[1], "b2");
	assert_int_equal(ng_call_set_tag(c, 0, "a", 1), 0);
	assert_string_equal(c->tag[0], "a");
	assert_string_equal(c->tag[1], "b2");
	assert_int_equal(ng_call_set_tag(c, 1, NULL, 0), 0);
	assert_null(c->tag[1]);
	assert_string_equal(c->call_id, "call-1@host");

	/* A from-tag too long for the inline room. */
	c = add(cs, "call-2", longtag);
	assert_non_null(c);
	assert_string_equal(c->tag[0], longtag);
	assert_int_equal(ng_call_set_tag(c, 1, "to", 2), 0);
	assert_string_equal(c->tag[1], "to");
	assert_int_equal(ng_calls_count(cs), 2);
	ng_calls_remove(cs, c);
	assert_int_equal(ng_calls_count(cs), 1);
	ng_calls_free(cs);
}

static void test_streams_and_ports(void **state)
{
	struct ng_calls *cs = ng_calls_new(16);
	struct ng_call *c, *d;

	(void)state;
	c = add(cs, "c", "t");
	d = add(cs, "d", "t");
	assert_ptr_equal(ng_calls_first(cs), c);
	assert_ptr_equal(ng_calls_next(c), d);
	assert_int_equal(ng_call_reserve(c, 1), 0);
	c->streams[0].ports.port[0] = 30000;
	c->streams[0].ports.port[1] = 30002;
	strcpy(c->streams[0].type, "audio");
	c->nstreams = 1;
	ng_calls_index_port(cs, 30000, c);
	ng_calls_index_port(cs, 30002, c);
	/* The RTCP port of a pair finds the same call. */
	assert_ptr_equal(ng_calls_by_port(cs, 30001), c);
	assert_ptr_equal(ng_calls_by_port(cs, 30002), c);
	assert_null(ng_calls_by_port(cs, 30004));

	/* Growing past the inline stream keeps the first one. */
	assert_int_equal(ng_call_reserve(c, 3), 0);
	assert_string_equal(c->streams[0].type, "audio");
	assert_int_equal(c->streams[0].ports.port[1], 30002);
	assert_int_equal(c->streams[2].ports.port[0], 0);
	assert_int_equal(ng_call_reserve(c, NG_CALL_MAX_STREAMS + 1), -E2BIG);
	assert_int_equal(ng_call_reserve(c, NG_CALL_MAX_STREAMS), 0);
	assert_string_equal(c->streams[0].type, "audio");

	ng_calls_remove(cs, c);
	assert_null(ng_calls_by_port(cs, 30000));
	assert_null(ng_calls_by_port(cs, 30003));
	assert_ptr_equal(ng_calls_first(cs), d);
	assert_int_equal(ng_calls_total(cs), 2);
	ng_calls_free(cs);
}

static void test_exp_pack(void **state)
{
	struct latch_expect e, back;
	struct ng_call_exp p;
	char buf[ADDR_STRLEN];

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_true(addr_parse("2001:db8::9", 11, &e.addr));
	e.rtp_port = 5004;
	e.rtcp_port = 5009;
	e.origin = LATCH_ORIGIN_SIP_SOURCE;
	e.flags = LATCH_F_RTCP_MUX | LATCH_F_LEARN_ANY;
	e.learn_window_ms = 3001; /* kept in units of 10 ms, rounded up, as the latch does */
	e.rebind_idle_ms = 600000;
	ng_call_exp_pack(&p, &e);
	ng_call_exp_unpack(&p, &back);
	assert_string_equal(addr_format(&back.addr, buf, sizeof(buf)), "2001:db8::9");
	assert_int_equal(back.rtp_port, 5004);
	assert_int_equal(back.rtcp_port, 5009);
	assert_int_equal(back.origin, LATCH_ORIGIN_SIP_SOURCE);
	assert_int_equal(back.flags, LATCH_F_RTCP_MUX | LATCH_F_LEARN_ANY);
	assert_int_equal(back.learn_window_ms, 3010);
	assert_int_equal(back.rebind_idle_ms, 600000);

	assert_true(addr_parse("203.0.113.9", 11, &e.addr));
	ng_call_exp_pack(&p, &e);
	ng_call_exp_unpack(&p, &back);
	assert_true(addr_equal(&back.addr, &e.addr));
	memset(&e.addr, 0, sizeof(e.addr));
	ng_call_exp_pack(&p, &e);
	ng_call_exp_unpack(&p, &back);
	assert_int_equal(back.addr.family, 0);
}

static void test_sizes(void **state)
{
	(void)state;
	/* docs/PERFORMANCE.md: memory per session. */
	assert_true(sizeof(struct ng_stream) <= 96);
	assert_true(offsetof(struct ng_call, str) <= 180);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags),	 cmocka_unit_test(test_branches),
		cmocka_unit_test(test_staged),	 cmocka_unit_test(test_streams_and_ports),
		cmocka_unit_test(test_exp_pack), cmocka_unit_test(test_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
