/* ng_cmd_test: the ng protocol without the EAL: requests as Kamailio 5.6's rtpengine module sends
 * them go through ng_server_handle() (framing, reply cache) and ng_cmd over a fake relay
 * (ng_cmd_test_harness.c): each command, errors, the media timeout and several media addresses.
 * Forked branches and re-offers are in ng_cmd_branch_test.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ng_cmd_test_harness.h"

/* An offer as Kamailio 5.6 sends it with rtpengine_manage("replace-origin
 * replace-session-connection ICE=remove") and SIP-source-address for a NAT'd caller. */
static size_t kamailio_offer(char *buf, size_t cap, const char *sdp, const char *flag)
{
	struct bencode_writer w;
	size_t len;

	bencode_writer_init(&w, buf, cap);
	bencode_put_dict(&w);
	list(&w, "supports", (const char *const[]){"load limit", NULL});
	kv(&w, "sdp", sdp);
	kv(&w, "ICE", "remove");
	list(&w, "flags", (const char *const[]){flag, NULL});
	list(&w, "replace", (const char *const[]){"origin", "session-connection", NULL});
	kv(&w, "call-id", "call-1@192.168.1.10");
	list(&w, "received-from", (const char *const[]){"IP4", "203.0.113.9", NULL});
	kv(&w, "from-tag", "tagA");
	kv(&w, "via-branch", "z9hG4bK-1");
	list(&w, "direction", (const char *const[]){"external", "external", NULL});
	kv(&w, "transport-protocol", "RTP/AVP");
	kv(&w, "some-future-key", "ignored");
	kv(&w, "command", "offer");
	bencode_put_end(&w);
	assert_int_equal(bencode_writer_finish(&w, &len), 0);
	return len;
}

static size_t kamailio_answer(char *buf, size_t cap, const char *sdp)
{
	struct bencode_writer w;
	size_t len;

	bencode_writer_init(&w, buf, cap);
	bencode_put_dict(&w);
	list(&w, "supports", (const char *const[]){"load limit", NULL});
	kv(&w, "sdp", sdp);
	list(&w, "flags", (const char *const[]){"trust-address", NULL});
	list(&w, "replace", (const char *const[]){"origin", "session-connection", NULL});
	kv(&w, "call-id", "call-1@192.168.1.10");
	list(&w, "received-from", (const char *const[]){"IP4", "198.51.100.20", NULL});
	kv(&w, "from-tag", "tagA");
	kv(&w, "to-tag", "tagB");
	kv(&w, "command", "answer");
	bencode_put_end(&w);
	assert_int_equal(bencode_writer_finish(&w, &len), 0);
	return len;
}

static void offer_answer(struct ctx *c)
{
	char body[4096];
	const struct bencode_item *d;
	const char *sdp;
	size_t len;
	char co[16], ca[16];

	/* Each exchange is a new transaction: new cookies (the same cookie gets the cached reply). */
	c->seq++;
	snprintf(co, sizeof(co), "oa-o%u", c->seq);
	snprintf(ca, sizeof(ca), "oa-a%u", c->seq);
	d = send_req(c, co, body, kamailio_offer(body, sizeof(body), SDP_A, "SIP-source-address"));
	assert_true(result_is(d, "ok"));
	sdp = reply_sdp(d, &len);
	/* The callee is told to send to the relay's port of its own leg. */
	assert_true(contains(sdp, len, "c=IN IP4 192.0.2.1\r\n"));
	assert_true(contains(sdp, len, "m=audio 30002 RTP/AVP 0 8 101\r\n"));
	assert_true(contains(sdp, len, "o=alice 2890844526 2890844526 IN IP4 192.0.2.1\r\n"));
	assert_false(contains(sdp, len, "a=candidate"));
	assert_false(contains(sdp, len, "ice-ufrag"));
	assert_true(contains(sdp, len, "a=rtpmap:101 telephone-event/8000\r\n"));

	d = send_req(c, ca, body, kamailio_answer(body, sizeof(body), SDP_B));
	assert_true(result_is(d, "ok"));
	sdp = reply_sdp(d, &len);
	assert_true(contains(sdp, len, "m=audio 30000 RTP/AVP 0\r\n"));
	assert_true(contains(sdp, len, "c=IN IP4 192.0.2.1\r\n"));
}

