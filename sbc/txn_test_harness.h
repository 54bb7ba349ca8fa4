/* txn_test_harness: what txn_test and txn_load_test share (see txn_test_harness.c): a
 * transaction layer on a loop whose clock the test moves, and a fake TU that records what the
 * layer sends and hands it instead of sockets. */
#ifndef SBC_TXN_TEST_HARNESS_H
#define SBC_TXN_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "loop.h"
#include "txn.h"

#define TU_MAX_SENDS 64
#define TU_MAX_RESP  16

/* The fake TU. Its 100 Trying is "100", its ACK "ACK" (asserting the kept request is the
 * 6-byte "INVITE"). */
struct tu {
	struct loop *lp;
	struct txn_layer *tl;
	uint64_t t0; /* the clock when the layer was made */
	int send_rc; /* what send returns; below 0 nothing is recorded */
	unsigned long nsent, nreq, nresp, ntimer_c, nterminated;
	/* The first TU_MAX_SENDS sends: when (ms after t0) and what; and the last one. */
	uint64_t send_at[TU_MAX_SENDS];
	char sent[TU_MAX_SENDS][64];
	char last_sent[64];
	struct txn *last_st;	 /* the last request's server transaction (NULL: stateless) */
	bool last_req_stateless; /* the last request came without a transaction */
	int respond_in_request;	 /* status the TU answers with from inside the request callback */
	/* The first TU_MAX_RESP responses: status, and whether the layer made it (no message). A
	 * response past these fails the test unless count_only (then responses are only counted). */
	int resp_status[TU_MAX_RESP];
	bool resp_local[TU_MAX_RESP];
	bool count_only;
	struct txn *terminated; /* the last transaction that ended */
};

/* The fake TU's callbacks (their arg a struct tu). */
extern const struct txn_ops tu_ops;

/* A TU with its own loop and a layer configured with cfg (NULL: txn_config_default()). */
struct tu *tu_new(const struct txn_config *cfg);
void tu_free(struct tu *tu);

#endif
