/* transport_test: the transport layer on loopback sockets — UDP in and out, TCP framing, CRLF
 * keepalives, connection reuse, outgoing connections, bad framing, idle close, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "transport.h"

#define MAXMSG 8

struct rx {
	struct transport *tp;
	int n;
	char msg[MAXMSG][512];
	struct addr_port src[MAXMSG];
	enum sip_transport proto[MAXMSG];
	uint64_t conn[MAXMSG];
	int bad;
	char bad_why[128];
	int closed;
	uint64_t closed_id;
	int failed;
	int failed_err;
};

static void on_recv(void *arg, const char *buf, size_t len, const struct addr_port *src,
		    enum sip_transport proto, uint64_t conn_id)
{
	struct rx *rx = arg;

	assert_true(rx->n < MAXMSG);
	snprintf(rx->msg[rx->n], sizeof(rx->msg[0]), "%.*s", (int)len, buf);
	rx->src[rx->n] = *src;
	rx->proto[rx->n] = proto;
	rx->conn[rx->n] = conn_id;
	rx->n++;
}

static const char bad_reply[] = "SIP/2.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n";

static void on_bad(void *arg, const char *buf, size_t len, const struct addr_port *src,
		   uint64_t conn_id, const char *why)
{
	struct rx *rx = arg;

	(void)buf;
	(void)len;
	rx->bad++;
	snprintf(rx->bad_why, sizeof(rx->bad_why), "%s", why);
	assert_int_equal(transport_send(rx->tp, src, SIP_TRANSPORT_TCP, conn_id, bad_reply,
					strlen(bad_reply)),
			 0);
}

static void on_closed(void *arg, uint64_t conn_id, const struct addr_port *remote)
{
	struct rx *rx = arg;

	(void)remote;
	rx->closed++;
	rx->closed_id = conn_id;
}

static void on_failed(void *arg, uint64_t conn_id, const struct addr_port *remote, int err)
{
	struct rx *rx = arg;

	(void)conn_id;
	(void)remote;
	rx->failed++;
	rx->failed_err = err;
}

static const struct transport_ops ops = {
	.recv = on_recv,
	.bad_frame = on_bad,
	.send_failed = on_failed,
	.conn_closed = on_closed,
};

struct fx {
	struct loop *lp;
	struct transport *tp;
	struct rx rx;
};

static void fx_init(struct fx *f, const struct transport_config *cfg)
{
	struct transport_config def;

	memset(f, 0, sizeof(*f));
	if (cfg == NULL) {
		transport_config_default(&def);
		cfg = &def;
	}
	f->lp = loop_new();
	assert_non_null(f->lp);
	f->tp = transport_new(f->lp, cfg, &ops, &f->rx);
	assert_non_null(f->tp);
	f->rx.tp = f->tp;
}

static void fx_fini(struct fx *f)
{
	transport_free(f->tp);
	loop_free(f->lp);
}

/* Runs the loop until *counter reaches want (or about two seconds pass). */
static void pump(struct fx *f, const int *counter, int want)
{
	for (int i = 0; i < 100 && *counter < want; i++)
		assert_int_equal(loop_run_once(f->lp, 20), 0);
	assert_int_equal(*counter, want);
}

static void pump_some(struct fx *f)
{
	for (int i = 0; i < 5; i++)
		loop_run_once(f->lp, 10);
}

/* "IP:PORT"; ":0" (any free port) is written ":1" here because addr_port_parse refuses 0. */
static struct addr_port ap(const char *s)
{
	struct addr_port a;
	size_t len = strlen(s);
	bool any = len > 2 && strcmp(s + len - 2, ":0") == 0;
	char tmp[64];

	snprintf(tmp, sizeof(tmp), "%.*s%s", (int)(any ? len - 1 : len), s, any ? "1" : "");
	assert_int_equal(addr_port_parse(tmp, &a), 0);
	if (any)
		a.port = 0;
	return a;
}