static void test_ping(void **state)
{
	struct ctx *c = *state;
	const char req[] = "d7:command4:pinge";
	const struct bencode_item *d = send_req(c, "5323_1", req, sizeof(req) - 1);

	assert_true(result_is(d, "pong"));
	assert_int_equal(c->reply_len, strlen("5323_1 d6:result4:ponge"));
	assert_memory_equal(c->reply, "5323_1 d6:result4:ponge", c->reply_len);
}

static void test_offer_answer(void **state)
{
	struct ctx *c = *state;
	struct fake *f = c->f;
	char buf[64];

	offer_answer(c);
	assert_int_equal(f->streams, 1);
	/* The caller is NAT'd: it may send only from the SIP source address, port learned. */
	assert_true(f->set[30000]);
	assert_int_equal(f->exp[30000].origin, LATCH_ORIGIN_SIP_SOURCE);
	assert_string_equal(addr_format(&f->exp[30000].addr, buf, sizeof(buf)), "203.0.113.9");
	assert_int_equal(f->exp[30000].rtp_port, 27910);
	/* The callee trusted: its SDP address. */
	assert_int_equal(f->exp[30002].origin, LATCH_ORIGIN_SDP);
	assert_string_equal(addr_format(&f->exp[30002].addr, buf, sizeof(buf)), "198.51.100.20");
	assert_int_equal(f->exp[30002].rtp_port, 40000);
	/* The offer installed leg 1 empty, the answer updated it. */
	assert_int_equal(f->sets, 2);
	assert_int_equal(f->updates, 1);
}

static void test_retransmit(void **state)
{
	struct ctx *c = *state;
	char body[4096], first[8192];
	size_t first_len, blen = kamailio_offer(body, sizeof(body), SDP_A, "SIP-source-address");
	struct ng_server_stats st;

	send_req(c, "o1", body, blen);
	memcpy(first, c->reply, c->reply_len);
	first_len = c->reply_len;
	/* Same cookie: the cached reply, nothing executed again. */
	send_req(c, "o1", body, blen);
	assert_int_equal(c->reply_len, first_len);
	assert_memory_equal(c->reply, first, first_len);
	assert_int_equal(c->f->streams, 1);
	assert_int_equal(c->f->updates, 0);
	ng_server_stats_read(c->srv, &st);
	assert_int_equal(st.retransmits, 1);
	/* A new cookie: a re-offer, which reopens learning (update) but keeps the ports. */
	send_req(c, "o2", body, blen);
	assert_int_equal(c->f->streams, 1);
	assert_int_equal(c->f->updates, 1);
	assert_true(contains(c->reply, c->reply_len, "m=audio 30002 "));
	/* After the cache time the cookie is new again. */
	c->now.ms += NG_SERVER_CACHE_MS;
	send_req(c, "o1", body, blen);
	assert_int_equal(c->f->updates, 2);
}

static void test_no_verdict_and_flags(void **state)
{
	struct ctx *c = *state;
	char body[4096];
	const struct bencode_item *d;
	struct bencode_writer w;
	size_t len;
	char buf[64];

	/* No NAT flag: a private SDP address means the SIP source; asymmetric and strict-source
	 * become latch flags. */
	bencode_writer_init(&w, body, sizeof(body));
	bencode_put_dict(&w);
	kv(&w, "command", "offer");
	kv(&w, "call-id", "c2");
	kv(&w, "from-tag", "t1");
	kv(&w, "sdp", SDP_A);
	list(&w, "received-from", (const char *const[]){"IP4", "203.0.113.9", NULL});
	list(&w, "flags", (const char *const[]){"asymmetric", "strict-source", NULL});
	bencode_put_end(&w);
	assert_int_equal(bencode_writer_finish(&w, &len), 0);
	d = send_req(c, "x1", body, len);
	assert_true(result_is(d, "ok"));
	assert_int_equal(c->f->exp[30000].origin, LATCH_ORIGIN_SIP_SOURCE);
	assert_string_equal(addr_format(&c->f->exp[30000].addr, buf, sizeof(buf)), "203.0.113.9");
	assert_int_equal(c->f->exp[30000].flags, LATCH_F_ASYMMETRIC | LATCH_F_STRICT_SOURCE);
	/* No replace flags: o= stays, ICE stays. */
	assert_true(contains(c->reply, c->reply_len, "IN IP4 192.168.1.10\r\ns=-"));
	assert_true(contains(c->reply, c->reply_len, "a=candidate"));
	/* trust-address believes even a private address. */
	d = send_req(c, "x2", body, kamailio_offer(body, sizeof(body), SDP_A, "trust-address"));
	assert_true(result_is(d, "ok"));
	assert_int_equal(c->f->exp[30004].origin, LATCH_ORIGIN_SDP);
	assert_string_equal(addr_format(&c->f->exp[30004].addr, buf, sizeof(buf)), "192.168.1.10");
}

