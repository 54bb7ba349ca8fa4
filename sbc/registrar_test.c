/* registrar_test: REGISTER handling against temporary policy and registrations databases —
 * challenge and digest, wrong password, authorization, unregistration, expiry limits, CSeq order,
 * several contacts, the NAT'd path, max_contacts, restart and closed connections. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "db_migrations.h"
#include "policy.h"
#include "registrar.h"
#include "test_util.h"

#define T0 1800000000ull /* wall-clock seconds, 2027 */

struct ctx {
	char dir[64];
	char policy_path[128];
	char reg_path[128];
	struct policy *policy;
	struct auth *auth;
	struct auth_cfg auth_cfg;
	struct registrar *reg;
	struct registrar_src src;
	struct fixup_result fx;
	struct registrar_reply out;
};

static void open_registrar(struct ctx *c)
{
	char err[512] = "";

	c->reg = registrar_new(c->reg_path, c->policy, c->auth, err, sizeof(err));
	if (c->reg == NULL)
		fail_msg("registrar_new: %s", err);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char err[512];
	sqlite3 *db;

	if (c == NULL)
		return -1;
	strcpy(c->dir, "/tmp/registrar_test.XXXXXX");
	if (mkdtemp(c->dir) == NULL)
		return -1;
	snprintf(c->policy_path, sizeof(c->policy_path), "%s/policy.db", c->dir);
	snprintf(c->reg_path, sizeof(c->reg_path), "%s/registrations.db", c->dir);
	if (sqlite3_open(c->policy_path, &db) != SQLITE_OK)
		return -1;
	if (migrate_apply(db, db_migrations_policy, db_migrations_policy_count, NULL, NULL, err,
			  sizeof(err)) < 0)
		return -1;
	test_add_user(db, "alice", "s3cret");
	test_add_user(db, "bob", "hunter2");
	test_exec_ok(db, "UPDATE settings SET value = 'example.com' WHERE key = 'auth.realm';"
			 "UPDATE settings SET value = 'MD5' WHERE key = 'auth.algorithms';"
			 "UPDATE settings SET value = '3' WHERE key = 'registrar.max_contacts';");
	sqlite3_close(db);
	c->policy = policy_load(c->policy_path, err, sizeof(err));
	if (c->policy == NULL)
		return -1;
	c->auth_cfg = test_auth_cfg(c->policy);
	c->auth = auth_new(&c->auth_cfg);
	if (c->auth == NULL)
		return -1;
	open_registrar(c);
	addr_port_parse("203.0.113.5:40000", &c->src.addr);
	c->src.transport = SIP_TRANSPORT_UDP;
	c->src.fx = &c->fx;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	registrar_free(c->reg);
	auth_free(c->auth);
	policy_free(c->policy);
	if (test_rm_dir(c->dir) != 0)
		return -1;
	free(c);
	return 0;
}

/* What a REGISTER looks like; NULL fields are left out. */
struct req {
	const char *user;     /* From/To user (default alice) */
	const char *to;	      /* To AOR when it differs ("bob@example.com") */
	const char *auth;     /* username to authenticate as (default: user) */
	const char *password; /* NULL: no Authorization at all */
	const char *contacts; /* complete Contact header lines */
	const char *expires;  /* Expires header value */
	const char *call_id;  /* default "cid-1" */
	uint32_t cseq;
	const char *user_agent;
	const char *ruri; /* Request-URI host, default example.com */
};

static struct sip_msg *build(const struct req *q, const char *nonce)
{
	static char msg[4096];
	char authz[1024] = "", hdrs[1024] = "";
	const char *user = q->user ? q->user : "alice";
	const char *ruri = q->ruri ? q->ruri : "example.com";
	char to[256];
	struct sip_error err;

	snprintf(to, sizeof(to), "%s", q->to ? q->to : "");
	if (q->to == NULL)
		snprintf(to, sizeof(to), "%s@example.com", user);
	char uri[128];

