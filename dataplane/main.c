/* main: sbc-dataplane, the DPDK media relay: options, EAL and port set-up, worker lcores and the
 * control loop on the main lcore. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_mbuf.h>
#include <rte_lcore.h>
#include <rte_random.h>
#include <rte_ring.h>

#include "addr.h"
#include "control.h"
#include "dp_msg.h"
#include "dp_policy.h"
#include "latch.h"
#include "log.h"
#include "port.h"
#include "portalloc.h"
#include "session.h"
#include "worker.h"

#define RING_SIZE     4096
#define EXC_RING_SIZE 1024
#define IDLE_POLLS    1024 /* empty polls before an idle worker sleeps (with --idle-backoff) */
#define FLUSH_US      100  /* tx buffers are drained at least this often */

/* The one signal flag (STYLE.md). */
static volatile sig_atomic_t stop_requested;

struct dp_opts {
	unsigned n_media; /* --media-addr, in the order given: address i is index i */
	struct addr_ip media[SESSION_MAX_ADDRS];
	unsigned prefix[SESSION_MAX_ADDRS];
	struct addr_ip gateway;
	uint16_t port_min, port_max;
	struct addr_port ng_listen, notify;
	unsigned workers;
	uint16_t port_id;
	unsigned mbufs;
	unsigned idle_backoff_us;
	const char *ctl_path, *policy_path;
	struct dp_policy policy;
	int log_level;
	bool check;
};

struct worker_slot {
	struct worker *w;
	unsigned idle_backoff_us;
	volatile bool *quit; /* control: rw; workers: ro */
};

/* The daemon's context (STYLE.md: one context struct, passed explicitly). */
struct dp_ctx {
	struct dp_opts o;
	struct rte_mempool *mp;
	struct port_rss rss;
	struct portalloc *pa;
	struct dp_chan chan[RTE_MAX_LCORE];
	struct rte_ring *exc[RTE_MAX_LCORE];
	struct rte_ring *ctl_tx[RTE_MAX_LCORE]; /* control's frames, sent by worker w */
	struct session_table *tables[RTE_MAX_LCORE];
	struct worker *w[RTE_MAX_LCORE];
	struct worker_slot slots[RTE_MAX_LCORE];
	struct control *ctl;
	bool port_started;
	volatile bool quit;
};

static void usage(FILE *out)
{
	fputs("usage: sbc-dataplane [EAL options] -- [options]\n"
	      "\n"
	      "  --media-addr IP[/PREFIX]  a media address the relay owns (required; it answers\n"
	      "                            ARP and ICMP echo for it; PREFIX: on-link subnet, 24);\n"
	      "                            repeat it or give a comma list for several (up to 64),\n"
	      "                            each with the whole port range\n"
	      "  --gateway IP              next hop for destinations outside the subnets\n"
	      "  --ports MIN-MAX           relay port range of every media address (default\n"
	      "                            30000-39999)\n"
	      "  --ng-listen IP:PORT       ng protocol socket (default 127.0.0.1:2223)\n"
	      "  --workers N               worker lcores (default 1; more need RSS on the port)\n"
	      "  --port-id N               the DPDK port (default 0)\n"
	      "  --mbufs N                 mbuf pool size (default 4095)\n"
	      "  --media-timeout S         report calls without media for S seconds (default 60,\n"
	      "                            0 = off)\n"
	      "  --delete-delay S          default ng delete delay (default 0 = immediate)\n"
	      "  --latching MODE           strict (default), learn-any, rebind, learn-any+rebind\n"
	      "  --policy FILE             media policy JSON (see docs/dataplane.md); re-read on\n"
	      "                            the control socket's \"reload\"; overrides the above\n"
	      "  --notify IP:PORT          send media timeout notifications (JSON over UDP) there\n"
	      "  --control-socket PATH     UNIX control socket (JSON lines: stats, sessions, "
	      "reload)\n"
	      "  --idle-backoff US         idle workers sleep US microseconds (labs, CI; default "
	      "0)\n"
	      "  --log-level LEVEL         err, warn, notice (default), info, debug\n"
	      "  --check                   validate the options (and policy file) and exit\n"
	      "  --help                    this text\n",
	      out);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return (errno || end == s || *end || *out > max || s[0] == '-') ? -EINVAL : 0;
}

