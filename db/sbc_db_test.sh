#!/bin/sh
# sbc_db_test: the sbc-db tool end to end on temporary databases.
# usage: sbc_db_test.sh PATH/TO/sbc-db PATH/TO/db
set -eu
SBC_DB=$1
SRC=$2
command -v sqlite3 >/dev/null || { echo "sbc_db_test: no sqlite3 shell, skipped"; exit 77; }
T=$(mktemp -d /tmp/sbc_db_test.XXXXXX)
trap 'rm -rf "$T"' EXIT
DB=$T/policy.db
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_fail PATTERN CMD...: CMD must fail and say PATTERN on stderr.
expect_fail() {
	pat=$1; shift
	if "$@" >"$T/out" 2>"$T/err"; then fail "succeeded: $*"; fi
	grep -q -- "$pat" "$T/err" || { cat "$T/err" >&2; fail "no '$pat' from: $*"; }
}

"$SBC_DB" --help | grep -q "user add" || fail "--help"
"$SBC_DB" --check >/dev/null || fail "--check without a database"

# A database that was never migrated: every command says what to run.
touch "$T/empty.db"
expect_fail "run \`sbc-db migrate $T/empty.db\`" "$SBC_DB" load "$T/empty.db" "$SRC/default.sql"
expect_fail "run \`sbc-db migrate" "$SBC_DB" --check "$T/empty.db"

"$SBC_DB" migrate "$DB" >"$T/out" || fail "migrate"
grep -q "applied 0001_policy" "$T/out" || fail "migrate reports progress"
"$SBC_DB" migrate "$DB" >"$T/out" || fail "migrate again"
grep -q "0 migrations applied" "$T/out" || fail "migrate is idempotent"
"$SBC_DB" --migrations "$SRC/migrations" migrate "$DB" >/dev/null || fail "migrate from folder"

"$SBC_DB" load "$DB" "$SRC/default.sql" >"$T/out" || fail "load"
grep -q "config_version" "$T/out" || fail "load reports config_version"
v1=$(sqlite3 "$DB" "SELECT version FROM config_version")
"$SBC_DB" load "$DB" "$SRC/default.sql" >/dev/null || fail "load again"
v2=$(sqlite3 "$DB" "SELECT version FROM config_version")
[ "$v2" -gt "$v1" ] || fail "load bumps config_version ($v1 -> $v2)"

# A seed that fails half-way changes nothing.
printf "INSERT INTO trunks (name, address) VALUES ('t2', '192.0.2.2');\nINSERT INTO routes (prefix, trunk) VALUES ('9', 'nosuch');\n" >"$T/bad.sql"
expect_fail "FOREIGN KEY" "$SBC_DB" load "$DB" "$T/bad.sql"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM trunks WHERE name = 't2'")" = 0 ] || fail "rollback"
[ "$(sqlite3 "$DB" "SELECT version FROM config_version")" = "$v2" ] || fail "no bump on failure"
printf "BEGIN; SELECT 1; COMMIT;\n" >"$T/txn.sql"
expect_fail "must not contain BEGIN/COMMIT\|within a transaction" "$SBC_DB" load "$DB" "$T/txn.sql"

# Users: HA1 of user:realm:password, never the password.
"$SBC_DB" user add "$DB" alice@Example.COM 'Circle Of Life' --realm testrealm@host.com \
	>"$T/out" || fail "user add"
grep -q "added user alice@example.com" "$T/out" || fail "user add output"
want_md5=$(printf 'alice:testrealm@host.com:Circle Of Life' | md5sum | cut -d' ' -f1)
want_sha=$(printf 'alice:testrealm@host.com:Circle Of Life' | sha256sum | cut -d' ' -f1)
row=$(sqlite3 "$DB" "SELECT realm, ha1_md5, ha1_sha256 FROM users WHERE username = 'alice' AND domain = 'example.com'")
[ "$row" = "testrealm@host.com|$want_md5|$want_sha" ] || fail "stored HA1: $row"
sqlite3 "$DB" .dump | grep -q "Circle Of Life" && fail "password stored"
echo "s3cret" | "$SBC_DB" user add "$DB" bob@example.com - >"$T/out" || fail "password on stdin"
grep -q "realm sbc.local" "$T/out" || fail "default realm from auth.realm"
want_md5=$(printf 'bob:sbc.local:s3cret' | md5sum | cut -d' ' -f1)
[ "$(sqlite3 "$DB" "SELECT ha1_md5 FROM users WHERE username = 'bob'")" = "$want_md5" ] || fail "stdin HA1"
"$SBC_DB" user add "$DB" bob@example.com other --disabled >"$T/out" || fail "user update"
grep -q "updated user bob@example.com" "$T/out" || fail "user update output"
expect_fail "not USER@DOMAIN" "$SBC_DB" user add "$DB" nodomain pw
"$SBC_DB" user list "$DB" >"$T/out" || fail "user list"
grep -q "^bob@example.com realm=sbc.local disabled ha1=SHA-256,MD5$" "$T/out" || fail "user list: $(cat "$T/out")"
grep -q "^1001@sbc.local realm=sbc.local ha1=SHA-256,MD5$" "$T/out" || fail "user list demo"
"$SBC_DB" user del "$DB" bob@example.com >/dev/null || fail "user del"
expect_fail "no user" "$SBC_DB" user del "$DB" bob@example.com

"$SBC_DB" status "$DB" >"$T/out" || fail "status"
grep -q "schema: policy version 1" "$T/out" || fail "status schema"
grep -q "nat.test_mask = 19" "$T/out" || fail "status settings"
grep -q "(default) -> carrier" "$T/out" || fail "status routes"
"$SBC_DB" --check "$DB" >/dev/null || fail "--check DB"

# A database migrated by a newer release is refused with what to do.
sqlite3 "$DB" "INSERT INTO schema_migrations (version, name, sha256) VALUES (2, 'future', '$(printf %064d 0)')"
expect_fail "newer" "$SBC_DB" migrate "$DB"
expect_fail "newer" "$SBC_DB" status "$DB"

# A reader that may not write the directory (sbc-sip as its own user) can still open the policy
# read-only, because sbc-db keeps the -wal and -shm files (SQLITE_FCNTL_PERSIST_WAL).
# (Only as root, and only where user nobody can reach the binary.)
AS_NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
	$AS_NOBODY "$SBC_DB" --version >/dev/null 2>&1; then
	mkdir "$T/ro"
	"$SBC_DB" migrate "$T/ro/p.db" >/dev/null || fail "migrate ro"
	[ -e "$T/ro/p.db-wal" ] && [ -e "$T/ro/p.db-shm" ] || fail "-wal/-shm kept"
	chmod 755 "$T" "$T/ro"
	chmod 644 "$T/ro"/p.db*
	$AS_NOBODY "$SBC_DB" status "$T/ro/p.db" \
		>/dev/null || fail "read-only reader in a read-only directory"
fi

# The registrations database.
"$SBC_DB" --schema regdb migrate "$T/reg.db" >/dev/null || fail "regdb migrate"
"$SBC_DB" --schema regdb status "$T/reg.db" | grep -q "bindings: 0" || fail "regdb status"
expect_fail "unknown schema" "$SBC_DB" --schema nosuch status "$DB"
echo "sbc_db_test: ok"
