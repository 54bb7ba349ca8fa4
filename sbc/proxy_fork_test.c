/* proxy_fork_test: the life cycle of the proxy core's forks, with media through a fake dataplane
 * on loopback — a BYE, a forked MESSAGE and an UPDATE with SDP free their fork as soon as the
 * final went up and every branch is done, and late responses or retransmissions afterwards are
 * absorbed; an answered INVITE's fork is slimmed once every branch is done, the callee's 2xx sent
 * again after that still goes up with the relay's SDP, and a CANCEL that crossed the 2xx leaves
 * the call's media alone. */
#include <stdio.h>
#include <string.h>

#include "proxy_priv.h" /* the count of live forks */
#include "proxy_test_harness.h"

/* The number of forks the proxy holds. */
static size_t forks(const struct ctx *c)
{
	return c->proxy->nforks;
}

/* A BYE's fork goes as soon as its 200 went up; the callee's retransmitted 200 and a late
 * response after it, and the caller's retransmitted BYE, are absorbed by the transactions. */
static void test_bye_fork_freed(void **state)
{
	struct ctx *c = *state;
	char buf[4096], bye[4096];

	in_dialog(c, "BYE", "bye-free-1", "z9hG4bKbyefree1", 2, false);
	pump(c, true, 10);
	assert_int_equal(forks(c), 1);
	assert_true(recv_sip(c->uas[0], bye, sizeof(bye)));
	assert_true(strncmp(bye, "BYE ", 4) == 0);
	respond(c, c->uas[0], c->uas_port[0], bye, 200, "OK", "tt0", false);
	pump(c, true, 10);
	assert_int_equal(forks(c), 0);
	assert_true(recv_sip(c->caller, buf, sizeof(buf)));
	assert_true(strncmp(buf, "SIP/2.0 200 ", 12) == 0);
	respond(c, c->uas[0], c->uas_port[0], bye, 200, "OK", "tt0", false);
	respond(c, c->uas[0], c->uas_port[0], bye, 481, "No Such Call", "tt0", false);
	pump(c, true, 10);
	assert_false(recv_sip(c->caller, buf, sizeof(buf)));
	in_dialog(c, "BYE", "bye-free-1", "z9hG4bKbyefree1", 2, false);
	pump(c, true, 10);
	assert_true(recv_sip(c->caller, buf, sizeof(buf))); /* the stored 200 again */
	assert_true(strncmp(buf, "SIP/2.0 200 ", 12) == 0);
	assert_false(recv_sip(c->uas[0], buf, sizeof(buf)));
	assert_int_equal(forks(c), 0);
}

/* A MESSAGE forked to both contacts: the first 200 goes up at once but the fork waits for the
 * other branch's final, which then frees it (and goes nowhere). */
static void test_forked_message_freed(void **state)
{
	struct ctx *c = *state;
	char buf[4096], msg[2][4096];
	char req[1024];

	snprintf(req, sizeof(req),
		 "MESSAGE sip:bob@example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKmsg1;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:carrier@example.com>;tag=ft9\r\n"
		 "To: <sip:bob@example.com>\r\nCall-ID: msg-free-1\r\nCSeq: 1 MESSAGE\r\n"
		 "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
		 c->caller_port);
	send_sip(c, c->caller, req);
	pump(c, true, 10);
	assert_int_equal(forks(c), 1);
	for (int i = 0; i < 2; i++) {
		assert_true(recv_sip(c->uas[i], msg[i], sizeof(msg[i])));
		assert_true(strncmp(msg[i], "MESSAGE ", 8) == 0);
	}
	respond(c, c->uas[0], c->uas_port[0], msg[0], 200, "OK", "m0", false);
	pump(c, true, 10);
	assert_true(recv_sip(c->caller, buf, sizeof(buf)));
	assert_true(strncmp(buf, "SIP/2.0 200 ", 12) == 0);
	assert_int_equal(forks(c), 1);
	respond(c, c->uas[1], c->uas_port[1], msg[1], 486, "Busy Here", "m1", false);
	pump(c, true, 10);
	assert_int_equal(forks(c), 0);
	respond(c, c->uas[1], c->uas_port[1], msg[1], 486, "Busy Here", "m1", false);
	respond(c, c->uas[0], c->uas_port[0], msg[0], 200, "OK", "m0", false);
	pump(c, true, 10);
	assert_false(recv_sip(c->caller, buf, sizeof(buf)));
	assert_int_equal(forks(c), 0);
}

/* An UPDATE with SDP: its 200's answer goes through the dataplane first (the media path), and
 * the fork goes once that 200 went up with the relay's SDP. */
