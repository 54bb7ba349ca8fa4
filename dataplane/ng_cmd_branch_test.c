/* ng_cmd_branch_test: which record and leg an offer or answer goes to over a call's life, through
 * ng_server_handle() and ng_cmd over a fake relay (ng_cmd_test_harness.c): forked branches (one
 * record per via-branch, a losing branch deleted alone) and re-offers (staged until their answer,
 * restored when refused, new streams set up at once). */
#include <stdlib.h>

#include "ng_cmd_test_harness.h"

static void test_fork_branches(void **state)
{
	struct ctx *c = *state;
	char a[256], b1[256], b2[256], body[512];
	const struct bencode_item *d, *tags, *m, *l;
	int64_t v;

	sdp_at(a, sizeof(a), "203.0.113.9", 4000, 0);
	sdp_at(b1, sizeof(b1), "198.51.100.1", 5000, 0);
	sdp_at(b2, sizeof(b2), "198.51.100.2", 6000, 0);
	/* One offer per outgoing branch: each its own ports and SDP. */
	reply_port(ng(c, "offer", "tagA", NULL, "z9hG4bK-b1", a), 30002);
	reply_port(ng(c, "offer", "tagA", NULL, "z9hG4bK-b2", a), 30006);
	assert_int_equal(c->f->streams, 2);
	/* A re-sent offer of a branch (new cookie) gets that branch's ports again. */
	reply_port(ng(c, "offer", "tagA", NULL, "z9hG4bK-b1", a), 30002);
	reply_port(ng(c, "offer", "tagA", NULL, "z9hG4bK-b2", a), 30006);
	assert_int_equal(c->f->streams, 2);
	assert_int_equal(ng_calls_count(ng_cmd_calls(c->nc)), 2);
	/* Each answer goes to its branch: the caller is told its leg of that branch. */
	reply_port(ng(c, "answer", "tagA", "tagB2", "z9hG4bK-b2", b2), 30004);
	reply_port(ng(c, "answer", "tagA", "tagB1", "z9hG4bK-b1", b1), 30000);
	exp_is(c, 30002, "198.51.100.1", 5000);
	exp_is(c, 30006, "198.51.100.2", 6000);
	exp_is(c, 30000, "203.0.113.9", 4000);
	exp_is(c, 30004, "203.0.113.9", 4000);
	/* Early media again from branch 1 (an 18x then the 2xx): still its record. */
	reply_port(ng(c, "answer", "tagA", "tagB1", "z9hG4bK-b1", b1), 30000);

	/* query shows every branch: the caller's tag with the medias of both. */
	d = send_req(c, "fq", body, simple(body, sizeof(body), "query", NULL, NULL));
	assert_true(result_is(d, "ok"));
	tags = bencode_dict_get(d, "tags");
	assert_non_null(bencode_dict_get(tags, "tagB1"));
	assert_true(bencode_str_eq(bencode_dict_get(bencode_dict_get(tags, "tagB2"), "via-branch"),
				   "z9hG4bK-b2"));
	l = bencode_dict_get(bencode_dict_get(tags, "tagA"), "medias");
	m = bencode_first(l);
	assert_non_null(m);
	assert_non_null(bencode_next(l, m));
	assert_null(bencode_next(l, bencode_next(l, m)));
	d = send_req(c, "fl", body, simple(body, sizeof(body), "list", NULL, NULL));
	l = bencode_dict_get(d, "calls");
	m = bencode_first(l);
	assert_true(bencode_str_eq(m, "call-1@192.168.1.10"));
	assert_null(bencode_next(l, m));
	d = send_req(c, "fs", body, simple(body, sizeof(body), "statistics", NULL, NULL));
	d = bencode_dict_get(bencode_dict_get(d, "statistics"), "currentstatistics");
	assert_true(bencode_dict_get_int(d, "sessionsown", &v));
	assert_int_equal(v, 1);
	assert_true(bencode_dict_get_int(d, "branches", &v));
	assert_int_equal(v, 2);

	/* Branch 1's 2xx wins: the other branch is deleted by its via-branch, alone. */
	assert_true(result_is(ng(c, "delete", "tagA", NULL, "z9hG4bK-b2", NULL), "ok"));
	assert_int_equal(c->f->freed, 1);
	assert_false(c->f->set[30004]);
	assert_false(c->f->set[30006]);
	assert_true(c->f->set[30000]);
	assert_true(c->f->set[30002]);
	assert_int_equal(ng_calls_count(ng_cmd_calls(c->nc)), 1);
	/* The winner's re-INVITE (to-tag) finds its record; a one-record call is deleted whole
	 * even when the via-branch names it. */
	reply_port(ng(c, "offer", "tagA", "tagB1", "z9hG4bK-re", a), 30002);
	assert_true(result_is(ng(c, "delete", "tagA", NULL, "z9hG4bK-b1", NULL), "ok"));
	assert_int_equal(c->f->freed, 2);
	assert_int_equal(ng_calls_count(ng_cmd_calls(c->nc)), 0);
}

