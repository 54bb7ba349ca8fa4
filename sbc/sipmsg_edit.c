/* sipmsg_edit: byte-exact edits of a parsed message and its serialization. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	m->edits[pos] = (struct sip_edit){(uint32_t)off, (uint32_t)del, copy, (uint32_t)ins_len};
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

int sipmsg_set_contact(struct sip_msg *m, unsigned int idx, const struct addr_port *ap)
{
	struct siplex_span hp;
	size_t off, len;
	char text[ADDR_STRLEN];

	if (!sipmsg_contact_elem(m, idx, &off, &len) ||
	    !siplex_uri_hostport(m->buf + off, len, &hp))
		return -ENOENT;
	addr_port_format(ap, text, sizeof(text));
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
