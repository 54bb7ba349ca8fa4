/* main: the sbc-sip command line — options, --help, --check and the --analyze tool. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "analyze.h"
#include "daemon.h"
#include "log.h"
#include "nat.h"
#include "sipmsg.h"

/* Files larger than this are not SIP messages; reading stops here and the parser refuses them. */
#define ANALYZE_MAX_FILE      (1024 * 1024)

#define DEFAULT_POLICY	      "/var/lib/sbc/policy.db"
#define DEFAULT_REGISTRATIONS "/var/lib/sbc/registrations.db"
#define DEFAULT_CTL	      "/run/sbc/sip.ctl"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: sbc-sip [--listen IP:PORT ...] [--policy FILE] [--registrations FILE]\n"
		"               [--ctl PATH] [--dataplane IP:PORT,...] [--log-level L] [--check]\n"
		"       sbc-sip --analyze FILE --source IP:PORT [--transport udp|tcp|tls|ws|wss]\n"
		"               [--trusted CIDR,...] [--mask N]\n"
		"\n"
		"The signaling core of the SBC: a NAT-aware SIP proxy and registrar.\n"
		"\n"
		"Analyzer (--analyze): reads one SIP message from FILE ('-' for standard input) "
		"as\n"
		"if it had arrived from IP:PORT over the given transport, and prints one JSON "
		"object:\n"
		"  valid          whether the message passes parsing and sanity checks\n"
		"  error          what is wrong with it (when not valid)\n"
		"  action         \"reject\" (a request answered with response_code) or \"drop\"\n"
		"  response_code  the response a proxy sends to the rejected request\n"
		"  nat.flags      every NAT test that fired, as nat_uac_test() bits:\n"
		"                   1 contact-private  private address in the Contact URI\n"
		"                   2 via-address      top Via host differs from the source "
		"address\n"
		"                   4 via-private      private address in the top Via\n"
		"                   8 sdp-private      private address in an SDP c= line\n"
		"                  16 via-port         source port differs from the Via port "
		"(5060)\n"
		"                  32 source-private   the source address is private\n"
		"                  64 websocket        received over WebSocket\n"
		"                 128 contact-port     source port differs from the Contact port\n"
		"                 256 sdp-address      SDP session c= differs from the source "
		"address\n"
		"                 512 target           2nd Via rewritten (replies); R-URI != dst "
		"URI\n"
		"  nat.tests      the names of those tests\n"
		"  nat.natted     flags & mask: non-zero means the sender is treated as NAT'd\n"
		"  fixups         what was changed: via, contact, register\n"
		"  received       for a NAT'd REGISTER, the real path stored with the binding\n"
		"  fixed          the message after the fixups\n"
		"Exit status: 0 valid, 1 invalid message, 2 usage error.\n"
		"\n"
		"Daemon options:\n"
		"  --listen IP:PORT    SIP over UDP and TCP on this address (repeatable, at most "
		"%d;\n"
		"                      default 127.0.0.1:5060); also the address in Via and\n"
		"                      Record-Route, so give the one peers reach\n"
		"  --policy FILE       policy database, opened read-only (default %s);\n"
		"                      create it with sbc-db migrate, fill it with sbc-db load\n"
		"  --registrations FILE  bindings database sbc-sip owns (default %s)\n"
		"  --ctl PATH          control socket, JSON lines (default %s; 'none' for none):\n"
		"                      "
		"{\"cmd\":\"stats\"|\"registrations\"|\"dialogs\"|\"reload\"|\"help\"}\n"
		"  SIGHUP or {\"cmd\":\"reload\"} reloads the policy; a bad policy keeps the old "
		"one.\n"
		"  --dataplane IP:PORT[=W],...  sbc-dataplane ng addresses (weights W, default "
		"1):\n"
		"                      SDP-bearing messages engage the media relay\n"
		"  --media-notify IP:PORT  where the dataplanes send media-timeout reports\n"
		"  --hold-timeout S    a held call reported without media ends after S seconds\n"
		"                      (default 7200; 0: never)\n"
		"  --dialog-timeout S  a dialog with no in-dialog request for S seconds ends with\n"
		"                      BYE both ways and its media released (default 43200 = 12 "
		"h;\n"
		"                      0: never)\n"
		"\n"
		"Analyzer options:\n"
		"  --analyze FILE      analyze one message (see above)\n"
		"  --source IP:PORT    where the message came from ([IPv6]:PORT for IPv6)\n"
		"  --transport T       udp (default), tcp, tls, ws or wss\n"
		"  --trusted CIDRS     comma-separated networks that are never NAT evidence\n"
		"                      (directly reachable devices on private subnets)\n"
		"  --mask N            NAT tests that make a sender NAT'd (default %u = 1|2|16)\n"
		"  --log-level L       err, warn, notice, info (default) or debug\n"
		"  --check             validate the options (and the policy database) and exit\n"
		"  --help              show this help\n"
		"  --version           show the version\n",
		DAEMON_MAX_LISTEN, DEFAULT_POLICY, DEFAULT_REGISTRATIONS, DEFAULT_CTL,
		NAT_MASK_DEFAULT);
}

