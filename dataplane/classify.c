/* classify: validates the Ethernet, ARP, IPv4, UDP and ICMP headers of a received frame in a byte
 * buffer and says what it is, or why it must be dropped; and demultiplexes what a UDP payload
 * carries (RTP, RTCP, STUN, DTLS) without reading past it. */
#include "classify.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define ETH_HLEN       14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP  0x0806
#define ARP_LEN	       28 /* Ethernet/IPv4 ARP body (RFC 826) */
#define IPV4_MIN_HLEN  20
#define UDP_HLEN       8
#define ICMP_MIN_LEN   8
#define IPPROTO_ICMP_  1
#define IPPROTO_UDP_   17

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Four bytes as they are on the wire, i.e. an address in network byte order. */
static uint32_t rd32_net(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The Internet checksum's ones' complement sum (RFC 1071 §4.1), not yet folded, over words read in
 * the host's byte order: RFC 1071 §2(B) shows the sum is byte-order independent (a byte-swapped
 * sum of byte-swapped words), and "all ones" is the same either way, so verifying needs no swaps.
 * Four bytes per addition into a 64-bit accumulator, which cannot overflow for any frame we
 * accept (at most 65535 bytes). This runs over every relayed datagram on ports without checksum
 * offload: it is most of the cost of classifying a frame. */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	uint64_t s2 = 0, s3 = 0, s4 = 0;
	uint32_t w, w2, w3, w4;
	uint16_t h = 0;

	for (; len >= 16; p += 16, len -= 16) {
		memcpy(&w, p, 4);
		memcpy(&w2, p + 4, 4);
		memcpy(&w3, p + 8, 4);
		memcpy(&w4, p + 12, 4);
		sum += w;
		s2 += w2;
		s3 += w3;
		s4 += w4;
	}
	if (len >= 8) {
		memcpy(&w, p, 4);
		memcpy(&w2, p + 4, 4);
		sum += w;
		s2 += w2;
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		memcpy(&w, p, 4);
		sum += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* The odd byte is the first of a word padded with zero (RFC 1071 §4.1). */
		uint8_t last[2] = {p[0], 0};

		memcpy(&h, last, 2);
		sum += h;
	}
	return sum + s2 + s3 + s4;
}

