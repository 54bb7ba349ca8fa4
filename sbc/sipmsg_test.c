/* sipmsg_test: parsing, validation verdicts, hostile input and byte-exact edits of SIP messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sipmsg.h"

static const char invite[] = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
			     "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK74bf9;rport\r\n"
			     "Max-Forwards: 70\r\n"
			     "From: \"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
			     "To: Bob <sip:bob@biloxi.example.com>\r\n"
			     "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
			     "CSeq: 1 INVITE\r\n"
			     "Contact: <sip:alice@192.168.1.10:5060;transport=udp>\r\n"
			     "Content-Type: application/sdp\r\n"
			     "Content-Length: 138\r\n"
			     "\r\n"
			     "v=0\r\n"
			     "o=alice 2890844526 2890844526 IN IP4 192.168.1.10\r\n"
			     "s=-\r\n"
			     "c=IN IP4 192.168.1.10\r\n"
			     "t=0 0\r\n"
			     "m=audio 27910 RTP/AVP 0\r\n"
			     "a=rtpmap:0 PCMU/8000\r\n";

/* Replaces the first occurrence of from with to in invite; returns a malloc'd message. */
static char *variant(const char *from, const char *to, size_t *len)
{
	const char *at = strstr(invite, from);
	size_t flen = strlen(from), tlen = strlen(to), base = strlen(invite);
	char *out;

	assert_non_null(at);
	out = malloc(base - flen + tlen + 1);
	assert_non_null(out);
	memcpy(out, invite, (size_t)(at - invite));
	memcpy(out + (at - invite), to, tlen);
	strcpy(out + (at - invite) + tlen, at + flen);
	*len = base - flen + tlen;
	return out;
}

/* Parses buf and expects a refusal with code and a reason containing needle. */
static void expect_error(const char *buf, size_t len, enum sip_transport t, int code,
			 const char *needle)
{
	struct sip_error err;
	struct sip_msg *m = sipmsg_parse(buf, len, t, &err);

	if (m != NULL)
		fail_msg("accepted, expected %d (%s)", code, needle);
	if (err.code != code || strstr(err.reason, needle) == NULL)
		fail_msg("got %d '%s', expected %d '%s'", err.code, err.reason, code, needle);
}

static void expect_variant_error(const char *from, const char *to, int code, const char *needle)
{
	size_t len;
	char *buf = variant(from, to, &len);

	expect_error(buf, len, SIP_TRANSPORT_UDP, code, needle);
	free(buf);
}

static struct sip_msg *parse_ok(const char *buf, size_t len)
{
	struct sip_error err;
	struct sip_msg *m = sipmsg_parse(buf, len, SIP_TRANSPORT_UDP, &err);

	if (m == NULL)
		fail_msg("refused: %d %s", err.code, err.reason);
	return m;
}

static void test_valid_roundtrip(void **state)
{
	struct sip_msg *m = parse_ok(invite, strlen(invite));
	struct sip_via via;
	struct sip_host h;
	const char *sdp;
	size_t len;
	char *out;

	(void)state;
	assert_true(sipmsg_is_request(m));
	assert_true(sipmsg_method_is(m, "INVITE"));
	assert_int_equal(sipmsg_max_forwards(m), 70);
	assert_int_equal(sipmsg_via(m, 0, &via), 0);
	assert_string_equal(via.sent_by.host, "192.168.1.10");
	assert_int_equal(via.sent_by.port, 5060);
	assert_true(via.has_rport);
	assert_int_equal(via.rport, 0);
	assert_string_equal(via.branch, "z9hG4bK74bf9");
	assert_int_equal(sipmsg_via(m, 1, &via), -ENOENT);
	assert_int_equal(sipmsg_contact(m, 0, &h), 0);
	assert_true(h.is_ip);
	assert_int_equal(h.port, 5060);
	assert_int_equal(sipmsg_ruri(m, &h), 0);
	assert_string_equal(h.host, "biloxi.example.com");
	assert_false(h.is_ip);
	assert_true(sipmsg_sdp(m, &sdp, &len));
	assert_int_equal(len, 138);
	assert_memory_equal(sdp, "v=0\r\n", 5);
	out = sipmsg_serialize(m, &len);
	assert_int_equal(len, strlen(invite));
	assert_memory_equal(out, invite, len);
	free(out);
	sipmsg_free(m);
}

