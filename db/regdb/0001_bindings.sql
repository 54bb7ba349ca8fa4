-- 0001_bindings: the registrations database, owned and written by sbc-sip alone (sbc/regdb.c).
-- Applied by common/migrate.c when sbc-sip opens it; never edit once landed.

-- One row per binding of an address-of-record to a contact (RFC 3261 §10.3). contact is the URI
-- the UA registered, unchanged; the received_* columns are the path the REGISTER really came from
-- (its NAT binding), which is where requests for this contact are sent.
CREATE TABLE bindings (
	aor TEXT NOT NULL CHECK (length(aor) BETWEEN 1 AND 512),
	contact TEXT NOT NULL CHECK (length(contact) BETWEEN 1 AND 1024),
	received_ip TEXT NOT NULL CHECK (length(received_ip) BETWEEN 2 AND 45),
	received_port INTEGER NOT NULL CHECK (received_port BETWEEN 1 AND 65535),
	transport TEXT NOT NULL CHECK (transport IN ('udp', 'tcp', 'tls', 'ws', 'wss')),
	-- the local socket the REGISTER arrived on ("udp:192.0.2.1:5060"), and the connection id
	-- for connection-oriented transports (0 for UDP; meaningless after a restart).
	socket TEXT NOT NULL DEFAULT '' CHECK (length(socket) <= 64),
	conn_id INTEGER NOT NULL DEFAULT 0 CHECK (conn_id >= 0),
	-- the UA is behind a NAT: requests go to received_*, and it gets keepalives
	natted INTEGER NOT NULL DEFAULT 0 CHECK (natted IN (0, 1)),
	-- absolute expiry, seconds since the Unix epoch (wall clock, so it survives a restart)
	expires INTEGER NOT NULL CHECK (expires > 0),
	user_agent TEXT NOT NULL DEFAULT '' CHECK (length(user_agent) <= 256),
	-- RFC 3261 §10.3 step 7: the Call-ID and CSeq of the request that made or refreshed it
	call_id TEXT NOT NULL CHECK (length(call_id) BETWEEN 1 AND 256),
	cseq INTEGER NOT NULL CHECK (cseq BETWEEN 0 AND 2147483647),
	-- q-value times 1000 (RFC 3261 §20.10: 0 to 1 with at most three decimals)
	q INTEGER NOT NULL DEFAULT 1000 CHECK (q BETWEEN 0 AND 1000),
	updated INTEGER NOT NULL CHECK (updated >= 0),
	PRIMARY KEY (aor, contact)
) WITHOUT ROWID;

CREATE INDEX bindings_expires ON bindings (expires);
CREATE INDEX bindings_conn ON bindings (conn_id) WHERE conn_id <> 0;