static void test_query_list_statistics(void **state)
{
	struct ctx *c = *state;
	char body[512];
	const struct bencode_item *d, *tags, *t, *m, *s;
	int64_t v;

	offer_answer(c);
	c->f->stats[30000].packets = 10;
	c->f->stats[30000].bytes = 1720;
	c->f->stats[30000].last_ms = c->now.ms;
	{
		struct addr_port src;

		memset(&src, 0, sizeof(src));
		assert_true(addr_parse("203.0.113.9", 11, &src.ip));
		src.port = 52500;
		ng_cmd_latched(c->nc, 0, 30000, &src);
	}
	d = send_req(c, "q1", body, simple(body, sizeof(body), "query", NULL, NULL));
	assert_true(result_is(d, "ok"));
	tags = bencode_dict_get(d, "tags");
	assert_non_null(tags);
	t = bencode_dict_get(tags, "tagA");
	assert_non_null(t);
	assert_true(bencode_str_eq(bencode_dict_get(t, "in dialogue with"), "tagB"));
	m = bencode_first(bencode_dict_get(t, "medias"));
	assert_non_null(m);
	assert_true(bencode_str_eq(bencode_dict_get(m, "type"), "audio"));
	s = bencode_first(bencode_dict_get(m, "streams"));
	assert_true(bencode_dict_get_int(s, "local port", &v));
	assert_int_equal(v, 30000);
	assert_true(bencode_dict_get_int(bencode_dict_get(s, "endpoint"), "port", &v));
	assert_int_equal(v, 52500);
	assert_true(bencode_dict_get_int(bencode_dict_get(s, "stats"), "packets", &v));
	assert_int_equal(v, 10);
	assert_true(bencode_dict_get_int(bencode_dict_get(bencode_dict_get(d, "totals"), "RTP"),
					 "bytes", &v));
	assert_int_equal(v, 1720);
	assert_non_null(bencode_dict_get(tags, "tagB"));

	d = send_req(c, "l1", body, simple(body, sizeof(body), "list", NULL, NULL));
	assert_true(result_is(d, "ok"));
	assert_true(
		bencode_str_eq(bencode_first(bencode_dict_get(d, "calls")), "call-1@192.168.1.10"));
	d = send_req(c, "s1", body, simple(body, sizeof(body), "statistics", NULL, NULL));
	assert_true(bencode_dict_get_int(
		bencode_dict_get(bencode_dict_get(d, "statistics"), "currentstatistics"),
		"sessionsown", &v));
	assert_int_equal(v, 1);
}

static void test_delete(void **state)
{
	struct ctx *c = *state;
	char body[512];
	const struct bencode_item *d;
	struct bencode_writer w;
	size_t len;

	offer_answer(c);
	/* Kamailio's "delete-delay" is a string. */
	d = send_req(c, "d1", body, simple(body, sizeof(body), "delete", "delete-delay", "5"));
	assert_true(result_is(d, "ok"));
	assert_int_equal(c->f->freed, 0);
	ng_cmd_timer(c->nc, c->now.ms + 4999);
	assert_int_equal(c->f->freed, 0);
	ng_cmd_timer(c->nc, c->now.ms + 5000);
	assert_int_equal(c->f->freed, 1);
	d = send_req(c, "q1", body, simple(body, sizeof(body), "query", NULL, NULL));
	assert_true(result_is(d, "error"));
	assert_true(bencode_str_eq(bencode_dict_get(d, "error-reason"), "Unknown call-id"));

	/* "delete delay" as an integer 0: immediate; a re-offer during a delay revives the call. */
	c->f->next_port = 30000;
	offer_answer(c);
	d = send_req(c, "d2", body, simple(body, sizeof(body), "delete", "delete-delay", "10"));
	offer_answer(c);
	ng_cmd_timer(c->nc, c->now.ms + 20000);
	assert_int_equal(c->f->freed, 1);
	bencode_writer_init(&w, body, sizeof(body));
	bencode_put_dict(&w);
	kv(&w, "command", "delete");
	kv(&w, "call-id", "call-1@192.168.1.10");
	kv(&w, "from-tag", "tagA");
	bencode_put_kv_int(&w, "delete delay", 0);
	bencode_put_end(&w);
	assert_int_equal(bencode_writer_finish(&w, &len), 0);
	d = send_req(c, "d3", body, len);
	assert_true(result_is(d, "ok"));
	assert_int_equal(c->f->freed, 2);
	assert_false(c->f->set[30000]);
}

