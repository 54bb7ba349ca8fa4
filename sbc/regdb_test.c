/* regdb_test: the registrations database on temporary files — add/refresh with the RFC 3261
 * §10.3 Call-ID/CSeq rule, removal, "*", expiry, atomic groups and survival across a reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "regdb.h"

#define NOW 1800000000u

struct ctx {
	char dir[64];
	char path[128];
	struct regdb *db;
};

static struct regdb *open_ok(const char *path)
{
	char err[512] = "";
	struct regdb *db = regdb_open(path, err, sizeof(err));

	if (db == NULL)
		fail_msg("regdb_open: %s", err);
	return db;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	strcpy(c->dir, "/tmp/regdb_test.XXXXXX");
	if (mkdtemp(c->dir) == NULL)
		return -1;
	snprintf(c->path, sizeof(c->path), "%s/reg.db", c->dir);
	c->db = open_ok(c->path);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	char cmd[128];

	regdb_close(c->db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
	if (system(cmd) != 0)
		return -1;
	free(c);
	return 0;
}

static struct regdb_binding binding(const char *aor, const char *contact, const char *call_id,
				    uint32_t cseq)
{
	struct regdb_binding b = {
		.aor = aor,
		.contact = contact,
		.transport = SIP_TRANSPORT_UDP,
		.expires = NOW + 3600,
		.call_id = call_id,
		.cseq = cseq,
		.q = 1000,
		.natted = true,
		.user_agent = "Phone/1.0",
		.socket = "udp:203.0.113.5:5060",
	};
	assert_int_equal(addr_port_parse("203.0.113.1:40000", &b.received), 0);
	return b;
}

/* Collects what a listing visits. */
struct seen {
	int n;
	char contacts[8][128];
	char received[8][ADDR_STRLEN];
	struct regdb_binding last;
	char last_ua[300];
	int stop_after;
};

