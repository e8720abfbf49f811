/* TDX quotes (v4, v5) and SNP attestation reports: the fields a relying party reads (report data,
 * measurement, TCB), and the SNP report in Trustee's evidence layout (the JSON its `snp` verifier
 * deserializes: the sev crate's AttestationReport). Layouts: Intel TDX DCAP Quoting Library API
 * (quote v4 and v5, TD quote body) and AMD SEV-SNP Firmware ABI (ATTESTATION_REPORT). */
#include "attest/kbs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define TDX_HEADER      48
#define TDX_TEE_TYPE    0x81
#define TDX_BODY_10     584 /* TD quote body, TDX 1.0 */
#define TDX_BODY_15     648 /* TDX 1.5: + TEE_TCB_SVN2, MRSERVICETD */
#define TDX_BODY_MRTD   136
#define TDX_BODY_RTMR   328
#define TDX_BODY_RD     520
#define SNP_REPORT_DATA 0x50
#define SNP_MEASUREMENT 0x90
#define SNP_REPORTED    0x180

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int tdx_parse(const uint8_t *q, size_t len, struct tee_report_info *o)
{
	size_t body, size;

	if (len < TDX_HEADER + 6 || le32(q + 4) != TDX_TEE_TYPE)
		return -EBADMSG;
	o->version = (unsigned)(q[0] | q[1] << 8);
	if (o->version == 4) {
		o->body_type = 2;
		body = TDX_HEADER;
		size = TDX_BODY_10;
	} else if (o->version == 5) {
		/* v5 prefixes the body with its type (2: TDX 1.0, 3: TDX 1.5) and size. */
		o->body_type = (unsigned)(q[TDX_HEADER] | q[TDX_HEADER + 1] << 8);
		size = le32(q + TDX_HEADER + 2);
		body = TDX_HEADER + 6;
		if (!((o->body_type == 2 && size == TDX_BODY_10) ||
		      (o->body_type == 3 && size == TDX_BODY_15)))
			return -EBADMSG;
	} else {
		return -EBADMSG;
	}
	/* The signature data (its length, then the data) follows the body: a quote shorter than
	 * that is cut short. */
	if (len < body + size + 4 || len - (body + size + 4) < le32(q + body + size))
		return -EBADMSG;
	o->report_data_off = body + TDX_BODY_RD;
	o->report_data = q + o->report_data_off;
	o->measurement = q + body + TDX_BODY_MRTD;
	o->tcb = q + body;
	o->tcb_len = 16;
	o->rtmr = q + body + TDX_BODY_RTMR;
	return 0;
}

int tee_report_parse(enum attest_platform p, const uint8_t *rep, size_t len,
                     struct tee_report_info *out)
{
	memset(out, 0, sizeof(*out));
	out->platform = p;
	if (p == ATTEST_PLATFORM_TDX)
		return tdx_parse(rep, len, out);
	if (p != ATTEST_PLATFORM_SNP)
		return -ENOTSUP;
	if (len < SNP_REPORT_LEN)
		return -EBADMSG;
	out->version = le32(rep);
	/* Versions 2 (Milan firmware) to 5 share the fields read here. */
	if (out->version < 2 || out->version > 5)
		return -EBADMSG;
	out->report_data_off = SNP_REPORT_DATA;
	out->report_data = rep + SNP_REPORT_DATA;
	out->measurement = rep + SNP_MEASUREMENT;
	out->tcb = rep + SNP_REPORTED;
	out->tcb_len = 8;
	return 0;
}

/* --- SNP: Trustee's layout (integers as numbers, byte strings as arrays of numbers) --- */

