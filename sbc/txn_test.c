/* txn_test: unit tests for the transaction layer — every timer path on a fake clock, absorption of
 * retransmissions, ACK handling and CANCEL matching, with the recording TU of txn_test_harness.c
 * instead of sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "txn_test_harness.h"

/* Moves the fake clock to t0 + ms, one millisecond at a time so every timer fires on time. */
static void at(struct tu *tu, uint64_t ms)
{
	for (uint64_t now = loop_now(tu->lp); now <= tu->t0 + ms; now++)
		loop_advance(tu->lp, now);
}

static struct txn_msg req(const char *method, const char *branch)
{
	struct txn_msg m;

	memset(&m, 0, sizeof(m));
	m.is_request = true;
	snprintf(m.method, sizeof(m.method), "%s", method);
	snprintf(m.branch, sizeof(m.branch), "%s", branch);
	snprintf(m.sent_by_host, sizeof(m.sent_by_host), "192.168.1.10");
	m.sent_by_port = 27910;
	snprintf(m.call_id, sizeof(m.call_id), "call-1");
	snprintf(m.from_tag, sizeof(m.from_tag), "ft1");
	m.cseq = 1;
	return m;
}

static struct txn_msg resp(int status, const char *method, const char *branch)
{
	struct txn_msg m;

	memset(&m, 0, sizeof(m));
	m.status = status;
	snprintf(m.method, sizeof(m.method), "%s", method);
	snprintf(m.branch, sizeof(m.branch), "%s", branch);
	return m;
}

static const struct txn_peer udp_peer = {.transport = SIP_TRANSPORT_UDP};
static const struct txn_peer tcp_peer = {.transport = SIP_TRANSPORT_TCP, .conn_id = 7};

static void input_req(struct tu *tu, const char *method, const char *branch,
		      const struct txn_peer *p, int expect)
{
	struct txn_msg m = req(method, branch);

	assert_int_equal(txn_input(tu->tl, &m, method, strlen(method), p), expect);
}

static void input_resp(struct tu *tu, int status, const char *method, const char *branch,
		       int expect)
{
	struct txn_msg m = resp(status, method, branch);

	assert_int_equal(txn_input(tu->tl, &m, "RESP", 4, &udp_peer), expect);
}

/* ---- server INVITE ---- */

static void test_server_invite_trying_and_absorb(void **state)
{
	struct tu *tu = tu_new(NULL);
	struct txn *st;

	(void)state;
	input_req(tu, "INVITE", "z9hG4bKa1", &udp_peer, TXN_INPUT_NEW);
	/* 100 Trying went out before the TU saw the request (§16.2). */
	assert_int_equal(tu->nsent, 1);
	assert_string_equal(tu->sent[0], "100");
	assert_int_equal(tu->nreq, 1);
	st = tu->last_st;
	assert_non_null(st);
	assert_true(txn_is_server(st) && txn_is_invite(st));
	assert_int_equal(txn_get_state(st), TXN_STATE_PROCEEDING);
	/* A retransmitted INVITE is absorbed and answered with the last provisional. */
	input_req(tu, "INVITE", "z9hG4bKa1", &udp_peer, TXN_INPUT_ABSORBED);
	assert_int_equal(tu->nreq, 1);
	assert_int_equal(tu->nsent, 2);
	assert_string_equal(tu->sent[1], "100");
	assert_int_equal(txn_respond(st, 180, "180", 3), 0);
	input_req(tu, "INVITE", "z9hG4bKa1", &udp_peer, TXN_INPUT_ABSORBED);
	assert_string_equal(tu->sent[3], "180");
	/* Same branch, other sent-by: another transaction. */
	struct txn_msg m = req("INVITE", "z9hG4bKa1");

	m.sent_by_port = 5060;
	assert_int_equal(txn_input(tu->tl, &m, "INVITE", 6, &udp_peer), TXN_INPUT_NEW);
	assert_int_equal(tu->nreq, 2);
	/* The host compares case-insensitively (RFC 3261 §19.1.4). */
	m = req("INVITE", "z9hG4bKb1");
	snprintf(m.sent_by_host, sizeof(m.sent_by_host), "PC.Example.COM");
	assert_int_equal(txn_input(tu->tl, &m, "INVITE", 6, &udp_peer), TXN_INPUT_NEW);
	snprintf(m.sent_by_host, sizeof(m.sent_by_host), "pc.example.com");
	assert_int_equal(txn_input(tu->tl, &m, "INVITE", 6, &udp_peer), TXN_INPUT_ABSORBED);
	/* A provisional after the final is refused. */
	assert_int_equal(txn_respond(st, 486, "486", 3), 0);
	assert_int_equal(txn_respond(st, 180, "180", 3), -EINVAL);
	struct txn_stats s;

	txn_stats_get(tu->tl, &s);
	assert_int_equal(s.server_created, 3);
	assert_int_equal(s.retransmits_absorbed, 3);
	assert_int_equal(s.active, 3);
	tu_free(tu);
}

