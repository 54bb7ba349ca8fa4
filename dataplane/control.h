/* control: the control lcore of sbc-dataplane: the ng server, the relay operations behind it
 * (ports, worker messages), worker events, ARP/ICMP exceptions, timers, the media timeout
 * notification and the UNIX control socket. */
#ifndef SBC_DATAPLANE_CONTROL_H
#define SBC_DATAPLANE_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "dp_msg.h"
#include "dp_policy.h"
#include "exception.h"

struct portalloc;
struct rte_ring;
struct session_table;
struct worker;

struct control_cfg {
	unsigned workers;
	struct dp_chan *chan;	       /* [workers] */
	struct rte_ring **exc;	       /* [workers] */
	struct session_table **tables; /* [workers] */
	struct worker **w;	       /* [workers], for stats */
	struct portalloc *pa;	       /* owned by the caller */
	struct exception_cfg exc_cfg;  /* on_neigh/arg are set by control */
	unsigned n_media; /* media addresses, index = dp_msg.addr (1..SESSION_MAX_ADDRS) */
	struct addr_ip media_addr[SESSION_MAX_ADDRS];
	struct addr_port ng_listen;
	struct addr_port notify; /* media timeout notifications; family 0 = none */
	const char *ctl_path;	 /* UNIX control socket, NULL = none */
	const char *policy_path; /* for "reload", NULL = none */
	struct dp_policy policy;
};

struct control;

/* Opens the sockets and builds the ng layer. Returns NULL with errno (and logs why). Start-up. */
struct control *control_new(const struct control_cfg *cfg);

/* Releases every call (worker messages), closes sockets. */
void control_free(struct control *c);

/* One iteration of the control loop: waits up to timeout_ms for the sockets, then serves ng
 * requests, control socket lines, worker events and exceptions, and runs due timers. */
void control_run_once(struct control *c, int timeout_ms);

/* The clock shared with the workers (TSC-based milliseconds). */
uint64_t control_now_ms(void);

#endif
