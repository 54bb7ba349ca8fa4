/* proxy_test_harness: the proxy core on loopback with its fake dataplane and SIP peers, shared by
 * the proxy's media and fork tests (proxy_test_harness.h says what each does). */
#include "proxy_test_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bencode.h"
#include "db_migrations.h"
#include "loop.h"
#include "media.h"
#include "policy.h"
#include "registrar.h"
#include "test_util.h"
#include "transport.h"

static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 192.168.1.10\r\ns=-\r\nc=IN IP4 192.168.1.10\r\n"
			  "t=0 0\r\nm=audio 27910 RTP/AVP 0\r\n";

static int udp_open(uint16_t *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void on_recv(void *arg, const char *buf, size_t len, const struct addr_port *src,
		    enum sip_transport proto, uint64_t conn_id)
{
	struct ctx *c = arg;

	proxy_recv(c->proxy, buf, len, src, proto, conn_id);
}

/* Registers bob@example.com at 127.0.0.1:port (digest against the policy's user). */
static void register_bob(struct ctx *c, uint16_t port, unsigned int cseq)
{
	char msg[2048], authz[1024] = "", nonce[128];
	struct fixup_result fx = {0};
	struct registrar_src rs = {.transport = SIP_TRANSPORT_UDP, .fx = &fx};
	struct registrar_reply out;
	struct sip_error err;

	assert_int_equal(addr_port_parse("127.0.0.1:1", &rs.addr), 0);
	rs.addr.port = port;
	for (int round = 0; round < 2; round++) {
		snprintf(msg, sizeof(msg),
			 "REGISTER sip:example.com SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKr%u%d\r\n"
			 "Max-Forwards: 70\r\nFrom: <sip:bob@example.com>;tag=r%u\r\n"
			 "To: <sip:bob@example.com>\r\nCall-ID: reg-%u\r\nCSeq: %d REGISTER\r\n"
			 "Contact: <sip:bob@127.0.0.1:%u>\r\nExpires: 600\r\n%s"
			 "Content-Length: 0\r\n\r\n",
			 port, cseq, round, port, port, round + 1, port, authz);
		struct sip_msg *m = sipmsg_parse(msg, strlen(msg), SIP_TRANSPORT_UDP, &err);

		assert_non_null(m);
		memset(&out, 0, sizeof(out));
		assert_int_equal(registrar_handle(c->reg, m, &rs, (uint64_t)time(NULL), &out), 0);
		sipmsg_free(m);
		if (round == 1) {
			assert_int_equal(out.code, 200);
			return;
		}
		assert_int_equal(out.code, 401);
		const char *n = strstr(out.headers, "nonce=\"");

		assert_non_null(n);
		n += 7;
		snprintf(nonce, sizeof(nonce), "%.*s", (int)strcspn(n, "\""), n);
		test_register_authz(authz, sizeof(authz), "bob", "pw", nonce, "sip:example.com");
	}
}

int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char err[512], sql[1024];
	sqlite3 *db;

	assert_non_null(c);
	strcpy(c->dir, "/tmp/proxy_test.XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->policy_path, sizeof(c->policy_path), "%s/policy.db", c->dir);
	snprintf(c->reg_path, sizeof(c->reg_path), "%s/registrations.db", c->dir);
	c->caller = udp_open(&c->caller_port);
	c->uas[0] = udp_open(&c->uas_port[0]);
	c->uas[1] = udp_open(&c->uas_port[1]);
	uint16_t ngport;

	c->ngfd = udp_open(&ngport);
	assert_int_equal(sqlite3_open(c->policy_path, &db), SQLITE_OK);
	assert_true(migrate_apply(db, db_migrations_policy, db_migrations_policy_count, NULL, NULL,
				  err, sizeof(err)) >= 0);
	test_add_user(db, "bob", "pw");
	snprintf(sql, sizeof(sql),
		 "UPDATE settings SET value = 'example.com' WHERE key = 'auth.realm';"
		 "UPDATE settings SET value = 'MD5' WHERE key = 'auth.algorithms';"
		 "INSERT INTO trunks (name, address, port) VALUES ('caller', '127.0.0.1', %u);",
		 c->caller_port);
	test_exec_ok(db, sql);
	sqlite3_close(db);
	c->policy = policy_load(c->policy_path, err, sizeof(err));
	assert_non_null(c->policy);
	c->auth_cfg = test_auth_cfg(c->policy);
	c->auth = auth_new(&c->auth_cfg);
	c->reg = registrar_new(c->reg_path, c->policy, c->auth, err, sizeof(err));
	assert_non_null(c->reg);
	c->lp = loop_new();
	struct transport_config tc;
	struct transport_ops tops = {.recv = on_recv};
	struct addr_port self;
	uint64_t sid;

	transport_config_default(&tc);
	c->tp = transport_new(c->lp, &tc, &tops, c);
	assert_int_equal(addr_port_parse("127.0.0.1:1", &self), 0);
	self.port = 0;
	assert_int_equal(transport_listen(c->tp, SIP_TRANSPORT_UDP, &self, &sid), 0);
	assert_int_equal(transport_local_addr(c->tp, sid, &self), 0);
	c->sbc = (struct sockaddr_in){.sin_family = AF_INET,
				      .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				      .sin_port = htons(self.port)};
	struct ng_dataplane_cfg dp = {.weight = 1};

	assert_int_equal(addr_port_parse("127.0.0.1:1", &dp.addr), 0);
	dp.addr.port = ngport;
	struct ng_client_cfg nc = {.dataplanes = &dp, .n_dataplanes = 1};

	c->ng = ng_client_new(c->lp, &nc);
	c->md = media_new(c->ng);
	struct proxy_cfg pc = {.nself = 1,
			       .policy = c->policy,
			       .registrar = c->reg,
			       .auth = c->auth,
			       .transport = c->tp,
			       .loop = c->lp,
			       .media = c->md};

	pc.self[0] = self;
	c->proxy = proxy_new(&pc);
	assert_non_null(c->proxy);
	register_bob(c, c->uas_port[0], 1);
	register_bob(c, c->uas_port[1], 2);
	*state = c;
	return 0;
}

int teardown(void **state)
{
	struct ctx *c = *state;

	proxy_free(c->proxy);
	media_free(c->md);
	ng_client_free(c->ng);
	transport_free(c->tp);
	loop_free(c->lp);
	registrar_free(c->reg);
	auth_free(c->auth);
	policy_free(c->policy);
	close(c->caller);
	close(c->uas[0]);
	close(c->uas[1]);
	close(c->ngfd);
	if (test_rm_dir(c->dir) != 0)
		return -1;
	free(c);
	return 0;
}

/* --- the fake dataplane ------------------------------------------------------------------- */

static void copy_key(const struct bencode_item *d, const char *key, char *out, size_t cap)
{
	const char *s;
	size_t len;

	out[0] = '\0';
	if (bencode_dict_get_str(d, key, &s, &len))
		snprintf(out, cap, "%.*s", (int)len, s);
}

void ng_reply(struct ctx *c, const struct ng_seen *r, bool ok, unsigned int port)
{
	char out[4096], relay[256];
	struct bencode_writer w;
	size_t len;

	snprintf(relay, sizeof(relay),
		 "v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\n"
		 "t=0 0\r\nm=audio %u RTP/AVP 0\r\n",
		 port);
	bencode_writer_init(&w, out, sizeof(out));
	bencode_ng_reply_start(&w, r->cookie, strlen(r->cookie));
	bencode_put_dict(&w);
	if (strcmp(r->cmd, "ping") == 0) {
		bencode_put_kv_str(&w, "result", "pong");
	} else if (ok) {
		bencode_put_kv_str(&w, "result", "ok");
		if (strcmp(r->cmd, "offer") == 0 || strcmp(r->cmd, "answer") == 0)
			bencode_put_kv_str(&w, "sdp", relay);
	} else {
		bencode_put_kv_str(&w, "result", "error");
		bencode_put_kv_str(&w, "error-reason", "refused by the test");
	}
	bencode_put_end(&w);
	assert_int_equal(bencode_writer_finish(&w, &len), 0);
	sendto(c->ngfd, out, len, 0, (const struct sockaddr *)&r->from, sizeof(r->from));
}

/* Reads what the fake dataplane received: pings are answered at once, deletes with ok, the rest
 * is recorded (and answered with a relay SDP on port 30000 + its index when auto_reply). */
static void ng_drain(struct ctx *c, bool auto_reply)
{
	char buf[65536];

	for (;;) {
		struct ng_seen r = {0};
		socklen_t sl = sizeof(r.from);
		ssize_t n = recvfrom(c->ngfd, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&r.from, &sl);
		const char *cookie, *body;
		size_t cl, bl;

		if (n <= 0)
			return;
		assert_int_equal(bencode_ng_split(buf, (size_t)n, &cookie, &cl, &body, &bl, NULL),
				 0);
		snprintf(r.cookie, sizeof(r.cookie), "%.*s", (int)cl, cookie);
		struct bencode_item *d = bencode_decode_new(body, bl, 256, NULL);

		assert_non_null(d);
		copy_key(d, "command", r.cmd, sizeof(r.cmd));
		copy_key(d, "call-id", r.call_id, sizeof(r.call_id));
		copy_key(d, "from-tag", r.from_tag, sizeof(r.from_tag));
		copy_key(d, "to-tag", r.to_tag, sizeof(r.to_tag));
		copy_key(d, "via-branch", r.via_branch, sizeof(r.via_branch));
		free(d);
		if (strcmp(r.cmd, "ping") == 0) {
			ng_reply(c, &r, true, 0);
			continue;
		}
		/* A retransmission (same cookie) is not recorded twice. */
		bool dup = false;

		for (size_t i = 0; i < c->nseen; i++)
			dup = dup || strcmp(c->seen[i].cookie, r.cookie) == 0;
		if (dup)
			continue;
		assert_true(c->nseen < 64);
		c->seen[c->nseen] = r;
		if (auto_reply || strcmp(r.cmd, "delete") == 0)
			ng_reply(c, &r, true, 30000 + (unsigned int)c->nseen * 2);
		c->nseen++;
	}
}

void pump(struct ctx *c, bool auto_reply, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		ng_drain(c, auto_reply);
		loop_run_once(c->lp, 5);
	}
	ng_drain(c, auto_reply);
}

