/* policy_test: snapshots loaded from temporary policy databases: lookups, validation, schema
 * version refusal and reload that keeps the old snapshot on failure. */
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
#include <sys/stat.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "db_migrations.h"
#include "policy.h"

struct ctx {
	char dir[64];
	char path[128];
	sqlite3 *db; /* read-write, playing sbc-mgmt */
};

static void exec_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char err[512];

	if (c == NULL)
		return -1;
	strcpy(c->dir, "/tmp/policy_test.XXXXXX");
	if (mkdtemp(c->dir) == NULL)
		return -1;
	snprintf(c->path, sizeof(c->path), "%s/policy.db", c->dir);
	if (sqlite3_open(c->path, &c->db) != SQLITE_OK)
		return -1;
	sqlite3_exec(c->db, "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL", NULL, NULL,
		     NULL);
	if (migrate_apply(c->db, db_migrations_policy, db_migrations_policy_count, NULL, NULL, err,
			  sizeof(err)) < 0)
		return -1;
	exec_ok(c->db,
		"INSERT INTO users (username, domain, realm, ha1_md5, ha1_sha256) VALUES "
		"('alice', 'example.com', 'example.com', '0123456789abcdef0123456789abcdef', "
		"'0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'),"
		"('Bob', 'example.com', 'example.com', 'ffffffffffffffffffffffffffffffff', NULL),"
		"('carol', 'example.com', 'example.com', NULL, "
		"'abababababababababababababababababababababababababababababababab');"
		"INSERT INTO users (username, domain, realm, enabled, ha1_md5) VALUES "
		"('dave', 'example.com', 'example.com', 0, '0123456789abcdef0123456789abcdef');"
		"INSERT INTO trunks (name, address, port, transport) VALUES "
		"('carrier', '192.0.2.10', 5060, 'udp'), ('carrier-b', '192.0.2.10', 5080, 'tcp'),"
		"('pbx', '2001:db8::5', 5060, 'udp');"
		"INSERT INTO trunks (name, address, enabled) VALUES ('old', '192.0.2.99', 0);"
		"INSERT INTO routes (prefix, trunk) VALUES ('', 'carrier'), ('49', 'carrier-b'),"
		"('4930', 'pbx'), ('+49', 'carrier-b'), ('4989', 'old');"
		"INSERT INTO trusted_networks (cidr) VALUES ('10.10.0.0/16'), ('fd00:1::/64');"
		"UPDATE settings SET value = '20' WHERE key = 'nat.keepalive_interval';"
		"UPDATE settings SET value = 'MD5' WHERE key = 'auth.algorithms';");
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	char cmd[128];

	sqlite3_close(c->db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
	if (system(cmd) != 0)
		return -1;
	free(c);
	return 0;
}

static struct policy *load_ok(struct ctx *c)
{
	char err[512] = "";
	struct policy *p = policy_load(c->path, err, sizeof(err));

	if (p == NULL)
		fail_msg("policy_load: %s", err);
	return p;
}

static void test_settings(void **state)
{
	struct ctx *c = *state;
	struct policy *p = load_ok(c);
	const struct policy_settings *s = policy_settings(p);

	assert_int_equal(s->nat_test_mask, 19);
	assert_int_equal(s->keepalive_interval, 20);
	assert_int_equal(s->reg_min_expires, 60);
	assert_int_equal(s->reg_default_expires, 3600);
	assert_int_equal(s->reg_max_expires, 3600);
	assert_string_equal(s->realm, "sbc.local");
	assert_int_equal(s->auth_alg_count, 1);
	assert_int_equal(s->auth_algs[0], DIGEST_ALG_MD5);
	assert_int_equal(s->ban_threshold, 10);
	assert_true(policy_config_version(p) > 0);
	policy_free(p);

	/* A deleted row falls back to the key's default. */
	exec_ok(c->db, "DELETE FROM settings WHERE key = 'nat.keepalive_interval'");
	p = load_ok(c);
	assert_int_equal(policy_settings(p)->keepalive_interval, 30);
	policy_free(p);
}

static void test_users(void **state)
{
	struct ctx *c = *state;
	struct policy *p = load_ok(c);
	const struct policy_user *u;

	assert_int_equal(policy_user_count(p), 3); /* dave is disabled */
	u = policy_user_find(p, "alice", "Example.COM");
	assert_non_null(u);
	assert_string_equal(u->realm, "example.com");
	assert_string_equal(policy_user_ha1(u, DIGEST_ALG_MD5), "0123456789abcdef0123456789abcdef");
	assert_non_null(policy_user_ha1(u, DIGEST_ALG_SHA256));
	/* RFC 3261 §19.1.4: the user part is case-sensitive. */
	assert_null(policy_user_find(p, "Alice", "example.com"));
	u = policy_user_find(p, "Bob", "example.com");
	assert_non_null(u);
	assert_null(policy_user_ha1(u, DIGEST_ALG_SHA256));
	u = policy_user_find(p, "carol", "example.com");
	assert_non_null(u);
	assert_null(policy_user_ha1(u, DIGEST_ALG_MD5));
	assert_null(policy_user_find(p, "dave", "example.com"));
	assert_null(policy_user_find(p, "alice", "example.org"));
	assert_null(policy_user_find(p, "", ""));
	policy_free(p);
}

