/* siplex: locate pieces of raw header values (list elements, parameters, URI host:port) by offset,
 * so edits can rewrite exactly those bytes and leave the rest of a message as the sender wrote it. */
#include "siplex.h"

#include <string.h>
#include <strings.h>

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* v[i] opens a quoted string: returns the index just past its closing quote (quoted-pairs
 * skipped, RFC 3261 §25.1), or 0 when it is never closed. */
static size_t skip_quoted(const char *v, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (v[i] == '\\' && i + 1 < len)
			i++;
		else if (v[i] == '"')
			return i + 1;
	}
	return 0;
}

size_t siplex_first_elem(const char *v, size_t len)
{
	int angle = 0;
	size_t i;

	/* A comma never appears inside an IPv6 reference, so brackets need no tracking. */
	for (i = 0; i < len; i++) {
		char c = v[i];

		if (c == '"') {
			size_t e = skip_quoted(v, len, i);

			if (e == 0) {
				i = len; /* an unterminated quote runs to the end */
				break;
			}
			i = e - 1;
		} else if (c == '<')
			angle++;
		else if (c == '>' && angle > 0)
			angle--;
		else if (c == ',' && angle == 0)
			break;
	}
	while (i > 0 && is_ws(v[i - 1]))
		i--;
	return i;
}

bool siplex_via_param(const char *v, size_t len, const char *name, struct siplex_span *param,
		      struct siplex_span *value)
{
	size_t nlen = strlen(name);

	/* RFC 3261 §20.42: via-parm = sent-protocol LWS sent-by *( SEMI via-params ). The first ';'
	 * outside brackets and quotes starts the parameters. */
	for (size_t i = 0; i < len; i++) {
		char c = v[i];

		if (c == '"') {
			size_t e = skip_quoted(v, len, i);

			if (e == 0)
				return false;
			i = e - 1;
			continue;
		}
		if (c != ';')
			continue;
		size_t p = i + 1;

		while (p < len && is_ws(v[p]))
			p++;
		size_t n = p;

		while (n < len && v[n] != '=' && v[n] != ';' && !is_ws(v[n]))
			n++;
		if (n - p != nlen || strncasecmp(v + p, name, nlen) != 0)
			continue;
		size_t e = n;

		while (e < len && is_ws(v[e]))
			e++;
		param->off = i;
		value->off = e;
		value->len = 0;
		if (e < len && v[e] == '=') {
			e++;
			while (e < len && is_ws(v[e]))
				e++;
			size_t s = e;

			if (e < len && v[e] == '"') {
				e++;
				while (e < len && v[e] != '"')
					e++;
				if (e < len)
					e++;
			} else {
				while (e < len && v[e] != ';' && !is_ws(v[e]))
					e++;
			}
			value->off = s;
			value->len = e - s;
		} else {
			e = n;
		}
		param->len = e - i;
		return true;
	}
	return false;
}

/* Finds the <...> of a name-addr outside quoted strings (RFC 3261 §25.1 name-addr): returns 1
 * and the span inside the brackets, 0 when there is none (an addr-spec), -1 when a quote or a '<'
 * is never closed. */
static int find_angle(const char *v, size_t len, struct siplex_span *inside)
{
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '"') {
			size_t e = skip_quoted(v, len, i);

			if (e == 0)
				return -1;
			i = e - 1;
		} else if (v[i] == '<') {
			const char *gt = memchr(v + i + 1, '>', len - i - 1);

			if (gt == NULL)
				return -1;
			inside->off = i + 1;
			inside->len = (size_t)(gt - v) - i - 1;
			return 1;
		}
	}
	return 0;
}

