/* sdp_test: unit tests for the SDP parser (realistic and hostile bodies) and the rewriter's edges;
 * the rewriter's output itself is checked by sdp_golden_test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sdp.h"

static const char yealink[] = "v=0\r\n"
			      "o=- 20023 20023 IN IP4 192.168.1.50\r\n"
			      "s=SDP data\r\n"
			      "c=IN IP4 192.168.1.50\r\n"
			      "t=0 0\r\n"
			      "m=audio 11796 RTP/AVP 0 8 18 9 101\r\n"
			      "a=rtpmap:0 PCMU/8000\r\n"
			      "a=rtpmap:18 G729/8000\r\n"
			      "a=fmtp:18 annexb=no\r\n"
			      "a=fmtp:101 0-15\r\n"
			      "a=rtpmap:101 telephone-event/8000\r\n"
			      "a=ptime:20\r\n"
			      "a=sendrecv\r\n";

static const char polycom[] = "v=0\r\n"
			      "o=- 1700000000 1700000000 IN IP4 10.0.0.20\r\n"
			      "s=Polycom IP Phone\r\n"
			      "c=IN IP4 10.0.0.20\r\n"
			      "b=AS:1024\r\n"
			      "t=0 0\r\n"
			      "a=sendonly\r\n"
			      "m=audio 2222 RTP/AVP 9 0 8 18 127\r\n"
			      "a=rtpmap:9 G722/8000\r\n"
			      "a=rtpmap:127 telephone-event/8000\r\n"
			      "m=video 2224/2 RTP/AVP 109 34\r\n"
			      "a=rtpmap:109 H264/90000\r\n"
			      "a=rtcp:2227\r\n"
			      "a=recvonly\r\n";

static const char linphone_ice[] = "v=0\n"
				   "o=alice 3421 1283 IN IP4 192.168.0.12\n"
				   "s=Talk\n"
				   "c=IN IP4 192.168.0.12\n"
				   "t=0 0\n"
				   "a=ice-pwd:31ec21eb38b2ec6d36e8dc7b\n"
				   "a=ice-ufrag:0a2e9c66\n"
				   "m=audio 7078 RTP/AVP 96 97 98 0 8 101\n"
				   "a=rtpmap:96 opus/48000/2\n"
				   "a=rtcp:7079\n"
				   "a=candidate:1 1 UDP 2130706303 192.168.0.12 7078 typ host\n"
				   "a=candidate:2 1 UDP 1694498687 198.51.100.45 40212 typ srflx "
				   "raddr 192.168.0.12 rport 7078\n"
				   "m=video 9078 RTP/AVP 96\n"
				   "a=rtpmap:96 VP8/90000\n";

static const char webrtc[] = "v=0\r\n"
			     "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
			     "s=-\r\n"
			     "t=0 0\r\n"
			     "a=group:BUNDLE 0\r\n"
			     "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n"
			     "c=IN IP4 0.0.0.0\r\n"
			     "a=rtcp:9 IN IP4 0.0.0.0\r\n"
			     "a=ice-ufrag:EsAw\r\n"
			     "a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n"
			     "a=ice-options:trickle\r\n"
			     "a=setup:actpass\r\n"
			     "a=mid:0\r\n"
			     "a=rtcp-mux\r\n"
			     "a=rtpmap:111 opus/48000/2\r\n";

static const char ipv6[] = "v=0\r\n"
			   "o=- 1 1 IN IP6 2001:db8::10\r\n"
			   "s=-\r\n"
			   "c=IN IP6 2001:db8::10\r\n"
			   "t=0 0\r\n"
			   "m=audio 40000 RTP/AVP 0\r\n"
			   "a=rtcp:40001 IN IP6 2001:db8::11\r\n"
			   "m=audio 40002 RTP/AVP 0\r\n"
			   "c=IN IP6 fd00::5\r\n";

static const char hold[] = "v=0\r\n"
			   "o=- 5 6 IN IP4 192.168.1.50\r\n"
			   "s=-\r\n"
			   "c=IN IP4 0.0.0.0\r\n"
			   "t=0 0\r\n"
			   "a=sendonly\r\n"
			   "m=audio 11796 RTP/AVP 0 101\r\n"
			   "m=audio 11798 RTP/AVP 0\r\n"
			   "c=IN IP4 192.168.1.50\r\n"
			   "a=inactive\r\n"
			   "m=video 0 RTP/AVP 96\r\n";

static const char *const realistic[] = {yealink, polycom, linphone_ice, webrtc, ipv6, hold};

static struct sdp *parse_ok(const char *body)
{
	struct sdp_error err = {0};
	struct sdp *sdp = NULL;
	char why[128];
	int rc = sdp_parse(body, strlen(body), &sdp, &err);

	if (rc != 0)
		fail_msg("parse failed (%d): %s", rc, sdp_error_format(&err, why, sizeof(why)));
	assert_non_null(sdp);
	return sdp;
}

static bool str_eq(struct sdp_str s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static void test_yealink(void **state)
{
	struct sdp *sdp = parse_ok(yealink);
	const struct sdp_conn *sc = sdp_session_conn(sdp);
	const struct sdp_origin *o = sdp_origin(sdp);
	const struct sdp_media *m;
	struct sdp_str fmt;

	(void)state;
	assert_non_null(sc);
	assert_int_equal(sc->family, AF_INET);
	assert_true(str_eq(sc->addr, "192.168.1.50"));
	assert_true(sc->literal);
	assert_true(addr_is_private(&sc->ip));
	assert_int_equal(sc->media, -1);
	assert_int_equal(sc->line, 4);
	assert_false(sdp_conn_is_hold(sc));
	assert_true(o->literal);
	assert_true(str_eq(o->addr, "192.168.1.50"));
	assert_true(str_eq(o->sess_version, "20023"));
	assert_int_equal(sdp_media_count(sdp), 1);
	m = sdp_media_at(sdp, 0);
	assert_true(str_eq(m->type, "audio"));
	assert_int_equal(m->port, 11796);
	assert_int_equal(m->port_count, 1);
	assert_true(str_eq(m->proto, "RTP/AVP"));
	assert_true(str_eq(m->fmts, "0 8 18 9 101"));
	assert_int_equal(m->fmt_count, 5);
	assert_true(sdp_media_fmt(m, 3, &fmt));
	assert_true(str_eq(fmt, "9"));
	assert_true(sdp_media_fmt(m, 4, &fmt));
	assert_true(str_eq(fmt, "101"));
	assert_false(sdp_media_fmt(m, 5, &fmt));
	assert_null(m->conn);
	assert_ptr_equal(m->eff_conn, sc);
	assert_false(m->has_rtcp);
	assert_false(m->rtcp_mux);
	assert_int_equal(m->dir, SDP_DIR_SENDRECV);
	assert_true(m->dir_explicit);
	assert_false(m->has_ice);
	assert_int_equal(m->line, 6);
	assert_null(sdp_media_at(sdp, 1));
	assert_int_equal(sdp_conn_count(sdp), 1);
	assert_ptr_equal(sdp_conn_at(sdp, 0), sc);
	assert_null(sdp_conn_at(sdp, 1));
	sdp_free(sdp);
}

static void test_polycom(void **state)
{
	struct sdp *sdp = parse_ok(polycom);
	const struct sdp_media *a, *v;

	(void)state;
	assert_int_equal(sdp_session_dir(sdp), SDP_DIR_SENDONLY);
	assert_int_equal(sdp_media_count(sdp), 2);
	a = sdp_media_at(sdp, 0);
	v = sdp_media_at(sdp, 1);
	/* RFC 8866 §6.7: the session-level direction applies unless the media section says. */
	assert_int_equal(a->dir, SDP_DIR_SENDONLY);
	assert_false(a->dir_explicit);
	assert_int_equal(v->dir, SDP_DIR_RECVONLY);
	assert_true(v->dir_explicit);
	assert_int_equal(v->port, 2224);
	assert_int_equal(v->port_count, 2);
	assert_true(v->has_rtcp);
	assert_int_equal(v->rtcp_port, 2227);
	assert_false(v->rtcp_has_addr);
	assert_string_equal(sdp_dir_name(v->dir), "recvonly");
	sdp_free(sdp);
}