static void test_edits(void **state)
{
	struct sip_msg *m = parse_ok(invite, strlen(invite));
	struct addr_port src;
	size_t len;
	char *out;
	static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\n"
				  "c=IN IP4 198.51.100.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n";

	(void)state;
	assert_int_equal(addr_port_parse("203.0.113.9:52500", &src), 0);
	assert_int_equal(sipmsg_fix_via(m, &src, false), 0);
	assert_int_equal(sipmsg_set_contact(m, 0, &src, SIP_TRANSPORT_UDP), 0);
	assert_int_equal(sipmsg_set_sdp(m, sdp, strlen(sdp)), 0);
	out = sipmsg_serialize(m, &len);
	assert_non_null(strstr(out, "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK74bf9;"
				    "rport=52500;received=203.0.113.9\r\n"));
	assert_non_null(strstr(out, "Contact: <sip:alice@203.0.113.9:52500;transport=udp>\r\n"));
	assert_non_null(strstr(out, "Content-Length: 94\r\n\r\nv=0\r\no=- 1 1 IN IP4"));
	assert_int_equal(strlen(sdp), 94);
	sipmsg_free(m);
	/* The rewritten message is itself valid and carries what was set. */
	m = parse_ok(out, len);
	struct sip_via via;

	assert_int_equal(sipmsg_via(m, 0, &via), 0);
	assert_int_equal(via.rport, 52500);
	assert_true(via.has_received);
	sipmsg_free(m);
	free(out);
}

static void test_rfc_rejections(void **state)
{
	(void)state;
	expect_variant_error("SIP/2.0\r\n", "SIP/7.0\r\n", 505, "not supported");
	expect_variant_error("SIP/2.0\r\n", "SIP/2.0 \r\n", 400, "whitespace");
	expect_variant_error("INVITE sip:", "INVITE  sip:", 400, "more than one space");
	expect_variant_error("INVITE sip:bob@biloxi.example.com",
			     "INVITE <sip:bob@biloxi.example.com>", 400, "<>");
	expect_variant_error("INVITE sip:", "INVITE nobody:", 416, "unsupported URI scheme");
	expect_variant_error("CSeq: 1 INVITE", "CSeq: 1 ACK", 400, "does not match");
	expect_variant_error("CSeq: 1 INVITE", "CSeq: 4294967296 INVITE", 400, "32-bit");
	expect_variant_error("CSeq: 1 INVITE", "CSeq: 36893488147419103232 INVITE", 400, "32-bit");
	expect_variant_error("CSeq: 1 INVITE", "CSeq: -1 INVITE", 400, "32-bit");
	expect_variant_error("CSeq: 1 INVITE", "CSeq: 1", 400, "no method");
	expect_variant_error("Content-Length: 138", "Content-Length: -999", 400, "Content-Length");
	expect_variant_error("Content-Length: 138", "Content-Length: five", 400, "Content-Length");
	expect_variant_error("Content-Length: 138", "Content-Length: 139", 400, "exceeds");
	expect_variant_error("Content-Length: 138", "Content-Length: 99999999999999999999999", 400,
			     "Content-Length");
	expect_variant_error("Content-Length: 138", "Content-Length: 138\r\nl: 138", 400,
			     "Content-Length appears 2 times");
	expect_variant_error("Call-ID: 3848276298220188511@atlanta.example.com\r\n", "", 400,
			     "missing mandatory header Call-ID");
	expect_variant_error("To: Bob <sip:bob@biloxi.example.com>\r\n",
			     "To: Bob <sip:bob@biloxi.example.com>\r\nt: sip:eve@example.net\r\n",
			     400, "To appears 2 times");
	expect_variant_error("Max-Forwards: 70", "Max-Forwards: 0", 483, "Max-Forwards is 0");
	expect_variant_error("Max-Forwards: 70", "Max-Forwards: seventy", 400, "not a number");
	expect_variant_error("Max-Forwards: 70", "Max-Forwards: 70\r\nProxy-Require: foo", 420,
			     "Proxy-Require");
	expect_variant_error("Max-Forwards: 70", "Max-Forwards: 70\r\nbroken header", 400,
			     "malformed header line");
	expect_variant_error("Via: SIP/2.0/UDP 192.168.1.10:5060",
			     "Via: SIP/2.0/UDP 192.168.1.10:99999", 400, "Via");
}