	snprintf(uri, sizeof(uri), "sip:%s", ruri);
	if (nonce != NULL)
		test_register_authz(authz, sizeof(authz), q->auth ? q->auth : user, q->password,
				    nonce, uri);
	if (q->expires)
		snprintf(hdrs + strlen(hdrs), sizeof(hdrs) - strlen(hdrs), "Expires: %s\r\n",
			 q->expires);
	if (q->user_agent)
		snprintf(hdrs + strlen(hdrs), sizeof(hdrs) - strlen(hdrs), "User-Agent: %s\r\n",
			 q->user_agent);
	snprintf(msg, sizeof(msg),
		 "REGISTER %s SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.168.1.10:5062;branch=z9hG4bK%u;rport\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:%s@example.com>;tag=f1\r\nTo: <sip:%s>\r\n"
		 "Call-ID: %s\r\nCSeq: %u REGISTER\r\n%s%s%s"
		 "Content-Length: 0\r\n\r\n",
		 uri, q->cseq, user, to, q->call_id ? q->call_id : "cid-1", q->cseq,
		 q->contacts ? q->contacts : "", hdrs, authz);
	struct sip_msg *m = sipmsg_parse(msg, strlen(msg), SIP_TRANSPORT_UDP, &err);

	if (m == NULL)
		fail_msg("parse: %s", err.reason);
	return m;
}

static int handle(struct ctx *c, const struct req *q, const char *nonce, uint64_t now)
{
	struct sip_msg *m = build(q, nonce);
	int rc = registrar_handle(c->reg, m, &c->src, now, &c->out);

	sipmsg_free(m);
	assert_int_equal(rc, 0);
	return c->out.code;
}

/* Sends q without credentials (expecting the challenge), then answers it. Returns the code. */
static int reg(struct ctx *c, const struct req *q, uint64_t now)
{
	char nonce[128];
	const char *n;

	assert_int_equal(handle(c, q, NULL, now), 401);
	n = strstr(c->out.headers, "nonce=\"");
	assert_non_null(n);
	n += 7;
	size_t len = strcspn(n, "\"");

	assert_true(len < sizeof(nonce));
	memcpy(nonce, n, len);
	nonce[len] = '\0';
	return handle(c, q, nonce, now);
}

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_register_digest(void **state)
{
	struct ctx *c = *state;
	struct registrar_target t[4];
	struct req q = {.password = "s3cret",
			.contacts = "Contact: <sip:alice@198.51.100.7:5062>\r\n",
			.cseq = 1,
			.user_agent = "TestPhone/1.0"};

	/* RFC 3261 §22.1: no credentials, a challenge; not a failed authentication. */
	assert_int_equal(handle(c, &q, NULL, T0), 401);
	assert_non_null(strstr(c->out.headers, "WWW-Authenticate: Digest realm=\"example.com\""));
	assert_false(c->out.auth_failed);
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0, t, 4), 0);

	assert_int_equal(reg(c, &q, T0), 200);
	/* RFC 3261 §10.3 step 8: the current bindings with their expires, and a Date. */
	assert_non_null(
		strstr(c->out.headers, "Contact: <sip:alice@198.51.100.7:5062>;expires=3600\r\n"));
	assert_non_null(strstr(c->out.headers, "Date: Fri, 15 Jan 2027 08:00:00 GMT\r\n"));
	assert_int_equal(registrar_lookup(c->reg, "alice@EXAMPLE.com", T0 + 10, t, 4), 1);
	assert_string_equal(t[0].uri, "sip:alice@198.51.100.7:5062");
	assert_false(t[0].natted);
	/* Not NAT'd: requests go to the Contact itself. */
	char ap[ADDR_STRLEN];

	assert_string_equal(addr_port_format(&t[0].dst, ap, sizeof(ap)), "198.51.100.7:5062");
	assert_int_equal(t[0].transport, SIP_TRANSPORT_UDP);

	/* A REGISTER without Contact only lists (RFC 3261 §10.2.3). */
	q.contacts = NULL;
	q.cseq = 2;
	assert_int_equal(reg(c, &q, T0 + 100), 200);
	assert_non_null(
		strstr(c->out.headers, "Contact: <sip:alice@198.51.100.7:5062>;expires=3500\r\n"));

	json_t *d = registrar_dump(c->reg, T0 + 100);

	assert_non_null(d);
	assert_int_equal(json_array_size(d), 1);
	json_t *o = json_array_get(d, 0);

	assert_string_equal(json_string_value(json_object_get(o, "aor")), "alice@example.com");
	assert_string_equal(json_string_value(json_object_get(o, "user_agent")), "TestPhone/1.0");
	assert_string_equal(json_string_value(json_object_get(o, "received")), "203.0.113.5:40000");
	assert_string_equal(json_string_value(json_object_get(o, "transport")), "udp");
	assert_int_equal(json_integer_value(json_object_get(o, "expires_in")), 3500);
	assert_true(json_is_false(json_object_get(o, "natted")));
	json_decref(d);
}

