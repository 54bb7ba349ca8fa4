/* sipbody: find the SDP in a SIP body — the body itself (application/sdp) or one part of a
 * multipart body (RFC 5621) — from the raw Content-Type value. */
#include "sipbody.h"

#include <string.h>
#include <strings.h>

static bool media_type_is(const char *ct, size_t len, const char *type)
{
	size_t n = strlen(type);
	size_t i = 0;

	while (i < len && (ct[i] == ' ' || ct[i] == '\t'))
		i++;
	if (len - i < n || strncasecmp(ct + i, type, n) != 0)
		return false;
	i += n;
	while (i < len && (ct[i] == ' ' || ct[i] == '\t'))
		i++;
	return i == len || ct[i] == ';';
}

static bool is_multipart(const char *ct, size_t len)
{
	size_t i = 0;

	while (i < len && (ct[i] == ' ' || ct[i] == '\t'))
		i++;
	return len - i >= 10 && strncasecmp(ct + i, "multipart/", 10) == 0;
}

/* RFC 2046 §5.1.1: the boundary parameter, token or quoted-string, 1 to 70 characters. */
static bool get_boundary(const char *ct, size_t len, const char **b, size_t *blen)
{
	for (size_t i = 0; i + 9 <= len; i++) {
		if (ct[i] != ';')
			continue;
		size_t p = i + 1;

		while (p < len && (ct[p] == ' ' || ct[p] == '\t'))
			p++;
		if (len - p < 9 || strncasecmp(ct + p, "boundary", 8) != 0)
			continue;
		p += 8;
		while (p < len && (ct[p] == ' ' || ct[p] == '\t'))
			p++;
		if (p >= len || ct[p] != '=')
			continue;
		p++;
		while (p < len && (ct[p] == ' ' || ct[p] == '\t'))
			p++;
		size_t s = p;

		if (p < len && ct[p] == '"') {
			s = ++p;
			while (p < len && ct[p] != '"')
				p++;
		} else {
			while (p < len && ct[p] != ';' && ct[p] != ' ' && ct[p] != '\t')
				p++;
		}
		if (p == s || p - s > 70)
			return false;
		*b = ct + s;
		*blen = p - s;
		return true;
	}
	return false;
}

static const char *find_mem(const char *h, size_t hlen, const char *n, size_t nlen)
{
	if (nlen == 0 || hlen < nlen)
		return NULL;
	for (size_t i = 0; i + nlen <= hlen; i++)
		if (h[i] == n[0] && memcmp(h + i, n, nlen) == 0)
			return h + i;
	return NULL;
}

static bool find_in_multipart(const char *ct, size_t ctlen, const char *body, size_t blen,
			      int depth, size_t *off, size_t *len);

/* Looks at one part: its headers, then its content; returns true when it is (or holds) SDP. */
static bool part_sdp(const char *p, size_t plen, int depth, size_t *off, size_t *len)
{
	size_t i = 0;
	const char *ct = NULL;
	size_t ctlen = 0;

	for (;;) {
		const char *lf = memchr(p + i, '\n', plen - i);

		if (lf == NULL)
			return false;
		size_t e = (size_t)(lf - p);
		size_t ce = (e > i && p[e - 1] == '\r') ? e - 1 : e;

		if (ce == i) {
			i = e + 1;
			break;
		}
		if (ce - i > 13 && strncasecmp(p + i, "Content-Type", 12) == 0) {
			size_t c = i + 12;

			while (c < ce && (p[c] == ' ' || p[c] == '\t'))
				c++;
			if (c < ce && p[c] == ':') {
				ct = p + c + 1;
				ctlen = ce - c - 1;
			}
		}
		i = e + 1;
	}
	if (ct == NULL)
		return false;
	if (media_type_is(ct, ctlen, "application/sdp")) {
		*off = i;
		*len = plen - i;
		return true;
	}
	if (depth < 1 && is_multipart(ct, ctlen)) {
		size_t o, l;

		if (find_in_multipart(ct, ctlen, p + i, plen - i, depth + 1, &o, &l)) {
			*off = i + o;
			*len = l;
			return true;
		}
	}
	return false;
}

static bool find_in_multipart(const char *ct, size_t ctlen, const char *body, size_t blen,
			      int depth, size_t *off, size_t *len)
{
	const char *b;
	size_t bl;
	char delim[80];

	if (!get_boundary(ct, ctlen, &b, &bl))
		return false;
	delim[0] = '-';
	delim[1] = '-';
	memcpy(delim + 2, b, bl);
	size_t dl = bl + 2;
	const char *cur = find_mem(body, blen, delim, dl);

	while (cur != NULL) {
		const char *after = cur + dl;
		size_t rest = blen - (size_t)(after - body);

		if (rest >= 2 && after[0] == '-' && after[1] == '-')
			return false; /* close-delimiter */
		const char *lf = memchr(after, '\n', rest);

		if (lf == NULL)
			return false;
		const char *pstart = lf + 1;
		const char *next = find_mem(pstart, blen - (size_t)(pstart - body), delim, dl);

		if (next == NULL)
			return false;
		/* RFC 2046 §5.1.1: the CRLF before the delimiter belongs to the delimiter. */
		const char *pend = next;

		if (pend > pstart && pend[-1] == '\n')
			pend--;
		if (pend > pstart && pend[-1] == '\r')
			pend--;
		size_t o, l;

		if (part_sdp(pstart, (size_t)(pend - pstart), depth, &o, &l)) {
			*off = (size_t)(pstart - body) + o;
			*len = l;
			return true;
		}
		cur = next;
	}
	return false;
}

bool sipbody_find_sdp(const char *ctype, size_t ctype_len, const char *body, size_t body_len,
		      size_t *off, size_t *len)
{
	if (ctype == NULL || body_len == 0)
		return false;
	if (media_type_is(ctype, ctype_len, "application/sdp")) {
		*off = 0;
		*len = body_len;
		return true;
	}
	if (is_multipart(ctype, ctype_len))
		return find_in_multipart(ctype, ctype_len, body, body_len, 0, off, len);
	return false;
}
