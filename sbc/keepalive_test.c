/* keepalive_test: the ping schedule on a fake clock with a fake send: OPTIONS contents, CRLF for
 * TCP, spreading over the interval, answers, timeouts and send failures. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "keepalive.h"

struct sent {
	uint64_t at_ms;
	struct addr_port dst;
	enum sip_transport transport;
	uint64_t conn_id;
	char buf[2048];
	size_t len;
};

struct fake {
	struct registrar_target targets[8];
	size_t ntargets;
	struct sent sent[64];
	size_t nsent;
	uint64_t now_ms;
	int send_rc;
};

static int fake_send(void *arg, const struct addr_port *dst, enum sip_transport t, uint64_t conn_id,
		     const char *buf, size_t len)
{
	struct fake *f = arg;
	struct sent *s;

	assert_true(f->nsent < 64);
	assert_true(len < sizeof(s->buf));
	s = &f->sent[f->nsent++];
	s->at_ms = f->now_ms;
	s->dst = *dst;
	s->transport = t;
	s->conn_id = conn_id;
	memcpy(s->buf, buf, len);
	s->buf[len] = '\0';
	s->len = len;
	return f->send_rc;
}

static void fake_foreach(void *arg, void (*fn)(void *, const struct registrar_target *),
			 void *fnarg)
{
	struct fake *f = arg;

	for (size_t i = 0; i < f->ntargets; i++)
		fn(fnarg, &f->targets[i]);
}

static void add_target(struct fake *f, const char *uri, const char *dst, enum sip_transport t,
		       uint64_t conn_id)
{
	struct registrar_target *x = &f->targets[f->ntargets++];

	memset(x, 0, sizeof(*x));
	snprintf(x->uri, sizeof(x->uri), "%s", uri);
	assert_int_equal(addr_port_parse(dst, &x->dst), 0);
	x->transport = t;
	x->conn_id = conn_id;
	x->natted = true;
}

static struct keepalive *make(struct fake *f, uint32_t interval_s)
{
	struct keepalive_cfg cfg = {.interval_s = interval_s,
				    .local = "192.0.2.1:5060",
				    .send = fake_send,
				    .send_arg = f,
				    .foreach = fake_foreach,
				    .foreach_arg = f,
				    .seed = 0x1234};
	struct keepalive *ka = keepalive_new(&cfg);

	assert_non_null(ka);
	return ka;
}

static uint64_t run(struct keepalive *ka, struct fake *f, uint64_t now)
{
	f->now_ms = now;
	return keepalive_run(ka, now);
}

/* The value of header name in a message (up to CRLF), into out. */
static const char *header(const char *msg, const char *name, char *out, size_t len)
{
	char key[64];
	const char *p, *e;

	snprintf(key, sizeof(key), "\r\n%s: ", name);
	p = strstr(msg, key);
	if (p == NULL)
		return NULL;
	p += strlen(key);
	e = strstr(p, "\r\n");
	snprintf(out, len, "%.*s", (int)(e - p), p);
	return out;
}