static void test_linphone_ice(void **state)
{
	struct sdp *sdp = parse_ok(linphone_ice);
	const struct sdp_media *a, *v;

	(void)state;
	a = sdp_media_at(sdp, 0);
	v = sdp_media_at(sdp, 1);
	assert_true(a->has_ice);
	assert_true(a->has_candidates);
	assert_true(a->has_rtcp);
	assert_int_equal(a->rtcp_port, 7079);
	assert_false(v->has_ice);
	assert_false(v->has_candidates);
	assert_int_equal(a->fmt_count, 6);
	sdp_free(sdp);
}

static void test_webrtc(void **state)
{
	struct sdp *sdp = parse_ok(webrtc);
	const struct sdp_media *m;

	(void)state;
	assert_null(sdp_session_conn(sdp));
	m = sdp_media_at(sdp, 0);
	assert_non_null(m->conn);
	assert_ptr_equal(m->eff_conn, m->conn);
	assert_int_equal(m->conn->media, 0);
	assert_true(sdp_conn_is_hold(m->conn));
	assert_true(m->rtcp_mux);
	assert_true(m->has_ice);
	assert_false(m->has_candidates);
	assert_true(m->rtcp_has_addr);
	assert_int_equal(m->rtcp_port, 9);
	assert_true(sdp_conn_is_hold(&m->rtcp_addr));
	assert_true(str_eq(m->proto, "UDP/TLS/RTP/SAVPF"));
	sdp_free(sdp);
}

