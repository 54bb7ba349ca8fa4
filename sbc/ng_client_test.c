/* ng_client_test: unit tests for the ng client's requests (ng_client.c) — encoding, and real UDP
 * sockets on 127.0.0.1 and ::1 acting as dataplanes driven by the test while the loop's clock is
 * moved by hand: retransmission schedule, timeouts, exactly-once callbacks, replies matched by
 * cookie and source, cancels, many requests at once. Where requests go: ng_client_pick_test. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "ng_client_test_harness.h"

/* The string under key in the body of datagram d, NUL-terminated into out. */
static void body_str(const char *d, const char *key, char *out, size_t cap)
{
	const char *body = strchr(d, ' ') + 1;
	struct bencode_item *items = bencode_decode_new(body, strlen(body), 1024, NULL);
	const char *s;
	size_t len;

	assert_non_null(items);
	assert_true(bencode_dict_get_str(items, key, &s, &len));
	snprintf(out, cap, "%.*s", (int)len, s);
	free(items);
}

/* ---- encoding ---- */

static void expect_bytes(const char *buf, size_t len, const char *want)
{
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
}

static void test_encode(void **state)
{
	struct addr_ip rf;
	struct ng_params p = offer_of("call-1");
	char buf[2048];
	struct bencode_writer w;
	struct bencode_item *items;
	const struct bencode_item *l, *e;
	size_t len;
	int64_t v;

	(void)state;
	assert_true(addr_parse("203.0.113.7", 11, &rf));
	p.to_tag = "tt";
	p.via_branch = "z9hG4bK1";
	p.received_from = &rf;
	p.flags = NG_FLAG_SIP_SOURCE_ADDRESS | NG_FLAG_STRICT_SOURCE;
	p.replace = NG_REPLACE_ORIGIN | NG_REPLACE_SESSION_CONNECTION;
	p.ice_remove = true;
	p.has_delete_delay = true;
	p.delete_delay_s = 0;
	assert_true(ng_params_size(&p) < sizeof(buf));
	bencode_writer_init(&w, buf, ng_params_size(&p));
	assert_int_equal(ng_params_encode(&p, &w), 0);
	assert_int_equal(bencode_writer_finish(&w, &len), 0);
	items = bencode_decode_new(buf, len, 1024, NULL);
	assert_non_null(items);
	assert_true(bencode_str_eq(bencode_dict_get(items, "command"), "offer"));
	assert_true(bencode_str_eq(bencode_dict_get(items, "call-id"), "call-1"));
	assert_true(bencode_str_eq(bencode_dict_get(items, "from-tag"), "ft"));
	assert_true(bencode_str_eq(bencode_dict_get(items, "to-tag"), "tt"));
	assert_true(bencode_str_eq(bencode_dict_get(items, "via-branch"), "z9hG4bK1"));
	assert_true(bencode_str_eq(bencode_dict_get(items, "sdp"), p.sdp));
	assert_true(bencode_str_eq(bencode_dict_get(items, "ICE"), "remove"));
	assert_true(bencode_dict_get_int(items, "delete delay", &v));
	assert_int_equal(v, 0);
	l = bencode_dict_get(items, "received-from");
	assert_non_null(l);
	assert_int_equal(l->count, 2);
	e = bencode_first(l);
	assert_true(bencode_str_eq(e, "IP4"));
	assert_true(bencode_str_eq(bencode_next(l, e), "203.0.113.7"));
	l = bencode_dict_get(items, "flags");
	assert_int_equal(l->count, 2);
	e = bencode_first(l);
	assert_true(bencode_str_eq(e, "SIP-source-address"));
	assert_true(bencode_str_eq(bencode_next(l, e), "strict-source"));
	l = bencode_dict_get(items, "replace");
	assert_int_equal(l->count, 2);
	e = bencode_first(l);
	assert_true(bencode_str_eq(e, "origin"));
	assert_true(bencode_str_eq(bencode_next(l, e), "session-connection"));
	assert_null(bencode_dict_get(items, "limit"));
	free(items);

	/* IPv6 received-from, trust-address, nothing optional. */
	assert_true(addr_parse("2001:db8::1", 11, &rf));
	p = (struct ng_params){.cmd = NG_CMD_ANSWER,
			       .call_id = "c",
			       .received_from = &rf,
			       .flags = NG_FLAG_TRUST_ADDRESS};
	bencode_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(ng_params_encode(&p, &w), 0);
	assert_int_equal(bencode_writer_finish(&w, &len), 0);
	expect_bytes(buf, len,
		     "d7:command6:answer7:call-id1:c13:received-froml3:IP611:2001:db8::1e"
		     "5:flagsl13:trust-addressee");

	/* A list without a call, with a limit. */
	p = (struct ng_params){.cmd = NG_CMD_LIST, .limit = 10};
	bencode_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(ng_params_encode(&p, &w), 0);
	assert_int_equal(bencode_writer_finish(&w, &len), 0);
	expect_bytes(buf, len, "d7:command4:list5:limiti10ee");

	/* Call commands need a call-id; unknown commands and families are refused. */
	p = (struct ng_params){.cmd = NG_CMD_DELETE};
	bencode_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(ng_params_encode(&p, &w), -EINVAL);
	p.call_id = "";
	assert_int_equal(ng_params_encode(&p, &w), -EINVAL);
	p = (struct ng_params){.cmd = (enum ng_cmd)99};
	assert_int_equal(ng_params_encode(&p, &w), -EINVAL);
	rf.family = 0;
	p = (struct ng_params){.cmd = NG_CMD_PING, .received_from = &rf};
	assert_int_equal(ng_params_encode(&p, &w), -EINVAL);
}