static struct addr_port ap(const char *s)
{
	struct addr_port a;

	assert_int_equal(addr_port_parse(s, &a), 0);
	return a;
}

static void test_trunks_and_routes(void **state)
{
	struct ctx *c = *state;
	struct policy *p = load_ok(c);
	struct addr_port src;
	const struct policy_trunk *t;

	assert_int_equal(policy_trunk_count(p), 3);
	src = ap("192.0.2.10:5080");
	t = policy_trunk_by_source(p, &src);
	assert_non_null(t);
	assert_string_equal(t->name, "carrier-b");
	assert_int_equal(t->transport, SIP_TRANSPORT_TCP);
	src = ap("192.0.2.10:40000"); /* another source port: still that address's trunk */
	t = policy_trunk_by_source(p, &src);
	assert_non_null(t);
	assert_string_equal(t->name, "carrier");
	src = ap("[2001:db8::5]:5060");
	assert_non_null(policy_trunk_by_source(p, &src));
	src = ap("192.0.2.99:5060"); /* disabled trunk: not trusted */
	assert_null(policy_trunk_by_source(p, &src));
	src = ap("198.51.100.1:5060");
	assert_null(policy_trunk_by_source(p, &src));
	assert_null(policy_trunk_find(p, "old"));
	assert_non_null(policy_trunk_find(p, "pbx"));

	/* Longest prefix wins; the empty prefix catches the rest. */
	assert_int_equal(policy_route_count(p), 4); /* 4989 -> disabled trunk left out */
	assert_string_equal(policy_route(p, "4930123456", 10)->name, "pbx");
	assert_string_equal(policy_route(p, "4940123456", 10)->name, "carrier-b");
	assert_string_equal(policy_route(p, "4989123", 7)->name, "carrier-b");
	assert_string_equal(policy_route(p, "+4930", 5)->name, "carrier-b");
	assert_string_equal(policy_route(p, "1234", 4)->name, "carrier");
	assert_string_equal(policy_route(p, "", 0)->name, "carrier");
	assert_string_equal(policy_route(p, "493", 3)->name, "carrier-b");
	/* len is honoured: "4930" cut to "49". */
	assert_string_equal(policy_route(p, "4930", 2)->name, "carrier-b");
	const struct policy_trunk *pbx = policy_route(p, "4930", 4);
	assert_int_equal(pbx->addr.ip.family, AF_INET6);
	assert_int_equal(pbx->addr.port, 5060);
	policy_free(p);

	exec_ok(c->db, "DELETE FROM routes WHERE prefix = ''");
	p = load_ok(c);
	assert_null(policy_route(p, "1234", 4));
	assert_non_null(policy_route(p, "49", 2));
	policy_free(p);
}

static void test_trusted(void **state)
{
	struct ctx *c = *state;
	struct policy *p = load_ok(c);
	struct addr_ip ip;

	assert_int_equal(policy_trusted(p)->count, 2);
	assert_true(addr_parse("10.10.3.4", 9, &ip));
	assert_true(addr_set_contains(policy_trusted(p), &ip));
	assert_true(addr_parse("10.11.3.4", 9, &ip));
	assert_false(addr_set_contains(policy_trusted(p), &ip));
	policy_free(p);
}

static void expect_load_error(struct ctx *c, const char *path, int err_no, const char *needle)
{
	char err[512] = "";

	errno = 0;
	assert_null(policy_load(path ? path : c->path, err, sizeof(err)));
	assert_int_equal(errno, err_no);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' lacks '%s'", err, needle);
}