static void test_tolerated(void **state)
{
	struct sip_msg *m;
	size_t len;
	char *buf;

	(void)state;
	/* RFC 3261 §16.6: no Max-Forwards counts as 70. */
	buf = variant("Max-Forwards: 70\r\n", "", &len);
	m = parse_ok(buf, len);
	assert_int_equal(sipmsg_max_forwards(m), 70);
	sipmsg_free(m);
	free(buf);
	/* RFC 3261 §18.3: octets after Content-Length are ignored over UDP. */
	buf = malloc(strlen(invite) + 16);
	strcpy(buf, invite);
	strcat(buf, "garbage\r\n\r\n");
	m = parse_ok(buf, strlen(buf));
	char *out = sipmsg_serialize(m, &len);

	assert_int_equal(len, strlen(invite));
	free(out);
	sipmsg_free(m);
	free(buf);
	/* A quoted-pair may carry NUL (RFC 3261 §25.1 quoted-pair). */
	buf = variant("\"Alice\"", "\"Al\\\1ce\"", &len);
	*strchr(buf, '\1') = '\0';
	m = parse_ok(buf, len);
	out = sipmsg_serialize(m, &len);
	assert_non_null(memchr(out, '\0', len));
	free(out);
	sipmsg_free(m);
	free(buf);
	/* Compact forms and bare LF line ends. */
	static const char compact[] =
		"OPTIONS sip:carrier.example.net SIP/2.0\n"
		"v: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKa1,"
		" SIP/2.0/TCP 10.0.0.1:5070;branch=z9hG4bKa0\n"
		"f: <sip:probe@example.net>;tag=1\nt: <sip:carrier.example.net>\n"
		"i: opt-1\nCSeq: 7 OPTIONS\nl: 0\n\n";
	m = parse_ok(compact, strlen(compact));
	assert_int_equal(sipmsg_via_count(m), 2);
	struct sip_via via;

	assert_int_equal(sipmsg_via(m, 1, &via), 0);
	assert_int_equal(via.sent_by.port, 5070);
	assert_int_equal(sipmsg_contact_count(m), 0);
	sipmsg_free(m);
}

static void test_truncated_everywhere(void **state)
{
	size_t len = strlen(invite);

	(void)state;
	for (size_t cut = 0; cut < len; cut++) {
		struct sip_error err;
		char *buf = malloc(cut ? cut : 1);

		memcpy(buf, invite, cut);
		struct sip_msg *m = sipmsg_parse(buf, cut, SIP_TRANSPORT_UDP, &err);

		if (m != NULL)
			fail_msg("truncated at %zu accepted", cut);
		assert_true(err.reason[0] != '\0');
		free(buf);
		/* Over TCP the same prefixes are incomplete messages. */
		buf = malloc(cut ? cut : 1);
		memcpy(buf, invite, cut);
		m = sipmsg_parse(buf, cut, SIP_TRANSPORT_TCP, &err);
		assert_null(m);
		free(buf);
	}
}

