/* SPDX-License-Identifier: MIT */
/*
 * A sequential writer of flattened device trees (the Devicetree Specification v0.4, chapter 5:
 * header, memory reservation block, structure block, strings block), small enough for the
 * freestanding build: nodes and properties are appended in order straight into the caller's
 * buffer. Internal to lib/fdt.
 */
#ifndef HYP_FDT_WRITER_H
#define HYP_FDT_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct hyp__fdtw {
	uint8_t *buf;
	size_t size;
	size_t struct_end;  /* the next structure-block byte */
	size_t strings_len; /* the strings block, kept at the end of @buf until the finish */
	unsigned int depth;
};

/* Start a tree in @buf (8-byte aligned, @size bytes). Returns 0 or -ENOSPC. */
int hyp__fdtw_init(struct hyp__fdtw *w, void *buf, size_t size);
/* A node (@name "" for the root). Returns 0, -ENOSPC. */
int hyp__fdtw_begin_node(struct hyp__fdtw *w, const char *name);
/* A property of the open node: @len bytes at @value (NULL with @len 0: an empty property).
 * Returns 0, -ENOSPC, -EINVAL outside a node. */
int hyp__fdtw_property(struct hyp__fdtw *w, const char *name, const void *value, size_t len);
int hyp__fdtw_property_string(struct hyp__fdtw *w, const char *name, const char *value);
int hyp__fdtw_property_u32(struct hyp__fdtw *w, const char *name, uint32_t value);
int hyp__fdtw_property_u64(struct hyp__fdtw *w, const char *name, uint64_t value);
/* Close the open node. Returns 0, -ENOSPC, -EINVAL if none is open. */
int hyp__fdtw_end_node(struct hyp__fdtw *w);
/* Close the tree (every node must be closed) and write the header; @total_size receives the
 * blob's size (its header's totalsize). Returns 0, -ENOSPC, -EINVAL. */
int hyp__fdtw_finish(struct hyp__fdtw *w, size_t *total_size);

/* Big-endian cells as they are stored in property values (DT spec 2.2.4). */
uint32_t hyp__fdt_be32(uint32_t v);
uint64_t hyp__fdt_be64(uint64_t v);

#endif /* HYP_FDT_WRITER_H */