/* One --media-addr argument: IP[/PREFIX] or a comma list of them, appended to o->media. */
static int parse_media(const char *arg, struct dp_opts *o)
{
	const char *p = arg;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		struct addr_cidr net;

		if (addr_cidr_parse(p, len, &net) || net.net.family != AF_INET || net.prefix == 0 ||
		    net.net.v4.s_addr == 0) {
			fprintf(stderr, "--media-addr: an IPv4 address[/prefix] expected: %.*s\n",
				(int)len, p);
			return -EINVAL;
		}
		for (unsigned i = 0; i < o->n_media; i++) {
			if (o->media[i].v4.s_addr == net.net.v4.s_addr) {
				fprintf(stderr, "--media-addr: %.*s given twice\n", (int)len, p);
				return -EINVAL;
			}
		}
		if (o->n_media == SESSION_MAX_ADDRS) {
			fprintf(stderr, "--media-addr: at most %d addresses\n", SESSION_MAX_ADDRS);
			return -EINVAL;
		}
		o->media[o->n_media] = net.net;
		o->prefix[o->n_media++] = memchr(p, '/', len) ? net.prefix : 24;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static int parse_opts(int argc, char **argv, struct dp_opts *o)
{
	enum {
		O_MEDIA = 256,
		O_GW,
		O_PORTS,
		O_NG,
		O_WORKERS,
		O_PORTID,
		O_MBUFS,
		O_TIMEOUT,
		O_DELDELAY,
		O_LATCHING,
		O_POLICY,
		O_NOTIFY,
		O_CTL,
		O_BACKOFF,
		O_LOG,
		O_CHECK,
		O_HELP,
	};
	static const struct option longopts[] = {
		{"media-addr", required_argument, NULL, O_MEDIA},
		{"gateway", required_argument, NULL, O_GW},
		{"ports", required_argument, NULL, O_PORTS},
		{"ng-listen", required_argument, NULL, O_NG},
		{"workers", required_argument, NULL, O_WORKERS},
		{"port-id", required_argument, NULL, O_PORTID},
		{"mbufs", required_argument, NULL, O_MBUFS},
		{"media-timeout", required_argument, NULL, O_TIMEOUT},
		{"delete-delay", required_argument, NULL, O_DELDELAY},
		{"latching", required_argument, NULL, O_LATCHING},
		{"policy", required_argument, NULL, O_POLICY},
		{"notify", required_argument, NULL, O_NOTIFY},
		{"control-socket", required_argument, NULL, O_CTL},
		{"idle-backoff", required_argument, NULL, O_BACKOFF},
		{"log-level", required_argument, NULL, O_LOG},
		{"check", no_argument, NULL, O_CHECK},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	const char *latching = NULL;
	unsigned long v;
	char err[256];
	int opt;

	memset(o, 0, sizeof(*o));
	o->port_min = 30000;
	o->port_max = 39999;
	addr_port_parse("127.0.0.1:2223", &o->ng_listen);
	o->workers = 1;
	o->mbufs = 4095;
	o->log_level = LOG_LEVEL_NOTICE;
	dp_policy_default(&o->policy);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case O_MEDIA:
			if (parse_media(optarg, o))
				return -EINVAL;
			break;
		case O_GW:
			if (!addr_parse(optarg, strlen(optarg), &o->gateway) ||
			    o->gateway.family != AF_INET) {
				fprintf(stderr, "--gateway: an IPv4 address expected\n");
				return -EINVAL;
			}
			break;
		case O_PORTS: {
			unsigned a, b;
			char tail;

			if (sscanf(optarg, "%u-%u%c", &a, &b, &tail) != 2 || a == 0 || b > 65535 ||
			    a + 3 > b) {
				fprintf(stderr, "--ports: MIN-MAX with room for two pairs\n");
				return -EINVAL;
			}
			o->port_min = (uint16_t)a;
			o->port_max = (uint16_t)b;
			break;
		}
		case O_NG:
		case O_NOTIFY: {
			struct addr_port *ap = opt == O_NG ? &o->ng_listen : &o->notify;

			if (addr_port_parse(optarg, ap) || ap->ip.family != AF_INET || !ap->port) {
				fprintf(stderr, "%s: IPv4:PORT expected\n",
					opt == O_NG ? "--ng-listen" : "--notify");
				return -EINVAL;
			}
			break;
		}
		case O_WORKERS:
			if (parse_uint(optarg, PORTALLOC_MAX_WORKERS, &v) || v == 0) {
				fprintf(stderr, "--workers: 1..%d\n", PORTALLOC_MAX_WORKERS);
				return -EINVAL;
			}
			o->workers = (unsigned)v;
			break;
		case O_PORTID:
			if (parse_uint(optarg, RTE_MAX_ETHPORTS - 1, &v)) {
				fprintf(stderr, "--port-id: a DPDK port number expected\n");
				return -EINVAL;
			}
			o->port_id = (uint16_t)v;
			break;
		case O_MBUFS:
			if (parse_uint(optarg, 1u << 22, &v) || v < 1024) {
				fprintf(stderr, "--mbufs: 1024..4194304\n");
				return -EINVAL;
			}
			o->mbufs = (unsigned)v;
			break;
		case O_TIMEOUT:
		case O_DELDELAY:
			if (parse_uint(optarg, 86400, &v)) {
				fprintf(stderr, "%s: seconds 0..86400\n",
					opt == O_TIMEOUT ? "--media-timeout" : "--delete-delay");
				return -EINVAL;
			}
			if (opt == O_TIMEOUT)
				o->policy.media_timeout_s = (uint32_t)v;
			else
				o->policy.delete_delay_s = (uint32_t)v;
			break;
		case O_LATCHING:
			latching = optarg;
			break;
		case O_POLICY:
			o->policy_path = optarg;
			break;
		case O_CTL:
			o->ctl_path = optarg;
			break;
		case O_BACKOFF:
			if (parse_uint(optarg, 1000000, &v)) {
				fprintf(stderr, "--idle-backoff: microseconds 0..1000000\n");
				return -EINVAL;
			}
			o->idle_backoff_us = (unsigned)v;
			break;
		case O_LOG:
			o->log_level = log_level_parse(optarg);
			if (o->log_level < 0) {
				fprintf(stderr, "--log-level: err, warn, notice, info or debug\n");
				return -EINVAL;
			}
			break;
		case O_CHECK:
			o->check = true;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "unexpected argument: %s\n", argv[optind]);
		return -EINVAL;
	}
	if (o->n_media == 0) {
		fprintf(stderr, "--media-addr is required\n");
		return -EINVAL;
	}
	if (latching) {
		char json[128];

		/* One parser for the modes: the policy file's. */
		snprintf(json, sizeof(json), "{\"latching\": \"%.64s\"}", latching);
		struct dp_policy p;

		if (dp_policy_parse(json, strlen(json), &p, err, sizeof(err))) {
			fprintf(stderr, "--latching: %s\n", err);
			return -EINVAL;
		}
		o->policy.latch_flags = p.latch_flags;
	}
	if (o->policy_path && dp_policy_load(o->policy_path, &o->policy, err, sizeof(err))) {
		fprintf(stderr, "--policy: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int worker_main(void *arg)
{
	struct worker_slot *slot = arg;
	const uint64_t hz = rte_get_tsc_hz(), per_ms = hz / 1000, drain = hz / 1000000 * FLUSH_US;
	uint64_t last_flush = rte_get_tsc_cycles();
	unsigned idle = 0;

	while (!__atomic_load_n(slot->quit, __ATOMIC_RELAXED)) {
		uint64_t tsc = rte_get_tsc_cycles();
		unsigned n = worker_poll(slot->w, tsc / per_ms);

		/* Flush as soon as the rx queue is drained (a burst that was not full): at low
		 * rates a packet leaves in the poll that received it instead of waiting up to
		 * FLUSH_US for the buffer to fill; at high rates bursts fill and are sent whole
		 * (af_packet pays one system call per flush, so batching adapts to the load). */
		if (n < WORKER_BURST || tsc - last_flush >= drain) {
			worker_flush(slot->w);
			last_flush = tsc;
		}
		if (n) {
			idle = 0;
		} else if (slot->idle_backoff_us && ++idle >= IDLE_POLLS) {
			/* Only with --idle-backoff: a sleep (a system call) on an idle worker. */
			worker_flush(slot->w);
			rte_delay_us_sleep(slot->idle_backoff_us);
		}
	}
	worker_flush(slot->w);
	return 0;
}

static int setup(struct dp_ctx *ctx)
{
	struct dp_opts *o = &ctx->o;
	struct portalloc_cfg pc;
	struct control_cfg cc;
	struct rte_ether_addr mac;
	uint32_t mask[SESSION_MAX_ADDRS];
	int socket, rc;

	for (unsigned i = 0; i < o->n_media; i++)
		mask[i] = o->prefix[i] ? htonl(~0u << (32 - o->prefix[i])) : 0;
	if (!rte_eth_dev_is_valid_port(o->port_id)) {
		LOG_ERR("no DPDK port %u (give one with --vdev or a PCI device)", o->port_id);
		return -ENODEV;
	}
	if (rte_lcore_count() < o->workers + 1) {
		LOG_ERR("%u workers need %u lcores (EAL -l), %u given", o->workers, o->workers + 1,
			rte_lcore_count());
		return -EINVAL;
	}
	socket = rte_eth_dev_socket_id(o->port_id);
	if (socket < 0)
		socket = 0;
	ctx->mp = port_mempool_new("dp_mbufs", o->mbufs, socket);
	if (!ctx->mp) {
		LOG_ERR("mbuf pool of %u: %s", o->mbufs, rte_strerror(errno));
		return -ENOMEM;
	}
	rc = port_setup(o->port_id, o->workers, ctx->mp, &ctx->rss);
	if (rc) {
		LOG_ERR("port %u: %s", o->port_id, rte_strerror(-rc));
		return rc;
	}
	ctx->port_started = true;
	rte_eth_macaddr_get(o->port_id, &mac);

	memset(&pc, 0, sizeof(pc));
	pc.port_min = o->port_min;
	pc.port_max = o->port_max;
	pc.workers = o->workers;
	pc.naddrs = o->n_media;
	if (ctx->rss.enabled) {
		pc.rss_key = ctx->rss.key;
		pc.rss_key_len = sizeof(ctx->rss.key);
		pc.reta = ctx->rss.reta;
		pc.reta_size = ctx->rss.reta_size;
	} else {
		pc.reta_size = 1;
	}
	pc.seed = rte_rand() | 1;
	ctx->pa = portalloc_new(&pc);
	if (!ctx->pa) {
		LOG_ERR("port range %u-%u: %s", o->port_min, o->port_max, strerror(errno));
		return -errno;
	}
	for (unsigned w = 0; w < o->workers; w++) {
		struct worker_cfg wc;
		char name[RTE_RING_NAMESIZE];

		rc = dp_chan_init(&ctx->chan[w], "dp", w, RING_SIZE, socket);
		snprintf(name, sizeof(name), "dp_exc%u", w);
		ctx->exc[w] =
			rte_ring_create(name, EXC_RING_SIZE, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "dp_ctltx%u", w);
		ctx->ctl_tx[w] =
			rte_ring_create(name, EXC_RING_SIZE, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		ctx->tables[w] = session_table_new(o->n_media, o->port_min, o->port_max);
		if (rc || !ctx->exc[w] || !ctx->ctl_tx[w] || !ctx->tables[w]) {
			LOG_ERR("worker %u: out of memory", w);
			return -ENOMEM;
		}
		memset(&wc, 0, sizeof(wc));
		wc.id = w;
		wc.port_id = o->port_id;
		wc.rx_queue = (uint16_t)w;
		wc.tx_queue = (uint16_t)w;
		wc.msg_in = ctx->chan[w].to_worker;
		wc.msg_out = ctx->chan[w].to_control;
		wc.exc = ctx->exc[w];
		wc.tx_in = ctx->ctl_tx[w];
		wc.sessions = ctx->tables[w];
		wc.n_media = o->n_media;
		for (unsigned i = 0; i < o->n_media; i++) {
			wc.media_ip[i] = o->media[i].v4.s_addr;
			wc.netmask[i] = mask[i];
		}
		memcpy(wc.media_mac, mac.addr_bytes, 6);
		wc.gateway_ip = o->gateway.family ? o->gateway.v4.s_addr : 0;
		wc.sw_udp_csum = true;
		ctx->w[w] = worker_new(&wc);
		if (!ctx->w[w]) {
			LOG_ERR("worker %u: out of memory", w);
			return -ENOMEM;
		}
		ctx->slots[w].w = ctx->w[w];
		ctx->slots[w].idle_backoff_us = o->idle_backoff_us;
		ctx->slots[w].quit = &ctx->quit;
	}

	memset(&cc, 0, sizeof(cc));
	cc.workers = o->workers;
	cc.chan = ctx->chan;
	cc.exc = ctx->exc;
	cc.tables = ctx->tables;
	cc.w = ctx->w;
	cc.pa = ctx->pa;
	cc.exc_cfg.tx_ring = ctx->ctl_tx[0];
	cc.exc_cfg.n_media = o->n_media;
	for (unsigned i = 0; i < o->n_media; i++) {
		cc.exc_cfg.media_ip[i] = o->media[i].v4.s_addr;
		cc.exc_cfg.netmask[i] = mask[i];
	}
	memcpy(cc.exc_cfg.media_mac, mac.addr_bytes, 6);
	cc.exc_cfg.mp = ctx->mp;
	cc.n_media = o->n_media;
	memcpy(cc.media_addr, o->media, sizeof(cc.media_addr));
	cc.ng_listen = o->ng_listen;
	cc.notify = o->notify;
	cc.ctl_path = o->ctl_path;
	cc.policy_path = o->policy_path;
	cc.policy = o->policy;
	ctx->ctl = control_new(&cc);
	if (!ctx->ctl)
		return -errno;
	{
		char a[ADDR_STRLEN], n[ADDR_STRLEN];

		for (unsigned i = 1; i < o->n_media; i++)
			LOG_NOTICE("media address %u: %s/%u", i,
				   addr_format(&o->media[i], a, sizeof(a)), o->prefix[i]);
		LOG_NOTICE("media %s/%u%s on port %u (%02x:%02x:%02x:%02x:%02x:%02x), relay ports "
			   "%u-%u, %u worker(s)%s, ng on %s",
			   addr_format(&o->media[0], a, sizeof(a)), o->prefix[0],
			   o->n_media > 1 ? " (and the addresses above)" : "", o->port_id,
			   mac.addr_bytes[0], mac.addr_bytes[1], mac.addr_bytes[2],
			   mac.addr_bytes[3], mac.addr_bytes[4], mac.addr_bytes[5], o->port_min,
			   o->port_max, o->workers, ctx->rss.enabled ? " with RSS" : "",
			   addr_port_format(&o->ng_listen, n, sizeof(n)));
	}
	return 0;
}

static void teardown(struct dp_ctx *ctx)
{
	control_free(ctx->ctl);
	for (unsigned w = 0; w < ctx->o.workers; w++) {
		worker_free(ctx->w[w]);
		session_table_free(ctx->tables[w]);
		rte_ring_free(ctx->exc[w]);
		if (ctx->ctl_tx[w]) {
			struct rte_mbuf *m = NULL;

			while (rte_ring_dequeue(ctx->ctl_tx[w], (void **)&m) == 0)
				rte_pktmbuf_free(m);
			rte_ring_free(ctx->ctl_tx[w]);
		}
		dp_chan_free(&ctx->chan[w]);
	}
	portalloc_free(ctx->pa);
	if (ctx->port_started)
		port_close(ctx->o.port_id);
}

int main(int argc, char **argv)
{
	static struct dp_ctx ctx; /* large (per-lcore arrays): not on the stack */
	int sep = argc, eal_n, rc;
	unsigned w = 0, lcore;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			sep = i;
			break;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
	}
	/* Our options come after "--"; argv[sep] becomes their argv[0]. */
	if (parse_opts(argc - sep, argv + sep, &ctx.o))
		return 2;
	log_init("sbc-dataplane", (enum log_level)ctx.o.log_level);
	if (ctx.o.check) {
		printf("configuration OK\n");
		return 0;
	}
	eal_n = rte_eal_init(sep, argv);
	if (eal_n < 0) {
		LOG_ERR("EAL: %s", rte_strerror(rte_errno));
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	rc = setup(&ctx);
	if (rc == 0) {
		RTE_LCORE_FOREACH_WORKER(lcore)
		{
			if (w == ctx.o.workers)
				break;
			rte_eal_remote_launch(worker_main, &ctx.slots[w++], lcore);
		}
		while (!stop_requested)
			control_run_once(ctx.ctl, 1);
		LOG_NOTICE("stopping");
		__atomic_store_n(&ctx.quit, true, __ATOMIC_RELAXED);
		rte_eal_mp_wait_lcore();
	}
	teardown(&ctx);
	rte_eal_cleanup();
	return rc ? 1 : 0;
}
