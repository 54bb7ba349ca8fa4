/* sipmsg_edit: byte-exact edits of a parsed message and its serialization. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "siplex.h"
#include "sipmsg_priv.h"

/* Records an edit, keeping the list sorted by offset. Overlapping edits are refused. */
int sipmsg_add_edit(struct sip_msg *m, size_t off, size_t del, const char *ins, size_t ins_len)
{
	size_t pos = 0;

	/* Inserts at one offset keep the order they were made in. */
	while (pos < m->nedits && m->edits[pos].off <= off)
		pos++;
	if (pos > 0 && m->edits[pos - 1].off + m->edits[pos - 1].del > off)
		return -EBUSY;
	if (pos < m->nedits && off + del > m->edits[pos].off)
		return -EBUSY;
	if (m->nedits == m->edits_cap) {
		size_t cap = m->edits_cap ? m->edits_cap * 2 : 8;
		struct sip_edit *e = realloc(m->edits, cap * sizeof(*e));

		if (e == NULL)
			return -ENOMEM;
		m->edits = e;
		m->edits_cap = cap;
	}
	char *copy = malloc(ins_len + 1);

	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, ins, ins_len);
	memmove(&m->edits[pos + 1], &m->edits[pos], (m->nedits - pos) * sizeof(m->edits[0]));
	m->edits[pos] = (struct sip_edit){(uint32_t)off, (uint32_t)del, m->edit_seq++, copy,
					  (uint32_t)ins_len};
	m->nedits++;
	return 0;
}