static void test_wrong_password(void **state)
{
	struct ctx *c = *state;
	struct registrar_target t[4];
	struct req q = {.password = "guess",
			.contacts = "Contact: <sip:alice@198.51.100.7>\r\n",
			.cseq = 1};

	assert_int_equal(reg(c, &q, T0), 401);
	assert_true(c->out.auth_failed);
	assert_non_null(strstr(c->out.headers, "WWW-Authenticate: Digest"));
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0, t, 4), 0);

	/* The right password with an expired nonce: stale=true, not a failure (RFC 7616 §3.3). */
	char nonce[128];
	const char *n;

	q.password = "s3cret";
	assert_int_equal(handle(c, &q, NULL, T0), 401);
	n = strstr(c->out.headers, "nonce=\"") + 7;
	snprintf(nonce, sizeof(nonce), "%.*s", (int)strcspn(n, "\""), n);
	assert_int_equal(handle(c, &q, nonce, T0 + 3600), 401);
	assert_false(c->out.auth_failed);
	assert_non_null(strstr(c->out.headers, "stale=true"));
	assert_int_equal(handle(c, &q, nonce, T0 + 10), 200);

	/* An unknown user fails the same way (nothing tells a guesser which users exist). */
	q = (struct req){.user = "mallory", .password = "x", .contacts = q.contacts, .cseq = 1};
	assert_int_equal(reg(c, &q, T0), 401);
	assert_true(c->out.auth_failed);
}

static void test_authorization(void **state)
{
	struct ctx *c = *state;
	struct registrar_target t[4];
	/* RFC 3261 §10.3 step 4: alice may not register bob's AOR. */
	struct req q = {.to = "bob@example.com",
			.password = "s3cret",
			.contacts = "Contact: <sip:evil@198.51.100.66>\r\n",
			.cseq = 1};

	assert_int_equal(reg(c, &q, T0), 403);
	assert_false(c->out.auth_failed);
	assert_int_equal(registrar_lookup(c->reg, "bob@example.com", T0, t, 4), 0);
	/* Step 5: an AOR outside the Request-URI's domain. */
	q.to = "alice@example.net";
	assert_int_equal(reg(c, &q, T0), 404);
	/* Registered to the SBC's address: the default domain (the realm), where the proxy looks
	 * it up. */
	q.ruri = "192.0.2.1";
	q.to = "alice@192.0.2.1";
	assert_int_equal(reg(c, &q, T0), 200);
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0, t, 4), 1);
	q.to = NULL;
	q.cseq = 2;
	assert_int_equal(reg(c, &q, T0), 200);
	assert_int_equal(count(c->out.headers, "Contact: "), 1);
	q.to = "alice@192.0.2.2";
	q.cseq = 3;
	assert_int_equal(reg(c, &q, T0), 404);
}

