/* sdp: parses an SDP body (RFC 8866) into line positions and answers queries about it. */
#include "sdp_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* Parser state: the object being filled and where the first error goes. */
struct parse {
	struct sdp *sdp;
	struct sdp_error *err;
	unsigned int lineno; /* 1-based number of the line being parsed */
	int media;	     /* current media index, -1 at session level */
	bool have_origin, have_name;
	bool media_dir_set[SDP_MAX_MEDIA];
};

static int fail(struct parse *ps, int rc, unsigned int line, const char *reason)
{
	if (ps->err != NULL) {
		ps->err->reason = reason;
		ps->err->line = line;
	}
	return rc;
}

/* Names and the IN/IP4/IP6 tokens are compared without case: harmless, and some stacks differ. */
static bool str_is_ci(struct sdp_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && strncasecmp(s.p, lit, n) == 0;
}

/* Takes the next space-separated token of [*p, end). RFC 8866 §5 separates fields with one SP;
 * runs of spaces are tolerated because some phones pad their m= format lists. */
static bool next_token(const char **p, const char *end, struct sdp_str *tok)
{
	const char *s = *p;

	while (s < end && *s == ' ')
		s++;
	if (s == end)
		return false;
	tok->p = s;
	while (s < end && *s != ' ')
		s++;
	tok->len = (size_t)(s - tok->p);
	*p = s;
	return true;
}