enum fld { U8, U32, U64, BYTES, TCB, VER };
static const struct snp_field {
	const char *name;
	enum fld t;
	size_t off, len;
} snp_fields[] = {
    {"version", U32, 0x00, 4},
    {"guest_svn", U32, 0x04, 4},
    {"policy", U64, 0x08, 8},
    {"family_id", BYTES, 0x10, 16},
    {"image_id", BYTES, 0x20, 16},
    {"vmpl", U32, 0x30, 4},
    {"sig_algo", U32, 0x34, 4},
    {"current_tcb", TCB, 0x38, 8},
    {"plat_info", U64, 0x40, 8},
    {"key_info", U32, 0x48, 4},
    {"report_data", BYTES, 0x50, 64},
    {"measurement", BYTES, 0x90, 48},
    {"host_data", BYTES, 0xc0, 32},
    {"id_key_digest", BYTES, 0xe0, 48},
    {"author_key_digest", BYTES, 0x110, 48},
    {"report_id", BYTES, 0x140, 32},
    {"report_id_ma", BYTES, 0x160, 32},
    {"reported_tcb", TCB, 0x180, 8},
    {"cpuid_fam_id", U8, 0x188, 1},
    {"cpuid_mod_id", U8, 0x189, 1},
    {"cpuid_step", U8, 0x18a, 1},
    {"chip_id", BYTES, 0x1a0, 64},
    {"committed_tcb", TCB, 0x1e0, 8},
    {"current", VER, 0x1e8, 3},
    {"committed", VER, 0x1ec, 3},
    {"launch_tcb", TCB, 0x1f0, 8},
};
#define SNP_SIG_R 0x2a0
#define SNP_SIG_S 0x2e8
#define SNP_SIG_N 72

/* Turin (family 1Ah, known from report version 3 on) puts FMC first and packs the TCB bytes. */
static bool snp_turin(const uint8_t *rep)
{
	return le32(rep) >= 3 && rep[0x188] == 0x1a;
}

static json_t *bytes_json(const uint8_t *p, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer(p[i]));
	return a;
}

static json_t *tcb_json(const uint8_t *t, bool turin)
{
	if (turin)
		return json_pack("{s:i, s:i, s:i, s:i, s:i}", "fmc", t[0], "bootloader", t[1],
		                 "tee", t[2], "snp", t[3], "microcode", t[7]);
	return json_pack("{s:n, s:i, s:i, s:i, s:i}", "fmc", "bootloader", t[0], "tee", t[1], "snp",
	                 t[6], "microcode", t[7]);
}

json_t *snp_report_to_trustee(const uint8_t *rep, size_t len)
{
	bool turin;
	json_t *o;

	if (len < SNP_REPORT_LEN || le32(rep) < 2 || le32(rep) > 5)
		return NULL;
	turin = snp_turin(rep);
	o = json_object();
	for (size_t i = 0; o && i < sizeof(snp_fields) / sizeof(snp_fields[0]); i++) {
		const struct snp_field *f = &snp_fields[i];
		const uint8_t *p = rep + f->off;
		json_t *v = NULL;

		switch (f->t) {
		case U8:
			/* The CPUID bytes exist from version 3 on; the sev crate has them as
			 * Option. */
			v = le32(rep) >= 3 ? json_integer(*p) : json_null();
			break;
		case U32:
			v = json_integer(le32(p));
			break;
		case U64:
			/* JSON integers here are signed 64-bit; bit 63 of POLICY and PLATFORM_INFO
			 * is reserved (must be zero): such a report is refused, not wrapped. */
			v = le64(p) <= INT64_MAX ? json_integer((json_int_t)le64(p)) : NULL;
			break;
		case BYTES:
			v = bytes_json(p, f->len);
			break;
		case TCB:
			v = tcb_json(p, turin);
			break;
		case VER:
			v = json_pack("{s:i, s:i, s:i}", "major", p[2], "minor", p[1], "build",
			              p[0]);
			break;
		}
		if (!v || json_object_set_new(o, f->name, v) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	if (o &&
	    json_object_set_new(o, "signature",
	                        json_pack("{s:o, s:o}", "r", bytes_json(rep + SNP_SIG_R, SNP_SIG_N),
	                                  "s", bytes_json(rep + SNP_SIG_S, SNP_SIG_N))) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int get_uint(const json_t *o, const char *k, uint64_t max, uint64_t *v)
{
	json_t *j = json_object_get(o, k);

	if (!json_is_integer(j) || json_integer_value(j) < 0 ||
	    (uint64_t)json_integer_value(j) > max)
		return -EBADMSG;
	*v = (uint64_t)json_integer_value(j);
	return 0;
}

static int get_bytes(const json_t *a, uint8_t *p, size_t n)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) != n)
		return -EBADMSG;
	json_array_foreach(a, i, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 255)
			return -EBADMSG;
		p[i] = (uint8_t)json_integer_value(v);
	}
	return 0;
}

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int tcb_from(const json_t *t, bool turin, uint8_t *p)
{
	uint64_t bl, tee, snp, uc, fmc = 0;
	json_t *jf = json_object_get(t, "fmc");

	if (get_uint(t, "bootloader", 255, &bl) < 0 || get_uint(t, "tee", 255, &tee) < 0 ||
	    get_uint(t, "snp", 255, &snp) < 0 || get_uint(t, "microcode", 255, &uc) < 0)
		return -EBADMSG;
	/* fmc is Turin's alone: present there, null (or absent) before. */
	if (turin ? get_uint(t, "fmc", 255, &fmc) < 0 : (jf && !json_is_null(jf)))
		return -EBADMSG;
	memset(p, 0, 8);
	if (turin) {
		p[0] = (uint8_t)fmc;
		p[1] = (uint8_t)bl;
		p[2] = (uint8_t)tee;
		p[3] = (uint8_t)snp;
	} else {
		p[0] = (uint8_t)bl;
		p[1] = (uint8_t)tee;
		p[6] = (uint8_t)snp;
	}
	p[7] = (uint8_t)uc;
	return 0;
}

