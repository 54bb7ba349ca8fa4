-- default.sql: demo policy for the NAT lab (203.0.113.0/24, carrier UAS at 203.0.113.20).
-- Load with `sbc-db load DB db/default.sql` after `sbc-db migrate DB`; sbc-db runs it in one
-- transaction. Every statement is an upsert, so loading it twice changes nothing but
-- config_version.
--
-- Demo users (realm sbc.local): 1001 / demo1001 and 1002 / demo1002. Only their HA1 values are
-- stored; for real users run `sbc-db user add DB user@domain PASSWORD --realm R`.

INSERT INTO settings (key, value) VALUES
	('auth.realm', 'sbc.local'),
	('nat.test_mask', '19'),
	('nat.keepalive_interval', '30'),
	('registrar.min_expires', '60'),
	('registrar.max_expires', '3600'),
	('registrar.default_expires', '3600')
ON CONFLICT (key) DO UPDATE SET value = excluded.value;

INSERT INTO users (username, domain, realm, ha1_md5, ha1_sha256, note) VALUES
	('1001', 'sbc.local', 'sbc.local', 'cec073b02907eb20082bdd7d9e71d608',
	 'a08b6a3db81178b4f0d36ed82968a65eb0529417db1fbee9ac8e8fa3ad9e3fbe', 'demo phone'),
	('1002', 'sbc.local', 'sbc.local', '83c545237a740b171cf9ad0d21f86727',
	 '2e1ed7e7f82a44bcfe447f7e81d4083967a05fa281bd4cf983b6f8f7507bdc70', 'demo phone')
ON CONFLICT (username, domain) DO UPDATE SET realm = excluded.realm,
	ha1_md5 = excluded.ha1_md5, ha1_sha256 = excluded.ha1_sha256, enabled = 1;

INSERT INTO trunks (name, address, port, transport, note) VALUES
	('carrier', '203.0.113.20', 5060, 'udp', 'NAT lab carrier (SIPp UAS)')
ON CONFLICT (name) DO UPDATE SET address = excluded.address, port = excluded.port,
	transport = excluded.transport, enabled = 1;

-- The empty prefix is the default route: every number no local user owns goes to the carrier.
INSERT INTO routes (prefix, trunk, note) VALUES
	('', 'carrier', 'default route')
ON CONFLICT (prefix) DO UPDATE SET trunk = excluded.trunk;

-- Example of a private network that is not behind a NAT (an office LAN reached over a VPN):
-- INSERT INTO trusted_networks (cidr, note) VALUES ('10.10.0.0/16', 'office over VPN')
-- ON CONFLICT (cidr) DO NOTHING;