static void test_ipv6(void **state)
{
	struct sdp *sdp = parse_ok(ipv6);
	const struct sdp_media *m0, *m1;
	char buf[ADDR_STRLEN];

	(void)state;
	assert_int_equal(sdp_origin(sdp)->family, AF_INET6);
	assert_true(sdp_origin(sdp)->literal);
	assert_int_equal(sdp_session_conn(sdp)->family, AF_INET6);
	assert_false(addr_is_private(&sdp_session_conn(sdp)->ip));
	m0 = sdp_media_at(sdp, 0);
	m1 = sdp_media_at(sdp, 1);
	assert_true(m0->rtcp_has_addr);
	assert_int_equal(m0->rtcp_addr.family, AF_INET6);
	assert_string_equal(addr_format(&m0->rtcp_addr.ip, buf, sizeof(buf)), "2001:db8::11");
	assert_ptr_equal(m0->eff_conn, sdp_session_conn(sdp));
	assert_true(addr_is_private(&m1->eff_conn->ip));
	/* Every c= line in order, for the "private address in SDP" NAT test. */
	assert_int_equal(sdp_conn_count(sdp), 2);
	assert_int_equal(sdp_conn_at(sdp, 0)->media, -1);
	assert_int_equal(sdp_conn_at(sdp, 1)->media, 1);
	sdp_free(sdp);
}

static void test_hold(void **state)
{
	struct sdp *sdp = parse_ok(hold);
	const struct sdp_media *m0, *m1, *m2;

	(void)state;
	assert_true(sdp_conn_is_hold(sdp_session_conn(sdp)));
	assert_false(sdp_conn_is_hold(NULL));
	m0 = sdp_media_at(sdp, 0);
	m1 = sdp_media_at(sdp, 1);
	m2 = sdp_media_at(sdp, 2);
	assert_true(sdp_conn_is_hold(m0->eff_conn));
	assert_int_equal(m0->dir, SDP_DIR_SENDONLY);
	assert_false(sdp_conn_is_hold(m1->eff_conn));
	assert_int_equal(m1->dir, SDP_DIR_INACTIVE);
	assert_int_equal(m2->port, 0);
	assert_int_equal(m2->dir, SDP_DIR_SENDONLY);
	sdp_free(sdp);
}

