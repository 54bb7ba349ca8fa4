/* sipmsg_read: the read accessors of a parsed SIP message (struct sip_msg, sipmsg.c), in our own
 * types: start line, Via, Contact, Route, tags, CSeq, Expires, body, digest credentials. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_parser.h>

#include "sipbody.h"
#include "sipmsg.h"
#include "sipmsg_priv.h"
#include "siplex.h"

bool sipmsg_is_request(const struct sip_msg *m)
{
	return m->sc.is_request;
}

int sipmsg_status(const struct sip_msg *m)
{
	return m->sc.is_request ? 0 : m->sc.status;
}

const char *sipmsg_method(const struct sip_msg *m, size_t *len)
{
	if (m->sc.is_request) {
		*len = m->sc.method_len;
		return m->buf + m->sc.method_off;
	}
	*len = m->sc.cseq_method_len;
	return m->buf + m->sc.cseq_method_off;
}

bool sipmsg_method_is(const struct sip_msg *m, const char *name)
{
	size_t len;
	const char *meth = sipmsg_method(m, &len);

	/* RFC 3261 §7.1: methods are case-sensitive. */
	return strlen(name) == len && memcmp(meth, name, len) == 0;
}

int sipmsg_max_forwards(const struct sip_msg *m)
{
	return m->sc.max_forwards < 0 ? 70 : m->sc.max_forwards;
}

unsigned int sipmsg_via_count(const struct sip_msg *m)
{
	return (unsigned int)osip_list_size(&m->osip->vias);
}

int sipmsg_via(const struct sip_msg *m, unsigned int idx, struct sip_via *out)
{
	osip_via_t *via = osip_list_get(&m->osip->vias, (int)idx);
	osip_generic_param_t *p;

	memset(out, 0, sizeof(*out));
	if (via == NULL || via->host == NULL)
		return -ENOENT;
	if (sipmsg_fill_host(via->host, via->port, &out->sent_by) != 0)
		return -EINVAL;
	if (via->protocol != NULL)
		snprintf(out->transport, sizeof(out->transport), "%s", via->protocol);
	if (osip_via_param_get_byname(via, "rport", &p) == 0 && p != NULL) {
		out->has_rport = true;
		if (p->gvalue != NULL) {
			char *end;
			unsigned long v = strtoul(p->gvalue, &end, 10);

			if (*end == '\0' && v <= 65535)
				out->rport = (uint16_t)v;
		}
	}
	if (osip_via_param_get_byname(via, "received", &p) == 0 && p != NULL) {
		out->has_received = true;
		if (p->gvalue != NULL)
			out->received_is_ip =
				addr_parse(p->gvalue, strlen(p->gvalue), &out->received);
	}
	if (osip_via_param_get_byname(via, "branch", &p) == 0 && p != NULL && p->gvalue != NULL)
		snprintf(out->branch, sizeof(out->branch), "%s", p->gvalue);
	return 0;
}

unsigned int sipmsg_contact_count(const struct sip_msg *m)
{
	return (unsigned int)osip_list_size(&m->osip->contacts);
}

unsigned int sipmsg_first_contact_header_count(const struct sip_msg *m)
{
	int fi = sipscan_find(&m->sc, SIPSCAN_HDR_CONTACT, 0);
	unsigned int n = 0;

	if (fi < 0)
		return 0;
	const struct sipscan_field *f = &m->sc.fields[fi];
	size_t pos = 0;

	while (pos < f->value_len) {
		const char *v = m->buf + f->value_off + pos;
		size_t rest = f->value_len - pos, e = siplex_first_elem(v, rest);

		n++;
		while (e < rest && v[e] != ',')
			e++;
		pos += e + 1;
	}
	return n;
}

int sipmsg_contact(const struct sip_msg *m, unsigned int idx, struct sip_host *out)
{
	osip_contact_t *c = osip_list_get(&m->osip->contacts, (int)idx);

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return -ENOENT;
	if (c->url == NULL || c->url->host == NULL)
		return -EINVAL;
	return sipmsg_fill_host(c->url->host, c->url->port, out);
}

int sipmsg_ruri(const struct sip_msg *m, struct sip_host *out)
{
	memset(out, 0, sizeof(*out));
	if (!m->sc.is_request || m->osip->req_uri == NULL || m->osip->req_uri->host == NULL)
		return -ENOENT;
	return sipmsg_fill_host(m->osip->req_uri->host, m->osip->req_uri->port, out);
}

