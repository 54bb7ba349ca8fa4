/* classify_test: unit tests for frame header validation and media demultiplexing, with hostile
 * frames (truncation at every length, lying length fields, random mutations). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "classify.h"

/* Our own reference checksum (RFC 1071), written independently of classify.c's. */
static uint16_t ref_csum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i < len; i++)
		sum += i % 2 ? p[i] : (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void fix_ip_csum(uint8_t *f)
{
	size_t hlen = (size_t)(f[14] & 0x0f) * 4;

	put16(f + 24, 0);
	put16(f + 24, ref_csum(f + 14, hlen, 0));
}

static void fix_udp_csum(uint8_t *f)
{
	size_t hlen = (size_t)(f[14] & 0x0f) * 4;
	uint8_t *u = f + 14 + hlen;
	uint16_t ulen = (uint16_t)(u[4] << 8 | u[5]);
	uint32_t pseudo = 0;
	uint16_t c;

	for (int i = 0; i < 8; i += 2)
		pseudo += (uint32_t)(f[26 + i] << 8 | f[27 + i]);
	pseudo += 17 + ulen;
	put16(u + 6, 0);
	c = ref_csum(u, ulen, pseudo);
	put16(u + 6, c ? c : 0xffff);
}

/* Builds Ethernet + IPv4 (20 bytes) + UDP 203.0.113.9:52500 -> 192.0.2.1:30000 with the given
 * payload, all checksums right. Returns the frame length. */
static size_t build_udp(uint8_t *f, const uint8_t *payload, size_t plen)
{
	static const uint8_t eth[14] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00};
	uint8_t *ip = f + 14, *u = f + 34;

	memcpy(f, eth, sizeof(eth));
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + 8 + plen));
	put16(ip + 4, 0x1234);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 17;
	inet_pton(AF_INET, "203.0.113.9", ip + 12);
	inet_pton(AF_INET, "192.0.2.1", ip + 16);
	put16(u, 52500);
	put16(u + 2, 30000);
	put16(u + 4, (uint16_t)(8 + plen));
	memcpy(u + 8, payload, plen);
	fix_ip_csum(f);
	fix_udp_csum(f);
	return 34 + 8 + plen;
}

static const uint8_t rtp[20] = {0x80, 0x00, 0x12, 0x34, 0, 0, 0, 160, 0xde, 0xad,
				0xbe, 0xef, 1,	  2,	3, 4, 5, 6,   7,    8};

static enum classify_drop drop_of(const uint8_t *f, size_t len, uint32_t flags)
{
	struct classify_result r;

	assert_int_equal(classify_frame(f, len, flags, &r), CLASSIFY_DROP);
	return r.drop;
}

static void test_valid_udp(void **state)
{
	uint8_t f[128];
	size_t len = build_udp(f, rtp, sizeof(rtp));
	struct classify_result r;

	(void)state;
	assert_int_equal(classify_frame(f, len, CLASSIFY_F_UDP_CSUM, &r), CLASSIFY_UDP4);
	assert_int_equal(r.drop, CLASSIFY_DROP_NONE);
	assert_int_equal(r.l3_off, 14);
	assert_int_equal(r.l4_off, 34);
	assert_int_equal(r.payload_off, 42);
	assert_int_equal(r.payload_len, sizeof(rtp));
	assert_int_equal(r.src_port, 52500);
	assert_int_equal(r.dst_port, 30000);
	assert_int_equal(r.src_ip, inet_addr("203.0.113.9"));
	assert_int_equal(r.dst_ip, inet_addr("192.0.2.1"));
	assert_int_equal(classify_media(f + r.payload_off, r.payload_len), CLASSIFY_MEDIA_RTP);

	/* Ethernet padding after the datagram is fine (minimum frame of 60 bytes). */
	len = build_udp(f, rtp, 4);
	memset(f + len, 0xee, 60 - len);
	assert_int_equal(classify_frame(f, 60, CLASSIFY_F_UDP_CSUM, &r), CLASSIFY_UDP4);
	assert_int_equal(r.payload_len, 4);

	/* TTL 1 is a valid arrival (RFC 1122 §3.2.1.7); DF is fine; checksum 0 means none. */
	len = build_udp(f, rtp, sizeof(rtp));
	f[22] = 1;
	fix_ip_csum(f);
	put16(f + 40, 0);
	assert_int_equal(classify_frame(f, len, CLASSIFY_F_UDP_CSUM, &r), CLASSIFY_UDP4);

	/* IP options are skipped (IHL 6). */
	memmove(f + 38, f + 34, len - 34);
	f[14] = 0x46;
	memset(f + 34, 1, 4); /* four NOP options (RFC 791) */
	put16(f + 16, (uint16_t)(24 + 8 + sizeof(rtp)));
	fix_ip_csum(f);
	assert_int_equal(classify_frame(f, len + 4, CLASSIFY_F_UDP_CSUM, &r), CLASSIFY_UDP4);
	assert_int_equal(r.l4_off, 38);
	assert_int_equal(r.payload_off, 46);
}