static void test_fqdn_and_multicast(void **state)
{
	static const char body[] = "v=0\r\n"
				   "o=- 1 1 IN IP4 my-host\r\n"
				   "s=-\r\n"
				   "c=IN IP4 media.example.com\r\n"
				   "t=0 0\r\n"
				   "m=audio 5000 RTP/AVP 0\r\n"
				   "c=IN IP4 224.2.36.42/127/3\r\n"
				   "c=IN IP6 ff15::101/3\r\n";
	struct sdp *sdp = parse_ok(body);
	const struct sdp_conn *c;

	(void)state;
	assert_false(sdp_origin(sdp)->literal);
	assert_int_equal(sdp_origin(sdp)->family, AF_INET);
	c = sdp_session_conn(sdp);
	assert_false(c->literal);
	assert_true(str_eq(c->addr, "media.example.com"));
	assert_int_equal(c->ip.family, 0);
	c = sdp_conn_at(sdp, 1);
	assert_true(c->literal);
	assert_true(str_eq(c->addr, "224.2.36.42"));
	assert_true(str_eq(c->mcast, "/127/3"));
	assert_ptr_equal(sdp_media_at(sdp, 0)->conn, c);
	assert_true(str_eq(sdp_conn_at(sdp, 2)->mcast, "/3"));
	sdp_free(sdp);
}

static void test_lenient(void **state)
{
	/* Unknown line types and attributes are kept; no final line ending; padded format list. */
	static const char body[] = "v=0\r\n"
				   "o=- 1 1 IN IP4 192.0.2.1\r\n"
				   "s=-\r\n"
				   "t=0 0\r\n"
				   "y=future\r\n"
				   "m=audio 5000 RTP/AVP 0  8 \r\n"
				   "c=in ip6 2001:db8::1\r\n"
				   "a=\r\n"
				   "a=sendonly \r\n"
				   "a=x-whatever:1";
	struct sdp *sdp = parse_ok(body);

	(void)state;
	assert_int_equal(sdp_media_at(sdp, 0)->fmt_count, 2);
	assert_true(str_eq(sdp_media_at(sdp, 0)->fmts, "0  8"));
	assert_int_equal(sdp_media_at(sdp, 0)->eff_conn->family, AF_INET6);
	assert_int_equal(sdp_media_at(sdp, 0)->dir, SDP_DIR_SENDONLY);
	sdp_free(sdp);
}

struct bad_case {
	const char *body;
	size_t len; /* 0: strlen */
	int rc;
	unsigned int line;
};

#define NUL_FIRST "v=0\0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
#define HDR	  "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"

