/* log: leveled, rate-limitable logging to stderr (journald picks it up under systemd). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Written once by log_init() before any thread starts, read-only afterwards. */
static struct {
	char prog[32];
	enum log_level level;
} log_cfg = {"sbc", LOG_LEVEL_INFO};

static const char *const level_names[] = {
	[LOG_LEVEL_ERR] = "err",   [LOG_LEVEL_WARN] = "warn",	[LOG_LEVEL_NOTICE] = "notice",
	[LOG_LEVEL_INFO] = "info", [LOG_LEVEL_DEBUG] = "debug",
};

void log_init(const char *progname, enum log_level level)
{
	snprintf(log_cfg.prog, sizeof(log_cfg.prog), "%s", progname);
	log_cfg.level = level;
}

int log_level_parse(const char *name)
{
	for (int i = LOG_LEVEL_ERR; i <= LOG_LEVEL_DEBUG; i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (level > log_cfg.level)
		return;
	/* "<N>" lets journald assign the priority; plain readers still see a readable prefix. */
	n = snprintf(line, sizeof(line), "<%d>%s: %s: ", (int)level, log_cfg.prog,
		     level_names[level]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool log_ratelimit_ok(struct log_ratelimit *rl, uint32_t burst, uint32_t interval_ms)
{
	uint64_t now = now_ms();

	if (now - rl->window_start_ms >= interval_ms) {
		if (rl->suppressed > 0)
			log_msg(LOG_LEVEL_NOTICE, "%u similar messages suppressed", rl->suppressed);
		rl->window_start_ms = now;
		rl->count = 0;
		rl->suppressed = 0;
	}
	if (rl->count < burst) {
		rl->count++;
		return true;
	}
	rl->suppressed++;
	return false;
}
