/* fuzz_sip: libFuzzer target for SIP parse + validation, NAT tests, fixups and serialization. The
 * first input octet picks the transport and the NAT mask; the rest is the message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixup.h"
#include "nat.h"
#include "sipmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	struct sip_error err;
	struct addr_set trusted;
	struct nat_ctx ctx = {0};
	struct fixup_result res;

	if (!initialised) {
		sipmsg_global_init();
		initialised = 1;
	}
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	enum sip_transport t = (sel & 1) ? SIP_TRANSPORT_TCP : SIP_TRANSPORT_UDP;

	data++;
	size--;
	struct sip_msg *m = sipmsg_parse((const char *)data, size, t, &err);

	if (m == NULL) {
		/* Every refusal says why. */
		if (err.reason[0] == '\0')
			abort();
		return 0;
	}
	addr_set_parse("10.20.0.0/16", &trusted);
	addr_port_parse((sel & 2) ? "[2001:db8::9]:40000" : "203.0.113.9:52500", &ctx.source);
	ctx.transport = t;
	ctx.trusted = (sel & 4) ? &trusted : NULL;
	if (fixup_apply(m, &ctx, (sel & 8) ? NAT_TEST_ALL : NAT_MASK_DEFAULT, &res) != 0) {
		sipmsg_free(m);
		return 0;
	}
	size_t len;
	char *out = sipmsg_serialize(m, &len);

	if (out == NULL)
		abort();
	/* A fixed message is still a valid message. */
	struct sip_msg *again = sipmsg_parse(out, len, t, &err);

	if (again == NULL)
		abort();
	sipmsg_free(again);
	free(out);
	sipmsg_free(m);
	return 0;
}