int sipmsg_fix_via(struct sip_msg *m, const struct addr_port *src, bool force_rport)
{
	int vi = sipscan_find(&m->sc, SIPSCAN_HDR_VIA, 0);
	struct siplex_span param, value;
	struct sip_via via;
	char ip[INET6_ADDRSTRLEN], text[96];
	int rc;

	if (!m->sc.is_request || vi < 0 || sipmsg_via(m, 0, &via) != 0)
		return -ENOENT;
	const struct sipscan_field *f = &m->sc.fields[vi];
	const char *v = m->buf + f->value_off;
	size_t vlen = siplex_first_elem(v, f->value_len);
	bool rport = via.has_rport || force_rport;
	/* RFC 3261 §18.2.1: received when sent-by differs from the source; RFC 3581 §4: always
	 * when rport is present. */
	bool received = rport || !via.sent_by.is_ip || !addr_equal(&via.sent_by.ip, &src->ip);

	if (!received && !rport)
		return -ENOENT;
	addr_format(&src->ip, ip, sizeof(ip));
	if (received) {
		if (siplex_via_param(v, vlen, "received", &param, &value)) {
			int n = snprintf(text, sizeof(text), ";received=%s", ip);

			rc = sipmsg_add_edit(m, f->value_off + param.off, param.len, text,
					     (size_t)n);
		} else {
			int n = snprintf(text, sizeof(text), ";received=%s", ip);

			rc = sipmsg_add_edit(m, f->value_off + vlen, 0, text, (size_t)n);
		}
		if (rc != 0)
			return rc;
	}
	if (rport) {
		int n = snprintf(text, sizeof(text), ";rport=%u", src->port);

		if (siplex_via_param(v, vlen, "rport", &param, &value))
			rc = sipmsg_add_edit(m, f->value_off + param.off, param.len, text,
					     (size_t)n);
		else
			rc = sipmsg_add_edit(m, f->value_off + vlen, 0, text, (size_t)n);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int sipmsg_set_contact(struct sip_msg *m, unsigned int idx, const struct addr_port *ap,
		       enum sip_transport t)
{
	struct siplex_span hp, uri;
	size_t off, len;
	char text[ADDR_STRLEN + 24];

	if (!sipmsg_contact_elem(m, idx, &off, &len) ||
	    !siplex_uri_hostport(m->buf + off, len, &hp) || !siplex_uri(m->buf + off, len, &uri))
		return -ENOENT;
	addr_port_format(ap, text, sizeof(text));
	/* A host:port reached over a stream is the far end of a connection, only reachable over it:
	 * say so in the URI when it does not already name a transport (RFC 3261 §19.1.1). */
	if (t != SIP_TRANSPORT_UDP) {
		bool named = false;

		for (size_t i = uri.off; i + 10 <= uri.off + uri.len; i++)
			named |= strncasecmp(m->buf + off + i, "transport=", 10) == 0;
		if (!named) {
			size_t n = strlen(text);

			snprintf(text + n, sizeof(text) - n, ";transport=%s",
				 sip_transport_name(t));
		}
	}
	return sipmsg_add_edit(m, off + hp.off, hp.len, text, strlen(text));
}

int sipmsg_set_sdp(struct sip_msg *m, const char *sdp, size_t len)
{
	char num[24];
	int rc;

	if (!m->has_sdp)
		return -ENOENT;
	rc = sipmsg_add_edit(m, m->sdp_off, m->sdp_len, sdp, len);
	if (rc != 0)
		return rc;
	size_t body = (size_t)m->sc.body_len - m->sdp_len + len;
	int n = snprintf(num, sizeof(num), "%zu", body);
	int li = sipscan_find(&m->sc, SIPSCAN_HDR_CONTENT_LENGTH, 0);

	if (li >= 0)
		return sipmsg_add_edit(m, m->sc.fields[li].value_off, m->sc.fields[li].value_len,
				       num, (size_t)n);
	char hdr[48];

	n = snprintf(hdr, sizeof(hdr), "Content-Length: %zu%s", body,
		     m->sc.lf_only ? "\n" : "\r\n");
	return sipmsg_add_edit(m, m->sc.hdr_end, 0, hdr, (size_t)n);
}

char *sipmsg_serialize(const struct sip_msg *m, size_t *len)
{
	size_t total = m->len;

	for (size_t i = 0; i < m->nedits; i++)
		total = total - m->edits[i].del + m->edits[i].ins_len;
	char *out = malloc(total + 1);

	if (out == NULL)
		return NULL;
	size_t src = 0, dst = 0;

	for (size_t i = 0; i < m->nedits; i++) {
		const struct sip_edit *e = &m->edits[i];

		memcpy(out + dst, m->buf + src, e->off - src);
		dst += e->off - src;
		memcpy(out + dst, e->ins, e->ins_len);
		dst += e->ins_len;
		src = e->off + e->del;
	}
	memcpy(out + dst, m->buf + src, m->len - src);
	dst += m->len - src;
	out[dst] = '\0';
	*len = dst;
	return out;
}

static const char *eol(const struct sip_msg *m)
{
	return m->sc.lf_only ? "\n" : "\r\n";
}

/* Inserts a whole header line "name: value" at off. */
static int insert_line(struct sip_msg *m, size_t off, const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 5;
	char *line = malloc(n);

	if (line == NULL)
		return -ENOMEM;
	int len = snprintf(line, n, "%s: %s%s", name, value, eol(m));
	int rc = sipmsg_add_edit(m, off, 0, line, (size_t)len);

	free(line);
	return rc;
}

/* Removes the first element of the first header with this id: the whole line when it is the
 * only element, else the element and its comma. */
static int pop_elem(struct sip_msg *m, enum sipscan_hdr id)
{
	int fi = sipscan_find(&m->sc, id, 0);

	if (fi < 0)
		return -ENOENT;
	const struct sipscan_field *f = &m->sc.fields[fi];
	const char *v = m->buf + f->value_off;
	size_t e = siplex_first_elem(v, f->value_len);

	while (e < f->value_len && v[e] != ',')
		e++;
	if (e >= f->value_len)
		return sipmsg_add_edit(m, f->line_off, f->line_len, "", 0);
	e++;
	while (e < f->value_len && (v[e] == ' ' || v[e] == '\t' || v[e] == '\r' || v[e] == '\n'))
		e++;
	return sipmsg_add_edit(m, f->value_off, e, "", 0);
}

int sipmsg_push_via(struct sip_msg *m, const char *value)
{
	int fi = sipscan_find(&m->sc, SIPSCAN_HDR_VIA, 0);

	/* RFC 3261 §16.6 step 8: the proxy's Via goes above the existing ones. */
	return insert_line(m, fi >= 0 ? m->sc.fields[fi].line_off : m->sc.hdr_end, "Via", value);
}

int sipmsg_pop_via(struct sip_msg *m)
{
	return pop_elem(m, SIPSCAN_HDR_VIA);
}

int sipmsg_push_record_route(struct sip_msg *m, const char *value)
{
	int fi = sipscan_find(&m->sc, SIPSCAN_HDR_RECORD_ROUTE, 0);

	/* RFC 3261 §16.6 step 4: ours goes above any Record-Route already there. */
	return insert_line(m, fi >= 0 ? m->sc.fields[fi].line_off : m->sc.hdr_end, "Record-Route",
			   value);
}

int sipmsg_pop_route(struct sip_msg *m)
{
	return pop_elem(m, SIPSCAN_HDR_ROUTE);
}

int sipmsg_set_ruri(struct sip_msg *m, const char *uri)
{
	if (!m->sc.is_request)
		return -ENOENT;
	return sipmsg_add_edit(m, m->sc.uri_off, m->sc.uri_len, uri, strlen(uri));
}

int sipmsg_set_max_forwards(struct sip_msg *m, int value)
{
	char num[16];
	int n = snprintf(num, sizeof(num), "%d", value);
	int fi = sipscan_find(&m->sc, SIPSCAN_HDR_MAX_FORWARDS, 0);

	if (fi >= 0)
		return sipmsg_add_edit(m, m->sc.fields[fi].value_off, m->sc.fields[fi].value_len,
				       num, (size_t)n);
	return insert_line(m, m->sc.hdr_end, "Max-Forwards", num);
}

/* A growing output buffer for responses. */
struct outbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void out_add(struct outbuf *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->len + n + 1) * 2;
		char *p = realloc(o->p, cap);

		if (p == NULL) {
			o->failed = true;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

/* Copies buf[off..off+len) with the edits that fall inside it applied. */
static void out_range(struct outbuf *o, const struct sip_msg *m, size_t off, size_t len)
{
	size_t src = off, end = off + len;

	for (size_t i = 0; i < m->nedits; i++) {
		const struct sip_edit *e = &m->edits[i];

		if (e->off < src || e->off + e->del > end)
			continue;
		out_add(o, m->buf + src, e->off - src);
		out_add(o, e->ins, e->ins_len);
		src = e->off + e->del;
	}
	out_add(o, m->buf + src, end - src);
}

char *sipmsg_response(const struct sip_msg *req, int code, const char *reason, const char *to_tag,
		      const char *extra, size_t *len)
{
	struct outbuf o = {0};
	char line[256];
	int n;

	if (!req->sc.is_request || code < 100 || code > 699) {
		errno = EINVAL;
		return NULL;
	}
	n = snprintf(line, sizeof(line), "SIP/2.0 %d %s\r\n", code, reason);
	out_add(&o, line, (size_t)n);
	/* RFC 3261 §8.2.6.2: Via (all, in order), From, To, Call-ID and CSeq of the request. */
	for (uint32_t i = 0; i < req->sc.nfields; i++) {
		const struct sipscan_field *f = &req->sc.fields[i];

		switch (f->id) {
		case SIPSCAN_HDR_VIA:
		case SIPSCAN_HDR_FROM:
		case SIPSCAN_HDR_CALL_ID:
		case SIPSCAN_HDR_CSEQ:
			out_range(&o, req, f->line_off, f->line_len);
			break;
		case SIPSCAN_HDR_TO:
			/* The To tag is added to a response that is not 100 (RFC 3261 §8.2.6.2). */
			out_range(&o, req, f->line_off, f->value_off + f->value_len - f->line_off);
			if (code > 100 && to_tag != NULL && sipmsg_to_tag(req) == NULL) {
				out_add(&o, ";tag=", 5);
				out_add(&o, to_tag, strlen(to_tag));
			}
			out_range(&o, req, f->value_off + f->value_len,
				  f->line_off + f->line_len - f->value_off - f->value_len);
			break;
		default:
			break;
		}
	}
	if (extra != NULL)
		out_add(&o, extra, strlen(extra));
	out_add(&o, "Content-Length: 0\r\n\r\n", 21);
	if (o.failed) {
		free(o.p);
		errno = ENOMEM;
		return NULL;
	}
	*len = o.len;
	return o.p;
}

unsigned int sipmsg_edit_mark(const struct sip_msg *m)
{
	return m->edit_seq;
}

void sipmsg_edit_rollback(struct sip_msg *m, unsigned int mark)
{
	size_t keep = 0;

	for (size_t i = 0; i < m->nedits; i++) {
		if (m->edits[i].seq >= mark)
			free(m->edits[i].ins);
		else
			m->edits[keep++] = m->edits[i];
	}
	m->nedits = keep;
	m->edit_seq = mark;
}

/* Copies the first line of header id (with its edits) into o; false when absent. */
static bool out_header(struct outbuf *o, const struct sip_msg *m, enum sipscan_hdr id)
{
	int fi = sipscan_find(&m->sc, id, 0);

	if (fi < 0)
		return false;
	out_range(o, m, m->sc.fields[fi].line_off, m->sc.fields[fi].line_len);
	return true;
}

/* Copies every line of header id (with edits). */
static void out_headers(struct outbuf *o, const struct sip_msg *m, enum sipscan_hdr id)
{
	for (int fi = sipscan_find(&m->sc, id, 0); fi >= 0; fi = sipscan_find(&m->sc, id, fi + 1))
		out_range(o, m, m->sc.fields[fi].line_off, m->sc.fields[fi].line_len);
}

/* Writes the top Via element (with edits) as a header line. */
static void out_top_via(struct outbuf *o, const struct sip_msg *m)
{
	int fi = sipscan_find(&m->sc, SIPSCAN_HDR_VIA, 0);

	if (fi < 0)
		return;
	const struct sipscan_field *f = &m->sc.fields[fi];
	size_t e = siplex_first_elem(m->buf + f->value_off, f->value_len);

	out_add(o, "Via: ", 5);
	out_range(o, m, f->value_off, e);
	out_add(o, "\r\n", 2);
}

/* A request built from req for method (ACK or CANCEL): RFC 3261 §9.1 and §17.1.1.3 — the same
 * Request-URI, top Via, Route, From, Call-ID and CSeq number; To from resp when given. */
static char *derived_request(const struct sip_msg *req, const struct sip_msg *resp,
			     const char *method, size_t *len)
{
	struct outbuf o = {0};
	char line[64];
	int n;

	if (!req->sc.is_request) {
		errno = EINVAL;
		return NULL;
	}
	out_add(&o, method, strlen(method));
	out_add(&o, " ", 1);
	out_range(&o, req, req->sc.uri_off, req->sc.uri_len);
	out_add(&o, " SIP/2.0\r\n", 10);
	out_top_via(&o, req);
	out_headers(&o, req, SIPSCAN_HDR_ROUTE);
	out_header(&o, req, SIPSCAN_HDR_FROM);
	out_header(&o, resp != NULL ? resp : req, SIPSCAN_HDR_TO);
	out_header(&o, req, SIPSCAN_HDR_CALL_ID);
	n = snprintf(line, sizeof(line), "CSeq: %u %s\r\nMax-Forwards: 70\r\n",
		     (unsigned int)req->sc.cseq, method);
	out_add(&o, line, (size_t)n);
	out_add(&o, "Content-Length: 0\r\n\r\n", 21);
	if (o.failed) {
		free(o.p);
		errno = ENOMEM;
		return NULL;
	}
	*len = o.len;
	return o.p;
}

char *sipmsg_ack_for(const struct sip_msg *req, const struct sip_msg *resp, size_t *len)
{
	return derived_request(req, resp, "ACK", len);
}

char *sipmsg_cancel_for(const struct sip_msg *req, size_t *len)
{
	return derived_request(req, NULL, "CANCEL", len);
}

const char *sipmsg_reason_phrase(int code)
{
	static const struct {
		int code;
		const char *text;
	} phrases[] = {
		{100, "Trying"},
		{180, "Ringing"},
		{200, "OK"},
		{400, "Bad Request"},
		{401, "Unauthorized"},
		{403, "Forbidden"},
		{404, "Not Found"},
		{405, "Method Not Allowed"},
		{407, "Proxy Authentication Required"},
		{408, "Request Timeout"},
		{416, "Unsupported URI Scheme"},
		{420, "Bad Extension"},
		{423, "Interval Too Brief"},
		{480, "Temporarily Unavailable"},
		{481, "Call/Transaction Does Not Exist"},
		{482, "Loop Detected"},
		{483, "Too Many Hops"},
		{486, "Busy Here"},
		{487, "Request Terminated"},
		{500, "Server Internal Error"},
		{503, "Service Unavailable"},
		{505, "Version Not Supported"},
		{513, "Message Too Large"},
	};

	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
		if (phrases[i].code == code)
			return phrases[i].text;
	return code < 200 ? "Session Progress" : code < 300 ? "OK" : "Error";
}

/* Header lines of a message that failed to parse, by name, for an error response. */
static bool raw_header_is(const char *line, size_t len, const char *name, char compact)
{
	size_t n = strlen(name), i;

	if (len > n && strncasecmp(line, name, n) == 0)
		i = n;
	else if (compact != 0 && len > 1 && (line[0] | 0x20) == compact)
		i = 1;
	else
		return false;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < len && line[i] == ':';
}

static bool has_tag(const char *line, size_t len)
{
	for (size_t i = 0; i + 4 <= len; i++)
		if (strncasecmp(line + i, "tag=", 4) == 0 && i > 0 &&
		    (line[i - 1] == ';' || line[i - 1] == ' '))
			return true;
	return false;
}

/* FNV-1a: a stable tag for the same request, so retransmissions get the same answer. */
static unsigned int line_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

char *sipmsg_error_response(const char *buf, size_t len, const struct sip_error *err,
			    size_t *out_len)
{
	static const struct {
		const char *name;
		char compact;
	} copied[] = {{"Via", 'v'}, {"From", 'f'}, {"To", 't'}, {"Call-ID", 'i'}, {"CSeq", 0}};
	struct outbuf o = {0};
	char line[320];
	bool via = false;
	size_t pos;
	int n;

	if (err->code < 300 || err->code > 699) {
		errno = EINVAL;
		return NULL;
	}
	n = snprintf(line, sizeof(line), "SIP/2.0 %d %s\r\n", err->code,
		     sipmsg_reason_phrase(err->code));
	out_add(&o, line, (size_t)n);
	/* Skip the start line, then copy the headers a response must echo (RFC 3261 §8.2.6.2). */
	const char *lf = memchr(buf, '\n', len);

	pos = lf != NULL ? (size_t)(lf - buf) + 1 : len;
	while (pos < len) {
		lf = memchr(buf + pos, '\n', len - pos);
		size_t end = lf != NULL ? (size_t)(lf - buf) : len;
		size_t content = end > pos && buf[end - 1] == '\r' ? end - 1 : end;

		if (content == pos)
			break;
		for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++) {
			if (!raw_header_is(buf + pos, content - pos, copied[i].name,
					   copied[i].compact))
				continue;
			if (memchr(buf + pos, '\0', content - pos) != NULL)
				break;
			out_add(&o, buf + pos, content - pos);
			if (i == 2 && !has_tag(buf + pos, content - pos)) {
				/* RFC 3261 §8.2.6.2: a final response carries a To tag. */
				char tag[24];
				int tn = snprintf(tag, sizeof(tag), ";tag=sbce%08x",
						  line_hash(buf + pos, content - pos));

				out_add(&o, tag, (size_t)tn);
			}
			out_add(&o, "\r\n", 2);
			via |= i == 0;
		}
		pos = end + 1;
	}
	/* RFC 3261 §20.43: warn-code 399 carries what was wrong, for whoever reads the trace. */
	char reason[sizeof(err->reason)];

	n = 0;
	for (const char *r = err->reason; *r != '\0' && n < (int)sizeof(reason) - 1; r++)
		reason[n++] = (*r == '"' || *r == '\\') ? '\'' : *r;
	reason[n] = '\0';
	n = snprintf(line, sizeof(line), "Warning: 399 sbc-sip \"%s\"\r\n", reason);
	out_add(&o, line, (size_t)n);
	out_add(&o, "Content-Length: 0\r\n\r\n", 21);
	if (!via || o.failed) {
		/* Without a Via there is nowhere to send the response. */
		free(o.p);
		errno = o.failed ? ENOMEM : EDESTADDRREQ;
		return NULL;
	}
	*out_len = o.len;
	return o.p;
}
