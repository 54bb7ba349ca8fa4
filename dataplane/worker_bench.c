/* worker_bench: the relay core's rate. One worker on in-process ring ports relays many latched
 * streams; the generator recycles the relayed mbufs into fresh input frames. Only the cycles spent
 * in worker_poll() and worker_flush() are counted (what a real NIC would let one core do).
 * Needs root for the EAL; exits 77 otherwise.
 *
 *   worker_bench [streams] [packets] [addrs]     (defaults 1000, 20000000 and 1)
 *
 * With addrs > 1 the worker owns the media addresses 10.0.0.1 .. 10.0.0.<addrs>; stream i is on
 * address i % addrs with the same ports as its neighbours on the other addresses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_msg.h"
#include "port.h"
#include "session.h"
#include "worker.h"

#define PORT_BASE  20000
#define FRAME_LEN  (42 + 172) /* Ethernet + IPv4 + UDP + 20 ms of PCMU */
#define INFLIGHT   1024
#define CHUNK	   65536u /* packets per chunk for the median */
#define MAX_CHUNKS 4096u

static char prefix[64];

static uint16_t csum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i < len; i++)
		sum += i % 2 ? p[i] : (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A frame from src_ip:sport (behind the gateway MAC) to the relay dst:dport. */
static void build(uint8_t *f, uint32_t src_ip, uint16_t sport, uint32_t dst, uint16_t dport)
{
	static const uint8_t us[6] = {2, 0, 0, 0, 0, 1}, gw[6] = {2, 0, 0, 0, 0, 0xfe};
	uint8_t *ip = f + 14, *u = f + 34;
	uint32_t pseudo = 0;
	uint16_t c;

	memcpy(f, us, 6);
	memcpy(f + 6, gw, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, FRAME_LEN - 14);
	ip[8] = 60;
	ip[9] = 17;
	memcpy(ip + 12, &src_ip, 4);
	memcpy(ip + 16, &dst, 4);
	put16(ip + 10, csum(ip, 20, 0));
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, FRAME_LEN - 34);
	put16(u + 6, 0);
	memset(u + 8, 0xd5, 172);
	u[8] = 0x80; /* RTP version 2, PCMU (payload type 0) */
	u[9] = 0;
	for (int i = 0; i < 8; i += 2)
		pseudo += (uint32_t)(f[26 + i] << 8 | f[27 + i]);
	pseudo += 17 + FRAME_LEN - 34;
	c = csum(u, FRAME_LEN - 34, pseudo);
	put16(u + 6, c ? c : 0xffff);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	char dir[128];

	snprintf(dir, sizeof(dir), "/var/run/dpdk/%s", prefix);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
	unsigned streams = argc > 1 ? (unsigned)atoi(argv[1]) : 1000;
	uint64_t target = argc > 2 ? strtoull(argv[2], NULL, 10) : 20000000;
	unsigned addrs = argc > 3 ? (unsigned)atoi(argv[3]) : 1, per_addr;
	char pfx[96];
	char *eal[] = {"worker_bench",	    "--no-huge", "-m", "512", "--no-pci", pfx, "-l", "0",
		       "--log-level=error", NULL};
	struct rte_ring *rx, *tx, *exc;
	struct rte_mempool *mp;
	struct session_table *st;
	struct dp_chan ch;
	struct worker_cfg wc;
	struct port_rss rss;
	struct worker *w;
	uint8_t *frames;
	uint64_t cycles = 0, done = 0, next = 0, chunk_cycles = 0, chunk_pkts = 0;
	double *chunk = calloc(MAX_CHUNKS, sizeof(*chunk));
	unsigned nchunks = 0;
	unsigned nframes;
	int port;

	if (geteuid() != 0) {
		fprintf(stderr, "worker_bench: needs root for the DPDK EAL, skipped\n");
		return 77;
	}
	if (streams == 0 || streams > 10000)
		streams = 1000;
	if (addrs == 0 || addrs > SESSION_MAX_ADDRS)
		addrs = 1;
	per_addr = (streams + addrs - 1) / addrs;
	snprintf(prefix, sizeof(prefix), "dp_worker_bench_%d", (int)getpid());
	snprintf(pfx, sizeof(pfx), "--file-prefix=%s", prefix);
	atexit(cleanup);
	if (rte_eal_init(9, eal) < 0)
		return 1;
	mp = port_mempool_new("wb_mp", 4095, 0);
	rx = rte_ring_create("wb_rx", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	tx = rte_ring_create("wb_tx", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	exc = rte_ring_create("wb_exc", 256, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!mp || !rx || !tx || !exc || !chunk)
		return 1;
	port = rte_eth_from_rings("wb_port", &rx, 1, &tx, 1, 0);
	if (port < 0 || port_setup((uint16_t)port, 1, mp, &rss) ||
	    dp_chan_init(&ch, "wb", 0, 4096, 0))
		return 1;
	st = session_table_new(addrs, PORT_BASE, (uint16_t)(PORT_BASE + per_addr * 4));
	memset(&wc, 0, sizeof(wc));
	wc.port_id = (uint16_t)port;
	wc.msg_in = ch.to_worker;
	wc.msg_out = ch.to_control;
	wc.exc = exc;
	wc.sessions = st;
	wc.n_media = addrs;
	for (unsigned a = 0; a < addrs; a++) {
		wc.media_ip[a] = htonl(0x0a000001 + a);
		wc.netmask[a] = htonl(0xffffff00);
	}
	memcpy(wc.media_mac, (uint8_t[]){2, 0, 0, 0, 0, 1}, 6);
	wc.gateway_ip = htonl(0x0a0000fe);
	wc.sw_udp_csum = true;
	w = worker_new(&wc);
	if (!st || !w)
		return 1;

	/* Streams: party A (198.51.100.x) on port p, party B (203.0.113.x) on p + 2; both NAT'd
	 * (SIP source address), every one of them latches on its first packet. */
	nframes = streams * 2;
	frames = malloc((size_t)nframes * FRAME_LEN);
	for (unsigned i = 0; i < streams; i++) {
		unsigned addr = i % addrs;
		uint16_t pa = (uint16_t)(PORT_BASE + i / addrs * 4), pb = (uint16_t)(pa + 2);
		uint32_t a = htonl(0xc6336400 + (i % 250) + 1),
			 b = htonl(0xcb007100 + (i % 250) + 1);
		struct dp_msg m;

		for (unsigned leg = 0; leg < 2; leg++) {
			memset(&m, 0, sizeof(m));
			m.type = DP_MSG_FLOW_ADD;
			m.addr = (uint8_t)addr;
			m.port = leg ? pb : pa;
			m.peer_port = leg ? pa : pb;
			m.id = m.port;
			m.u.exp.addr.family = AF_INET;
			m.u.exp.addr.v4.s_addr = leg ? b : a;
			m.u.exp.rtp_port = 5004;
			m.u.exp.origin = LATCH_ORIGIN_SIP_SOURCE;
			while (!dp_msg_send(ch.to_worker, &m))
				worker_poll(w, 1);
		}
		build(frames + (size_t)(2 * i) * FRAME_LEN, a, (uint16_t)(10000 + i),
		      wc.media_ip[addr], pa);
		build(frames + (size_t)(2 * i + 1) * FRAME_LEN, b, (uint16_t)(30000 + i),
		      wc.media_ip[addr], pb);
	}
	{
		/* The gateway's MAC, as control would have resolved it. */
		struct dp_msg m;

		memset(&m, 0, sizeof(m));
		m.type = DP_MSG_NEIGH_UPDATE;
		m.u.neigh.ip = wc.gateway_ip;
		memcpy(m.u.neigh.mac, (uint8_t[]){2, 0, 0, 0, 0, 0xfe}, 6);
		dp_msg_send(ch.to_worker, &m);
	}
	while (worker_poll(w, 1))
		;

	/* Fill the pipe, then recycle: every mbuf the worker sent becomes the next input frame. */
	for (unsigned i = 0; i < INFLIGHT; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);

		memcpy(rte_pktmbuf_append(m, FRAME_LEN),
		       frames + (size_t)(next++ % nframes) * FRAME_LEN, FRAME_LEN);
		rte_ring_enqueue(rx, m);
	}
	while (done < target) {
		struct rte_mbuf *out[64];
		unsigned n;
		uint64_t t0 = rte_rdtsc_precise(), dt;

		worker_poll(w, 2);
		worker_flush(w);
		dt = rte_rdtsc_precise() - t0;
		cycles += dt;
		chunk_cycles += dt;
		n = rte_ring_dequeue_burst(tx, (void **)out, 64, NULL);
		if (n == 0) {
			struct worker_stats ws;

			worker_stats_read(w, &ws);
			fprintf(stderr,
				"worker_bench: the worker sent nothing (rx %llu, no-flow %llu, "
				"no-dest %llu, no-neigh %llu, stranger %llu, media %llu, msg "
				"errors "
				"%llu)\n",
				(unsigned long long)ws.rx, (unsigned long long)ws.drop_no_flow,
				(unsigned long long)ws.drop_no_dest,
				(unsigned long long)ws.drop_no_neigh,
				(unsigned long long)ws.drop_latch[LATCH_DROP_STRANGER],
				(unsigned long long)ws.drop_media,
				(unsigned long long)ws.msg_errors);
			return 1;
		}
		for (unsigned i = 0; i < n; i++) {
			struct rte_mbuf *m = out[i];

			rte_pktmbuf_reset(m);
			memcpy(rte_pktmbuf_append(m, FRAME_LEN),
			       frames + (size_t)(next++ % nframes) * FRAME_LEN, FRAME_LEN);
		}
		rte_ring_enqueue_burst(rx, (void **)out, n, NULL);
		done += n;
		chunk_pkts += n;
		if (chunk_pkts >= CHUNK && nchunks < MAX_CHUNKS) {
			chunk[nchunks++] = (double)chunk_cycles / (double)chunk_pkts;
			chunk_cycles = chunk_pkts = 0;
		}
	}
	{
		struct worker_stats ws;
		double hz = (double)rte_get_tsc_hz();

		worker_stats_read(w, &ws);
		printf("worker_bench: %u streams (%u latched legs) on %u media address(es), %llu "
		       "packets relayed, %.1f cycles "
		       "per packet, %.2f Mpps on one core at %.2f GHz TSC (software UDP checksum "
		       "check and rewrite)\n",
		       streams, streams * 2, addrs, (unsigned long long)ws.relayed,
		       (double)cycles / (double)done, (double)done / ((double)cycles / hz) / 1e6,
		       hz / 1e9);
		if (nchunks) {
			/* The mean above includes every time slice other tasks took from this one
			 * on a shared machine; the median chunk mostly does not. */
			qsort(chunk, nchunks, sizeof(chunk[0]), cmp_double);
			printf("worker_bench: per chunk of %u packets (%u chunks): median %.1f "
			       "cycles/packet (%.2f Mpps), best %.1f, worst %.1f\n",
			       CHUNK, nchunks, chunk[nchunks / 2], hz / chunk[nchunks / 2] / 1e6,
			       chunk[0], chunk[nchunks - 1]);
		}
		if (ws.relayed < done) {
			fprintf(stderr, "worker_bench: only %llu of %llu relayed\n",
				(unsigned long long)ws.relayed, (unsigned long long)done);
			return 1;
		}
	}
	free(chunk);
	worker_free(w);
	port_close((uint16_t)port);
	rte_eal_cleanup();
	return 0;
}
