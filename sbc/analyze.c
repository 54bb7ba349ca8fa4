/* analyze: the operator's view of one message — validity, NAT verdict and fixups — as JSON. */
#include "analyze.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fixup.h"
#include "sipmsg.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not valid UTF-8 (RFC 3629). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t need;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		need = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		need = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 2 && cp < 0x80) || (need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

/* Writes a JSON string. Octets that are not UTF-8 (SIP allows them in some places) are written
 * as \u00XX, i.e. read as Latin-1, so the output is always valid JSON. */
static void json_str(FILE *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t l;

		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc(c, out);
			i++;
		} else if (c == '\r') {
			fputs("\\r", out);
			i++;
		} else if (c == '\n') {
			fputs("\\n", out);
			i++;
		} else if (c == '\t') {
			fputs("\\t", out);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
			i++;
		} else if ((l = utf8_len(p + i, n - i)) > 0) {
			fwrite(p + i, 1, l, out);
			i += l;
		} else {
			fprintf(out, "\\u%04x", c);
			i++;
		}
	}
	fputc('"', out);
}

static void json_cstr(FILE *out, const char *s)
{
	json_str(out, s, strlen(s));
}

int analyze_message(const char *buf, size_t len, const struct analyze_opts *opts, FILE *out)
{
	struct sip_error err;
	struct sip_msg *m = sipmsg_parse(buf, len, opts->transport, &err);
	char src[ADDR_STRLEN];

	addr_port_format(&opts->source, src, sizeof(src));
	fputs("{\"source\":", out);
	json_cstr(out, src);
	fputs(",\"transport\":", out);
	json_cstr(out, sip_transport_name(opts->transport));
	if (m == NULL) {
		fputs(",\"valid\":false,\"error\":", out);
		json_cstr(out, err.reason);
		if (err.code != 0)
			fprintf(out, ",\"action\":\"reject\",\"response_code\":%d}\n", err.code);
		else
			fputs(",\"action\":\"drop\"}\n", out);
		return 1;
	}

	struct nat_ctx ctx = {
		.source = opts->source,
		.transport = opts->transport,
		.trusted = opts->trusted,
	};
	struct fixup_result res;
	int rc = fixup_apply(m, &ctx, opts->mask, &res);

	if (rc != 0) {
		sipmsg_free(m);
		return rc;
	}
	size_t mlen;
	const char *meth = sipmsg_method(m, &mlen);

	fputs(",\"valid\":true", out);
	if (sipmsg_is_request(m)) {
		fputs(",\"kind\":\"request\",\"method\":", out);
		json_str(out, meth, mlen);
	} else {
		fprintf(out,
			",\"kind\":\"response\",\"status\":%d,\"cseq_method\":", sipmsg_status(m));
		json_str(out, meth, mlen);
	}
	fprintf(out, ",\"nat\":{\"flags\":%u,\"tests\":[", res.flags);
	bool first = true;

	for (uint32_t bit = 1; bit <= NAT_TEST_TARGET; bit <<= 1) {
		if (!(res.flags & bit))
			continue;
		if (!first)
			fputc(',', out);
		json_cstr(out, nat_test_name(bit));
		first = false;
	}
	fprintf(out, "],\"mask\":%u,\"natted\":%u}", opts->mask, res.natted);
	fputs(",\"fixups\":[", out);
	first = true;
	static const struct {
		uint32_t bit;
		const char *name;
	} done_names[] = {
		{FIXUP_VIA, "via"},
		{FIXUP_CONTACT, "contact"},
		{FIXUP_REGISTER, "register"},
	};
	for (size_t i = 0; i < sizeof(done_names) / sizeof(done_names[0]); i++) {
		if (!(res.done & done_names[i].bit))
			continue;
		if (!first)
			fputc(',', out);
		json_cstr(out, done_names[i].name);
		first = false;
	}
	fputc(']', out);
	if (res.done & FIXUP_REGISTER) {
		fputs(",\"received\":", out);
		json_cstr(out, res.received_uri);
	}
	size_t flen;
	char *fixed = sipmsg_serialize(m, &flen);

	if (fixed == NULL) {
		sipmsg_free(m);
		return -ENOMEM;
	}
	fputs(",\"fixed\":", out);
	json_str(out, fixed, flen);
	fputs("}\n", out);
	free(fixed);
	sipmsg_free(m);
	return 0;
}
