/* test_util: helpers shared by the registrar's and the proxy's tests (test_util.h). */
#include "test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

void test_exec_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

void test_add_user(sqlite3 *db, const char *user, const char *pw)
{
	char md5[DIGEST_HEX_MAX], sha[DIGEST_HEX_MAX], sql[512];

	digest_ha1(DIGEST_ALG_MD5, user, "example.com", pw, md5);
	digest_ha1(DIGEST_ALG_SHA256, user, "example.com", pw, sha);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO users (username, domain, realm, ha1_md5, ha1_sha256) VALUES "
		 "('%s', 'example.com', 'example.com', '%s', '%s')",
		 user, md5, sha);
	test_exec_ok(db, sql);
}

const char *test_ha1_lookup(void *arg, const char *user, const char *domain, enum digest_alg alg)
{
	const struct policy_user *u = policy_user_find(arg, user, domain);

	return u ? policy_user_ha1(u, alg) : NULL;
}

struct auth_cfg test_auth_cfg(struct policy *policy)
{
	const struct policy_settings *ps = policy_settings(policy);

	return (struct auth_cfg){.realm = ps->realm,
				 .algs = ps->auth_algs,
				 .alg_count = ps->auth_alg_count,
				 .nonce_ttl_s = 300,
				 .ha1 = test_ha1_lookup,
				 .ha1_arg = policy};
}

void test_register_authz(char *out, size_t cap, const char *user, const char *pw, const char *nonce,
			 const char *uri)
{
	char ha1[DIGEST_HEX_MAX], resp[DIGEST_HEX_MAX];

	digest_ha1(DIGEST_ALG_MD5, user, "example.com", pw, ha1);
	auth_response(DIGEST_ALG_MD5, ha1, nonce, "00000001", "c0ffee", "auth", "REGISTER", uri,
		      resp);
	snprintf(out, cap,
		 "Authorization: Digest username=\"%s\", realm=\"example.com\", nonce=\"%s\", "
		 "uri=\"%s\", response=\"%s\", algorithm=MD5, qop=auth, nc=00000001, "
		 "cnonce=\"c0ffee\"\r\n",
		 user, nonce, uri, resp);
}

int test_rm_dir(const char *dir)
{
	char cmd[128];

	if (snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir) >= (int)sizeof(cmd))
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}
