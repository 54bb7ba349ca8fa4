/* sipscan: lexical scan and sanity checks of a raw SIP message (framing, start line, header index,
 * Content-Length, CSeq, Max-Forwards), with the byte offsets that edits need. */
#include "sipscan.h"

#include "siplex.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	char compact; /* RFC 3261 §7.3.3 compact form, 0 when none */
} hdr_names[SIPSCAN_HDR_COUNT] = {
	[SIPSCAN_HDR_OTHER] = {"", 0},
	[SIPSCAN_HDR_VIA] = {"Via", 'v'},
	[SIPSCAN_HDR_FROM] = {"From", 'f'},
	[SIPSCAN_HDR_TO] = {"To", 't'},
	[SIPSCAN_HDR_CALL_ID] = {"Call-ID", 'i'},
	[SIPSCAN_HDR_CSEQ] = {"CSeq", 0},
	[SIPSCAN_HDR_MAX_FORWARDS] = {"Max-Forwards", 0},
	[SIPSCAN_HDR_CONTACT] = {"Contact", 'm'},
	[SIPSCAN_HDR_CONTENT_LENGTH] = {"Content-Length", 'l'},
	[SIPSCAN_HDR_CONTENT_TYPE] = {"Content-Type", 'c'},
	[SIPSCAN_HDR_PROXY_REQUIRE] = {"Proxy-Require", 0},
	[SIPSCAN_HDR_REQUIRE] = {"Require", 0},
	[SIPSCAN_HDR_ROUTE] = {"Route", 0},
	[SIPSCAN_HDR_RECORD_ROUTE] = {"Record-Route", 0},
	[SIPSCAN_HDR_EXPIRES] = {"Expires", 0},
	[SIPSCAN_HDR_USER_AGENT] = {"User-Agent", 0},
};

const char *sipscan_hdr_name(enum sipscan_hdr id)
{
	return id < SIPSCAN_HDR_COUNT ? hdr_names[id].name : "";
}

enum sipscan_hdr sipscan_hdr_id(const char *name, size_t len)
{
	for (int i = 1; i < SIPSCAN_HDR_COUNT; i++) {
		if (len == 1 && hdr_names[i].compact != 0 &&
		    (name[0] | 0x20) == hdr_names[i].compact)
			return (enum sipscan_hdr)i;
		if (strlen(hdr_names[i].name) == len &&
		    strncasecmp(hdr_names[i].name, name, len) == 0)
			return (enum sipscan_hdr)i;
	}
	return SIPSCAN_HDR_OTHER;
}

/* RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
static bool is_token_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("-.!%*_+`'~", c) != NULL;
}

static bool is_token(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_token_char((unsigned char)s[i]))
			return false;
	return true;
}

int sip_error_set(struct sip_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Returns the offset just past the next LF at or after off, or len when there is none. *content_end
 * is the end of the line's content (before CR LF or LF). */
static size_t line_end(const char *buf, size_t len, size_t off, size_t *content_end, bool *found)
{
	const char *lf = memchr(buf + off, '\n', len - off);

	if (lf == NULL) {
		*found = false;
		*content_end = len;
		return len;
	}
	size_t e = (size_t)(lf - buf);

	*found = true;
	*content_end = (e > off && buf[e - 1] == '\r') ? e - 1 : e;
	return e + 1;
}

/* Parses an unsigned decimal of 1..20 digits into *out; false on anything else or on overflow of
 * 64 bits. */
static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* RFC 3261 §7.1: SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT, "SIP" case-insensitive. Returns 1
 * for SIP/2.0, 0 for another well-formed version, -1 for garbage. */
static int check_version(const char *s, size_t len)
{
	size_t i = 4;

	if (len < 7 || strncasecmp(s, "SIP/", 4) != 0)
		return -1;
	size_t d1 = i;

	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == d1 || i >= len || s[i] != '.')
		return -1;
	size_t d2 = ++i;

	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == d2 || i != len)
		return -1;
	return (len == 7 && memcmp(s + 4, "2.0", 3) == 0) ? 1 : 0;
}

