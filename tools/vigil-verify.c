/* vigil attest evidence|verify: offline, one command from a quote to the audit log. The chain:
 * the quote (trusted AK, nonce, exact PCR selection, PCR digest) -> PCR 23 -> the runtime
 * measurement log replayed -> vigild, the policies and the audit checkpoint key and checkpoint it
 * names -> the audit log verified against that key and up to that checkpoint. */
#include "tools/vigil.h"
#include "audit/audit.h"
#include "attest/kbs.h"

#include <errno.h>
#include <getopt.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The TEE report for offline evidence: report data = the nonce zero-padded to 64, in the shape of
 * Trustee's additional evidence ({"tdx":{"quote"}} or {"snp":{"attestation_report"}}). 0 and
 * *ret NULL when there is no configfs-tsm (root NULL) or root is "none". */
static int offline_tee(const char *root, const uint8_t nonce[32], json_t **ret, char *err,
                       size_t errlen)
{
	struct tsm_result tr;
	uint8_t rd[64] = {0};
	char *b64;
	int r;

	*ret = NULL;
	if ((root && strcmp(root, "none") == 0) || (!root && access(ATTEST_TSM_ROOT, F_OK) < 0))
		return 0;
	memcpy(rd, nonce, 32);
	r = tsm_report(root, rd, &tr, err, errlen);
	if (r < 0)
		return r;
	if (tr.platform == ATTEST_PLATFORM_TDX) {
		b64 = kbs_b64(tr.report, tr.len, false);
		*ret = b64 ? json_pack("{s:{s:s}}", "tdx", "quote", b64) : NULL;
		free(b64);
	} else {
		json_t *ar = snp_report_to_trustee(tr.report, tr.len);

		*ret = ar ? json_pack("{s:{s:o}}", "snp", "attestation_report", ar) : NULL;
	}
	tsm_result_clear(&tr);
	if (!*ret)
		snprintf(err, errlen, "out of memory");
	return *ret ? 0 : -ENOMEM;
}

/* `vigil attest evidence --nonce HEX -o FILE`: the tpm evidence object, qualifying data = the
 * nonce (at most 32 bytes), with the measurement log, the firmware event log ("eventlog") when
 * there is one, and the TEE report ("vigil_tee_evidence", report data = the nonce) on TDX/SNP. */
int do_attest_evidence(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"nonce", required_argument, NULL, 'n'},
	    {"out", required_argument, NULL, 'o'},
	    {"tcti", required_argument, NULL, 't'},
	    {"log", required_argument, NULL, 'l'},
	    {"ak", required_argument, NULL, 'a'},
	    {"firmware-log", required_argument, NULL, 'W'},
	    {"tsm-root", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static const char usage[] = "attest evidence --nonce HEX --out FILE [--tcti TCTI] [--log "
	                            "MEASUREMENT-LOG] [--ak rsa|ecc] [--firmware-log FILE|none] "
	                            "[--tsm-root DIR|none]";
	const char *nonce = NULL, *out = NULL, *log = ATTEST_DEFAULT_LOG;
	const char *fwlog = ATTEST_FIRMWARE_LOG, *tsm_root = NULL;
	json_t *tee = NULL;
	char terr[512];
	const char *tcti = getenv("VIGIL_TCTI") ? getenv("VIGIL_TCTI") : "device:/dev/tpmrm0";
	enum attest_ak_alg alg = ATTEST_AK_RSA;
	struct attest_pcr_sel sel;
	struct attest_tpm *t = NULL;
	struct vigil_error err = {0};
	uint8_t binding[48] = {0};
	json_t *ev = NULL;
	size_t nl;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:o:t:l:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			nonce = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 't':
			tcti = optarg;
			break;
		case 'l':
			log = optarg;
			break;
		case 'a':
			alg = strcmp(optarg, "ecc") == 0 ? ATTEST_AK_ECC : ATTEST_AK_RSA;
			break;
		case 'W':
			fwlog = optarg;
			break;
		case 'R':
			tsm_root = optarg;
			break;
		case 'h':
			printf("usage: vigil %s\n", usage);
			return VIGIL_EXIT_OK;
		default:
			fprintf(stderr, "usage: vigil %s\n", usage);
			return VIGIL_EXIT_USAGE;
		}
	}
	nl = nonce ? strlen(nonce) : 0;
	if (!nonce || !out || optind != argc || nl != 64 || kbs_unhex(nonce, binding, 32) < 0) {
		fprintf(stderr, "usage: vigil %s (the nonce: 64 lowercase hex digits)\n", usage);
		return VIGIL_EXIT_USAGE;
	}
	/* A TEE that is there but does not report: fail, as any other evidence failure. */
	if (offline_tee(tsm_root, binding, &tee, terr, sizeof(terr)) < 0) {
		fprintf(stderr, "vigil: attest evidence: TEE report: %s\n", terr);
		return VIGIL_EXIT_FAIL;
	}
	attest_pcr_sel_default(&sel);
	r = attest_tpm_open(tcti, &t);
	if (r < 0) {
		fprintf(stderr, "vigil: attest evidence: no TPM at %s: %s\n", tcti,
		        attest_tpm_strerror(r));
		json_decref(tee);
		return VIGIL_EXIT_FAIL;
	}
	r = attest_tpm_evidence(t, alg, &sel, binding, 32, log, &ev, &err);
	attest_tpm_close(t);
	if (r == 0) {
		attest_evidence_firmware_log(ev, fwlog);
		if (tee)
			json_object_set(ev, "vigil_tee_evidence", tee);
	}
	json_decref(tee);
	if (r == 0 && json_dump_file(ev, out, JSON_INDENT(1)) < 0)
		r = vigil_errorf(&err, -EIO, "%s: %s", out, strerror(EIO));
	json_decref(ev);
	if (r < 0) {
		fprintf(stderr, "vigil: attest evidence: %s\n", err.msg);
		return VIGIL_EXIT_FAIL;
	}
	return VIGIL_EXIT_OK;
}

