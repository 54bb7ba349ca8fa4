/* fixup: apply the NAT fixups a policy asks for to a parsed message — top Via received/rport,
 * Contact rewritten to the real source, and the real path of a registration. */
#include "fixup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int fixup_apply(struct sip_msg *m, const struct nat_ctx *ctx, uint32_t mask,
		struct fixup_result *res)
{
	int rc;

	memset(res, 0, sizeof(*res));
	res->flags = nat_detect(m, ctx);
	res->natted = res->flags & mask;
	/* A response's top Via is the one this proxy added: the Via tests describe our own Via,
	 * not the responder, so they are reported but never make a responder NAT'd. */
	if (!sipmsg_is_request(m))
		res->natted &= ~(uint32_t)(NAT_TEST_VIA_ADDRESS | NAT_TEST_VIA_PRIVATE |
					   NAT_TEST_VIA_PORT);

	if (sipmsg_is_request(m)) {
		/* RFC 3581 §4 lets a server add rport; like Kamailio's force_rport() we do it for
		 * NAT'd senders, so responses go back through their binding. */
		rc = sipmsg_fix_via(m, &ctx->source, res->natted != 0);
		if (rc == 0)
			res->done |= FIXUP_VIA;
		else if (rc != -ENOENT)
			return rc;
	}
	if (res->natted == 0)
		return 0;
	struct sip_host h;

	if (sipmsg_is_request(m) && sipmsg_method_is(m, "REGISTER")) {
		/* The binding keeps the Contact the UA declared; routing uses where it really is.
		 * "Contact: *" removes bindings and has no path to remember. */
		char ap[ADDR_STRLEN];

		if (sipmsg_contact(m, 0, &h) != 0)
			return 0;

		addr_port_format(&ctx->source, ap, sizeof(ap));
		if (ctx->transport == SIP_TRANSPORT_UDP)
			snprintf(res->received_uri, sizeof(res->received_uri), "sip:%s", ap);
		else
			snprintf(res->received_uri, sizeof(res->received_uri),
				 "sip:%s;transport=%s", ap, sip_transport_name(ctx->transport));
		res->done |= FIXUP_REGISTER;
		return 0;
	}
	/* fix_nated_contact: the first Contact's host:port becomes the source address:port, but
	 * only when the sender is the UA itself (a request with one Via, a response with ours and
	 * its own): behind another proxy the Contact is that proxy's business (Kamailio's default
	 * configuration guards its Contact fixup with is_first_hop() for the same reason). */
	unsigned int first_hop_vias = sipmsg_is_request(m) ? 1 : 2;

	if (sipmsg_via_count(m) <= first_hop_vias && sipmsg_contact(m, 0, &h) == 0) {
		rc = sipmsg_set_contact(m, 0, &ctx->source, ctx->transport);
		if (rc == 0)
			res->done |= FIXUP_CONTACT;
		else if (rc != -ENOENT)
			return rc;
	}
	return 0;
}
