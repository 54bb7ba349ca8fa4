/* daemon: sbc-sip as a running service — loads policy, opens sockets and databases, wires the
 * proxy, registrar, keepalives and control socket into one event loop, and reloads on demand. */
#ifndef SBC_DAEMON_H
#define SBC_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

#define DAEMON_MAX_LISTEN 4

struct daemon_opts {
	struct addr_port listen[DAEMON_MAX_LISTEN]; /* UDP and TCP on each */
	size_t nlisten;
	const char *policy_path;
	const char *registrations_path;
	const char *ctl_path; /* NULL: no control socket */
	const char
		*dataplanes; /* "IP:PORT[=WEIGHT],..." ng addresses; NULL: SDP passes untouched */
	struct addr_port media_notify; /* where dataplanes report media timeouts (port 0: none) */
	uint32_t hold_timeout_s;       /* how long a held call may go without media */
	uint32_t dialog_timeout_s;     /* a dialog without in-dialog requests ends after this */
};

/* Validates the configuration (policy database readable, at the right schema, settings valid;
 * registrations database openable) and prints a summary. Returns 0 or 1. */
int daemon_check(const struct daemon_opts *o);

/* Runs until SIGTERM/SIGINT. Returns the process exit status. */
int daemon_run(const struct daemon_opts *o);

#endif