static void test_server_invite_timer_g_h(void **state)
{
	struct tu *tu = tu_new(NULL);
	static const uint64_t g[] = {500,   1500,  3500,  7500,	 11500,
				     15500, 19500, 23500, 27500, 31500};
	struct txn *st;

	(void)state;
	input_req(tu, "INVITE", "z9hG4bKg", &udp_peer, TXN_INPUT_NEW);
	st = tu->last_st;
	tu->nsent = 0;
	assert_int_equal(txn_respond(st, 486, "486", 3), 0);
	assert_int_equal(txn_get_state(st), TXN_STATE_COMPLETED);
	/* Timer G: T1, doubling up to T2; timer H ends it at 64*T1 without an ACK. */
	at(tu, 31999);
	assert_int_equal(tu->nsent, 1 + 10);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(tu->send_at[i + 1], g[i]);
		assert_string_equal(tu->sent[i + 1], "486");
	}
	assert_int_equal(tu->nterminated, 0);
	at(tu, 32000);
	assert_int_equal(tu->nterminated, 1);
	assert_ptr_equal(tu->terminated, st);
	/* Once gone, the INVITE would be a new transaction. */
	input_req(tu, "INVITE", "z9hG4bKg", &udp_peer, TXN_INPUT_NEW);
	tu_free(tu);
}

static void test_server_invite_ack(void **state)
{
	struct tu *tu = tu_new(NULL);
	struct txn *st;

	(void)state;
	input_req(tu, "INVITE", "z9hG4bKack", &udp_peer, TXN_INPUT_NEW);
	st = tu->last_st;
	assert_int_equal(txn_respond(st, 404, "404", 3), 0);
	at(tu, 600); /* one G retransmission */
	assert_int_equal(tu->nsent, 3);
	/* The ACK for the non-2xx is absorbed: Confirmed, G stops, timer I runs T4. */
	input_req(tu, "ACK", "z9hG4bKack", &udp_peer, TXN_INPUT_ABSORBED);
	assert_int_equal(tu->nreq, 1);
	assert_int_equal(txn_get_state(st), TXN_STATE_CONFIRMED);
	input_req(tu, "ACK", "z9hG4bKack", &udp_peer, TXN_INPUT_ABSORBED);
	input_req(tu, "INVITE", "z9hG4bKack", &udp_peer, TXN_INPUT_ABSORBED);
	at(tu, 5599);
	assert_int_equal(tu->nsent, 3);
	assert_int_equal(tu->nterminated, 0);
	at(tu, 5600);
	assert_int_equal(tu->nterminated, 1);
	/* An ACK matching nothing (an ACK for a 2xx) goes to the TU without a transaction. */
	input_req(tu, "ACK", "z9hG4bKother", &udp_peer, TXN_INPUT_STATELESS);
	assert_int_equal(tu->nreq, 2);
	assert_true(tu->last_req_stateless);
	struct txn_stats s;

	txn_stats_get(tu->tl, &s);
	assert_int_equal(s.acks_absorbed, 2);
	assert_int_equal(s.active, 0);
	tu_free(tu);
}

static void test_server_invite_tcp(void **state)
{
	struct tu *tu = tu_new(NULL);
	struct txn *st;

	(void)state;
	input_req(tu, "INVITE", "z9hG4bKtcp", &tcp_peer, TXN_INPUT_NEW);
	st = tu->last_st;
	assert_int_equal(txn_respond(st, 603, "603", 3), 0);
	/* No G over a stream; H still guards the ACK; I is zero. */
	at(tu, 10000);
	assert_int_equal(tu->nsent, 2);
	input_req(tu, "ACK", "z9hG4bKtcp", &tcp_peer, TXN_INPUT_ABSORBED);
	assert_int_equal(tu->nterminated, 0);
	at(tu, 10001);
	assert_int_equal(tu->nterminated, 1);
	/* Without the ACK, H (64*T1) ends it. */
	input_req(tu, "INVITE", "z9hG4bKtcp2", &tcp_peer, TXN_INPUT_NEW);
	assert_int_equal(txn_respond(tu->last_st, 603, "603", 3), 0);
	at(tu, 10001 + 31999);
	assert_int_equal(tu->nterminated, 1);
	at(tu, 10001 + 32000);
	assert_int_equal(tu->nterminated, 2);
	tu_free(tu);
}

