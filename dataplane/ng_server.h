/* ng_server: the rtpengine ng protocol endpoint on a UDP socket of the control lcore: framing
 * ("cookie SP bencoded-dict"), decoding, a reply cache by cookie so that a retransmitted request
 * is answered again without being executed twice. */
#ifndef SBC_DATAPLANE_NG_SERVER_H
#define SBC_DATAPLANE_NG_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"
#include "ng_cmd.h"

#define NG_SERVER_MAX_DGRAM 65507 /* the largest UDP payload over IPv4 */
#define NG_SERVER_CACHE_MS  30000 /* how long a reply is kept for retransmissions */

struct ng_server_stats {
	uint64_t requests, replies, retransmits, malformed, send_errors;
};

struct ng_server;

/* A server running requests on cmd (not owned) with a reply cache of cache_slots entries (0 =
 * 1024). Returns NULL with errno. Control lcore only, as all below. */
struct ng_server *ng_server_new(struct ng_cmd *cmd, unsigned cache_slots);

/* Closes the socket and frees the cache. */
void ng_server_free(struct ng_server *srv);

/* Binds a non-blocking UDP socket to listen. Returns the descriptor (for poll) or -errno. */
int ng_server_open(struct ng_server *srv, const struct addr_port *listen);

/* Handles one datagram and writes the reply datagram into out[0..cap). Returns its length, or
 * -EINVAL when no reply is possible (no cookie). Does not touch the socket. */
ssize_t ng_server_handle(struct ng_server *srv, const char *dgram, size_t len,
			 const struct ng_now *now, char *out, size_t cap);

/* Receives and answers up to max pending datagrams on the socket. Returns how many. Never
 * blocks. */
unsigned ng_server_poll(struct ng_server *srv, const struct ng_now *now, unsigned max);

void ng_server_stats_read(const struct ng_server *srv, struct ng_server_stats *out);

#endif