static void test_bad_config(void **state)
{
	struct loop *lp = loop_new();
	struct ng_dataplane_cfg d = {.weight = 1};
	struct ng_client_cfg cfg = {.dataplanes = &d, .n_dataplanes = 1};

	(void)state;
	assert_non_null(lp);
	errno = 0;
	assert_null(ng_client_new(lp, &cfg)); /* no address family */
	assert_int_equal(errno, EINVAL);
	cfg.n_dataplanes = 0;
	assert_null(ng_client_new(lp, &cfg));
	assert_int_equal(loop_timer_count(lp), 0);
	loop_free(lp);
}

/* ---- one dataplane ---- */

static void test_reply_ok(void **state)
{
	static const uint32_t w[] = {1};
	struct ctx x;
	struct rec rec = {0};
	struct ng_params p = offer_of("call-1");
	char d[DGRAM_MAX], v[256];
	uint64_t id = 0;
	json_t *j;

	(void)state;
	ctx_open(&x, 1, w, 60000);
	assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, &id), 0);
	assert_true(id != 0);
	assert_int_equal(ng_client_pending(x.c), 1);
	assert_int_equal(ng_client_call_dataplane(x.c, "call-1"), 0);
	assert_true(fake_pop(&x.f[0], d) > 0);
	body_str(d, "command", v, sizeof(v));
	assert_string_equal(v, "offer");
	body_str(d, "call-id", v, sizeof(v));
	assert_string_equal(v, "call-1");
	fake_answer(&x.f[0], d, "d6:result2:ok3:sdp5:v=0\r\ne");
	settle(&x);
	assert_int_equal(rec.calls, 1);
	assert_int_equal(rec.status, NG_STATUS_OK);
	assert_int_equal(rec.dp, 0);
	assert_true(rec.has_sdp);
	assert_string_equal(rec.sdp, "v=0\r\n");
	assert_int_equal(ng_client_pending(x.c), 0);
	assert_int_equal(ng_client_cancel(x.c, id), -ENOENT);

	/* The dataplane answers twice (a retransmitted reply): the second one is stray. */
	fake_answer(&x.f[0], d, "d6:result2:ok3:sdp5:v=0\r\ne");
	settle(&x);
	assert_int_equal(rec.calls, 1);

	j = ng_client_dump(x.c);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "stray_replies")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "calls")), 1);
	assert_true(json_is_true(
		json_object_get(json_array_get(json_object_get(j, "dataplanes"), 0), "up")));
	json_decref(j);

	/* A second request gets another cookie; a delete unties the call. */
	p = (struct ng_params){.cmd = NG_CMD_DELETE, .call_id = "call-1"};
	assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, NULL), 0);
	{
		char d2[DGRAM_MAX];

		assert_true(fake_pop(&x.f[0], d2) > 0);
		assert_true(strncmp(d, d2, (size_t)(strchr(d, ' ') - d)) != 0);
		fake_answer(&x.f[0], d2, "d6:result2:oke");
	}
	settle(&x);
	assert_int_equal(rec.calls, 2);
	assert_int_equal(rec.status, NG_STATUS_OK);
	assert_false(rec.has_sdp);
	assert_int_equal(ng_client_calls(x.c), 0);
	assert_int_equal(ng_client_call_dataplane(x.c, "call-1"), -ENOENT);
	{
		/* Too large for one datagram: refused at once, nothing left behind. */
		struct ng_params big = offer_of("call-big");
		char *sdp = malloc(70000);

		assert_non_null(sdp);
		memset(sdp, 'a', 70000);
		big.sdp = sdp;
		big.sdp_len = 70000;
		assert_int_equal(ng_client_request(x.c, &big, on_reply, &rec, NULL), -EMSGSIZE);
		assert_int_equal(ng_client_call_dataplane(x.c, "call-big"), -ENOENT);
		free(sdp);
	}
	assert_int_equal(rec.calls, 2);
	ctx_close(&x);
}