static int client_socket(int type, const struct addr_port *to, struct addr_port *local)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = socket(to->ip.family, type, 0);

	assert_true(fd >= 0);
	if (to->ip.family == AF_INET6) {
		struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_addr = to->ip.v6};

		assert_int_equal(bind(fd, (struct sockaddr *)&s6, sizeof(s6)), 0);
	} else {
		struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_addr = to->ip.v4};

		assert_int_equal(bind(fd, (struct sockaddr *)&s4, sizeof(s4)), 0);
	}
	sl = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	memset(local, 0, sizeof(*local));
	local->ip = to->ip;
	local->port = ntohs(to->ip.family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						      : ((struct sockaddr_in *)&ss)->sin_port);
	if (type == SOCK_STREAM) {
		struct sockaddr_storage ds;

		memset(&ds, 0, sizeof(ds));
		if (to->ip.family == AF_INET6) {
			struct sockaddr_in6 *d = (struct sockaddr_in6 *)&ds;

			d->sin6_family = AF_INET6;
			d->sin6_addr = to->ip.v6;
			d->sin6_port = htons(to->port);
			sl = sizeof(*d);
		} else {
			struct sockaddr_in *d = (struct sockaddr_in *)&ds;

			d->sin_family = AF_INET;
			d->sin_addr = to->ip.v4;
			d->sin_port = htons(to->port);
			sl = sizeof(*d);
		}
		assert_int_equal(connect(fd, (struct sockaddr *)&ds, sl), 0);
	}
	return fd;
}

static void udp_sendto(int fd, const struct addr_port *to, const char *s)
{
	struct sockaddr_in s4 = {
		.sin_family = AF_INET, .sin_addr = to->ip.v4, .sin_port = htons(to->port)};
	struct sockaddr_in6 s6 = {
		.sin6_family = AF_INET6, .sin6_addr = to->ip.v6, .sin6_port = htons(to->port)};

	if (to->ip.family == AF_INET6)
		assert_int_equal(sendto(fd, s, strlen(s), 0, (struct sockaddr *)&s6, sizeof(s6)),
				 (ssize_t)strlen(s));
	else
		assert_int_equal(sendto(fd, s, strlen(s), 0, (struct sockaddr *)&s4, sizeof(s4)),
				 (ssize_t)strlen(s));
}