static void test_server_invite_2xx_accepted(void **state)
{
	struct tu *tu = tu_new(NULL);
	struct txn *st;

	(void)state;
	input_req(tu, "INVITE", "z9hG4bKok", &udp_peer, TXN_INPUT_NEW);
	st = tu->last_st;
	assert_int_equal(txn_respond(st, 200, "200", 3), 0);
	assert_int_equal(txn_get_state(st), TXN_STATE_ACCEPTED);
	assert_int_equal(tu->nsent, 2);
	/* RFC 6026: INVITE retransmissions are absorbed silently; 2xx copies from downstream pass. */
	input_req(tu, "INVITE", "z9hG4bKok", &udp_peer, TXN_INPUT_ABSORBED);
	assert_int_equal(tu->nsent, 2);
	at(tu, 1000);
	assert_int_equal(tu->nsent, 2);
	assert_int_equal(txn_respond(st, 200, "200", 3), 0);
	assert_int_equal(tu->nsent, 3);
	assert_int_equal(txn_respond(st, 486, "486", 3), -EINVAL);
	/* The ACK for the 2xx is end to end: the TU forwards it. */
	input_req(tu, "ACK", "z9hG4bKok", &udp_peer, TXN_INPUT_STATELESS);
	assert_int_equal(tu->nreq, 2);
	/* Timer L, 64*T1 after the 2xx. */
	at(tu, 31999);
	assert_int_equal(tu->nterminated, 0);
	at(tu, 32000);
	assert_int_equal(tu->nterminated, 1);
	tu_free(tu);
}

/* ---- server non-INVITE ---- */

static void test_server_non_invite(void **state)
{
	struct tu *tu = tu_new(NULL);
	struct txn *st;

	(void)state;
	input_req(tu, "REGISTER", "z9hG4bKreg", &udp_peer, TXN_INPUT_NEW);
	st = tu->last_st;
	/* No 100 for non-INVITE; retransmissions in Trying are absorbed without a reply. */
	assert_int_equal(tu->nsent, 0);
	assert_int_equal(txn_get_state(st), TXN_STATE_TRYING);
	input_req(tu, "REGISTER", "z9hG4bKreg", &udp_peer, TXN_INPUT_ABSORBED);
	assert_int_equal(tu->nsent, 0);
	assert_int_equal(txn_respond(st, 200, "200", 3), 0);
	assert_int_equal(txn_get_state(st), TXN_STATE_COMPLETED);
	input_req(tu, "REGISTER", "z9hG4bKreg", &udp_peer, TXN_INPUT_ABSORBED);
	assert_int_equal(tu->nsent, 2);
	assert_string_equal(tu->sent[1], "200");
	assert_int_equal(txn_respond(st, 200, "200", 3), -EINVAL);
	/* Timer J: 64*T1 over UDP. */
	at(tu, 31999);
	assert_int_equal(tu->nterminated, 0);
	at(tu, 32000);
	assert_int_equal(tu->nterminated, 1);
	/* Over TCP J is zero; a TU may answer from inside the request callback. */
	tu->respond_in_request = 401;
	input_req(tu, "REGISTER", "z9hG4bKreg2", &tcp_peer, TXN_INPUT_NEW);
	assert_int_equal(tu->nsent, 3);
	assert_int_equal(tu->nterminated, 1);
	at(tu, 32001);
	assert_int_equal(tu->nterminated, 2);
	tu_free(tu);
}

/* ---- CANCEL and RFC 2543 matching ---- */

