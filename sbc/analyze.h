/* analyze: the operator's view of one message — validity, NAT verdict and fixups — as JSON. */
#ifndef SBC_ANALYZE_H
#define SBC_ANALYZE_H

#include <stdint.h>
#include <stdio.h>

#include "nat.h"

struct analyze_opts {
	struct addr_port source;
	enum sip_transport transport;
	const struct addr_set *trusted;
	uint32_t mask;
};

/* Analyzes buf[0..len) as if received from opts->source and prints one JSON object (and a
 * newline) to out. Returns 0 when the message is valid, 1 when it is not, -errno on failure. */
int analyze_message(const char *buf, size_t len, const struct analyze_opts *opts, FILE *out);

#endif
