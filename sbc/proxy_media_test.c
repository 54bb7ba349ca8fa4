/* proxy_media_test: the proxy core with media through a fake dataplane on loopback — a forked
 * INVITE gets one offer per branch (distinct via-branch, each branch its own relay SDP), answers
 * carry their branch, the first 2xx releases the other branches' records, a branch whose offer
 * the dataplane refused is not tried, and a CANCEL while the offer is at the dataplane gets 200,
 * the INVITE 487, and the media is deleted (nothing forwarded, nothing left behind); a shutdown
 * with offers pending leaks nothing; a second branch's 2xx and its stray dialog; a dialog that
 * expires ends with BYE both ways. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ng_client.h"
#include "proxy_priv.h"
#include "proxy_test_harness.h"

static void test_fork_per_branch(void **state)
{
	struct ctx *c = *state;
	char inv[2][4096], buf[4096], br[2][64];
	const char *cid = "fork-media-1";

	invite(c, cid, "z9hG4bKcaller1");
	pump(c, true, 20);
	/* One offer per branch, each with its own via-branch, same call and tags. */
	assert_int_equal(count_cmd(c, "offer", cid), 2);
	const struct ng_seen *o1 = &c->seen[0], *o2 = &c->seen[1];

	assert_string_equal(o1->cmd, "offer");
	assert_string_equal(o2->cmd, "offer");
	assert_string_equal(o1->from_tag, "ft1");
	assert_string_equal(o2->from_tag, "ft1");
	assert_true(strncmp(o1->via_branch, "z9hG4bK", 7) == 0);
	assert_true(strncmp(o2->via_branch, "z9hG4bK", 7) == 0);
	assert_string_not_equal(o1->via_branch, o2->via_branch);
	/* Each branch's INVITE: our Via's branch is the via-branch of its offer, and its SDP is
	 * the relay's answer to that offer (ports 30000 and 30002). */
	for (int i = 0; i < 2; i++) {
		assert_true(recv_sip(c->uas[i], inv[i], sizeof(inv[i])));
		assert_true(strncmp(inv[i], "INVITE ", 7) == 0);
		top_branch(inv[i], br[i], sizeof(br[i]));
		unsigned int port = sdp_port(inv[i]);

		if (strcmp(br[i], o1->via_branch) == 0)
			assert_int_equal(port, 30000);
		else if (strcmp(br[i], o2->via_branch) == 0)
			assert_int_equal(port, 30002);
		else
			fail_msg("branch %s of the INVITE has no offer", br[i]);
	}
	assert_string_not_equal(br[0], br[1]);
	/* Both ring with early media: each answer goes with its branch and to-tag. */
	respond(c, c->uas[0], c->uas_port[0], inv[0], 183, "Session Progress", "tt0", true);
	respond(c, c->uas[1], c->uas_port[1], inv[1], 183, "Session Progress", "tt1", true);
	pump(c, true, 20);
	assert_int_equal(count_cmd(c, "answer", cid), 2);
	for (size_t i = 0; i < c->nseen; i++) {
		if (strcmp(c->seen[i].cmd, "answer") != 0)
			continue;
		int k = strcmp(c->seen[i].to_tag, "tt0") == 0 ? 0 : 1;

		assert_string_equal(c->seen[i].to_tag, k == 0 ? "tt0" : "tt1");
		assert_string_equal(c->seen[i].via_branch, br[k]);
	}
	for (int i = 0; i < 2; i++) {
		assert_true(recv_sip(c->caller, buf, sizeof(buf)));
		assert_true(strncmp(buf, "SIP/2.0 183 ", 12) == 0);
	}
	/* Branch 0 answers: the other branch's record is deleted (with its via-branch only) and
	 * the branch cancelled. */
	size_t before = c->nseen;

	respond(c, c->uas[0], c->uas_port[0], inv[0], 200, "OK", "tt0", true);
	pump(c, true, 20);
	size_t deletes = 0;

	for (size_t i = before; i < c->nseen; i++) {
		if (strcmp(c->seen[i].cmd, "delete") != 0)
			continue;
		deletes++;
		assert_string_equal(c->seen[i].call_id, cid);
		assert_string_equal(c->seen[i].from_tag, "ft1");
		assert_string_equal(c->seen[i].via_branch, br[1]);
	}
	assert_int_equal(deletes, 1);
	assert_true(recv_sip(c->caller, buf, sizeof(buf)));
	assert_true(strncmp(buf, "SIP/2.0 200 ", 12) == 0);
	assert_true(recv_sip(c->uas[1], buf, sizeof(buf)));
	assert_true(strncmp(buf, "CANCEL ", 7) == 0);
	respond(c, c->uas[1], c->uas_port[1], buf, 200, "OK", "tt1", false);
	respond(c, c->uas[1], c->uas_port[1], inv[1], 487, "Request Terminated", "tt1", false);
	before = c->nseen;
	pump(c, true, 20);
	/* The cancelled branch's 487 releases nothing more (the call goes on). */
	assert_int_equal(count_cmd(c, "delete", cid), 1);
	assert_int_equal(c->nseen, before);
	/* The caller hangs up: the whole call goes (no via-branch). */
	char bye[1024];

	snprintf(bye, sizeof(bye),
		 "BYE sip:bob@127.0.0.1:%u SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKbye1;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:carrier@example.com>;tag=ft1\r\n"
		 "To: <sip:bob@example.com>;tag=tt0\r\nCall-ID: %s\r\nCSeq: 2 BYE\r\n"
		 "Content-Length: 0\r\n\r\n",
		 c->uas_port[0], c->caller_port, cid);
	send_sip(c, c->caller, bye);
	pump(c, true, 20);
	assert_int_equal(count_cmd(c, "delete", cid), 2);
	assert_string_equal(c->seen[c->nseen - 1].cmd, "delete");
	assert_string_equal(c->seen[c->nseen - 1].via_branch, "");
	assert_true(recv_sip(c->uas[0], buf, sizeof(buf)));
	assert_true(strncmp(buf, "BYE ", 4) == 0);
	respond(c, c->uas[0], c->uas_port[0], buf, 200, "OK", NULL, false);
	pump(c, true, 10);
	assert_true(recv_sip(c->caller, buf, sizeof(buf)));
	assert_true(strncmp(buf, "SIP/2.0 200 ", 12) == 0);
}

