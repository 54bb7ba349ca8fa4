/* nat_test: each NAT test bit on its own, trusted networks, and the fixups each verdict triggers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fixup.h"
#include "nat.h"
#include "sipmsg.h"

/* A template: %s are Via sent-by, Contact host:port, SDP c= address. */
static const char tmpl[] = "INVITE sip:bob@198.51.100.10 SIP/2.0\r\n"
			   "Via: SIP/2.0/UDP %s;branch=z9hG4bK1\r\n"
			   "From: <sip:alice@example.com>;tag=1\r\n"
			   "To: <sip:bob@example.com>\r\n"
			   "Call-ID: nat-test\r\n"
			   "CSeq: 1 INVITE\r\n"
			   "Contact: <sip:alice@%s>\r\n"
			   "Content-Type: application/sdp\r\n"
			   "Content-Length: %zu\r\n"
			   "\r\n"
			   "%s";

static uint32_t flags_for(const char *via, const char *contact, const char *conn, const char *src,
			  const char *trusted, enum sip_transport t, struct fixup_result *res,
			  char **fixed)
{
	char sdp[256], msg[1024];
	struct addr_set set;
	struct sip_error err;
	struct nat_ctx ctx = {.transport = t};

	snprintf(sdp, sizeof(sdp),
		 "v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
		 "m=audio 4000 RTP/AVP 0\r\n",
		 conn, conn);
	snprintf(msg, sizeof(msg), tmpl, via, contact, strlen(sdp), sdp);
	assert_int_equal(addr_port_parse(src, &ctx.source), 0);
	if (trusted != NULL) {
		assert_int_equal(addr_set_parse(trusted, &set), 0);
		ctx.trusted = &set;
	}
	struct sip_msg *m = sipmsg_parse(msg, strlen(msg), t, &err);

	if (m == NULL)
		fail_msg("refused: %s", err.reason);
	assert_int_equal(fixup_apply(m, &ctx, NAT_MASK_DEFAULT, res), 0);
	if (fixed != NULL) {
		size_t len;

		*fixed = sipmsg_serialize(m, &len);
	}
	sipmsg_free(m);
	return res->flags;
}

static void test_bits(void **state)
{
	struct fixup_result r;

	(void)state;
	/* Directly reachable public phone: nothing fires, nothing is changed. */
	assert_int_equal(flags_for("203.0.113.5:5060", "203.0.113.5:5060", "203.0.113.5",
				   "203.0.113.5:5060", NULL, SIP_TRANSPORT_UDP, &r, NULL),
			 0);
	assert_int_equal(r.done, 0);
	/* The seed's phone: private everywhere, port remapped by the NAT. */
	assert_int_equal(flags_for("192.168.1.10:5060", "192.168.1.10:5060", "192.168.1.10",
				   "203.0.113.9:52500", NULL, SIP_TRANSPORT_UDP, &r, NULL),
			 NAT_TEST_CONTACT_PRIVATE | NAT_TEST_VIA_ADDRESS | NAT_TEST_VIA_PRIVATE |
				 NAT_TEST_SDP_PRIVATE | NAT_TEST_VIA_PORT | NAT_TEST_CONTACT_PORT |
				 NAT_TEST_SDP_ADDRESS);
	assert_int_equal(r.natted, 19);
	assert_int_equal(r.done, FIXUP_VIA | FIXUP_CONTACT);
	/* A port-preserving NAT: only the address tests fire. */
	assert_int_equal(flags_for("10.0.0.7:5060", "10.0.0.7:5060", "203.0.113.9",
				   "203.0.113.9:5060", NULL, SIP_TRANSPORT_UDP, &r, NULL),
			 NAT_TEST_CONTACT_PRIVATE | NAT_TEST_VIA_ADDRESS | NAT_TEST_VIA_PRIVATE);
	/* Via without a port means 5060 (RFC 3261 §18.2.1). */
	assert_int_equal(flags_for("203.0.113.5", "203.0.113.5", "203.0.113.5", "203.0.113.5:5060",
				   NULL, SIP_TRANSPORT_UDP, &r, NULL),
			 0);
	assert_int_equal(flags_for("203.0.113.5", "203.0.113.5", "203.0.113.5", "203.0.113.5:5062",
				   NULL, SIP_TRANSPORT_UDP, &r, NULL),
			 NAT_TEST_VIA_PORT | NAT_TEST_CONTACT_PORT);
	/* A hostname in Via never equals the source (no DNS). */
	assert_true(flags_for("phone.example.com:5060", "203.0.113.5:5060", "203.0.113.5",
			      "203.0.113.5:5060", NULL, SIP_TRANSPORT_UDP, &r, NULL) &
		    NAT_TEST_VIA_ADDRESS);
	/* Private source (CGNAT 100.64/10, RFC 6890 192.0.0.0/24). */
	assert_true(flags_for("100.64.1.1:5060", "100.64.1.1:5060", "100.64.1.1", "100.64.1.1:5060",
			      NULL, SIP_TRANSPORT_UDP, &r, NULL) &
		    NAT_TEST_SOURCE_PRIVATE);
	assert_true(flags_for("192.0.0.9:5060", "192.0.0.9:5060", "192.0.0.9", "192.0.0.9:5060",
			      NULL, SIP_TRANSPORT_UDP, &r, NULL) &
		    NAT_TEST_SOURCE_PRIVATE);
	/* WebSocket always counts, and 512 fires for it too. */
	assert_int_equal(flags_for("203.0.113.5:5060", "203.0.113.5:5060", "203.0.113.5",
				   "203.0.113.5:5060", NULL, SIP_TRANSPORT_WS, &r, NULL),
			 NAT_TEST_WEBSOCKET | NAT_TEST_TARGET);
	/* IPv6: a ULA (fc00::/7) is private. */
	assert_true(flags_for("[fd00::5]:5060", "[fd00::5]:5060", "203.0.113.5",
			      "[2001:db8::5]:5060", NULL, SIP_TRANSPORT_UDP, &r, NULL) &
		    NAT_TEST_VIA_PRIVATE);
}