size_t count_cmd(const struct ctx *c, const char *cmd, const char *call_id)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nseen; i++)
		n += strcmp(c->seen[i].cmd, cmd) == 0 && strcmp(c->seen[i].call_id, call_id) == 0;
	return n;
}

/* --- SIP peers ---------------------------------------------------------------------------- */

void send_sip(struct ctx *c, int fd, const char *msg)
{
	assert_true(sendto(fd, msg, strlen(msg), 0, (const struct sockaddr *)&c->sbc,
			   sizeof(c->sbc)) == (ssize_t)strlen(msg));
}

bool recv_sip(int fd, char *buf, size_t cap)
{
	for (;;) {
		ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);

		if (n <= 0)
			return false;
		buf[n] = '\0';
		if (strncmp(buf, "SIP/2.0 100 ", 12) != 0)
			return true;
	}
}

/* The value of the first header `name` of msg (up to CRLF) into out. */
static bool header(const char *msg, const char *name, char *out, size_t cap)
{
	char key[64];
	const char *h;

	snprintf(key, sizeof(key), "\r\n%s:", name);
	h = strstr(msg, key);
	if (h == NULL)
		return false;
	h += strlen(key);
	while (*h == ' ')
		h++;
	snprintf(out, cap, "%.*s", (int)strcspn(h, "\r\n"), h);
	return true;
}

