/* dp_policy: media policy from JSON, validated as a whole. */
#include "dp_policy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "latch.h"

void dp_policy_default(struct dp_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->media_timeout_s = 60;
	p->learn_window_ms = 3000;
	p->rebind_idle_ms = 5000;
}

static const struct {
	const char *name;
	uint32_t flags;
} modes[] = {
	{"strict", 0},
	{"learn-any", LATCH_F_LEARN_ANY},
	{"rebind", LATCH_F_ALLOW_REBIND},
	{"learn-any+rebind", LATCH_F_LEARN_ANY | LATCH_F_ALLOW_REBIND},
};

static int get_uint(json_t *o, const char *key, uint32_t max, uint32_t *out, char *err,
		    size_t err_len)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) {
		snprintf(err, err_len, "%s: an integer 0..%u expected", key, max);
		return -EINVAL;
	}
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

int dp_policy_parse(const char *json, size_t len, struct dp_policy *out, char *err, size_t err_len)
{
	static const char *const known[] = {"media-timeout", "delete-delay", "latching",
					    "learn-window-ms", "rebind-idle-ms"};
	struct dp_policy p;
	json_error_t je;
	json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	const char *key;
	json_t *v;
	int rc = -EINVAL;

	dp_policy_default(&p);
	if (!o) {
		snprintf(err, err_len, "line %d: %s", je.line, je.text);
		return -EINVAL;
	}
	if (!json_is_object(o)) {
		snprintf(err, err_len, "a JSON object expected");
		goto out;
	}
	json_object_foreach(o, key, v)
	{
		size_t i;

		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (!strcmp(key, known[i]))
				break;
		if (i == sizeof(known) / sizeof(known[0])) {
			snprintf(err, err_len, "unknown key \"%s\"", key);
			goto out;
		}
	}
	if (get_uint(o, "media-timeout", 86400, &p.media_timeout_s, err, err_len) ||
	    get_uint(o, "delete-delay", 86400, &p.delete_delay_s, err, err_len) ||
	    get_uint(o, "learn-window-ms", 600000, &p.learn_window_ms, err, err_len) ||
	    get_uint(o, "rebind-idle-ms", 600000, &p.rebind_idle_ms, err, err_len))
		goto out;
	v = json_object_get(o, "latching");
	if (v) {
		size_t i;

		for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
			if (json_is_string(v) && !strcmp(json_string_value(v), modes[i].name))
				break;
		if (i == sizeof(modes) / sizeof(modes[0])) {
			snprintf(err, err_len,
				 "latching: \"strict\", \"learn-any\", \"rebind\" or "
				 "\"learn-any+rebind\" expected");
			goto out;
		}
		p.latch_flags = modes[i].flags;
	}
	*out = p;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int dp_policy_load(const char *path, struct dp_policy *out, char *err, size_t err_len)
{
	char buf[65536];
	size_t n;
	FILE *f = fopen(path, "r");
	int rc;

	if (!f) {
		rc = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(-rc));
		return rc;
	}
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f) || n == sizeof(buf)) {
		fclose(f);
		snprintf(err, err_len, "%s: unreadable or larger than 64 KiB", path);
		return -EINVAL;
	}
	fclose(f);
	return dp_policy_parse(buf, n, out, err, err_len);
}
