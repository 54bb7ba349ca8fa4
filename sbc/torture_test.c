/* torture_test: every RFC 4475 / RFC 5118 torture message gets the verdict those RFCs give a
 * proxy and registrar (tests/data/torture/verdicts.tsv). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sipmsg.h"

#define TORTURE_DIR "tests/data/torture/"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (f == NULL)
		return NULL;
	buf = malloc(1 << 20);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static void test_verdicts(void **state)
{
	FILE *v = fopen(TORTURE_DIR "verdicts.tsv", "r");
	char line[4096];
	int checked = 0, wrong = 0;

	(void)state;
	assert_non_null(v);
	while (fgets(line, sizeof(line), v) != NULL) {
		char *file = strtok(line, "\t"), *verdict = strtok(NULL, "\t");
		char path[512];
		size_t len = 0;
		struct sip_error err;

		if (file == NULL || verdict == NULL || file[0] == '#')
			continue;
		snprintf(path, sizeof(path), TORTURE_DIR "%s", file);
		char *buf = slurp(path, &len);

		assert_non_null(buf);
		struct sip_msg *m = sipmsg_parse(buf, len, SIP_TRANSPORT_UDP, &err);
		char got[64];

		if (m != NULL)
			snprintf(got, sizeof(got), "accept");
		else if (err.code == 0)
			snprintf(got, sizeof(got), "drop");
		else
			snprintf(got, sizeof(got), "reject %d", err.code);
		if (strcmp(got, verdict) != 0) {
			printf("%-40s expected '%s', got '%s' (%s)\n", file, verdict, got,
			       m ? "" : err.reason);
			wrong++;
		}
		if (m != NULL) {
			/* Accepted messages serialize back byte for byte. */
			size_t olen;
			char *out = sipmsg_serialize(m, &olen);

			assert_non_null(out);
			assert_true(olen <= len);
			assert_memory_equal(out, buf, olen);
			free(out);
		}
		sipmsg_free(m);
		free(buf);
		checked++;
	}
	fclose(v);
	printf("%d torture messages checked, %d with the wrong verdict\n", checked, wrong);
	assert_true(checked >= 60);
	assert_int_equal(wrong, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdicts),
	};

	sipmsg_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