void top_branch(const char *msg, char *out, size_t cap)
{
	char via[512];
	const char *b;

	assert_true(header(msg, "Via", via, sizeof(via)));
	b = strstr(via, "branch=");
	assert_non_null(b);
	b += 7;
	snprintf(out, cap, "%.*s", (int)strcspn(b, ";, "), b);
}

unsigned int sdp_port(const char *msg)
{
	const char *m = strstr(msg, "m=audio ");

	assert_non_null(m);
	return (unsigned int)strtoul(m + 8, NULL, 10);
}

void respond(struct ctx *c, int fd, uint16_t port, const char *req, int code, const char *reason,
	     const char *tag, bool with_sdp)
{
	char out[4096], from[256], to[256], cid[128], cseq[64];
	size_t len;

	len = (size_t)snprintf(out, sizeof(out), "SIP/2.0 %d %s\r\n", code, reason);
	for (const char *v = strstr(req, "\r\nVia:"); v != NULL; v = strstr(v + 2, "\r\nVia:"))
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%.*s\r\n",
					(int)strcspn(v + 2, "\r"), v + 2);
	assert_true(header(req, "From", from, sizeof(from)));
	assert_true(header(req, "To", to, sizeof(to)));
	assert_true(header(req, "Call-ID", cid, sizeof(cid)));
	assert_true(header(req, "CSeq", cseq, sizeof(cseq)));
	char body[512] = "";

	if (with_sdp)
		snprintf(body, sizeof(body),
			 "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
			 "t=0 0\r\nm=audio %u RTP/AVP 0\r\n",
			 port + 1000u);
	len += (size_t)snprintf(
		out + len, sizeof(out) - len,
		"From: %s\r\nTo: %s%s%s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
		"Contact: <sip:bob@127.0.0.1:%u>\r\n%sContent-Length: %zu\r\n\r\n%s",
		from, to, tag != NULL ? ";tag=" : "", tag != NULL ? tag : "", cid, cseq, port,
		with_sdp ? "Content-Type: application/sdp\r\n" : "", strlen(body), body);
	assert_true(len < sizeof(out));
	assert_true(sendto(fd, out, len, 0, (const struct sockaddr *)&c->sbc, sizeof(c->sbc)) ==
		    (ssize_t)len);
}