static void test_retransmit_timeout(void **state)
{
	static const uint32_t w[] = {1};
	struct ctx x;
	struct rec rec = {0};
	struct ng_params p = offer_of("call-t");
	char d0[DGRAM_MAX], d[DGRAM_MAX];
	size_t n0;

	(void)state;
	ctx_open(&x, 1, w, 60000);
	assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, NULL), 0);
	n0 = fake_pop(&x.f[0], d0);
	assert_true(n0 > 0);
	/* 500 ms, then doubling: resends at 500 and 1500 (3500 is past the 3000 ms timeout). */
	at(&x, 499);
	assert_int_equal(fake_pop(&x.f[0], d), 0);
	at(&x, 500);
	assert_int_equal(fake_pop(&x.f[0], d), n0);
	assert_memory_equal(d, d0, n0); /* the same cookie: the server's cache recognises it */
	at(&x, 1499);
	assert_int_equal(fake_pop(&x.f[0], d), 0);
	at(&x, 1500);
	assert_int_equal(fake_pop(&x.f[0], d), n0);
	at(&x, 2999);
	assert_int_equal(fake_pop(&x.f[0], d), 0);
	assert_int_equal(rec.calls, 0);
	assert_true(ng_client_dataplane_up(x.c, 0));
	at(&x, 3000);
	assert_int_equal(rec.calls, 1);
	assert_int_equal(rec.status, NG_STATUS_TIMEOUT);
	assert_string_equal(rec.reason, "timeout");
	assert_int_equal(ng_client_pending(x.c), 0);
	/* The failed first offer leaves no trace of the call; the dataplane is out of rotation. */
	assert_int_equal(ng_client_calls(x.c), 0);
	assert_false(ng_client_dataplane_up(x.c, 0));
	assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, NULL), -EHOSTUNREACH);

	/* A late answer completes nothing, but proves nothing either: the dataplane is only put
	 * back by a reply to something in flight. */
	fake_answer(&x.f[0], d0, "d6:result2:oke");
	settle(&x);
	assert_int_equal(rec.calls, 1);
	assert_false(ng_client_dataplane_up(x.c, 0));
	assert_int_equal(fake_pop(&x.f[0], d), 0);
	ctx_close(&x);
}

static void test_max_retrans(void **state)
{
	struct ctx x;
	struct rec rec = {0};
	struct ng_params p = offer_of("call-m");
	struct ng_client_cfg cfg = {.retrans_ms = 100,
				    .max_retrans = 2,
				    .timeout_ms = 5000,
				    .ping_interval_ms = 60000,
				    .seed = 7};
	char d[DGRAM_MAX];
	unsigned sends = 0;

	(void)state;
	ctx_init(&x);
	fake_open(&x.f[0], AF_INET, 1);
	x.nf = 1;
	ctx_start(&x, &cfg);
	assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, NULL), 0);
	/* Sends at 0, 100, 300 and no more; the timeout still waits for 5000. */
	for (uint64_t t = 0; t <= 5000; t += 50) {
		at(&x, t);
		while (fake_pop(&x.f[0], d) > 0)
			sends++;
		if (t < 5000)
			assert_int_equal(rec.calls, 0);
		if (t == 300)
			assert_int_equal(sends, 3);
	}
	assert_int_equal(sends, 3);
	assert_int_equal(rec.calls, 1);
	assert_int_equal(rec.status, NG_STATUS_TIMEOUT);
	ctx_close(&x);
}