/* Both branches answer 200 (RFC 3261 §16.7 step 5: both go up). The second dialog's SDP was
 * never relayed: the caller's BYE for it must not release the answered call's media. */
static void bye_to(struct ctx *c, int k, const char *cid, const char *branch, const char *tag)
{
	char bye[1024];

	snprintf(bye, sizeof(bye),
		 "BYE sip:bob@127.0.0.1:%u SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=%s;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:carrier@example.com>;tag=ft1\r\n"
		 "To: <sip:bob@example.com>;tag=%s\r\nCall-ID: %s\r\nCSeq: 2 BYE\r\n"
		 "Content-Length: 0\r\n\r\n",
		 c->uas_port[k], c->caller_port, branch, tag, cid);
	send_sip(c, c->caller, bye);
}

static void test_second_2xx_stray(void **state)
{
	struct ctx *c = *state;
	char inv[2][4096], buf[4096];
	const char *cid = "fork-two-2xx";

	invite_both(c, cid, "z9hG4bKcaller9", inv);
	respond(c, c->uas[0], c->uas_port[0], inv[0], 200, "OK", "tt0", true);
	pump(c, true, 20);
	assert_int_equal(count_cmd(c, "delete", cid), 1); /* branch 1's record */
	assert_true(recv_sip(c->caller, buf, sizeof(buf)));
	assert_true(strncmp(buf, "SIP/2.0 200 ", 12) == 0);
	unsigned int relay = sdp_port(buf);
	size_t answers = count_cmd(c, "answer", cid);

	/* Branch 1 answers before its CANCEL arrived: its 200 goes up too, with the answered
	 * branch's relay SDP instead of the callee's own (twice: a retransmission alike). */
	for (int k = 0; k < 2; k++) {
		respond(c, c->uas[1], c->uas_port[1], inv[1], 200, "OK", "tt1", true);
		pump(c, true, 20);
		assert_true(recv_sip(c->caller, buf, sizeof(buf)));
		assert_true(strncmp(buf, "SIP/2.0 200 ", 12) == 0 &&
			    strstr(buf, "tag=tt1") != NULL);
		assert_int_equal(sdp_port(buf), relay);
		assert_int_not_equal(sdp_port(buf), c->uas_port[1] + 1000u);
	}
	assert_int_equal(count_cmd(c, "answer", cid), answers);
	/* The caller ends the second dialog: forwarded, and the call's media stays. */
	bye_to(c, 1, cid, "z9hG4bKbye9a", "tt1");
	pump(c, true, 20);
	assert_int_equal(count_cmd(c, "delete", cid), 1);
	while (recv_sip(c->uas[1], buf, sizeof(buf)))
		if (strncmp(buf, "BYE ", 4) == 0)
			break;
	assert_true(strncmp(buf, "BYE ", 4) == 0);
	/* Ending the answered call releases it. */
	bye_to(c, 0, cid, "z9hG4bKbye9b", "tt0");
	pump(c, true, 20);
	assert_int_equal(count_cmd(c, "delete", cid), 2);
	assert_string_equal(c->seen[c->nseen - 1].via_branch, "");
}