static void test_hostile(void **state)
{
	struct sip_error err;
	size_t len;
	char *buf;

	(void)state;
	/* Random octets, and random octets after a plausible start line. */
	srand(4475);
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(rand() % 1500);
		size_t pre = round % 2 ? 0 : 35;

		buf = malloc(n + pre + 1);
		memcpy(buf, invite, pre);
		for (size_t i = pre; i < n + pre; i++)
			buf[i] = (char)(rand() & 0xff);
		struct sip_msg *m = sipmsg_parse(buf, n + pre, SIP_TRANSPORT_UDP, &err);

		assert_null(m);
		free(buf);
	}
	/* 70 KiB: 513 Message Too Large. */
	len = 70 * 1024;
	buf = malloc(len);
	memset(buf, 'a', len);
	memcpy(buf, invite, strlen(invite));
	expect_error(buf, len, SIP_TRANSPORT_UDP, 513, "exceeds");
	free(buf);
	/* A header of 10,000 commas, in a Via and in a Contact. */
	char *commas = malloc(10001);

	memset(commas, ',', 10000);
	commas[10000] = '\0';
	static const char *const hdrs[] = {"Via: ", "Contact: ", "To: ", "Route: "};

	for (size_t h = 0; h < sizeof(hdrs) / sizeof(hdrs[0]); h++) {
		char *line = malloc(10100);

		snprintf(line, 10100, "%s%s\r\nMax-Forwards: 70", hdrs[h], commas);
		buf = variant("Max-Forwards: 70", line, &len);
		if (h == 0 || h == 2) {
			/* The whole header is commas: the parser must refuse it. */
			char *b2 = variant(h == 0 ? "Via: SIP/2.0/UDP "
						    "192.168.1.10:5060;branch=z9hG4bK74bf9;rport"
						  : "To: Bob <sip:bob@biloxi.example.com>",
					   h == 0 ? "Via: ,,,," : "To: ,,,,", &len);
			struct sip_msg *m2 = sipmsg_parse(b2, len, SIP_TRANSPORT_UDP, &err);

			assert_null(m2);
			assert_int_equal(err.code, 400);
			free(b2);
		}
		struct sip_msg *m = sipmsg_parse(buf, len, SIP_TRANSPORT_UDP, &err);

		if (m != NULL) {
			/* Accepted only if every accessor still behaves. */
			struct sip_host host;
			struct sip_via via;

			for (unsigned i = 0; i < sipmsg_contact_count(m); i++)
				(void)sipmsg_contact(m, i, &host);
			for (unsigned i = 0; i < sipmsg_via_count(m); i++)
				(void)sipmsg_via(m, i, &via);
			sipmsg_free(m);
			fail_msg("%s of 10,000 commas accepted", hdrs[h]);
		}
		assert_int_equal(err.code, 400);
		free(buf);
		free(line);
	}
	free(commas);
	/* NUL outside a quoted string, and in the start line. */
	buf = variant("Call-ID: 3848", "Call-ID: 38\00148", &len);
	*strchr(buf, '\1') = '\0';
	expect_error(buf, len, SIP_TRANSPORT_UDP, 400, "NUL");
	free(buf);
	buf = variant("INVITE sip:bob", "INVITE sip:b\001b", &len);
	*strchr(buf, '\1') = '\0';
	expect_error(buf, len, SIP_TRANSPORT_UDP, 0, "NUL");
	free(buf);
	/* Nothing at all, and only CRLFs (a keepalive is not a message). */
	expect_error("", 0, SIP_TRANSPORT_UDP, 0, "empty");
	expect_error("\r\n\r\n", 4, SIP_TRANSPORT_UDP, 0, "empty");
	/* A response cannot be answered: malformed ones are dropped. */
	static const char bad_resp[] =
		"SIP/2.0 4294967301 better not break the receiver\r\n"
		"Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\r\n"
		"Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i\r\n"
		"CSeq: 353494 INVITE\r\nFrom: <sip:user@example.com>;tag=39ansfi3\r\n"
		"To: <sip:user@example.edu>;tag=902jndnke3\r\n"
		"Content-Length: 0\r\n\r\n";
	expect_error(bad_resp, strlen(bad_resp), SIP_TRANSPORT_UDP, 0, "status code");
	/* Over TCP Content-Length is mandatory. */
	buf = variant("Content-Length: 138\r\n", "", &len);
	expect_error(buf, len, SIP_TRANSPORT_TCP, 400, "mandatory over TCP");
	free(buf);
}