static void test_late_answer(void **state)
{
	static const uint32_t w[] = {1};
	struct ctx x;
	struct rec rec = {0};
	struct ng_params p = offer_of("call-l");
	char d0[DGRAM_MAX], d1[DGRAM_MAX];

	(void)state;
	ctx_open(&x, 1, w, 60000);
	assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, NULL), 0);
	assert_true(fake_pop(&x.f[0], d0) > 0);
	at(&x, 500);
	assert_true(fake_pop(&x.f[0], d1) > 0);
	/* The server answers the original and, from its cache, the retransmission. */
	fake_answer(&x.f[0], d0, "d6:result2:ok3:sdp1:xe");
	fake_answer(&x.f[0], d1, "d6:result2:ok3:sdp1:xe");
	settle(&x);
	assert_int_equal(rec.calls, 1);
	assert_int_equal(rec.status, NG_STATUS_OK);
	assert_string_equal(rec.sdp, "x");
	/* No retransmission and no callback afterwards. */
	at(&x, 5000);
	assert_int_equal(fake_pop(&x.f[0], d1), 0);
	assert_int_equal(rec.calls, 1);
	assert_int_equal(ng_client_call_dataplane(x.c, "call-l"), 0);
	ctx_close(&x);
}

static void test_error_and_garbage(void **state)
{
	static const uint32_t w[] = {1};
	struct ctx x;
	struct rec rec = {0};
	struct ng_params p = offer_of("call-e");
	char d[DGRAM_MAX], other[DGRAM_MAX];
	int rogue;
	json_t *j;

	(void)state;
	ctx_open(&x, 1, w, 60000);

	/* An error reply: the reason is the dataplane's; a failed first offer unties the call. */
	assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, NULL), 0);
	assert_true(fake_pop(&x.f[0], d) > 0);
	fake_answer(&x.f[0], d, "d6:result5:error12:error-reason22:Failed to parse SDP: xe");
	settle(&x);
	assert_int_equal(rec.calls, 1);
	assert_int_equal(rec.status, NG_STATUS_ERROR);
	assert_string_equal(rec.reason, "Failed to parse SDP: x");
	assert_int_equal(ng_client_calls(x.c), 0);
	assert_true(ng_client_dataplane_up(x.c, 0));

	/* Garbage and other cookies are ignored until the real reply comes. */
	assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, NULL), 0);
	assert_true(fake_pop(&x.f[0], d) > 0);
	fake_send(&x.f[0], "xyz", 3, "d6:result2:oke");
	fake_send(&x.f[0], "0000002a_99999999999999999999999", 32, "d6:result2:oke");
	assert_true(sendto(x.f[0].fd, "garbage", 7, 0, (struct sockaddr *)&x.f[0].peer,
			   x.f[0].peerlen) == 7);
	/* The right cookie from a socket that is not the dataplane. */
	rogue = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(rogue >= 0);
	snprintf(other, sizeof(other), "%.*s d6:result2:oke", (int)(strchr(d, ' ') - d), d);
	assert_true(sendto(rogue, other, strlen(other), 0, (struct sockaddr *)&x.f[0].peer,
			   x.f[0].peerlen) == (ssize_t)strlen(other));
	close(rogue);
	settle(&x);
	assert_int_equal(rec.calls, 1);
	j = ng_client_dump(x.c);
	assert_int_equal(json_integer_value(json_object_get(j, "stray_replies")), 4);
	json_decref(j);
	fake_answer(&x.f[0], d, "d6:result2:oke");
	settle(&x);
	assert_int_equal(rec.calls, 2);
	assert_int_equal(rec.status, NG_STATUS_OK);

	/* A reply under our cookie that is no ng reply ends the request as BAD_REPLY. */
	p.call_id = "call-e2";
	assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, NULL), 0);
	assert_true(fake_pop(&x.f[0], d) > 0);
	fake_answer(&x.f[0], d, "d6:result");
	settle(&x);
	assert_int_equal(rec.calls, 3);
	assert_int_equal(rec.status, NG_STATUS_BAD_REPLY);
	assert_string_equal(rec.reason, "undecodable reply");
	assert_int_equal(ng_client_call_dataplane(x.c, "call-e2"), -ENOENT);
	p.call_id = "call-e3";
	assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, NULL), 0);
	assert_true(fake_pop(&x.f[0], d) > 0);
	fake_answer(&x.f[0], d, "d6:resulti1ee");
	settle(&x);
	assert_int_equal(rec.calls, 4);
	assert_int_equal(rec.status, NG_STATUS_BAD_REPLY);
	/* An error without a reason still says something. */
	assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, NULL), 0);
	assert_true(fake_pop(&x.f[0], d) > 0);
	fake_answer(&x.f[0], d, "d6:result5:errore");
	settle(&x);
	assert_int_equal(rec.calls, 5);
	assert_int_equal(rec.status, NG_STATUS_ERROR);
	assert_string_equal(rec.reason, "error without a reason");
	at(&x, 10000);
	assert_int_equal(rec.calls, 5);
	assert_int_equal(ng_client_pending(x.c), 0);
	ctx_close(&x);
}