bool sipmsg_sdp(const struct sip_msg *m, const char **sdp, size_t *len)
{
	if (!m->has_sdp)
		return false;
	*sdp = m->buf + m->sdp_off;
	*len = m->sdp_len;
	return true;
}

/* Finds the value span of Contact element idx across all Contact headers. */
bool sipmsg_contact_elem(const struct sip_msg *m, unsigned int idx, size_t *off, size_t *len)
{
	unsigned int n = 0;

	for (int fi = sipscan_find(&m->sc, SIPSCAN_HDR_CONTACT, 0); fi >= 0;
	     fi = sipscan_find(&m->sc, SIPSCAN_HDR_CONTACT, fi + 1)) {
		const struct sipscan_field *f = &m->sc.fields[fi];
		size_t pos = 0;

		while (pos < f->value_len) {
			const char *v = m->buf + f->value_off + pos;
			size_t rest = f->value_len - pos, e = siplex_first_elem(v, rest);
			size_t lead = 0;

			while (lead < e && (v[lead] == ' ' || v[lead] == '\t' || v[lead] == '\r' ||
					    v[lead] == '\n'))
				lead++;
			if (n == idx) {
				*off = f->value_off + pos + lead;
				*len = e - lead;
				return true;
			}
			n++;
			while (e < rest && v[e] != ',')
				e++;
			pos += e + 1;
		}
	}
	return false;
}

const char *sipmsg_call_id(const struct sip_msg *m, size_t *len)
{
	const struct sipscan_field *f = &m->sc.fields[sipscan_find(&m->sc, SIPSCAN_HDR_CALL_ID, 0)];

	*len = f->value_len;
	return m->buf + f->value_off;
}

uint32_t sipmsg_cseq(const struct sip_msg *m)
{
	return (uint32_t)m->sc.cseq;
}

static const char *tag_of(osip_from_t *h)
{
	osip_generic_param_t *p;

	if (h == NULL || osip_generic_param_get_byname(&h->gen_params, "tag", &p) != 0 || p == NULL)
		return NULL;
	return p->gvalue;
}

const char *sipmsg_from_tag(const struct sip_msg *m)
{
	return tag_of(m->osip->from);
}

const char *sipmsg_to_tag(const struct sip_msg *m)
{
	return tag_of(m->osip->to);
}