static void test_udp_checksum(void **state)
{
	uint8_t f[128];
	size_t len = build_udp(f, rtp, sizeof(rtp));
	struct classify_result r;

	(void)state;
	f[len - 1] ^= 0x01;
	assert_int_equal(drop_of(f, len, CLASSIFY_F_UDP_CSUM), CLASSIFY_DROP_UDP_CSUM);
	/* Without the flag the NIC is trusted to have checked it. */
	assert_int_equal(classify_frame(f, len, 0, &r), CLASSIFY_UDP4);
	/* A pseudo-header field changed (destination address) breaks it too. */
	len = build_udp(f, rtp, sizeof(rtp));
	f[33] ^= 0x01;
	fix_ip_csum(f);
	assert_int_equal(drop_of(f, len, CLASSIFY_F_UDP_CSUM), CLASSIFY_DROP_UDP_CSUM);
	/* Odd payload lengths are summed with a zero pad byte. */
	len = build_udp(f, rtp, 13);
	assert_int_equal(classify_frame(f, len, CLASSIFY_F_UDP_CSUM, &r), CLASSIFY_UDP4);
}

static void test_bad_ip(void **state)
{
	uint8_t f[128];
	size_t len;

	(void)state;
	len = build_udp(f, rtp, sizeof(rtp));
	f[14] = 0x65;
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_IP_VERSION);
	f[14] = 0x44;
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_IP_HLEN);
	f[14] = 0x4f; /* a 60-byte header with 59 bytes of IP in the frame */
	assert_int_equal(drop_of(f, 14 + 59, 0), CLASSIFY_DROP_IP_HLEN);

	len = build_udp(f, rtp, sizeof(rtp));
	put16(f + 16, (uint16_t)(len - 14 + 1)); /* claims one byte more than there is */
	fix_ip_csum(f);
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_IP_TOTLEN);
	put16(f + 16, 19);
	fix_ip_csum(f);
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_IP_TOTLEN);
	put16(f + 16, 0xffff);
	fix_ip_csum(f);
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_IP_TOTLEN);

	len = build_udp(f, rtp, sizeof(rtp));
	f[24] ^= 0x40;
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_IP_CSUM);

	len = build_udp(f, rtp, sizeof(rtp));
	put16(f + 20, 0x2000); /* MF */
	fix_ip_csum(f);
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_IP_FRAGMENT);
	put16(f + 20, 0x0001); /* last fragment, offset 8 */
	fix_ip_csum(f);
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_IP_FRAGMENT);

	len = build_udp(f, rtp, sizeof(rtp));
	f[22] = 0;
	fix_ip_csum(f);
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_IP_TTL);

	static const char *const martians[] = {"0.0.0.0",	 "0.1.2.3",   "127.0.0.1",
					       "224.0.0.1",	 "239.1.1.1", "240.0.0.1",
					       "255.255.255.255"};
	for (size_t i = 0; i < sizeof(martians) / sizeof(martians[0]); i++) {
		len = build_udp(f, rtp, sizeof(rtp));
		inet_pton(AF_INET, martians[i], f + 26);
		fix_ip_csum(f);
		fix_udp_csum(f);
		assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_IP_SRC);
	}

	len = build_udp(f, rtp, sizeof(rtp));
	f[23] = 6; /* TCP */
	fix_ip_csum(f);
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_IP_PROTO);
}

