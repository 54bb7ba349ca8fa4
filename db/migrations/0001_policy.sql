-- 0001_policy: the policy schema that sbc-mgmt writes and sbc-sip reads (read-only).
--
-- Applied by common/migrate.c (`sbc-db migrate DB`), which wraps this file in one transaction and
-- records it in its own bookkeeping table, schema_migrations (version, name, sha256, applied_at).
-- Never edit this file once landed: add 0002_*.sql instead. Connections must enable
-- `PRAGMA foreign_keys = ON` for the REFERENCES clauses below to be enforced.

-- config_version: one row, bumped by every write to a policy table (triggers at the end), so a
-- daemon can tell which policy it has loaded and mgmt can report whether a reload is pending.
CREATE TABLE config_version (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL CHECK (version >= 0),
	updated_at TEXT NOT NULL
);
INSERT INTO config_version (id, version, updated_at)
	VALUES (1, 0, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));

-- setting_keys: the known settings with their type, range and default (tables as data: adding a
-- setting is an INSERT in a later migration). settings holds the operator's values.
CREATE TABLE setting_keys (
	key TEXT PRIMARY KEY
		CHECK (length(key) BETWEEN 1 AND 64 AND key NOT GLOB '*[^a-z0-9_.]*'),
	type TEXT NOT NULL CHECK (type IN ('int', 'text')),
	min_value INTEGER,
	max_value INTEGER,
	default_value TEXT NOT NULL,
	description TEXT NOT NULL,
	CHECK (type = 'text' OR (min_value IS NOT NULL AND max_value IS NOT NULL
				 AND min_value <= max_value))
);

CREATE TABLE settings (
	key TEXT PRIMARY KEY REFERENCES setting_keys (key) ON UPDATE CASCADE ON DELETE CASCADE,
	value TEXT NOT NULL CHECK (length(value) <= 1024)
);

-- A value must suit its key: an integer in decimal without sign tricks, within [min, max].
CREATE TRIGGER settings_check_insert BEFORE INSERT ON settings
WHEN (SELECT type FROM setting_keys WHERE key = NEW.key) = 'int'
	AND (NEW.value NOT GLOB '[0-9]*' OR NEW.value GLOB '*[^0-9]*' OR length(NEW.value) > 9
	     OR CAST(NEW.value AS INTEGER) < (SELECT min_value FROM setting_keys WHERE key = NEW.key)
	     OR CAST(NEW.value AS INTEGER) > (SELECT max_value FROM setting_keys WHERE key = NEW.key))
BEGIN
	SELECT RAISE(ABORT, 'settings: value is not an integer within the range of its key');
END;

CREATE TRIGGER settings_check_update BEFORE UPDATE ON settings
WHEN (SELECT type FROM setting_keys WHERE key = NEW.key) = 'int'
	AND (NEW.value NOT GLOB '[0-9]*' OR NEW.value GLOB '*[^0-9]*' OR length(NEW.value) > 9
	     OR CAST(NEW.value AS INTEGER) < (SELECT min_value FROM setting_keys WHERE key = NEW.key)
	     OR CAST(NEW.value AS INTEGER) > (SELECT max_value FROM setting_keys WHERE key = NEW.key))
BEGIN
	SELECT RAISE(ABORT, 'settings: value is not an integer within the range of its key');
END;

INSERT INTO setting_keys (key, type, min_value, max_value, default_value, description) VALUES
	('nat.test_mask', 'int', 0, 255, '19',
	 'NAT detection tests that mark a UA as NATed, as bits with the meanings of Kamailio ' ||
	 'nat_uac_test (1 private Contact, 2 Via sent-by differs from source, 16 source port differs ' ||
	 'from Via port, ...); 19 is the WITH_NAT default'),
	('nat.keepalive_interval', 'int', 0, 3600, '30',
	 'seconds between keepalives (OPTIONS over UDP, CRLF over TCP) to NATed bindings; 0 = off'),
	('registrar.min_expires', 'int', 1, 86400, '60',
	 'shortest registration accepted; shorter requests get 423 with Min-Expires (RFC 3261 10.3)'),
	('registrar.max_expires', 'int', 1, 86400, '3600',
	 'longest registration granted; longer requests are shortened'),
	('registrar.default_expires', 'int', 1, 86400, '3600',
	 'registration time when the REGISTER has neither Expires nor an expires parameter'),
	('registrar.max_contacts', 'int', 1, 100, '10',
	 'bindings kept per address-of-record'),
	('auth.realm', 'text', NULL, NULL, 'sbc.local',
	 'realm of digest challenges; a user''s HA1 values are computed with the realm stored on ' ||
	 'the user'),
	('auth.algorithms', 'text', NULL, NULL, 'SHA-256,MD5',
	 'digest algorithms offered, one challenge each, most preferred first (RFC 8760 2.4)'),
	('ratelimit.requests_per_second', 'int', 1, 1000000, '50',
	 'requests per second accepted from one source address before it is throttled'),
	('ratelimit.burst', 'int', 1, 1000000, '100',
	 'requests a source may send at once above its steady rate'),
	('ban.failed_auth_threshold', 'int', 0, 1000, '10',
	 'failed authentications from one source within ban.window that ban it; 0 = never ban'),
	('ban.window', 'int', 1, 86400, '60',
	 'seconds over which failed authentications are counted'),
	('ban.duration', 'int', 1, 604800, '600',
	 'seconds a banned source is ignored');

INSERT INTO settings (key, value) SELECT key, default_value FROM setting_keys;