static void test_trusted(void **state)
{
	struct fixup_result r;
	char *fixed;

	(void)state;
	/* A phone on a trusted LAN is directly reachable: nothing is NAT evidence. */
	assert_int_equal(flags_for("10.20.0.15:5060", "10.20.0.15:5060", "10.20.0.15",
				   "10.20.0.15:5060", "10.20.0.0/16", SIP_TRANSPORT_UDP, &r,
				   &fixed),
			 0);
	assert_int_equal(r.natted, 0);
	assert_null(strstr(fixed, "received="));
	free(fixed);
	/* The same LAN untrusted: private source, Contact, Via and SDP fire. */
	assert_int_equal(flags_for("10.20.0.15:5060", "10.20.0.15:5060", "10.20.0.15",
				   "10.20.0.15:5060", NULL, SIP_TRANSPORT_UDP, &r, NULL),
			 NAT_TEST_CONTACT_PRIVATE | NAT_TEST_VIA_PRIVATE | NAT_TEST_SDP_PRIVATE |
				 NAT_TEST_SOURCE_PRIVATE);
	/* Trusting one network does not excuse another: a NAT'd phone elsewhere still fires. */
	assert_true(flags_for("192.168.1.10:5060", "192.168.1.10:5060", "192.168.1.10",
			      "203.0.113.9:52500", "10.20.0.0/16", SIP_TRANSPORT_UDP, &r, &fixed) &
		    NAT_TEST_CONTACT_PRIVATE);
	assert_non_null(strstr(fixed, ";branch=z9hG4bK1;received=203.0.113.9;rport=52500\r\n"));
	assert_non_null(strstr(fixed, "Contact: <sip:alice@203.0.113.9:52500>\r\n"));
	free(fixed);
}

static void test_mask(void **state)
{
	static const char reg[] =
		"REGISTER sip:example.com SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 192.168.1.10:5060;branch=z9hG4bK9\r\n"
		"From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\n"
		"Call-ID: reg\r\nCSeq: 2 REGISTER\r\n"
		"Contact: <sip:alice@192.168.1.10:5060;transport=tcp>\r\n"
		"Content-Length: 0\r\n\r\n";
	struct nat_ctx ctx = {.transport = SIP_TRANSPORT_TCP};
	struct fixup_result r;
	struct sip_error err;
	size_t len;

	(void)state;
	assert_int_equal(addr_port_parse("203.0.113.9:40001", &ctx.source), 0);
	struct sip_msg *m = sipmsg_parse(reg, strlen(reg), SIP_TRANSPORT_TCP, &err);

	assert_non_null(m);
	/* A mask of 0 never treats anyone as NAT'd; RFC 3261 received still applies. */
	assert_int_equal(fixup_apply(m, &ctx, 0, &r), 0);
	assert_int_equal(r.natted, 0);
	assert_int_equal(r.done, FIXUP_VIA);
	sipmsg_free(m);
	m = sipmsg_parse(reg, strlen(reg), SIP_TRANSPORT_TCP, &err);
	assert_int_equal(fixup_apply(m, &ctx, NAT_MASK_DEFAULT, &r), 0);
	assert_int_equal(r.done, FIXUP_VIA | FIXUP_REGISTER);
	assert_string_equal(r.received_uri, "sip:203.0.113.9:40001;transport=tcp");
	char *out = sipmsg_serialize(m, &len);

	/* fix_nated_register keeps the Contact as declared. */
	assert_non_null(strstr(out, "Contact: <sip:alice@192.168.1.10:5060;transport=tcp>"));
	free(out);
	sipmsg_free(m);
	assert_string_equal(nat_test_name(NAT_TEST_SDP_ADDRESS), "sdp-address");
	assert_null(nat_test_name(3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bits),
		cmocka_unit_test(test_trusted),
		cmocka_unit_test(test_mask),
	};

	sipmsg_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