/* A dialog with no in-dialog request for --dialog-timeout ends: BYE to both parties along the
 * real paths, the call's media released; a request in the dialog pushes the expiry back. */
static void test_dialog_expiry(void **state)
{
	struct ctx *c = *state;
	char inv[2][4096], buf[4096];
	const char *cid = "dialog-expiry-1";

	c->proxy->cfg.dialog_timeout_s = 1;
	invite_both(c, cid, "z9hG4bKexp1", inv);
	respond(c, c->uas[1], c->uas_port[1], inv[1], 180, "Ringing", "tt1", false);
	pump(c, true, 20);
	assert_true(recv_sip(c->caller, buf, sizeof(buf)));
	respond(c, c->uas[0], c->uas_port[0], inv[0], 200, "OK", "tt0", true);
	pump(c, true, 20);
	assert_true(recv_sip(c->caller, buf, sizeof(buf)));
	assert_true(strncmp(buf, "SIP/2.0 200 ", 12) == 0);
	assert_true(recv_sip(c->uas[1], buf, sizeof(buf))); /* its CANCEL */
	assert_true(strncmp(buf, "CANCEL ", 7) == 0);
	respond(c, c->uas[1], c->uas_port[1], buf, 200, "OK", "tt1", false);
	respond(c, c->uas[1], c->uas_port[1], inv[1], 487, "Request Terminated", "tt1", false);
	pump(c, true, 20);
	size_t deletes = count_cmd(c, "delete", cid);

	/* Not due yet. */
	proxy_sweep(c->proxy);
	pump(c, true, 5);
	assert_false(recv_sip(c->caller, buf, sizeof(buf)));
	assert_int_equal(count_cmd(c, "delete", cid), deletes);
	/* A request in the dialog 0.6 s later pushes the expiry back: not due 0.6 s after it. */
	usleep(600 * 1000);
	pump(c, true, 2); /* the loop's clock moves on */
	in_dialog(c, "INFO", cid, "z9hG4bKexp2", 2, false);
	pump(c, true, 20);
	assert_true(recv_sip(c->uas[0], buf, sizeof(buf)));
	assert_true(strncmp(buf, "INFO ", 5) == 0);
	usleep(600 * 1000);
	pump(c, true, 2);
	proxy_sweep(c->proxy);
	pump(c, true, 5);
	assert_false(recv_sip(c->caller, buf, sizeof(buf)) && strncmp(buf, "BYE ", 4) == 0);
	assert_int_equal(count_cmd(c, "delete", cid), deletes);
	usleep(600 * 1000);
	pump(c, true, 2);
	proxy_sweep(c->proxy);
	pump(c, true, 20);
	assert_true(recv_sip(c->caller, buf, sizeof(buf)));
	assert_true(strncmp(buf, "BYE ", 4) == 0);
	bool callee_bye = false;

	while (recv_sip(c->uas[0], buf, sizeof(buf)))
		if (strncmp(buf, "BYE ", 4) == 0)
			callee_bye = true;
	assert_true(callee_bye);
	assert_int_equal(count_cmd(c, "delete", cid), deletes + 1);
	assert_int_equal(c->proxy->st.dialogs_expired, 1);
	json_t *st = proxy_stats(c->proxy);

	assert_int_equal(json_integer_value(json_object_get(st, "dialogs_expired")), 1);
	json_decref(st);
}