static void test_cancel(void **state)
{
	static const uint32_t w[] = {1};
	struct ctx x;
	struct rec a = {0}, b = {0}, c2 = {0};
	struct ng_params pa = offer_of("call-a"), pb = offer_of("call-b"), pc = offer_of("call-c");
	char da[DGRAM_MAX], d[DGRAM_MAX];
	uint64_t ida, idb;

	(void)state;
	ctx_open(&x, 1, w, 60000);
	assert_int_equal(ng_client_request(x.c, &pa, on_reply, &a, &ida), 0);
	assert_int_equal(ng_client_request(x.c, &pb, on_reply, &b, &idb), 0);
	assert_true(ida != idb);
	assert_int_equal(ng_client_calls(x.c), 2);
	/* b's owner goes away: no callback, no retransmission; the call stays tied (the offer may
	 * have run) until a delete or a forget. */
	assert_int_equal(ng_client_cancel(x.c, idb), 0);
	assert_int_equal(ng_client_cancel(x.c, idb), -ENOENT);
	assert_int_equal(ng_client_cancel(x.c, 12345), -ENOENT);
	assert_int_equal(ng_client_call_dataplane(x.c, "call-b"), 0);
	assert_int_equal(ng_client_forget(x.c, "call-b"), 0);
	assert_int_equal(ng_client_pending(x.c), 1);
	assert_true(fake_pop(&x.f[0], da) > 0);
	assert_true(fake_pop(&x.f[0], d) > 0); /* b's first send */

	/* A cancelled delete unties its call all the same. */
	assert_int_equal(ng_client_call_dataplane(x.c, "call-a"), 0);
	{
		struct ng_params pd = {.cmd = NG_CMD_DELETE, .call_id = "call-a2"};
		struct ng_params po = offer_of("call-a2");
		uint64_t ido, idd;

		assert_int_equal(ng_client_request(x.c, &po, on_reply, &b, &ido), 0);
		assert_int_equal(ng_client_request(x.c, &pd, on_reply, &b, &idd), 0);
		assert_int_equal(ng_client_cancel(x.c, idd), 0);
		assert_int_equal(ng_client_call_dataplane(x.c, "call-a2"), -ENOENT);
		assert_int_equal(ng_client_cancel(x.c, ido), 0);
		assert_true(fake_pop(&x.f[0], d) > 0);
		assert_true(fake_pop(&x.f[0], d) > 0);
		assert_true(strstr(d, "6:delete") != NULL);
	}

	/* From inside a's callback: cancel a request and start another. */
	a.c = x.c;
	assert_int_equal(ng_client_request(x.c, &pb, on_reply, &b, &idb), 0);
	assert_true(fake_pop(&x.f[0], d) > 0);
	a.cancel_id = idb;
	a.chain = &pc;
	a.chain_rec = &c2;
	fake_answer(&x.f[0], da, "d6:result2:oke");
	fake_answer(&x.f[0], d, "d6:result2:oke"); /* b's reply arrives after its cancel */
	settle(&x);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.cancel_rc, 0);
	assert_int_equal(a.chain_rc, 0);
	assert_int_equal(b.calls, 0);
	assert_int_equal(ng_client_pending(x.c), 1); /* c */
	assert_true(fake_pop(&x.f[0], d) > 0);
	assert_true(strstr(d, "call-c") != NULL);
	at(&x, 10000);
	assert_int_equal(b.calls, 0);
	assert_int_equal(c2.calls, 1);
	assert_int_equal(c2.status, NG_STATUS_TIMEOUT);
	assert_int_equal(ng_client_pending(x.c), 0);

	/* Requests still pending when the client is freed are dropped without callbacks (ASan
	 * checks that nothing leaks). */
	assert_int_equal(ng_client_request_to(x.c, 0, &pa, on_reply, &a, NULL), 0);
	assert_int_equal(ng_client_request_to(x.c, 1, &pa, on_reply, &a, NULL), -EINVAL);
	assert_int_equal(ng_client_request(x.c, &pa, NULL, NULL, NULL), -EINVAL);
	ctx_close(&x);
	assert_int_equal(a.calls, 1);
}