static void test_schema_refused(void **state)
{
	struct ctx *c = *state;
	char other[160];
	struct stat sb;

	/* Missing file: read-only open does not create it. */
	snprintf(other, sizeof(other), "%s/missing.db", c->dir);
	expect_load_error(c, other, ENOENT, "sbc-db migrate");
	assert_int_equal(stat(other, &sb), -1);

	/* An empty database (never migrated). */
	snprintf(other, sizeof(other), "%s/empty.db", c->dir);
	sqlite3 *e;
	assert_int_equal(sqlite3_open(other, &e), SQLITE_OK);
	exec_ok(e, "CREATE TABLE unrelated (x)");
	sqlite3_close(e);
	expect_load_error(c, other, EPROTO, "run `sbc-db migrate");

	/* Not a database at all. */
	snprintf(other, sizeof(other), "%s/garbage.db", c->dir);
	FILE *f = fopen(other, "w");
	assert_non_null(f);
	fputs("this is not an SQLite database, but it is long enough to have a header......\n", f);
	fclose(f);
	expect_load_error(c, other, EIO, "not a database");

	/* Migrated by a newer release. */
	exec_ok(c->db, "INSERT INTO schema_migrations (version, name, sha256) VALUES (2, 'next', "
		       "'0000000000000000000000000000000000000000000000000000000000000000')");
	expect_load_error(c, NULL, EPROTO, "newer");
}

static void test_invalid_content(void **state)
{
	struct ctx *c = *state;

	/* Passes the schema's character check, but is no IP address. */
	exec_ok(c->db, "INSERT INTO trunks (name, address) VALUES ('bad', '1.2.3')");
	expect_load_error(c, NULL, EINVAL, "trunk bad: address '1.2.3'");
	exec_ok(c->db, "DELETE FROM trunks WHERE name = 'bad'");

	exec_ok(c->db,
		"UPDATE settings SET value = '7200' WHERE key = 'registrar.default_expires'");
	expect_load_error(c, NULL, EINVAL, "registrar.default_expires (7200)");
	exec_ok(c->db,
		"UPDATE settings SET value = '3600' WHERE key = 'registrar.default_expires'");

	exec_ok(c->db, "UPDATE settings SET value = 'a\"b' WHERE key = 'auth.realm'");
	expect_load_error(c, NULL, EINVAL, "auth.realm");
	exec_ok(c->db, "UPDATE settings SET value = 'ok' WHERE key = 'auth.realm'");

	exec_ok(c->db, "UPDATE settings SET value = 'MD5,SHA-1' WHERE key = 'auth.algorithms'");
	expect_load_error(c, NULL, EINVAL, "auth.algorithms");
	exec_ok(c->db, "UPDATE settings SET value = 'MD5, MD5' WHERE key = 'auth.algorithms'");
	expect_load_error(c, NULL, EINVAL, "auth.algorithms");
	exec_ok(c->db,
		"UPDATE settings SET value = ' SHA-256 , MD5' WHERE key = 'auth.algorithms'");

	exec_ok(c->db, "INSERT INTO trusted_networks (cidr) VALUES ('10.0.0.0/33')");
	expect_load_error(c, NULL, EINVAL, "10.0.0.0/33");
	exec_ok(c->db, "DELETE FROM trusted_networks WHERE cidr = '10.0.0.0/33'");

	struct policy *p = load_ok(c);
	assert_int_equal(policy_settings(p)->auth_alg_count, 2);
	assert_int_equal(policy_settings(p)->auth_algs[0], DIGEST_ALG_SHA256);
	policy_free(p);
}

static void test_reload(void **state)
{
	struct ctx *c = *state;
	struct policy *cur = load_ok(c);
	char err[512] = "";
	uint64_t v1 = policy_config_version(cur);

	exec_ok(c->db, "INSERT INTO users (username, domain, realm, ha1_md5) VALUES ('erin', "
		       "'example.com', 'example.com', '0123456789abcdef0123456789abcdef')");
	assert_null(policy_user_find(cur, "erin", "example.com"));
	assert_int_equal(policy_reload(&cur, c->path, err, sizeof(err)), 0);
	assert_non_null(policy_user_find(cur, "erin", "example.com"));
	uint64_t v2 = policy_config_version(cur);
	assert_true(v2 > v1);

	/* A broken policy: the old snapshot stays and the error says why. */
	struct policy *before = cur;
	exec_ok(c->db, "UPDATE settings SET value = '10' WHERE key = 'registrar.max_expires'");
	assert_int_equal(policy_reload(&cur, c->path, err, sizeof(err)), -EINVAL);
	assert_ptr_equal(cur, before);
	assert_non_null(strstr(err, "registrar.max_expires"));
	assert_non_null(strstr(err, "keeping config_version"));
	assert_non_null(policy_user_find(cur, "erin", "example.com"));

	/* Starting without a snapshot: the reload is the first load. */
	struct policy *none = NULL;
	exec_ok(c->db, "UPDATE settings SET value = '3600' WHERE key = 'registrar.max_expires'");
	assert_int_equal(policy_reload(&none, c->path, err, sizeof(err)), 0);
	assert_non_null(none);
	policy_free(none);
	policy_free(cur);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trunks_and_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trusted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_content, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
