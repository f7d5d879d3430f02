/* SPDX-License-Identifier: MIT */
/*
 * The flattened device tree writer (fdt-writer.h). Layout (Devicetree Specification v0.4, 5.1):
 * the 40-byte header, the memory reservation block at offset 40 (one terminating all-zero entry:
 * no reservations), the structure block from offset 56, then the strings block. While the tree is
 * written, the strings block sits at the end of the buffer in its final order (each new name is
 * appended by sliding the block down), so a name's offset never changes; the finish moves it
 * right after the structure block.
 */
#include "fdt-writer.h"

#include <stdbool.h>

#include "hyp_errno.h"
#include "hyp_string.h"

#define FDT_MAGIC 0xd00dfeedu
#define FDT_VERSION 17u
#define FDT_LAST_COMP_VERSION 16u
#define FDT_HEADER_SIZE 40u
#define FDT_RSVMAP_OFF FDT_HEADER_SIZE
#define FDT_STRUCT_OFF (FDT_RSVMAP_OFF + 16u)

/* Structure block tokens (5.4.1). */
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE 2u
#define FDT_PROP 3u
#define FDT_END 9u

uint32_t hyp__fdt_be32(uint32_t v)
{
	return __builtin_bswap32(v);
}

uint64_t hyp__fdt_be64(uint64_t v)
{
	return __builtin_bswap64(v);
}

/* The freestanding build has no str_len(); names and strings here come from lib/fdt itself. */
static size_t str_len(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static size_t align4(size_t n)
{
	return (n + 3u) & ~(size_t)3u;
}

/* Room for @n more structure bytes, the strings block staying where it is. */
static bool struct_room(const struct hyp__fdtw *w, size_t n)
{
	return w->struct_end <= w->size - w->strings_len &&
	       n <= w->size - w->strings_len - w->struct_end;
}

/* Append @len bytes and zero padding up to a 4-byte boundary (5.4.2: tokens are aligned). */
static void put_padded(struct hyp__fdtw *w, const void *bytes, size_t len)
{
	size_t padded = align4(len);

	if (len)
		memcpy(w->buf + w->struct_end, bytes, len);
	memset(w->buf + w->struct_end + len, 0, padded - len);
	w->struct_end += padded;
}

int hyp__fdtw_init(struct hyp__fdtw *w, void *buf, size_t size)
{
	w->buf = buf;
	w->size = size;
	w->struct_end = FDT_STRUCT_OFF;
	w->strings_len = 0;
	w->depth = 0;
	if (size < FDT_STRUCT_OFF)
		return -ENOSPC;
	memset(w->buf, 0, FDT_STRUCT_OFF);
	return 0;
}

int hyp__fdtw_begin_node(struct hyp__fdtw *w, const char *name)
{
	size_t len = str_len(name) + 1;

	if (!struct_room(w, 4 + align4(len)))
		return -ENOSPC;
	put32(w->buf + w->struct_end, FDT_BEGIN_NODE);
	w->struct_end += 4;
	put_padded(w, name, len);
	w->depth++;
	return 0;
}

int hyp__fdtw_end_node(struct hyp__fdtw *w)
{
	if (!w->depth)
		return -EINVAL;
	if (!struct_room(w, 4))
		return -ENOSPC;
	put32(w->buf + w->struct_end, FDT_END_NODE);
	w->struct_end += 4;
	w->depth--;
	return 0;
}

/* The offset of @name in the strings block, added if it is not there yet (any NUL-terminated
 * occurrence will do, a suffix of a longer name included); -ENOSPC. */
static int64_t string_offset(struct hyp__fdtw *w, const char *name)
{
	size_t len = str_len(name) + 1;
	uint8_t *table = w->buf + w->size - w->strings_len;

	for (size_t i = 0; i + len <= w->strings_len; i++)
		if (!memcmp(table + i, name, len))
			return (int64_t)i;
	if (!struct_room(w, len))
		return -ENOSPC;
	memmove(table - len, table, w->strings_len);
	memcpy(w->buf + w->size - len, name, len);
	w->strings_len += len;
	return (int64_t)(w->strings_len - len);
}

int hyp__fdtw_property(struct hyp__fdtw *w, const char *name, const void *value, size_t len)
{
	int64_t nameoff;

	if (!w->depth || (len && !value) || len > UINT32_MAX)
		return -EINVAL;
	nameoff = string_offset(w, name);
	if (nameoff < 0)
		return (int)nameoff;
	if (!struct_room(w, 12 + align4(len)))
		return -ENOSPC;
	put32(w->buf + w->struct_end, FDT_PROP);
	put32(w->buf + w->struct_end + 4, (uint32_t)len);
	put32(w->buf + w->struct_end + 8, (uint32_t)nameoff);
	w->struct_end += 12;
	put_padded(w, value, len);
	return 0;
}

int hyp__fdtw_property_string(struct hyp__fdtw *w, const char *name, const char *value)
{
	return hyp__fdtw_property(w, name, value, str_len(value) + 1);
}

int hyp__fdtw_property_u32(struct hyp__fdtw *w, const char *name, uint32_t value)
{
	uint32_t cell = hyp__fdt_be32(value);

	return hyp__fdtw_property(w, name, &cell, sizeof(cell));
}

int hyp__fdtw_property_u64(struct hyp__fdtw *w, const char *name, uint64_t value)
{
	uint64_t cells = hyp__fdt_be64(value);

	return hyp__fdtw_property(w, name, &cells, sizeof(cells));
}

int hyp__fdtw_finish(struct hyp__fdtw *w, size_t *total_size)
{
	size_t struct_size, total;

	if (w->depth)
		return -EINVAL;
	if (!struct_room(w, 4))
		return -ENOSPC;
	put32(w->buf + w->struct_end, FDT_END);
	w->struct_end += 4;
	struct_size = w->struct_end - FDT_STRUCT_OFF;
	total = w->struct_end + w->strings_len;
	if (total > UINT32_MAX)
		return -ENOSPC;
	memmove(w->buf + w->struct_end, w->buf + w->size - w->strings_len, w->strings_len);
	put32(w->buf + 0, FDT_MAGIC);
	put32(w->buf + 4, (uint32_t)total);
	put32(w->buf + 8, FDT_STRUCT_OFF);
	put32(w->buf + 12, (uint32_t)w->struct_end);
	put32(w->buf + 16, FDT_RSVMAP_OFF);
	put32(w->buf + 20, FDT_VERSION);
	put32(w->buf + 24, FDT_LAST_COMP_VERSION);
	put32(w->buf + 28, 0); /* boot_cpuid_phys: the first cpu node is the boot CPU */
	put32(w->buf + 32, (uint32_t)w->strings_len);
	put32(w->buf + 36, (uint32_t)struct_size);
	*total_size = total;
	return 0;
}
