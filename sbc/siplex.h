/* siplex: locate pieces of raw header values (list elements, parameters, URI host:port) by offset,
 * so edits can rewrite exactly those bytes and leave the rest of a message as the sender wrote it. */
#ifndef SBC_SIPLEX_H
#define SBC_SIPLEX_H

#include <stdbool.h>
#include <stddef.h>

/* A span inside a buffer: offset and length. */
struct siplex_span {
	size_t off, len;
};

/* Length of the first element of a comma-separated header value (commas inside quoted strings,
 * <...> and [...] do not count), without trailing whitespace. */
size_t siplex_first_elem(const char *v, size_t len);

/* In one Via element, finds the parameter name (case-insensitive). On success sets *param to the
 * whole ";name[=value]" and *value to the value (len 0 when there is none) and returns true. */
bool siplex_via_param(const char *v, size_t len, const char *name, struct siplex_span *param,
		      struct siplex_span *value);

/* In one name-addr / addr-spec element (Contact, From, To, Route ...), finds the URI's host[:port]
 * (brackets of an IPv6 reference included). Returns false when the URI has no host part or the
 * host:port is not followed by ';', '?', '>', whitespace or the end. */
bool siplex_uri_hostport(const char *v, size_t len, struct siplex_span *hostport);

/* In one name-addr / addr-spec element, finds the URI: what <...> encloses, or without brackets
 * the text up to the first ';' or whitespace. Returns false when there is none. */
bool siplex_uri(const char *v, size_t len, struct siplex_span *uri);

/* In one Via element, checks sent-protocol and sent-by (RFC 3261 §20.42: host is a hostname, an
 * IPv4 address or a bracketed IPv6 reference, the port decimal) and sets *sent_by to host[:port].
 * Returns false for anything else. */
bool siplex_via_sent_by(const char *v, size_t len, struct siplex_span *sent_by);

/* True when every ';' outside quoted strings, <...> and [...] is followed (after whitespace) by a
 * parameter name: no empty parameters such as "a;;b" or a trailing ';' (RFC 3261 §25.1 generic-param
 * = token [ EQUAL gen-value ]), and no unterminated quoted string. */
bool siplex_params_ok(const char *v, size_t len);

#endif