/* A duration option: 0..604800 seconds (a week). Returns 0, or -1 after saying why. */
static int parse_seconds(const char *opt, const char *arg, uint32_t *out)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 10);

	if (*end != '\0' || arg[0] < '0' || arg[0] > '9' || v > 86400 * 7) {
		fprintf(stderr, "sbc-sip: --%s must be 0..604800 seconds\n", opt);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf;
	size_t n = 0;

	if (f == NULL)
		return NULL;
	buf = malloc(ANALYZE_MAX_FILE + 1);
	if (buf != NULL) {
		n = fread(buf, 1, ANALYZE_MAX_FILE + 1, f);
		if (ferror(f)) {
			free(buf);
			buf = NULL;
		}
	}
	if (f != stdin)
		fclose(f);
	*len = n;
	return buf;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"analyze", required_argument, NULL, 'a'},
		{"source", required_argument, NULL, 's'},
		{"transport", required_argument, NULL, 't'},
		{"trusted", required_argument, NULL, 'T'},
		{"mask", required_argument, NULL, 'm'},
		{"log-level", required_argument, NULL, 'l'},
		{"listen", required_argument, NULL, 'L'},
		{"policy", required_argument, NULL, 'P'},
		{"registrations", required_argument, NULL, 'R'},
		{"ctl", required_argument, NULL, 'C'},
		{"dataplane", required_argument, NULL, 'D'},
		{"media-notify", required_argument, NULL, 'N'},
		{"hold-timeout", required_argument, NULL, 'H'},
		{"dialog-timeout", required_argument, NULL, 'E'},
		{"check", no_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *analyze = NULL, *source = NULL;
	struct addr_set trusted = {0};
	struct analyze_opts opts = {.transport = SIP_TRANSPORT_UDP, .mask = NAT_MASK_DEFAULT};
	struct daemon_opts dopts = {.policy_path = DEFAULT_POLICY,
				    .registrations_path = DEFAULT_REGISTRATIONS,
				    .ctl_path = DEFAULT_CTL,
				    .hold_timeout_s = 7200,
				    .dialog_timeout_s = 43200};
	bool check = false;
	int level = LOG_LEVEL_INFO, c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			analyze = optarg;
			break;
		case 's':
			source = optarg;
			break;
		case 't':
			if (sip_transport_parse(optarg, &opts.transport) != 0) {
				fprintf(stderr, "sbc-sip: unknown transport '%s'\n", optarg);
				return 2;
			}
			break;
		case 'T':
			if (addr_set_parse(optarg, &trusted) != 0) {
				fprintf(stderr,
					"sbc-sip: bad --trusted list '%s' (CIDR,... at most %d)\n",
					optarg, ADDR_SET_MAX);
				return 2;
			}
			break;
		case 'm': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 0);

			if (*end != '\0' || optarg[0] == '\0' || v > NAT_TEST_ALL) {
				fprintf(stderr, "sbc-sip: --mask must be 0..%u\n", NAT_TEST_ALL);
				return 2;
			}
			opts.mask = (uint32_t)v;
			break;
		}
		case 'l':
			level = log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr, "sbc-sip: unknown log level '%s'\n", optarg);
				return 2;
			}
			break;
		case 'L':
			if (dopts.nlisten == DAEMON_MAX_LISTEN ||
			    addr_port_parse(optarg, &dopts.listen[dopts.nlisten]) != 0) {
				fprintf(stderr,
					"sbc-sip: bad --listen '%s' (IP:PORT, at most %d)\n",
					optarg, DAEMON_MAX_LISTEN);
				return 2;
			}
			dopts.nlisten++;
			break;
		case 'P':
			dopts.policy_path = optarg;
			break;
		case 'R':
			dopts.registrations_path = optarg;
			break;
		case 'C':
			dopts.ctl_path = strcmp(optarg, "none") == 0 ? NULL : optarg;
			break;
		case 'D':
			dopts.dataplanes = optarg;
			break;
		case 'H':
			if (parse_seconds("hold-timeout", optarg, &dopts.hold_timeout_s) != 0)
				return 2;
			break;
		case 'E':
			if (parse_seconds("dialog-timeout", optarg, &dopts.dialog_timeout_s) != 0)
				return 2;
			break;
		case 'N':
			if (addr_port_parse(optarg, &dopts.media_notify) != 0) {
				fprintf(stderr, "sbc-sip: bad --media-notify '%s' (IP:PORT)\n",
					optarg);
				return 2;
			}
			break;
		case 'c':
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sbc-sip %s\n", SBC_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sbc-sip: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	log_init("sbc-sip", (enum log_level)level);
	opts.trusted = &trusted;
	if (analyze != NULL) {
		if (source == NULL || addr_port_parse(source, &opts.source) != 0) {
			fprintf(stderr, "sbc-sip: --analyze needs --source IP:PORT (got '%s')\n",
				source != NULL ? source : "");
			return 2;
		}
		if (check) {
			printf("sbc-sip: analyzer options OK\n");
			return 0;
		}
		size_t len;
		char *buf = read_all(analyze, &len);

		if (buf == NULL) {
			fprintf(stderr, "sbc-sip: cannot read '%s': %s\n", analyze,
				strerror(errno));
			return 2;
		}
		sipmsg_global_init();
		int rc = analyze_message(buf, len, &opts, stdout);

		free(buf);
		if (rc < 0) {
			fprintf(stderr, "sbc-sip: analysis failed: %s\n", strerror(-rc));
			return 2;
		}
		return rc;
	}
	if (dopts.nlisten == 0) {
		addr_port_parse("127.0.0.1:5060", &dopts.listen[0]);
		dopts.nlisten = 1;
	}
	if (check)
		return daemon_check(&dopts);
	sipmsg_global_init();
	return daemon_run(&dopts);
}
