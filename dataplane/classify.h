/* classify: validates the Ethernet, ARP, IPv4, UDP and ICMP headers of a received frame in a byte
 * buffer and says what it is, or why it must be dropped; and demultiplexes what a UDP payload
 * carries (RTP, RTCP, STUN, DTLS) without reading past it. */
#ifndef SBC_DATAPLANE_CLASSIFY_H
#define SBC_DATAPLANE_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

enum classify_kind {
	CLASSIFY_DROP = 0, /* malformed or not for us: see classify_result.drop */
	CLASSIFY_UDP4,	   /* a valid IPv4/UDP datagram (a relay candidate) */
	CLASSIFY_ARP,	   /* a valid Ethernet/IPv4 ARP request or reply */
	CLASSIFY_ICMP4,	   /* a valid ICMPv4 message (checksum verified) */
};

/* Why a frame is dropped. Each is a counter in the worker's stats. */
enum classify_drop {
	CLASSIFY_DROP_NONE = 0,
	CLASSIFY_DROP_ETH_SHORT,     /* shorter than an Ethernet header */
	CLASSIFY_DROP_ETH_LONG,	     /* longer than 65535 bytes */
	CLASSIFY_DROP_ETH_TYPE,	     /* not IPv4 or ARP (IPv6 and VLAN tags: not yet) */
	CLASSIFY_DROP_ETH_SRC,	     /* source MAC multicast/broadcast (IEEE 802.3 §3.2.3) */
	CLASSIFY_DROP_ARP_MALFORMED, /* short, or not Ethernet/IPv4 (RFC 826), or unknown op */
	CLASSIFY_DROP_IP_SHORT,	     /* shorter than an IPv4 header */
	CLASSIFY_DROP_IP_VERSION,    /* version is not 4 */
	CLASSIFY_DROP_IP_HLEN,	     /* IHL below 5 or the header runs past the frame */
	CLASSIFY_DROP_IP_TOTLEN,     /* total length below the header or past the frame */
	CLASSIFY_DROP_IP_CSUM,	     /* header checksum wrong (RFC 791, RFC 1071) */
	CLASSIFY_DROP_IP_FRAGMENT,   /* a fragment: the relay does not reassemble */
	CLASSIFY_DROP_IP_TTL,	     /* TTL 0, which no host may send (RFC 1122 §3.2.1.7) */
	CLASSIFY_DROP_IP_SRC,	     /* martian source: 0/8, 127/8, multicast, 240/4, broadcast */
	CLASSIFY_DROP_IP_PROTO,	     /* neither UDP nor ICMP */
	CLASSIFY_DROP_UDP_SHORT,     /* IP payload shorter than a UDP header */
	CLASSIFY_DROP_UDP_LEN,	     /* UDP length is not the IP payload length */
	CLASSIFY_DROP_UDP_CSUM,	     /* UDP checksum present and wrong (with CLASSIFY_F_UDP_CSUM) */
	CLASSIFY_DROP_UDP_PORT,	     /* source or destination port 0 */
	CLASSIFY_DROP_ICMP_MALFORMED, /* shorter than an ICMP header, or checksum wrong */
	CLASSIFY_DROP_COUNT,
};

/* Flags for classify_frame(). */
#define CLASSIFY_F_UDP_CSUM (1u << 0) /* verify UDP checksums in software (the NIC did not) */

/* What classify_frame() found. Offsets are from the start of the frame; addresses are in network
 * byte order (as struct in_addr's s_addr), ports in host byte order. Fields not relevant to the
 * kind are 0. */
struct classify_result {
	uint8_t kind; /* enum classify_kind */
	uint8_t drop; /* enum classify_drop, CLASSIFY_DROP_NONE unless kind is CLASSIFY_DROP */
	uint16_t l3_off;
	uint16_t l4_off;
	uint16_t payload_off; /* UDP payload, ICMP body after its 4-byte header */
	uint16_t payload_len;
	uint32_t src_ip; /* IPv4 source; ARP sender protocol address */
	uint32_t dst_ip; /* IPv4 destination; ARP target protocol address */
	uint16_t src_port;
	uint16_t dst_port;
	uint16_t arp_op; /* 1 request, 2 reply */
	uint8_t icmp_type;
	uint8_t icmp_code;
};

/* Classifies frame[0..len). Never reads outside it, whatever the header fields say; frames longer
 * than 65535 bytes are refused. Trailing bytes after the IP datagram (Ethernet padding) are
 * allowed. Returns out->kind. Pure; any thread. */
enum classify_kind classify_frame(const uint8_t *frame, size_t len, uint32_t flags,
				  struct classify_result *out);

/* A short stable name of a drop reason, for stats ("ip-csum", ...). */
const char *classify_drop_name(enum classify_drop d);

/* What a UDP payload on a relay port carries, by its first bytes (RFC 7983 §7, RFC 5761 §4). */
enum classify_media {
	CLASSIFY_MEDIA_BAD = 0, /* too short or malformed for what its first byte says */
	CLASSIFY_MEDIA_RTP,
	CLASSIFY_MEDIA_RTCP,
	CLASSIFY_MEDIA_STUN,
	CLASSIFY_MEDIA_DTLS,
	CLASSIFY_MEDIA_OTHER, /* ZRTP, TURN channel data, or unassigned first bytes */
};

/* Demultiplexes a payload by its first bytes and checks the header that is in clear even with
 * SRTP/SRTCP: an RTP fixed header with its CSRCs and header extension (RFC 3550 §5.1, §5.3.1); the
 * first RTCP header with version 2 and a length that fits (RFC 3550 §6.4.1); a STUN header with
 * the magic cookie and a length that matches (RFC 8489 §5); a DTLS record header that fits
 * (RFC 6347 §4.1). Never reads past len. Pure; any thread. */
enum classify_media classify_media(const uint8_t *p, size_t len);

/* For plain (not SRTP) RTP: the payload of an RTP packet after CSRCs, extension and padding
 * (RFC 3550 §5.1: the last byte counts the padding, itself included). Sets *off and *plen and
 * returns 0, or -EINVAL when any of them points past the end. */
int classify_rtp_payload(const uint8_t *p, size_t len, size_t *off, size_t *plen);

/* For plain (not SRTCP) RTCP: walks a compound packet (RFC 3550 §6.1) and returns how many RTCP
 * packets it holds, or -EINVAL when a length runs past the end or does not end exactly at len, a
 * version is not 2, padding is set on any packet but the last, or there are more than
 * CLASSIFY_RTCP_MAX packets. */
#define CLASSIFY_RTCP_MAX 64
int classify_rtcp_count(const uint8_t *p, size_t len);

#endif
