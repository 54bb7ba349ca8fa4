/* fixup: apply the NAT fixups a policy asks for to a parsed message — top Via received/rport,
 * Contact rewritten to the real source, and the real path of a registration. */
#ifndef SBC_FIXUP_H
#define SBC_FIXUP_H

#include <stdbool.h>
#include <stdint.h>

#include "nat.h"
#include "sipmsg.h"

enum fixup_done {
	FIXUP_VIA = 1,	    /* received/rport set on the top Via */
	FIXUP_CONTACT = 2,  /* Contact host:port replaced by the source (fix_nated_contact) */
	FIXUP_REGISTER = 4, /* REGISTER: Contact kept, received URI returned (fix_nated_register) */
};

struct fixup_result {
	uint32_t flags;	       /* every NAT test that fired */
	uint32_t natted;       /* flags & mask: non-zero means the sender is treated as NAT'd */
	uint32_t done;	       /* enum fixup_done bits */
	char received_uri[96]; /* for FIXUP_REGISTER: "sip:IP:PORT[;transport=tcp]" */
};

/* Runs the NAT tests and applies the fixups: the RFC 3261 §18.2.1 / RFC 3581 Via parameters on
 * every request, forced rport and the Contact fixups when a test in mask fired. Returns 0 or a
 * negative errno from the edits; res is filled either way. */
int fixup_apply(struct sip_msg *m, const struct nat_ctx *ctx, uint32_t mask,
		struct fixup_result *res);

#endif