static void test_cancel_matching(void **state)
{
	struct tu *tu = tu_new(NULL);
	struct txn *inv, *cst;
	struct txn_msg c;

	(void)state;
	input_req(tu, "INVITE", "z9hG4bKc1", &udp_peer, TXN_INPUT_NEW);
	inv = tu->last_st;
	/* The CANCEL is a transaction of its own (its method is part of the key)... */
	input_req(tu, "CANCEL", "z9hG4bKc1", &udp_peer, TXN_INPUT_NEW);
	cst = tu->last_st;
	assert_ptr_not_equal(cst, inv);
	assert_false(txn_is_invite(cst));
	/* ...that finds the INVITE it cancels by branch and sent-by (§9.2). */
	c = req("CANCEL", "z9hG4bKc1");
	assert_ptr_equal(txn_cancel_target(tu->tl, &c), inv);
	c = req("CANCEL", "z9hG4bKc2");
	assert_null(txn_cancel_target(tu->tl, &c));
	c = req("CANCEL", "z9hG4bKc1");
	c.sent_by_port = 5060;
	assert_null(txn_cancel_target(tu->tl, &c));
	/* A CANCEL for a non-INVITE server transaction finds nothing. */
	input_req(tu, "OPTIONS", "z9hG4bKopt", &udp_peer, TXN_INPUT_NEW);
	c = req("CANCEL", "z9hG4bKopt");
	assert_null(txn_cancel_target(tu->tl, &c));
	assert_int_equal(txn_respond(cst, 200, "200", 3), 0);
	assert_int_equal(txn_respond(inv, 487, "487", 3), 0);
	assert_int_equal(txn_get_state(inv), TXN_STATE_COMPLETED);
	tu_free(tu);
}

static void test_rfc2543_matching(void **state)
{
	struct tu *tu = tu_new(NULL);
	struct txn_msg m = req("INVITE", "");
	struct txn *inv;

	(void)state;
	assert_int_equal(txn_input(tu->tl, &m, "INVITE", 6, &udp_peer), TXN_INPUT_NEW);
	inv = tu->last_st;
	/* Old-style branch ("1" here) or none: Call-ID, From tag, CSeq and sent-by match. */
	assert_int_equal(txn_input(tu->tl, &m, "INVITE", 6, &udp_peer), TXN_INPUT_ABSORBED);
	m.cseq = 2;
	assert_int_equal(txn_input(tu->tl, &m, "INVITE", 6, &udp_peer), TXN_INPUT_NEW);
	m.cseq = 1;
	struct txn_msg c = m;

	snprintf(c.method, sizeof(c.method), "CANCEL");
	assert_ptr_equal(txn_cancel_target(tu->tl, &c), inv);
	assert_int_equal(txn_respond(inv, 480, "480", 3), 0);
	struct txn_msg a = m;

	snprintf(a.method, sizeof(a.method), "ACK");
	assert_int_equal(txn_input(tu->tl, &a, "ACK", 3, &udp_peer), TXN_INPUT_ABSORBED);
	assert_int_equal(txn_get_state(inv), TXN_STATE_CONFIRMED);
	/* Without a cookie and without Call-ID nothing can be matched. */
	m.call_id[0] = '\0';
	assert_int_equal(txn_input(tu->tl, &m, "INVITE", 6, &udp_peer), -EINVAL);
	m = req("INVITE", "z9hG4bKx");
	m.sent_by_host[0] = '\0';
	assert_int_equal(txn_input(tu->tl, &m, "INVITE", 6, &udp_peer), -EINVAL);
	tu_free(tu);
}

/* ---- client INVITE ---- */

static struct txn *client(struct tu *tu, const char *method, const char *branch,
			  const struct txn_peer *p)
{
	struct txn_msg m = req(method, branch);
	struct txn *ct = txn_client_new(tu->tl, &m, method, strlen(method), p);

	assert_non_null(ct);
	return ct;
}

static void test_client_invite_timer_a_b(void **state)
{
	struct tu *tu = tu_new(NULL);
	static const uint64_t a[] = {0, 500, 1500, 3500, 7500, 15500, 31500};
	struct txn *ct;

	(void)state;
	ct = client(tu, "INVITE", "z9hG4bKca", &udp_peer);
	assert_int_equal(txn_get_state(ct), TXN_STATE_CALLING);
	/* Timer A doubles without the T2 cap; timer B gives up at 64*T1 with a local 408. */
	at(tu, 31999);
	assert_int_equal(tu->nsent, 7);
	for (int i = 0; i < 7; i++)
		assert_int_equal(tu->send_at[i], a[i]);
	assert_int_equal(tu->nresp, 0);
	at(tu, 32000);
	assert_int_equal(tu->nresp, 1);
	assert_int_equal(tu->resp_status[0], 408);
	assert_true(tu->resp_local[0]);
	assert_int_equal(tu->nterminated, 1);
	struct txn_stats s;

	txn_stats_get(tu->tl, &s);
	assert_int_equal(s.timeouts, 1);
	assert_int_equal(s.retransmits_sent, 6);
	/* A late response matches nothing. */
	input_resp(tu, 180, "INVITE", "z9hG4bKca", TXN_INPUT_STATELESS);
	tu_free(tu);
}