static void test_accessors(void **state)
{
	static const char reg[] =
		"REGISTER sip:example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKr1;rport\r\n"
		"From: <sip:alice@example.com>;tag=abc\r\n"
		"To: <sip:alice@example.com>\r\n"
		"Call-ID: reg-1@192.168.1.10\r\n"
		"CSeq: 42 REGISTER\r\n"
		"Contact: <sip:alice@192.168.1.10:5060;ob>;expires=600, sip:alice@10.0.0.1\r\n"
		"Expires: 3600\r\n"
		"Route: <sip:198.51.100.10;lr>, <sip:edge.example.com:5070>\r\n"
		"Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"n1\", "
		"uri=\"sip:example.com\", response=\"0123456789abcdef0123456789abcdef\", "
		"algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"c1\"\r\n"
		"User-Agent: Test/1.0\r\n"
		"Content-Length: 0\r\n\r\n";
	struct sip_msg *m = parse_ok(reg, strlen(reg));
	struct sip_digest_cred cred;
	struct sip_host h;
	char aor[64];
	const char *v;
	size_t len;
	uint32_t x;
	bool lr;

	(void)state;
	v = sipmsg_call_id(m, &len);
	assert_int_equal(len, 18);
	assert_memory_equal(v, "reg-1@192.168.1.10", 18);
	assert_int_equal(sipmsg_cseq(m), 42);
	assert_string_equal(sipmsg_from_tag(m), "abc");
	assert_null(sipmsg_to_tag(m));
	assert_int_equal(sipmsg_to_aor(m, aor, sizeof(aor)), 0);
	assert_string_equal(aor, "alice@example.com");
	assert_int_equal(sipmsg_to_aor(m, aor, 5), -ENOSPC);
	assert_int_equal(sipmsg_expires(m, &x), 0);
	assert_int_equal(x, 3600);
	assert_false(sipmsg_contact_is_star(m));
	assert_int_equal(sipmsg_contact_count(m), 2);
	assert_int_equal(sipmsg_contact_uri(m, 0, &v, &len), 0);
	assert_int_equal(len, strlen("sip:alice@192.168.1.10:5060;ob"));
	assert_int_equal(sipmsg_contact_uri(m, 1, &v, &len), 0);
	assert_memory_equal(v, "sip:alice@10.0.0.1", len);
	assert_int_equal(sipmsg_contact_expires(m, 0, &x), 0);
	assert_int_equal(x, 600);
	assert_int_equal(sipmsg_contact_expires(m, 1, &x), -ENOENT);
	assert_int_equal(sipmsg_route_count(m), 2);
	assert_int_equal(sipmsg_route(m, 0, &h, &lr), 0);
	assert_true(lr);
	assert_string_equal(h.host, "198.51.100.10");
	assert_int_equal(sipmsg_route(m, 1, &h, &lr), 0);
	assert_false(lr);
	assert_int_equal(h.port, 5070);
	v = sipmsg_header(m, "user-agent", &len);
	assert_non_null(v);
	assert_memory_equal(v, "Test/1.0", len);
	assert_null(sipmsg_header(m, "Supported", &len));
	assert_int_equal(sipmsg_digest_cred(m, false, "example.com", &cred), 0);
	assert_string_equal(cred.username, "alice");
	assert_string_equal(cred.algorithm, "SHA-256");
	assert_string_equal(cred.cnonce, "c1");
	assert_string_equal(cred.nc, "00000001");
	assert_int_equal(sipmsg_digest_cred(m, false, "other.example", &cred), -ENOENT);
	assert_int_equal(sipmsg_digest_cred(m, true, NULL, &cred), -ENOENT);
	sipmsg_free(m);
}