static int memfd_path(const char *what, const void *d, size_t n, char *path, size_t size)
{
	int fd = memfd_create(what, MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (write(fd, d, n) != (ssize_t)n) {
		close(fd);
		return -EIO;
	}
	snprintf(path, size, "/proc/self/fd/%d", fd);
	return fd;
}

static int vfail(const char *what, const char *msg)
{
	fprintf(stderr, "vigil: attest verify: %s: %s\n", what, msg);
	return VIGIL_EXIT_FAIL;
}

/* The firmware event log replayed into PCRs 0-7 and compared with the quoted ones. */
static int verify_fwlog(const char *b64, const struct quote_verified *qv, unsigned *n, char *err,
                        size_t errlen)
{
	uint8_t pcr[TCG_FW_PCRS][32], *fw;
	char got[65], want[65];
	size_t len = 0;
	int r;

	fw = kbs_unb64(b64, &len);
	if (!fw || len == 0) {
		free(fw);
		snprintf(err, errlen, "eventlog is not base64");
		return -EBADMSG;
	}
	r = tcg_eventlog_replay(fw, len, pcr, n, err, errlen);
	free(fw);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < TCG_FW_PCRS; i++) {
		if (memcmp(pcr[i], qv->pcr[i], 32) == 0)
			continue;
		kbs_hex(pcr[i], 32, got);
		kbs_hex(qv->pcr[i], 32, want);
		snprintf(
		    err, errlen,
		    "firmware event log: its %u events replay PCR %u to %.16s..., the quote has "
		    "%.16s...",
		    *n, i, got, want);
		return -EBADMSG;
	}
	return 0;
}

/* The TEE report of offline evidence: parsed, its report data the nonce zero-padded to 64.
 * *summary names what was read; the signature chain is not checked (no Intel/AMD collateral). */
static int verify_tee(const json_t *tee, const uint8_t nonce[32], char *summary, size_t slen,
                      char *err, size_t errlen)
{
	json_t *tdx = json_object_get(tee, "tdx"), *snp = json_object_get(tee, "snp");
	const char *b64 = json_string_value(json_object_get(tdx, "quote"));
	uint8_t *rep = NULL, rd[64] = {0};
	struct tee_report_info ti;
	char m[97], tcb[33];
	size_t len = 0;
	int r = -EBADMSG;

	if (json_object_size(tee) != 1 || (!tdx && !snp)) {
		snprintf(err, errlen, "vigil_tee_evidence is not {\"tdx\"} or {\"snp\"}");
		return -EBADMSG;
	}
	if (tdx) {
		rep = b64 ? kbs_unb64(b64, &len) : NULL;
	} else {
		rep = malloc(SNP_REPORT_LEN);
		len = SNP_REPORT_LEN;
		if (rep &&
		    snp_report_from_trustee(json_object_get(snp, "attestation_report"), rep) < 0) {
			free(rep);
			rep = NULL;
		}
	}
	if (!rep ||
	    tee_report_parse(tdx ? ATTEST_PLATFORM_TDX : ATTEST_PLATFORM_SNP, rep, len, &ti) < 0) {
		snprintf(err, errlen, "vigil_tee_evidence: not a %s report", tdx ? "TDX" : "SNP");
		goto out;
	}
	memcpy(rd, nonce, 32);
	if (memcmp(ti.report_data, rd, 64) != 0) {
		snprintf(err, errlen,
		         "vigil_tee_evidence: the %s report's report data is not the nonce",
		         tdx ? "TDX" : "SNP");
		goto out;
	}
	kbs_hex(ti.measurement, 48, m);
	kbs_hex(ti.tcb, ti.tcb_len, tcb);
	snprintf(summary, slen, "%s report v%u, report data = the nonce, %s %s, %s %s",
	         tdx ? "tdx" : "snp", ti.version, tdx ? "MRTD" : "measurement", m,
	         tdx ? "TEE_TCB_SVN" : "reported TCB", tcb);
	r = 0;
out:
	free(rep);
	return r;
}

