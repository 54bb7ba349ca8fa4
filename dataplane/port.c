/* port: ethdev and mbuf pool set-up for the relay (queues per worker, RSS on the destination
 * port). */
#include "port.h"

#include <errno.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "log.h"

#define PORT_RX_DESC  1024
#define PORT_TX_DESC  1024
#define PORT_MP_CACHE 128

struct rte_mempool *port_mempool_new(const char *name, unsigned n, int socket)
{
	struct rte_mempool *mp;
	unsigned cache = n >= 4 * PORT_MP_CACHE ? PORT_MP_CACHE : 0;

	mp = rte_pktmbuf_pool_create(name, n, cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (!mp)
		errno = rte_errno;
	return mp;
}

/* RSS on the UDP destination port only: after a NAT the remote address and port are random, so
 * only the relay port keeps a flow on its owner's queue (see docs/dataplane.md). */
static int rss_program(uint16_t port_id, const struct rte_eth_dev_info *info, unsigned workers,
		       struct port_rss *rss)
{
	struct rte_eth_rss_reta_entry64 reta_conf[PORT_RETA_MAX / RTE_ETH_RETA_GROUP_SIZE];
	struct rte_eth_rss_conf conf;
	unsigned size = info->reta_size;
	int rc;

	if (size == 0 || size > PORT_RETA_MAX || (size & (size - 1)))
		return -ENOTSUP;
	memcpy(rss->key, portalloc_rss_key_default, sizeof(rss->key));
	rc = portalloc_rss_key_pairsafe(rss->key, sizeof(rss->key), size);
	if (rc)
		return rc;
	memset(&conf, 0, sizeof(conf));
	conf.rss_key = rss->key;
	conf.rss_key_len = sizeof(rss->key);
	conf.rss_hf = RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_L4_DST_ONLY;
	rc = rte_eth_dev_rss_hash_update(port_id, &conf);
	if (rc)
		return rc;
	memset(reta_conf, 0, sizeof(reta_conf));
	for (unsigned i = 0; i < size; i++) {
		rss->reta[i] = (uint16_t)(i % workers);
		reta_conf[i / RTE_ETH_RETA_GROUP_SIZE].mask |= 1ull
							       << (i % RTE_ETH_RETA_GROUP_SIZE);
		reta_conf[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] =
			rss->reta[i];
	}
	rc = rte_eth_dev_rss_reta_update(port_id, reta_conf, (uint16_t)size);
	if (rc)
		return rc;
	rss->reta_size = size;
	rss->enabled = true;
	return 0;
}

int port_setup(uint16_t port_id, unsigned workers, struct rte_mempool *mp, struct port_rss *rss)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	uint16_t rxd = PORT_RX_DESC, txd = PORT_TX_DESC;
	int socket = rte_eth_dev_socket_id(port_id);
	bool want_rss = workers > 1;
	int rc;

	memset(rss, 0, sizeof(*rss));
	if (workers == 0 || workers >= UINT16_MAX)
		return -EINVAL;
	rc = rte_eth_dev_info_get(port_id, &info);
	if (rc)
		return rc;
	if (want_rss && !(info.flow_type_rss_offloads & RTE_ETH_RSS_NONFRAG_IPV4_UDP)) {
		LOG_ERR("port %u: no RSS on IPv4/UDP, so it can serve only one worker", port_id);
		return -ENOTSUP;
	}
	memset(&conf, 0, sizeof(conf));
	if (want_rss) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_L4_DST_ONLY;
	}
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_UDP_CKSUM)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	rc = rte_eth_dev_configure(port_id, (uint16_t)workers, (uint16_t)workers, &conf);
	if (rc)
		return rc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rxd, &txd);
	if (rc)
		return rc;
	for (unsigned q = 0; q < workers; q++) {
		rc = rte_eth_rx_queue_setup(port_id, (uint16_t)q, rxd, (unsigned)socket, NULL, mp);
		if (rc)
			return rc;
	}
	for (unsigned q = 0; q < workers; q++) {
		rc = rte_eth_tx_queue_setup(port_id, (uint16_t)q, txd, (unsigned)socket, NULL);
		if (rc)
			return rc;
	}
	rc = rte_eth_dev_start(port_id);
	if (rc)
		return rc;
	if (want_rss) {
		rc = rss_program(port_id, &info, workers, rss);
		if (rc) {
			LOG_ERR("port %u: cannot program RSS: %s", port_id, strerror(-rc));
			rte_eth_dev_stop(port_id);
			return rc;
		}
	}
	return 0;
}

void port_close(uint16_t port_id)
{
	rte_eth_dev_stop(port_id);
	rte_eth_dev_close(port_id);
}