static void test_bad_udp(void **state)
{
	uint8_t f[128];
	size_t len;

	(void)state;
	len = build_udp(f, rtp, sizeof(rtp));
	put16(f + 38, (uint16_t)(8 + sizeof(rtp) + 1));
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_UDP_LEN);
	put16(f + 38, (uint16_t)(8 + sizeof(rtp) - 1));
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_UDP_LEN);
	put16(f + 38, 7);
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_UDP_LEN);

	/* An IP datagram with room for only half a UDP header. */
	len = build_udp(f, rtp, 0);
	put16(f + 16, 24);
	fix_ip_csum(f);
	assert_int_equal(drop_of(f, 38, 0), CLASSIFY_DROP_UDP_SHORT);

	len = build_udp(f, rtp, sizeof(rtp));
	put16(f + 34, 0);
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_UDP_PORT);
	len = build_udp(f, rtp, sizeof(rtp));
	put16(f + 36, 0);
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_UDP_PORT);
}

static void test_ethernet(void **state)
{
	uint8_t f[128];
	size_t len = build_udp(f, rtp, sizeof(rtp));
	uint8_t *big;
	struct classify_result r;

	(void)state;
	f[6] |= 1;
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_ETH_SRC);
	f[6] &= (uint8_t)~1u;
	put16(f + 12, 0x86dd);
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_ETH_TYPE);
	put16(f + 12, 0x8100);
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_ETH_TYPE);
	assert_int_equal(drop_of(f, 13, 0), CLASSIFY_DROP_ETH_SHORT);
	assert_int_equal(drop_of(f, 0, 0), CLASSIFY_DROP_ETH_SHORT);

	big = calloc(1, 65536);
	assert_non_null(big);
	len = build_udp(big, rtp, sizeof(rtp));
	assert_int_equal(drop_of(big, 65536, 0), CLASSIFY_DROP_ETH_LONG);
	assert_int_equal(classify_frame(big, 65535, 0, &r), CLASSIFY_UDP4);
	free(big);
}

static size_t build_arp(uint8_t *f, uint16_t op)
{
	static const uint8_t hdr[14] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
					0,    0,    0,	  0,	2,    0x08, 0x06};

	memcpy(f, hdr, sizeof(hdr));
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, op);
	memcpy(f + 22, hdr + 6, 6);
	inet_pton(AF_INET, "192.0.2.254", f + 28);
	memset(f + 32, 0, 6);
	inet_pton(AF_INET, "192.0.2.1", f + 38);
	return 42;
}

static void test_arp(void **state)
{
	uint8_t f[64];
	size_t len = build_arp(f, 1);
	struct classify_result r;

	(void)state;
	assert_int_equal(classify_frame(f, len, 0, &r), CLASSIFY_ARP);
	assert_int_equal(r.arp_op, 1);
	assert_int_equal(r.src_ip, inet_addr("192.0.2.254"));
	assert_int_equal(r.dst_ip, inet_addr("192.0.2.1"));
	/* Padded to 60 bytes, as on the wire. */
	memset(f + len, 0, 60 - len);
	assert_int_equal(classify_frame(f, 60, 0, &r), CLASSIFY_ARP);
	len = build_arp(f, 2);
	assert_int_equal(classify_frame(f, len, 0, &r), CLASSIFY_ARP);
	assert_int_equal(r.arp_op, 2);

	for (size_t cut = 14; cut < 42; cut++)
		assert_int_equal(drop_of(f, cut, 0), CLASSIFY_DROP_ARP_MALFORMED);
	len = build_arp(f, 3);
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_ARP_MALFORMED);
	len = build_arp(f, 1);
	put16(f + 14, 6); /* IEEE 802 hardware type */
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_ARP_MALFORMED);
	len = build_arp(f, 1);
	f[19] = 16;
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_ARP_MALFORMED);
	len = build_arp(f, 1);
	put16(f + 16, 0x86dd);
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_ARP_MALFORMED);
}