int do_attest_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"evidence", required_argument, NULL, 'e'},
	    {"ak", required_argument, NULL, 'a'},
	    {"nonce", required_argument, NULL, 'n'},
	    {"audit-dir", required_argument, NULL, 'd'},
	    {"vigild-sha256", required_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static const char usage[] =
	    "attest verify --evidence FILE --ak TRUSTED-AK.pem --nonce HEX --audit-dir DIR "
	    "[--vigild-sha256 HEX]";
	const char *evp = NULL, *akp = NULL, *nonce = NULL, *dir = NULL, *want_vd = NULL;
	struct audit_verify_options ao = {0};
	struct audit_verify_result ar;
	struct audit_key key = {0};
	struct quote_verified qv;
	struct log_claims lc;
	json_t *ev, *q;
	uint8_t qd[32], *ak = NULL, *msg = NULL, *sig = NULL, *log = NULL;
	unsigned char *trusted = NULL;
	size_t akl = 0, ml = 0, sl = 0, ll = 0, i;
	char err[512], kpath[64], cpath[64], tee_sum[400] = "";
	const char *fw64;
	json_t *tee;
	unsigned fw_events = 0;
	int c, r, tl = 0, kfd = -1, cfd = -1, rc = VIGIL_EXIT_FAIL;
	EVP_PKEY *tk = NULL;
	FILE *f;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			evp = optarg;
			break;
		case 'a':
			akp = optarg;
			break;
		case 'n':
			nonce = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'v':
			want_vd = optarg;
			break;
		case 'h':
			printf("usage: vigil %s\n", usage);
			return VIGIL_EXIT_OK;
		default:
			fprintf(stderr, "usage: vigil %s\n", usage);
			return VIGIL_EXIT_USAGE;
		}
	}
	if (!evp || !akp || !nonce || !dir || optind != argc || kbs_unhex(nonce, qd, 32) < 0) {
		fprintf(stderr, "usage: vigil %s (the nonce: 64 lowercase hex digits)\n", usage);
		return VIGIL_EXIT_USAGE;
	}
	ev = json_load_file(evp, JSON_REJECT_DUPLICATES, NULL);
	q = json_object_get(ev, "tpm_quote");
	if (!json_is_object(ev) || !json_is_object(q)) {
		json_decref(ev);
		fprintf(stderr,
		        "vigil: attest verify: %s: not tpm evidence (ak_public, tpm_quote)\n", evp);
		return VIGIL_EXIT_INVALID;
	}
	f = fopen(akp, "r");
	tk = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (tk)
		tl = i2d_PUBKEY(tk, &trusted);
	EVP_PKEY_free(tk);
	if (tl <= 0) {
		json_decref(ev);
		fprintf(stderr, "vigil: attest verify: %s: not a PEM public key\n", akp);
		return VIGIL_EXIT_INVALID;
	}
	ak = kbs_unb64(json_string_value(json_object_get(ev, "ak_public")) ?: "", &akl);
	msg = kbs_unb64(json_string_value(json_object_get(q, "message")) ?: "", &ml);
	sig = kbs_unb64(json_string_value(json_object_get(q, "signature")) ?: "", &sl);
	log = kbs_unb64(json_string_value(json_object_get(ev, "vigil_measurement_log")) ?: "", &ll);
	/* 1. The AK is the one trusted; 2. the quote. */
	if (!ak || akl != (size_t)tl || memcmp(ak, trusted, akl) != 0) {
		rc = vfail(evp, "ak_public is not the trusted AK");
		goto out;
	}
	if (!msg || !sig) {
		rc = vfail(evp, "tpm_quote.message or signature is not base64");
		goto out;
	}
	r = quote_verify(ak, akl, msg, ml, sig, sl, json_object_get(q, "pcrs"), qd, 32, &qv, err,
	                 sizeof(err));
	if (r < 0) {
		rc = vfail(evp, err);
		goto out;
	}
	/* 2b. The firmware event log, when the evidence carries one: replayed against PCRs 0-7. */
	fw64 = json_string_value(json_object_get(ev, "eventlog"));
	if (fw64 && verify_fwlog(fw64, &qv, &fw_events, err, sizeof(err)) < 0) {
		rc = vfail(evp, err);
		goto out;
	}
	/* 2c. The TDX/SNP report, when there is one: bound to the same nonce. */
	tee = json_object_get(ev, "vigil_tee_evidence");
	if (tee && verify_tee(tee, qd, tee_sum, sizeof(tee_sum), err, sizeof(err)) < 0) {
		rc = vfail(evp, err);
		goto out;
	}
	/* 3. The measurement log replayed against the quoted PCR 23, and what it names. */
	if (!log || ll == 0) {
		rc = vfail(evp, "no vigil_measurement_log");
		goto out;
	}
	r = log_claims_from_buf(log, ll, qv.pcr[23], &lc, err, sizeof(err));
	if (r < 0) {
		rc = vfail(evp, err);
		goto out;
	}
	if (!lc.vigild_sha256[0]) {
		rc = vfail(evp, "the log names no vigild start");
		goto out;
	}
	if (want_vd && strcmp(want_vd, lc.vigild_sha256) != 0) {
		rc = vfail(evp, "vigild is not the expected --vigild-sha256");
		goto out;
	}
	if (!lc.audit_vkey[0] || !lc.checkpoint_note[0]) {
		rc = vfail(evp, "the log measures no audit checkpoint key or no checkpoint");
		goto out;
	}
	/* 4. The audit log, under the measured key, up to (at least) the measured checkpoint. */
	kfd = memfd_path("vigil-vkey", lc.audit_vkey, strlen(lc.audit_vkey), kpath, sizeof(kpath));
	cfd = memfd_path("vigil-checkpoint", lc.checkpoint_note, strlen(lc.checkpoint_note), cpath,
	                 sizeof(cpath));
	if (kfd < 0 || cfd < 0 || audit_key_read_public(kpath, NULL, &key) < 0) {
		rc = vfail(evp, "the measured audit key is not a note vkey");
		goto out;
	}
	ao.dir = dir;
	ao.key = &key;
	ao.checkpoint_file = cpath;
	r = audit_verify(&ao, &ar);
	if (r < 0 || ar.status != AUDIT_OK) {
		rc = vfail(dir, ar.msg);
		goto out;
	}
	printf("quote: AK trusted, nonce bound, sha256:0-23, PCR digest and signature verified\n");
	if (fw64)
		printf("firmware: %u events replay to the quoted PCRs 0-7\n", fw_events);
	else
		printf("firmware: no event log in the evidence (PCRs 0-7 not checked)\n");
	if (tee)
		printf("tee: %s; its signature chain is not verified (no Intel/AMD collateral)\n",
		       tee_sum);
	printf("log: %llu records replay to the quoted PCR 23\n", (unsigned long long)lc.records);
	printf("vigild: sha256 %s\n", lc.vigild_sha256);
	for (i = 0; i < lc.n_policies; i++)
		printf("policy: %s serial %llu bundle %s signers %zu\n", lc.policy[i].name,
		       (unsigned long long)lc.policy[i].serial, lc.policy[i].bundle_sha256,
		       lc.policy[i].n_signers);
	printf("audit: %s; the measured checkpoint is in the chain, signed by the measured key\n",
	       ar.msg);
	rc = VIGIL_EXIT_OK;
