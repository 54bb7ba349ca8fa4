/* sipmsg_priv: the layout of a parsed message, shared by sipmsg.c (parsing, libosip2) and
 * sipmsg_edit.c (edits, serialization, responses). Nothing outside those two files includes it. */
#ifndef SBC_SIPMSG_PRIV_H
#define SBC_SIPMSG_PRIV_H

#include "sipmsg.h"

struct osip_message;

/* One change to the original octets: delete del octets at off, insert ins there. */
struct sip_edit {
	uint32_t off, del;
	uint32_t seq; /* order of creation, for sipmsg_edit_rollback */
	char *ins;
	uint32_t ins_len;
};

struct sip_msg {
	char *buf; /* the message octets (up to the end of the body) */
	size_t len;
	enum sip_transport transport;
	struct osip_message *osip;
	bool has_sdp;
	uint32_t sdp_off, sdp_len; /* in buf */
	size_t nedits, edits_cap;
	uint32_t edit_seq;
	struct sip_edit *edits;
	/* Large: kept last. sipmsg_parse trims the allocation to sc.fields[0..sc.nfields), so sc is
	 * read-only after parsing and a sip_msg is never copied by value. */
	struct sipscan sc;
};

/* Parses "host" (maybe "[v6]") and an optional decimal port string into out (sipmsg.c). Returns
 * 0 or -EINVAL. */
int sipmsg_fill_host(const char *host, const char *port, struct sip_host *out);

/* Finds the value span of Contact element idx across all Contact headers. */
bool sipmsg_contact_elem(const struct sip_msg *m, unsigned int idx, size_t *off, size_t *len);

/* Records an edit (delete del octets at off, insert ins). Returns 0, -EBUSY on overlap, -ENOMEM. */
int sipmsg_add_edit(struct sip_msg *m, size_t off, size_t del, const char *ins, size_t ins_len);

#endif
