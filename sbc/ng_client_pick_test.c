/* ng_client_pick_test: unit tests for where the ng client's requests go (ng_client_pick.c) — the
 * dataplane list, weights, call affinity, failover and recovery after ping — with fake dataplanes
 * on UDP sockets of 127.0.0.1 driven by the test while the loop's clock is moved by hand. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "ng_client_test_harness.h"

static void test_parse_dataplanes(void **state)
{
	struct ng_dataplane_cfg d[2];
	char buf[ADDR_STRLEN];

	(void)state;
	assert_int_equal(ng_client_parse_dataplanes("127.0.0.1:2223=3,[::1]:2224", d, 2), 2);
	assert_string_equal(addr_port_format(&d[0].addr, buf, sizeof(buf)), "127.0.0.1:2223");
	assert_int_equal(d[0].weight, 3);
	assert_int_equal(d[1].addr.ip.family, AF_INET6);
	assert_int_equal(d[1].addr.port, 2224);
	assert_int_equal(d[1].weight, 1);
	assert_int_equal(ng_client_parse_dataplanes("10.0.0.1:1=0", d, 2), 1);
	assert_int_equal(d[0].weight, 0);
	assert_int_equal(ng_client_parse_dataplanes("1.1.1.1:1,1.1.1.2:1,1.1.1.3:1", d, 2), -E2BIG);
	static const char *const bad[] = {"",
					  "x",
					  "1.2.3.4",
					  "1.2.3.4:0",
					  "1.2.3.4:1=abc",
					  "1.2.3.4:1=",
					  ",",
					  "1.2.3.4:1,,1.2.3.4:2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ng_client_parse_dataplanes(bad[i], d, 2), -EINVAL);
}

/* ---- several dataplanes ---- */

/* Sends offers for calls prefix0..prefixN-1, answers them ok and counts calls per dataplane. */
static void offers(struct ctx *x, const char *prefix, int n, int *per_dp)
{
	for (int i = 0; i < n; i++) {
		char cid[32];
		struct ng_params p;
		struct rec rec = {0};
		char d[DGRAM_MAX];
		int dp;

		snprintf(cid, sizeof(cid), "%s%d", prefix, i);
		p = offer_of(cid);
		assert_int_equal(ng_client_request(x->c, &p, on_reply, &rec, NULL), 0);
		dp = ng_client_call_dataplane(x->c, cid);
		assert_true(dp >= 0 && (size_t)dp < x->nf);
		per_dp[dp]++;
		assert_true(fake_pop(&x->f[dp], d) > 0);
		fake_answer(&x->f[dp], d, "d6:result2:oke");
		settle(x);
		assert_int_equal(rec.calls, 1);
		assert_int_equal(rec.status, NG_STATUS_OK);
		assert_int_equal(rec.dp, dp);
	}
}

static void test_weights_affinity(void **state)
{
	static const uint32_t w[] = {3, 1, 0};
	struct ctx x;
	int per_dp[3] = {0};
	struct rec rec = {0};
	struct ng_params p;
	char d[DGRAM_MAX];
	json_t *j;

	(void)state;
	ctx_open(&x, 3, w, 60000);
	offers(&x, "w", 8, per_dp);
	assert_int_equal(per_dp[0], 6);
	assert_int_equal(per_dp[1], 2);
	assert_int_equal(per_dp[2], 0); /* weight 0: no new calls */
	assert_int_equal(ng_client_calls(x.c), 8);

	/* Every request of a call goes to the dataplane of its first offer. */
	for (int i = 0; i < 8; i++) {
		char cid[32];
		int dp;

		snprintf(cid, sizeof(cid), "w%d", i);
		dp = ng_client_call_dataplane(x.c, cid);
		p = (struct ng_params){.cmd = NG_CMD_ANSWER,
				       .call_id = cid,
				       .from_tag = "ft",
				       .to_tag = "tt",
				       .sdp = "v=0\r\n",
				       .sdp_len = 5};
		assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, NULL), 0);
		assert_true(fake_pop(&x.f[dp], d) > 0);
		fake_answer(&x.f[dp], d, "d6:result2:oke");
		p = (struct ng_params){.cmd = NG_CMD_OFFER, .call_id = cid, .from_tag = "ft"};
		assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, NULL), 0);
		assert_true(fake_pop(&x.f[dp], d) > 0);
		fake_answer(&x.f[dp], d, "d6:result2:oke");
		settle(&x);
		for (size_t k = 0; k < x.nf; k++)
			assert_int_equal(fake_pop(&x.f[k], d), 0);
	}
	assert_int_equal(rec.calls, 16);
	j = ng_client_dump(x.c);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(j, "dataplanes"), 0), "calls")),
			 6);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(j, "dataplanes"), 1), "requests")),
			 2 * 3 + 1);
	json_decref(j);

	/* A delete unties the call even when it fails. */
	/* Smooth weighted round robin: 0 0 1 0, 0 0 1 0. */
	assert_int_equal(ng_client_call_dataplane(x.c, "w2"), 1);
	assert_int_equal(ng_client_call_dataplane(x.c, "w6"), 1);
	p = (struct ng_params){.cmd = NG_CMD_DELETE, .call_id = "w6"};
	assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, NULL), 0);
	assert_true(fake_pop(&x.f[1], d) > 0);
	fake_answer(&x.f[1], d, "d6:result5:error12:error-reason15:Unknown call-ide");
	settle(&x);
	assert_int_equal(rec.status, NG_STATUS_ERROR);
	assert_string_equal(rec.reason, "Unknown call-id");
	assert_int_equal(ng_client_call_dataplane(x.c, "w6"), -ENOENT);
	assert_int_equal(ng_client_calls(x.c), 7);
	assert_int_equal(ng_client_forget(x.c, "w2"), 0);
	assert_int_equal(ng_client_forget(x.c, "w2"), -ENOENT);
	assert_int_equal(ng_client_calls(x.c), 6);

	/* Requests to a given dataplane (list, statistics) bypass the selection. */
	p = (struct ng_params){.cmd = NG_CMD_STATISTICS};
	assert_int_equal(ng_client_request_to(x.c, 2, &p, on_reply, &rec, NULL), 0);
	assert_true(fake_pop(&x.f[2], d) > 0);
	fake_answer(&x.f[2], d, "d6:result2:ok10:statisticsdee");
	settle(&x);
	assert_int_equal(rec.dp, 2);
	assert_int_equal(rec.status, NG_STATUS_OK);
	ctx_close(&x);
}