static void test_one_branch_refused(void **state)
{
	struct ctx *c = *state;
	char buf[4096], inv[4096];
	const char *cid = "fork-media-2";

	invite(c, cid, "z9hG4bKcaller2");
	pump(c, false, 10);
	assert_int_equal(count_cmd(c, "offer", cid), 2);
	/* The dataplane refuses the second branch's offer and then takes the first's: only the
	 * first branch is tried, and the call stays on that dataplane. */
	ng_reply(c, &c->seen[1], false, 0);
	pump(c, false, 5);
	ng_reply(c, &c->seen[0], true, 31000);
	pump(c, false, 20);
	assert_int_equal(ng_client_call_dataplane(c->ng, cid), 0);
	int got = -1;

	for (int i = 0; i < 2; i++) {
		if (recv_sip(c->uas[i], inv, sizeof(inv))) {
			assert_int_equal(got, -1);
			got = i;
			char br[64];

			top_branch(inv, br, sizeof(br));
			assert_string_equal(br, c->seen[0].via_branch);
			assert_int_equal(sdp_port(inv), 31000);
		}
	}
	assert_true(got >= 0);
	/* It fails too: the final failure releases the whole call. */
	respond(c, c->uas[got], c->uas_port[got], inv, 486, "Busy Here", "tb", false);
	pump(c, true, 20);
	assert_true(recv_sip(c->caller, buf, sizeof(buf)));
	assert_true(strncmp(buf, "SIP/2.0 486 ", 12) == 0);
	assert_int_equal(count_cmd(c, "delete", cid), 1);
	assert_string_equal(c->seen[c->nseen - 1].via_branch, "");
}

static void test_cancel_while_offer_pending(void **state)
{
	struct ctx *c = *state;
	char buf[4096];
	const char *cid = "cancel-pending-1";

	invite(c, cid, "z9hG4bKcaller3");
	pump(c, false, 10); /* the offers stay unanswered */
	assert_int_equal(count_cmd(c, "offer", cid), 2);
	invite_follow(c, "CANCEL", cid, "z9hG4bKcaller3");
	pump(c, false, 10);
	/* RFC 3261 §9.2: 200 to the CANCEL, 487 to the INVITE. */
	bool ok200 = false, got487 = false;

	while (recv_sip(c->caller, buf, sizeof(buf))) {
		if (strncmp(buf, "SIP/2.0 200 ", 12) == 0 && strstr(buf, "CSeq: 1 CANCEL") != NULL)
			ok200 = true;
		if (strncmp(buf, "SIP/2.0 487 ", 12) == 0 && strstr(buf, "CSeq: 1 INVITE") != NULL)
			got487 = true;
	}
	assert_true(ok200);
	assert_true(got487);
	/* The dataplane answers the offers afterwards: nothing is forwarded, the call's media is
	 * deleted. */
	size_t n = c->nseen;

	for (size_t i = 0; i < n; i++)
		if (strcmp(c->seen[i].cmd, "offer") == 0 && strcmp(c->seen[i].call_id, cid) == 0)
			ng_reply(c, &c->seen[i], true, 32000 + (unsigned int)i);
	pump(c, false, 20);
	assert_int_equal(count_cmd(c, "delete", cid), 1);
	assert_string_equal(c->seen[c->nseen - 1].via_branch, "");
	assert_false(recv_sip(c->uas[0], buf, sizeof(buf)));
	assert_false(recv_sip(c->uas[1], buf, sizeof(buf)));
	/* The caller's ACK for the 487 ends the INVITE transaction. */
	invite_follow(c, "ACK", cid, "z9hG4bKcaller3");
	pump(c, false, 10);
	assert_false(recv_sip(c->uas[0], buf, sizeof(buf)));
	assert_false(recv_sip(c->uas[1], buf, sizeof(buf)));
}

/* sbc-sip stops while the dataplane has the offers: nothing is left behind (ASan builds). */
static void test_shutdown_while_offer_pending(void **state)
{
	struct ctx *c = *state;

	invite(c, "shutdown-pending-1", "z9hG4bKcaller4");
	pump(c, false, 10);
	assert_int_equal(count_cmd(c, "offer", "shutdown-pending-1"), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fork_per_branch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_branch_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_2xx_stray, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dialog_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_while_offer_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_while_offer_pending, setup, teardown),
	};

	sipmsg_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