static int scan_request_line(const char *buf, size_t off, size_t end, struct sipscan *sc,
			     struct sip_error *err)
{
	const char *line = buf + off;
	size_t len = end - off;
	const char *sp1 = memchr(line, ' ', len);

	if (sp1 == NULL)
		return sip_error_set(err, 0,
				     "start line is neither a Request-Line nor a Status-Line");
	size_t mlen = (size_t)(sp1 - line);

	if (!is_token(line, mlen))
		return sip_error_set(err, 0, "start line does not begin with a method token");
	sc->is_request = true;
	sc->method_off = (uint32_t)off;
	sc->method_len = (uint32_t)mlen;
	/* RFC 3261 §7.1: Request-Line = Method SP Request-URI SP SIP-Version CRLF, single spaces. */
	const char *uri = sp1 + 1;
	const char *last = line + len;
	const char *sp2 = memchr(uri, ' ', (size_t)(last - uri));

	if (sp2 == NULL)
		return sip_error_set(err, 400, "Request-Line has no SIP-Version");
	if (sp2 == uri)
		return sip_error_set(err, 400,
				     "Request-Line has more than one space after the method");
	if (memchr(sp2 + 1, ' ', (size_t)(last - sp2 - 1)) != NULL ||
	    memchr(line, '\t', len) != NULL)
		return sip_error_set(
			err, 400, "Request-Line has extra whitespace (RFC 3261 §7.1: single SP)");
	int v = check_version(sp2 + 1, (size_t)(last - sp2 - 1));

	if (v < 0)
		return sip_error_set(err, 400, "Request-Line has a malformed SIP-Version '%.*s'",
				     (int)(last - sp2 - 1 > 32 ? 32 : last - sp2 - 1), sp2 + 1);
	if (v == 0)
		return sip_error_set(err, 505, "SIP version '%.*s' is not supported (only SIP/2.0)",
				     (int)(last - sp2 - 1 > 32 ? 32 : last - sp2 - 1), sp2 + 1);
	size_t ulen = (size_t)(sp2 - uri);

	sc->uri_off = (uint32_t)(uri - buf);
	sc->uri_len = (uint32_t)ulen;
	if (uri[0] == '<')
		return sip_error_set(err, 400,
				     "Request-URI is enclosed in <> (RFC 3261 §7.1 forbids it)");
	/* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	size_t i = 0;

	if (!((uri[0] | 0x20) >= 'a' && (uri[0] | 0x20) <= 'z'))
		return sip_error_set(err, 400, "Request-URI does not start with a scheme");
	while (i < ulen && (((uri[i] | 0x20) >= 'a' && (uri[i] | 0x20) <= 'z') ||
			    (uri[i] >= '0' && uri[i] <= '9') || uri[i] == '+' || uri[i] == '-' ||
			    uri[i] == '.'))
		i++;
	if (i == ulen || uri[i] != ':')
		return sip_error_set(err, 400, "Request-URI has no scheme");
	sc->scheme_len = (uint32_t)i;
	return 0;
}

static int scan_status_line(const char *buf, size_t off, size_t end, struct sipscan *sc,
			    struct sip_error *err)
{
	const char *line = buf + off;
	size_t len = end - off;
	const char *sp1 = memchr(line, ' ', len);

	/* A malformed response cannot be answered: every error here means drop (code 0). */
	if (sp1 == NULL || check_version(line, (size_t)(sp1 - line)) != 1)
		return sip_error_set(err, 0,
				     "Status-Line has a malformed or unsupported SIP-Version");
	const char *code = sp1 + 1;
	size_t rest = (size_t)(line + len - code);

	/* RFC 3261 §7.2: Status-Code = 3DIGIT, first digit 1-6; Reason-Phrase may be empty. */
	if (rest < 3 || code[0] < '1' || code[0] > '6' || code[1] < '0' || code[1] > '9' ||
	    code[2] < '0' || code[2] > '9' || (rest > 3 && code[3] != ' '))
		return sip_error_set(err, 0, "Status-Line has a malformed status code");
	sc->status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
	return 0;
}

