/* nat: the NAT detection tests, one bit each, with the values and meanings of Kamailio 5.6
 * nathelper's nat_uac_test() so operators can carry their configurations over. */
#include "nat.h"

#include <string.h>
#include <strings.h>

#include "sdp.h"

/* SIP's default port when a Via or Contact names none (RFC 3261 §19.1.2). nathelper uses it
 * for every transport, and so do we, to give the same verdicts. */
#define SIP_DEFAULT_PORT 5060

static const char *const test_names[] = {
	"contact-private", "via-address", "via-private",  "sdp-private", "via-port",
	"source-private",  "websocket",	  "contact-port", "sdp-address", "target",
};

const char *nat_test_name(uint32_t bit)
{
	for (unsigned int i = 0; i < sizeof(test_names) / sizeof(test_names[0]); i++)
		if (bit == (1u << i))
			return test_names[i];
	return NULL;
}

/* A private address is evidence of NAT unless policy trusts its network. */
static bool untrusted_private(const struct nat_ctx *ctx, const struct addr_ip *ip)
{
	return addr_is_private(ip) && !addr_set_contains(ctx->trusted, ip);
}

/* nathelper's Contact tests (1 and 128) look at one URI: the last one of the first Contact
 * header field (its contact list is built in reverse). Kamailio 5.6.3 was observed doing so
 * (tests/oracle/README.md); we do the same so verdicts carry over. */
static bool tested_contact(const struct sip_msg *m, struct sip_host *h)
{
	unsigned int n = sipmsg_first_contact_header_count(m);

	return n > 0 && sipmsg_contact(m, n - 1, h) == 0;
}

static bool contact_private(const struct sip_msg *m, const struct nat_ctx *ctx)
{
	struct sip_host h;

	return tested_contact(m, &h) && h.is_ip && untrusted_private(ctx, &h.ip);
}

static bool contact_port(const struct sip_msg *m, const struct nat_ctx *ctx)
{
	struct sip_host h;

	if (!tested_contact(m, &h))
		return false;
	return ctx->source.port != (h.port != 0 ? h.port : SIP_DEFAULT_PORT);
}

/* nathelper looks at the effective connection address of each media section in order
 * (media-level c=, else the session's) and stops at the first that is not an IP literal or is
 * the hold address 0.0.0.0: later sections are not examined. */
static bool sdp_private(const struct sdp *sdp, const struct nat_ctx *ctx)
{
	for (size_t i = 0; i < sdp_media_count(sdp); i++) {
		const struct sdp_conn *conn = sdp_media_at(sdp, i)->eff_conn;

		if (conn == NULL || !conn->literal || sdp_conn_is_hold(conn))
			return false;
		if (untrusted_private(ctx, &conn->ip))
			return true;
	}
	return false;
}

/* nathelper compares only the session-level c= address with the source address; an SDP with
 * c= at media level only never fires. */
static bool sdp_address(const struct sdp *sdp, const struct nat_ctx *ctx)
{
	const struct sdp_conn *conn = sdp_session_conn(sdp);

	if (conn == NULL)
		return false;
	if (!conn->literal)
		return true;
	return !addr_equal(&conn->ip, &ctx->source.ip);
}

static bool target_differs(const struct sip_msg *m, const struct nat_ctx *ctx)
{
	if (ctx->transport == SIP_TRANSPORT_WS || ctx->transport == SIP_TRANSPORT_WSS)
		return true;
	if (sipmsg_is_request(m)) {
		struct sip_host ruri;

		/* Without a destination URI the request goes where its R-URI says. */
		if (ctx->dst_uri == NULL || sipmsg_ruri(m, &ruri) != 0)
			return false;
		return strcasecmp(ruri.host, ctx->dst_uri->host) != 0 ||
		       (ruri.port ? ruri.port : SIP_DEFAULT_PORT) !=
			       (ctx->dst_uri->port ? ctx->dst_uri->port : SIP_DEFAULT_PORT);
	}
	/* A reply: did the hop below us (second Via) get its address or port rewritten? */
	struct sip_via v2;

	if (sipmsg_via(m, 1, &v2) != 0)
		return false;
	if (v2.has_received &&
	    (!v2.received_is_ip || !v2.sent_by.is_ip || !addr_equal(&v2.received, &v2.sent_by.ip)))
		return true;
	return v2.rport != 0 && v2.rport != (v2.sent_by.port ? v2.sent_by.port : SIP_DEFAULT_PORT);
}

uint32_t nat_detect(const struct sip_msg *m, const struct nat_ctx *ctx)
{
	uint32_t flags = 0;
	struct sip_via via;
	/* A message straight from a trusted network took a direct path: address and port
	 * mismatches there are not NAT evidence either. */
	bool direct = addr_set_contains(ctx->trusted, &ctx->source.ip);
	bool have_via = sipmsg_via(m, 0, &via) == 0;
	const char *body;
	size_t blen;
	struct sdp *sdp = NULL;

	if (sipmsg_sdp(m, &body, &blen) && sdp_parse(body, blen, &sdp, NULL) != 0)
		sdp = NULL;

	if (contact_private(m, ctx))
		flags |= NAT_TEST_CONTACT_PRIVATE;
	if (have_via && !direct &&
	    (!via.sent_by.is_ip || !addr_equal(&via.sent_by.ip, &ctx->source.ip)))
		flags |= NAT_TEST_VIA_ADDRESS;
	if (have_via && via.sent_by.is_ip && untrusted_private(ctx, &via.sent_by.ip))
		flags |= NAT_TEST_VIA_PRIVATE;
	if (sdp != NULL && sdp_private(sdp, ctx))
		flags |= NAT_TEST_SDP_PRIVATE;
	if (have_via && !direct &&
	    ctx->source.port != (via.sent_by.port ? via.sent_by.port : SIP_DEFAULT_PORT))
		flags |= NAT_TEST_VIA_PORT;
	if (untrusted_private(ctx, &ctx->source.ip))
		flags |= NAT_TEST_SOURCE_PRIVATE;
	if (ctx->transport == SIP_TRANSPORT_WS || ctx->transport == SIP_TRANSPORT_WSS)
		flags |= NAT_TEST_WEBSOCKET;
	if (!direct && contact_port(m, ctx))
		flags |= NAT_TEST_CONTACT_PORT;
	if (!direct && sdp != NULL && sdp_address(sdp, ctx))
		flags |= NAT_TEST_SDP_ADDRESS;
	if (target_differs(m, ctx))
		flags |= NAT_TEST_TARGET;
	sdp_free(sdp);
	return flags;
}