/* Reads up to want bytes from a blocking socket with a timeout. Returns the count (0: EOF). */
static ssize_t read_some(int fd, char *buf, size_t want)
{
	struct timeval tv = {.tv_sec = 2};
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = recv(fd, buf, want, 0);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

static const char opt1[] = "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n";
static const char msg2[] = "MESSAGE sip:a@b SIP/2.0\r\nl: 2\r\n\r\nhi";

static void test_udp(void **state)
{
	struct fx f;
	struct addr_port local = ap("127.0.0.1:0"), bound, cl;
	uint64_t id;
	struct transport_stats st;
	char buf[512];
	int fd;

	(void)state;
	fx_init(&f, NULL);
	assert_int_equal(transport_listen(f.tp, SIP_TRANSPORT_UDP, &local, &id), 0);
	assert_int_equal(transport_local_addr(f.tp, id, &bound), 0);
	assert_true(bound.port != 0);
	fd = client_socket(SOCK_DGRAM, &bound, &cl);
	/* A keepalive datagram goes nowhere; a message goes up with its source and socket. */
	udp_sendto(fd, &bound, "\r\n\r\n");
	udp_sendto(fd, &bound, opt1);
	pump(&f, &f.rx.n, 1);
	assert_string_equal(f.rx.msg[0], opt1);
	assert_int_equal(f.rx.proto[0], SIP_TRANSPORT_UDP);
	assert_int_equal(f.rx.conn[0], id);
	assert_int_equal(f.rx.src[0].port, cl.port);
	/* The answer leaves from the same socket, to the source address:port (RFC 3581). */
	assert_int_equal(
		transport_send(f.tp, &f.rx.src[0], SIP_TRANSPORT_UDP, id, "SIP/2.0 200", 11), 0);
	assert_int_equal(read_some(fd, buf, sizeof(buf) - 1), 11);
	/* No IPv6 socket: nothing to send from. TLS is not built. */
	struct addr_port v6 = ap("[2001:db8::1]:5060");

	assert_int_equal(transport_send(f.tp, &v6, SIP_TRANSPORT_UDP, 0, "x", 1), -ENETUNREACH);
	assert_int_equal(transport_send(f.tp, &v6, SIP_TRANSPORT_TLS, 0, "x", 1), -EPROTONOSUPPORT);
	assert_int_equal(transport_listen(f.tp, SIP_TRANSPORT_TLS, &local, NULL), -EPROTONOSUPPORT);
	transport_stats_get(f.tp, &st);
	assert_int_equal(st.udp_rx, 1);
	assert_int_equal(st.udp_tx, 1);
	assert_int_equal(st.keepalives, 1);
	assert_int_equal(st.send_errors, 2);
	close(fd);
	fx_fini(&f);
}

static void test_udp_ipv6(void **state)
{
	struct fx f;
	struct addr_port local4 = ap("127.0.0.1:0"), local6 = ap("[::1]:0"), b4, b6, cl;
	uint64_t id4, id6;
	char buf[64];
	int fd;

	(void)state;
	fx_init(&f, NULL);
	assert_int_equal(transport_listen(f.tp, SIP_TRANSPORT_UDP, &local4, &id4), 0);
	if (transport_listen(f.tp, SIP_TRANSPORT_UDP, &local6, &id6) != 0) {
		fx_fini(&f);
		skip(); /* no IPv6 loopback here */
	}
	transport_local_addr(f.tp, id4, &b4);
	transport_local_addr(f.tp, id6, &b6);
	fd = client_socket(SOCK_DGRAM, &b6, &cl);
	udp_sendto(fd, &b6, opt1);
	pump(&f, &f.rx.n, 1);
	assert_int_equal(f.rx.src[0].ip.family, AF_INET6);
	assert_int_equal(f.rx.conn[0], id6);
	/* conn_id names an IPv4 socket: the IPv6 one is used for an IPv6 destination. */
	assert_int_equal(transport_send(f.tp, &f.rx.src[0], SIP_TRANSPORT_UDP, id4, "pong", 4), 0);
	assert_int_equal(read_some(fd, buf, sizeof(buf) - 1), 4);
	close(fd);
	fx_fini(&f);
}

static void test_tcp_framing_keepalive_reuse(void **state)
{
	struct fx f;
	struct addr_port local = ap("127.0.0.1:0"), bound, cl;
	uint64_t id;
	char buf[512];
	int fd;
	size_t half = strlen(msg2) / 2;

	(void)state;
	fx_init(&f, NULL);
	assert_int_equal(transport_listen(f.tp, SIP_TRANSPORT_TCP, &local, &id), 0);
	transport_local_addr(f.tp, id, &bound);
	fd = client_socket(SOCK_STREAM, &bound, &cl);
	/* Two messages in one segment plus half of a third. */
	snprintf(buf, sizeof(buf), "%s%s%.*s", opt1, msg2, (int)half, msg2);
	assert_int_equal(write(fd, buf, strlen(buf)), (ssize_t)strlen(buf));
	pump(&f, &f.rx.n, 2);
	assert_string_equal(f.rx.msg[0], opt1);
	assert_string_equal(f.rx.msg[1], msg2);
	assert_int_equal(f.rx.proto[0], SIP_TRANSPORT_TCP);
	uint64_t conn = f.rx.conn[0];

	assert_true(conn != id);
	assert_true(transport_conn_alive(f.tp, conn));
	assert_int_equal(f.rx.src[0].port, cl.port);
	pump_some(&f);
	assert_int_equal(f.rx.n, 2); /* the half message waits */
	/* The rest, preceded by a CRLFCRLF ping answered with one CRLF (RFC 5626 §4.4.1). */
	assert_int_equal(write(fd, msg2 + half, strlen(msg2) - half),
			 (ssize_t)(strlen(msg2) - half));
	pump(&f, &f.rx.n, 3);
	assert_string_equal(f.rx.msg[2], msg2);
	assert_int_equal(write(fd, "\r\n\r\n", 4), 4);
	pump_some(&f);
	assert_int_equal(read_some(fd, buf, sizeof(buf) - 1), 2);
	assert_string_equal(buf, "\r\n");
	/* A request to the client's address reuses its connection (the NAT only lets that one in). */
	assert_int_equal(transport_conn_find(f.tp, &cl), conn);
	assert_int_equal(transport_send(f.tp, &cl, SIP_TRANSPORT_TCP, 0, "INVITE", 6), 0);
	assert_int_equal(read_some(fd, buf, sizeof(buf) - 1), 6);
	/* The client hangs up: the connection goes and the TU hears it. */
	close(fd);
	pump(&f, &f.rx.closed, 1);
	assert_int_equal(f.rx.closed_id, conn);
	assert_false(transport_conn_alive(f.tp, conn));
	assert_int_equal(transport_conn_find(f.tp, &cl), 0);
	assert_int_equal(transport_close(f.tp, conn), -ENOENT);
	fx_fini(&f);
}

static void test_tcp_bad_frame(void **state)
{
	struct fx f;
	struct addr_port local = ap("127.0.0.1:0"), bound, cl;
	uint64_t id;
	char buf[512];
	static const char nolen[] = "OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n";
	struct transport_stats st;
	int fd;

	(void)state;
	fx_init(&f, NULL);
	assert_int_equal(transport_listen(f.tp, SIP_TRANSPORT_TCP, &local, &id), 0);
	transport_local_addr(f.tp, id, &bound);
	fd = client_socket(SOCK_STREAM, &bound, &cl);
	/* A good message, then one without Content-Length: 400, then the connection is closed. */
	snprintf(buf, sizeof(buf), "%s%s", opt1, nolen);
	assert_int_equal(write(fd, buf, strlen(buf)), (ssize_t)strlen(buf));
	pump(&f, &f.rx.closed, 1);
	assert_int_equal(f.rx.n, 1);
	assert_int_equal(f.rx.bad, 1);
	assert_non_null(strstr(f.rx.bad_why, "Content-Length"));
	assert_int_equal(read_some(fd, buf, sizeof(buf) - 1), (ssize_t)strlen(bad_reply));
	assert_string_equal(buf, bad_reply);
	assert_int_equal(read_some(fd, buf, sizeof(buf) - 1), 0);
	transport_stats_get(f.tp, &st);
	assert_int_equal(st.bad_frames, 1);
	assert_int_equal(st.conns_open, 0);
	close(fd);
	fx_fini(&f);
}

static void test_tcp_connect_and_idle(void **state)
{
	struct transport_config cfg;
	struct fx f;
	struct addr_port peer;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	struct transport_stats st;
	char buf[512];
	int lfd, fd;

	(void)state;
	transport_config_default(&cfg);
	cfg.tcp_idle_ms = 30000;
	fx_init(&f, &cfg);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	peer = ap("127.0.0.1:1");
	peer.port = ntohs(sa.sin_port);
	/* No connection yet: one is opened and the bytes wait until it is up. */
	assert_int_equal(transport_conn_find(f.tp, &peer), 0);
	assert_int_equal(transport_send(f.tp, &peer, SIP_TRANSPORT_TCP, 0, opt1, strlen(opt1)), 0);
	uint64_t conn = transport_conn_find(f.tp, &peer);

	assert_true(conn != 0);
	pump_some(&f);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	pump_some(&f);
	assert_int_equal(read_some(fd, buf, sizeof(buf) - 1), (ssize_t)strlen(opt1));
	/* The peer answers on the same connection. */
	assert_int_equal(write(fd, msg2, strlen(msg2)), (ssize_t)strlen(msg2));
	pump(&f, &f.rx.n, 1);
	assert_int_equal(f.rx.conn[0], conn);
	transport_stats_get(f.tp, &st);
	assert_int_equal(st.conns_connected, 1);
	/* Traffic keeps it; silence for the idle time closes it. */
	loop_advance(f.lp, loop_now(f.lp) + 29000);
	assert_true(transport_conn_alive(f.tp, conn));
	loop_advance(f.lp, loop_now(f.lp) + 1000);
	assert_false(transport_conn_alive(f.tp, conn));
	assert_int_equal(f.rx.closed, 1);
	assert_int_equal(f.rx.failed, 0); /* nothing was queued */
	transport_stats_get(f.tp, &st);
	assert_int_equal(st.conns_idle_closed, 1);
	assert_int_equal(read_some(fd, buf, sizeof(buf) - 1), 0);
	/* A refused connection: the send is queued, the failure closes it. */
	close(fd);
	close(lfd);
	int rc = transport_send(f.tp, &peer, SIP_TRANSPORT_TCP, 0, opt1, strlen(opt1));

	/* Refused at once or after the handshake, depending on the kernel's path. */
	assert_true(rc == 0 || rc == -ECONNREFUSED);
	if (rc == 0) {
		/* The queued request is reported lost, so its transaction can fail with 503. */
		pump(&f, &f.rx.closed, 2);
		assert_int_equal(f.rx.failed, 1);
		assert_int_equal(f.rx.failed_err, -ECONNREFUSED);
	}
	assert_int_equal(transport_conn_find(f.tp, &peer), 0);
	fx_fini(&f);
}

static void test_limits(void **state)
{
	struct transport_config cfg;
	struct ratelimit_config rcfg;
	struct ratelimit *rl;
	struct fx f;
	struct addr_port local = ap("127.0.0.1:0"), bound, cl;
	struct transport_stats st;
	uint64_t uid, tid;
	int fd, c1, c2;
	char buf[16];

	(void)state;
	ratelimit_config_default(&rcfg);
	rcfg.rate_per_s = 1;
	rcfg.burst = 2;
	rl = ratelimit_new(&rcfg);
	transport_config_default(&cfg);
	cfg.limit = rl;
	cfg.max_conns = 1;
	fx_init(&f, &cfg);
	assert_int_equal(transport_listen(f.tp, SIP_TRANSPORT_UDP, &local, &uid), 0);
	transport_local_addr(f.tp, uid, &bound);
	fd = client_socket(SOCK_DGRAM, &bound, &cl);
	/* A burst of 2 passes, the rest of the flood is dropped before parsing. */
	for (int i = 0; i < 5; i++)
		udp_sendto(fd, &bound, opt1);
	pump(&f, &f.rx.n, 2);
	pump_some(&f);
	assert_int_equal(f.rx.n, 2);
	transport_stats_get(f.tp, &st);
	assert_int_equal(st.rate_limited, 3);
	close(fd);
	/* One connection at most: a second one is closed at once. The limiter is lifted for it. */
	rcfg.rate_per_s = 0;
	ratelimit_reconfigure(rl, &rcfg);
	assert_int_equal(transport_listen(f.tp, SIP_TRANSPORT_TCP, &local, &tid), 0);
	transport_local_addr(f.tp, tid, &bound);
	c1 = client_socket(SOCK_STREAM, &bound, &cl);
	pump_some(&f);
	c2 = client_socket(SOCK_STREAM, &bound, &cl);
	pump_some(&f);
	assert_int_equal(read_some(c2, buf, sizeof(buf) - 1), 0);
	transport_stats_get(f.tp, &st);
	assert_int_equal(st.conns_accepted, 1);
	assert_int_equal(st.conns_refused, 1);
	assert_int_equal(st.conns_open, 1);
	close(c1);
	close(c2);
	fx_fini(&f);
	ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_udp_ipv6),
		cmocka_unit_test(test_tcp_framing_keepalive_reuse),
		cmocka_unit_test(test_tcp_bad_frame),
		cmocka_unit_test(test_tcp_connect_and_idle),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