out:
	if (kfd >= 0)
		close(kfd);
	if (cfd >= 0)
		close(cfd);
	audit_key_free(&key);
	OPENSSL_free(trusted);
	free(ak);
	free(msg);
	free(sig);
	free(log);
	json_decref(ev);
	return rc;
}

/* `vigil attest tsm-report --binding HEX --out FILE [--root DIR]`: the TDX quote or SNP report
 * whose report data is the binding (at most 64 bytes) zero-padded to 64. */
int do_attest_tsm(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"binding", required_argument, NULL, 'b'},
	    {"out", required_argument, NULL, 'o'},
	    {"root", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static const char usage[] = "attest tsm-report --binding HEX --out FILE [--root DIR]";
	const char *hex = NULL, *out = NULL, *root = NULL;
	struct tsm_result res;
	uint8_t data[64] = {0};
	char err[512];
	size_t n;
	FILE *f;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			hex = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'r':
			root = optarg;
			break;
		case 'h':
			printf("usage: vigil %s\n", usage);
			return VIGIL_EXIT_OK;
		default:
			fprintf(stderr, "usage: vigil %s\n", usage);
			return VIGIL_EXIT_USAGE;
		}
	}
	n = hex ? strlen(hex) / 2 : 0;
	if (!hex || !out || optind != argc || n == 0 || n > 64 || strlen(hex) % 2 ||
	    kbs_unhex(hex, data, n) < 0) {
		fprintf(stderr, "usage: vigil %s (HEX: 2 to 128 lowercase hex digits)\n", usage);
		return VIGIL_EXIT_USAGE;
	}
	r = tsm_report(root, data, &res, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "vigil: attest tsm-report: %s\n", err);
		return VIGIL_EXIT_FAIL;
	}
	f = fopen(out, "wb");
	r = f && fwrite(res.report, 1, res.len, f) == res.len ? 0 : -EIO;
	if (f && fclose(f) != 0)
		r = -EIO;
	if (r == 0)
		printf("%s report, %zu bytes, report data bound\n",
		       measure_platform_name(res.platform), res.len);
	else
		fprintf(stderr, "vigil: attest tsm-report: cannot write %s\n", out);
	tsm_result_clear(&res);
	return r == 0 ? VIGIL_EXIT_OK : VIGIL_EXIT_FAIL;
}

