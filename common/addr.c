/* addr: IP address parsing, formatting and classification (private ranges, trusted networks). */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

bool addr_parse(const char *s, size_t len, struct addr_ip *out)
{
	char tmp[INET6_ADDRSTRLEN + 1];

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
		if (len == 0 || len >= sizeof(tmp) || memchr(s, ':', len) == NULL)
			return false;
		memcpy(tmp, s, len);
		tmp[len] = '\0';
		if (inet_pton(AF_INET6, tmp, &out->v6) != 1)
			return false;
		out->family = AF_INET6;
		return true;
	}
	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (memchr(s, ':', len) != NULL) {
		struct in6_addr v6;

		if (inet_pton(AF_INET6, tmp, &v6) != 1)
			return false;
		out->family = AF_INET6;
		out->v6 = v6;
		return true;
	}
	struct in_addr v4;

	/* inet_pton accepts only the dotted-quad form, never "1.2.3" or hex: what SIP allows. */
	if (inet_pton(AF_INET, tmp, &v4) != 1)
		return false;
	out->family = AF_INET;
	out->v4 = v4;
	return true;
}

int addr_port_parse(const char *s, struct addr_port *out)
{
	const char *colon;
	struct addr_ip ip;
	char *end;
	long port;

	if (s == NULL)
		return -EINVAL;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			return -EINVAL;
		if (!addr_parse(s, (size_t)(rb - s + 1), &ip))
			return -EINVAL;
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || !addr_parse(s, (size_t)(colon - s), &ip) ||
		    ip.family != AF_INET)
			return -EINVAL;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535)
		return -EINVAL;
	out->ip = ip;
	out->port = (uint16_t)port;
	return 0;
}

const char *addr_format(const struct addr_ip *ip, char *buf, size_t len)
{
	if (ip->family == AF_INET || ip->family == AF_INET6) {
		if (inet_ntop(ip->family, &ip->v4, buf, (socklen_t)len) != NULL)
			return buf;
	}
	if (len > 1) {
		buf[0] = '?';
		buf[1] = '\0';
	}
	return buf;
}

const char *addr_port_format(const struct addr_port *ap, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	addr_format(&ap->ip, ip, sizeof(ip));
	if (ap->ip.family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, ap->port);
	else
		snprintf(buf, len, "%s:%u", ip, ap->port);
	return buf;
}

bool addr_equal(const struct addr_ip *a, const struct addr_ip *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->v4.s_addr == b->v4.s_addr;
	if (a->family == AF_INET6)
		return memcmp(&a->v6, &b->v6, sizeof(a->v6)) == 0;
	return false;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned int bits)
{
	unsigned int bytes = bits / 8, rem = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rem == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rem));

	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool addr_cidr_contains(const struct addr_cidr *net, const struct addr_ip *ip)
{
	if (net->net.family != ip->family)
		return false;
	if (ip->family == AF_INET)
		return prefix_match((const uint8_t *)&net->net.v4, (const uint8_t *)&ip->v4,
				    net->prefix);
	if (ip->family == AF_INET6)
		return prefix_match(net->net.v6.s6_addr, ip->v6.s6_addr, net->prefix);
	return false;
}

/* nathelper's default private networks (Kamailio 5.6 nathelper.c: nets_1918), plus fc00::/7 (RFC 4193
 * unique local addresses) for IPv6. */
static const struct {
	const char *cidr;
} private_nets[] = {
	{"10.0.0.0/8"},	   {"172.16.0.0/12"}, {"192.168.0.0/16"},
	{"100.64.0.0/10"}, {"192.0.0.0/24"},  {"fc00::/7"},
};

bool addr_is_private(const struct addr_ip *ip)
{
	for (size_t i = 0; i < sizeof(private_nets) / sizeof(private_nets[0]); i++) {
		struct addr_cidr net;

		if (addr_cidr_parse(private_nets[i].cidr, strlen(private_nets[i].cidr), &net) ==
			    0 &&
		    addr_cidr_contains(&net, ip))
			return true;
	}
	return false;
}

int addr_cidr_parse(const char *s, size_t len, struct addr_cidr *out)
{
	const char *slash = memchr(s, '/', len);
	struct addr_ip ip;
	unsigned long prefix;

	if (!addr_parse(s, slash != NULL ? (size_t)(slash - s) : len, &ip))
		return -EINVAL;
	unsigned int max = ip.family == AF_INET ? 32 : 128;

	if (slash == NULL) {
		prefix = max;
	} else {
		size_t n = len - (size_t)(slash - s) - 1;
		char digits[8];
		char *end;

		if (n == 0 || n >= sizeof(digits))
			return -EINVAL;
		memcpy(digits, slash + 1, n);
		digits[n] = '\0';
		prefix = strtoul(digits, &end, 10);
		if (*end != '\0' || digits[0] < '0' || digits[0] > '9' || prefix > max)
			return -EINVAL;
	}
	out->net = ip;
	out->prefix = (unsigned int)prefix;
	return 0;
}

int addr_set_parse(const char *csv, struct addr_set *set)
{
	struct addr_set tmp = {0};
	const char *p = csv;

	while (p != NULL && *p != '\0') {
		const char *comma = strchr(p, ',');
		size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);

		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > 0) {
			if (tmp.count == ADDR_SET_MAX)
				return -E2BIG;
			if (addr_cidr_parse(p, n, &tmp.nets[tmp.count]) != 0)
				return -EINVAL;
			tmp.count++;
		}
		p = comma != NULL ? comma + 1 : NULL;
	}
	*set = tmp;
	return 0;
}

bool addr_set_contains(const struct addr_set *set, const struct addr_ip *ip)
{
	if (set == NULL)
		return false;
	for (size_t i = 0; i < set->count; i++)
		if (addr_cidr_contains(&set->nets[i], ip))
			return true;
	return false;
}