static const struct bad_case bad_cases[] = {
	{"", 0, -EINVAL, 0},
	{"v=1\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n", 0, -EINVAL, 1},
	{"o=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n", 0, -EINVAL, 1},
	{" v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n", 0, -EINVAL, 1},
	{"v=0\r\ns=-\r\nt=0 0\r\n", 0, -EINVAL, 0},
	{"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nt=0 0\r\n", 0, -EINVAL, 0},
	{"v=0\r\no=- 1 1 IN IP4\r\ns=-\r\n", 0, -EINVAL, 2},
	{"v=0\r\no=- 1 1 IN IP4 a b\r\ns=-\r\n", 0, -EINVAL, 2},
	{HDR "o=- 1 1 IN IP4 192.0.2.1\r\n", 0, -EINVAL, 5},
	{HDR "s=again\r\n", 0, -EINVAL, 5},
	{HDR "v=0\r\n", 0, -EINVAL, 5},
	{HDR "t 0 0\r\n", 0, -EINVAL, 5},
	{HDR "a\r\n", 0, -EINVAL, 5},
	{HDR "=x\r\n", 0, -EINVAL, 5},
	{HDR "1=x\r\n", 0, -EINVAL, 5},
	{HDR "a =x\r\n", 0, -EINVAL, 5},
	{HDR "\r\nm=audio 1 RTP/AVP 0\r\n", 0, -EINVAL, 5},
	{HDR "a=x\rb=y\r\n", 0, -EINVAL, 5},
	{HDR "a=x\r\n\r\n", 0, -EINVAL, 6},
	{HDR "a=x\0y\r\n", sizeof(HDR "a=x\0y\r\n") - 1, -EINVAL, 5},
	{NUL_FIRST, sizeof(NUL_FIRST) - 1, -EINVAL, 1},
	{HDR "m=audio 65536 RTP/AVP 0\r\n", 0, -EINVAL, 5},
	{HDR "m=audio -1 RTP/AVP 0\r\n", 0, -EINVAL, 5},
	{HDR "m=audio 5OOO RTP/AVP 0\r\n", 0, -EINVAL, 5},
	{HDR "m=audio 99999999999999999999 RTP/AVP 0\r\n", 0, -EINVAL, 5},
	{HDR "m=audio 5000/0 RTP/AVP 0\r\n", 0, -EINVAL, 5},
	{HDR "m=audio 5000/ RTP/AVP 0\r\n", 0, -EINVAL, 5},
	{HDR "m=audio /2 RTP/AVP 0\r\n", 0, -EINVAL, 5},
	{HDR "m=audio 5000 RTP/AVP\r\n", 0, -EINVAL, 5},
	{HDR "m=audio 5000 RTP/AVP \r\n", 0, -EINVAL, 5},
	{HDR "m=audio\r\n", 0, -EINVAL, 5},
	{HDR "m=\r\n", 0, -EINVAL, 5},
	{HDR "m=audio 5000 RTP/AVP 0\r\ns=-\r\n", 0, -EINVAL, 6},
	{HDR "m=audio 5000 RTP/AVP 0\r\no=- 1 1 IN IP4 192.0.2.1\r\n", 0, -EINVAL, 6},
	{"v=0\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\no=- 1 1 IN IP4 192.0.2.1\r\n", 0, -EINVAL, 4},
	{"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nm=audio 1 RTP/AVP 0\r\ns=-\r\n", 0, -EINVAL, 4},
	{HDR "c=IN IP4\r\n", 0, -EINVAL, 5},
	{HDR "c=IN IP5 192.0.2.1\r\n", 0, -EINVAL, 5},
	{HDR "c=ATM NSAP 47.0005.80\r\n", 0, -EINVAL, 5},
	{HDR "c=IN IP4 192.0.2.256\r\n", 0, -EINVAL, 5},
	{HDR "c=IN IP4 192.0.2\r\n", 0, -EINVAL, 5},
	{HDR "c=IN IP4 ::1\r\n", 0, -EINVAL, 5},
	{HDR "c=IN IP6 192.0.2.1\r\n", 0, -EINVAL, 5},
	{HDR "c=IN IP6 [2001:db8::1]\r\n", 0, -EINVAL, 5},
	{HDR "c=IN IP6 2001:db8::g\r\n", 0, -EINVAL, 5},
	{HDR "c=IN IP4 192.0.2.1 extra\r\n", 0, -EINVAL, 5},
	{HDR "c=IN IP4 host_name\r\n", 0, -EINVAL, 5},
	{HDR "c=IN IP4 224.2.1.1/256\r\n", 0, -EINVAL, 5},
	{HDR "c=IN IP4 224.2.1.1/\r\n", 0, -EINVAL, 5},
	{HDR "c=IN IP4 224.2.1.1/1/x\r\n", 0, -EINVAL, 5},
	{HDR "c=IN IP6 ff15::1/1/2\r\n", 0, -EINVAL, 5},
	{HDR "c=IN IP4 /5\r\n", 0, -EINVAL, 5},
	{HDR "m=audio 5000 RTP/AVP 0\r\na=rtcp:x\r\n", 0, -EINVAL, 6},
	{HDR "m=audio 5000 RTP/AVP 0\r\na=rtcp:\r\n", 0, -EINVAL, 6},
	{HDR "m=audio 5000 RTP/AVP 0\r\na=rtcp:70000\r\n", 0, -EINVAL, 6},
	{HDR "m=audio 5000 RTP/AVP 0\r\na=rtcp:5001 IN IP4\r\n", 0, -EINVAL, 6},
	{HDR "m=audio 5000 RTP/AVP 0\r\na=rtcp:5001 IN IP4 1.2.3.4 x\r\n", 0, -EINVAL, 6},
	{HDR "m=audio 5000 RTP/AVP 0\r\na=rtcp:5001 IN IP6 1.2.3.4\r\n", 0, -EINVAL, 6},
	{HDR "m=audio 5000 RTP/AVP 0\r\na=rtcp:5001\r\na=rtcp:5003\r\n", 0, -EINVAL, 7},
};