static void expect_error(struct ctx *c, const char *cookie, const char *body, size_t len,
			 const char *reason_prefix)
{
	const struct bencode_item *d = send_req(c, cookie, body, len);
	const char *r;
	size_t rl;

	assert_true(result_is(d, "error"));
	assert_true(bencode_dict_get_str(d, "error-reason", &r, &rl));
	if (rl < strlen(reason_prefix) || memcmp(r, reason_prefix, strlen(reason_prefix)))
		fail_msg("reason '%.*s', expected '%s...'", (int)rl, r, reason_prefix);
}

static void test_errors(void **state)
{
	struct ctx *c = *state;
	char body[4096], out[256];
	struct bencode_writer w;
	size_t len;

	expect_error(c, "e1", "d7:command5:dancee", 18, "Unrecognized command");
	expect_error(c, "e2", "d4:spam4:eggse", 14, "No command");
	expect_error(c, "e3", "d7:command4:pin", 15, "Failed to decode bencode");
	expect_error(c, "e4", body, kamailio_answer(body, sizeof(body), SDP_B), "Unknown call-id");
	expect_error(c, "e5", body, simple(body, sizeof(body), "delete", NULL, NULL),
		     "Unknown call-id");
	expect_error(c, "e6", body, simple(body, sizeof(body), "offer", "from-tag", "x"),
		     "No SDP body");
	expect_error(c, "e7", body, simple(body, sizeof(body), "offer", "sdp", "v=0\r\n"),
		     "No or invalid from-tag");
	bencode_writer_init(&w, body, sizeof(body));
	bencode_put_dict(&w);
	kv(&w, "command", "offer");
	kv(&w, "call-id", "c9");
	kv(&w, "from-tag", "t");
	kv(&w, "sdp", "v=0\r\nbogus\r\n");
	bencode_put_end(&w);
	bencode_writer_finish(&w, &len);
	expect_error(c, "e8", body, len, "Failed to parse SDP: line 2");
	bencode_writer_init(&w, body, sizeof(body));
	bencode_put_dict(&w);
	kv(&w, "command", "offer");
	list(&w, "received-from", (const char *const[]){"IP4", "not-an-address", NULL});
	bencode_put_end(&w);
	bencode_writer_finish(&w, &len);
	expect_error(c, "e9", body, len, "Invalid received-from");
	expect_error(c, "e10", body, simple(body, sizeof(body), "delete", "delete-delay", "soon"),
		     "Invalid delete delay");
	/* Nothing to answer to without a cookie. */
	assert_int_equal(
		ng_server_handle(c->srv, "d7:command4:pinge", 17, &c->now, out, sizeof(out)),
		-EINVAL);
	/* A failed offer leaves no call behind. */
	assert_int_equal(ng_calls_count(ng_cmd_calls(c->nc)), 0);
}

static void test_ports_exhausted(void **state)
{
	struct ctx *c = *state;
	char body[4096];

	c->f->next_port = 30100;
	expect_error(c, "p1", body, kamailio_offer(body, sizeof(body), SDP_A, "SIP-source-address"),
		     "Ran out of ports");
	assert_int_equal(ng_calls_count(ng_cmd_calls(c->nc)), 0);
}