static void test_fork_delete_all(void **state)
{
	struct ctx *c = *state;
	char a[256], b[256], body[512];

	sdp_at(a, sizeof(a), "203.0.113.9", 4000, 0);
	sdp_at(b, sizeof(b), "198.51.100.1", 5000, 0);
	ng(c, "offer", "tagA", NULL, "z9hG4bK-1", a);
	ng(c, "offer", "tagA", NULL, "z9hG4bK-2", a);
	ng(c, "offer", "tagA", NULL, "z9hG4bK-3", a);
	reply_port(ng(c, "answer", "tagA", "tagB", "z9hG4bK-2", b), 30004);
	/* A via-branch that names no record, or none at all (CANCEL, BYE): everything. */
	assert_true(result_is(ng(c, "delete", "tagA", NULL, "z9hG4bK-other", NULL), "ok"));
	assert_int_equal(c->f->freed, 3);
	assert_int_equal(ng_calls_count(ng_cmd_calls(c->nc)), 0);

	c->f->next_port = 30000;
	ng(c, "offer", "tagA", NULL, "z9hG4bK-1", a);
	ng(c, "offer", "tagA", NULL, "z9hG4bK-2", a);
	/* With a delete delay every record waits, then goes. */
	assert_true(result_is(
		send_req(c, "dd", body, simple(body, sizeof(body), "delete", "delete-delay", "5")),
		"ok"));
	assert_int_equal(c->f->freed, 3);
	ng_cmd_timer(c->nc, c->now.ms + 5000);
	assert_int_equal(c->f->freed, 5);
	assert_int_equal(ng_calls_count(ng_cmd_calls(c->nc)), 0);
}

static void test_branch_rules_kamailio(void **state)
{
	struct ctx *c = *state;
	char a[256], b[256], b2[256];

	sdp_at(a, sizeof(a), "203.0.113.9", 4000, 0);
	sdp_at(b, sizeof(b), "198.51.100.1", 5000, 0);
	sdp_at(b2, sizeof(b2), "198.51.100.2", 6000, 0);
	/* Kamailio sends the caller's Via branch on the offer and its own on the answer: the
	 * answer names no record and goes to the unanswered one. */
	reply_port(ng(c, "offer", "tagA", NULL, "z9hG4bK-ua", a), 30002);
	reply_port(ng(c, "answer", "tagA", "tagB", "z9hG4bK-proxy", b), 30000);
	exp_is(c, 30002, "198.51.100.1", 5000);
	/* Another fork answering without a known branch: last answer wins on the one record. */
	reply_port(ng(c, "answer", "tagA", "tagC", "z9hG4bK-proxy2", b2), 30000);
	exp_is(c, 30002, "198.51.100.2", 6000);
	/* An offer with a new via-branch once the call is answered is no new branch. */
	reply_port(ng(c, "offer", "tagA", NULL, "z9hG4bK-new", a), 30002);
	/* The callee's re-INVITE: from-tag and to-tag swapped. */
	reply_port(ng(c, "offer", "tagC", "tagA", "z9hG4bK-x", b2), 30000);
	assert_int_equal(c->f->streams, 1);
	assert_int_equal(ng_calls_count(ng_cmd_calls(c->nc)), 1);
}