static void test_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		size_t len = bc->len != 0 ? bc->len : strlen(bc->body);
		struct sdp_error err = {0};
		struct sdp *sdp = (struct sdp *)&err;
		char why[128];
		int rc = sdp_parse(bc->body, len, &sdp, &err);

		if (rc != bc->rc || err.line != bc->line || err.reason == NULL || sdp != NULL)
			fail_msg("case %zu: rc %d line %u (%s), want rc %d line %u", i, rc,
				 err.line, sdp_error_format(&err, why, sizeof(why)), bc->rc,
				 bc->line);
	}
}

static void test_error_text(void **state)
{
	struct sdp_error err;
	struct sdp *sdp;
	char why[128];

	(void)state;
	assert_int_equal(sdp_parse(HDR "m=audio 65536 RTP/AVP 0\r\n",
				   strlen(HDR "m=audio 65536 RTP/AVP 0\r\n"), &sdp, &err),
			 -EINVAL);
	assert_string_equal(sdp_error_format(&err, why, sizeof(why)),
			    "line 5: m= port is not a number 0..65535");
	assert_int_equal(sdp_parse("v=0\r\ns=-\r\n", 10, &sdp, &err), -EINVAL);
	assert_string_equal(sdp_error_format(&err, why, sizeof(why)), "o= missing");
	assert_int_equal(sdp_parse(NULL, 0, &sdp, NULL), -EINVAL);
	assert_null(sdp);
}

/* Builds HDR followed by count m= lines into a new buffer. */
static char *many_media(size_t count, size_t *len)
{
	static const char line[] = "m=audio 0 RTP/AVP 0\n";
	size_t n = strlen(HDR) + count * strlen(line);
	char *buf = malloc(n), *p = buf;

	assert_non_null(buf);
	memcpy(p, HDR, strlen(HDR));
	p += strlen(HDR);
	for (size_t i = 0; i < count; i++, p += strlen(line))
		memcpy(p, line, strlen(line));
	*len = n;
	return buf;
}

