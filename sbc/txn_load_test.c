/* txn_load_test: the transaction table under load — tens of thousands of transactions, lookups,
 * removals and a shutdown while the table grows by incremental rehash — and what a transaction
 * keeps of the messages once it can no longer send them. */
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

#define N_LOAD 40000

/* The shared fake TU, counting responses (there are thousands) without recording them. */
static struct tu *load_tu(void)
{
	struct tu *tu = tu_new(NULL);

	tu->count_only = true;
	return tu;
}

static const struct txn_peer udp_peer = {.transport = SIP_TRANSPORT_UDP};
static const struct txn_peer tcp_peer = {.transport = SIP_TRANSPORT_TCP, .conn_id = 3};

static struct txn_msg msg(bool request, const char *method, unsigned int i, int status)
{
	struct txn_msg m;

	memset(&m, 0, sizeof(m));
	m.is_request = request;
	m.status = status;
	snprintf(m.method, sizeof(m.method), "%s", method);
	snprintf(m.branch, sizeof(m.branch), "z9hG4bK-load-%u", i);
	snprintf(m.sent_by_host, sizeof(m.sent_by_host), "10.0.%u.%u", (i >> 8) & 255, i & 255);
	m.sent_by_port = 5060;
	m.cseq = 1;
	return m;
}

/* Server INVITE i exists: a pure lookup (the CANCEL matching of §9.2). */
static bool server_found(struct tu *tu, unsigned int i)
{
	struct txn_msg m = msg(true, "CANCEL", i, 0);

	return txn_cancel_target(tu->tl, &m) != NULL;
}

/* Client BYE i exists: its 100 is passed to the TU, a stray one is not. */
static bool client_found(struct tu *tu, unsigned int i)
{
	struct txn_msg m = msg(false, "BYE", i, 100);

	return txn_input(tu->tl, &m, "100", 3, &udp_peer) == TXN_INPUT_PASSED;
}

static void add_server(struct tu *tu, unsigned int i, const struct txn_peer *p)
{
	struct txn_msg m = msg(true, "INVITE", i, 0);

	assert_int_equal(txn_input(tu->tl, &m, "INVITE", 6, p), TXN_INPUT_NEW);
}

static struct txn *add_client(struct tu *tu, unsigned int i, const struct txn_peer *p)
{
	struct txn_msg m = msg(true, "BYE", i, 0);
	struct txn *ct = txn_client_new(tu->tl, &m, "BYE", 3, p);

	assert_non_null(ct);
	return ct;
}

static void test_rehash_under_load(void **state)
{
	struct tu *tu = load_tu();
	size_t buckets = 0, left = 0, grows = 0, checked_during = 0;
	struct txn_stats s;

	(void)state;
	for (unsigned int i = 0; i < N_LOAD; i++) {
		size_t b;

		if (i % 2 == 0)
			add_server(tu, i, &udp_peer);
		else
			add_client(tu, i, &udp_peer);
		txn_layer_table_info(tu->tl, &b, &left);
		if (b != buckets) {
			/* The table doubled: the old entries move over the next operations. */
			assert_true(buckets == 0 || b == 2 * buckets);
			assert_true(buckets == 0 || left > 0);
			grows += buckets != 0;
			buckets = b;
		}
		if (left > 0 && checked_during < 4 && grows > 2) {
			/* In the middle of a rehash every transaction is found, moved or not. */
			for (unsigned int j = 0; j <= i; j++)
				assert_true(j % 2 == 0 ? server_found(tu, j) : client_found(tu, j));
			checked_during++;
		}
		/* A lookup of a few earlier ones on each insert, and one that is not there. */
		assert_true(server_found(tu, (i / 2) * 2));
		assert_true(i < 1 || client_found(tu, (i - 1) | 1));
		assert_false(server_found(tu, i + 1 + (i % 2)));
	}
	assert_true(grows >= 7); /* 256 buckets at first, >= 40 000 at the end */
	assert_int_equal(checked_during, 4);
	assert_true(buckets >= N_LOAD);
	txn_stats_get(tu->tl, &s);
	assert_int_equal(s.active, N_LOAD);
	assert_int_equal(s.server_created + s.client_created, N_LOAD);
	tu_free(tu); /* frees all, a rehash running or not; ASan checks nothing leaks */
}

