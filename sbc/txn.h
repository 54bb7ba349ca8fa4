/* txn: the RFC 3261 §17 transaction layer of a stateful proxy — server and client transactions,
 * their matching and timers — fed with pre-parsed message facts, so it never parses SIP itself. */
#ifndef SBC_TXN_H
#define SBC_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "loop.h"
#include "sipmsg.h"

/* RFC 3261 §17.1.1.1 magic cookie: a branch starting with it is unique per transaction. */
#define TXN_BRANCH_COOKIE "z9hG4bK"

/* What the transaction layer needs from a message; the caller fills it from sipmsg. Strings are
 * NUL-terminated; empty when the message lacks the field. */
struct txn_msg {
	bool is_request;
	int status;	 /* responses: the status code */
	char method[32]; /* request method, or the CSeq method of a response */
	uint32_t cseq;	 /* CSeq number */
	char branch[128];
	/* Top Via sent-by, host without brackets; port 0 when absent. Requests only. */
	char sent_by_host[256];
	uint16_t sent_by_port;
	/* For RFC 2543 peers whose branch lacks the magic cookie (§17.2.3 fallback): Call-ID and From
	 * tag complete the key. */
	char call_id[256];
	char from_tag[128];
};

/* Where a message came from or goes to. For UDP conn_id names the local socket; for streams the
 * connection (0: any connection to addr, or a new one). */
struct txn_peer {
	struct addr_port addr;
	enum sip_transport transport;
	uint64_t conn_id;
};

/* Timer values (RFC 3261 §17.1.1.1 and Table 4). */
struct txn_config {
	uint32_t t1_ms; /* RTT estimate, 500 */
	uint32_t t2_ms; /* longest non-INVITE request / INVITE response retransmit interval, 4000 */
	uint32_t t4_ms; /* longest time a message stays in the network, 5000 */
	uint32_t timer_d_ms; /* INVITE client wait for response retransmits over UDP, >= 32000 */
	uint32_t timer_c_ms; /* proxy INVITE timer C (§16.6 step 11, > 3 min); 0 disables it */
};

struct txn;
struct txn_layer;

enum txn_state {
	TXN_STATE_CALLING,    /* INVITE client: request sent, nothing back yet */
	TXN_STATE_TRYING,     /* non-INVITE: request sent / received, nothing final */
	TXN_STATE_PROCEEDING, /* a provisional response went by */
	TXN_STATE_COMPLETED,  /* a final response (non-2xx for INVITE) went by */
	TXN_STATE_CONFIRMED,  /* INVITE server: ACK received */
	TXN_STATE_ACCEPTED,   /* INVITE: 2xx went by (RFC 6026 §7) */
	TXN_STATE_TERMINATED,
};

/* The transaction user's (the proxy core's) side. All callbacks run on the loop thread. A callback
 * may call any txn function, including on the transaction it was given. */
struct txn_ops {
	/* Sends buf to dst. Returns 0 or -errno; an error is a transport error (§17.1.4, §17.2.4). */
	int (*send)(void *arg, const struct txn_peer *dst, const char *buf, size_t len);
	/* Builds the 100 Trying for an INVITE (RFC 3261 §16.2: To, From, Call-ID, CSeq and Via copied
	 * from the request), malloc'd, or NULL. NULL callback: the TU sends its own 100. */
	char *(*make_trying)(void *arg, const char *req, size_t req_len, size_t *out_len);
	/* Builds the hop-by-hop ACK for a non-2xx final of an INVITE client transaction (RFC 3261
	 * §17.1.1.3: Request-URI, Call-ID, From, CSeq number, top Via and Route of the request, To of
	 * the response), malloc'd, or NULL when it cannot (then no ACK is sent). */
	char *(*make_ack)(void *arg, const char *req, size_t req_len, const char *resp,
			  size_t resp_len, size_t *out_len);
	/* A request for the TU. st is the new server transaction, or NULL for an ACK that matched no
	 * transaction (an ACK for a 2xx: the proxy forwards it statelessly, §16.7). */
	void (*request)(void *arg, struct txn *st, const struct txn_msg *m, const char *buf,
			size_t len, const struct txn_peer *src);
	/* A response on client transaction ct for the TU: every provisional, every final, and 2xx
	 * retransmissions in the Accepted state (RFC 6026 §7.2). m and buf are NULL for a response the
	 * layer made up: 408 on timer B/F (§17.1.1.2, §17.1.2.2) or 503 on a transport error (§16.9). */
	void (*response)(void *arg, struct txn *ct, int status, const struct txn_msg *m,
			 const char *buf, size_t len);
	/* Timer C fired on an INVITE client transaction that received a provisional response: the TU
	 * should CANCEL it (§16.8). Optional. */
	void (*timer_c)(void *arg, struct txn *ct);
	/* t is terminated and is freed when this returns: the TU drops its pointers. Optional. */
	void (*terminated)(void *arg, struct txn *t);
};