static void test_unregister(void **state)
{
	struct ctx *c = *state;
	struct registrar_target t[4];
	struct req q = {.password = "s3cret",
			.contacts =
				"Contact: <sip:alice@198.51.100.7>, <sip:alice@198.51.100.8>\r\n",
			.cseq = 1};

	assert_int_equal(reg(c, &q, T0), 200);
	assert_int_equal(count(c->out.headers, "Contact: "), 2);
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0, t, 4), 2);

	/* One contact removed with expires=0. */
	q.contacts = "Contact: <sip:alice@198.51.100.7>;expires=0\r\n";
	q.cseq = 2;
	assert_int_equal(reg(c, &q, T0 + 1), 200);
	assert_int_equal(count(c->out.headers, "Contact: "), 1);
	assert_non_null(strstr(c->out.headers, "<sip:alice@198.51.100.8>"));

	/* RFC 3261 §10.3 step 6: "*" only with Expires: 0 and alone. */
	q.contacts = "Contact: *\r\n";
	q.expires = "60";
	q.cseq = 3;
	assert_int_equal(reg(c, &q, T0 + 2), 400);
	q.contacts = "Contact: *\r\nContact: <sip:alice@198.51.100.9>\r\n";
	q.expires = "0";
	assert_int_equal(reg(c, &q, T0 + 2), 400);
	q.contacts = "Contact: *\r\n";
	q.expires = NULL;
	assert_int_equal(reg(c, &q, T0 + 2), 400);
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0 + 2, t, 4), 1);

	q.expires = "0";
	assert_int_equal(reg(c, &q, T0 + 2), 200);
	assert_int_equal(count(c->out.headers, "Contact: "), 0);
	assert_non_null(strstr(c->out.headers, "Date: "));
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0 + 2, t, 4), 0);

	/* Expires: 0 on the header removes the contacts without their own expires. */
	q.contacts = "Contact: <sip:alice@198.51.100.7>\r\n";
	q.expires = NULL;
	q.cseq = 4;
	assert_int_equal(reg(c, &q, T0 + 3), 200);
	q.expires = "0";
	q.cseq = 5;
	assert_int_equal(reg(c, &q, T0 + 4), 200);
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0 + 4, t, 4), 0);
}

static void test_expiry(void **state)
{
	struct ctx *c = *state;
	struct registrar_target t[4];
	struct req q = {.password = "s3cret",
			.contacts = "Contact: <sip:alice@198.51.100.7>;expires=120\r\n",
			.expires = "600",
			.cseq = 1};

	/* The Contact's parameter wins over the header (RFC 3261 §10.2.1.1). */
	assert_int_equal(reg(c, &q, T0), 200);
	assert_non_null(strstr(c->out.headers, ";expires=120\r\n"));
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0 + 119, t, 4), 1);
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0 + 120, t, 4), 0);
	assert_int_equal(registrar_expire(c->reg, T0 + 119), 0);
	assert_int_equal(registrar_expire(c->reg, T0 + 121), 1);
	assert_int_equal(registrar_expire(c->reg, T0 + 122), 0);

	/* The header when the Contact has none. */
	q.contacts = "Contact: <sip:alice@198.51.100.7>\r\n";
	q.cseq = 2;
	assert_int_equal(reg(c, &q, T0 + 200), 200);
	assert_non_null(strstr(c->out.headers, ";expires=600\r\n"));

	/* Each Contact's own parameter, across elements and header lines. */
	q.contacts = "Contact: <sip:alice@198.51.100.1>, <sip:alice@198.51.100.2>;expires=120\r\n"
		     "Contact: sip:alice@198.51.100.3;expires=200\r\n";
	q.expires = NULL;
	q.cseq = 3;
	assert_int_equal(reg(c, &q, T0 + 300), 200);
	assert_non_null(strstr(c->out.headers, "<sip:alice@198.51.100.1>;expires=3600\r\n"));
	assert_non_null(strstr(c->out.headers, "<sip:alice@198.51.100.2>;expires=120\r\n"));
	assert_non_null(strstr(c->out.headers, "<sip:alice@198.51.100.3>;expires=200\r\n"));
}

static void test_min_max(void **state)
{
	struct ctx *c = *state;
	struct registrar_target t[4];
	struct req q = {.password = "s3cret",
			.contacts = "Contact: <sip:alice@198.51.100.7>\r\n",
			.expires = "30",
			.cseq = 1};

	/* RFC 3261 §10.3 step 7: 423 with Min-Expires (§20.23). */
	assert_int_equal(reg(c, &q, T0), 423);
	assert_string_equal(c->out.headers, "Min-Expires: 60\r\n");
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0, t, 4), 0);
	/* Too long is shortened to the maximum, which the 200 says. */
	q.expires = "99999";
	q.cseq = 2;
	assert_int_equal(reg(c, &q, T0), 200);
	assert_non_null(strstr(c->out.headers, ";expires=3600\r\n"));
	/* Exactly the minimum is fine. */
	q.contacts = "Contact: <sip:alice@198.51.100.7>;expires=60\r\n";
	q.cseq = 3;
	assert_int_equal(reg(c, &q, T0), 200);
	assert_non_null(strstr(c->out.headers, ";expires=60\r\n"));
}