static void test_rehash_with_removals(void **state)
{
	struct tu *tu = load_tu();
	size_t b, left;
	unsigned int n = 0, ended = 0;
	bool seen_rehash = false;
	struct txn_stats s;

	(void)state;
	/* Client BYEs over TCP: a 200 ends them at once (timer K is zero over streams), so the
	 * table shrinks and grows while it rehashes. */
	while (n < 20000) {
		for (int k = 0; k < 3; k++, n++)
			add_client(tu, n, &tcp_peer);
		/* End every third one, one of the earliest still alive. */
		struct txn_msg m = msg(false, "BYE", ended * 3, 200);

		assert_int_equal(txn_input(tu->tl, &m, "200", 3, &tcp_peer), TXN_INPUT_PASSED);
		loop_advance(tu->lp, loop_now(tu->lp) + 1);
		ended++;
		txn_layer_table_info(tu->tl, &b, &left);
		if (left > 0) {
			seen_rehash = true;
			assert_false(client_found(tu, (ended - 1) * 3));
			assert_true(client_found(tu, n - 1));
			assert_true(client_found(tu, ended * 3 - 2));
		}
	}
	assert_true(seen_rehash);
	assert_int_equal(tu->nterminated, ended);
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(client_found(tu, i), i % 3 != 0 || i / 3 >= ended);
	txn_stats_get(tu->tl, &s);
	assert_int_equal(s.active, n - ended);
	tu_free(tu);
}

static void test_shutdown_during_rehash(void **state)
{
	struct tu *tu = load_tu();
	size_t b, left = 0;
	unsigned int n = 0;
	struct txn_stats s;

	(void)state;
	/* Stop right after a doubling, with most old buckets not moved yet. */
	while (n < 1000 || left == 0) {
		add_server(tu, n++, &udp_peer);
		txn_layer_table_info(tu->tl, &b, &left);
	}
	assert_true(left > 0);
	txn_layer_shutdown(tu->tl);
	assert_int_equal(tu->nterminated, n);
	txn_stats_get(tu->tl, &s);
	assert_int_equal(s.active, 0);
	/* The layer stays usable. */
	add_server(tu, n, &udp_peer);
	assert_true(server_found(tu, n));
	assert_false(server_found(tu, 0));
	tu_free(tu);
}

static void test_peer_failed_many(void **state)
{
	struct tu *tu = load_tu();
	struct txn_peer a = tcp_peer, b = tcp_peer;
	struct txn_stats s;

	(void)state;
	assert_int_equal(addr_port_parse("192.0.2.1:5060", &a.addr), 0);
	assert_int_equal(addr_port_parse("192.0.2.1:5070", &b.addr), 0);
	/* 6 000 waiting clients on two peers, inserted across several doublings of the table. */
	for (unsigned int i = 0; i < 6000; i++)
		add_client(tu, i, i % 2 ? &a : &b);
	/* One answered: it waits for nothing and is not failed. */
	struct txn_msg m = msg(false, "BYE", 1, 200);

	assert_int_equal(txn_input(tu->tl, &m, "200", 3, &tcp_peer), TXN_INPUT_PASSED);
	tu->nresp = 0;
	assert_int_equal(txn_peer_failed(tu->tl, &a), 2999);
	assert_int_equal(tu->nresp, 2999); /* a local 503 each */
	for (unsigned int i = 0; i < 6000; i++)
		assert_int_equal(client_found(tu, i), i % 2 == 0);
	txn_stats_get(tu->tl, &s);
	assert_int_equal(s.active, 3001); /* b's 3 000, and the answered one until K fires */
	assert_int_equal(txn_peer_failed(tu->tl, &a), 0);
	tu_free(tu);
}

