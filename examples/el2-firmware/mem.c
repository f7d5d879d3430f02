/* SPDX-License-Identifier: MIT */
/*
 * Memory: the string functions libhyp.a needs (memcpy, memmove, memset, memcmp, strcmp), locks,
 * cache maintenance, and the allocator behind struct hyp_el2_platform.alloc_pages/free_pages and
 * struct hyp_alloc_ops.
 *
 * The allocator is one static pool (.pool, FW_POOL_SIZE) of 4 KiB pages behind one lock, shared
 * by every CPU and every partition (libhyp keeps no global state; the firmware's pool is the only
 * shared thing, and it is locked):
 *  - pages: first fit over a per-page map; a block of N pages is aligned to the next power of two
 *    >= N pages, so stage-2 concatenated root tables (2..16 pages, aligned to their size) work;
 *  - bytes: power-of-two size classes of 16..2048 bytes carved from pages, with free lists; larger
 *    requests take whole pages. Every page records what it was carved into, so a free finds its
 *    class from the pointer, and a free of something the pool never handed out is counted (and
 *    reported) instead of corrupting it.
 */
#include "fw.h"

/* ---- string functions ----
 * libhyp calls these on its hot path (an exit record is cleared on every exit): word stores, not
 * byte loops. Accesses through may_alias words, as a C library's own implementation would. */

