/* Rollback protection: the highest policy serial accepted per name, in TPM NV or a state file. */
#include "attest/attest.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * One ordinary NV index per policy name, in a 4096-slot window of the owner range chosen from the
 * name's hash. The index holds SHA-256(name) || serial (big-endian) || SHA-256(payload), so a
 * slot collision is detected (and refused) rather than sharing a mark.
 */
#define HWM_NV_BASE  0x01564000u
#define HWM_NV_SLOTS 0x1000u
#define HWM_NV_SIZE  72

struct hwm_store {
	struct attest_tpm *tpm; /* not owned */
	char *state_path;
	struct vigil_error err; /* the last failure, for the caller to report */
};

#define HWM_STATE_MAX (1u << 20)

int hwm_open(struct attest_tpm *tpm, const char *state_path, struct hwm_store **ret)
{
	struct hwm_store *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->tpm = tpm;
	h->state_path = strdup(state_path ? state_path : ATTEST_DEFAULT_HWM_STATE);
	if (!h->state_path) {
		free(h);
		return -ENOMEM;
	}
	*ret = h;
	return 0;
}

void hwm_close(struct hwm_store *h)
{
	if (!h)
		return;
	free(h->state_path);
	free(h);
}

const char *hwm_error(const struct hwm_store *h)
{
	return h->err.msg;
}

const char *hwm_backend(const struct hwm_store *h)
{
	return h->tpm ? "tpm-nv" : "state-file";
}

static uint32_t nv_slot(const char *name, uint8_t name_hash[32])
{
	EVP_Digest(name, strlen(name), name_hash, NULL, EVP_sha256(), NULL);
	return HWM_NV_BASE + (((uint32_t)name_hash[0] << 8 | name_hash[1]) % HWM_NV_SLOTS);
}

static int nv_get(struct hwm_store *h, const char *name, struct hwm_mark *ret, bool *found)
{
	uint8_t want[32], buf[HWM_NV_SIZE];
	uint32_t index = nv_slot(name, want);
	int r = attest_tpm_nv_read(h->tpm, index, buf, sizeof(buf));
	size_t i;

	*found = false;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return vigil_errorf(&h->err, r, "rollback mark in NV index 0x%x: %s", index,
		                    attest_tpm_strerror(r));
	if (memcmp(buf, want, sizeof(want)) != 0)
		return vigil_errorf(&h->err, -EEXIST, "NV index 0x%x holds another policy name",
		                    index);
	ret->serial = 0;
	for (i = 0; i < 8; i++)
		ret->serial = ret->serial << 8 | buf[32 + i];
	memcpy(ret->payload_sha256, buf + 40, 32);
	*found = true;
	return 0;
}

static int nv_set(struct hwm_store *h, const char *name, const struct hwm_mark *mark)
{
	uint8_t buf[HWM_NV_SIZE];
	uint32_t index = nv_slot(name, buf);
	size_t i;

	int r;

	for (i = 0; i < 8; i++)
		buf[32 + i] = (uint8_t)(mark->serial >> (56 - 8 * i));
	memcpy(buf + 40, mark->payload_sha256, 32);
	r = attest_tpm_nv_write(h->tpm, index, buf, sizeof(buf));
	if (r < 0)
		return vigil_errorf(&h->err, r, "rollback mark in NV index 0x%x: %s", index,
		                    attest_tpm_strerror(r));
	return 0;
}

/* The state file: {"name": {"serial": N, "payload_sha256": HEX}}; missing means nothing accepted.
 */
static int file_load(struct hwm_store *h, json_t **ret)
{
	json_error_t jerr;
	json_t *root;
	size_t len;
	char *buf;
	int r;

	/* An unreadable state file fails closed: accepting anything would defeat rollback checks.
	 */
	r = vigil_read_file(h->state_path, HWM_STATE_MAX, VIGIL_READ_ALLOW_EMPTY, &buf, &len);
	if (r == -ENOENT) {
		*ret = json_object();
		return *ret ? 0 : -ENOMEM;
	}
	if (r < 0)
		return vigil_errorf(&h->err, r, "rollback state %s: %s", h->state_path,
		                    r == -VIGIL_ENOTREG ? "not a regular file" : strerror(-r));
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (!json_is_object(root)) {
		json_decref(root);
		return vigil_errorf(&h->err, -EBADMSG, "rollback state %s: %s", h->state_path,
		                    root ? "not a JSON object" : jerr.text);
	}
	*ret = root;
	return 0;
}

static int unhex32(const char *s, uint8_t out[32])
{
	if (!s || strlen(s) != 64 || vigil_unhex(s, 32, out) < 0)
		return -EINVAL;
	return 0;
}

static int file_get(struct hwm_store *h, const char *name, struct hwm_mark *ret, bool *found)
{
	json_t *root, *v, *serial;
	int r = file_load(h, &root);

	if (r < 0)
		return r;
	v = json_object_get(root, name);
	serial = json_object_get(v, "serial");
	*found = false;
	if (v && (!json_is_integer(serial) || json_integer_value(serial) < 0 ||
	          unhex32(json_string_value(json_object_get(v, "payload_sha256")),
	                  ret->payload_sha256) < 0)) {
		r = vigil_errorf(&h->err, -EBADMSG, "rollback state %s: entry '%s' is malformed",
		                 h->state_path, name);
	} else if (v) {
		ret->serial = (uint64_t)json_integer_value(serial);
		*found = true;
	}
	json_decref(root);
	return r;
}

static int file_set(struct hwm_store *h, const char *name, const struct hwm_mark *mark)
{
	char tmp[4096], hex[65];
	json_t *root;
	int r = file_load(h, &root), fd;

	if (r < 0)
		return r;
	vigil_hex(mark->payload_sha256, 32, hex);
	json_object_set_new(
	    root, name,
	    json_pack("{s:I, s:s}", "serial", (json_int_t)mark->serial, "payload_sha256", hex));
	snprintf(tmp, sizeof(tmp), "%s.tmp", h->state_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
	} else {
		/* Write, sync, rename: a crash leaves the old or the new mark, never a torn one. */
		if (json_dumpfd(root, fd, JSON_COMPACT | JSON_SORT_KEYS) < 0 || fsync(fd) < 0)
			r = -EIO;
		close(fd);
		if (r == 0 && rename(tmp, h->state_path) < 0)
			r = -errno;
	}
	if (r < 0)
		vigil_errorf(&h->err, r, "rollback state %s: %s", h->state_path, strerror(-r));
	json_decref(root);
	return r;
}

int hwm_get(struct hwm_store *h, const char *name, struct hwm_mark *ret, bool *found)
{
	return h->tpm ? nv_get(h, name, ret, found) : file_get(h, name, ret, found);
}

int hwm_set(struct hwm_store *h, const char *name, const struct hwm_mark *mark)
{
	if (mark->serial > INT64_MAX)
		return vigil_errorf(&h->err, -ERANGE, "serial %llu is out of range",
		                    (unsigned long long)mark->serial);
	return h->tpm ? nv_set(h, name, mark) : file_set(h, name, mark);
}
