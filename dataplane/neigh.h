/* neigh: the control lcore's neighbour table (IPv4 -> Ethernet) with ARP resolution state:
 * pending requests, retries, failures and refresh. Pure: it decides, the caller sends. */
#ifndef SBC_DATAPLANE_NEIGH_H
#define SBC_DATAPLANE_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

#define NEIGH_RETRY_MS	 1000	/* between ARP requests for an unresolved address */
#define NEIGH_TRIES	 3	/* requests before an address counts as failed */
#define NEIGH_FAILED_MS	 5000	/* a failed address is not asked for again before this */
#define NEIGH_REFRESH_MS 300000 /* a resolved address is asked for again after this */

enum neigh_state {
	NEIGH_INCOMPLETE = 1, /* requests sent, no answer yet */
	NEIGH_REACHABLE,      /* MAC known */
	NEIGH_FAILED,	      /* no answer after NEIGH_TRIES requests */
};

struct neigh_table;

/* A table of at most cap entries (the oldest failed or incomplete entry, else the least recently
 * updated, is replaced when full). Returns NULL with errno. Control lcore only, as all below. */
struct neigh_table *neigh_new(unsigned cap);
void neigh_free(struct neigh_table *nt);

/* Copies ip's MAC (network-order ip) into mac and returns true when it is known. */
bool neigh_lookup(const struct neigh_table *nt, uint32_t ip, uint8_t mac[6]);

/* Records ip -> mac from an ARP packet (RFC 826 merge). With create false only an existing entry
 * is updated. Returns true when the mapping is new or changed (workers must be told). */
bool neigh_learn(struct neigh_table *nt, uint32_t ip, const uint8_t mac[6], bool create,
		 uint64_t now_ms);

/* Somebody needs ip's MAC. Returns true when an ARP request should be sent now (a new entry, or a
 * failed one whose hold-down is over); false while a request is pending or the MAC is known. */
bool neigh_resolve(struct neigh_table *nt, uint32_t ip, uint64_t now_ms);

/* Calls send(arg, ip) for every entry due for a (re)try or a refresh, and marks entries failed
 * after NEIGH_TRIES requests. */
void neigh_timer(struct neigh_table *nt, uint64_t now_ms, void (*send)(void *arg, uint32_t ip),
		 void *arg);

/* The state of ip, or 0 when it has no entry. */
enum neigh_state neigh_state(const struct neigh_table *nt, uint32_t ip);

#endif
