/* addr: IP address parsing, formatting and classification (private ranges, trusted networks). */
#ifndef SBC_COMMON_ADDR_H
#define SBC_COMMON_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An IPv4 or IPv6 address. family is AF_INET or AF_INET6 (0 when unset). */
struct addr_ip {
	int family;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	};
};

/* An address with a UDP/TCP port in host byte order. */
struct addr_port {
	struct addr_ip ip;
	uint16_t port;
};

/* A network: address and prefix length. */
struct addr_cidr {
	struct addr_ip net;
	unsigned int prefix;
};

/* A fixed-size list of networks (trusted networks in policy). */
#define ADDR_SET_MAX 64
struct addr_set {
	size_t count;
	struct addr_cidr nets[ADDR_SET_MAX];
};

/* Longest text form of an address with brackets and port: "[v6]:65535". */
#define ADDR_STRLEN (INET6_ADDRSTRLEN + 8)

/* Parses a literal IPv4 or IPv6 address of exactly len bytes (no NUL needed). An IPv6 address may be
 * enclosed in brackets. Returns true on success; out is untouched on failure. */
bool addr_parse(const char *s, size_t len, struct addr_ip *out);

/* Parses "IP:PORT" or "[IPv6]:PORT" (NUL-terminated). Returns 0 or -EINVAL. */
int addr_port_parse(const char *s, struct addr_port *out);

/* Writes the address without brackets into buf (NUL-terminated). Returns buf, or "?" when it does
 * not fit or the family is unset. */
const char *addr_format(const struct addr_ip *ip, char *buf, size_t len);

/* Writes "IP:PORT" or "[IPv6]:PORT". Returns buf. */
const char *addr_port_format(const struct addr_port *ap, char *buf, size_t len);

/* True when both addresses have the same family and value. IPv4-mapped IPv6 is not folded. */
bool addr_equal(const struct addr_ip *a, const struct addr_ip *b);

/* True when ip lies in one of the ranges nathelper treats as private by default (RFC 1918, RFC 6598
 * shared address space 100.64/10, RFC 6890 192.0.0.0/24, RFC 4193 fc00::/7). */
bool addr_is_private(const struct addr_ip *ip);

/* Parses "IP/PREFIX" or a bare "IP" (a host network). Returns 0 or -EINVAL. */
int addr_cidr_parse(const char *s, size_t len, struct addr_cidr *out);

/* True when ip lies in the network. */
bool addr_cidr_contains(const struct addr_cidr *net, const struct addr_ip *ip);

/* Parses a comma-separated list of networks into set (replacing its contents). Empty items are
 * ignored. Returns 0, -EINVAL for a bad item (set unchanged) or -E2BIG past ADDR_SET_MAX. */
int addr_set_parse(const char *csv, struct addr_set *set);

/* True when ip lies in any network of set (set may be NULL: false). */
bool addr_set_contains(const struct addr_set *set, const struct addr_ip *ip);

#endif