/* What is kept once nothing can be resent: observable as what the layer sends and hands out. */
static void test_bytes_released(void **state)
{
	struct tu *tu = load_tu();
	struct txn *ct, *st;
	size_t len;
	struct txn_msg m;

	(void)state;
	/* Client INVITE: its request is there while it waits (CANCEL is built from it), gone after
	 * the 2xx. */
	m = msg(true, "INVITE", 1, 0);
	ct = txn_client_new(tu->tl, &m, "INVITE", 6, &udp_peer);
	assert_non_null(ct);
	assert_non_null(txn_request(ct, &len));
	assert_int_equal(len, 6);
	m = msg(false, "INVITE", 1, 180);
	assert_int_equal(txn_input(tu->tl, &m, "180", 3, &udp_peer), TXN_INPUT_PASSED);
	assert_non_null(txn_request(ct, &len));
	m = msg(false, "INVITE", 1, 200);
	assert_int_equal(txn_input(tu->tl, &m, "200", 3, &udp_peer), TXN_INPUT_PASSED);
	assert_int_equal(txn_get_state(ct), TXN_STATE_ACCEPTED);
	assert_null(txn_request(ct, &len));
	assert_int_equal(len, 0);
	/* 2xx retransmissions still reach the TU (RFC 6026 §7.2). */
	assert_int_equal(txn_input(tu->tl, &m, "200", 3, &udp_peer), TXN_INPUT_PASSED);

	/* Client INVITE with a non-2xx final: the ACK replaces the request and answers the
	 * retransmitted final. */
	m = msg(true, "INVITE", 2, 0);
	ct = txn_client_new(tu->tl, &m, "INVITE", 6, &udp_peer);
	assert_non_null(ct);
	m = msg(false, "INVITE", 2, 486);
	assert_int_equal(txn_input(tu->tl, &m, "486", 3, &udp_peer), TXN_INPUT_PASSED);
	assert_string_equal(tu->last_sent, "ACK");
	assert_null(txn_request(ct, &len));
	tu->last_sent[0] = '\0';
	assert_int_equal(txn_input(tu->tl, &m, "486", 3, &udp_peer), TXN_INPUT_ABSORBED);
	assert_string_equal(tu->last_sent, "ACK");

	/* Client non-INVITE: no request after its final. */
	ct = add_client(tu, 3, &udp_peer);
	m = msg(false, "BYE", 3, 200);
	assert_int_equal(txn_input(tu->tl, &m, "200", 3, &udp_peer), TXN_INPUT_PASSED);
	assert_null(txn_request(ct, &len));

	/* Server INVITE: the (shrunk) 100 Trying answers retransmissions in Proceeding; after a 2xx
	 * (Accepted) retransmissions are absorbed and nothing is sent. */
	add_server(tu, 4, &udp_peer);
	st = tu->last_st;
	assert_non_null(st);
	assert_null(txn_request(st, &len)); /* servers hand out no request */
	m = msg(true, "INVITE", 4, 0);
	tu->last_sent[0] = '\0';
	assert_int_equal(txn_input(tu->tl, &m, "INVITE", 6, &udp_peer), TXN_INPUT_ABSORBED);
	assert_string_equal(tu->last_sent, "100");
	assert_int_equal(txn_respond(st, 200, "200", 3), 0);
	unsigned long sent = tu->nsent;

	assert_int_equal(txn_input(tu->tl, &m, "INVITE", 6, &udp_peer), TXN_INPUT_ABSORBED);
	assert_int_equal(tu->nsent, sent);
	/* The TU's own 2xx retransmission passes through. */
	assert_int_equal(txn_respond(st, 200, "200", 3), 0);
	assert_int_equal(tu->nsent, sent + 1);

	/* Server INVITE, non-2xx: the final answers retransmissions until the ACK, then nothing. */
	add_server(tu, 5, &udp_peer);
	st = tu->last_st;
	assert_int_equal(txn_respond(st, 404, "404", 3), 0);
	m = msg(true, "INVITE", 5, 0);
	tu->last_sent[0] = '\0';
	assert_int_equal(txn_input(tu->tl, &m, "INVITE", 6, &udp_peer), TXN_INPUT_ABSORBED);
	assert_string_equal(tu->last_sent, "404");
	m = msg(true, "ACK", 5, 0);
	assert_int_equal(txn_input(tu->tl, &m, "ACK", 3, &udp_peer), TXN_INPUT_ABSORBED);
	assert_int_equal(txn_get_state(st), TXN_STATE_CONFIRMED);
	sent = tu->nsent;
	m = msg(true, "INVITE", 5, 0);
	assert_int_equal(txn_input(tu->tl, &m, "INVITE", 6, &udp_peer), TXN_INPUT_ABSORBED);
	m = msg(true, "ACK", 5, 0);
	assert_int_equal(txn_input(tu->tl, &m, "ACK", 3, &udp_peer), TXN_INPUT_ABSORBED);
	assert_int_equal(tu->nsent, sent);
	tu_free(tu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rehash_under_load),
		cmocka_unit_test(test_rehash_with_removals),
		cmocka_unit_test(test_shutdown_during_rehash),
		cmocka_unit_test(test_peer_failed_many),
		cmocka_unit_test(test_bytes_released),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
