/* dp_policy: the dataplane's media policy (latching mode, media timeout, delete delay), read from
 * a JSON file at start-up and on "reload", validated as a whole before it replaces the old one. */
#ifndef SBC_DATAPLANE_DP_POLICY_H
#define SBC_DATAPLANE_DP_POLICY_H

#include <stddef.h>
#include <stdint.h>

struct dp_policy {
	uint32_t media_timeout_s; /* 0 = off */
	uint32_t delete_delay_s;  /* default for ng delete */
	uint32_t latch_flags;	  /* 0 (strict), LATCH_F_LEARN_ANY, LATCH_F_ALLOW_REBIND */
	uint32_t learn_window_ms;
	uint32_t rebind_idle_ms;
};

/* The defaults: media timeout 60 s, delete immediately, strict latching. */
void dp_policy_default(struct dp_policy *p);

/* Parses a JSON object of the form
 *   {"media-timeout": 60, "delete-delay": 0, "latching": "strict" | "learn-any" | "rebind" |
 *    "learn-any+rebind", "learn-window-ms": 3000, "rebind-idle-ms": 5000}
 * (every key optional; missing keys keep the defaults; unknown keys are errors, to catch typos).
 * On success fills *out and returns 0; otherwise returns -EINVAL and writes why into err. */
int dp_policy_parse(const char *json, size_t len, struct dp_policy *out, char *err, size_t err_len);

/* As dp_policy_parse() on a file's contents (-errno when it cannot be read). */
int dp_policy_load(const char *path, struct dp_policy *out, char *err, size_t err_len);

#endif
