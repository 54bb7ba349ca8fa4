/* proxy_media_test: the proxy core with media through a fake dataplane on loopback — a forked
 * INVITE gets one offer per branch (distinct via-branch, each branch its own relay SDP), answers
 * carry their branch, the first 2xx releases the other branches' records, and a CANCEL while the
 * offer is at the dataplane gets 200, the INVITE 487, and the media is deleted (nothing
 * forwarded, nothing left behind); a shutdown with offers pending leaks nothing. Fork life cycle:
 * a BYE, a forked MESSAGE and an UPDATE with SDP free their fork as soon as the final went up and
 * every branch is done, and late responses or retransmissions afterwards are absorbed; an
 * answered INVITE's fork is slimmed once every branch is done, and the callee's 2xx sent again
 * after that still goes up with the relay's SDP. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "bencode.h"
#include "db_migrations.h"
#include "loop.h"
#include "media.h"
#include "policy.h"
#include "proxy.h"
#include "proxy_priv.h" /* the count of live forks */
#include "registrar.h"
#include "transport.h"

/* One ng request the fake dataplane received. */
struct ng_seen {
	char cmd[16], call_id[64], from_tag[64], to_tag[64], via_branch[64];
	char cookie[64];
	struct sockaddr_in from;
};

struct ctx {
	char dir[64], policy_path[128], reg_path[128];
	struct policy *policy;
	struct auth_cfg auth_cfg;
	struct auth *auth;
	struct registrar *reg;
	struct loop *lp;
	struct transport *tp;
	struct ng_client *ng;
	struct media *md;
	struct proxy *proxy;
	struct sockaddr_in sbc;
	int caller, uas[2], ngfd;
	uint16_t caller_port, uas_port[2];
	struct ng_seen seen[64];
	size_t nseen;
};

static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 192.168.1.10\r\ns=-\r\nc=IN IP4 192.168.1.10\r\n"
			  "t=0 0\r\nm=audio 27910 RTP/AVP 0\r\n";

static const char *ha1_lookup(void *arg, const char *user, const char *domain, enum digest_alg alg)
{
	struct ctx *c = arg;
	const struct policy_user *u = policy_user_find(c->policy, user, domain);

	return u ? policy_user_ha1(u, alg) : NULL;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

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
	char msg[2048], authz[1024] = "", ha1[DIGEST_HEX_MAX], resp[DIGEST_HEX_MAX], nonce[128];
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
		digest_ha1(DIGEST_ALG_MD5, "bob", "example.com", "pw", ha1);
		auth_response(DIGEST_ALG_MD5, ha1, nonce, "00000001", "c0ffee", "auth", "REGISTER",
			      "sip:example.com", resp);
		snprintf(authz, sizeof(authz),
			 "Authorization: Digest username=\"bob\", realm=\"example.com\", "
			 "nonce=\"%s\", uri=\"sip:example.com\", response=\"%s\", algorithm=MD5, "
			 "qop=auth, nc=00000001, cnonce=\"c0ffee\"\r\n",
			 nonce, resp);
	}
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char err[512], sql[1024], md5[DIGEST_HEX_MAX], sha[DIGEST_HEX_MAX];
	sqlite3 *db;

	assert_non_null(c);
	strcpy(c->dir, "/tmp/proxy_media_test.XXXXXX");
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
	digest_ha1(DIGEST_ALG_MD5, "bob", "example.com", "pw", md5);
	digest_ha1(DIGEST_ALG_SHA256, "bob", "example.com", "pw", sha);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO users (username, domain, realm, ha1_md5, ha1_sha256) VALUES "
		 "('bob', 'example.com', 'example.com', '%s', '%s');"
		 "UPDATE settings SET value = 'example.com' WHERE key = 'auth.realm';"
		 "UPDATE settings SET value = 'MD5' WHERE key = 'auth.algorithms';"
		 "INSERT INTO trunks (name, address, port) VALUES ('caller', '127.0.0.1', %u);",
		 md5, sha, c->caller_port);
	exec_ok(db, sql);
	sqlite3_close(db);
	c->policy = policy_load(c->policy_path, err, sizeof(err));
	assert_non_null(c->policy);
	const struct policy_settings *ps = policy_settings(c->policy);

	c->auth_cfg = (struct auth_cfg){.realm = ps->realm,
					.algs = ps->auth_algs,
					.alg_count = ps->auth_alg_count,
					.nonce_ttl_s = 300,
					.ha1 = ha1_lookup,
					.ha1_arg = c};
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

