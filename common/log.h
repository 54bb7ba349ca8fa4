/* log: leveled, rate-limitable logging to stderr (journald picks it up under systemd). */
#ifndef SBC_COMMON_LOG_H
#define SBC_COMMON_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARN = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/* Sets the process-wide threshold and program name (called once at start-up, before threads). */
void log_init(const char *progname, enum log_level level);

/* Parses "err", "warn", "notice", "info" or "debug". Returns the level or -1. */
int log_level_parse(const char *name);

/* Writes one line "<prio>prog: LEVEL: message" when level passes the threshold. Thread-safe (one
 * write(2) per line). */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A token bucket for rate-limited logging of runtime input problems; one per call site. */
struct log_ratelimit {
	uint64_t window_start_ms;
	uint32_t count;
	uint32_t suppressed;
};

/* Returns true when the caller may log now (at most burst lines per interval_ms). When lines were
 * suppressed, the next allowed call reports how many first. */
bool log_ratelimit_ok(struct log_ratelimit *rl, uint32_t burst, uint32_t interval_ms);

#define LOG_ERR(...)	log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define LOG_WARN(...)	log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_NOTICE(...) log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define LOG_INFO(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...)	log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
