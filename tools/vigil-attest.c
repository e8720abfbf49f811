/* vigil attest: print the runtime measurement log and replay it against the vTPM (and RTMR3). */
#include "tools/vigil.h"
#include "attest/attest.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct attest_args {
	const char *log;
	const char *tcti;
	const char *rtmr_path; /* replay: also compare RTMR3 read from here; measure: extend it */
	const char *trust_dir;
	const char *state;
	const char *platform;
	const char *file;
	bool no_tpm;
	bool no_start; /* replay: the log was written by `vigil attest measure`, not vigild */
};

static int parse_attest_args(int argc, char **argv, struct attest_args *aa, const char *usage)
{
	static const struct option longopts[] = {
	    {"log", required_argument, NULL, 'l'},   {"tcti", required_argument, NULL, 't'},
	    {"rtmr", required_argument, NULL, 'r'},  {"trust-dir", required_argument, NULL, 'T'},
	    {"state", required_argument, NULL, 's'}, {"platform", required_argument, NULL, 'p'},
	    {"no-tpm", no_argument, NULL, 'n'},      {"no-start-record", no_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},        {0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "l:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			aa->log = optarg;
			break;
		case 't':
			aa->tcti = optarg;
			break;
		case 'r':
			aa->rtmr_path = optarg;
			break;
		case 'T':
			aa->trust_dir = optarg;
			break;
		case 's':
			aa->state = optarg;
			break;
		case 'p':
			aa->platform = optarg;
			break;
		case 'n':
			aa->no_tpm = true;
			break;
		case 'S':
			aa->no_start = true;
			break;
		case 'h':
			printf("usage: vigil attest %s\n", usage);
			exit(VIGIL_EXIT_OK);
		default:
			fprintf(stderr, "usage: vigil attest %s\n", usage);
			return -EINVAL;
		}
	}
	/* Only `measure` takes an operand. */
	if (optind < argc && strstr(usage, "BUNDLE"))
		aa->file = argv[optind++];
	if (optind != argc || (strstr(usage, "BUNDLE") && !aa->file)) {
		fprintf(stderr, "usage: vigil attest %s\n", usage);
		return -EINVAL;
	}
	if (!aa->log)
		aa->log = ATTEST_DEFAULT_LOG;
	if (!aa->tcti)
		aa->tcti = getenv("VIGIL_TCTI") ?: "device:/dev/tpmrm0";
	return 0;
}

static void print_digest(const char *label, const struct attest_digest *d)
{
	char hex[2 * ATTEST_MAX_DIGEST + 1];

	vigil_hex(d->d, d->len, hex);
	printf("%s%s:%s\n", label, attest_alg_name(d->alg), hex);
}

static int print_entry(const struct measure_entry *e, void *ctx)
{
	size_t i;

	printf("#%llu", (unsigned long long)e->recnum);
	if (e->pcr >= 0)
		printf(" pcr %d", e->pcr);
	if (e->rtmr >= 0)
		printf(" rtmr %d", e->rtmr);
	printf(" %s\n", e->content_type);
	for (i = 0; i < e->digests.n; i++)
		print_digest("  ", &e->digests.v[i]);
	printf("  %.*s\n", (int)e->content_len, e->content);
	return 0;
}