static void test_proxy_edits(void **state)
{
	struct sip_msg *m = parse_ok(invite, strlen(invite));
	struct addr_port src;
	size_t len;
	char *out;

	(void)state;
	assert_int_equal(addr_port_parse("203.0.113.9:52500", &src), 0);
	assert_int_equal(sipmsg_fix_via(m, &src, true), 0);
	assert_int_equal(sipmsg_push_via(m, "SIP/2.0/UDP 198.51.100.10;branch=z9hG4bKsbc1"), 0);
	assert_int_equal(sipmsg_push_record_route(m, "<sip:198.51.100.10;lr>"), 0);
	assert_int_equal(sipmsg_set_ruri(m, "sip:bob@198.51.100.20:5080"), 0);
	assert_int_equal(sipmsg_set_max_forwards(m, 69), 0);
	out = sipmsg_serialize(m, &len);
	assert_non_null(strstr(out, "INVITE sip:bob@198.51.100.20:5080 SIP/2.0\r\n"
				    "Via: SIP/2.0/UDP 198.51.100.10;branch=z9hG4bKsbc1\r\n"
				    "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK74bf9;"
				    "rport=52500;received=203.0.113.9\r\nMax-Forwards: 69\r\n"));
	assert_non_null(strstr(out, "Record-Route: <sip:198.51.100.10;lr>\r\n\r\nv=0"));
	/* Locally generated responses carry the fixed Via, so they reach the NAT binding. */
	char *resp = sipmsg_response(m, 404, "Not Found", "sbc42", "Server: sbc-sip\r\n", &len);

	assert_non_null(resp);
	assert_non_null(strstr(resp, "SIP/2.0 404 Not Found\r\n"));
	assert_non_null(strstr(resp, "rport=52500;received=203.0.113.9\r\n"));
	assert_non_null(strstr(resp, "To: Bob <sip:bob@biloxi.example.com>;tag=sbc42\r\n"));
	assert_non_null(strstr(resp, "Server: sbc-sip\r\nContent-Length: 0\r\n\r\n"));
	assert_null(strstr(resp, "Contact:"));
	struct sip_msg *r = parse_ok(resp, len);

	assert_int_equal(sipmsg_status(r), 404);
	assert_string_equal(sipmsg_to_tag(r), "sbc42");
	sipmsg_free(r);
	free(resp);
	resp = sipmsg_response(m, 100, "Trying", "sbc42", NULL, &len);
	assert_non_null(strstr(resp, "To: Bob <sip:bob@biloxi.example.com>\r\n"));
	free(resp);
	sipmsg_free(m);
	/* The forwarded request parses, and a response to it loses our Via on the way back. */
	m = parse_ok(out, strlen(out));
	resp = sipmsg_response(m, 180, "Ringing", "callee1", NULL, &len);
	sipmsg_free(m);
	m = parse_ok(resp, len);
	assert_int_equal(sipmsg_via_count(m), 2);
	assert_int_equal(sipmsg_pop_via(m), 0);
	char *back = sipmsg_serialize(m, &len);

	assert_null(strstr(back, "z9hG4bKsbc1"));
	assert_non_null(strstr(back, "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.168.1.10"));
	free(back);
	sipmsg_free(m);
	free(resp);
	free(out);
	/* Two Vias on one line: only the first element goes. */
	static const char two[] =
		"SIP/2.0 200 OK\r\n"
		"Via: SIP/2.0/UDP 198.51.100.10;branch=z9hG4bKa, "
		"SIP/2.0/UDP 203.0.113.5;branch=z9hG4bKb\r\n"
		"From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\n"
		"Call-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
	m = parse_ok(two, strlen(two));
	assert_int_equal(sipmsg_pop_via(m), 0);
	out = sipmsg_serialize(m, &len);
	assert_non_null(strstr(out, "\r\nVia: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bKb\r\n"));
	free(out);
	sipmsg_free(m);
}