static void test_update_fork_freed(void **state)
{
	struct ctx *c = *state;
	char buf[4096], upd[4096];

	in_dialog(c, "UPDATE", "upd-free-1", "z9hG4bKupdfree1", 2, true);
	pump(c, true, 10);
	assert_int_equal(count_cmd(c, "offer", "upd-free-1"), 1);
	assert_true(recv_sip(c->uas[0], upd, sizeof(upd)));
	assert_true(strncmp(upd, "UPDATE ", 7) == 0);
	assert_int_equal(forks(c), 1);
	respond(c, c->uas[0], c->uas_port[0], upd, 200, "OK", "tt0", true);
	pump(c, false, 10); /* the answer waits at the dataplane: the fork stays */
	assert_int_equal(count_cmd(c, "answer", "upd-free-1"), 1);
	assert_int_equal(forks(c), 1);
	assert_false(recv_sip(c->caller, buf, sizeof(buf)));
	ng_reply(c, &c->seen[c->nseen - 1], true, 33000);
	pump(c, false, 10);
	assert_true(recv_sip(c->caller, buf, sizeof(buf)));
	assert_true(strncmp(buf, "SIP/2.0 200 ", 12) == 0);
	assert_int_equal(sdp_port(buf), 33000);
	assert_int_equal(forks(c), 0);
	respond(c, c->uas[0], c->uas_port[0], upd, 200, "OK", "tt0", true);
	pump(c, true, 10);
	assert_false(recv_sip(c->caller, buf, sizeof(buf)));
	assert_int_equal(forks(c), 0);
}

/* The INVITE is answered on branch 0 and branch 1 ends with 487: the fork is slim (request
 * freed). The callee sends its 200 again (its ACK was late): it goes up with the relay's SDP of
 * the first one, not the callee's, and nothing new goes to the dataplane. */
static void test_2xx_again_after_slim(void **state)
{
	struct ctx *c = *state;
	char inv[2][4096], buf[4096];
	const char *cid = "slim-2xx-1";

	invite_both(c, cid, "z9hG4bKslim1", inv);
	respond(c, c->uas[1], c->uas_port[1], inv[1], 180, "Ringing", "tt1", false);
	pump(c, true, 20);
	assert_true(recv_sip(c->caller, buf, sizeof(buf)));
	assert_true(strncmp(buf, "SIP/2.0 180 ", 12) == 0);
	respond(c, c->uas[0], c->uas_port[0], inv[0], 200, "OK", "tt0", true);
	pump(c, true, 20);
	assert_int_equal(count_cmd(c, "answer", cid), 1);
	assert_true(recv_sip(c->caller, buf, sizeof(buf)));
	assert_true(strncmp(buf, "SIP/2.0 200 ", 12) == 0);
	unsigned int relay = sdp_port(buf);

	assert_int_not_equal(relay, c->uas_port[0] + 1000u);
	assert_int_equal(c->proxy->nslim, 0); /* branch 1 still rings */
	assert_true(recv_sip(c->uas[1], buf, sizeof(buf)));
	assert_true(strncmp(buf, "CANCEL ", 7) == 0);
	respond(c, c->uas[1], c->uas_port[1], buf, 200, "OK", "tt1", false);
	respond(c, c->uas[1], c->uas_port[1], inv[1], 487, "Request Terminated", "tt1", false);
	pump(c, true, 20);
	assert_int_equal(forks(c), 1);
	assert_int_equal(c->proxy->nslim, 1);
	size_t before = c->nseen;

	respond(c, c->uas[0], c->uas_port[0], inv[0], 200, "OK", "tt0", true);
	pump(c, true, 20);
	assert_true(recv_sip(c->caller, buf, sizeof(buf)));
	assert_true(strncmp(buf, "SIP/2.0 200 ", 12) == 0);
	assert_int_equal(sdp_port(buf), relay);
	assert_int_equal(c->nseen, before);
	/* A late 200 from the cancelled branch finds its transaction completed: absorbed. */
	respond(c, c->uas[1], c->uas_port[1], inv[1], 200, "OK", "tt1", true);
	pump(c, true, 20);
	assert_false(recv_sip(c->caller, buf, sizeof(buf)));
	assert_int_equal(c->nseen, before);
	/* The caller's CANCEL crossed the 2xx: 200 to it, and the established call's media is
	 * left alone (no delete, RFC 3261 §9.2). */
	invite_follow(c, "CANCEL", cid, "z9hG4bKslim1");
	pump(c, true, 20);
	assert_true(recv_sip(c->caller, buf, sizeof(buf)));
	assert_true(strncmp(buf, "SIP/2.0 200 ", 12) == 0 && strstr(buf, "CSeq: 1 CANCEL") != NULL);
	assert_int_equal(c->nseen, before);
	assert_false(recv_sip(c->uas[0], buf, sizeof(buf)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bye_fork_freed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forked_message_freed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_fork_freed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_2xx_again_after_slim, setup, teardown),
	};

	sipmsg_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