static void test_branch_after_plain_offer(void **state)
{
	struct ctx *c = *state;
	char a[256];

	sdp_at(a, sizeof(a), "203.0.113.9", 4000, 0);
	/* A record created without via-branch is never forked: offers with or without one go to
	 * it, as before. */
	reply_port(ng(c, "offer", "tagA", NULL, NULL, a), 30002);
	reply_port(ng(c, "offer", "tagA", NULL, "z9hG4bK-1", a), 30002);
	reply_port(ng(c, "offer", "tagA", NULL, NULL, a), 30002);
	assert_int_equal(c->f->streams, 1);
	/* An offer without via-branch on a forked call goes to a record of its from-tag. */
	c->f->next_port = 30040;
	ng(c, "delete", NULL, NULL, NULL, NULL);
	reply_port(ng(c, "offer", "tagA", NULL, "z9hG4bK-1", a), 30042);
	reply_port(ng(c, "offer", "tagA", NULL, "z9hG4bK-2", a), 30046);
	assert_true(result_is(ng(c, "offer", "tagA", NULL, NULL, a), "ok"));
	assert_int_equal(ng_calls_count(ng_cmd_calls(c->nc)), 2);
	assert_true(result_is(ng(c, "offer", "x", NULL, "z9hG4bK", "v=0\r\nbad\r\n"), "error"));
}

static void test_reoffer_staged(void **state)
{
	struct ctx *c = *state;
	struct fake *f = c->f;
	char a[256], b[256], a2[256], a3[256], b3[256];
	unsigned updates;

	sdp_at(a, sizeof(a), "203.0.113.9", 4000, 0);
	sdp_at(b, sizeof(b), "198.51.100.1", 5000, 0);
	sdp_at(a2, sizeof(a2), "203.0.113.50", 4100, 0);
	sdp_at(a3, sizeof(a3), "203.0.113.60", 4200, 0);
	sdp_at(b3, sizeof(b3), "198.51.100.3", 5300, 0);
	ng(c, "offer", "tagA", NULL, "z9hG4bK-1", a);
	ng(c, "answer", "tagA", "tagB", "z9hG4bK-1", b);
	updates = f->updates;
	/* A re-INVITE: same relay SDP, but the media stays where it was until the answer. */
	reply_port(ng(c, "offer", "tagA", "tagB", "z9hG4bK-2", a2), 30002);
	assert_int_equal(f->updates, updates);
	exp_is(c, 30000, "203.0.113.9", 4000);
	/* A later offer replaces the staged one. */
	reply_port(ng(c, "offer", "tagA", "tagB", "z9hG4bK-3", a3), 30002);
	assert_int_equal(f->updates, updates);
	/* The answer switches both: one update each, the offerer's the last staged. */
	reply_port(ng(c, "answer", "tagA", "tagB", "z9hG4bK-3", b3), 30000);
	exp_is(c, 30000, "203.0.113.60", 4200);
	exp_is(c, 30002, "198.51.100.3", 5300);
	assert_int_equal(f->updates, updates + 2);
	/* An answer with nothing staged and the same SDP changes nothing (no relatch). */
	reply_port(ng(c, "answer", "tagA", "tagB", "z9hG4bK-3", b3), 30000);
	assert_int_equal(f->updates, updates + 2);
	/* The callee's re-INVITE stages its leg; the caller's answer installs it and, answering
	 * a re-offer, reopens learning on its own unchanged leg too. */
	reply_port(ng(c, "offer", "tagB", "tagA", "z9hG4bK-4", b), 30000);
	exp_is(c, 30002, "198.51.100.3", 5300);
	reply_port(ng(c, "answer", "tagB", "tagA", "z9hG4bK-4", a3), 30002);
	exp_is(c, 30002, "198.51.100.1", 5000);
	exp_is(c, 30000, "203.0.113.60", 4200);
	assert_int_equal(f->updates, updates + 4);
}

