/* sipmsg: a parsed SIP message — with sipmsg_read.c the only place that sees libosip2 — and the
 * validation on top of it. Read accessors: sipmsg_read.c; byte-exact edits: sipmsg_edit.c. */
#include "sipmsg.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include <osipparser2/osip_parser.h>

#include "sipbody.h"
#include "sipmsg_priv.h"
#include "siplex.h"

static const char *const transport_names[] = {
	[SIP_TRANSPORT_UDP] = "udp", [SIP_TRANSPORT_TCP] = "tcp", [SIP_TRANSPORT_TLS] = "tls",
	[SIP_TRANSPORT_WS] = "ws",   [SIP_TRANSPORT_WSS] = "wss",
};

const char *sip_transport_name(enum sip_transport t)
{
	return t <= SIP_TRANSPORT_WSS ? transport_names[t] : "?";
}

int sip_transport_parse(const char *s, enum sip_transport *out)
{
	for (int i = SIP_TRANSPORT_UDP; i <= SIP_TRANSPORT_WSS; i++) {
		if (strcasecmp(s, transport_names[i]) == 0) {
			*out = (enum sip_transport)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void osip_silence(const char *fi, int li, osip_trace_level_t level, const char *chfr,
			 va_list ap)
{
	(void)fi;
	(void)li;
	(void)level;
	(void)chfr;
	(void)ap;
}

int sipmsg_global_init(void)
{
	parser_init();
	/* libosip2 writes its own diagnostics to stderr; our errors say more and are rate-limited. */
	osip_trace_initialize_func(END_TRACE_LEVEL, osip_silence);
	for (int l = 0; l < END_TRACE_LEVEL; l++)
		osip_trace_disable_level((osip_trace_level_t)l);
	return 0;
}

/* Declared in sipmsg_priv.h. */
int sipmsg_fill_host(const char *host, const char *port, struct sip_host *out)
{
	size_t hlen;

	memset(out, 0, sizeof(*out));
	if (host == NULL)
		return -EINVAL;
	hlen = strlen(host);
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(out->host))
		return -EINVAL;
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	out->is_ip = addr_parse(out->host, hlen, &out->ip);
	if (port != NULL && port[0] != '\0') {
		char *end;
		unsigned long p = strtoul(port, &end, 10);

		if (*end != '\0' || port[0] < '0' || port[0] > '9' || p == 0 || p > 65535)
			return -EINVAL;
		out->port = (uint16_t)p;
	}
	return 0;
}

/* Which known header failed to parse: libosip2 reports only that the whole message failed, so
 * each known header is parsed on its own to name the culprit. */
static void name_bad_header(const struct sip_msg *m, struct sip_error *err, int code)
{
	for (uint32_t i = 0; i < m->sc.nfields; i++) {
		const struct sipscan_field *f = &m->sc.fields[i];
		char *v = strndup(m->buf + f->value_off, f->value_len);
		int rc = 0;

		if (v == NULL)
			break;
		switch (f->id) {
		case SIPSCAN_HDR_VIA: {
			osip_via_t *h;

			if (osip_via_init(&h) == 0) {
				/* osip_via_parse takes one element; the first is enough to name it. */
				v[siplex_first_elem(v, strlen(v))] = '\0';
				rc = osip_via_parse(h, v);
				osip_via_free(h);
			}
			break;
		}
		case SIPSCAN_HDR_FROM:
		case SIPSCAN_HDR_TO: {
			osip_from_t *h;

			if (osip_from_init(&h) == 0) {
				rc = osip_from_parse(h, v);
				osip_from_free(h);
			}
			break;
		}
		case SIPSCAN_HDR_CONTACT: {
			osip_contact_t *h;

			if (osip_contact_init(&h) == 0) {
				v[siplex_first_elem(v, strlen(v))] = '\0';
				rc = osip_contact_parse(h, v);
				osip_contact_free(h);
			}
			break;
		}
		case SIPSCAN_HDR_CONTENT_TYPE: {
			osip_content_type_t *h;

			if (osip_content_type_init(&h) == 0) {
				rc = osip_content_type_parse(h, v);
				osip_content_type_free(h);
			}
			break;
		}
		default:
			break;
		}
		free(v);
		if (rc != 0) {
			sip_error_set(err, code, "malformed %.*s header", (int)f->name_len,
				      m->buf + f->name_off);
			return;
		}
	}
	sip_error_set(err, code, "malformed message (rejected by the SIP parser)");
}

/* libosip2 sees the header section only: the body is ours to read (sipbody), and its multipart
 * parser leaks on some malformed bodies. Its Content-Length becomes 0, padded to the same width.
 * libosip2 works on C strings, so it cannot see the NUL a quoted-pair may carry (RFC 3261 §25.1):
 * such octets become spaces in this copy. */
static char *osip_copy(const struct sip_msg *m, size_t *len)
{
	size_t n = m->sc.body_off;
	char *c = malloc(n + 1);

	if (c == NULL)
		return NULL;
	memcpy(c, m->buf, n);
	c[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (c[i] == '\0')
			c[i] = ' ';
	int li = sipscan_find(&m->sc, SIPSCAN_HDR_CONTENT_LENGTH, 0);

	if (li >= 0) {
		const struct sipscan_field *f = &m->sc.fields[li];

		memset(c + f->value_off, ' ', f->value_len);
		c[f->value_off] = '0';
	}
	*len = n;
	return c;
}

static int check_request(struct sip_msg *m, struct sip_error *err)
{
	const char *scheme = m->buf + m->sc.uri_off;
	size_t slen = m->sc.scheme_len;

	/* RFC 3261 §16.3 step 1 / §21.4.16: a proxy that cannot handle the Request-URI scheme
	 * answers 416 Unsupported URI Scheme. */
	if (!((slen == 3 && strncasecmp(scheme, "sip", 3) == 0) ||
	      (slen == 4 && strncasecmp(scheme, "sips", 4) == 0) ||
	      (slen == 3 && strncasecmp(scheme, "tel", 3) == 0)))
		return sip_error_set(err, 416, "unsupported URI scheme '%.*s' in the Request-URI",
				     (int)(slen > 32 ? 32 : slen), scheme);
	/* RFC 3261 §19.1.1: headers ("?..." after the host) are not allowed in a SIP
	 * Request-URI (RFC 4475 §3.1.2.11 escruri). */
	if (slen != 3 || strncasecmp(scheme, "tel", 3) != 0) {
		struct siplex_span hp;
		const char *uri = m->buf + m->sc.uri_off;

		if (!siplex_uri_hostport(uri, m->sc.uri_len, &hp))
			return sip_error_set(
				err, 400,
				"Request-URI has a malformed host:port (an IPv6 address needs "
				"brackets, RFC 5118 §4.4)");
		if (memchr(uri + hp.off, '?', m->sc.uri_len - hp.off) != NULL)
			return sip_error_set(err, 400,
					     "Request-URI carries headers (RFC 3261 §19.1.1)");
	}
	/* RFC 3261 §16.3 step 4: Proxy-Require options this proxy does not support get 420. It
	 * supports none. */
	int pr = sipscan_find(&m->sc, SIPSCAN_HDR_PROXY_REQUIRE, 0);

	if (pr >= 0) {
		const struct sipscan_field *f = &m->sc.fields[pr];

		return sip_error_set(err, 420, "unsupported extension in Proxy-Require: %.*s",
				     (int)(f->value_len > 64 ? 64 : f->value_len),
				     m->buf + f->value_off);
	}
	/* RFC 3261 §16.3 step 2: Max-Forwards 0 is not forwarded: 483 Too Many Hops. */
	if (m->sc.max_forwards == 0)
		return sip_error_set(err, 483, "Max-Forwards is 0 (too many hops)");
	return 0;
}

/* RFC 3261 §20: a URI with a comma, question mark or semicolon must be in <>, so an addr-spec
 * with '?' is malformed (RFC 4475 §3.1.2.13 regbadct). */
static bool addr_spec_ok(const struct sip_msg *m)
{
	for (uint32_t i = 0; i < m->sc.nfields; i++) {
		const struct sipscan_field *f = &m->sc.fields[i];

		if (f->id != SIPSCAN_HDR_CONTACT && f->id != SIPSCAN_HDR_FROM &&
		    f->id != SIPSCAN_HDR_TO)
			continue;
		const char *v = m->buf + f->value_off;
		size_t e = siplex_first_elem(v, f->value_len);

		if (memchr(v, '<', e) == NULL && memchr(v, '?', e) != NULL)
			return false;
	}
	return true;
}

/* Broadcast, multicast or unspecified IPv4 addresses are never where a response goes. */
static bool bad_reply_target(const struct addr_ip *ip)
{
	if (ip->family != AF_INET)
		return false;
	uint32_t a = ntohl(ip->v4.s_addr);

	return a == 0 || a == 0xffffffffu || (a >> 28) == 0xe;
}

static int check_parsed(struct sip_msg *m, struct sip_error *err)
{
	osip_message_t *o = m->osip;
	int code = m->sc.is_request ? 400 : 0;
	osip_via_t *via = osip_list_get(&o->vias, 0);
	struct sip_host h;

	if (via == NULL || via->host == NULL || via->protocol == NULL)
		return sip_error_set(err, code, "top Via has no sent-by");
	if (sipmsg_fill_host(via->host, via->port, &h) != 0)
		return sip_error_set(err, code, "top Via has an invalid host or port");
	if (via->version == NULL || strcmp(via->version, "2.0") != 0)
		return sip_error_set(err, code, "top Via has an unsupported protocol version");
	if (o->from == NULL || o->from->url == NULL)
		return sip_error_set(err, code, "malformed From header");
	if (o->to == NULL || o->to->url == NULL)
		return sip_error_set(err, code, "malformed To header");
	if (o->call_id == NULL || o->call_id->number == NULL)
		return sip_error_set(err, code, "malformed Call-ID header");
	if (o->cseq == NULL)
		return sip_error_set(err, code, "malformed CSeq header");
	/* Every Via element must have a sent-by we can read exactly: responses are routed by it. */
	for (int fi = sipscan_find(&m->sc, SIPSCAN_HDR_VIA, 0); fi >= 0;
	     fi = sipscan_find(&m->sc, SIPSCAN_HDR_VIA, fi + 1)) {
		const struct sipscan_field *f = &m->sc.fields[fi];
		size_t pos = 0;

		while (pos < f->value_len) {
			const char *v = m->buf + f->value_off + pos;
			size_t rest = f->value_len - pos, e = siplex_first_elem(v, rest);
			struct siplex_span sb;

			if (!siplex_via_sent_by(v, e, &sb))
				return sip_error_set(err, code,
						     "malformed Via sent-protocol or sent-by");
			while (e < rest && v[e] != ',')
				e++;
			pos += e + 1;
		}
	}
	/* Via, Contact, From and To get parameters appended or rewritten: no empty ones. */
	for (uint32_t i = 0; i < m->sc.nfields; i++) {
		const struct sipscan_field *f = &m->sc.fields[i];

		if ((f->id == SIPSCAN_HDR_VIA || f->id == SIPSCAN_HDR_CONTACT ||
		     f->id == SIPSCAN_HDR_FROM || f->id == SIPSCAN_HDR_TO) &&
		    !siplex_params_ok(m->buf + f->value_off, f->value_len))
			return sip_error_set(err, code, "empty parameter in %s header",
					     sipscan_hdr_name(f->id));
	}
	/* Contact URIs get rewritten by offset: each must have a host:port we can find exactly. */
	for (unsigned int i = 0; i < sipmsg_contact_count(m); i++) {
		osip_contact_t *c = osip_list_get(&o->contacts, (int)i);
		struct siplex_span hp;
		size_t off, len;

		if (c == NULL || c->url == NULL || c->url->host == NULL)
			continue; /* "*" or a URI without a host: never rewritten */
		if (!sipmsg_contact_elem(m, i, &off, &len) ||
		    !siplex_uri_hostport(m->buf + off, len, &hp))
			return sip_error_set(err, code, "malformed Contact URI");
	}
	if (!addr_spec_ok(m))
		return sip_error_set(err, code, "URI with '?' not enclosed in <> (RFC 3261 §20)");
	if (!m->sc.is_request) {
		/* RFC 4475 §3.3.10: a response is never forwarded to a broadcast address. */
		for (int i = 1; (via = osip_list_get(&o->vias, i)) != NULL; i++) {
			if (sipmsg_fill_host(via->host, via->port, &h) == 0 && h.is_ip &&
			    bad_reply_target(&h.ip))
				return sip_error_set(
					err, 0, "Via %d points at a broadcast or multicast address",
					i + 1);
		}
	}
	if (m->sc.is_request) {
		/* RFC 3261 §10.3 step 3: a registrar needs a SIP or SIPS AOR in To (RFC 4475
		 * §3.3.4 unksm2). */
		if (sipmsg_method_is(m, "REGISTER") &&
		    (o->to->url->scheme == NULL || (strcasecmp(o->to->url->scheme, "sip") != 0 &&
						    strcasecmp(o->to->url->scheme, "sips") != 0)))
			return sip_error_set(err, 400,
					     "REGISTER with a To URI that is not SIP or SIPS");
		if (o->req_uri == NULL)
			return sip_error_set(err, 400, "malformed Request-URI");
		if (o->req_uri->host == NULL && o->req_uri->scheme != NULL &&
		    strncasecmp(o->req_uri->scheme, "sip", 3) == 0)
			return sip_error_set(err, 400, "Request-URI has no host");
	}
	return 0;
}

/* True when some line of the header section starts with "Via" or "v" and a colon. */
static bool has_via_line(const char *buf, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\r' || buf[i + 1] == '\n')
			return false;
		size_t n = i + 1;

		if (len - n >= 3 && strncasecmp(buf + n, "via", 3) == 0)
			n += 3;
		else if ((buf[n] | 0x20) == 'v')
			n += 1;
		else
			continue;
		while (n < len && (buf[n] == ' ' || buf[n] == '\t'))
			n++;
		if (n < len && buf[n] == ':')
			return true;
	}
	return false;
}

struct sip_msg *sipmsg_parse(const char *buf, size_t len, enum sip_transport t,
			     struct sip_error *err)
{
	bool stream = t != SIP_TRANSPORT_UDP;
	/* Everything but the scan's header array is cleared; sipscan_run sets what it uses. */
	struct sip_msg *m = malloc(sizeof(*m));

	if (m != NULL)
		memset(m, 0, offsetof(struct sip_msg, sc));
	char *copy = NULL;

	if (m == NULL) {
		sip_error_set(err, 500, "out of memory");
		return NULL;
	}
	m->transport = t;
	if (sipscan_run(buf, len, stream, &m->sc, err) != 0)
		goto fail;
	m->len = m->sc.msg_len;
	m->buf = malloc(m->len + 1);
	if (m->buf == NULL) {
		sip_error_set(err, 500, "out of memory");
		goto fail;
	}
	memcpy(m->buf, buf, m->len);
	m->buf[m->len] = '\0';
	if (m->sc.is_request && check_request(m, err) != 0)
		goto fail;
	size_t clen;

	copy = osip_copy(m, &clen);
	if (copy == NULL || osip_message_init(&m->osip) != 0) {
		sip_error_set(err, 500, "out of memory");
		goto fail;
	}
	if (osip_message_parse(m->osip, copy, clen) != 0) {
		name_bad_header(m, err, m->sc.is_request ? 400 : 0);
		goto fail;
	}
	free(copy);
	copy = NULL;
	if (check_parsed(m, err) != 0)
		goto fail;

	int ct = sipscan_find(&m->sc, SIPSCAN_HDR_CONTENT_TYPE, 0);
	size_t off, slen;

	if (ct >= 0 &&
	    sipbody_find_sdp(m->buf + m->sc.fields[ct].value_off, m->sc.fields[ct].value_len,
			     m->buf + m->sc.body_off, m->sc.body_len, &off, &slen)) {
		m->has_sdp = true;
		m->sdp_off = (uint32_t)(m->sc.body_off + off);
		m->sdp_len = (uint32_t)slen;
	}
	/* A fork keeps its request for the life of its transactions (32 s after the final): only
	 * the header fields present are kept, not the scan's whole array. Nothing writes to sc
	 * after this, nor copies a message by value. */
	struct sip_msg *small = realloc(m, offsetof(struct sip_msg, sc.fields) +
						   m->sc.nfields * sizeof(m->sc.fields[0]));

	return small != NULL ? small : m;
fail:
	/* Without a Via there is nowhere to send a response: the message can only be dropped. */
	if (err->code != 0 && !has_via_line(buf, len)) {
		size_t n = strlen(err->reason);

		err->code = 0;
		snprintf(err->reason + n, sizeof(err->reason) - n, "; no Via, so no reply");
	}
	free(copy);
	sipmsg_free(m);
	return NULL;
}

void sipmsg_free(struct sip_msg *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nedits; i++)
		free(m->edits[i].ins);
	free(m->edits);
	if (m->osip != NULL)
		osip_message_free(m->osip);
	free(m->buf);
	free(m);
}