static int collect(void *arg, const struct regdb_binding *b)
{
	struct seen *s = arg;

	if (s->n < 8) {
		snprintf(s->contacts[s->n], sizeof(s->contacts[0]), "%s", b->contact);
		addr_port_format(&b->received, s->received[s->n], sizeof(s->received[0]));
	}
	s->last = *b;
	snprintf(s->last_ua, sizeof(s->last_ua), "%s", b->user_agent);
	s->last.user_agent = s->last_ua;
	s->last.aor = s->last.contact = s->last.call_id = s->last.socket = NULL;
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static void test_save_and_refresh(void **state)
{
	struct ctx *c = *state;
	struct regdb_binding b =
		binding("alice@example.com", "sip:alice@192.168.1.10:5060", "cid-1", 10);
	bool created = false;
	struct seen s = {0};

	assert_int_equal(regdb_save(c->db, &b, NOW, &created), 0);
	assert_true(created);
	assert_int_equal(regdb_count(c->db, "alice@example.com", NOW), 1);
	assert_int_equal(regdb_list(c->db, "alice@example.com", NOW, collect, &s), 1);
	assert_string_equal(s.contacts[0], "sip:alice@192.168.1.10:5060");
	assert_string_equal(s.received[0], "203.0.113.1:40000");
	assert_true(s.last.natted);
	assert_int_equal(s.last.cseq, 10);

	/* Same Call-ID: only a higher CSeq refreshes (RFC 3261 §10.3 step 7). */
	b.cseq = 10;
	assert_int_equal(regdb_save(c->db, &b, NOW, &created), -ESTALE);
	b.cseq = 9;
	assert_int_equal(regdb_save(c->db, &b, NOW, &created), -ESTALE);
	b.cseq = 11;
	b.expires = NOW + 60;
	assert_int_equal(addr_port_parse("203.0.113.1:40001", &b.received), 0);
	assert_int_equal(regdb_save(c->db, &b, NOW, &created), 0);
	assert_false(created);
	memset(&s, 0, sizeof(s));
	assert_int_equal(regdb_list(c->db, "alice@example.com", NOW, collect, &s), 1);
	assert_string_equal(s.received[0], "203.0.113.1:40001");
	assert_int_equal(s.last.expires, NOW + 60);

	/* Another Call-ID (the UA rebooted): replaced whatever its CSeq. */
	b.call_id = "cid-2";
	b.cseq = 1;
	assert_int_equal(regdb_save(c->db, &b, NOW, &created), 0);
	assert_false(created);
	assert_int_equal(regdb_count(c->db, "alice@example.com", NOW), 1);
}

static void test_several_contacts_and_removal(void **state)
{
	struct ctx *c = *state;
	struct regdb_binding a = binding("bob@example.com", "sip:bob@10.0.0.1", "cid-a", 5);
	struct regdb_binding b = binding("bob@example.com", "sip:bob@10.0.0.2", "cid-b", 7);
	struct regdb_binding other = binding("carol@example.com", "sip:carol@10.0.0.3", "x", 1);
	struct seen s = {0};

	a.q = 500;
	b.q = 900;
	assert_int_equal(regdb_save(c->db, &a, NOW, NULL), 0);
	assert_int_equal(regdb_save(c->db, &b, NOW, NULL), 0);
	assert_int_equal(regdb_save(c->db, &other, NOW, NULL), 0);
	assert_int_equal(regdb_list(c->db, "bob@example.com", NOW, collect, &s), 2);
	assert_string_equal(s.contacts[0], "sip:bob@10.0.0.2"); /* higher q first */
	assert_string_equal(s.contacts[1], "sip:bob@10.0.0.1");

	/* An iteration can stop early. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	assert_int_equal(regdb_list(c->db, "bob@example.com", NOW, collect, &s), 1);

	/* Removal follows the same ordering rule. */
	assert_int_equal(regdb_remove(c->db, "bob@example.com", "sip:bob@10.0.0.1", "cid-a", 5),
			 -ESTALE);
	assert_int_equal(regdb_remove(c->db, "bob@example.com", "sip:bob@10.0.0.1", "cid-a", 6), 0);
	assert_int_equal(regdb_remove(c->db, "bob@example.com", "sip:bob@10.0.0.1", "cid-a", 7),
			 -ENOENT);
	assert_int_equal(regdb_count(c->db, "bob@example.com", NOW), 1);

	/* "*": refused as a whole when one binding has the same Call-ID and a CSeq not lower. */
	assert_int_equal(regdb_save(c->db, &a, NOW, NULL), 0);
	assert_int_equal(regdb_remove_all(c->db, "bob@example.com", "cid-b", 7), -ESTALE);
	assert_int_equal(regdb_count(c->db, "bob@example.com", NOW), 2);
	assert_int_equal(regdb_remove_all(c->db, "bob@example.com", "cid-b", 8), 2);
	assert_int_equal(regdb_count(c->db, "bob@example.com", NOW), 0);
	assert_int_equal(regdb_remove_all(c->db, "bob@example.com", "cid-z", 1), 0);
	assert_int_equal(regdb_count(c->db, "carol@example.com", NOW), 1);
}

static void test_expiry(void **state)
{
	struct ctx *c = *state;
	struct regdb_binding a = binding("dan@example.com", "sip:dan@10.0.0.1", "c1", 1);
	struct regdb_binding b = binding("dan@example.com", "sip:dan@10.0.0.2", "c2", 1);
	struct seen s = {0};

	a.expires = NOW + 10;
	b.expires = NOW + 100;
	assert_int_equal(regdb_save(c->db, &a, NOW, NULL), 0);
	assert_int_equal(regdb_save(c->db, &b, NOW, NULL), 0);
	/* Expired bindings are no longer listed, even before they are deleted. */
	assert_int_equal(regdb_count(c->db, "dan@example.com", NOW + 10), 1);
	assert_int_equal(regdb_expire(c->db, NOW + 9, collect, &s), 0);
	assert_int_equal(regdb_expire(c->db, NOW + 10, collect, &s), 1);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.contacts[0], "sip:dan@10.0.0.1");
	assert_int_equal(regdb_expire(c->db, NOW + 1000, NULL, NULL), 1);
	assert_int_equal(regdb_count(c->db, "dan@example.com", 0), 0);
}