static void test_reoffer_refused_restore(void **state)
{
	struct ctx *c = *state;
	struct fake *f = c->f;
	char a[256], b[256], a2[256];
	unsigned updates, sets;

	sdp_at(a, sizeof(a), "203.0.113.9", 4000, 0);
	sdp_at(b, sizeof(b), "198.51.100.1", 5000, 0);
	sdp_at(a2, sizeof(a2), "203.0.113.50", 4100, 0);
	ng(c, "offer", "tagA", NULL, "z9hG4bK-1", a);
	ng(c, "answer", "tagA", "tagB", "z9hG4bK-1", b);
	updates = f->updates;
	sets = f->sets;
	reply_port(ng(c, "offer", "tagA", "tagB", "z9hG4bK-2", a2), 30002);
	/* Refused: sbc-sip puts back the previous offer and answer. The refused address was
	 * never installed; the replayed exchange is an answered re-offer, so both legs reopen
	 * learning on their old expectations (one update each, no new legs). */
	reply_port(ng(c, "offer", "tagA", "tagB", "z9hG4bK-2", a), 30002);
	assert_int_equal(f->updates, updates);
	exp_is(c, 30000, "203.0.113.9", 4000);
	reply_port(ng(c, "answer", "tagA", "tagB", "z9hG4bK-2", b), 30000);
	assert_int_equal(f->updates, updates + 2);
	assert_int_equal(f->sets, sets);
	exp_is(c, 30000, "203.0.113.9", 4000);
	exp_is(c, 30002, "198.51.100.1", 5000);
}

static void test_reoffer_new_stream(void **state)
{
	struct ctx *c = *state;
	struct fake *f = c->f;
	char a[256], b[256], a2[256], b2[256];
	unsigned updates, sets;

	sdp_at(a, sizeof(a), "203.0.113.9", 4000, 0);
	sdp_at(b, sizeof(b), "198.51.100.1", 5000, 0);
	sdp_at(a2, sizeof(a2), "203.0.113.50", 4100, 4102);
	sdp_at(b2, sizeof(b2), "198.51.100.1", 5000, 5002);
	ng(c, "offer", "tagA", NULL, NULL, a);
	ng(c, "answer", "tagA", "tagB", NULL, b);
	updates = f->updates;
	sets = f->sets;
	/* The re-offer adds video: the new stream is set up at once, as an initial offer; the
	 * audio stream waits for the answer. */
	assert_true(result_is(ng(c, "offer", "tagA", "tagB", NULL, a2), "ok"));
	assert_true(contains(c->reply, c->reply_len, "m=video 30006 "));
	assert_int_equal(f->sets, sets + 2);
	exp_is(c, 30004, "203.0.113.50", 4102);
	exp_is(c, 30000, "203.0.113.9", 4000);
	assert_int_equal(f->updates, updates);
	/* The answer carries both: audio's offerer leg switches and its answerer's leg (same
	 * address) reopens learning; video's answerer leg is installed. */
	assert_true(result_is(ng(c, "answer", "tagA", "tagB", NULL, b2), "ok"));
	exp_is(c, 30000, "203.0.113.50", 4100);
	exp_is(c, 30006, "198.51.100.1", 5002);
	assert_int_equal(f->updates, updates + 3);
	/* A staged re-offer dies with its call. */
	ng(c, "offer", "tagA", "tagB", NULL, a);
	assert_true(result_is(ng(c, "delete", NULL, NULL, NULL, NULL), "ok"));
	assert_int_equal(ng_calls_count(ng_cmd_calls(c->nc)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fork_branches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_delete_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_branch_rules_kamailio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_branch_after_plain_offer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reoffer_staged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reoffer_refused_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reoffer_new_stream, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