static int teardown(void **state)
{
	struct ctx *c = *state;
	char cmd[128];

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
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
	if (system(cmd) != 0)
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

/* Sends the reply to request r: ok with a relay SDP on port `port`, or an error. */
static void ng_reply(struct ctx *c, const struct ng_seen *r, bool ok, unsigned int port)
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

/* Runs the loop a few rounds, serving the fake dataplane. */
static void pump(struct ctx *c, bool auto_reply, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		ng_drain(c, auto_reply);
		loop_run_once(c->lp, 5);
	}
	ng_drain(c, auto_reply);
}

static size_t count_cmd(const struct ctx *c, const char *cmd, const char *call_id)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nseen; i++)
		n += strcmp(c->seen[i].cmd, cmd) == 0 && strcmp(c->seen[i].call_id, call_id) == 0;
	return n;
}

/* --- SIP peers ---------------------------------------------------------------------------- */

static void send_sip(struct ctx *c, int fd, const char *msg)
{
	assert_true(sendto(fd, msg, strlen(msg), 0, (const struct sockaddr *)&c->sbc,
			   sizeof(c->sbc)) == (ssize_t)strlen(msg));
}

/* The next SIP message on fd (NUL-terminated in buf), skipping 100 Trying; false when none. */
static bool recv_sip(int fd, char *buf, size_t cap)
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

/* The branch parameter of the top Via of msg. */
static void top_branch(const char *msg, char *out, size_t cap)
{
	char via[512];
	const char *b;

	assert_true(header(msg, "Via", via, sizeof(via)));
	b = strstr(via, "branch=");
	assert_non_null(b);
	b += 7;
	snprintf(out, cap, "%.*s", (int)strcspn(b, ";, "), b);
}

/* The m=audio port of the SDP in msg. */
static unsigned int sdp_port(const char *msg)
{
	const char *m = strstr(msg, "m=audio ");

	assert_non_null(m);
	return (unsigned int)strtoul(m + 8, NULL, 10);
}

/* A response to request req from a UAS: every Via, From, To (+tag), Call-ID, CSeq, Contact. */
static void respond(struct ctx *c, int fd, uint16_t port, const char *req, int code,
		    const char *reason, const char *tag, bool with_sdp)
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

static void invite(struct ctx *c, const char *call_id, const char *branch)
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

/* --- tests -------------------------------------------------------------------------------- */

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
	char buf[4096], cancel[1024];
	const char *cid = "cancel-pending-1";

	invite(c, cid, "z9hG4bKcaller3");
	pump(c, false, 10); /* the offers stay unanswered */
	assert_int_equal(count_cmd(c, "offer", cid), 2);
	snprintf(cancel, sizeof(cancel),
		 "CANCEL sip:bob@example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKcaller3;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:carrier@example.com>;tag=ft1\r\n"
		 "To: <sip:bob@example.com>\r\nCall-ID: %s\r\nCSeq: 1 CANCEL\r\n"
		 "Content-Length: 0\r\n\r\n",
		 c->caller_port, cid);
	send_sip(c, c->caller, cancel);
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
	char ack[1024];

	snprintf(ack, sizeof(ack),
		 "ACK sip:bob@example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKcaller3;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:carrier@example.com>;tag=ft1\r\n"
		 "To: <sip:bob@example.com>\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\n"
		 "Content-Length: 0\r\n\r\n",
		 c->caller_port, cid);
	send_sip(c, c->caller, ack);
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

/* The number of forks the proxy holds. */
static size_t forks(const struct ctx *c)
{
	return c->proxy->nforks;
}

/* An in-dialog request `method` of call cid straight to UAS 0 (To tag), maybe with SDP. */
static void in_dialog(struct ctx *c, const char *method, const char *cid, const char *branch,
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

	invite(c, cid, "z9hG4bKslim1");
	pump(c, true, 20);
	for (int i = 0; i < 2; i++)
		assert_true(recv_sip(c->uas[i], inv[i], sizeof(inv[i])));
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
	char cancel[1024];

	snprintf(cancel, sizeof(cancel),
		 "CANCEL sip:bob@example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKslim1;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:carrier@example.com>;tag=ft1\r\n"
		 "To: <sip:bob@example.com>\r\nCall-ID: %s\r\nCSeq: 1 CANCEL\r\n"
		 "Content-Length: 0\r\n\r\n",
		 c->caller_port, cid);
	send_sip(c, c->caller, cancel);
	pump(c, true, 20);
	assert_true(recv_sip(c->caller, buf, sizeof(buf)));
	assert_true(strncmp(buf, "SIP/2.0 200 ", 12) == 0 && strstr(buf, "CSeq: 1 CANCEL") != NULL);
	assert_int_equal(c->nseen, before);
	assert_false(recv_sip(c->uas[0], buf, sizeof(buf)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fork_per_branch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_branch_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_while_offer_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_while_offer_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bye_fork_freed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forked_message_freed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_fork_freed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_2xx_again_after_slim, setup, teardown),
	};

	sipmsg_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
