/* test_util: small helpers of the tests that run the registrar or the proxy against a temporary
 * policy database: its SQL, its users (all of example.com, realm example.com), the digest
 * authentication set up from it, a REGISTER's credentials, and removing the temporary folder. */
#ifndef SBC_TEST_UTIL_H
#define SBC_TEST_UTIL_H

#include <stddef.h>

#include <sqlite3.h>

#include "auth.h"
#include "policy.h"

/* Runs sql (one or more statements) on db; fails the test with SQLite's message otherwise. */
void test_exec_ok(sqlite3 *db, const char *sql);

/* Adds user@example.com (realm example.com) with password pw: its MD5 and SHA-256 HA1. */
void test_add_user(sqlite3 *db, const char *user, const char *pw);

/* The auth configuration from policy's settings (realm, algorithms), nonces stale after 300 s,
 * HA1 of the policy's users (test_ha1_lookup, its arg the policy). */
struct auth_cfg test_auth_cfg(struct policy *policy);
const char *test_ha1_lookup(void *arg, const char *user, const char *domain, enum digest_alg alg);

/* The Authorization header line (CRLF-terminated) of a REGISTER to uri as user with password pw
 * answering nonce: MD5, qop=auth, nc 00000001, cnonce c0ffee. */
void test_register_authz(char *out, size_t cap, const char *user, const char *pw, const char *nonce,
			 const char *uri);

/* Removes folder dir and everything in it: 0, or -1. */
int test_rm_dir(const char *dir);

#endif