static void test_failover_recovery(void **state)
{
	static const uint32_t w[] = {1, 1};
	struct ctx x;
	int per_dp[2] = {0};
	struct rec rec = {0};
	struct ng_params p;
	char d[DGRAM_MAX];
	unsigned pings;

	(void)state;
	ctx_open(&x, 2, w, 1000);
	offers(&x, "a", 4, per_dp);
	assert_int_equal(per_dp[0], 2);
	assert_int_equal(per_dp[1], 2);

	/* Dataplane 1 dies: its ping at 1000 goes unanswered until 4000. */
	x.f[1].auto_pong = false;
	at(&x, 1000);
	assert_int_equal(x.f[1].pings, 2);
	at(&x, 3999);
	assert_true(ng_client_dataplane_up(x.c, 1));
	at(&x, 4000);
	assert_false(ng_client_dataplane_up(x.c, 1));
	assert_true(ng_client_dataplane_up(x.c, 0));

	/* New calls all go to dataplane 0. */
	memset(per_dp, 0, sizeof(per_dp));
	offers(&x, "b", 4, per_dp);
	assert_int_equal(per_dp[0], 4);
	assert_int_equal(per_dp[1], 0);

	/* A call already on dataplane 1 stays there (its media is there). */
	p = (struct ng_params){.cmd = NG_CMD_DELETE, .call_id = "a1"};
	assert_int_equal(ng_client_call_dataplane(x.c, "a1"), 1);
	assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, NULL), 0);
	assert_true(fake_pop(&x.f[1], d) > 0);
	at(&x, 7000);
	assert_int_equal(rec.calls, 1);
	assert_int_equal(rec.status, NG_STATUS_TIMEOUT);
	assert_int_equal(rec.dp, 1);
	assert_int_equal(ng_client_call_dataplane(x.c, "a1"), -ENOENT);
	while (fake_pop(&x.f[1], d) > 0)
		;

	/* It comes back: the next ping is answered and it is in rotation again. */
	pings = x.f[1].pings;
	x.f[1].auto_pong = true;
	for (uint64_t t = 7000; t <= 11000 && !ng_client_dataplane_up(x.c, 1); t += 100)
		at(&x, t);
	assert_true(ng_client_dataplane_up(x.c, 1));
	assert_true(x.f[1].pings > pings);
	memset(per_dp, 0, sizeof(per_dp));
	offers(&x, "c", 4, per_dp);
	assert_int_equal(per_dp[0], 2);
	assert_int_equal(per_dp[1], 2);

	/* Both dead: a new call cannot be placed, the caller hears so at once. */
	x.f[0].auto_pong = false;
	x.f[1].auto_pong = false;
	at(&x, 20000);
	at(&x, 30000);
	assert_false(ng_client_dataplane_up(x.c, 0));
	assert_false(ng_client_dataplane_up(x.c, 1));
	p = offer_of("z");
	assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, NULL), -EHOSTUNREACH);
	assert_int_equal(ng_client_call_dataplane(x.c, "z"), -ENOENT);
	ctx_close(&x);
}

/* Many calls at once: the tables grow, replies in any order complete the right requests. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_dataplanes),
		cmocka_unit_test(test_weights_affinity),
		cmocka_unit_test(test_failover_recovery),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