void invite(struct ctx *c, const char *call_id, const char *branch)
{
	char msg[2048];

	snprintf(msg, sizeof(msg),
		 "INVITE sip:bob@example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=%s;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:carrier@example.com>;tag=ft1\r\n"
		 "To: <sip:bob@example.com>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
		 "Contact: <sip:carrier@127.0.0.1:%u>\r\nContent-Type: application/sdp\r\n"
		 "Content-Length: %zu\r\n\r\n%s",
		 c->caller_port, branch, call_id, c->caller_port, strlen(sdp), sdp);
	send_sip(c, c->caller, msg);
}

void invite_both(struct ctx *c, const char *call_id, const char *branch, char inv[2][4096])
{
	invite(c, call_id, branch);
	pump(c, true, 20);
	for (int i = 0; i < 2; i++)
		assert_true(recv_sip(c->uas[i], inv[i], 4096));
}

void invite_follow(struct ctx *c, const char *method, const char *call_id, const char *branch)
{
	char msg[1024];

	snprintf(msg, sizeof(msg),
		 "%s sip:bob@example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=%s;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:carrier@example.com>;tag=ft1\r\n"
		 "To: <sip:bob@example.com>\r\nCall-ID: %s\r\nCSeq: 1 %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 method, c->caller_port, branch, call_id, method);
	send_sip(c, c->caller, msg);
}

void in_dialog(struct ctx *c, const char *method, const char *cid, const char *branch,
	       unsigned int cseq, bool with_sdp)
{
	char msg[2048];

	snprintf(msg, sizeof(msg),
		 "%s sip:bob@127.0.0.1:%u SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=%s;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:carrier@example.com>;tag=ft1\r\n"
		 "To: <sip:bob@example.com>;tag=tt0\r\nCall-ID: %s\r\nCSeq: %u %s\r\n"
		 "Contact: <sip:carrier@127.0.0.1:%u>\r\n%sContent-Length: %zu\r\n\r\n%s",
		 method, c->uas_port[0], c->caller_port, branch, cid, cseq, method, c->caller_port,
		 with_sdp ? "Content-Type: application/sdp\r\n" : "", with_sdp ? strlen(sdp) : 0,
		 with_sdp ? sdp : "");
	send_sip(c, c->caller, msg);
}