/* Decimal digits only (no sign, no spaces), value <= max. */
static bool parse_uint(struct sdp_str s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (s.len == 0 || s.len > 10)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s.p[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static bool all_of(struct sdp_str s, const char *set)
{
	for (size_t i = 0; i < s.len; i++) {
		if (strchr(set, s.p[i]) == NULL || s.p[i] == '\0')
			return false;
	}
	return true;
}

#define DIGITS	"0123456789"
#define FQDN_CH "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-."

/* Fills conn from "<nettype> <addrtype> <address>[/ttl[/n]]" (RFC 8866 §5.7). The address may be an
 * IP literal of the addrtype's family or an FQDN; dotted digits must be a valid IPv4 address. */
static const char *parse_conn_addr(struct sdp_str nettype, struct sdp_str addrtype,
				   struct sdp_str addr, struct sdp_conn *conn)
{
	struct sdp_str host = addr, mc = {addr.p + addr.len, 0};
	const char *slash = memchr(addr.p, '/', addr.len);
	unsigned long v;

	if (!str_is_ci(nettype, "IN"))
		return "network type is not IN";
	if (str_is_ci(addrtype, "IP4"))
		conn->family = AF_INET;
	else if (str_is_ci(addrtype, "IP6"))
		conn->family = AF_INET6;
	else
		return "address type is not IP4 or IP6";
	if (slash != NULL) {
		host.len = (size_t)(slash - addr.p);
		mc.p = slash;
		mc.len = addr.len - host.len;
	}
	if (host.len == 0)
		return "empty connection address";
	conn->addr = host;
	conn->mcast = mc;
	if (mc.len > 0) {
		/* RFC 8866 §5.7: IP4 multicast is addr/ttl[/n], IP6 multicast is addr/n. */
		struct sdp_str a = {mc.p + 1, mc.len - 1}, b = {NULL, 0};
		const char *s2 = memchr(a.p, '/', a.len);

		if (s2 != NULL) {
			b.p = s2 + 1;
			b.len = a.len - (size_t)(b.p - a.p);
			a.len = (size_t)(s2 - a.p);
		}
		if (!parse_uint(a, conn->family == AF_INET ? 255 : 0xffffffffUL, &v))
			return "bad multicast TTL or address count";
		if (b.p != NULL && (conn->family != AF_INET || !parse_uint(b, 0xffffffffUL, &v)))
			return "bad multicast address count";
	}
	if (memchr(host.p, ':', host.len) != NULL) {
		if (conn->family != AF_INET6)
			return "IPv6 address with address type IP4";
		if (!addr_parse(host.p, host.len, &conn->ip) || conn->ip.family != AF_INET6 ||
		    host.p[0] == '[')
			return "bad IPv6 address";
		conn->literal = true;
		return NULL;
	}
	if (all_of(host, DIGITS ".")) {
		if (conn->family != AF_INET)
			return "IPv4 address with address type IP6";
		if (!addr_parse(host.p, host.len, &conn->ip))
			return "bad IPv4 address";
		conn->literal = true;
		return NULL;
	}
	if (!all_of(host, FQDN_CH))
		return "connection address is neither an IP address nor a domain name";
	return NULL;
}

/* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address> (RFC 8866 §5.2). */
static int parse_origin(struct parse *ps, const char *p, const char *end)
{
	struct sdp_origin *o = &ps->sdp->origin;
	struct sdp_str *f[6] = {&o->username, &o->sess_id,  &o->sess_version,
				&o->nettype,  &o->addrtype, &o->addr};
	struct sdp_str extra;

	if (ps->have_origin)
		return fail(ps, -EINVAL, ps->lineno, "o= repeated");
	if (ps->media >= 0)
		return fail(ps, -EINVAL, ps->lineno, "o= inside a media section");
	for (size_t i = 0; i < 6; i++) {
		if (!next_token(&p, end, f[i]))
			return fail(ps, -EINVAL, ps->lineno, "o= needs six fields");
	}
	if (next_token(&p, end, &extra))
		return fail(ps, -EINVAL, ps->lineno, "o= has more than six fields");
	ps->have_origin = true;
	o->line = ps->lineno;
	if (!str_is_ci(o->nettype, "IN"))
		return 0;
	if (str_is_ci(o->addrtype, "IP4"))
		o->family = AF_INET;
	else if (str_is_ci(o->addrtype, "IP6"))
		o->family = AF_INET6;
	else
		return 0;
	/* The origin address is informational (many phones put a host name or garbage there): it is
	 * parsed when it is a literal of its family, never rejected. */
	if (addr_parse(o->addr.p, o->addr.len, &o->ip) && o->ip.family == o->family &&
	    o->addr.p[0] != '[')
		o->literal = true;
	else
		memset(&o->ip, 0, sizeof(o->ip));
	return 0;
}

static int parse_conn(struct parse *ps, const char *p, const char *end, struct sdp_line *l)
{
	struct sdp *sdp = ps->sdp;
	struct sdp_str nt, at, ad, extra;
	struct sdp_conn *c;
	const char *why;

	if (sdp->conn_count == SDP_MAX_CONN)
		return fail(ps, -E2BIG, ps->lineno, "more than 256 c= lines");
	c = &sdp->conns[sdp->conn_count];
	if (!next_token(&p, end, &nt) || !next_token(&p, end, &at) || !next_token(&p, end, &ad))
		return fail(ps, -EINVAL, ps->lineno, "c= needs <nettype> <addrtype> <address>");
	if (next_token(&p, end, &extra))
		return fail(ps, -EINVAL, ps->lineno, "c= has extra fields");
	why = parse_conn_addr(nt, at, ad, c);
	if (why != NULL)
		return fail(ps, -EINVAL, ps->lineno, why);
	c->media = ps->media;
	c->line = ps->lineno;
	l->kind = SDP_LINE_CONN;
	l->aux = (uint16_t)sdp->conn_count;
	if (ps->media < 0) {
		if (sdp->session_conn == NULL)
			sdp->session_conn = c;
	} else if (sdp->media[ps->media].pub.conn == NULL) {
		sdp->media[ps->media].pub.conn = c;
	}
	sdp->conn_count++;
	return 0;
}

/* m=<media> <port>[/<number of ports>] <proto> <fmt> ... (RFC 8866 §5.14). */
static int parse_media(struct parse *ps, const char *p, const char *end, size_t idx)
{
	struct sdp *sdp = ps->sdp;
	struct sdp_media_priv *mp;
	struct sdp_str type, port, proto, fmt, cnt = {NULL, 0};
	unsigned long v;
	const char *slash;

	if (sdp->media_count == SDP_MAX_MEDIA)
		return fail(ps, -E2BIG, ps->lineno, "more than 64 media sections");
	if (ps->media >= 0)
		sdp->media[ps->media].end_line = (uint32_t)idx;
	mp = &sdp->media[sdp->media_count];
	if (!next_token(&p, end, &type) || !next_token(&p, end, &port) ||
	    !next_token(&p, end, &proto))
		return fail(ps, -EINVAL, ps->lineno, "m= needs <media> <port> <proto> <fmt>");
	if (!next_token(&p, end, &fmt))
		return fail(ps, -EINVAL, ps->lineno, "m= has no format");
	mp->pub.fmts.p = fmt.p;
	mp->pub.fmt_count = 1;
	while (next_token(&p, end, &fmt))
		mp->pub.fmt_count++;
	mp->pub.fmts.len = (size_t)(fmt.p + fmt.len - mp->pub.fmts.p);
	slash = memchr(port.p, '/', port.len);
	if (slash != NULL) {
		cnt.p = slash + 1;
		cnt.len = port.len - (size_t)(cnt.p - port.p);
		port.len = (size_t)(slash - port.p);
	}
	if (!parse_uint(port, 65535, &v))
		return fail(ps, -EINVAL, ps->lineno, "m= port is not a number 0..65535");
	mp->pub.port = (uint16_t)v;
	mp->pub.port_count = 1;
	if (cnt.p != NULL) {
		if (!parse_uint(cnt, 65535, &v) || v == 0)
			return fail(ps, -EINVAL, ps->lineno,
				    "m= port count is not a number 1..65535");
		mp->pub.port_count = (unsigned int)v;
	}
	mp->pub.type = type;
	mp->pub.proto = proto;
	mp->pub.line = ps->lineno;
	mp->port_off = (uint32_t)(port.p - sdp->buf);
	mp->port_len = (uint32_t)port.len;
	mp->first_line = (uint32_t)idx;
	mp->conn_anchor = (uint32_t)idx;
	ps->media = (int)sdp->media_count++;
	return 0;
}

/* a=rtcp:<port> [<nettype> <addrtype> <connection-address>] (RFC 3605 §2.1). */
static int parse_rtcp(struct parse *ps, const char *p, const char *end)
{
	struct sdp_media_priv *mp = &ps->sdp->media[ps->media];
	struct sdp_str port, nt, at, ad, extra;
	unsigned long v;
	const char *why;

	/* One a=rtcp per media section: two would leave the RTCP port ambiguous. */
	if (mp->pub.has_rtcp)
		return fail(ps, -EINVAL, ps->lineno, "a=rtcp repeated");
	if (!next_token(&p, end, &port) || !parse_uint(port, 65535, &v))
		return fail(ps, -EINVAL, ps->lineno, "a=rtcp port is not a number 0..65535");
	mp->pub.has_rtcp = true;
	mp->pub.rtcp_port = (uint16_t)v;
	mp->rtcp_port_off = (uint32_t)(port.p - ps->sdp->buf);
	mp->rtcp_port_end = (uint32_t)(port.p + port.len - ps->sdp->buf);
	if (!next_token(&p, end, &nt))
		return 0;
	if (!next_token(&p, end, &at) || !next_token(&p, end, &ad) || next_token(&p, end, &extra))
		return fail(ps, -EINVAL, ps->lineno,
			    "a=rtcp address is not <nettype> <addrtype> <address>");
	why = parse_conn_addr(nt, at, ad, &mp->pub.rtcp_addr);
	if (why != NULL)
		return fail(ps, -EINVAL, ps->lineno, why);
	mp->pub.rtcp_addr.media = ps->media;
	mp->pub.rtcp_addr.line = ps->lineno;
	mp->pub.rtcp_has_addr = true;
	return 0;
}

/* RFC 8839 §5 ICE attributes (and ice-pacing, §5.5): all removed together on request. */
static const char *const ice_attrs[] = {
	"candidate", "ice-ufrag",	  "ice-pwd",	       "ice-options",  "ice-pacing",
	"ice-lite",  "remote-candidates", "end-of-candidates", "ice-mismatch",
};

static const char *const dir_names[] = {
	[SDP_DIR_SENDRECV] = "sendrecv",
	[SDP_DIR_SENDONLY] = "sendonly",
	[SDP_DIR_RECVONLY] = "recvonly",
	[SDP_DIR_INACTIVE] = "inactive",
};

static int parse_attr(struct parse *ps, const char *p, const char *end, struct sdp_line *l)
{
	struct sdp *sdp = ps->sdp;
	const char *colon = memchr(p, ':', (size_t)(end - p));
	struct sdp_str name = {p, (size_t)((colon != NULL ? colon : end) - p)};
	struct sdp_media_priv *mp = ps->media >= 0 ? &sdp->media[ps->media] : NULL;

	/* Trailing spaces after a flag attribute ("a=sendonly ") are seen in the wild: ignore them. */
	while (colon == NULL && name.len > 0 && name.p[name.len - 1] == ' ')
		name.len--;

	for (size_t i = 0; i < sizeof(ice_attrs) / sizeof(ice_attrs[0]); i++) {
		if (str_is_ci(name, ice_attrs[i])) {
			l->kind = SDP_LINE_ICE;
			if (mp != NULL) {
				mp->pub.has_ice = true;
				if (i == 0)
					mp->pub.has_candidates = true;
			}
			return 0;
		}
	}
	if (colon == NULL) {
		for (size_t d = 0; d < sizeof(dir_names) / sizeof(dir_names[0]); d++) {
			if (!str_is_ci(name, dir_names[d]))
				continue;
			/* RFC 3264 §5.1: one direction per level; when a peer sends several, the last
			 * one wins (documented in docs/sdp.md). */
			if (mp == NULL) {
				sdp->session_dir = (enum sdp_dir)d;
			} else {
				mp->pub.dir = (enum sdp_dir)d;
				ps->media_dir_set[ps->media] = true;
			}
			return 0;
		}
		if (mp != NULL && str_is_ci(name, "rtcp-mux"))
			mp->pub.rtcp_mux = true;
		return 0;
	}
	/* RFC 3605 defines a=rtcp at media level only; a session-level one is kept as unknown. */
	if (mp != NULL && str_is_ci(name, "rtcp")) {
		l->kind = SDP_LINE_RTCP;
		return parse_rtcp(ps, colon + 1, end);
	}
	return 0;
}

static int parse_line(struct parse *ps, size_t idx)
{
	struct sdp *sdp = ps->sdp;
	struct sdp_line *l = &sdp->lines[idx];
	const char *s = sdp->buf + l->off, *end = s + l->len;
	char type;

	l->media = (int16_t)ps->media;
	if (memchr(s, '\0', l->len) != NULL)
		return fail(ps, -EINVAL, ps->lineno, "NUL byte in line");
	if (memchr(s, '\r', l->len) != NULL)
		return fail(ps, -EINVAL, ps->lineno, "CR not followed by LF");
	if (l->len == 0)
		return fail(ps, -EINVAL, ps->lineno, "empty line");
	if (l->len > SDP_MAX_LINE)
		return fail(ps, -E2BIG, ps->lineno, "line longer than 8192 bytes");
	type = s[0];
	/* RFC 8866 §5: <type>=<value>, one letter, no spaces around '='. */
	if (l->len < 2 || s[1] != '=' ||
	    !((type >= 'a' && type <= 'z') || (type >= 'A' && type <= 'Z')))
		return fail(ps, -EINVAL, ps->lineno, "line is not <letter>=<value>");
	if (idx == 0) {
		if (l->len != 3 || memcmp(s, "v=0", 3) != 0)
			return fail(ps, -EINVAL, 1, "first line is not v=0");
		return 0;
	}
	s += 2;
	switch (type) {
	case 'v':
		return fail(ps, -EINVAL, ps->lineno, "v= repeated");
	case 'o':
		l->kind = SDP_LINE_ORIGIN;
		return parse_origin(ps, s, end);
	case 's':
		if (ps->have_name)
			return fail(ps, -EINVAL, ps->lineno, "s= repeated");
		if (ps->media >= 0)
			return fail(ps, -EINVAL, ps->lineno, "s= inside a media section");
		ps->have_name = true;
		return 0;
	case 'c':
		return parse_conn(ps, s, end, l);
	case 'm':
		l->kind = SDP_LINE_MEDIA;
		l->media = (int16_t)sdp->media_count;
		return parse_media(ps, s, end, idx);
	case 'i':
		/* RFC 8866 §5: i= comes right after m=; an added c= goes after it. */
		if (ps->media >= 0 && sdp->media[ps->media].conn_anchor + 1 == idx)
			sdp->media[ps->media].conn_anchor = (uint32_t)idx;
		return 0;
	case 'a':
		return parse_attr(ps, s, end, l);
	default:
		return 0;
	}
}

/* Splits the body into lines (CRLF or bare LF, RFC 8866 §5) and records each line's ending. */
static int split_lines(struct parse *ps, const char *buf, size_t len)
{
	struct sdp *sdp = ps->sdp;
	size_t n = 1, off = 0;

	for (const char *p = buf; (p = memchr(p, '\n', len - (size_t)(p - buf))) != NULL; p++) {
		n++;
		if (p + 1 == buf + len)
			break;
	}
	sdp->lines = calloc(n, sizeof(*sdp->lines));
	if (sdp->lines == NULL)
		return fail(ps, -ENOMEM, 0, "out of memory");
	while (off < len) {
		const char *s = buf + off, *nl = memchr(s, '\n', len - off);
		size_t end = nl != NULL ? (size_t)(nl - buf) : len;
		struct sdp_line *l = &sdp->lines[sdp->line_count++];

		l->off = (uint32_t)off;
		l->len = (uint32_t)(end - off);
		l->eol = nl != NULL ? SDP_EOL_LF : SDP_EOL_NONE;
		if (nl != NULL && l->len > 0 && buf[end - 1] == '\r') {
			l->len--;
			l->eol = SDP_EOL_CRLF;
		}
		off = nl != NULL ? end + 1 : len;
	}
	return 0;
}

static void finish_media(struct sdp *sdp, struct parse *ps)
{
	if (sdp->media_count > 0)
		sdp->media[sdp->media_count - 1].end_line = (uint32_t)sdp->line_count;
	for (size_t i = 0; i < sdp->media_count; i++) {
		struct sdp_media *m = &sdp->media[i].pub;

		m->eff_conn = m->conn != NULL ? m->conn : sdp->session_conn;
		/* RFC 8866 §6.7: a media-level direction overrides the session-level one. */
		m->dir_explicit = ps->media_dir_set[i];
		if (!m->dir_explicit)
			m->dir = sdp->session_dir;
	}
}

int sdp_parse(const char *buf, size_t len, struct sdp **out, struct sdp_error *err)
{
	struct parse ps = {.err = err, .media = -1};
	struct sdp *sdp;
	int rc;

	*out = NULL;
	if (err != NULL) {
		err->reason = NULL;
		err->line = 0;
	}
	if (buf == NULL || len == 0)
		return fail(&ps, -EINVAL, 0, "empty body");
	if (len > SDP_MAX_BODY)
		return fail(&ps, -E2BIG, 0, "body larger than 65536 bytes");
	sdp = calloc(1, sizeof(*sdp));
	if (sdp == NULL)
		return fail(&ps, -ENOMEM, 0, "out of memory");
	sdp->buf = buf;
	sdp->len = len;
	ps.sdp = sdp;
	rc = split_lines(&ps, buf, len);
	if (rc != 0)
		goto fail;
	for (size_t i = 0; i < sdp->line_count; i++) {
		ps.lineno = (unsigned int)i + 1;
		rc = parse_line(&ps, i);
		if (rc != 0)
			goto fail;
	}
	if (!ps.have_origin) {
		rc = fail(&ps, -EINVAL, 0, "o= missing");
		goto fail;
	}
	if (!ps.have_name) {
		rc = fail(&ps, -EINVAL, 0, "s= missing");
		goto fail;
	}
	sdp->default_eol = sdp->lines[0].eol == SDP_EOL_LF ? SDP_EOL_LF : SDP_EOL_CRLF;
	finish_media(sdp, &ps);
	*out = sdp;
	return 0;
fail:
	sdp_free(sdp);
	return rc;
}

void sdp_free(struct sdp *sdp)
{
	if (sdp == NULL)
		return;
	free(sdp->lines);
	free(sdp);
}

const char *sdp_error_format(const struct sdp_error *err, char *buf, size_t len)
{
	const char *reason = err->reason != NULL ? err->reason : "no error";

	if (err->line > 0)
		snprintf(buf, len, "line %u: %s", err->line, reason);
	else
		snprintf(buf, len, "%s", reason);
	return buf;
}

const struct sdp_origin *sdp_origin(const struct sdp *sdp)
{
	return &sdp->origin;
}

const struct sdp_conn *sdp_session_conn(const struct sdp *sdp)
{
	return sdp->session_conn;
}

enum sdp_dir sdp_session_dir(const struct sdp *sdp)
{
	return sdp->session_dir;
}

size_t sdp_conn_count(const struct sdp *sdp)
{
	return sdp->conn_count;
}

const struct sdp_conn *sdp_conn_at(const struct sdp *sdp, size_t i)
{
	return i < sdp->conn_count ? &sdp->conns[i] : NULL;
}

size_t sdp_media_count(const struct sdp *sdp)
{
	return sdp->media_count;
}

const struct sdp_media *sdp_media_at(const struct sdp *sdp, size_t i)
{
	return i < sdp->media_count ? &sdp->media[i].pub : NULL;
}

bool sdp_media_fmt(const struct sdp_media *m, size_t i, struct sdp_str *out)
{
	const char *p = m->fmts.p, *end = m->fmts.p + m->fmts.len;
	struct sdp_str tok;

	if (i >= m->fmt_count)
		return false;
	for (size_t k = 0; next_token(&p, end, &tok); k++) {
		if (k == i) {
			*out = tok;
			return true;
		}
	}
	return false;
}

bool sdp_conn_is_hold(const struct sdp_conn *conn)
{
	return conn != NULL && conn->literal && conn->ip.family == AF_INET &&
	       conn->ip.v4.s_addr == 0;
}

const char *sdp_dir_name(enum sdp_dir dir)
{
	if ((size_t)dir < sizeof(dir_names) / sizeof(dir_names[0]))
		return dir_names[dir];
	return "?";
}