static size_t build_icmp_echo(uint8_t *f, size_t data_len)
{
	uint8_t *c = f + 34;
	size_t len = build_udp(f, rtp, 0);

	f[23] = 1;
	put16(f + 16, (uint16_t)(20 + 8 + data_len));
	fix_ip_csum(f);
	memset(c, 0, 8);
	c[0] = 8; /* echo request */
	put16(c + 4, 0x77);
	put16(c + 6, 1);
	memset(c + 8, 0xab, data_len);
	put16(c + 2, ref_csum(c, 8 + data_len, 0));
	(void)len;
	return 34 + 8 + data_len;
}

static void test_icmp(void **state)
{
	uint8_t f[128];
	size_t len = build_icmp_echo(f, 33);
	struct classify_result r;

	(void)state;
	assert_int_equal(classify_frame(f, len, 0, &r), CLASSIFY_ICMP4);
	assert_int_equal(r.icmp_type, 8);
	assert_int_equal(r.icmp_code, 0);
	assert_int_equal(r.payload_off, 38);
	assert_int_equal(r.payload_len, 4 + 33);
	f[len - 1] ^= 0xff;
	assert_int_equal(drop_of(f, len, 0), CLASSIFY_DROP_ICMP_MALFORMED);
	len = build_icmp_echo(f, 0);
	put16(f + 16, 20 + 7);
	fix_ip_csum(f);
	assert_int_equal(drop_of(f, len - 1, 0), CLASSIFY_DROP_ICMP_MALFORMED);
}

/* Every prefix of a valid frame is dropped, read from a heap block of exactly that size so that
 * ASan catches any read past it. */
static void test_truncation_everywhere(void **state)
{
	size_t lens[3];
	uint8_t frames[3][128];

	(void)state;
	lens[0] = build_udp(frames[0], rtp, sizeof(rtp));
	lens[1] = build_arp(frames[1], 1);
	lens[2] = build_icmp_echo(frames[2], 20);
	for (int k = 0; k < 3; k++) {
		for (size_t cut = 0; cut < lens[k]; cut++) {
			uint8_t *p = malloc(cut ? cut : 1);
			struct classify_result r;

			assert_non_null(p);
			memcpy(p, frames[k], cut);
			assert_int_equal(classify_frame(p, cut, CLASSIFY_F_UDP_CSUM, &r),
					 CLASSIFY_DROP);
			assert_int_not_equal(r.drop, CLASSIFY_DROP_NONE);
			free(p);
		}
	}
}

/* Random byte mutations of valid frames: never a crash or a read past the end (ASan), and every
 * accepted frame has offsets inside it. */
static void test_random_mutations(void **state)
{
	uint8_t base[3][128];
	size_t lens[3];
	uint64_t s = 0x243f6a8885a308d3ULL;

	(void)state;
	lens[0] = build_udp(base[0], rtp, sizeof(rtp));
	lens[1] = build_arp(base[1], 1);
	lens[2] = build_icmp_echo(base[2], 20);
	for (int iter = 0; iter < 30000; iter++) {
		int k = iter % 3;
		size_t len = lens[k];
		uint8_t *p;
		struct classify_result r;
		enum classify_kind kind;

		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		len = (s >> 60) == 0 ? (size_t)((s >> 40) % (len + 1)) : len;
		p = malloc(len ? len : 1);
		assert_non_null(p);
		memcpy(p, base[k], len);
		for (int m = 0; m < 3 && len; m++) {
			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			p[(s >> 33) % len] = (uint8_t)(s >> 20);
		}
		kind = classify_frame(p, len, (s & 1) ? CLASSIFY_F_UDP_CSUM : 0, &r);
		if (kind == CLASSIFY_UDP4) {
			assert_true((size_t)r.payload_off + r.payload_len <= len);
			classify_media(p + r.payload_off, r.payload_len);
		} else if (kind == CLASSIFY_DROP) {
			assert_int_not_equal(r.drop, CLASSIFY_DROP_NONE);
		}
		free(p);
	}
}

static void test_drop_names(void **state)
{
	(void)state;
	for (int d = 0; d < CLASSIFY_DROP_COUNT; d++)
		assert_string_not_equal(classify_drop_name((enum classify_drop)d), "?");
	assert_string_equal(classify_drop_name(CLASSIFY_DROP_IP_CSUM), "ip-csum");
	assert_string_equal(classify_drop_name(CLASSIFY_DROP_COUNT), "?");
}