-- users: local subscribers. Credentials only as HA1 = H(username:realm:password) per algorithm
-- (RFC 3261 22.4 for MD5, RFC 8760 2.4 for SHA-256), never the password. realm is the realm the
-- HA1 values were computed with. Usernames are stored unescaped (RFC 3261 19.1.4: compared
-- case-sensitively); domains in lower case, an IPv6 literal without brackets.
CREATE TABLE users (
	id INTEGER PRIMARY KEY,
	username TEXT NOT NULL CHECK (length(username) BETWEEN 1 AND 64
				      AND username NOT GLOB '*[^A-Za-z0-9._~!$&''()*+,;=?/-]*'),
	domain TEXT NOT NULL CHECK (length(domain) BETWEEN 1 AND 253
				    AND domain NOT GLOB '*[^a-z0-9.:-]*'),
	realm TEXT NOT NULL CHECK (length(realm) BETWEEN 1 AND 128 AND realm NOT GLOB '*["\]*'),
	enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
	ha1_md5 TEXT CHECK (ha1_md5 IS NULL
			    OR (length(ha1_md5) = 32 AND ha1_md5 NOT GLOB '*[^0-9a-f]*')),
	ha1_sha256 TEXT CHECK (ha1_sha256 IS NULL
			       OR (length(ha1_sha256) = 64 AND ha1_sha256 NOT GLOB '*[^0-9a-f]*')),
	note TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 256),
	CHECK (ha1_md5 IS NOT NULL OR ha1_sha256 IS NOT NULL),
	UNIQUE (username, domain)
);

-- trunks: carriers and PBXs. address is an IP literal (no DNS yet); requests whose source address
-- is a trunk's are trusted (no digest challenge).
CREATE TABLE trunks (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE
		CHECK (length(name) BETWEEN 1 AND 64 AND name NOT GLOB '*[^A-Za-z0-9_.-]*'),
	address TEXT NOT NULL CHECK (length(address) BETWEEN 2 AND 45
				     AND address NOT GLOB '*[^0-9A-Fa-f.:]*'),
	port INTEGER NOT NULL DEFAULT 5060 CHECK (port BETWEEN 1 AND 65535),
	transport TEXT NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp')),
	enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
	note TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 256)
);

-- routes: the user part of a request URI that no local user matches goes to the trunk of the
-- longest matching prefix; the empty prefix is the default route.
CREATE TABLE routes (
	id INTEGER PRIMARY KEY,
	prefix TEXT NOT NULL UNIQUE CHECK (length(prefix) <= 32 AND prefix NOT GLOB '*[^0-9+*#]*'),
	trunk TEXT NOT NULL REFERENCES trunks (name) ON UPDATE CASCADE ON DELETE RESTRICT,
	note TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 256)
);
CREATE INDEX routes_trunk ON routes (trunk);

-- trusted_networks: sources never treated as NATed by the detection tests.
CREATE TABLE trusted_networks (
	cidr TEXT PRIMARY KEY CHECK (length(cidr) BETWEEN 2 AND 49
				     AND cidr NOT GLOB '*[^0-9A-Fa-f.:/]*'),
	note TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 256)
);

-- Every policy write bumps config_version (one trigger per table and statement kind).
CREATE TRIGGER settings_bump_insert AFTER INSERT ON settings BEGIN
	UPDATE config_version SET version = version + 1,
		updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END;
CREATE TRIGGER settings_bump_update AFTER UPDATE ON settings BEGIN
	UPDATE config_version SET version = version + 1,
		updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END;
CREATE TRIGGER settings_bump_delete AFTER DELETE ON settings BEGIN
	UPDATE config_version SET version = version + 1,
		updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END;
CREATE TRIGGER users_bump_insert AFTER INSERT ON users BEGIN
	UPDATE config_version SET version = version + 1,
		updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END;
CREATE TRIGGER users_bump_update AFTER UPDATE ON users BEGIN
	UPDATE config_version SET version = version + 1,
		updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END;
CREATE TRIGGER users_bump_delete AFTER DELETE ON users BEGIN
	UPDATE config_version SET version = version + 1,
		updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END;
CREATE TRIGGER trunks_bump_insert AFTER INSERT ON trunks BEGIN
	UPDATE config_version SET version = version + 1,
		updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END;
CREATE TRIGGER trunks_bump_update AFTER UPDATE ON trunks BEGIN
	UPDATE config_version SET version = version + 1,
		updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END;
CREATE TRIGGER trunks_bump_delete AFTER DELETE ON trunks BEGIN
	UPDATE config_version SET version = version + 1,
		updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END;
CREATE TRIGGER routes_bump_insert AFTER INSERT ON routes BEGIN
	UPDATE config_version SET version = version + 1,
		updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END;
CREATE TRIGGER routes_bump_update AFTER UPDATE ON routes BEGIN
	UPDATE config_version SET version = version + 1,
		updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END;
CREATE TRIGGER routes_bump_delete AFTER DELETE ON routes BEGIN
	UPDATE config_version SET version = version + 1,
		updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END;
CREATE TRIGGER trusted_networks_bump_insert AFTER INSERT ON trusted_networks BEGIN
	UPDATE config_version SET version = version + 1,
		updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END;
CREATE TRIGGER trusted_networks_bump_update AFTER UPDATE ON trusted_networks BEGIN
	UPDATE config_version SET version = version + 1,
		updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END;
CREATE TRIGGER trusted_networks_bump_delete AFTER DELETE ON trusted_networks BEGIN
	UPDATE config_version SET version = version + 1,
		updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END;