static void test_rtcp_mux(void **state)
{
	struct ctx *c = *state;
	char body[4096], sdp[512];
	static const char mux_a[] = "v=0\r\no=a 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 "
				    "203.0.113.9\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"
				    "a=rtcp-mux\r\n";

	snprintf(sdp, sizeof(sdp), "%s", mux_a);
	send_req(c, "m1", body, kamailio_offer(body, sizeof(body), sdp, "trust-address"));
	/* The offerer muxes only once the answer accepts. */
	assert_int_equal(c->f->exp[30000].flags & LATCH_F_RTCP_MUX, 0);
	assert_true(contains(c->reply, c->reply_len, "a=rtcp-mux"));
	snprintf(sdp, sizeof(sdp), "%sa=rtcp-mux\r\n", SDP_B);
	send_req(c, "m2", body, kamailio_answer(body, sizeof(body), sdp));
	assert_int_equal(c->f->exp[30002].flags & LATCH_F_RTCP_MUX, LATCH_F_RTCP_MUX);
	assert_int_equal(c->f->exp[30000].flags & LATCH_F_RTCP_MUX, LATCH_F_RTCP_MUX);
	/* A re-offer keeps what was agreed. */
	send_req(c, "m3", body, kamailio_offer(body, sizeof(body), mux_a, "trust-address"));
	assert_int_equal(c->f->exp[30000].flags & LATCH_F_RTCP_MUX, LATCH_F_RTCP_MUX);
}

static void test_media_timeout(void **state)
{
	struct ctx *c = *state;
	char body[512];
	const struct bencode_item *d;

	offer_answer(c);
	c->f->stats[30000].last_ms = c->now.ms + 10000;
	ng_cmd_timer(c->nc, c->now.ms + 39999);
	assert_int_equal(c->f->timeouts, 0);
	ng_cmd_timer(c->nc, c->now.ms + 40000);
	assert_int_equal(c->f->timeouts, 1);
	assert_string_equal(c->f->timed_out->call_id, "call-1@192.168.1.10");
	ng_cmd_timer(c->nc, c->now.ms + 80000);
	assert_int_equal(c->f->timeouts, 1); /* once */
	d = send_req(c, "q", body, simple(body, sizeof(body), "query", NULL, NULL));
	assert_true(bencode_str_eq(bencode_dict_get(d, "media timeout"), "yes"));
	d = send_req(c, "l", body, simple(body, sizeof(body), "list", NULL, NULL));
	assert_true(bencode_str_eq(bencode_first(bencode_dict_get(d, "media timeouts")),
				   "call-1@192.168.1.10"));
}

/* An offer of call_id from tagA with replace-origin. */
static size_t offer_of(char *buf, size_t cap, const char *call_id, const char *sdp)
{
	struct bencode_writer w;
	size_t len;

	bencode_writer_init(&w, buf, cap);
	bencode_put_dict(&w);
	kv(&w, "sdp", sdp);
	list(&w, "replace", (const char *const[]){"origin", NULL});
	kv(&w, "call-id", call_id);
	kv(&w, "from-tag", "tagA");
	kv(&w, "command", "offer");
	bencode_put_end(&w);
	assert_int_equal(bencode_writer_finish(&w, &len), 0);
	return len;
}

/* Two media addresses: each call's SDP carries its own address (c= in every m= section and at
 * session level, o= with replace-origin), a second stream of a call stays on the first one's
 * address, query and list name it, statistics count streams per address, and a latch event on
 * one address does not touch the same port on the other. */
