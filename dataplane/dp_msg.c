/* dp_msg: fixed-size control <-> worker messages over SPSC rte_rings. */
#include "dp_msg.h"

#include <errno.h>
#include <stdio.h>

#include <rte_errno.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

int dp_chan_init(struct dp_chan *ch, const char *prefix, unsigned worker, unsigned size, int socket)
{
	char name[RTE_RING_NAMESIZE];
	const unsigned flags = RING_F_SP_ENQ | RING_F_SC_DEQ;

	ch->to_worker = ch->to_control = NULL;
	snprintf(name, sizeof(name), "%s_c2w%u", prefix, worker);
	ch->to_worker = rte_ring_create_elem(name, sizeof(struct dp_msg), size, socket, flags);
	if (!ch->to_worker)
		return -rte_errno;
	snprintf(name, sizeof(name), "%s_w2c%u", prefix, worker);
	ch->to_control = rte_ring_create_elem(name, sizeof(struct dp_msg), size, socket, flags);
	if (!ch->to_control) {
		int err = rte_errno;

		rte_ring_free(ch->to_worker);
		ch->to_worker = NULL;
		return -err;
	}
	return 0;
}

void dp_chan_free(struct dp_chan *ch)
{
	rte_ring_free(ch->to_worker);
	rte_ring_free(ch->to_control);
	ch->to_worker = ch->to_control = NULL;
}

bool dp_msg_send(struct rte_ring *r, const struct dp_msg *m)
{
	return rte_ring_sp_enqueue_elem(r, (void *)(uintptr_t)m, sizeof(*m)) == 0;
}

unsigned dp_msg_recv(struct rte_ring *r, struct dp_msg *out, unsigned n)
{
	return rte_ring_sc_dequeue_burst_elem(r, out, sizeof(*out), n, NULL);
}