/* Checks a header value's octets (RFC 3261 §25.1): control characters other than HTAB and the
 * CRLF of a folded line are not allowed anywhere, except as the second octet of a quoted-pair
 * inside a quoted string (quoted-pair = "\\" (%x00-09 / %x0B-0C / %x0E-7F)). */
static bool value_chars_ok(const char *v, size_t len)
{
	bool quoted = false;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (quoted && c == '\\' && i + 1 < len) {
			i++;
			continue;
		}
		if (c == '"') {
			quoted = !quoted;
		} else if (c == '\r') {
			if (i + 1 >= len || v[i + 1] != '\n')
				return false;
		} else if (c == '\n') {
			if (i + 1 >= len || (v[i + 1] != ' ' && v[i + 1] != '\t'))
				return false;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return false;
		}
	}
	return true;
}

static int check_cseq(const char *buf, struct sipscan *sc, const struct sipscan_field *f,
		      struct sip_error *err)
{
	const char *v = buf + f->value_off;
	size_t len = f->value_len, i = 0;

	while (i < len && v[i] >= '0' && v[i] <= '9')
		i++;
	/* RFC 3261 §8.1.1.5: the sequence number is a 32-bit unsigned integer. */
	if (!parse_u64(v, i, &sc->cseq) || sc->cseq > UINT32_MAX)
		return sip_error_set(err, 400,
				     "CSeq number '%.*s' is not a 32-bit unsigned integer",
				     (int)(i > 24 ? 24 : i), v);
	size_t ws = i;

	while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n'))
		i++;
	if (i == ws || i == len || !is_token(v + i, len - i))
		return sip_error_set(err, 400, "CSeq has no method");
	sc->cseq_method_off = (uint32_t)(f->value_off + i);
	sc->cseq_method_len = (uint32_t)(len - i);
	return 0;
}

/* RFC 3261 §25.1 list headers (Via, Contact, Route, Record-Route) have no empty elements: "a,,b"
 * or a value of commas is malformed. */
static bool list_ok(const char *v, size_t len)
{
	size_t pos = 0;

	for (;;) {
		size_t lead = pos;

		while (lead < len &&
		       (v[lead] == ' ' || v[lead] == '\t' || v[lead] == '\r' || v[lead] == '\n'))
			lead++;
		size_t e = siplex_first_elem(v + lead, len - lead);

		if (e == 0)
			return false;
		pos = lead + e;
		while (pos < len && v[pos] != ',')
			pos++;
		if (pos == len)
			return true;
		pos++;
	}
}

static int check_fields(const char *buf, size_t len, bool stream, struct sipscan *sc,
			struct sip_error *err)
{
	static const enum sipscan_hdr mandatory[] = {
		SIPSCAN_HDR_VIA,     SIPSCAN_HDR_FROM, SIPSCAN_HDR_TO,
		SIPSCAN_HDR_CALL_ID, SIPSCAN_HDR_CSEQ,
	};
	/* Headers whose grammar allows one value (RFC 3261 §20; RFC 4475 §3.3.8, §3.3.9). */
	static const enum sipscan_hdr single[] = {
		SIPSCAN_HDR_FROM,	  SIPSCAN_HDR_TO,	    SIPSCAN_HDR_CALL_ID,
		SIPSCAN_HDR_CSEQ,	  SIPSCAN_HDR_MAX_FORWARDS, SIPSCAN_HDR_CONTENT_LENGTH,
		SIPSCAN_HDR_CONTENT_TYPE, SIPSCAN_HDR_EXPIRES,
	};
	int code = sc->is_request ? 400 : 0;