static void test_cseq_order(void **state)
{
	struct ctx *c = *state;
	struct registrar_target t[4];
	struct req q = {.password = "s3cret",
			.contacts = "Contact: <sip:alice@198.51.100.7>;expires=300\r\n",
			.call_id = "cid-A",
			.cseq = 5};

	assert_int_equal(reg(c, &q, T0), 200);
	/* RFC 3261 §10.3 step 7: same Call-ID, CSeq not higher: the request fails and nothing
	 * changes, even for the contacts that were fine. */
	q.contacts = "Contact: <sip:alice@198.51.100.9>\r\nContact: <sip:alice@198.51.100.7>;"
		     "expires=0\r\n";
	q.cseq = 5;
	assert_int_equal(reg(c, &q, T0 + 1), 500);
	q.cseq = 4;
	assert_int_equal(reg(c, &q, T0 + 1), 500);
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0 + 1, t, 4), 1);
	assert_string_equal(t[0].uri, "sip:alice@198.51.100.7");
	/* "*" is held to the same rule. */
	q.contacts = "Contact: *\r\n";
	q.expires = "0";
	assert_int_equal(reg(c, &q, T0 + 1), 500);
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0 + 1, t, 4), 1);
	/* Another Call-ID (the UA restarted) replaces, whatever its CSeq. */
	q.contacts = "Contact: <sip:alice@198.51.100.7>;expires=900\r\n";
	q.expires = NULL;
	q.call_id = "cid-B";
	q.cseq = 1;
	assert_int_equal(reg(c, &q, T0 + 2), 200);
	assert_non_null(strstr(c->out.headers, ";expires=900\r\n"));
	q.cseq = 2;
	assert_int_equal(reg(c, &q, T0 + 3), 200);
}

static void test_two_contacts(void **state)
{
	struct ctx *c = *state;
	struct registrar_target t[4];
	struct req q = {.password = "s3cret",
			.contacts =
				"Contact: <sip:alice@198.51.100.7>;q=0.5\r\n"
				"Contact: \"Desk\" <sip:alice@198.51.100.8;transport=tcp>;q=1.0,"
				" sip:alice@198.51.100.9;q=0.75\r\n",
			.cseq = 1};

	assert_int_equal(reg(c, &q, T0), 200);
	assert_int_equal(count(c->out.headers, "Contact: "), 3);
	assert_non_null(
		strstr(c->out.headers, "<sip:alice@198.51.100.7>;expires=3600;q=0.500\r\n"));
	/* Best q first (RFC 3261 §16.6). */
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0, t, 4), 3);
	assert_string_equal(t[0].uri, "sip:alice@198.51.100.8;transport=tcp");
	assert_int_equal(t[0].transport, SIP_TRANSPORT_TCP);
	assert_string_equal(t[1].uri, "sip:alice@198.51.100.9");
	assert_string_equal(t[2].uri, "sip:alice@198.51.100.7");
	/* Room for fewer: the best ones. */
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0, t, 1), 1);
	assert_string_equal(t[0].uri, "sip:alice@198.51.100.8;transport=tcp");

	q.contacts = "Contact: <sip:alice@198.51.100.7>;q=1.5\r\n";
	q.cseq = 2;
	assert_int_equal(reg(c, &q, T0), 400);
	/* The same Contact twice in one request counts once. */
	q.contacts = "Contact: <sip:alice@198.51.100.7>;expires=100, <sip:alice@198.51.100.7>\r\n";
	q.cseq = 3;
	assert_int_equal(reg(c, &q, T0), 200);
	assert_int_equal(count(c->out.headers, "Contact: "), 3);
	assert_non_null(strstr(c->out.headers, "<sip:alice@198.51.100.7>;expires=100\r\n"));
	/* Longer than a Request-URI the proxy can carry. */
	char longc[700];

	snprintf(longc, sizeof(longc), "Contact: <sip:alice@198.51.100.7;x=%0600d>\r\n", 0);
	q.contacts = longc;
	q.cseq = 4;
	assert_int_equal(reg(c, &q, T0), 400);
	/* "*" among other contacts (RFC 3261 §10.3 step 6). */
	q.contacts = "Contact: <sip:alice@198.51.100.7>, *\r\n";
	q.expires = "0";
	q.cseq = 4;
	assert_int_equal(reg(c, &q, T0), 400);
}

