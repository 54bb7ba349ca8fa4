/* txn_priv: the transaction layer's shared layout and internal functions, for txn.c (server and
 * client transactions, the layer), txn_table.c (keys and the hash table) and txn_timer.c (life
 * cycle and timers). */
#ifndef SBC_TXN_PRIV_H
#define SBC_TXN_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "txn.h"

/* One transaction, kept small: a proxy holds several per call for 32 s after they complete
 * (RFC 3261 timers J, D and RFC 6026's L and M), so every byte here counts tens of thousands of
 * times under load. */
struct txn {
	struct txn_layer *tl;
	struct txn *hnext; /* hash chain */
	uint32_t hash;
	uint8_t state; /* enum txn_state */
	bool server : 1, invite : 1;
	bool c_fired : 1; /* the guard after timer C is running on t_end */
	uint16_t hold;	  /* callers inside the layer working on this transaction */
	struct txn_peer peer;
	/* The only message bytes kept, and only while they can be sent again:
	 * - client, until a final arrives: the request, resent by timers A/E (and read by the TU to
	 *   build a CANCEL);
	 * - client INVITE, Completed: the ACK for the non-2xx final, resent when the final is
	 *   retransmitted (the request is freed then);
	 * - server, Proceeding/Trying/Completed: the last response, resent on request
	 *   retransmissions and by timer G; freed in Accepted and Confirmed, which resend nothing. */
	char *buf;
	uint32_t buf_len;
	int16_t last_status;
	uint32_t retx_ms; /* current A/E/G interval */
	/* A, E or G; on an INVITE client in Proceeding, timer C (A is over by then). */
	struct loop_timer t_retx;
	struct loop_timer t_end; /* B, F, H (timeouts), D, I, J, K, L, M (lingering) */
	void *user;
	uint16_t key_len;
	char key[]; /* "S|..." or "C|...": see txn_server_key */
};

/* The table of live transactions: chained hashing whose bucket array doubles by incremental
 * rehash, so no single operation copies the whole table. While old is set, old buckets
 * [0, moved) have been moved to cur and the others are still read in place; new entries always
 * go to cur. */
struct txn_table {
	struct txn **cur;
	size_t ncur; /* power of two */
	struct txn **old;
	size_t nold;
	size_t moved;
	size_t count;
};

struct txn_layer {
	struct loop *lp;
	struct txn_config cfg;
	struct txn_ops ops;
	void *arg;
	struct txn_table table;
	uint32_t branch_salt;
	uint64_t branch_seq;
	struct txn_stats stats;
};

/* Longest key: prefix, method, the RFC 2543 fields and sent-by, with separators. */
#define TXN_KEY_MAX                                                                          \
	(8 + sizeof(((struct txn_msg *)0)->method) + sizeof(((struct txn_msg *)0)->branch) + \
	 sizeof(((struct txn_msg *)0)->call_id) + sizeof(((struct txn_msg *)0)->from_tag) +  \
	 sizeof(((struct txn_msg *)0)->sent_by_host) + 32)

/* txn_table.c: keys (length returned, 0 when the facts are missing) and the table. */
bool txn_has_cookie(const char *branch);
size_t txn_server_key(const struct txn_msg *m, const char *method, char *key);
size_t txn_client_key(const struct txn_msg *m, char *key);
uint32_t txn_key_hash(const char *key, size_t len);
int txn_table_init(struct txn_table *tb, size_t nbuckets);
void txn_table_free(struct txn_table *tb);
struct txn *txn_table_find(const struct txn_table *tb, const char *key, size_t len);
void txn_table_insert(struct txn_layer *tl, struct txn *t);
void txn_table_remove(struct txn_layer *tl, struct txn *t);
/* Ends a running rehash at once (shutdown and tear-down walk cur alone). */
void txn_table_settle(struct txn_table *tb);
/* The first transaction for which match returns true (any, when match is NULL), or NULL. */
struct txn *txn_table_first(const struct txn_table *tb, bool (*match)(const struct txn *, void *),
			    void *arg);

/* Writes up to max transactions for which match returns true to out; returns how many. */
size_t txn_table_collect(const struct txn_table *tb, bool (*match)(const struct txn *, void *),
			 void *arg, struct txn **out, size_t max);

/* txn_timer.c: life cycle and timers. */
struct txn *txn_alloc(struct txn_layer *tl, const char *key, size_t key_len, bool server,
		      bool invite, const struct txn_peer *peer);
void txn_destroy(struct txn *t);
void txn_terminate(struct txn *t);
void txn_hold(struct txn *t);
void txn_release(struct txn *t);
void txn_arm(struct txn *t, struct loop_timer *timer, uint64_t ms);
int txn_send_bytes(struct txn *t, const char *buf, size_t len);
/* Replaces the kept bytes with buf (owned from now on; NULL drops them). */
void txn_keep(struct txn *t, char *buf, size_t len);
void txn_client_fail(struct txn *t, int status);

static inline bool txn_reliable(const struct txn *t)
{
	return t->peer.transport != SIP_TRANSPORT_UDP;
}

static inline uint64_t txn_t64(const struct txn_layer *tl)
{
	return 64u * (uint64_t)tl->cfg.t1_ms;
}

#endif