/* Counters for the control socket's "stats". */
struct txn_stats {
	uint64_t server_created, client_created;
	uint64_t retransmits_sent; /* requests and responses sent again by timers or absorption */
	uint64_t retransmits_absorbed; /* incoming retransmissions answered here, not passed up */
	uint64_t acks_absorbed;	       /* ACKs for non-2xx finals */
	uint64_t timeouts;	       /* timer B/F reported as 408 */
	uint64_t transport_errors;     /* sends that failed */
	uint64_t stray_responses;      /* responses matching no client transaction */
	uint64_t active;	       /* transactions alive now */
};

/* Result of txn_input. */
enum txn_input_result {
	TXN_INPUT_NEW,	     /* a new server transaction, passed to the TU */
	TXN_INPUT_ABSORBED,  /* a retransmission or ACK handled by an existing transaction */
	TXN_INPUT_PASSED,    /* matched a client transaction and passed to the TU */
	TXN_INPUT_STATELESS, /* matched nothing: ACK passed up with st NULL, or a stray response */
};

/* Fills cfg with the RFC 3261 defaults (T1 500 ms, T2 4 s, T4 5 s, D 32 s, C 185 s). */
void txn_config_default(struct txn_config *cfg);

/* Creates a transaction layer on lp. ops (copied) must have send, request and response. Returns
 * NULL with errno set. */
struct txn_layer *txn_layer_new(struct loop *lp, const struct txn_config *cfg,
				const struct txn_ops *ops, void *arg);

/* Ends every transaction with only the terminated upcall (no responses, nothing sent), so the TU
 * can free what it hangs on them at shutdown. The layer stays usable. */
void txn_layer_shutdown(struct txn_layer *tl);

/* Frees every transaction (no callbacks) and the layer. NULL is allowed. */
void txn_layer_free(struct txn_layer *tl);

/* Feeds one received message. Requests are matched to server transactions (§17.2.3), responses to
 * client transactions (§17.1.3). Returns an enum txn_input_result, -EINVAL for a message without
 * the facts matching needs, or -ENOMEM. buf is not kept (copied when needed). */
int txn_input(struct txn_layer *tl, const struct txn_msg *m, const char *buf, size_t len,
	      const struct txn_peer *src);

/* Starts a client transaction: sends buf (the request, with the proxy's Via whose branch is
 * m->branch) to dst and arms the timers. ACK is refused (-EINVAL: ACK has no client
 * transaction). Returns the transaction, or NULL with errno (ENOMEM, EEXIST for a branch in use,
 * or the send error: then nothing is kept and the TU treats it as a 503, §16.9). */
struct txn *txn_client_new(struct txn_layer *tl, const struct txn_msg *m, const char *buf,
			   size_t len, const struct txn_peer *dst);

/* Sends a response (status, bytes) through server transaction st and moves its state. Returns 0,
 * -EINVAL for a client or terminated transaction or a provisional after a final, or the send
 * error (the transaction is then terminated, §17.2.4). */
int txn_respond(struct txn *st, int status, const char *buf, size_t len);

/* A transport error reported later than the send (a TCP connection that could not be set up or
 * broke with bytes queued): every client transaction still waiting for a final from peer (same
 * address, port and transport) gets a local 503 and ends (§17.1.4, §16.9). Returns how many. */
unsigned int txn_peer_failed(struct txn_layer *tl, const struct txn_peer *peer);

/* The INVITE server transaction a CANCEL request refers to (same branch and sent-by, §9.2), or
 * NULL. */
struct txn *txn_cancel_target(struct txn_layer *tl, const struct txn_msg *cancel);

/* Writes a new RFC 3261 branch ("z9hG4bK" + 24 unique hex digits) into out. Returns 0 or
 * -ENOSPC. */
int txn_make_branch(struct txn_layer *tl, char *out, size_t len);

void txn_set_user(struct txn *t, void *user);
void *txn_user(const struct txn *t);
enum txn_state txn_get_state(const struct txn *t);
bool txn_is_server(const struct txn *t);
bool txn_is_invite(const struct txn *t);
/* The request's source (server) or destination (client). */
const struct txn_peer *txn_peer(const struct txn *t);
/* The request bytes of a client transaction still waiting for a final response (the TU builds
 * CANCEL from them), or NULL: once a final arrived the request is not sent again and is freed. */
const char *txn_request(const struct txn *t, size_t *len);
/* The last status sent (server) or received (client), 0 when none. */
int txn_last_status(const struct txn *t);

void txn_stats_get(const struct txn_layer *tl, struct txn_stats *out);

/* The transaction table's size: its bucket count and, while the table grows by incremental
 * rehash, how many old buckets are still to move (0 otherwise). For tests and diagnostics. */
void txn_layer_table_info(const struct txn_layer *tl, size_t *buckets, size_t *rehash_left);

#endif
