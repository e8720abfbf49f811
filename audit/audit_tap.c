/*
 * The tap: the lines the writer has just written, kept in memory for one reader in the same
 * process (the OTLP exporter). The reader takes a record from here instead of reading it back
 * from the file and hashing it again: these are the bytes the writer hashed and wrote, and h(n)
 * is the one the writer computed. Single producer (the writer thread, after a write that
 * succeeded), single consumer; neither waits for the other. A chunk that does not fit (the
 * reader is behind by more than the tap's size) is left out and counted: the reader then reads
 * those records from the file, as after a restart.
 *
 * A byte ring: [tail, head) holds chunks, each a struct tap_hdr and its lines, padded to 8
 * bytes. A chunk never wraps; where the room up to the end of the buffer is too short, a
 * header with len TAP_WRAP (or, in less than a header's room, nothing) sends the reader to the
 * start of the buffer.
 */
#include "audit/audit.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define TAP_WRAP UINT32_MAX

struct tap_hdr {
	uint64_t first, last; /* record numbers */
	uint64_t off;         /* file offset of the first line */
	uint32_t seq;         /* file number */
	uint32_t len;         /* bytes of lines, or TAP_WRAP */
};

struct audit_tap {
	char *buf;
	uint64_t cap;
	_Atomic uint64_t head; /* written by the producer only */
	_Atomic uint64_t tail; /* written by the consumer only */
	_Atomic uint64_t missed, missed_records, chunks;
	/* The producer's reservation: the chunk goes at head + skip, data after its header. */
	bool reserved;
	uint64_t skip;
};

_Static_assert(sizeof(struct tap_hdr) == 32, "tap_hdr is 8-byte aligned, no padding");

static uint64_t pad8(uint64_t v)
{
	return (v + 7) & ~7ull;
}

struct audit_tap *audit_tap_new(size_t bytes)
{
	struct audit_tap *t;

	if (bytes < AUDIT_TAP_MIN)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cap = bytes & ~(size_t)7; /* chunks and headers stay 8-byte aligned */
	t->buf = mmap(NULL, t->cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->buf == MAP_FAILED) {
		free(t);
		return NULL;
	}
	/* Huge pages where the kernel has them (fewer TLB misses for a ring bigger than the
	 * caches), and every page touched now, not by the writer's first pass over it. */
	(void)madvise(t->buf, t->cap, MADV_HUGEPAGE);
	memset(t->buf, 0, t->cap);
	return t;
}

void audit_tap_free(struct audit_tap *t)
{
	if (!t)
		return;
	munmap(t->buf, t->cap);
	free(t);
}

char *audit_tap_reserve(struct audit_tap *t, size_t max)
{
	uint64_t head = atomic_load_explicit(&t->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&t->tail, memory_order_acquire);
	uint64_t at = head % t->cap, room = t->cap - at;
	uint64_t need = sizeof(struct tap_hdr) + pad8(max), skip = need > room ? room : 0;

	t->reserved = max < TAP_WRAP && skip + need <= t->cap - (head - tail);
	if (!t->reserved)
		return NULL;
	/* The reader stays behind tail + what it has seen: this room is the producer's. */
	t->skip = skip;
	return t->buf + (skip ? 0 : at) + sizeof(struct tap_hdr);
}

static void missed(struct audit_tap *t, uint64_t first, uint64_t last)
{
	atomic_fetch_add_explicit(&t->missed, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&t->missed_records, last - first + 1, memory_order_relaxed);
}

void audit_tap_commit(struct audit_tap *t, uint64_t first, uint64_t last, uint32_t seq,
                      uint64_t off, size_t len)
{
	uint64_t head = atomic_load_explicit(&t->head, memory_order_relaxed);
	uint64_t at = head % t->cap, room = t->cap - at;
	struct tap_hdr h = {.first = first, .last = last, .off = off, .seq = seq, .len = TAP_WRAP};

	if (!t->reserved) {
		missed(t, first, last);
		return;
	}
	t->reserved = false;
	if (t->skip) {
		if (room >= sizeof(h))
			memcpy(t->buf + at, &h, sizeof(h));
		head += t->skip;
		at = 0;
	}
	h.len = (uint32_t)len;
	memcpy(t->buf + at, &h, sizeof(h));
	atomic_fetch_add_explicit(&t->chunks, 1, memory_order_relaxed);
	/* The bytes before the head: the reader sees them once it sees the head. */
	atomic_store_explicit(&t->head, head + sizeof(h) + pad8(len), memory_order_release);
}

bool audit_tap_put(struct audit_tap *t, uint64_t first, uint64_t last, uint32_t seq, uint64_t off,
                   const char *data, size_t len)
{
	char *p = audit_tap_reserve(t, len);

	if (!p) {
		missed(t, first, last);
		return false;
	}
	memcpy(p, data, len);
	audit_tap_commit(t, first, last, seq, off, len);
	return true;
}

bool audit_tap_peek(struct audit_tap *t, struct audit_tap_chunk *c)
{
	uint64_t head = atomic_load_explicit(&t->head, memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&t->tail, memory_order_relaxed);
	struct tap_hdr h;

	for (;;) {
		uint64_t at = tail % t->cap, room = t->cap - at;

		if (tail == head)
			return false;
		if (room < sizeof(h)) {
			tail += room;
			continue;
		}
		memcpy(&h, t->buf + at, sizeof(h));
		if (h.len == TAP_WRAP) {
			tail += room;
			continue;
		}
		/* Wrap markers passed: the producer may use their room (the chunk stays). */
		atomic_store_explicit(&t->tail, tail, memory_order_release);
		c->first = h.first;
		c->last = h.last;
		c->seq = h.seq;
		c->off = h.off;
		c->data = t->buf + at + sizeof(h);
		c->len = h.len;
		return true;
	}
}

void audit_tap_pop(struct audit_tap *t)
{
	uint64_t tail = atomic_load_explicit(&t->tail, memory_order_relaxed);
	struct tap_hdr h;

	memcpy(&h, t->buf + tail % t->cap, sizeof(h));
	/* Only after the reader is done with the chunk's bytes may the producer reuse them. */
	atomic_store_explicit(&t->tail, tail + sizeof(h) + pad8(h.len), memory_order_release);
}

void audit_tap_stats(struct audit_tap *t, struct audit_tap_stats *ret)
{
	ret->chunks = atomic_load_explicit(&t->chunks, memory_order_relaxed);
	ret->missed = atomic_load_explicit(&t->missed, memory_order_relaxed);
	ret->missed_records = atomic_load_explicit(&t->missed_records, memory_order_relaxed);
}