/* True when the data, checksum field included, sums to all ones: the checksum verifies. */
static bool csum_ok(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static enum classify_kind drop(struct classify_result *out, enum classify_drop why)
{
	out->kind = CLASSIFY_DROP;
	out->drop = (uint8_t)why;
	return CLASSIFY_DROP;
}

static enum classify_kind classify_arp(const uint8_t *f, size_t len, struct classify_result *out)
{
	const uint8_t *a = f + ETH_HLEN;
	uint16_t op;

	/* RFC 826 for Ethernet (hardware type 1) and IPv4 (protocol 0x0800, lengths 6 and 4). */
	if (len - ETH_HLEN < ARP_LEN || rd16(a) != 1 || rd16(a + 2) != ETHERTYPE_IPV4 ||
	    a[4] != 6 || a[5] != 4)
		return drop(out, CLASSIFY_DROP_ARP_MALFORMED);
	op = rd16(a + 6);
	if (op != 1 && op != 2)
		return drop(out, CLASSIFY_DROP_ARP_MALFORMED);
	out->kind = CLASSIFY_ARP;
	out->l3_off = ETH_HLEN;
	out->arp_op = op;
	out->src_ip = rd32_net(a + 14);
	out->dst_ip = rd32_net(a + 24);
	return CLASSIFY_ARP;
}

/* RFC 1812 §5.3.7 and RFC 1122 §3.2.1.3: sources no host may use; replying or latching to them
 * would be wrong (and loopback or broadcast sources are a classic spoof). */
static bool martian_src(const uint8_t *ip)
{
	return ip[0] == 0 || ip[0] == 127 || ip[0] >= 224;
}

static enum classify_kind classify_udp(const uint8_t *ip, size_t l4len, uint32_t flags,
				       struct classify_result *out)
{
	const uint8_t *u = ip + (out->l4_off - out->l3_off);
	uint64_t sum;

	if (l4len < UDP_HLEN)
		return drop(out, CLASSIFY_DROP_UDP_SHORT);
	/* RFC 768: the length covers header and data. A length that disagrees with IP's either
	 * hides bytes or claims bytes that are not there: both are refused. */
	if (rd16(u + 4) != l4len)
		return drop(out, CLASSIFY_DROP_UDP_LEN);
	if (rd16(u) == 0 || rd16(u + 2) == 0)
		return drop(out, CLASSIFY_DROP_UDP_PORT);
	/* Checksum 0 means none was computed (RFC 768). */
	if ((flags & CLASSIFY_F_UDP_CSUM) && rd16(u + 6) != 0) {
		/* Pseudo header (RFC 768): addresses, then zero, protocol and UDP length, laid
		 * out as on the wire so that its words are summed in the same byte order. */
		uint8_t ph[4] = {0, IPPROTO_UDP_, (uint8_t)(l4len >> 8), (uint8_t)l4len};

		sum = csum_add(0, ip + 12, 8);
		sum = csum_add(sum, ph, 4);
		sum = csum_add(sum, u, l4len);
		if (!csum_ok(sum))
			return drop(out, CLASSIFY_DROP_UDP_CSUM);
	}
	out->kind = CLASSIFY_UDP4;
	out->src_port = rd16(u);
	out->dst_port = rd16(u + 2);
	out->payload_off = (uint16_t)(out->l4_off + UDP_HLEN);
	out->payload_len = (uint16_t)(l4len - UDP_HLEN);
	return CLASSIFY_UDP4;
}

static enum classify_kind classify_icmp(const uint8_t *ip, size_t l4len,
					struct classify_result *out)
{
	const uint8_t *c = ip + (out->l4_off - out->l3_off);

	if (l4len < ICMP_MIN_LEN || !csum_ok(csum_add(0, c, l4len)))
		return drop(out, CLASSIFY_DROP_ICMP_MALFORMED);
	out->kind = CLASSIFY_ICMP4;
	out->icmp_type = c[0];
	out->icmp_code = c[1];
	out->payload_off = (uint16_t)(out->l4_off + 4);
	out->payload_len = (uint16_t)(l4len - 4);
	return CLASSIFY_ICMP4;
}

static enum classify_kind classify_ipv4(const uint8_t *f, size_t len, uint32_t flags,
					struct classify_result *out)
{
	const uint8_t *ip = f + ETH_HLEN;
	size_t avail = len - ETH_HLEN, hlen, total;

	if (avail < IPV4_MIN_HLEN)
		return drop(out, CLASSIFY_DROP_IP_SHORT);
	if (ip[0] >> 4 != 4)
		return drop(out, CLASSIFY_DROP_IP_VERSION);
	hlen = (size_t)(ip[0] & 0x0f) * 4;
	if (hlen < IPV4_MIN_HLEN || hlen > avail)
		return drop(out, CLASSIFY_DROP_IP_HLEN);
	total = rd16(ip + 2);
	/* Bytes after total length are Ethernet padding (frames of less than 60 bytes). */
	if (total < hlen || total > avail)
		return drop(out, CLASSIFY_DROP_IP_TOTLEN);
	if (!csum_ok(csum_add(0, ip, hlen)))
		return drop(out, CLASSIFY_DROP_IP_CSUM);
	/* More-fragments set or a fragment offset: a piece of a larger datagram (RFC 791). */
	if (rd16(ip + 6) & 0x3fff)
		return drop(out, CLASSIFY_DROP_IP_FRAGMENT);
	if (ip[8] == 0)
		return drop(out, CLASSIFY_DROP_IP_TTL);
	if (martian_src(ip + 12))
		return drop(out, CLASSIFY_DROP_IP_SRC);
	out->l3_off = ETH_HLEN;
	out->l4_off = (uint16_t)(ETH_HLEN + hlen);
	out->src_ip = rd32_net(ip + 12);
	out->dst_ip = rd32_net(ip + 16);
	switch (ip[9]) {
	case IPPROTO_UDP_:
		return classify_udp(ip, total - hlen, flags, out);
	case IPPROTO_ICMP_:
		return classify_icmp(ip, total - hlen, out);
	default:
		return drop(out, CLASSIFY_DROP_IP_PROTO);
	}
}

enum classify_kind classify_frame(const uint8_t *frame, size_t len, uint32_t flags,
				  struct classify_result *out)
{
	memset(out, 0, sizeof(*out));
	if (len > UINT16_MAX)
		return drop(out, CLASSIFY_DROP_ETH_LONG);
	if (len < ETH_HLEN)
		return drop(out, CLASSIFY_DROP_ETH_SHORT);
	/* The group bit of a source MAC is never set on a real sender (IEEE 802.3 §3.2.3). */
	if (frame[6] & 1)
		return drop(out, CLASSIFY_DROP_ETH_SRC);
	switch (rd16(frame + 12)) {
	case ETHERTYPE_IPV4:
		return classify_ipv4(frame, len, flags, out);
	case ETHERTYPE_ARP:
		return classify_arp(frame, len, out);
	default:
		return drop(out, CLASSIFY_DROP_ETH_TYPE);
	}
}

const char *classify_drop_name(enum classify_drop d)
{
	static const char *const names[CLASSIFY_DROP_COUNT] = {
		[CLASSIFY_DROP_NONE] = "none",
		[CLASSIFY_DROP_ETH_SHORT] = "eth-short",
		[CLASSIFY_DROP_ETH_LONG] = "eth-long",
		[CLASSIFY_DROP_ETH_TYPE] = "eth-type",
		[CLASSIFY_DROP_ETH_SRC] = "eth-src",
		[CLASSIFY_DROP_ARP_MALFORMED] = "arp-malformed",
		[CLASSIFY_DROP_IP_SHORT] = "ip-short",
		[CLASSIFY_DROP_IP_VERSION] = "ip-version",
		[CLASSIFY_DROP_IP_HLEN] = "ip-hlen",
		[CLASSIFY_DROP_IP_TOTLEN] = "ip-totlen",
		[CLASSIFY_DROP_IP_CSUM] = "ip-csum",
		[CLASSIFY_DROP_IP_FRAGMENT] = "ip-fragment",
		[CLASSIFY_DROP_IP_TTL] = "ip-ttl",
		[CLASSIFY_DROP_IP_SRC] = "ip-src",
		[CLASSIFY_DROP_IP_PROTO] = "ip-proto",
		[CLASSIFY_DROP_UDP_SHORT] = "udp-short",
		[CLASSIFY_DROP_UDP_LEN] = "udp-len",
		[CLASSIFY_DROP_UDP_CSUM] = "udp-csum",
		[CLASSIFY_DROP_UDP_PORT] = "udp-port",
		[CLASSIFY_DROP_ICMP_MALFORMED] = "icmp-malformed",
	};

	return (unsigned)d < CLASSIFY_DROP_COUNT ? names[d] : "?";
}

#define RTP_HLEN    12
#define RTCP_HLEN   8 /* common header and SSRC of the sender (RFC 3550 §6.4.1) */
#define STUN_HLEN   20
#define STUN_COOKIE 0x2112a442u
#define DTLS_HLEN   13

/* The RTP header through CSRCs and extension; returns its length or -EINVAL. */
static int rtp_header_len(const uint8_t *p, size_t len)
{
	size_t off;

	if (len < RTP_HLEN || p[0] >> 6 != 2)
		return -EINVAL;
	off = RTP_HLEN + (size_t)(p[0] & 0x0f) * 4;
	if (off > len)
		return -EINVAL;
	if (p[0] & 0x10) {
		/* RFC 3550 §5.3.1: 16-bit profile field, 16-bit length in 32-bit words. */
		if (len - off < 4)
			return -EINVAL;
		off += 4 + (size_t)rd16(p + off + 2) * 4;
		if (off > len)
			return -EINVAL;
	}
	return (int)off;
}

static bool rtcp_header_ok(const uint8_t *p, size_t len, size_t *pkt_len)
{
	if (len < 4 || p[0] >> 6 != 2)
		return false;
	*pkt_len = ((size_t)rd16(p + 2) + 1) * 4;
	return *pkt_len <= len;
}

enum classify_media classify_media(const uint8_t *p, size_t len)
{
	size_t n;

	if (len == 0)
		return CLASSIFY_MEDIA_BAD;
	/* RFC 7983 §7: the first byte tells the protocols apart. */
	if (p[0] <= 3) {
		if (len < STUN_HLEN || ((uint32_t)rd16(p + 4) << 16 | rd16(p + 6)) != STUN_COOKIE ||
		    rd16(p + 2) % 4 || (size_t)rd16(p + 2) + STUN_HLEN != len)
			return CLASSIFY_MEDIA_BAD;
		return CLASSIFY_MEDIA_STUN;
	}
	if (p[0] >= 20 && p[0] <= 63) {
		if (len < DTLS_HLEN || (size_t)rd16(p + 11) > len - DTLS_HLEN)
			return CLASSIFY_MEDIA_BAD;
		return CLASSIFY_MEDIA_DTLS;
	}
	if (p[0] >= 128 && p[0] <= 191) {
		/* RFC 5761 §4: RTCP packet types 192-223 do not clash with the RTP payload types
		 * in use when RTP and RTCP share a port. */
		if (len >= 2 && p[1] >= 192 && p[1] <= 223) {
			if (len < RTCP_HLEN || !rtcp_header_ok(p, len, &n) || n < RTCP_HLEN)
				return CLASSIFY_MEDIA_BAD;
			return CLASSIFY_MEDIA_RTCP;
		}
		return rtp_header_len(p, len) < 0 ? CLASSIFY_MEDIA_BAD : CLASSIFY_MEDIA_RTP;
	}
	return CLASSIFY_MEDIA_OTHER;
}

int classify_rtp_payload(const uint8_t *p, size_t len, size_t *off, size_t *plen)
{
	int h = rtp_header_len(p, len);
	size_t pad = 0;

	if (h < 0)
		return -EINVAL;
	if (p[0] & 0x20) {
		/* The padding count includes itself, so 0 is invalid, and it may not eat into the
		 * header. */
		pad = p[len - 1];
		if (pad == 0 || pad > len - (size_t)h)
			return -EINVAL;
	}
	*off = (size_t)h;
	*plen = len - (size_t)h - pad;
	return 0;
}

int classify_rtcp_count(const uint8_t *p, size_t len)
{
	size_t off = 0, n;
	int count = 0;

	while (off < len) {
		if (count == CLASSIFY_RTCP_MAX || !rtcp_header_ok(p + off, len - off, &n))
			return -EINVAL;
		/* RFC 3550 §6.4.1: only the last packet of a compound may be padded, and its last
		 * byte counts the padding, which cannot reach into the header. */
		if ((p[off] & 0x20) && (off + n != len || p[len - 1] == 0 || p[len - 1] > n - 4))
			return -EINVAL;
		off += n; /* n >= 4: every step advances */
		count++;
	}
	return count ? count : -EINVAL;
}