static void test_media_rtp(void **state)
{
	uint8_t p[64];
	size_t off, plen;

	(void)state;
	memcpy(p, rtp, sizeof(rtp));
	assert_int_equal(classify_media(p, 12), CLASSIFY_MEDIA_RTP);
	assert_int_equal(classify_media(p, 11), CLASSIFY_MEDIA_BAD);
	assert_int_equal(classify_media(p, 0), CLASSIFY_MEDIA_BAD);
	assert_int_equal(classify_rtp_payload(p, 20, &off, &plen), 0);
	assert_int_equal(off, 12);
	assert_int_equal(plen, 8);

	/* CSRC count pointing past the end. */
	p[0] = 0x82;
	assert_int_equal(classify_media(p, 20), CLASSIFY_MEDIA_RTP);
	assert_int_equal(classify_media(p, 19), CLASSIFY_MEDIA_BAD);
	p[0] = 0x8f;
	assert_int_equal(classify_media(p, 20), CLASSIFY_MEDIA_BAD);

	/* Header extension: needs its 4-byte header, then length words. */
	memset(p, 0, sizeof(p));
	memcpy(p, rtp, 12);
	p[0] = 0x90;
	assert_int_equal(classify_media(p, 15), CLASSIFY_MEDIA_BAD);
	put16(p + 12, 0xbede);
	put16(p + 14, 2);
	assert_int_equal(classify_media(p, 24), CLASSIFY_MEDIA_RTP);
	assert_int_equal(classify_media(p, 23), CLASSIFY_MEDIA_BAD);
	put16(p + 14, 0xffff);
	assert_int_equal(classify_media(p, 64), CLASSIFY_MEDIA_BAD);
	put16(p + 14, 2);
	assert_int_equal(classify_rtp_payload(p, 30, &off, &plen), 0);
	assert_int_equal(off, 24);
	assert_int_equal(plen, 6);

	/* Padding (RFC 3550 §5.1): count 0, or more than the payload, is refused. */
	memcpy(p, rtp, sizeof(rtp));
	p[0] = 0xa0;
	p[19] = 3;
	assert_int_equal(classify_rtp_payload(p, 20, &off, &plen), 0);
	assert_int_equal(plen, 5);
	p[19] = 8;
	assert_int_equal(classify_rtp_payload(p, 20, &off, &plen), 0);
	assert_int_equal(plen, 0);
	p[19] = 9;
	assert_int_equal(classify_rtp_payload(p, 20, &off, &plen), -EINVAL);
	p[19] = 0;
	assert_int_equal(classify_rtp_payload(p, 20, &off, &plen), -EINVAL);
	p[19] = 255;
	assert_int_equal(classify_rtp_payload(p, 20, &off, &plen), -EINVAL);
	/* Version 2 only. */
	p[0] = 0xc0; /* version 3, first byte 192: not RTP by RFC 7983 */
	assert_int_equal(classify_media(p, 20), CLASSIFY_MEDIA_OTHER);
	assert_int_equal(classify_rtp_payload(p, 20, &off, &plen), -EINVAL);
}