static int do_attest_log(int argc, char **argv)
{
	struct attest_args aa = {0};
	char err[512] = "";

	if (parse_attest_args(argc, argv, &aa, "log [--log FILE]") < 0)
		return VIGIL_EXIT_USAGE;
	if (measure_log_read(aa.log, print_entry, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigil: %s\n", err);
		return VIGIL_EXIT_INVALID;
	}
	return VIGIL_EXIT_OK;
}

static bool same_digest(const struct attest_digest *a, const struct attest_digest *b)
{
	return a->alg == b->alg && a->len == b->len && memcmp(a->d, b->d, a->len) == 0;
}

static bool compare(const char *what, const struct attest_digest *want,
                    const struct attest_digest *got)
{
	bool same = same_digest(want, got);

	printf("%s %s: %s\n", what, attest_alg_name(want->alg), same ? "match" : "MISMATCH");
	print_digest("  replayed ", want);
	print_digest("  current  ", got);
	if (!same)
		fprintf(stderr,
		        "vigil: attest replay: %s %s: the register does not hold what the "
		        "log predicts (a record is missing, altered or extra)\n",
		        what, attest_alg_name(want->alg));
	return same;
}

/* One reading of the log and of the registers it names. */
struct replay_read {
	struct measure_replay rp;
	struct attest_digests pcr_now; /* the PCR's banks, in rp.pcr_banks' order */
	bool rtmr_read;
	struct attest_digest rtmr_now;
};

/*
 * Fills rr and returns 0, or prints why it could not and returns the exit status: the log is
 * invalid (VIGIL_EXIT_INVALID), or the TPM or the RTMR file could not be read (VIGIL_EXIT_FAIL).
 */
static int replay_read(const struct attest_args *aa, struct replay_read *rr)
{
	char err[512] = "";
	int r = 0;

	memset(rr, 0, sizeof(*rr));
	if (measure_replay_strict(aa->log, !aa->no_start, &rr->rp, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigil: attest replay: %s\n", err);
		return VIGIL_EXIT_INVALID;
	}
	if (rr->rp.pcr >= 0) {
		struct attest_tpm *t;
		size_t i;

		r = attest_tpm_open(aa->tcti, &t);
		if (r < 0) {
			fprintf(stderr,
			        "vigil: attest replay: cannot open the TPM through '%s': %s (set "
			        "--tcti)\n",
			        aa->tcti, attest_tpm_strerror(r));
			return VIGIL_EXIT_FAIL;
		}
		for (i = 0; i < rr->rp.pcr_banks.n && r == 0; i++) {
			r = attest_tpm_read(t, (unsigned int)rr->rp.pcr, rr->rp.pcr_banks.v[i].alg,
			                    &rr->pcr_now.v[i]);
			if (r < 0)
				fprintf(stderr, "vigil: attest replay: reading PCR %d %s: %s\n",
				        rr->rp.pcr, attest_alg_name(rr->rp.pcr_banks.v[i].alg),
				        attest_tpm_strerror(r));
		}
		rr->pcr_now.n = i;
		attest_tpm_close(t);
		if (r < 0)
			return VIGIL_EXIT_FAIL;
	}
	if (rr->rp.rtmr && aa->rtmr_path) {
		if (attest_rtmr_read(aa->rtmr_path, &rr->rtmr_now) < 0) {
			fprintf(stderr, "vigil: attest replay: %s: cannot read exactly 48 bytes\n",
			        aa->rtmr_path);
			return VIGIL_EXIT_FAIL;
		}
		rr->rtmr_read = true;
	}
	return 0;
}

static bool replay_matches(const struct replay_read *rr)
{
	size_t i;

	for (i = 0; i < rr->pcr_now.n; i++)
		if (!same_digest(&rr->rp.pcr_banks.v[i], &rr->pcr_now.v[i]))
			return false;
	return !rr->rtmr_read || same_digest(&rr->rp.rtmr_value, &rr->rtmr_now);
}

/*
 * A live writer (vigild measuring a bundle or anchoring an audit checkpoint) appends a record's
 * line durably, then extends: read between the two, the log is one record ahead of the
 * register. A mismatch is read again, up to this many times, before it is reported; a record
 * in flight lands within milliseconds, a real difference never goes away.
 */
#define REPLAY_READS    10
#define REPLAY_PAUSE_US 300000

/*
 * Exit 0 only when every register the log names and the caller can read holds exactly what
 * the log predicts, and at least one was compared. The result starts as a failure.
 */
static int do_replay(int argc, char **argv)
{
	struct attest_args aa = {0};
	struct replay_read rr;
	bool same = true;
	int compared = 0, rc = VIGIL_EXIT_FAIL, r, n;
	size_t i;

	if (parse_attest_args(
	        argc, argv, &aa,
	        "replay [--log FILE] [--tcti TCTI] [--rtmr FILE] [--no-start-record]") < 0)
		return VIGIL_EXIT_USAGE;
	for (n = 1;; n++) {
		r = replay_read(&aa, &rr);
		if (r != 0)
			return r;
		if (replay_matches(&rr) || n == REPLAY_READS)
			break;
		usleep(REPLAY_PAUSE_US);
	}
	printf("%s: %llu records\n", aa.log, (unsigned long long)rr.rp.records);
	if (n > 1)
		printf("read %d times: the log and the registers disagreed while a record was "
		       "in flight\n",
		       n);
	if (rr.rp.pcr >= 0) {
		char what[32];

		snprintf(what, sizeof(what), "pcr %d", rr.rp.pcr);
		for (i = 0; i < rr.pcr_now.n; i++)
			same &= compare(what, &rr.rp.pcr_banks.v[i], &rr.pcr_now.v[i]);
		compared++;
	}
	if (rr.rtmr_read) {
		same &= compare("rtmr 3", &rr.rp.rtmr_value, &rr.rtmr_now);
		compared++;
	} else if (rr.rp.rtmr) {
		print_digest("rtmr 3 replayed (not compared: pass --rtmr) ", &rr.rp.rtmr_value);
	}
	if (compared == 0)
		fprintf(stderr,
		        "vigil: attest replay: %s: no register was compared (pass --rtmr)\n",
		        aa.log);
	else if (same)
		rc =
		    VIGIL_EXIT_OK; /* set only here: every comparison above completed and matched */
	return rc;
}

/* vigild's acceptance path without the kernel: verify, check the serial, measure, commit. */
static int do_measure(int argc, char **argv)
{
	struct attest_args aa = {0};
	struct policy_error err = {0};
	struct measure_config cfg = {0};
	struct bundle_admission adm = {0};
	struct measure_log *m = NULL;
	struct trust_store *t = NULL;
	struct hwm_store *h = NULL;
	uint64_t recnum = 0;
	int r, rc = VIGIL_EXIT_FAIL;
	size_t len;
	char *buf = NULL;

	if (parse_attest_args(argc, argv, &aa,
	                      "measure [--trust-dir DIR] [--log FILE] [--tcti TCTI | --no-tpm] "
	                      "[--state FILE] [--platform none|tdx|snp] [--rtmr FILE] BUNDLE") < 0)
		return VIGIL_EXIT_USAGE;
	cfg.log_path = aa.log;
	cfg.tcti = aa.no_tpm ? NULL : aa.tcti;
	cfg.tdx_rtmr_path = aa.rtmr_path;
	if (aa.platform && measure_platform_parse(aa.platform, &cfg.platform) < 0) {
		fprintf(stderr, "vigil: --platform: expected none, tdx, snp or auto\n");
		return VIGIL_EXIT_USAGE;
	}
	r = trust_load_dir(aa.trust_dir ? aa.trust_dir : BUNDLE_DEFAULT_TRUST_DIR, &t, &err);
	if (r >= 0)
		r = bundle_read_file(aa.file, BUNDLE_MAX_BYTES, &buf, &len, &err);
	if (r < 0) {
		fprintf(stderr, "vigil: %s\n", err.msg);
		rc = r == -EFBIG ? VIGIL_EXIT_INVALID : VIGIL_EXIT_FAIL;
		goto out;
	}
	r = measure_open(&cfg, &m, &err);
	if (r < 0) {
		fprintf(stderr, "vigil: %s\n", err.msg);
		goto out;
	}
	if (measure_notice(m))
		fprintf(stderr, "vigil: %s\n", measure_notice(m));
	if (attest_tpm_notice(measure_tpm(m)))
		fprintf(stderr, "vigil: %s\n", attest_tpm_notice(measure_tpm(m)));
	r = hwm_open(measure_tpm(m), aa.state, &h);
	if (r < 0) {
		fprintf(stderr, "vigil: rollback marks: %s\n", strerror(-r));
		goto out;
	}
	r = bundle_admit(buf, len, aa.file, t, h, &adm, &err);
	if (r < 0) {
		fprintf(stderr, "vigil: %s\n", err.msg);
		rc = VIGIL_EXIT_INVALID;
		goto out;
	}
	r = bundle_measure(m, &adm, &recnum);
	if (r < 0) {
		fprintf(stderr, "vigil: measuring %s failed: %s\n", aa.file, measure_error(m));
		goto out;
	}
	r = bundle_commit(h, &adm);
	if (r < 0) {
		fprintf(stderr,
		        "vigil: %s measured as record %llu, but raising its rollback mark "
		        "failed: %s\n",
		        aa.file, (unsigned long long)recnum, hwm_error(h));
		goto out;
	}
	printf("%s: policy '%s' serial %llu measured as record %llu (rollback marks: %s)\n",
	       aa.file, adm.policy->name, (unsigned long long)adm.policy->serial,
	       (unsigned long long)recnum, hwm_backend(h));
	rc = VIGIL_EXIT_OK;
out:
	bundle_admission_clear(&adm);
	hwm_close(h);
	measure_close(m);
	trust_free(t);
	free(buf);
	return rc;
}

int do_attest(int argc, char **argv)
{
	static const struct vigil_cmd sub[] = {
	    {"log", do_attest_log, "print the runtime measurement log"},
	    {"replay", do_replay, "recompute the registers from the log and compare"},
	    {"measure", do_measure, "accept a bundle without vigild: verify, measure, commit"},
	    {"quote", do_attest_quote, "TPM2_Quote of PCRs 0-23 with vigil's AK, into files"},
	    {"binding", do_attest_binding, "the JCS evidence binding and its SHA-384"},
	    {"jwe-decrypt", do_attest_jwe, "decrypt a flattened JWE with a private key"},
	    {"evidence", do_attest_evidence, "tpm evidence (quote, AK, measurement log) to a file"},
	    {"tsm-report", do_attest_tsm,
	     "a TDX/SNP report through configfs-tsm, report data bound"},
	    {"firmware-log", do_attest_firmware_log,
	     "the firmware's TCG event log replayed: PCRs 0-7 (SHA-256)"},
	    {"tee-report", do_attest_tee_report,
	     "a TDX quote / SNP report: report data, measurement, TCB (or Trustee's SNP layout)"},
	    {"verify", do_attest_verify, "offline: quote -> PCRs -> log -> policies -> audit log"},
	};

	return vigil_dispatch(sub, sizeof(sub) / sizeof(sub[0]), "attest", argc - 1, argv + 1);
}