static void test_limits(void **state)
{
	struct sdp_error err;
	struct sdp *sdp;
	size_t len;
	char *buf;

	(void)state;
	buf = many_media(SDP_MAX_MEDIA, &len);
	assert_int_equal(sdp_parse(buf, len, &sdp, &err), 0);
	assert_int_equal(sdp_media_count(sdp), SDP_MAX_MEDIA);
	sdp_free(sdp);
	free(buf);

	buf = many_media(SDP_MAX_MEDIA + 1, &len);
	assert_int_equal(sdp_parse(buf, len, &sdp, &err), -E2BIG);
	assert_int_equal(err.line, 4 + SDP_MAX_MEDIA + 1);
	free(buf);

	/* 10,000 media lines: past the body limit before anything is parsed. */
	buf = many_media(10000, &len);
	assert_int_equal(sdp_parse(buf, len, &sdp, &err), -E2BIG);
	assert_int_equal(err.line, 0);
	/* ... and cut to just under it, past the media limit. */
	assert_int_equal(sdp_parse(buf, SDP_MAX_BODY, &sdp, &err), -E2BIG);
	assert_int_equal(err.line, 4 + SDP_MAX_MEDIA + 1);
	free(buf);

	/* A huge line: one attribute longer than SDP_MAX_LINE, and one longer than the body limit. */
	len = strlen(HDR) + 2 + 100000;
	buf = malloc(len);
	assert_non_null(buf);
	memcpy(buf, HDR "a=", strlen(HDR) + 2);
	memset(buf + strlen(HDR) + 2, 'x', 100000);
	assert_int_equal(sdp_parse(buf, len, &sdp, &err), -E2BIG);
	assert_int_equal(sdp_parse(buf, strlen(HDR) + 2 + SDP_MAX_LINE - 2, &sdp, &err), 0);
	sdp_free(sdp);
	assert_int_equal(sdp_parse(buf, strlen(HDR) + 2 + SDP_MAX_LINE - 1, &sdp, &err), -E2BIG);
	assert_int_equal(err.line, 5);
	free(buf);

	/* Too many c= lines. */
	len = strlen(HDR) + (SDP_MAX_CONN + 1) * 17;
	buf = malloc(len);
	assert_non_null(buf);
	memcpy(buf, HDR, strlen(HDR));
	for (size_t i = 0; i <= SDP_MAX_CONN; i++)
		memcpy(buf + strlen(HDR) + i * 17, "c=IN IP4 1.2.3.4\n", 17);
	assert_int_equal(sdp_parse(buf, len - 17, &sdp, &err), 0);
	assert_int_equal(sdp_conn_count(sdp), SDP_MAX_CONN);
	sdp_free(sdp);
	assert_int_equal(sdp_parse(buf, len, &sdp, &err), -E2BIG);
	assert_int_equal(err.line, 4 + SDP_MAX_CONN + 1);
	free(buf);
}

static void fill_rewrite(const struct sdp *sdp, struct sdp_rewrite *rw,
			 struct sdp_rewrite_media *media)
{
	memset(rw, 0, sizeof(*rw));
	for (size_t i = 0; i < sdp_media_count(sdp); i++) {
		memset(&media[i], 0, sizeof(media[i]));
		assert_true(addr_parse("2001:db8:ffff::1", 16, &media[i].addr));
		media[i].rtp_port = (uint16_t)(60000 + 2 * i);
		media[i].rtcp_port = (uint16_t)(60000 + 2 * i + 7);
	}
	rw->media = media;
	rw->media_count = sdp_media_count(sdp);
	rw->rewrite_origin = true;
	rw->remove_ice = true;
}

/* Truncating a valid body anywhere never crashes or over-reads (ASan checks the reads: each cut
 * is copied into a buffer of exactly that size). A cut inside the first three lines always
 * fails; elsewhere the prefix may be a valid SDP of its own, which must then rewrite cleanly. */
static void test_truncated(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(realistic) / sizeof(realistic[0]); k++) {
		const char *body = realistic[k];
		size_t len = strlen(body);
		const char *third = strstr(strstr(strstr(body, "\n") + 1, "\n") + 1, "s=");

		for (size_t cut = 0; cut < len; cut++) {
			struct sdp_rewrite_media media[SDP_MAX_MEDIA];
			struct sdp_rewrite rw;
			struct sdp_error err;
			char *copy = malloc(cut + 1), *out;
			struct sdp *sdp;
			int rc;

			assert_non_null(copy);
			memcpy(copy, body, cut);
			rc = sdp_parse(copy, cut, &sdp, &err);
			if (cut <= (size_t)(third - body) + 1)
				assert_int_not_equal(rc, 0);
			if (rc == 0) {
				size_t max = sdp_rewrite_max_len(sdp);

				out = malloc(max);
				assert_non_null(out);
				fill_rewrite(sdp, &rw, media);
				assert_true(sdp_rewrite(sdp, &rw, out, max) > 0);
				free(out);
				sdp_free(sdp);
			} else {
				assert_non_null(err.reason);
			}
			free(copy);
		}
	}
}