	for (size_t i = 0; i < sizeof(mandatory) / sizeof(mandatory[0]); i++)
		if (sc->count[mandatory[i]] == 0)
			return sip_error_set(err, code, "missing mandatory header %s",
					     sipscan_hdr_name(mandatory[i]));
	for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++)
		if (sc->count[single[i]] > 1)
			return sip_error_set(err, code, "%s appears %u times (one allowed)",
					     sipscan_hdr_name(single[i]), sc->count[single[i]]);

	for (uint32_t i = 0; i < sc->nfields; i++) {
		const struct sipscan_field *f = &sc->fields[i];

		if ((f->id == SIPSCAN_HDR_VIA || f->id == SIPSCAN_HDR_CONTACT ||
		     f->id == SIPSCAN_HDR_ROUTE || f->id == SIPSCAN_HDR_RECORD_ROUTE) &&
		    !list_ok(buf + f->value_off, f->value_len))
			return sip_error_set(err, code, "empty element in %s header",
					     sipscan_hdr_name(f->id));
	}

	int ci = sipscan_find(sc, SIPSCAN_HDR_CSEQ, 0);

	if (check_cseq(buf, sc, &sc->fields[ci], err) != 0) {
		err->code = code;
		return -EINVAL;
	}
	if (sc->is_request &&
	    (sc->cseq_method_len != sc->method_len ||
	     memcmp(buf + sc->cseq_method_off, buf + sc->method_off, sc->method_len) != 0))
		return sip_error_set(
			err, 400, "CSeq method '%.*s' does not match the request method '%.*s'",
			(int)(sc->cseq_method_len > 32 ? 32 : sc->cseq_method_len),
			buf + sc->cseq_method_off, (int)(sc->method_len > 32 ? 32 : sc->method_len),
			buf + sc->method_off);

	sc->max_forwards = -1;
	int mi = sipscan_find(sc, SIPSCAN_HDR_MAX_FORWARDS, 0);

	if (mi >= 0) {
		const struct sipscan_field *f = &sc->fields[mi];
		uint64_t mf;

		if (!parse_u64(buf + f->value_off, f->value_len, &mf))
			return sip_error_set(err, code, "Max-Forwards '%.*s' is not a number",
					     (int)(f->value_len > 24 ? 24 : f->value_len),
					     buf + f->value_off);
		/* RFC 4475 §3.1.2.4: an out-of-range Max-Forwards may be handled as if absent. */
		sc->max_forwards = mf > 255 ? -1 : (int)mf;
	}

	size_t avail = len - sc->body_off;
	int li = sipscan_find(sc, SIPSCAN_HDR_CONTENT_LENGTH, 0);

	if (li >= 0) {
		const struct sipscan_field *f = &sc->fields[li];
		uint64_t cl;

		if (!parse_u64(buf + f->value_off, f->value_len, &cl))
			return sip_error_set(
				err, code, "Content-Length '%.*s' is not a non-negative integer",
				(int)(f->value_len > 24 ? 24 : f->value_len), buf + f->value_off);
		/* RFC 3261 §18.3: over UDP a larger Content-Length than what arrived is an error;
		 * octets past it are ignored. Over a stream the rest has simply not arrived. */
		if (cl > avail)
			return sip_error_set(
				err, code, "Content-Length %llu exceeds the %zu body octets %s",
				(unsigned long long)cl, avail,
				stream ? "available (message incomplete)" : "received");
		sc->has_content_length = true;
		sc->body_len = (uint32_t)cl;
	} else {
		/* RFC 3261 §18.3: Content-Length is mandatory over stream transports. */
		if (stream)
			return sip_error_set(err, code, "Content-Length is mandatory over TCP");
		sc->body_len = (uint32_t)avail;
	}
	sc->msg_len = sc->body_off + sc->body_len;
	return 0;
}