bool siplex_uri_hostport(const char *v, size_t len, struct siplex_span *hostport)
{
	size_t start = 0, end = len;
	struct siplex_span in;
	int angle = find_angle(v, len, &in);
	bool bracketed = angle == 1;

	/* RFC 3261 §20.10: with <...> the URI is what the brackets enclose; without them (addr-spec)
	 * the URI ends where header parameters begin, at the first ';'. */
	if (angle < 0)
		return false;
	if (bracketed) {
		start = in.off;
		end = in.off + in.len;
	}
	if (!bracketed) {
		while (start < len && is_ws(v[start]))
			start++;
		/* Header parameters may hold quoted strings with '@' in them: stop before. */
		const char *q = memchr(v + start, '"', len - start);

		if (q != NULL)
			end = (size_t)(q - v);
	}
	const char *colon = memchr(v + start, ':', end - start);

	if (colon == NULL)
		return false;
	size_t h = (size_t)(colon - v) + 1;
	/* userinfo ends at '@': it may hold ';' and '?' (RFC 3261 §25.1 user-unreserved), but '@'
	 * appears nowhere else in a SIP URI, not in parameters nor headers. Without <>, ';' after
	 * the host starts header parameters (RFC 3261 §20.10); the host scan stops there. */
	const char *at = memchr(v + h, '@', end - h);

	if (at != NULL)
		h = (size_t)(at - v) + 1;
	size_t e = h;

	if (e < end && v[e] == '[') {
		/* IPv6reference = "[" IPv6address "]": hex digits, ':' and '.' (RFC 3261 §25.1). */
		e++;
		while (e < end && (v[e] == ':' || v[e] == '.' || (v[e] >= '0' && v[e] <= '9') ||
				   ((v[e] | 0x20) >= 'a' && (v[e] | 0x20) <= 'f')))
			e++;
		if (e == end || v[e] != ']')
			return false;
		e++;
	} else {
		/* RFC 3261 §25.1 hostname / IPv4address ('_' tolerated: some devices use it). */
		while (e < end &&
		       ((v[e] >= 'a' && v[e] <= 'z') || (v[e] >= 'A' && v[e] <= 'Z') ||
			(v[e] >= '0' && v[e] <= '9') || v[e] == '-' || v[e] == '.' || v[e] == '_'))
			e++;
	}
	if (e == h)
		return false;
	if (e < end && v[e] == ':') {
		e++;
		while (e < end && v[e] >= '0' && v[e] <= '9')
			e++;
	}
	/* What follows host[:port] must end it: parameters, headers, '>' or the end; without <>,
	 * whitespace may come before the header parameters (SEMI = SWS ";" SWS). */
	if (e < end && v[e] == '>' && !bracketed)
		return false;
	if (e < end && v[e] != ';' && v[e] != '?' && v[e] != '>') {
		size_t w = e;

		while (w < end && is_ws(v[w]))
			w++;
		if (bracketed || w == e || (w < end && v[w] != ';'))
			return false;
	}
	hostport->off = h;
	hostport->len = e - h;
	return true;
}

static size_t skip_ws(const char *v, size_t len, size_t i);

static bool is_token_c(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("-.!%*_+`'~", c) != NULL);
}

/* Checks one generic-param at v[i] (just after ';'): SWS token [SWS "=" SWS gen-value], where
 * gen-value = token / host / quoted-string (RFC 3261 §25.1). Returns the offset after it, or 0. */
static size_t generic_param(const char *v, size_t len, size_t i)
{
	i = skip_ws(v, len, i);
	size_t t = i;

	while (i < len && is_token_c(v[i]))
		i++;
	if (i == t)
		return 0;
	i = skip_ws(v, len, i);
	if (i < len && v[i] == '=') {
		i = skip_ws(v, len, i + 1);
		if (i < len && v[i] == '"') {
			for (i++; i < len && v[i] != '"'; i++)
				if (v[i] == '\\')
					i++;
			if (i >= len)
				return 0;
			i++;
		} else if (i < len && v[i] == '[') {
			/* An IPv6 reference, as RFC 5118 §4.5 tolerates in received. */
			for (i++; i < len &&
				  (v[i] == ':' || v[i] == '.' || (v[i] >= '0' && v[i] <= '9') ||
				   ((v[i] | 0x20) >= 'a' && (v[i] | 0x20) <= 'f'));
			     i++)
				;
			if (i >= len || v[i] != ']')
				return 0;
			i++;
		} else {
			size_t s0 = i;

			while (i < len && (is_token_c(v[i]) || v[i] == ':'))
				i++;
			if (i == s0)
				return 0;
		}
	}
	return skip_ws(v, len, i);
}