static void test_derived(void **state)
{
	struct sip_msg *m = parse_ok(invite, strlen(invite));
	struct sip_error err;
	size_t len;
	char *out;

	(void)state;
	/* Branch edits roll back; common edits stay. */
	assert_int_equal(sipmsg_set_max_forwards(m, 69), 0);
	unsigned int mark = sipmsg_edit_mark(m);

	assert_int_equal(sipmsg_push_via(m, "SIP/2.0/UDP 198.51.100.10;branch=z9hG4bKb1"), 0);
	assert_int_equal(sipmsg_set_ruri(m, "sip:bob@203.0.113.50:5062"), 0);
	out = sipmsg_serialize(m, &len);
	assert_non_null(strstr(out, "INVITE sip:bob@203.0.113.50:5062 SIP/2.0\r\nVia: SIP/2.0/UDP "
				    "198.51.100.10;branch=z9hG4bKb1\r\n"));
	/* CANCEL is built from the request as forwarded (RFC 3261 §9.1: the same top Via). */
	struct sip_msg *fwd = parse_ok(out, len);
	char *cancel = sipmsg_cancel_for(fwd, &len);

	sipmsg_free(fwd);
	free(out);

	assert_non_null(strstr(cancel, "CANCEL sip:bob@203.0.113.50:5062 SIP/2.0\r\n"
				       "Via: SIP/2.0/UDP 198.51.100.10;branch=z9hG4bKb1\r\n"));
	assert_non_null(strstr(cancel, "CSeq: 1 CANCEL\r\n"));
	struct sip_msg *c = parse_ok(cancel, len);

	sipmsg_free(c);
	free(cancel);
	sipmsg_edit_rollback(m, mark);
	out = sipmsg_serialize(m, &len);
	assert_non_null(strstr(out, "INVITE sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP "
				    "192.168.1.10"));
	assert_non_null(strstr(out, "Max-Forwards: 69\r\n"));
	free(out);
	/* ACK for a 486 carries the response's To tag. */
	char *resp = sipmsg_response(m, 486, "Busy Here", "t486", NULL, &len);
	struct sip_msg *r = parse_ok(resp, len);
	char *ack = sipmsg_ack_for(m, r, &len);

	assert_non_null(strstr(ack, "ACK sip:bob@biloxi.example.com SIP/2.0\r\n"));
	assert_non_null(strstr(ack, ";tag=t486\r\n"));
	assert_non_null(strstr(ack, "CSeq: 1 ACK\r\n"));
	sipmsg_free(r);
	free(resp);
	free(ack);
	sipmsg_free(m);
	/* A request that does not parse still gets its 400, with the reason in a Warning. */
	size_t blen;
	char *bad = variant("CSeq: 1 INVITE", "CSeq: 1 BYE", &blen);

	assert_null(sipmsg_parse(bad, blen, SIP_TRANSPORT_UDP, &err));
	out = sipmsg_error_response(bad, blen, &err, &len);
	assert_non_null(out);
	assert_non_null(strstr(out, "SIP/2.0 400 Bad Request\r\nVia: SIP/2.0/UDP 192.168.1.10"));
	assert_non_null(strstr(out, "Warning: 399 sbc-sip \"CSeq method 'BYE' does not match"));
	assert_non_null(strstr(out, "Call-ID: 3848276298220188511@atlanta.example.com\r\n"));
	assert_non_null(strstr(out, "To: Bob <sip:bob@biloxi.example.com>;tag=sbce"));
	free(out);
	free(bad);
	/* Without a Via: nothing to send. */
	bad = variant("Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bK74bf9;rport\r\n", "",
		      &blen);
	assert_null(sipmsg_parse(bad, blen, SIP_TRANSPORT_UDP, &err));
	assert_null(sipmsg_error_response(bad, blen, &err, &len));
	free(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_roundtrip),
		cmocka_unit_test(test_edits),
		cmocka_unit_test(test_rfc_rejections),
		cmocka_unit_test(test_tolerated),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_accessors),
		cmocka_unit_test(test_proxy_edits),
		cmocka_unit_test(test_derived),
	};

	sipmsg_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
