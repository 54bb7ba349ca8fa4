/* sdp_golden_test: rewrites each tests/golden/sdp/<name>.in.sdp as <name>.spec asks and compares
 * the result byte for byte with <name>.out.sdp.
 *
 * Spec format, one directive per line, '#' starts a comment:
 *   origin                     rewrite the o= address too
 *   no-ice                     remove the ICE attributes
 *   keep-hold                  keep c=IN IP4 0.0.0.0 as it is
 *   session <addr>             address for session-level c= and o= (default: the first media's)
 *   media <addr|-> <rtp> <rtcp>  one per m= section in order; "-" leaves the addresses, 0 as in
 *                              struct sdp_rewrite_media
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdp.h"

struct golden_case {
	char dir[512];
	char name[128];
};

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf != NULL) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

static void parse_addr_or_dash(const char *s, struct addr_ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (strcmp(s, "-") != 0 && !addr_parse(s, strlen(s), ip))
		fail_msg("spec: bad address '%s'", s);
}

static void parse_spec(char *text, struct sdp_rewrite *rw, struct sdp_rewrite_media *media,
		       size_t max)
{
	char *save = NULL;

	memset(rw, 0, sizeof(*rw));
	rw->media = media;
	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char word[32], a[64];
		unsigned int rtp, rtcp;
		char *hash = strchr(line, '#');

		if (hash != NULL)
			*hash = '\0';
		if (sscanf(line, "%31s", word) != 1)
			continue;
		if (strcmp(word, "origin") == 0) {
			rw->rewrite_origin = true;
		} else if (strcmp(word, "no-ice") == 0) {
			rw->remove_ice = true;
		} else if (strcmp(word, "keep-hold") == 0) {
			rw->keep_hold = true;
		} else if (strcmp(word, "session") == 0 && sscanf(line, "%*s %63s", a) == 1) {
			parse_addr_or_dash(a, &rw->session_addr);
		} else if (strcmp(word, "media") == 0 &&
			   sscanf(line, "%*s %63s %u %u", a, &rtp, &rtcp) == 3 && rtp < 65536 &&
			   rtcp < 65536 && rw->media_count < max) {
			parse_addr_or_dash(a, &media[rw->media_count].addr);
			media[rw->media_count].rtp_port = (uint16_t)rtp;
			media[rw->media_count].rtcp_port = (uint16_t)rtcp;
			rw->media_count++;
		} else {
			fail_msg("spec: cannot read '%s'", line);
		}
	}
}

static void run_case(void **state)
{
	const struct golden_case *gc = *state;
	char path[700], why[160];
	size_t in_len, spec_len, exp_len;
	char *in, *spec, *exp, *out;
	struct sdp_rewrite_media media[SDP_MAX_MEDIA];
	struct sdp_rewrite rw;
	struct sdp_error err;
	struct sdp *sdp;
	ssize_t n;
	int rc;

	snprintf(path, sizeof(path), "%s/%s.in.sdp", gc->dir, gc->name);
	in = read_file(path, &in_len);
	snprintf(path, sizeof(path), "%s/%s.spec", gc->dir, gc->name);
	spec = read_file(path, &spec_len);
	snprintf(path, sizeof(path), "%s/%s.out.sdp", gc->dir, gc->name);
	exp = read_file(path, &exp_len);
	if (in == NULL || spec == NULL || exp == NULL)
		fail_msg("%s: missing .in.sdp, .spec or .out.sdp", gc->name);
	parse_spec(spec, &rw, media, SDP_MAX_MEDIA);
	rc = sdp_parse(in, in_len, &sdp, &err);
	if (rc != 0)
		fail_msg("%s: parse failed: %s", gc->name,
			 sdp_error_format(&err, why, sizeof(why)));
	out = malloc(sdp_rewrite_max_len(sdp));
	assert_non_null(out);
	n = sdp_rewrite(sdp, &rw, out, sdp_rewrite_max_len(sdp));
	if (n < 0)
		fail_msg("%s: rewrite failed: %zd", gc->name, n);
	if ((size_t)n != exp_len || memcmp(out, exp, exp_len) != 0) {
		size_t i = 0;

		while (i < (size_t)n && i < exp_len && out[i] == exp[i])
			i++;
		print_error("%s: output differs from %s.out.sdp at byte %zu; got:\n%.*s\n",
			    gc->name, gc->name, i, (int)n, out);
		fail();
	}
	/* What we send must parse again. */
	sdp_free(sdp);
	assert_int_equal(sdp_parse(out, (size_t)n, &sdp, &err), 0);
	sdp_free(sdp);
	free(out);
	free(in);
	free(spec);
	free(exp);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct golden_case *)a)->name, ((const struct golden_case *)b)->name);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/golden/sdp";
	struct golden_case *cases = NULL;
	struct CMUnitTest *tests;
	size_t count = 0;
	struct dirent *de;
	DIR *d = opendir(dir);
	int rc;

	if (d == NULL) {
		fprintf(stderr, "sdp_golden_test: cannot open %s: %s\n", dir, strerror(errno));
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		struct golden_case *grown;

		if (n <= 5 || n - 5 >= sizeof(cases->name) ||
		    strcmp(de->d_name + n - 5, ".spec") != 0)
			continue;
		grown = realloc(cases, (count + 1) * sizeof(*cases));
		if (grown == NULL)
			return 1;
		cases = grown;
		snprintf(cases[count].dir, sizeof(cases[count].dir), "%s", dir);
		memcpy(cases[count].name, de->d_name, n - 5);
		cases[count].name[n - 5] = '\0';
		count++;
	}
	closedir(d);
	if (count == 0) {
		fprintf(stderr, "sdp_golden_test: no .spec files in %s\n", dir);
		return 1;
	}
	qsort(cases, count, sizeof(*cases), by_name);
	tests = calloc(count, sizeof(*tests));
	if (tests == NULL)
		return 1;
	for (size_t i = 0; i < count; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = &cases[i];
	}
	rc = _cmocka_run_group_tests("sdp_golden", tests, count, NULL, NULL);
	free(tests);
	free(cases);
	return rc;
}