static void test_client_invite_provisional_timer_c(void **state)
{
	struct tu *tu = tu_new(NULL);
	struct txn *ct;

	(void)state;
	ct = client(tu, "INVITE", "z9hG4bKcc", &udp_peer);
	at(tu, 600);
	assert_int_equal(tu->nsent, 2);
	input_resp(tu, 100, "INVITE", "z9hG4bKcc", TXN_INPUT_PASSED);
	assert_int_equal(txn_get_state(ct), TXN_STATE_PROCEEDING);
	/* A provisional stops A and B: no retransmission, no 408 at 32 s. */
	at(tu, 100000);
	assert_int_equal(tu->nsent, 2);
	assert_int_equal(tu->nresp, 1);
	/* A 180 restarts timer C (§16.7 step 2): C fires 185 s after it. */
	input_resp(tu, 180, "INVITE", "z9hG4bKcc", TXN_INPUT_PASSED);
	at(tu, 100000 + 184999);
	assert_int_equal(tu->ntimer_c, 0);
	at(tu, 100000 + 185000);
	assert_int_equal(tu->ntimer_c, 1);
	/* The branch never answers the CANCEL: given up 64*T1 later as a 408. */
	at(tu, 285000 + 31999);
	assert_int_equal(tu->nresp, 2);
	at(tu, 285000 + 32000);
	assert_int_equal(tu->nresp, 3);
	assert_int_equal(tu->resp_status[2], 408);
	assert_true(tu->resp_local[2]);
	assert_int_equal(tu->nterminated, 1);
	tu_free(tu);
}

static void test_client_invite_cancelled_487(void **state)
{
	struct tu *tu = tu_new(NULL);
	struct txn *ct;

	(void)state;
	ct = client(tu, "INVITE", "z9hG4bKcx", &udp_peer);
	input_resp(tu, 180, "INVITE", "z9hG4bKcx", TXN_INPUT_PASSED);
	at(tu, 185000);
	assert_int_equal(tu->ntimer_c, 1);
	/* The CANCEL worked: 487 arrives before the guard; it is ACKed and passed up once. */
	input_resp(tu, 487, "INVITE", "z9hG4bKcx", TXN_INPUT_PASSED);
	assert_int_equal(txn_get_state(ct), TXN_STATE_COMPLETED);
	assert_string_equal(tu->sent[tu->nsent - 1], "ACK");
	assert_int_equal(tu->resp_status[tu->nresp - 1], 487);
	at(tu, 185000 + 40000);
	assert_int_equal(tu->nterminated, 1);
	assert_int_equal(tu->nresp, 2);
	tu_free(tu);
}

static void test_client_invite_non2xx_ack_timer_d(void **state)
{
	struct tu *tu = tu_new(NULL);
	struct txn *ct;
	size_t len;

	(void)state;
	ct = client(tu, "INVITE", "z9hG4bKcd", &udp_peer);
	assert_memory_equal(txn_request(ct, &len), "INVITE", 6);
	input_resp(tu, 486, "INVITE", "z9hG4bKcd", TXN_INPUT_PASSED);
	assert_int_equal(txn_last_status(ct), 486);
	/* §17.1.1.3: the layer sent the ACK itself; the TU saw the 486 once. */
	assert_int_equal(tu->nsent, 2);
	assert_string_equal(tu->sent[1], "ACK");
	assert_int_equal(tu->nresp, 1);
	assert_false(tu->resp_local[0]);
	/* A retransmitted 486 gets the same ACK and is not passed up. */
	at(tu, 1000);
	input_resp(tu, 486, "INVITE", "z9hG4bKcd", TXN_INPUT_ABSORBED);
	assert_int_equal(tu->nsent, 3);
	assert_string_equal(tu->sent[2], "ACK");
	assert_int_equal(tu->nresp, 1);
	/* No more INVITE retransmissions; timer D (32 s) ends it. */
	at(tu, 31999);
	assert_int_equal(tu->nsent, 3);
	assert_int_equal(tu->nterminated, 0);
	at(tu, 32000);
	assert_int_equal(tu->nterminated, 1);
	/* Over TCP: no timer A and D is zero. */
	ct = client(tu, "INVITE", "z9hG4bKcd2", &tcp_peer);
	at(tu, 40000);
	assert_int_equal(tu->nsent, 4);
	input_resp(tu, 503, "INVITE", "z9hG4bKcd2", TXN_INPUT_PASSED);
	assert_int_equal(tu->nsent, 5);
	at(tu, 40001);
	assert_int_equal(tu->nterminated, 2);
	tu_free(tu);
}