int sipscan_run(const char *buf, size_t len, bool stream, struct sipscan *sc, struct sip_error *err)
{
	size_t off = 0, content_end, next;
	bool found;

	memset(sc, 0, offsetof(struct sipscan, fields));
	err->code = 0;
	err->reason[0] = '\0';
	if (len > SIPSCAN_MAX_MSG)
		return sip_error_set(err, len >= 4 && memcmp(buf, "SIP/", 4) == 0 ? 0 : 513,
				     "message of %zu octets exceeds the %d-octet limit", len,
				     SIPSCAN_MAX_MSG);
	/* RFC 3261 §7.5: ignore CRLFs before the start line. */
	while (off < len && (buf[off] == '\r' || buf[off] == '\n'))
		off++;
	if (off == len)
		return sip_error_set(err, 0, "empty message");
	sc->start_off = (uint32_t)off;
	next = line_end(buf, len, off, &content_end, &found);
	if (!found)
		return sip_error_set(err, 0,
				     "start line is not terminated by CRLF (truncated message)");
	sc->lf_only = content_end == next - 1;
	if (memchr(buf + off, '\0', content_end - off) != NULL)
		return sip_error_set(err, 0, "NUL octet in the start line");
	int rc = (len - off >= 4 && memcmp(buf + off, "SIP/", 4) == 0)
			 ? scan_status_line(buf, off, content_end, sc, err)
			 : scan_request_line(buf, off, content_end, sc, err);

	if (rc != 0)
		return rc;
	int code = sc->is_request ? 400 : 0;

	off = next;
	for (;;) {
		if (off >= len)
			return sip_error_set(err, code,
					     "header section is not terminated by an empty line");
		next = line_end(buf, len, off, &content_end, &found);
		if (!found)
			return sip_error_set(err, code,
					     "header section is not terminated by an empty line");
		if (content_end == off) {
			sc->hdr_end = (uint32_t)off;
			sc->body_off = (uint32_t)next;
			break;
		}
		if (buf[off] == ' ' || buf[off] == '\t')
			return sip_error_set(err, code,
					     "continuation line before the first header");
		if (sc->nfields == SIPSCAN_MAX_HDRS)
			return sip_error_set(err, code == 400 ? 400 : 0,
					     "more than %d header fields", SIPSCAN_MAX_HDRS);
		struct sipscan_field *f = &sc->fields[sc->nfields];
		size_t n = off;

		while (n < content_end && is_token_char((unsigned char)buf[n]))
			n++;
		size_t name_end = n;

		/* RFC 3261 §7.3.1: header = name HCOLON value; HCOLON = *( SP / HTAB ) ":" SWS */
		while (n < content_end && (buf[n] == ' ' || buf[n] == '\t'))
			n++;
		if (name_end == off || n >= content_end || buf[n] != ':')
			return sip_error_set(err, code, "malformed header line '%.*s'",
					     (int)(content_end - off > 40 ? 40 : content_end - off),
					     buf + off);
		f->name_off = (uint32_t)off;
		f->name_len = (uint32_t)(name_end - off);
		f->id = sipscan_hdr_id(buf + off, name_end - off);
		/* The value runs on over folded lines (RFC 3261 §7.3.1 LWS continuation). */
		size_t vend = content_end;

		while (next < len && (buf[next] == ' ' || buf[next] == '\t')) {
			next = line_end(buf, len, next, &vend, &found);
			if (!found)
				return sip_error_set(
					err, code,
					"header section is not terminated by an empty line");
		}
		size_t v = n + 1;

		while (v < vend &&
		       (buf[v] == ' ' || buf[v] == '\t' || buf[v] == '\r' || buf[v] == '\n'))
			v++;
		while (vend > v && (buf[vend - 1] == ' ' || buf[vend - 1] == '\t'))
			vend--;
		if (!value_chars_ok(buf + v, vend - v))
			return sip_error_set(err, code,
					     "control character (NUL, CR, ...) in header %.*s",
					     (int)(name_end - off), buf + off);
		f->line_off = (uint32_t)off;
		f->line_len = (uint32_t)(next - off);
		f->value_off = (uint32_t)v;
		f->value_len = (uint32_t)(vend - v);
		sc->count[f->id]++;
		sc->nfields++;
		off = next;
	}
	return check_fields(buf, len, stream, sc, err);
}

int sipscan_find(const struct sipscan *sc, enum sipscan_hdr id, int from)
{
	for (uint32_t i = from < 0 ? 0 : (uint32_t)from; i < sc->nfields; i++)
		if (sc->fields[i].id == id)
			return (int)i;
	return -1;
}