static void test_max_contacts(void **state)
{
	struct ctx *c = *state;
	struct registrar_target t[8];
	char contact[128], cid[16];
	struct req q = {.password = "s3cret", .contacts = contact, .call_id = cid, .cseq = 1};

	/* Three phones (max_contacts is 3), each with its own Call-ID and expiry. */
	for (int i = 1; i <= 3; i++) {
		snprintf(contact, sizeof(contact),
			 "Contact: <sip:alice@198.51.100.%d>;expires=%d\r\n", i, i * 100);
		snprintf(cid, sizeof(cid), "cid-%d", i);
		assert_int_equal(reg(c, &q, T0), 200);
	}
	/* A refresh at the limit replaces nothing. */
	q.cseq = 2;
	assert_int_equal(reg(c, &q, T0 + 1), 200);
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0 + 1, t, 8), 3);
	/* A fourth: the binding closest to its expiry makes room. */
	snprintf(contact, sizeof(contact), "Contact: <sip:alice@198.51.100.4>;expires=400\r\n");
	snprintf(cid, sizeof(cid), "cid-4");
	q.cseq = 1;
	assert_int_equal(reg(c, &q, T0 + 2), 200);
	assert_int_equal(count(c->out.headers, "Contact: "), 3);
	assert_null(strstr(c->out.headers, "<sip:alice@198.51.100.1>"));
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0 + 2, t, 8), 3);
	/* One request with more new contacts than the limit: refused, nothing changes. */
	snprintf(contact, sizeof(contact),
		 "Contact: <sip:alice@198.51.100.5>, <sip:alice@198.51.100.6>, "
		 "<sip:alice@198.51.100.7>, <sip:alice@198.51.100.8>\r\n");
	snprintf(cid, sizeof(cid), "cid-5");
	assert_int_equal(reg(c, &q, T0 + 3), 403);
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0 + 3, t, 8), 3);
	assert_string_equal(t[0].uri, "sip:alice@198.51.100.4");
}

static void test_natted(void **state)
{
	struct ctx *c = *state;
	struct registrar_target t[4];
	struct req q = {.password = "s3cret",
			.contacts = "Contact: <sip:alice@192.168.1.10:5062;line=x>\r\n",
			.cseq = 1};

	c->fx.natted = 1;
	snprintf(c->fx.received_uri, sizeof(c->fx.received_uri), "sip:203.0.113.5:40000");
	assert_int_equal(reg(c, &q, T0), 200);
	/* The Contact is listed as the UA wrote it. */
	assert_non_null(strstr(c->out.headers, "Contact: <sip:alice@192.168.1.10:5062;line=x>;"));
	/* Routed through the NAT binding, with the Contact as Request-URI. */
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0, t, 4), 1);
	assert_string_equal(t[0].uri, "sip:alice@192.168.1.10:5062;line=x");
	assert_true(t[0].natted);
	char ap[ADDR_STRLEN];

	assert_string_equal(addr_port_format(&t[0].dst, ap, sizeof(ap)), "203.0.113.5:40000");
	json_t *d = registrar_dump(c->reg, T0);

	assert_true(json_is_true(json_object_get(json_array_get(d, 0), "natted")));
	json_decref(d);
}