/* Platform of a report file: Trustee's SNP JSON, a TDX quote (TEE type 0x81), else SNP. */
static enum attest_platform tee_guess(const uint8_t *d, size_t n)
{
	if (n && d[0] == '{')
		return ATTEST_PLATFORM_SNP;
	return n >= 8 && d[4] == 0x81 && !d[5] && !d[6] && !d[7] ? ATTEST_PLATFORM_TDX
	                                                         : ATTEST_PLATFORM_SNP;
}

/* A recorded report for relying parties and tests: what tee_report_parse reads, as JSON. */
static json_t *tee_info_json(const struct tee_report_info *ti)
{
	char rd[129], m[97], tcb[33], hx[97];
	json_t *o, *rt = json_array();

	vigil_hex(ti->report_data, 64, rd);
	vigil_hex(ti->measurement, 48, m);
	vigil_hex(ti->tcb, ti->tcb_len, tcb);
	for (int i = 0; ti->rtmr && i < 4; i++) {
		vigil_hex(ti->rtmr + 48 * i, 48, hx);
		json_array_append_new(rt, json_string(hx));
	}
	o = json_pack("{s:s, s:i, s:I, s:s, s:s, s:s}", "platform",
	              measure_platform_name(ti->platform), "version", (int)ti->version,
	              "report_data_offset", (json_int_t)ti->report_data_off, "report_data", rd,
	              ti->platform == ATTEST_PLATFORM_TDX ? "mr_td" : "measurement", m,
	              ti->platform == ATTEST_PLATFORM_TDX ? "tee_tcb_svn" : "reported_tcb", tcb);
	if (o && ti->platform == ATTEST_PLATFORM_TDX) {
		json_object_set_new(o, "body_type", json_integer(ti->body_type));
		json_object_set_new(o, "rtmr", rt);
	} else {
		json_decref(rt);
	}
	return o;
}

/* `vigil attest tee-report FILE [--trustee|--raw OUT]`: a TDX quote or SNP report (raw, or SNP
 * in Trustee's JSON layout) parsed; --trustee prints the SNP report in Trustee's layout, --raw
 * writes the raw report of a Trustee-layout one. */