/* ---- several dataplanes ---- */

static void test_many(void **state)
{
	enum { N = 1000 };
	static const uint32_t w[] = {1, 1};
	struct ctx x;
	struct rec *rec = calloc(N, sizeof(*rec));
	struct rec del = {0};
	char(*d)[DGRAM_MAX] = calloc(N, DGRAM_MAX);
	int fk[N];

	(void)state;
	assert_non_null(rec);
	assert_non_null(d);
	ctx_open(&x, 2, w, 60000);
	for (int i = 0; i < N; i++) {
		char cid[32];
		struct ng_params p;

		snprintf(cid, sizeof(cid), "m%d", i);
		p = offer_of(cid);
		assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec[i], NULL), 0);
		fk[i] = ng_client_call_dataplane(x.c, cid);
		assert_true(fake_pop(&x.f[fk[i]], d[i]) > 0);
	}
	assert_int_equal(ng_client_pending(x.c), N);
	assert_int_equal(ng_client_calls(x.c), N);
	/* Answered last first; the client reads at most a batch per readiness, so settle more. */
	for (int i = N - 1; i >= 0; i--) {
		fake_answer(&x.f[fk[i]], d[i], "d6:result2:ok3:sdp4:m=oke");
		if (i % 50 == 0)
			settle(&x);
	}
	settle(&x);
	for (int i = 0; i < N; i++) {
		char cid[32];

		assert_int_equal(rec[i].calls, 1);
		assert_int_equal(rec[i].status, NG_STATUS_OK);
		assert_int_equal(rec[i].dp, fk[i]);
		snprintf(cid, sizeof(cid), "m%d", i);
		assert_true(strstr(d[i], cid) != NULL);
	}
	assert_int_equal(ng_client_pending(x.c), 0);
	for (int i = 0; i < N; i++) {
		char cid[32];
		struct ng_params p = {.cmd = NG_CMD_DELETE};

		snprintf(cid, sizeof(cid), "m%d", i);
		p.call_id = cid;
		assert_int_equal(ng_client_request(x.c, &p, on_reply, &del, NULL), 0);
		assert_true(fake_pop(&x.f[fk[i]], d[i]) > 0);
		fake_answer(&x.f[fk[i]], d[i], "d6:result2:oke");
		if (i % 50 == 0)
			settle(&x);
	}
	settle(&x);
	assert_int_equal(del.calls, N);
	assert_int_equal(ng_client_calls(x.c), 0);
	assert_int_equal(ng_client_pending(x.c), 0);
	ctx_close(&x);
	free(d);
	free(rec);
}

/* A dataplane on IPv6 beside one on IPv4: one socket each, replies matched by source. */
static void test_ipv6(void **state)
{
	struct ctx x;
	struct ng_client_cfg cfg = {.ping_interval_ms = 60000, .seed = 9};
	struct rec rec = {0};
	struct ng_params p = offer_of("v6call");
	char d[DGRAM_MAX], buf[ADDR_STRLEN];
	json_t *j;

	(void)state;
	ctx_init(&x);
	fake_open(&x.f[0], AF_INET6, 1);
	fake_open(&x.f[1], AF_INET, 0);
	x.nf = 2;
	ctx_start(&x, &cfg); /* both pinged once */
	assert_int_equal(ng_client_request(x.c, &p, on_reply, &rec, NULL), 0);
	assert_int_equal(ng_client_call_dataplane(x.c, "v6call"), 0);
	assert_true(fake_pop(&x.f[0], d) > 0);
	fake_answer(&x.f[0], d, "d6:result2:oke");
	settle(&x);
	assert_int_equal(rec.calls, 1);
	assert_int_equal(rec.status, NG_STATUS_OK);
	j = ng_client_dump(x.c);
	snprintf(buf, sizeof(buf), "[::1]:%u", x.f[0].cfg.addr.port);
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(j, "dataplanes"), 0), "address")),
		buf);
	json_decref(j);
	ctx_close(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_reply_ok),
		cmocka_unit_test(test_retransmit_timeout),
		cmocka_unit_test(test_max_retrans),
		cmocka_unit_test(test_late_answer),
		cmocka_unit_test(test_error_and_garbage),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_ipv6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
