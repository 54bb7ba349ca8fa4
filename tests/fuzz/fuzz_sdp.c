/* fuzz_sdp: libFuzzer target for the SDP parser and rewriter. Beyond "no crash", it checks that an
 * all-zero rewrite reproduces the input byte for byte, that a real rewrite parses again with the
 * requested ports and addresses, and that a short output buffer gives -ENOSPC. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed property is a crash for libFuzzer to report. */
#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

static uint32_t hash(const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	return h;
}

static void walk(const struct sdp *sdp)
{
	volatile size_t sink = 0;

	sink += sdp_origin(sdp)->addr.len;
	for (size_t i = 0; i < sdp_conn_count(sdp); i++)
		sink += sdp_conn_is_hold(sdp_conn_at(sdp, i));
	for (size_t i = 0; i < sdp_media_count(sdp); i++) {
		const struct sdp_media *m = sdp_media_at(sdp, i);
		struct sdp_str fmt;

		for (size_t f = 0; f < m->fmt_count; f++) {
			CHECK(sdp_media_fmt(m, f, &fmt));
			CHECK(fmt.len > 0 && fmt.p >= m->fmts.p &&
			      fmt.p + fmt.len <= m->fmts.p + m->fmts.len);
		}
		CHECK(!sdp_media_fmt(m, m->fmt_count, &fmt));
		sink += strlen(sdp_dir_name(m->dir));
	}
	(void)sink;
}

static void check_identity(const struct sdp *sdp, const uint8_t *data, size_t size)
{
	struct sdp_rewrite_media media[SDP_MAX_MEDIA];
	struct sdp_rewrite rw = {.media = media, .media_count = sdp_media_count(sdp)};
	char *out = malloc(size);
	ssize_t n;

	CHECK(out != NULL);
	memset(media, 0, sizeof(media));
	n = sdp_rewrite(sdp, &rw, out, size);
	CHECK(n == (ssize_t)size && memcmp(out, data, size) == 0);
	free(out);
}

static void make_request(const struct sdp *sdp, uint32_t h, struct sdp_rewrite *rw,
			 struct sdp_rewrite_media *media)
{
	memset(rw, 0, sizeof(*rw));
	rw->media = media;
	rw->media_count = sdp_media_count(sdp);
	rw->rewrite_origin = h & 1;
	rw->remove_ice = h & 2;
	rw->keep_hold = h & 4;
	if (h & 8)
		addr_parse("198.51.100.1", 12, &rw->session_addr);
	for (size_t i = 0; i < rw->media_count; i++) {
		uint32_t b = h >> (i % 24);
		uint16_t rtp = (uint16_t)(20000 + 2 * i);

		memset(&media[i], 0, sizeof(media[i]));
		if (b & 16)
			addr_parse("2001:db8::99", 12, &media[i].addr);
		else
			addr_parse(i & 1 ? "203.0.113.2" : "203.0.113.1", 11, &media[i].addr);
		media[i].rtp_port = rtp;
		switch ((b >> 5) & 3) {
		case 0:
			media[i].rtcp_port = 0;
			break;
		case 1:
			media[i].rtcp_port = rtp;
			break;
		case 2:
			media[i].rtcp_port = (uint16_t)(rtp + 1);
			break;
		default:
			media[i].rtcp_port = (uint16_t)(rtp + 101);
			break;
		}
	}
}

/* The rewritten body says what was asked for each stream. */
static void check_result(const struct sdp *in, const struct sdp_rewrite *rw, const struct sdp *out)
{
	CHECK(sdp_media_count(out) == sdp_media_count(in));
	for (size_t i = 0; i < sdp_media_count(in); i++) {
		const struct sdp_media *a = sdp_media_at(in, i), *b = sdp_media_at(out, i);
		const struct sdp_rewrite_media *rm = &rw->media[i];

		CHECK(b->port == (a->port == 0 ? 0 : rm->rtp_port));
		CHECK(b->fmt_count == a->fmt_count && b->dir == a->dir);
		if (rw->keep_hold && sdp_conn_is_hold(a->eff_conn))
			CHECK(sdp_conn_is_hold(b->eff_conn));
		else
			CHECK(b->eff_conn != NULL && b->eff_conn->literal &&
			      addr_equal(&b->eff_conn->ip, &rm->addr));
		if (a->port == 0)
			continue;
		if (rm->rtcp_port == 0)
			CHECK(!b->has_rtcp);
		else
			CHECK(b->has_rtcp
				      ? b->rtcp_port == rm->rtcp_port
				      : (unsigned int)rm->rtcp_port == (unsigned int)b->port + 1);
		if (rw->remove_ice)
			CHECK(!b->has_ice);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdp_rewrite_media media[SDP_MAX_MEDIA];
	struct sdp_rewrite rw;
	struct sdp_error err;
	struct sdp *sdp, *again;
	char *out;
	size_t max;
	ssize_t n;
	int rc;

	rc = sdp_parse((const char *)data, size, &sdp, &err);
	if (rc != 0) {
		CHECK(sdp == NULL && err.reason != NULL);
		return 0;
	}
	walk(sdp);
	check_identity(sdp, data, size);
	make_request(sdp, hash(data, size), &rw, media);
	max = sdp_rewrite_max_len(sdp);
	out = malloc(max);
	CHECK(out != NULL);
	n = sdp_rewrite(sdp, &rw, out, max);
	CHECK(n > 0 && (size_t)n <= max);
	CHECK(sdp_rewrite(sdp, &rw, out, (size_t)n - 1) == -ENOSPC);
	CHECK(sdp_rewrite(sdp, &rw, out, (size_t)n) == n);
	rc = sdp_parse(out, (size_t)n, &again, &err);
	/* Growth may cross a size limit; anything else the rewriter writes must be valid SDP. */
	CHECK(rc == 0 || rc == -E2BIG);
	if (rc == 0) {
		check_result(sdp, &rw, again);
		sdp_free(again);
	}
	free(out);
	sdp_free(sdp);
	return 0;
}