int do_attest_tee_report(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"trustee", no_argument, NULL, 't'},
	    {"raw", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static const char usage[] = "attest tee-report FILE [--trustee | --raw OUT]";
	const char *raw = NULL;
	bool trustee = false;
	uint8_t snp[SNP_REPORT_LEN], *rep;
	struct tee_report_info ti;
	enum attest_platform p;
	char *data = NULL, *s;
	size_t len = 0;
	json_t *o;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			trustee = true;
			break;
		case 'r':
			raw = optarg;
			break;
		case 'h':
			printf("usage: vigil %s\n", usage);
			return VIGIL_EXIT_OK;
		default:
			fprintf(stderr, "usage: vigil %s\n", usage);
			return VIGIL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (trustee && raw)) {
		fprintf(stderr, "usage: vigil %s\n", usage);
		return VIGIL_EXIT_USAGE;
	}
	r = vigil_read_file(argv[optind], ATTEST_TSM_MAX, 0, &data, &len);
	if (r < 0) {
		fprintf(stderr, "vigil: attest tee-report: %s: %s\n", argv[optind], strerror(-r));
		return VIGIL_EXIT_FAIL;
	}
	rep = (uint8_t *)data;
	p = tee_guess(rep, len);
	if (len && data[0] == '{') {
		json_t *j = json_loads(data, JSON_REJECT_DUPLICATES, NULL);
		json_t *ar = json_object_get(j, "attestation_report");

		/* Trustee's SnpEvidence, or its attestation_report alone. */
		r = snp_report_from_trustee(ar ? ar : j, snp);
		json_decref(j);
		if (r < 0) {
			fprintf(
			    stderr,
			    "vigil: attest tee-report: %s: not an SNP report in Trustee's layout\n",
			    argv[optind]);
			free(data);
			return VIGIL_EXIT_INVALID;
		}
		rep = snp;
		len = sizeof(snp);
	}
	if (tee_report_parse(p, rep, len, &ti) < 0) {
		fprintf(
		    stderr,
		    "vigil: attest tee-report: %s: not a TDX quote (v4, v5) or SNP report (v2-v5) "
		    "(%zu bytes)\n",
		    argv[optind], len);
		free(data);
		return VIGIL_EXIT_INVALID;
	}
	if (raw) {
		FILE *f = fopen(raw, "wb");

		r = f && fwrite(rep, 1, len, f) == len ? 0 : -EIO;
		if (f && fclose(f) != 0)
			r = -EIO;
		free(data);
		if (r < 0)
			fprintf(stderr, "vigil: attest tee-report: cannot write %s\n", raw);
		return r < 0 ? VIGIL_EXIT_FAIL : VIGIL_EXIT_OK;
	}
	if (trustee && p != ATTEST_PLATFORM_SNP) {
		fprintf(stderr, "vigil: attest tee-report: --trustee: a TDX quote travels as is "
		                "(base64), not as JSON\n");
		free(data);
		return VIGIL_EXIT_USAGE;
	}
	o = trustee ? snp_report_to_trustee(rep, len) : tee_info_json(&ti);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(o);
	free(data);
	return s ? VIGIL_EXIT_OK : VIGIL_EXIT_FAIL;
}

/* `vigil attest firmware-log FILE`: the TCG event log replayed, PCRs 0-7 (SHA-256 bank). */
int do_attest_firmware_log(int argc, char **argv)
{
	uint8_t pcr[TCG_FW_PCRS][32];
	char *data = NULL, err[512], hex[65];
	unsigned n = 0;
	size_t len = 0;
	int r;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: vigil attest firmware-log FILE\n");
		return VIGIL_EXIT_USAGE;
	}
	/* securityfs reports a size of 0: read to EOF, up to 4 MiB. */
	FILE *f = fopen(argv[1], "rb");
	size_t cap = 4u << 20, got;

	data = f ? malloc(cap) : NULL;
	while (data && (got = fread(data + len, 1, cap - len, f)) > 0)
		len += got;
	r = !f ? -errno : !data ? -ENOMEM : ferror(f) ? -EIO : len == cap ? -EFBIG : 0;
	if (f)
		fclose(f);
	if (r < 0) {
		free(data);
		fprintf(stderr, "vigil: attest firmware-log: %s: %s\n", argv[1], strerror(-r));
		return VIGIL_EXIT_FAIL;
	}
	r = tcg_eventlog_replay((uint8_t *)data, len, pcr, &n, err, sizeof(err));
	free(data);
	if (r < 0) {
		fprintf(stderr, "vigil: attest firmware-log: %s: %s\n", argv[1], err);
		return VIGIL_EXIT_INVALID;
	}
	printf("%u events\n", n);
	for (unsigned i = 0; i < TCG_FW_PCRS; i++) {
		kbs_hex(pcr[i], 32, hex);
		printf("pcr %u sha256 %s\n", i, hex);
	}
	return VIGIL_EXIT_OK;
}