/* Every output size below the needed one gives -ENOSPC and never writes past out_len. */
static void test_rewrite_enospc(void **state)
{
	struct sdp_rewrite_media media[SDP_MAX_MEDIA];
	struct sdp_rewrite rw;
	struct sdp *sdp = parse_ok(linphone_ice);
	char full[4096], out[4096 + 16];
	ssize_t n;

	(void)state;
	fill_rewrite(sdp, &rw, media);
	n = sdp_rewrite(sdp, &rw, full, sizeof(full));
	assert_true(n > 0);
	assert_true((size_t)n <= sdp_rewrite_max_len(sdp));
	for (size_t cap = 0; cap < (size_t)n; cap++) {
		memset(out, '#', sizeof(out));
		assert_int_equal(sdp_rewrite(sdp, &rw, out, cap), -ENOSPC);
		for (size_t i = cap; i < sizeof(out); i++)
			assert_int_equal(out[i], '#');
	}
	assert_int_equal(sdp_rewrite(sdp, &rw, out, (size_t)n), n);
	assert_memory_equal(out, full, (size_t)n);
	assert_int_equal(sdp_rewrite(sdp, &rw, NULL, 0), -ENOSPC);
	sdp_free(sdp);
}

static void test_rewrite_einval(void **state)
{
	struct sdp_rewrite_media media[SDP_MAX_MEDIA];
	struct sdp_rewrite rw;
	struct sdp *sdp = parse_ok(polycom);
	char out[4096];

	(void)state;
	fill_rewrite(sdp, &rw, media);
	rw.media_count = 1;
	assert_int_equal(sdp_rewrite(sdp, &rw, out, sizeof(out)), -EINVAL);
	rw.media_count = 2;
	rw.media = NULL;
	assert_int_equal(sdp_rewrite(sdp, &rw, out, sizeof(out)), -EINVAL);
	rw.media = media;
	media[1].addr.family = AF_UNIX;
	assert_int_equal(sdp_rewrite(sdp, &rw, out, sizeof(out)), -EINVAL);
	media[1].addr.family = AF_INET;
	rw.session_addr.family = 99;
	assert_int_equal(sdp_rewrite(sdp, &rw, out, sizeof(out)), -EINVAL);
	rw.session_addr.family = 0;
	assert_true(sdp_rewrite(sdp, &rw, out, sizeof(out)) > 0);
	assert_int_equal(sdp_rewrite(NULL, &rw, out, sizeof(out)), -EINVAL);
	assert_int_equal(sdp_rewrite(sdp, NULL, out, sizeof(out)), -EINVAL);
	sdp_free(sdp);
}

/* An all-zero request entry leaves its section alone: with no media touched and no option set,
 * the output is the input. */
static void test_rewrite_identity(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(realistic) / sizeof(realistic[0]); k++) {
		struct sdp_rewrite_media media[SDP_MAX_MEDIA] = {0};
		struct sdp_rewrite rw = {.media = media};
		struct sdp *sdp = parse_ok(realistic[k]);
		char out[4096];
		ssize_t n;

		rw.media_count = sdp_media_count(sdp);
		n = sdp_rewrite(sdp, &rw, out, sizeof(out));
		assert_int_equal(n, (ssize_t)strlen(realistic[k]));
		assert_memory_equal(out, realistic[k], (size_t)n);
		sdp_free(sdp);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yealink),
		cmocka_unit_test(test_polycom),
		cmocka_unit_test(test_linphone_ice),
		cmocka_unit_test(test_webrtc),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_hold),
		cmocka_unit_test(test_fqdn_and_multicast),
		cmocka_unit_test(test_lenient),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_error_text),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_rewrite_enospc),
		cmocka_unit_test(test_rewrite_einval),
		cmocka_unit_test(test_rewrite_identity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
