/* dialog: the table of confirmed dialogs the proxy record-routes (RFC 3261 §12), keyed by
 * Call-ID and both tags, with what the control socket and the media layer need to know. */
#ifndef SBC_DIALOG_H
#define SBC_DIALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "addr.h"
#include "media.h"

struct dialog_table;

/* What it takes to send an in-dialog request to one party (RFC 3261 §12.2.1.1): its remote
 * target, the real path to it (through its NAT binding), its tagged From/To header value and the
 * highest CSeq it used. */
struct dialog_party {
	char target[512];     /* the Contact URI it declared: the Request-URI */
	struct addr_port hop; /* where its messages came from / where it was reached */
	int transport;	      /* enum sip_transport */
	uint64_t conn_id;
	char nameaddr[512]; /* its From (caller) or To (callee) header value, tag included */
	uint32_t cseq;	    /* highest CSeq of its requests (0: none yet) */
};

struct dialog {
	char call_id[256];
	char from_tag[128], to_tag[128];
	char caller[128], callee[128]; /* From and To AORs */
	struct dialog_party party[2];  /* 0: caller, 1: callee */
	bool media;		       /* engaged on a dataplane */
	bool stray;   /* confirmed by a second branch's 2xx after the call was answered: its SDP was
		     * never relayed, and ending it must not release the call's media */
	bool on_hold; /* the last offer/answer put every stream on hold */
	uint64_t sdp_ms;	   /* when the last offer/answer went through */
	uint64_t hold_deadline_ms; /* a held call reported without media ends then (0: none) */
	uint64_t expire_ms; /* the dialog ends then unless an in-dialog request comes (0: never) */
	struct media_sdp last_offer, last_answer; /* the last accepted offer/answer exchange */
	uint64_t created_ms;
	struct dialog *next; /* hash chain: the table's */
};

struct dialog_table *dialog_table_new(void);
void dialog_table_free(struct dialog_table *t);

/* Records a confirmed dialog (a 2xx to an INVITE). An existing one with the same identifiers is
 * kept (2xx retransmissions). Returns 0, -ENOMEM, or -ENOSPC past the table's bound. */
int dialog_add(struct dialog_table *t, const char *call_id, size_t call_id_len,
	       const char *from_tag, const char *to_tag, const char *caller, const char *callee,
	       uint64_t now_ms);

/* Finds a dialog; the tags may come in either order (a BYE from the callee swaps them). */
struct dialog *dialog_find(struct dialog_table *t, const char *call_id, size_t call_id_len,
			   const char *tag_a, const char *tag_b);

/* Removes and frees d. */
void dialog_remove(struct dialog_table *t, struct dialog *d);

size_t dialog_count(const struct dialog_table *t);

/* Stores in out[0..max) the dialogs whose hold deadline or expiry (hold_deadline_ms, expire_ms,
 * when non-zero) is at or before now_ms. Returns how many. */
size_t dialog_collect_due(struct dialog_table *t, uint64_t now_ms, struct dialog **out, size_t max);

/* A new JSON array of {"call_id","from_tag","to_tag","caller","callee","age_s"}. */
json_t *dialog_dump(const struct dialog_table *t, uint64_t now_ms);

#endif