static int aor_of(osip_from_t *h, char *buf, size_t len)
{
	if (h == NULL || h->url == NULL || h->url->username == NULL || h->url->host == NULL)
		return -ENOENT;
	int n = snprintf(buf, len, "%s@%s", h->url->username, h->url->host);

	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

int sipmsg_from_aor(const struct sip_msg *m, char *buf, size_t len)
{
	return aor_of(m->osip->from, buf, len);
}

int sipmsg_to_aor(const struct sip_msg *m, char *buf, size_t len)
{
	return aor_of(m->osip->to, buf, len);
}

const char *sipmsg_ruri_text(const struct sip_msg *m, size_t *len)
{
	*len = m->sc.is_request ? m->sc.uri_len : 0;
	return m->buf + m->sc.uri_off;
}

const char *sipmsg_ruri_user(const struct sip_msg *m)
{
	if (!m->sc.is_request || m->osip->req_uri == NULL)
		return NULL;
	return m->osip->req_uri->username;
}

const char *sipmsg_header(const struct sip_msg *m, const char *name, size_t *len)
{
	size_t nlen = strlen(name);
	enum sipscan_hdr id = sipscan_hdr_id(name, nlen);

	for (uint32_t i = 0; i < m->sc.nfields; i++) {
		const struct sipscan_field *f = &m->sc.fields[i];

		if ((id != SIPSCAN_HDR_OTHER && f->id == id) ||
		    (id == SIPSCAN_HDR_OTHER && f->name_len == nlen &&
		     strncasecmp(m->buf + f->name_off, name, nlen) == 0)) {
			*len = f->value_len;
			return m->buf + f->value_off;
		}
	}
	return NULL;
}

/* RFC 3261 §20.19: delta-seconds = 1*DIGIT; values past 2^32-1 are clamped (RFC 4475 §3.1.2.4). */
static bool delta_seconds(const char *v, size_t len, uint32_t *out)
{
	uint64_t x = 0;
	size_t i = 0;

	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	size_t d = i;

	for (; i < len && v[i] >= '0' && v[i] <= '9'; i++)
		x = x > UINT32_MAX ? x : x * 10 + (uint64_t)(v[i] - '0');
	if (i == d)
		return false;
	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (i != len)
		return false;
	*out = x > UINT32_MAX ? UINT32_MAX : (uint32_t)x;
	return true;
}

int sipmsg_expires(const struct sip_msg *m, uint32_t *out)
{
	int i = sipscan_find(&m->sc, SIPSCAN_HDR_EXPIRES, 0);

	if (i < 0 ||
	    !delta_seconds(m->buf + m->sc.fields[i].value_off, m->sc.fields[i].value_len, out))
		return -ENOENT;
	return 0;
}

bool sipmsg_contact_is_star(const struct sip_msg *m)
{
	size_t off, len;

	return sipmsg_contact_elem(m, 0, &off, &len) && len == 1 && m->buf[off] == '*';
}

int sipmsg_contact_uri(const struct sip_msg *m, unsigned int idx, const char **uri, size_t *len)
{
	struct siplex_span sp;
	size_t off, elen;

	if (!sipmsg_contact_elem(m, idx, &off, &elen) || !siplex_uri(m->buf + off, elen, &sp))
		return -ENOENT;
	*uri = m->buf + off + sp.off;
	*len = sp.len;
	return 0;
}

int sipmsg_contact_expires(const struct sip_msg *m, unsigned int idx, uint32_t *out)
{
	osip_contact_t *c = osip_list_get(&m->osip->contacts, (int)idx);
	osip_generic_param_t *p;

	if (c == NULL || osip_generic_param_get_byname(&c->gen_params, "expires", &p) != 0 ||
	    p == NULL || p->gvalue == NULL || !delta_seconds(p->gvalue, strlen(p->gvalue), out))
		return -ENOENT;
	return 0;
}

unsigned int sipmsg_route_count(const struct sip_msg *m)
{
	return (unsigned int)osip_list_size(&m->osip->routes);
}

int sipmsg_route(const struct sip_msg *m, unsigned int idx, struct sip_host *out, bool *lr)
{
	osip_route_t *r = osip_list_get(&m->osip->routes, (int)idx);
	osip_uri_param_t *p;

	memset(out, 0, sizeof(*out));
	if (r == NULL || r->url == NULL || r->url->host == NULL)
		return -ENOENT;
	*lr = osip_uri_param_get_byname(&r->url->url_params, "lr", &p) == 0 && p != NULL;
	return sipmsg_fill_host(r->url->host, r->url->port, out);
}

/* Copies a digest parameter, without the quotes of a quoted-string. */
static void unquote(char *dst, size_t len, const char *src)
{
	size_t n = 0;

	if (src == NULL) {
		dst[0] = '\0';
		return;
	}
	if (*src == '"')
		src++;
	for (; *src != '\0' && n + 1 < len; src++) {
		if (*src == '"' && src[1] == '\0')
			break;
		if (*src == '\\' && src[1] != '\0')
			src++;
		dst[n++] = *src;
	}
	dst[n] = '\0';
}

int sipmsg_digest_cred(const struct sip_msg *m, bool proxy, const char *realm,
		       struct sip_digest_cred *out)
{
	const osip_list_t *l = proxy ? &m->osip->proxy_authorizations : &m->osip->authorizations;

	for (int i = 0; i < osip_list_size(l); i++) {
		osip_authorization_t *a = osip_list_get(l, i);

		if (a == NULL || a->auth_type == NULL || strcasecmp(a->auth_type, "Digest") != 0)
			continue;
		memset(out, 0, sizeof(*out));
		unquote(out->realm, sizeof(out->realm), a->realm);
		if (realm != NULL && strcmp(out->realm, realm) != 0)
			continue;
		unquote(out->username, sizeof(out->username), a->username);
		unquote(out->nonce, sizeof(out->nonce), a->nonce);
		unquote(out->uri, sizeof(out->uri), a->uri);
		unquote(out->response, sizeof(out->response), a->response);
		unquote(out->algorithm, sizeof(out->algorithm), a->algorithm);
		unquote(out->cnonce, sizeof(out->cnonce), a->cnonce);
		unquote(out->nc, sizeof(out->nc), a->nonce_count);
		unquote(out->qop, sizeof(out->qop), a->message_qop);
		unquote(out->opaque, sizeof(out->opaque), a->opaque);
		if (out->username[0] == '\0' || out->nonce[0] == '\0' || out->response[0] == '\0' ||
		    out->uri[0] == '\0')
			return -EINVAL;
		return 0;
	}
	return -ENOENT;
}
