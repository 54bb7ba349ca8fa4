/* ng_fuzz: libFuzzer target for the ng layer (framing, bencode, request keys, commands, SDP
 * rewrite, call store) over a fake relay that checks port ownership. The input is a sequence of
 * datagrams separated by "\n--\n"; time advances one second between them, so delete delays and
 * media timeouts run too. Build with -Dfuzz=true (clang). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "ng_cmd.h"
#include "ng_server.h"

#define FUZZ_PAIRS 64

struct fake {
	uint8_t used[FUZZ_PAIRS]; /* pair i = ports 20000 + 4i (leg 0) and + 2 (leg 1) */
};

static int f_new(void *arg, struct ng_stream_ports *sp)
{
	struct fake *f = arg;

	for (unsigned i = 0; i < FUZZ_PAIRS; i++) {
		if (!f->used[i]) {
			f->used[i] = 1;
			sp->worker = 0;
			sp->addr = 0;
			sp->port[0] = (uint16_t)(20000 + 4 * i);
			sp->port[1] = (uint16_t)(20002 + 4 * i);
			return 0;
		}
	}
	return -ENOSPC;
}

static unsigned pair_of(const struct ng_stream_ports *sp)
{
	unsigned i = (unsigned)(sp->port[0] - 20000) / 4;

	/* Every port handed to ng_cmd must come back exactly as it was given. */
	if (sp->port[0] < 20000 || i >= FUZZ_PAIRS || sp->port[0] != 20000 + 4 * i ||
	    sp->port[1] != sp->port[0] + 2)
		abort();
	return i;
}

static void f_free(void *arg, const struct ng_stream_ports *sp)
{
	struct fake *f = arg;
	unsigned i = pair_of(sp);

	if (!f->used[i])
		abort(); /* double free */
	f->used[i] = 0;
}

static int f_set(void *arg, const struct ng_stream_ports *sp, unsigned leg,
		 const struct latch_expect *exp, bool update)
{
	struct fake *f = arg;

	(void)exp, (void)update;
	if (leg > 1 || !f->used[pair_of(sp)])
		abort(); /* a leg of a stream that is not allocated */
	return 0;
}

static int f_stats(void *arg, const struct ng_stream_ports *sp, unsigned leg,
		   struct ng_leg_stats *out)
{
	struct fake *f = arg;

	if (leg > 1 || !f->used[pair_of(sp)])
		abort();
	memset(out, 0, sizeof(*out));
	return 0;
}

static const struct ng_ops fuzz_ops = {
	.stream_new = f_new,
	.stream_free = f_free,
	.leg_set = f_set,
	.leg_stats = f_stats,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "\n--\n";
	struct fake f;
	struct ng_cmd_cfg cfg;
	struct ng_cmd *nc;
	struct ng_server *srv;
	struct ng_now now = {.ms = 1000, .unix_s = 1700000000};
	char *out = malloc(NG_SERVER_MAX_DGRAM);
	const char *p = (const char *)data, *end = p + size;

	memset(&f, 0, sizeof(f));
	memset(&cfg, 0, sizeof(cfg));
	cfg.media_addr[0].family = AF_INET;
	cfg.media_addr[0].v4.s_addr = htonl(0xc0000201);
	cfg.media_timeout_s = 2;
	cfg.buckets = 16;
	nc = ng_cmd_new(&cfg, &fuzz_ops, &f);
	srv = nc ? ng_server_new(nc, 16) : NULL;
	if (!out || !srv)
		abort();
	while (p < end) {
		const char *q = memmem(p, (size_t)(end - p), sep, sizeof(sep) - 1);
		size_t len = q ? (size_t)(q - p) : (size_t)(end - p);

		ng_server_handle(srv, p, len, &now, out, NG_SERVER_MAX_DGRAM);
		now.ms += 1000;
		now.unix_s++;
		ng_cmd_timer(nc, now.ms);
		p += len + (q ? sizeof(sep) - 1 : 0);
	}
	ng_server_free(srv);
	ng_cmd_free(nc);
	for (unsigned i = 0; i < FUZZ_PAIRS; i++)
		if (f.used[i])
			abort(); /* a stream the call store forgot to release */
	free(out);
	return 0;
}
