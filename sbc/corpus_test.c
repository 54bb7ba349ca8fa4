/* corpus_test: NAT flags and fixups on the realistic corpus in tests/data/sip — flags as Kamailio
 * 5.6.3 reported them (the oracle wrote them into each .meta), fixed output as in each .fixed. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fixup.h"
#include "nat.h"
#include "sipmsg.h"

#define CORPUS_DIR "tests/data/sip/"

struct meta {
	char source[64], transport[8], trusted[128], received[128];
	long flags, extra, trusted_flags;
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	*len = 0;
	if (f == NULL)
		return NULL;
	buf = malloc(1 << 20);
	assert_non_null(buf);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static void read_meta(const char *path, struct meta *mt)
{
	FILE *f = fopen(path, "r");
	char line[512];

	memset(mt, 0, sizeof(*mt));
	mt->flags = mt->trusted_flags = -1;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *eq = strchr(line, '=');

		if (eq == NULL)
			continue;
		*eq++ = '\0';
		eq[strcspn(eq, "\r\n")] = '\0';
		if (strcmp(line, "source") == 0)
			snprintf(mt->source, sizeof(mt->source), "%s", eq);
		else if (strcmp(line, "transport") == 0)
			snprintf(mt->transport, sizeof(mt->transport), "%s", eq);
		else if (strcmp(line, "trusted") == 0)
			snprintf(mt->trusted, sizeof(mt->trusted), "%s", eq);
		else if (strcmp(line, "register_received") == 0)
			snprintf(mt->received, sizeof(mt->received), "%s", eq);
		else if (strcmp(line, "flags") == 0)
			mt->flags = strtol(eq, NULL, 10);
		else if (strcmp(line, "sbc_extra") == 0)
			mt->extra = strtol(eq, NULL, 10);
		else if (strcmp(line, "trusted_flags") == 0)
			mt->trusted_flags = strtol(eq, NULL, 10);
	}
	fclose(f);
}

/* Runs one message under a policy and checks the flags and, when fixed is given, the output. */
static int check_one(const char *name, const char *buf, size_t len, const struct meta *mt,
		     const struct addr_set *trusted, long want_flags, const char *fixed,
		     size_t fixed_len)
{
	struct nat_ctx ctx = {.trusted = trusted};
	enum sip_transport t;
	struct sip_error err;
	struct fixup_result res;
	int bad = 0;

	assert_int_equal(addr_port_parse(mt->source, &ctx.source), 0);
	assert_int_equal(sip_transport_parse(mt->transport, &t), 0);
	ctx.transport = t;
	struct sip_msg *m = sipmsg_parse(buf, len, t, &err);

	if (m == NULL) {
		printf("%s: refused: %s\n", name, err.reason);
		return 1;
	}
	assert_int_equal(fixup_apply(m, &ctx, NAT_MASK_DEFAULT, &res), 0);
	if ((long)res.flags != want_flags) {
		printf("%s: flags %u, expected %ld\n", name, res.flags, want_flags);
		bad++;
	}
	if (mt->received[0] != '\0' && trusted == NULL &&
	    strcmp(res.received_uri, mt->received) != 0) {
		printf("%s: register received '%s', expected '%s'\n", name, res.received_uri,
		       mt->received);
		bad++;
	}
	if (fixed != NULL) {
		size_t olen;
		char *out = sipmsg_serialize(m, &olen);

		if (olen != fixed_len || memcmp(out, fixed, olen) != 0) {
			printf("%s: fixed output differs from %s.fixed\n", name, name);
			bad++;
		}
		free(out);
	}
	sipmsg_free(m);
	return bad;
}

static void test_corpus(void **state)
{
	DIR *d = opendir(CORPUS_DIR);
	struct dirent *de;
	int checked = 0, bad = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		char base[256], path[512];
		struct meta mt;
		size_t len, flen;

		if (n < 5 || strcmp(de->d_name + n - 4, ".sip") != 0 || n - 4 >= sizeof(base))
			continue;
		memcpy(base, de->d_name, n - 4);
		base[n - 4] = '\0';
		snprintf(path, sizeof(path), CORPUS_DIR "%s.meta", base);
		read_meta(path, &mt);
		assert_true(mt.flags >= 0);
		snprintf(path, sizeof(path), CORPUS_DIR "%s.sip", base);
		char *buf = slurp(path, &len);

		snprintf(path, sizeof(path), CORPUS_DIR "%s.fixed", base);
		char *fixed = slurp(path, &flen);

		assert_non_null(buf);
		if (fixed == NULL) {
			printf("%s: no %s.fixed\n", base, base);
			bad++;
		}
		if (mt.trusted[0] != '\0') {
			struct addr_set set;

			assert_int_equal(addr_set_parse(mt.trusted, &set), 0);
			/* Without policy the flags are Kamailio's; with the LAN trusted, none. */
			bad += check_one(base, buf, len, &mt, NULL, mt.flags | mt.extra, NULL, 0);
			bad += check_one(base, buf, len, &mt, &set, mt.trusted_flags, fixed, flen);
		} else {
			bad += check_one(base, buf, len, &mt, NULL, mt.flags | mt.extra, fixed,
					 flen);
		}
		free(buf);
		free(fixed);
		checked++;
	}
	closedir(d);
	printf("%d corpus messages checked, %d problems\n", checked, bad);
	assert_true(checked >= 30);
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
	};

	sipmsg_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
