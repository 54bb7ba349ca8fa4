/* ng_cmd_priv: what ng_cmd.c (offer, answer, delete, the command table, timers) and
 * ng_cmd_report.c (query, list, statistics) share: the command object and the handler type. Not
 * for use outside ng_cmd*.c. */
#ifndef SBC_DATAPLANE_NG_CMD_PRIV_H
#define SBC_DATAPLANE_NG_CMD_PRIV_H

#include <stdint.h>

#include "ng_cmd.h"
#include "ng_req.h"

struct ng_cmd {
	struct ng_cmd_cfg cfg;
	const struct ng_ops *ops;
	void *arg;
	struct ng_calls *calls;
	uint64_t offers, answers, deletes, errors, timeouts;
	char reason[192]; /* for error reasons with details */
};

/* A command: writes its whole reply into w and returns 0, or returns -errno with *reason set and
 * nothing written. */
typedef int (*ng_handler)(struct ng_cmd *nc, const struct ng_req *req, const struct ng_now *now,
			  struct bencode_writer *w, const char **reason);

/* The newest record of the request's call-id, or NULL with *reason set ("No call-id", "Unknown
 * call-id"). */
struct ng_call *ng_cmd_find_call(struct ng_cmd *nc, const struct ng_req *req, const char **reason);

/* The media address (index) of a call: its first stream's, else that of another record of the
 * same call-id (a forked branch), else NG_ADDR_ANY. */
unsigned ng_cmd_call_addr(const struct ng_cmd *nc, const struct ng_call *c);

/* The reporting commands (ng_cmd_report.c), ng_handlers. */
int ng_cmd_report_query(struct ng_cmd *nc, const struct ng_req *req, const struct ng_now *now,
			struct bencode_writer *w, const char **reason);
int ng_cmd_report_list(struct ng_cmd *nc, const struct ng_req *req, const struct ng_now *now,
		       struct bencode_writer *w, const char **reason);
int ng_cmd_report_statistics(struct ng_cmd *nc, const struct ng_req *req, const struct ng_now *now,
			     struct bencode_writer *w, const char **reason);

#endif