int snp_report_from_trustee(const json_t *o, uint8_t out[SNP_REPORT_LEN])
{
	uint64_t ver, fam = 0, v;
	json_t *sig = json_object_get(o, "signature");
	bool turin;

	memset(out, 0, SNP_REPORT_LEN);
	if (!json_is_object(o) || get_uint(o, "version", 5, &ver) < 0 || ver < 2)
		return -EBADMSG;
	if (ver >= 3 && get_uint(o, "cpuid_fam_id", 255, &fam) < 0)
		return -EBADMSG;
	turin = ver >= 3 && fam == 0x1a;
	for (size_t i = 0; i < sizeof(snp_fields) / sizeof(snp_fields[0]); i++) {
		const struct snp_field *f = &snp_fields[i];
		json_t *j = json_object_get(o, f->name);
		uint8_t *p = out + f->off;
		uint64_t maj, min, bld;

		switch (f->t) {
		case U8:
			if (ver < 3) /* no CPUID bytes before version 3: reserved, zero */
				break;
			if (get_uint(o, f->name, 255, &v) < 0)
				return -EBADMSG;
			*p = (uint8_t)v;
			break;
		case U32:
		case U64:
			if (get_uint(o, f->name, f->t == U32 ? UINT32_MAX : INT64_MAX, &v) < 0)
				return -EBADMSG;
			put_le(p, v, f->len);
			break;
		case BYTES:
			if (get_bytes(j, p, f->len) < 0)
				return -EBADMSG;
			break;
		case TCB:
			if (tcb_from(j, turin, p) < 0)
				return -EBADMSG;
			break;
		case VER:
			if (get_uint(j, "major", 255, &maj) < 0 ||
			    get_uint(j, "minor", 255, &min) < 0 ||
			    get_uint(j, "build", 255, &bld) < 0)
				return -EBADMSG;
			p[0] = (uint8_t)bld;
			p[1] = (uint8_t)min;
			p[2] = (uint8_t)maj;
			break;
		}
	}
	if (get_bytes(json_object_get(sig, "r"), out + SNP_SIG_R, SNP_SIG_N) < 0 ||
	    get_bytes(json_object_get(sig, "s"), out + SNP_SIG_S, SNP_SIG_N) < 0)
		return -EBADMSG;
	return 0;
}
