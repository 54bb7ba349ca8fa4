/* txn_test_harness: the fake TU shared by the transaction layer's tests (txn_test_harness.h says
 * what it records). */
#include "txn_test_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tu_send(void *arg, const struct txn_peer *dst, const char *buf, size_t len)
{
	struct tu *tu = arg;

	(void)dst;
	if (tu->send_rc < 0)
		return tu->send_rc;
	if (tu->nsent < TU_MAX_SENDS) {
		tu->send_at[tu->nsent] = loop_now(tu->lp) - tu->t0;
		snprintf(tu->sent[tu->nsent], sizeof(tu->sent[0]), "%.*s", (int)len, buf);
	}
	snprintf(tu->last_sent, sizeof(tu->last_sent), "%.*s", (int)len, buf);
	tu->nsent++;
	return 0;
}

static char *tu_make_trying(void *arg, const char *req, size_t req_len, size_t *out_len)
{
	char *s = malloc(256); /* more room than written: the layer shrinks what it keeps */

	(void)arg;
	(void)req;
	(void)req_len;
	assert_non_null(s);
	memcpy(s, "100", 4);
	*out_len = 3;
	return s;
}

static char *tu_make_ack(void *arg, const char *req, size_t req_len, const char *resp,
			 size_t resp_len, size_t *out_len)
{
	(void)arg;
	(void)resp;
	(void)resp_len;
	/* The request is still there when the ACK is built. */
	assert_int_equal(req_len, 6);
	assert_memory_equal(req, "INVITE", 6);
	*out_len = 3;
	return strdup("ACK");
}

static void tu_request(void *arg, struct txn *st, const struct txn_msg *m, const char *buf,
		       size_t len, const struct txn_peer *src)
{
	struct tu *tu = arg;

	(void)m;
	(void)buf;
	(void)len;
	(void)src;
	tu->nreq++;
	tu->last_st = st;
	tu->last_req_stateless = st == NULL;
	if (st != NULL && tu->respond_in_request != 0)
		assert_int_equal(txn_respond(st, tu->respond_in_request, "RESP", 4), 0);
}

static void tu_response(void *arg, struct txn *ct, int status, const struct txn_msg *m,
			const char *buf, size_t len)
{
	struct tu *tu = arg;

	(void)ct;
	(void)len;
	if (!tu->count_only) {
		assert_true(tu->nresp < TU_MAX_RESP);
		tu->resp_status[tu->nresp] = status;
		tu->resp_local[tu->nresp] = m == NULL && buf == NULL;
	}
	tu->nresp++;
}

static void tu_timer_c(void *arg, struct txn *ct)
{
	(void)ct;
	((struct tu *)arg)->ntimer_c++;
}

static void tu_terminated(void *arg, struct txn *t)
{
	struct tu *tu = arg;

	tu->nterminated++;
	tu->terminated = t;
}

const struct txn_ops tu_ops = {
	.send = tu_send,
	.make_trying = tu_make_trying,
	.make_ack = tu_make_ack,
	.request = tu_request,
	.response = tu_response,
	.timer_c = tu_timer_c,
	.terminated = tu_terminated,
};

struct tu *tu_new(const struct txn_config *cfg)
{
	struct tu *tu = calloc(1, sizeof(*tu));
	struct txn_config def;

	assert_non_null(tu);
	tu->lp = loop_new();
	assert_non_null(tu->lp);
	if (cfg == NULL) {
		txn_config_default(&def);
		cfg = &def;
	}
	tu->tl = txn_layer_new(tu->lp, cfg, &tu_ops, tu);
	assert_non_null(tu->tl);
	tu->t0 = loop_now(tu->lp);
	return tu;
}

void tu_free(struct tu *tu)
{
	txn_layer_free(tu->tl);
	loop_free(tu->lp);
	free(tu);
}