static void test_options(void **state)
{
	struct fake f = {0};
	struct keepalive *ka;
	char v[512], callid[128];
	struct sip_error err;
	struct sip_msg *m;

	(void)state;
	add_target(&f, "sip:alice@192.168.1.10:5062;transport=udp", "203.0.113.5:40001",
		   SIP_TRANSPORT_UDP, 0);
	ka = make(&f, 30);
	assert_int_equal(run(ka, &f, 1000), 31000);
	assert_int_equal(f.nsent, 1);
	struct sent *s = &f.sent[0];

	/* Sent through the NAT binding, addressed to the registered Contact. */
	char ap[ADDR_STRLEN];

	assert_string_equal(addr_port_format(&s->dst, ap, sizeof(ap)), "203.0.113.5:40001");
	assert_int_equal(s->transport, SIP_TRANSPORT_UDP);
	assert_memory_equal(s->buf, "OPTIONS sip:alice@192.168.1.10:5062;transport=udp SIP/2.0\r\n",
			    58);
	/* RFC 3261 §8.1.1: the mandatory headers; a valid message our own parser accepts. */
	m = sipmsg_parse(s->buf, s->len, SIP_TRANSPORT_UDP, &err);
	assert_non_null(m);
	assert_true(sipmsg_method_is(m, "OPTIONS"));
	assert_int_equal(sipmsg_max_forwards(m), 70);
	assert_int_equal(sipmsg_cseq(m), 1);
	assert_non_null(sipmsg_from_tag(m));
	assert_null(sipmsg_to_tag(m));
	struct sip_via via;

	assert_int_equal(sipmsg_via(m, 0, &via), 0);
	assert_true(strncmp(via.branch, "z9hG4bK", 7) == 0);
	assert_true(via.has_rport);
	assert_string_equal(via.sent_by.host, "192.0.2.1");
	sipmsg_free(m);
	assert_non_null(header(s->buf, "Content-Length", v, sizeof(v)));
	assert_string_equal(v, "0");
	assert_non_null(header(s->buf, "To", v, sizeof(v)));
	assert_string_equal(v, "<sip:alice@192.168.1.10:5062;transport=udp>");
	assert_non_null(header(s->buf, "Call-ID", callid, sizeof(callid)));

	/* The next round gets a fresh branch, tag and Call-ID. */
	assert_int_equal(run(ka, &f, 31000), 61000);
	assert_int_equal(f.nsent, 2);
	char via1[256], via2[256], from1[256], from2[256], callid2[128];

	header(f.sent[0].buf, "Via", via1, sizeof(via1));
	header(f.sent[1].buf, "Via", via2, sizeof(via2));
	header(f.sent[0].buf, "From", from1, sizeof(from1));
	header(f.sent[1].buf, "From", from2, sizeof(from2));
	header(f.sent[1].buf, "Call-ID", callid2, sizeof(callid2));
	assert_string_not_equal(via1, via2);
	assert_string_not_equal(from1, from2);
	assert_string_not_equal(callid, callid2);
	keepalive_free(ka);
}

static void test_tcp_crlf(void **state)
{
	struct fake f = {0};
	struct keepalive *ka;
	struct keepalive_stats st;

	(void)state;
	add_target(&f, "sip:bob@10.0.0.2;transport=tcp", "203.0.113.6:50000", SIP_TRANSPORT_TCP,
		   77);
	/* Connection gone: nothing to send on. */
	add_target(&f, "sip:carol@10.0.0.3;transport=tcp", "203.0.113.7:50001", SIP_TRANSPORT_TCP,
		   0);
	ka = make(&f, 10);
	run(ka, &f, 0);
	run(ka, &f, 5000);
	assert_int_equal(f.nsent, 1);
	/* RFC 5626 §4.4.1: the double CRLF, on the UA's own connection. */
	assert_int_equal(f.sent[0].len, 4);
	assert_memory_equal(f.sent[0].buf, "\r\n\r\n", 4);
	assert_int_equal(f.sent[0].conn_id, 77);
	assert_int_equal(f.sent[0].transport, SIP_TRANSPORT_TCP);
	keepalive_get_stats(ka, &st);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.skipped, 1);
	keepalive_free(ka);
}

static void test_spread(void **state)
{
	struct fake f = {0};
	struct keepalive *ka;
	char uri[64], dst[32];

	(void)state;
	for (int i = 0; i < 4; i++) {
		snprintf(uri, sizeof(uri), "sip:u%d@192.168.1.%d", i, i + 10);
		snprintf(dst, sizeof(dst), "203.0.113.%d:4000%d", i + 1, i);
		add_target(&f, uri, dst, SIP_TRANSPORT_UDP, 0);
	}
	ka = make(&f, 20);
	/* Four bindings over 20 s: one every 5 s, the first at once. */
	assert_int_equal(run(ka, &f, 100000), 105000);
	assert_int_equal(f.nsent, 1);
	assert_int_equal(run(ka, &f, 104999), 105000);
	assert_int_equal(f.nsent, 1);
	assert_int_equal(run(ka, &f, 105000), 110000);
	assert_int_equal(f.nsent, 2);
	/* A late timer catches up on what is due, no more. */
	assert_int_equal(run(ka, &f, 116000), 120000);
	assert_int_equal(f.nsent, 4);
	assert_non_null(strstr(f.sent[3].buf, "OPTIONS sip:u3@192.168.1.13 SIP/2.0\r\n"));
	/* The next round starts one interval after the previous one started. */
	assert_int_equal(run(ka, &f, 119000), 120000);
	assert_int_equal(f.nsent, 4);
	assert_int_equal(run(ka, &f, 120000), 125000);
	assert_int_equal(f.nsent, 5);
	assert_non_null(strstr(f.sent[4].buf, "OPTIONS sip:u0@"));
	keepalive_free(ka);
}

