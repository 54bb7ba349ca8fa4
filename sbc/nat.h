/* nat: the NAT detection tests, one bit each, with the values and meanings of Kamailio 5.6
 * nathelper's nat_uac_test() so operators can carry their configurations over. */
#ifndef SBC_NAT_H
#define SBC_NAT_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "sipmsg.h"

enum nat_test {
	NAT_TEST_CONTACT_PRIVATE = 1, /* private address in the first Contact URI */
	NAT_TEST_VIA_ADDRESS = 2,     /* top Via sent-by host differs from the source address */
	NAT_TEST_VIA_PRIVATE = 4,     /* private address in the top Via */
	NAT_TEST_SDP_PRIVATE = 8,     /* private address in an SDP connection line */
	NAT_TEST_VIA_PORT = 16,	      /* source port differs from the top Via port (5060) */
	NAT_TEST_SOURCE_PRIVATE = 32, /* the source address itself is private */
	NAT_TEST_WEBSOCKET = 64,      /* received over WebSocket */
	NAT_TEST_CONTACT_PORT = 128,  /* source port differs from the Contact port (5060) */
	NAT_TEST_SDP_ADDRESS = 256,   /* SDP connection address differs from the source address */
	NAT_TEST_TARGET = 512,	      /* R-URI != destination URI / 2nd Via != its received */
};

#define NAT_TEST_ALL 1023u
/* Kamailio's default configuration tests with nat_uac_test("19"). */
#define NAT_MASK_DEFAULT 19u

/* What the tests see besides the message. */
struct nat_ctx {
	struct addr_port source; /* where the message came from */
	enum sip_transport transport;
	const struct addr_set *trusted; /* never evidence of NAT; may be NULL */
	const struct sip_host *dst_uri; /* the request's destination URI when one is set, or NULL */
};

/* Runs every test and returns the bit set of those that fired. */
uint32_t nat_detect(const struct sip_msg *m, const struct nat_ctx *ctx);

/* The short name of one test bit ("contact-private"), or NULL for an unknown bit. */
const char *nat_test_name(uint32_t bit);

#endif