static void test_client_invite_2xx_accepted(void **state)
{
	struct tu *tu = tu_new(NULL);
	struct txn *ct;

	(void)state;
	ct = client(tu, "INVITE", "z9hG4bKok", &udp_peer);
	input_resp(tu, 200, "INVITE", "z9hG4bKok", TXN_INPUT_PASSED);
	assert_int_equal(txn_get_state(ct), TXN_STATE_ACCEPTED);
	/* No ACK from the layer for a 2xx (end to end), and 2xx copies go up (RFC 6026 §7.2). */
	assert_int_equal(tu->nsent, 1);
	input_resp(tu, 200, "INVITE", "z9hG4bKok", TXN_INPUT_PASSED);
	assert_int_equal(tu->nresp, 2);
	input_resp(tu, 180, "INVITE", "z9hG4bKok", TXN_INPUT_ABSORBED);
	at(tu, 31999);
	assert_int_equal(tu->nsent, 1);
	assert_int_equal(tu->nterminated, 0);
	at(tu, 32000); /* timer M */
	assert_int_equal(tu->nterminated, 1);
	tu_free(tu);
}

/* ---- client non-INVITE ---- */

static void test_client_non_invite_timer_e_f(void **state)
{
	struct tu *tu = tu_new(NULL);
	static const uint64_t e[] = {0,	    500,   1500,  3500,	 7500, 11500,
				     15500, 19500, 23500, 27500, 31500};

	(void)state;
	client(tu, "OPTIONS", "z9hG4bKe", &udp_peer);
	/* Timer E doubles up to T2; timer F gives up at 64*T1. */
	at(tu, 31999);
	assert_int_equal(tu->nsent, 11);
	for (int i = 0; i < 11; i++)
		assert_int_equal(tu->send_at[i], e[i]);
	at(tu, 32000);
	assert_int_equal(tu->nresp, 1);
	assert_int_equal(tu->resp_status[0], 408);
	assert_true(tu->resp_local[0]);
	assert_int_equal(tu->nterminated, 1);
	tu_free(tu);
}

static void test_client_non_invite_proceeding_k(void **state)
{
	struct tu *tu = tu_new(NULL);
	struct txn *ct;

	(void)state;
	ct = client(tu, "BYE", "z9hG4bKk", &udp_peer);
	at(tu, 600); /* sends at 0 and 500; next E due at 1500 */
	input_resp(tu, 100, "BYE", "z9hG4bKk", TXN_INPUT_PASSED);
	assert_int_equal(txn_get_state(ct), TXN_STATE_PROCEEDING);
	/* In Proceeding E keeps its pending time (1500), then runs every T2. */
	at(tu, 9499);
	assert_int_equal(tu->nsent, 4);
	assert_int_equal(tu->send_at[2], 1500);
	assert_int_equal(tu->send_at[3], 5500);
	at(tu, 9500);
	assert_int_equal(tu->nsent, 5);
	/* A response with another CSeq method does not match (§17.1.3). */
	input_resp(tu, 200, "INVITE", "z9hG4bKk", TXN_INPUT_STATELESS);
	input_resp(tu, 200, "BYE", "z9hG4bKk", TXN_INPUT_PASSED);
	assert_int_equal(txn_get_state(ct), TXN_STATE_COMPLETED);
	input_resp(tu, 200, "BYE", "z9hG4bKk", TXN_INPUT_ABSORBED);
	assert_int_equal(tu->nresp, 2);
	/* Timer K: T4 over UDP, no retransmission meanwhile. */
	at(tu, 9500 + 4999);
	assert_int_equal(tu->nsent, 5);
	assert_int_equal(tu->nterminated, 0);
	at(tu, 9500 + 5000);
	assert_int_equal(tu->nterminated, 1);
	struct txn_stats s;

	txn_stats_get(tu->tl, &s);
	assert_int_equal(s.stray_responses, 1);
	tu_free(tu);
}