static void test_answers(void **state)
{
	struct fake f = {0};
	struct keepalive *ka;
	struct keepalive_stats st;
	char c0[128], c1[128];

	(void)state;
	add_target(&f, "sip:a@192.168.1.10", "203.0.113.1:40000", SIP_TRANSPORT_UDP, 0);
	add_target(&f, "sip:b@192.168.1.11", "203.0.113.2:40000", SIP_TRANSPORT_UDP, 0);
	ka = make(&f, 10);
	run(ka, &f, 0);
	run(ka, &f, 5000);
	assert_int_equal(f.nsent, 2);
	header(f.sent[0].buf, "Call-ID", c0, sizeof(c0));
	header(f.sent[1].buf, "Call-ID", c1, sizeof(c1));
	/* Not ours. */
	assert_false(keepalive_response(ka, "abc@host", 8, 200));
	assert_false(keepalive_response(ka, "ka-0000000000000001-1-0", 23, 200));
	/* A 405 is an answer too: the path through the NAT works. */
	assert_true(keepalive_response(ka, c0, strlen(c0), 405));
	assert_true(keepalive_response(ka, c0, strlen(c0), 405)); /* retransmitted: once */
	keepalive_get_stats(ka, &st);
	assert_int_equal(st.answered, 1);
	assert_int_equal(st.timeouts, 0);
	/* Round 2 starts: b never answered. */
	run(ka, &f, 10000);
	keepalive_get_stats(ka, &st);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.rounds, 2);
	/* A late answer from round 1 is still ours to drop, but does not count. */
	assert_true(keepalive_response(ka, c1, strlen(c1), 200));
	keepalive_get_stats(ka, &st);
	assert_int_equal(st.answered, 1);
	keepalive_free(ka);
}

static void test_failures_and_interval(void **state)
{
	struct fake f = {0};
	struct keepalive *ka;
	struct keepalive_stats st;

	(void)state;
	add_target(&f, "sip:a@192.168.1.10", "203.0.113.1:40000", SIP_TRANSPORT_UDP, 0);
	f.send_rc = -EHOSTUNREACH;
	ka = make(&f, 10);
	run(ka, &f, 0);
	keepalive_get_stats(ka, &st);
	assert_int_equal(st.send_errors, 1);
	assert_int_equal(st.sent, 0);
	/* A failed send expects no answer: no timeout either. */
	f.send_rc = 0;
	run(ka, &f, 10000);
	keepalive_get_stats(ka, &st);
	assert_int_equal(st.timeouts, 0);
	assert_int_equal(st.sent, 1);
	/* Nothing NAT'd: the round still waits a full interval. */
	f.ntargets = 0;
	assert_int_equal(run(ka, &f, 20000), 30000);
	/* Switched off: applies from the next round. */
	keepalive_set_interval(ka, 0);
	assert_int_equal(run(ka, &f, 25000), 30000);
	assert_int_equal(run(ka, &f, 30000), UINT64_MAX);
	keepalive_set_interval(ka, 5);
	f.ntargets = 1;
	assert_int_equal(run(ka, &f, 40000), 45000);
	assert_int_equal(f.nsent, 3);
	keepalive_free(ka);

	struct keepalive_cfg bad = {.interval_s = 1, .local = "x"};

	assert_null(keepalive_new(&bad));
	assert_int_equal(errno, EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_tcp_crlf),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_failures_and_interval),
	};

	sipmsg_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