static void test_media_addrs(void **state)
{
	static const char two_m[] = "v=0\r\n"
				    "o=alice 1 1 IN IP4 203.0.113.10\r\n"
				    "s=-\r\n"
				    "c=IN IP4 203.0.113.10\r\n"
				    "t=0 0\r\n"
				    "m=audio 27910 RTP/AVP 0\r\n"
				    "m=video 27920 RTP/AVP 96\r\n";
	struct ctx *c = *state;
	char body[4096];
	const struct bencode_item *d, *m, *s, *a;
	const char *sdp;
	size_t len;
	int64_t v;

	/* Call 1 on address 0, call 2 (two streams) on address 1. */
	d = send_req(c, "ma1", body, offer_of(body, sizeof(body), "call-1", SDP_B));
	assert_true(result_is(d, "ok"));
	sdp = reply_sdp(d, &len);
	assert_true(contains(sdp, len, "c=IN IP4 192.0.2.1\r\n"));
	assert_true(contains(sdp, len, "o=bob 1 1 IN IP4 192.0.2.1\r\n"));
	assert_false(contains(sdp, len, "198.51.100.7"));
	d = send_req(c, "ma2", body, offer_of(body, sizeof(body), "call-2", two_m));
	assert_true(result_is(d, "ok"));
	sdp = reply_sdp(d, &len);
	assert_true(contains(sdp, len, "o=alice 1 1 IN IP4 198.51.100.7\r\n"));
	assert_true(contains(sdp, len, "c=IN IP4 198.51.100.7\r\n"));
	assert_false(contains(sdp, len, "192.0.2.1"));
	assert_false(contains(sdp, len, "203.0.113.10"));
	assert_true(contains(sdp, len, "m=audio 30006 RTP/AVP 0\r\n"));
	assert_true(contains(sdp, len, "m=video 30010 RTP/AVP 96\r\n"));
	assert_int_equal(c->f->addr[30004], 1);
	assert_int_equal(c->f->addr[30008], 1); /* the second stream: the call's address */

	/* A latch on (address 0, 30008) is not call 2's leg (address 1, 30008). */
	{
		struct addr_port src;

		memset(&src, 0, sizeof(src));
		assert_true(addr_parse("203.0.113.10", 12, &src.ip));
		src.port = 40000;
		ng_cmd_latched(c->nc, 0, 30008, &src);
		ng_cmd_latched(c->nc, 5, 30008, &src); /* no such address */
	}
	{
		struct bencode_writer w;
		size_t n;

		bencode_writer_init(&w, body, sizeof(body));
		bencode_put_dict(&w);
		kv(&w, "command", "query");
		kv(&w, "call-id", "call-2");
		bencode_put_end(&w);
		assert_int_equal(bencode_writer_finish(&w, &n), 0);
		d = send_req(c, "mq", body, n);
	}
	assert_true(result_is(d, "ok"));
	m = bencode_dict_get(bencode_dict_get(bencode_dict_get(d, "tags"), "tagA"), "medias");
	assert_non_null(m);
	for (const struct bencode_item *e = bencode_first(m); e; e = bencode_next(m, e)) {
		s = bencode_first(bencode_dict_get(e, "streams"));
		assert_true(bencode_str_eq(bencode_dict_get(s, "local address"), "198.51.100.7"));
		assert_true(bencode_str_eq(bencode_dict_get(s, "status"), "learning"));
	}
	d = send_req(c, "ml", body, simple(body, sizeof(body), "list", NULL, NULL));
	a = bencode_dict_get(d, "addresses");
	assert_non_null(a);
	assert_true(bencode_str_eq(bencode_first(a), "192.0.2.1"));
	assert_true(bencode_str_eq(bencode_next(a, bencode_first(a)), "198.51.100.7"));
	d = send_req(c, "ms", body, simple(body, sizeof(body), "statistics", NULL, NULL));
	a = bencode_dict_get(bencode_dict_get(d, "statistics"), "addresses");
	assert_non_null(a);
	assert_true(bencode_str_eq(bencode_dict_get(bencode_first(a), "address"), "192.0.2.1"));
	assert_true(bencode_dict_get_int(bencode_first(a), "streams", &v));
	assert_int_equal(v, 1);
	assert_true(bencode_dict_get_int(bencode_next(a, bencode_first(a)), "streams", &v));
	assert_int_equal(v, 2);

	/* The branches of a forked call share its address, though the relay (the fake: round
	 * robin) would pick another for a new call. */
	{
		char sa[256];
		const char *s1;
		size_t l1;

		sdp_at(sa, sizeof(sa), "203.0.113.9", 4000, 0);
		d = ng(c, "offer", "tagA", NULL, "z9hG4bK-b1", sa);
		reply_port(d, 30014);
		s1 = reply_sdp(d, &l1);
		assert_true(contains(s1, l1, "c=IN IP4 192.0.2.1\r\n"));
		d = ng(c, "offer", "tagA", NULL, "z9hG4bK-b2", sa);
		reply_port(d, 30018);
		s1 = reply_sdp(d, &l1);
		assert_true(contains(s1, l1, "c=IN IP4 192.0.2.1\r\n"));
		assert_int_equal(c->f->addr[30012], 0);
		assert_int_equal(c->f->addr[30016], 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retransmit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_verdict_and_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_list_statistics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ports_exhausted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rtcp_mux, setup, teardown),
		cmocka_unit_test_setup_teardown(test_media_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_media_addrs, setup_addrs, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