/* ---- errors, configuration, branches ---- */

static void test_transport_errors(void **state)
{
	struct tu *tu = tu_new(NULL);
	struct txn_msg m = req("INVITE", "z9hG4bKerr");
	struct txn *st;

	(void)state;
	/* The first send fails: no transaction, the error goes back to the caller. */
	tu->send_rc = -EHOSTUNREACH;
	assert_null(txn_client_new(tu->tl, &m, "INVITE", 6, &udp_peer));
	assert_int_equal(errno, EHOSTUNREACH);
	/* A retransmission fails: the TU gets a 503 (§16.9) and the transaction ends. */
	tu->send_rc = 0;
	client(tu, "INVITE", "z9hG4bKerr", &udp_peer);
	tu->send_rc = -ENETUNREACH;
	at(tu, 500);
	assert_int_equal(tu->nresp, 1);
	assert_int_equal(tu->resp_status[0], 503);
	assert_true(tu->resp_local[0]);
	assert_int_equal(tu->nterminated, 1);
	/* A response that cannot be sent ends the server transaction (§17.2.4). */
	tu->send_rc = 0;
	input_req(tu, "INVITE", "z9hG4bKserr", &udp_peer, TXN_INPUT_NEW);
	st = tu->last_st;
	tu->send_rc = -EPIPE;
	assert_int_equal(txn_respond(st, 486, "486", 3), -EPIPE);
	assert_int_equal(tu->nterminated, 2);
	struct txn_stats s;

	txn_stats_get(tu->tl, &s);
	assert_int_equal(s.transport_errors, 3);
	assert_int_equal(s.active, 0);
	tu_free(tu);
}

static void test_peer_failed(void **state)
{
	struct tu *tu = tu_new(NULL);
	struct txn_peer a = tcp_peer, b = tcp_peer;
	struct txn *done;

	(void)state;
	assert_int_equal(addr_port_parse("192.0.2.1:5060", &a.addr), 0);
	assert_int_equal(addr_port_parse("192.0.2.1:5070", &b.addr), 0);
	client(tu, "INVITE", "z9hG4bKp1", &a);
	client(tu, "OPTIONS", "z9hG4bKp2", &a);
	client(tu, "INVITE", "z9hG4bKp3", &b);
	done = client(tu, "BYE", "z9hG4bKp4", &a);
	input_resp(tu, 200, "BYE", "z9hG4bKp4", TXN_INPUT_PASSED);
	assert_int_equal(txn_get_state(done), TXN_STATE_COMPLETED);
	/* The connection to a broke: its two pending transactions get a 503, the rest stay. */
	assert_int_equal(txn_peer_failed(tu->tl, &a), 2);
	assert_int_equal(tu->nresp, 3);
	assert_int_equal(tu->resp_status[1], 503);
	assert_int_equal(tu->resp_status[2], 503);
	assert_true(tu->resp_local[1] && tu->resp_local[2]);
	assert_int_equal(tu->nterminated, 2);
	assert_int_equal(txn_peer_failed(tu->tl, &a), 0);
	tu_free(tu);
}

static void test_shutdown(void **state)
{
	struct tu *tu = tu_new(NULL);
	struct txn_stats s;
	char b[64];

	(void)state;
	for (int i = 0; i < 300; i++) {
		assert_int_equal(txn_make_branch(tu->tl, b, sizeof(b)), 0);
		client(tu, i % 2 ? "INVITE" : "OPTIONS", b, &udp_peer);
	}
	input_req(tu, "INVITE", "z9hG4bKs", &udp_peer, TXN_INPUT_NEW);
	tu->nsent = 0;
	/* Every transaction ends with only the terminated upcall: nothing sent, no 408s. */
	txn_layer_shutdown(tu->tl);
	assert_int_equal(tu->nterminated, 301);
	assert_int_equal(tu->nresp, 0);
	assert_int_equal(tu->nsent, 0);
	txn_stats_get(tu->tl, &s);
	assert_int_equal(s.active, 0);
	at(tu, 100000);
	assert_int_equal(tu->nsent, 0);
	tu_free(tu);
}