typedef uint64_t __attribute__((may_alias)) word_t;

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (n >= 16 && !(((uintptr_t)d ^ (uintptr_t)s) & 7)) {
		word_t *dw;
		const word_t *sw;

		while ((uintptr_t)d & 7) {
			*d++ = *s++;
			n--;
		}
		dw = (word_t *)(void *)d;
		sw = (const word_t *)(const void *)s;
		for (; n >= 32; n -= 32, dw += 4, sw += 4) {
			dw[0] = sw[0];
			dw[1] = sw[1];
			dw[2] = sw[2];
			dw[3] = sw[3];
		}
		for (; n >= 8; n -= 8)
			*dw++ = *sw++;
		d = (unsigned char *)dw;
		s = (const unsigned char *)sw;
	}
	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d == s || !n)
		return dst;
	if (d < s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	uint64_t v = (uint64_t)(unsigned char)c * 0x0101010101010101ull;

	if (n >= 16) {
		word_t *w;

		while ((uintptr_t)d & 7) {
			*d++ = (unsigned char)c;
			n--;
		}
		/* Large zeroed ranges (guest RAM, 16 MiB a guest) with DC ZVA, one block per
		 * instruction (DCZID_EL0.BS, Arm ARM D17.2.36), unless DCZID_EL0.DZP forbids it. */
		if (!c && n >= 4096) {
			uint64_t dczid = read_sysreg(dczid_el0);
			size_t block = 4u << (dczid & 0xf);

			if (!(dczid & 0x10)) {
				while (((uintptr_t)d & (block - 1)) && n >= 8) {
					*(word_t *)(void *)d = 0;
					d += 8;
					n -= 8;
				}
				for (; n >= block; d += block, n -= block)
					__asm__ volatile("dc zva, %0" ::"r"(d) : "memory");
			}
		}
		w = (word_t *)(void *)d;
		for (; n >= 32; n -= 32, w += 4) {
			w[0] = v;
			w[1] = v;
			w[2] = v;
			w[3] = v;
		}
		for (; n >= 8; n -= 8)
			*w++ = v;
		d = (unsigned char *)w;
	}
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

size_t fw_strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

/* ---- locks ---- */

void fw_lock(struct fw_lock *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			cpu_relax();
}

void fw_unlock(struct fw_lock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

/* ---- caches ---- */

/* Clean and invalidate [addr, addr + size) to the point of coherency: what the firmware wrote
 * through its cacheable mapping reaches memory, where a guest running with its MMU off (all of
 * its data accesses non-cacheable) reads it, and no dirty line can later overwrite what the guest
 * wrote (Arm ARM D7.5.9). */
void fw_dcache_clean_inval_poc(const void *addr, size_t size)
{
	uint64_t line = 4ull << ((read_sysreg(ctr_el0) >> 16) & 0xf);
	uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(line - 1), end = (uintptr_t)addr + size;

	dsb(ish);
	for (; a < end; a += line)
		__asm__ volatile("dc civac, %0" ::"r"(a) : "memory");
	dsb(ish);
}

/* Instructions a guest will fetch were written as data: invalidate every CPU's instruction caches
 * to the point of unification (inner shareable: the guest may start on another CPU). */
void fw_icache_inval_all(void)
{
	dsb(ish);
	__asm__ volatile("ic ialluis" ::: "memory");
	dsb(ish);
	isb();
}

/* ---- the pool ---- */

#define POOL_PAGES (FW_POOL_SIZE / FW_PAGE_SIZE)
#define MIN_CLASS 4  /* 16 bytes */
#define MAX_CLASS 11 /* 2048 bytes */

/* Per-page state. */
enum {
	PG_FREE = 0,
	PG_HEAD = 1, /* first page of a page block; count in page_count[] */
	PG_TAIL = 2, /* other pages of a page block */
	PG_SLAB = 3, /* carved into objects of 1 << page_class[] bytes */
};

static struct fw_lock pool_lock;
static uint8_t page_state[POOL_PAGES];
static uint8_t page_class[POOL_PAGES];
static uint16_t page_count[POOL_PAGES];
static void *free_list[MAX_CLASS + 1];
static struct fw_pool_stats stats;

static uintptr_t pool_base(void)
{
	return (uintptr_t)__pool_start;
}

static bool in_pool(const void *p, size_t *page)
{
	uintptr_t a = (uintptr_t)p;

	if (a < pool_base() || a >= (uintptr_t)__pool_end)
		return false;
	*page = (a - pool_base()) / FW_PAGE_SIZE;
	return true;
}

void fw_pool_init(void)
{
	stats.pages_total = POOL_PAGES;
}

static unsigned int align_pages(unsigned int count)
{
	unsigned int a = 1;

	while (a < count)
		a <<= 1;
	return a;
}

/* Caller holds pool_lock. */
static void *pages_alloc_locked(unsigned int count, uint8_t kind)
{
	unsigned int align = align_pages(count);

	if (!count || count > POOL_PAGES)
		return NULL;
	for (size_t first = 0; first + count <= POOL_PAGES; first += align) {
		size_t i;

		for (i = 0; i < count; i++)
			if (page_state[first + i] != PG_FREE)
				break;
		if (i < count)
			continue;
		for (i = 0; i < count; i++)
			page_state[first + i] = i ? PG_TAIL : kind;
		page_count[first] = (uint16_t)count;
		return (void *)(pool_base() + first * FW_PAGE_SIZE);
	}
	return NULL;
}

void *fw_alloc_pages(unsigned int count)
{
	void *p;

	fw_lock(&pool_lock);
	p = pages_alloc_locked(count, PG_HEAD);
	if (p)
		stats.pages_used += count;
	fw_unlock(&pool_lock);
	return p;
}

/* Caller holds pool_lock. */
static bool pages_free_locked(void *pages, unsigned int count)
{
	size_t first;

	if (!in_pool(pages, &first) || ((uintptr_t)pages & (FW_PAGE_SIZE - 1)) ||
	    page_state[first] != PG_HEAD || page_count[first] != count) {
		stats.bad_frees++;
		return false;
	}
	for (size_t i = 0; i < count; i++)
		page_state[first + i] = PG_FREE;
	return true;
}

void fw_free_pages(void *pages, unsigned int count)
{
	if (!pages)
		return;
	fw_lock(&pool_lock);
	if (pages_free_locked(pages, count))
		stats.pages_used -= count;
	fw_unlock(&pool_lock);
}

static unsigned int size_class(size_t size, size_t align)
{
	unsigned int c = MIN_CLASS;

	while (((size_t)1 << c) < size || ((size_t)1 << c) < align)
		c++;
	return c;
}

void *fw_malloc(size_t size, size_t align)
{
	unsigned int c;
	void *p = NULL;

	if (!size || !align || (align & (align - 1)) || align > FW_PAGE_SIZE)
		return NULL;
	c = size_class(size, align);
	fw_lock(&pool_lock);
	if (c > MAX_CLASS) {
		p = pages_alloc_locked((unsigned int)((size + FW_PAGE_SIZE - 1) / FW_PAGE_SIZE),
				       PG_HEAD);
	} else {
		if (!free_list[c]) {
			char *page = pages_alloc_locked(1, PG_SLAB);
			size_t idx = 0;

			if (page) {
				in_pool(page, &idx);
				page_class[idx] = (uint8_t)c;
				/* Thread the page's objects onto the free list, lowest first. */
				for (size_t off = FW_PAGE_SIZE; off > 0; off -= (size_t)1 << c) {
					void **obj = (void **)(page + off - ((size_t)1 << c));

					*obj = free_list[c];
					free_list[c] = obj;
				}
			}
		}
		if (free_list[c]) {
			p = free_list[c];
			free_list[c] = *(void **)p;
		}
	}
	if (p) {
		stats.bytes_live += size;
		stats.allocs_live++;
	}
	fw_unlock(&pool_lock);
	return p;
}

void fw_free(void *ptr, size_t size)
{
	size_t page;

	if (!ptr)
		return;
	fw_lock(&pool_lock);
	if (!in_pool(ptr, &page)) {
		stats.bad_frees++;
	} else if (page_state[page] == PG_SLAB) {
		unsigned int c = page_class[page];

		if ((uintptr_t)ptr & (((uintptr_t)1 << c) - 1) || size > ((size_t)1 << c)) {
			stats.bad_frees++;
		} else {
			*(void **)ptr = free_list[c];
			free_list[c] = ptr;
			stats.bytes_live -= size;
			stats.allocs_live--;
		}
	} else if (pages_free_locked(ptr, page_count[page])) {
		stats.bytes_live -= size;
		stats.allocs_live--;
	}
	fw_unlock(&pool_lock);
}

struct fw_pool_stats fw_pool_stats(void)
{
	struct fw_pool_stats s;

	fw_lock(&pool_lock);
	s = stats;
	s.pages_occupied = 0;
	for (size_t i = 0; i < POOL_PAGES; i++)
		s.pages_occupied += page_state[i] != PG_FREE;
	fw_unlock(&pool_lock);
	return s;
}