static void test_media_rtcp(void **state)
{
	uint8_t p[512];
	int n;

	(void)state;
	memset(p, 0, sizeof(p));
	/* A receiver report without blocks: header + SSRC, length 1. */
	p[0] = 0x80;
	p[1] = 201;
	put16(p + 2, 1);
	assert_int_equal(classify_media(p, 8), CLASSIFY_MEDIA_RTCP);
	assert_int_equal(classify_rtcp_count(p, 8), 1);
	/* Length larger than the packet. */
	put16(p + 2, 2);
	assert_int_equal(classify_media(p, 8), CLASSIFY_MEDIA_BAD);
	assert_int_equal(classify_rtcp_count(p, 8), -EINVAL);
	put16(p + 2, 0xffff);
	assert_int_equal(classify_media(p, 512), CLASSIFY_MEDIA_BAD);
	/* Too short for the SSRC. */
	put16(p + 2, 0);
	assert_int_equal(classify_media(p, 4), CLASSIFY_MEDIA_BAD);
	assert_int_equal(classify_media(p, 8), CLASSIFY_MEDIA_BAD);

	/* Compound RR + SDES. */
	put16(p + 2, 1);
	p[8] = 0x81;
	p[9] = 202;
	put16(p + 10, 2);
	assert_int_equal(classify_rtcp_count(p, 20), 2);
	assert_int_equal(classify_rtcp_count(p, 19), -EINVAL);
	assert_int_equal(classify_rtcp_count(p, 21), -EINVAL);
	assert_int_equal(classify_rtcp_count(p, 0), -EINVAL);
	/* Padding only on the last packet, with a sane count. */
	p[0] = 0xa0;
	assert_int_equal(classify_rtcp_count(p, 20), -EINVAL);
	p[0] = 0x80;
	p[8] = 0xa1;
	p[19] = 4;
	assert_int_equal(classify_rtcp_count(p, 20), 2);
	p[19] = 9;
	assert_int_equal(classify_rtcp_count(p, 20), -EINVAL);
	p[19] = 0;
	assert_int_equal(classify_rtcp_count(p, 20), -EINVAL);
	/* A bad version inside the compound. */
	p[8] = 0x41;
	assert_int_equal(classify_rtcp_count(p, 20), -EINVAL);

	/* A chain of zero-length blocks: walked in bounded steps, refused past the limit. */
	for (int i = 0; i < 128; i++) {
		p[4 * i] = 0x80;
		p[4 * i + 1] = 203;
		put16(p + 4 * i + 2, 0);
	}
	assert_int_equal(classify_rtcp_count(p, 4 * CLASSIFY_RTCP_MAX), CLASSIFY_RTCP_MAX);
	assert_int_equal(classify_rtcp_count(p, 4 * (CLASSIFY_RTCP_MAX + 1)), -EINVAL);
	n = classify_rtcp_count(p, 512);
	assert_int_equal(n, -EINVAL);
}

static void test_media_stun_dtls_other(void **state)
{
	uint8_t p[64];

	(void)state;
	memset(p, 0, sizeof(p));
	put16(p, 0x0001); /* Binding request */
	put16(p + 2, 8);
	put16(p + 4, 0x2112);
	put16(p + 6, 0xa442);
	assert_int_equal(classify_media(p, 28), CLASSIFY_MEDIA_STUN);
	assert_int_equal(classify_media(p, 27), CLASSIFY_MEDIA_BAD);
	assert_int_equal(classify_media(p, 19), CLASSIFY_MEDIA_BAD);
	put16(p + 2, 7);
	assert_int_equal(classify_media(p, 27), CLASSIFY_MEDIA_BAD);
	put16(p + 2, 8);
	p[7] = 0x43;
	assert_int_equal(classify_media(p, 28), CLASSIFY_MEDIA_BAD);

	memset(p, 0, sizeof(p));
	p[0] = 22; /* handshake */
	p[1] = 0xfe;
	p[2] = 0xfd;
	put16(p + 11, 10);
	assert_int_equal(classify_media(p, 23), CLASSIFY_MEDIA_DTLS);
	assert_int_equal(classify_media(p, 22), CLASSIFY_MEDIA_BAD);
	assert_int_equal(classify_media(p, 12), CLASSIFY_MEDIA_BAD);

	p[0] = 16; /* ZRTP */
	assert_int_equal(classify_media(p, 23), CLASSIFY_MEDIA_OTHER);
	p[0] = 64; /* TURN channel */
	assert_int_equal(classify_media(p, 23), CLASSIFY_MEDIA_OTHER);
	p[0] = 255;
	assert_int_equal(classify_media(p, 1), CLASSIFY_MEDIA_OTHER);
	p[0] = 0x80;
	assert_int_equal(classify_media(p, 1), CLASSIFY_MEDIA_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_udp),
		cmocka_unit_test(test_udp_checksum),
		cmocka_unit_test(test_bad_ip),
		cmocka_unit_test(test_bad_udp),
		cmocka_unit_test(test_ethernet),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_truncation_everywhere),
		cmocka_unit_test(test_random_mutations),
		cmocka_unit_test(test_drop_names),
		cmocka_unit_test(test_media_rtp),
		cmocka_unit_test(test_media_rtcp),
		cmocka_unit_test(test_media_stun_dtls_other),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