static void test_config_and_branches(void **state)
{
	struct txn_config cfg;
	struct tu *tu;
	struct txn_msg m;
	char b1[64], b2[64], small[8];

	(void)state;
	txn_config_default(&cfg);
	assert_int_equal(cfg.t1_ms, 500);
	assert_int_equal(cfg.t2_ms, 4000);
	assert_int_equal(cfg.t4_ms, 5000);
	assert_true(cfg.timer_c_ms > 180000);
	/* Shorter timers for a LAN: E doubles 100, 200, 400 and stays at T2 = 400. */
	cfg.t1_ms = 100;
	cfg.t2_ms = 400;
	tu = tu_new(&cfg);
	client(tu, "MESSAGE", "z9hG4bKcfg", &udp_peer);
	at(tu, 2000);
	assert_int_equal(tu->send_at[1], 100);
	assert_int_equal(tu->send_at[2], 300);
	assert_int_equal(tu->send_at[3], 700);
	assert_int_equal(tu->send_at[4], 1100);
	assert_int_equal(tu->nresp, 0);
	at(tu, 6400); /* F = 64 * 100 */
	assert_int_equal(tu->nresp, 1);
	/* Branches carry the cookie and differ; a duplicate client branch and ACK are refused. */
	assert_int_equal(txn_make_branch(tu->tl, b1, sizeof(b1)), 0);
	assert_int_equal(txn_make_branch(tu->tl, b2, sizeof(b2)), 0);
	assert_int_equal(strncmp(b1, "z9hG4bK", 7), 0);
	assert_int_equal(strlen(b1), 7 + 24);
	assert_string_not_equal(b1, b2);
	assert_int_equal(txn_make_branch(tu->tl, small, sizeof(small)), -ENOSPC);
	client(tu, "INVITE", b1, &udp_peer);
	m = req("INVITE", b1);
	assert_null(txn_client_new(tu->tl, &m, "INVITE", 6, &udp_peer));
	assert_int_equal(errno, EEXIST);
	m = req("ACK", b2);
	assert_null(txn_client_new(tu->tl, &m, "ACK", 3, &udp_peer));
	assert_int_equal(errno, EINVAL);
	m = req("INVITE", "1234");
	assert_null(txn_client_new(tu->tl, &m, "INVITE", 6, &udp_peer));
	assert_int_equal(errno, EINVAL);
	/* CANCEL for our INVITE branch is its own client transaction. */
	client(tu, "CANCEL", b1, &udp_peer);
	txn_config_default(&cfg);
	cfg.t2_ms = 100;
	assert_null(txn_layer_new(tu->lp, &cfg, &tu_ops, NULL));
	tu_free(tu);
}

static void test_user_pointer(void **state)
{
	struct tu *tu = tu_new(NULL);
	struct txn *ct = client(tu, "INVITE", "z9hG4bKu", &tcp_peer);
	int x;

	(void)state;
	assert_null(txn_user(ct));
	txn_set_user(ct, &x);
	assert_ptr_equal(txn_user(ct), &x);
	assert_int_equal(txn_peer(ct)->conn_id, 7);
	assert_false(txn_is_server(ct));
	assert_int_equal(txn_respond(ct, 200, "200", 3), -EINVAL);
	tu_free(tu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_invite_trying_and_absorb),
		cmocka_unit_test(test_server_invite_timer_g_h),
		cmocka_unit_test(test_server_invite_ack),
		cmocka_unit_test(test_server_invite_tcp),
		cmocka_unit_test(test_server_invite_2xx_accepted),
		cmocka_unit_test(test_server_non_invite),
		cmocka_unit_test(test_cancel_matching),
		cmocka_unit_test(test_rfc2543_matching),
		cmocka_unit_test(test_client_invite_timer_a_b),
		cmocka_unit_test(test_client_invite_provisional_timer_c),
		cmocka_unit_test(test_client_invite_cancelled_487),
		cmocka_unit_test(test_client_invite_non2xx_ack_timer_d),
		cmocka_unit_test(test_client_invite_2xx_accepted),
		cmocka_unit_test(test_client_non_invite_timer_e_f),
		cmocka_unit_test(test_client_non_invite_proceeding_k),
		cmocka_unit_test(test_transport_errors),
		cmocka_unit_test(test_peer_failed),
		cmocka_unit_test(test_shutdown),
		cmocka_unit_test(test_config_and_branches),
		cmocka_unit_test(test_user_pointer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