static void test_survives_reopen(void **state)
{
	struct ctx *c = *state;
	struct regdb_binding b =
		binding("erin@example.com", "sip:erin@[fd00::1]:5070;transport=tcp", "cid-e", 3);
	char long_ua[400];
	struct seen s = {0};

	memset(long_ua, 'u', sizeof(long_ua) - 1);
	long_ua[sizeof(long_ua) - 1] = '\0';
	assert_int_equal(addr_port_parse("[2001:db8::7]:61000", &b.received), 0);
	b.transport = SIP_TRANSPORT_TCP;
	b.conn_id = 42;
	b.natted = false;
	b.q = 250;
	b.user_agent = long_ua;
	assert_int_equal(regdb_save(c->db, &b, NOW, NULL), 0);
	struct regdb_binding gone = binding("erin@example.com", "sip:old@10.0.0.9", "old", 1);
	gone.expires = NOW - 1;
	assert_int_equal(regdb_save(c->db, &gone, NOW - 100, NULL), 0);

	regdb_close(c->db);
	c->db = open_ok(c->path);
	assert_int_equal(regdb_load_all(c->db, NOW, collect, &s), 1);
	assert_string_equal(s.contacts[0], "sip:erin@[fd00::1]:5070;transport=tcp");
	assert_string_equal(s.received[0], "[2001:db8::7]:61000");
	assert_int_equal(s.last.transport, SIP_TRANSPORT_TCP);
	assert_int_equal(s.last.conn_id, 42);
	assert_false(s.last.natted);
	assert_int_equal(s.last.q, 250);
	assert_int_equal(s.last.cseq, 3);
	assert_int_equal(s.last.expires, NOW + 3600);
	assert_int_equal(strlen(s.last_ua), REGDB_USER_AGENT_MAX);

	/* The TCP connection is gone after a restart, or when it closes. */
	assert_int_equal(regdb_conn_closed(c->db, 42), 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(regdb_load_all(c->db, NOW, collect, &s), 1);
	assert_int_equal(s.last.conn_id, 0);
	assert_int_equal(regdb_conn_closed(c->db, 42), 0);
}

static void test_atomic_group(void **state)
{
	struct ctx *c = *state;
	struct regdb_binding a = binding("fay@example.com", "sip:fay@10.0.0.1", "g", 2);
	struct regdb_binding b = binding("fay@example.com", "sip:fay@10.0.0.2", "g", 2);

	/* One REGISTER with two Contacts whose second update fails: neither stays. */
	assert_int_equal(regdb_save(c->db, &b, NOW, NULL), 0);
	assert_int_equal(regdb_begin(c->db), 0);
	a.cseq = b.cseq = 2;
	assert_int_equal(regdb_save(c->db, &a, NOW, NULL), 0);
	assert_int_equal(regdb_save(c->db, &b, NOW, NULL), -ESTALE);
	assert_int_equal(regdb_rollback(c->db), 0);
	assert_int_equal(regdb_count(c->db, "fay@example.com", NOW), 1);

	a.cseq = b.cseq = 3;
	assert_int_equal(regdb_begin(c->db), 0);
	assert_int_equal(regdb_save(c->db, &a, NOW, NULL), 0);
	assert_int_equal(regdb_save(c->db, &b, NOW, NULL), 0);
	assert_int_equal(regdb_commit(c->db), 0);
	assert_int_equal(regdb_count(c->db, "fay@example.com", NOW), 2);
}

static void test_invalid(void **state)
{
	struct ctx *c = *state;
	struct regdb_binding b = binding("gus@example.com", "sip:gus@10.0.0.1", "i", 1);
	char big[1100];

	b.cseq = 0x80000000u; /* RFC 3261 §8.1.1.5: below 2^31 */
	assert_int_equal(regdb_save(c->db, &b, NOW, NULL), -EINVAL);
	b.cseq = 1;
	b.q = 1001;
	assert_int_equal(regdb_save(c->db, &b, NOW, NULL), -EINVAL);
	b.q = 0;
	b.received.ip.family = 0;
	assert_int_equal(regdb_save(c->db, &b, NOW, NULL), -EINVAL);
	b = binding("gus@example.com", "sip:gus@10.0.0.1", "i", 1);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	b.contact = big;
	assert_int_equal(regdb_save(c->db, &b, NOW, NULL), -EINVAL);
	b.contact = "sip:gus@10.0.0.1";
	b.call_id = "";
	assert_int_equal(regdb_save(c->db, &b, NOW, NULL), -EINVAL);
	b.call_id = "i";
	b.expires = 0;
	assert_int_equal(regdb_save(c->db, &b, NOW, NULL), -EINVAL);
	assert_int_equal(regdb_count(c->db, "gus@example.com", 0), 0);
}

static void test_single_owner(void **state)
{
	struct ctx *c = *state;
	char err[512] = "";

	/* The first handle holds the file: a second sbc-sip on it is refused. */
	errno = 0;
	assert_null(regdb_open(c->path, err, sizeof(err)));
	assert_int_equal(errno, EBUSY);
	assert_non_null(strstr(err, "in use"));
}

static void test_not_a_database(void **state)
{
	struct ctx *c = *state;
	char path[160], err[512] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/garbage.db", c->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("this is not an SQLite database, but it is long enough to have a header......\n", f);
	fclose(f);
	assert_null(regdb_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, "not a database"));
}

static void test_newer_schema_refused(void **state)
{
	struct ctx *c = *state;
	char err[512] = "";
	sqlite3 *db;

	regdb_close(c->db);
	c->db = NULL;
	assert_int_equal(sqlite3_open(c->path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(db,
			     "INSERT INTO schema_migrations (version, name, sha256) VALUES "
			     "(99, 'future', '00000000000000000000000000000000000000000000"
			     "00000000000000000000')",
			     NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	errno = 0;
	assert_null(regdb_open(c->path, err, sizeof(err)));
	assert_int_equal(errno, EPROTO);
	assert_non_null(strstr(err, "newer"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_save_and_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_several_contacts_and_removal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_survives_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