bool siplex_params_ok(const char *v, size_t len)
{
	int angle = 0;

	for (size_t i = 0; i < len; i++) {
		char c = v[i];

		if (c == '"') {
			size_t e = skip_quoted(v, len, i);

			/* An unterminated quoted string swallows the rest: malformed (RFC 4475
			 * §3.1.2.6). */
			if (e == 0)
				return false;
			i = e - 1;
		} else if (c == '<') {
			angle++;
		} else if (c == '>' && angle > 0) {
			angle--;
		} else if (c == ';' && angle == 0) {
			size_t e = generic_param(v, len, i + 1);

			/* A parameter ends at the next ';', at ',' (next element) or at the end. */
			if (e == 0 || (e < len && v[e] != ';' && v[e] != ','))
				return false;
			i = e - 1;
		}
	}
	return true;
}

static size_t skip_ws(const char *v, size_t len, size_t i)
{
	while (i < len && is_ws(v[i]))
		i++;
	return i;
}

static size_t skip_token(const char *v, size_t len, size_t i)
{
	while (i < len &&
	       ((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		(v[i] >= '0' && v[i] <= '9') || strchr("-.!%*_+`'~", v[i]) != NULL) &&
	       v[i] != '\0')
		i++;
	return i;
}

bool siplex_via_sent_by(const char *v, size_t len, struct siplex_span *sent_by)
{
	size_t i = skip_ws(v, len, 0);

	/* sent-protocol = protocol-name SLASH protocol-version SLASH transport */
	for (int part = 0; part < 3; part++) {
		size_t t = skip_token(v, len, i);

		if (t == i)
			return false;
		i = skip_ws(v, len, t);
		if (part < 2) {
			if (i >= len || v[i] != '/')
				return false;
			i = skip_ws(v, len, i + 1);
		}
	}
	size_t h = i;

	if (h == 0 || h >= len || !is_ws(v[h - 1]))
		return false;
	if (v[i] == '[') {
		i++;
		while (i < len && (v[i] == ':' || v[i] == '.' || (v[i] >= '0' && v[i] <= '9') ||
				   ((v[i] | 0x20) >= 'a' && (v[i] | 0x20) <= 'f')))
			i++;
		if (i >= len || v[i] != ']')
			return false;
		i++;
	} else {
		size_t s0 = i;

		while (i < len && ((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
				   (v[i] >= '0' && v[i] <= '9') || v[i] == '-' || v[i] == '.'))
			i++;
		if (i == s0)
			return false;
	}
	if (i < len && v[i] == ':') {
		size_t p = ++i;

		while (i < len && v[i] >= '0' && v[i] <= '9')
			i++;
		if (i == p || i - p > 5)
			return false;
	}
	sent_by->off = h;
	sent_by->len = i - h;
	i = skip_ws(v, len, i);
	/* Then parameters, a comment, or the end of the element. */
	return i == len || v[i] == ';' || v[i] == '(';
}

bool siplex_uri(const char *v, size_t len, struct siplex_span *uri)
{
	int angle = find_angle(v, len, uri);

	if (angle != 0)
		return angle == 1 && uri->len > 0;
	size_t s0 = skip_ws(v, len, 0), e = s0;

	while (e < len && v[e] != ';' && !is_ws(v[e]))
		e++;
	uri->off = s0;
	uri->len = e - s0;
	return e > s0;
}