static void test_targets(void **state)
{
	struct ctx *c = *state;
	struct registrar_target t[4];
	char ap[ADDR_STRLEN];
	struct req q = {.password = "s3cret",
			.contacts = "Contact: <sip:alice@[2001:db8::7]:5070>;q=0.9, "
				    "<sips:alice@198.51.100.7>;q=0.8, "
				    "<sip:alice@phone.example.net:5080>;q=0.7\r\n",
			.cseq = 1};

	assert_int_equal(reg(c, &q, T0), 200);
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0, t, 4), 3);
	assert_string_equal(addr_port_format(&t[0].dst, ap, sizeof(ap)), "[2001:db8::7]:5070");
	assert_int_equal(t[0].transport, SIP_TRANSPORT_UDP);
	/* sips: TLS on 5061 (RFC 3263 §4.2 default port). */
	assert_string_equal(addr_port_format(&t[1].dst, ap, sizeof(ap)), "198.51.100.7:5061");
	assert_int_equal(t[1].transport, SIP_TRANSPORT_TLS);
	/* A name is not resolved on the loop: the path the REGISTER came by. */
	assert_string_equal(addr_port_format(&t[2].dst, ap, sizeof(ap)), "203.0.113.5:40000");
	/* The user part is compared unescaped. */
	assert_int_equal(registrar_lookup(c->reg, "%61lice@example.com", T0, t, 4), 3);
	assert_int_equal(registrar_lookup(c->reg, "Alice@example.com", T0, t, 4), 0);
	assert_int_equal(registrar_lookup(c->reg, "nobody", T0, t, 4), 0);
}

static void count_natted(void *arg, const struct registrar_target *t)
{
	size_t *n = arg;

	assert_true(t->natted);
	(*n)++;
}

static void test_restart_and_conn(void **state)
{
	struct ctx *c = *state;
	struct registrar_target t[4];
	struct req q = {.password = "s3cret",
			.contacts = "Contact: <sip:alice@192.168.1.10:5062;transport=tcp>\r\n",
			.cseq = 1};
	struct req b = {.user = "bob",
			.password = "hunter2",
			.contacts = "Contact: <sip:bob@198.51.100.20>\r\n",
			.cseq = 1};
	size_t n = 0;

	c->fx.natted = 1;
	c->src.transport = SIP_TRANSPORT_TCP;
	c->src.conn_id = 42;
	assert_int_equal(reg(c, &q, T0), 200);
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0, t, 4), 1);
	assert_int_equal(t[0].conn_id, 42);
	c->fx.natted = 0;
	c->src.transport = SIP_TRANSPORT_UDP;
	c->src.conn_id = 7; /* the UDP socket it came in on */
	assert_int_equal(reg(c, &b, T0), 200);
	registrar_foreach_natted(c->reg, T0, count_natted, &n);
	assert_int_equal(n, 1);

	/* A restart: the bindings are read back from the database. */
	registrar_free(c->reg);
	open_registrar(c);
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0 + 5, t, 4), 1);
	assert_string_equal(t[0].uri, "sip:alice@192.168.1.10:5062;transport=tcp");
	assert_true(t[0].natted);
	assert_int_equal(t[0].transport, SIP_TRANSPORT_TCP);
	/* The TCP connection died with the old process; its id could name a new one. */
	assert_int_equal(t[0].conn_id, 0);
	assert_int_equal(registrar_lookup(c->reg, "bob@example.com", T0 + 5, t, 4), 1);
	assert_int_equal(t[0].conn_id, 7);
	json_t *d = registrar_dump(c->reg, T0 + 5);

	assert_int_equal(json_array_size(d), 2);
	json_decref(d);

	/* The phone reconnects and registers again; then that connection closes: the binding
	 * stays, without a connection to reuse. */
	c->fx.natted = 1;
	c->src.transport = SIP_TRANSPORT_TCP;
	c->src.conn_id = 3;
	q.cseq = 2;
	assert_int_equal(reg(c, &q, T0 + 10), 200);
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0 + 10, t, 4), 1);
	assert_int_equal(t[0].conn_id, 3);
	registrar_conn_closed(c->reg, 3);
	assert_int_equal(registrar_lookup(c->reg, "alice@example.com", T0 + 11, t, 4), 1);
	assert_int_equal(t[0].conn_id, 0);
	assert_int_equal(registrar_lookup(c->reg, "bob@example.com", T0 + 11, t, 4), 1);
	assert_int_equal(t[0].conn_id, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_register_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
		cmocka_unit_test_setup_teardown(test_authorization, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unregister, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_min_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cseq_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_contacts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_contacts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_natted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_targets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_and_conn, setup, teardown),
	};

	sipmsg_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
