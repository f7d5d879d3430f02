/* SPDX-License-Identifier: MIT */
/* Memory for the library's own objects, always through the VM's allocator ops. */
#include "hyp_string.h"

#include "internal.h"

#if defined(HYP_HOSTED) && HYP_HOSTED
static void *malloc_alloc(void *opaque, size_t size, size_t align)
{
	(void)opaque;
	/* aligned_alloc() wants the size to be a multiple of the alignment (C11 7.22.3.1). */
	size = (size + align - 1) & ~(align - 1);
	return aligned_alloc(align, size);
}

static void malloc_free(void *opaque, void *ptr, size_t size)
{
	(void)opaque;
	(void)size;
	free(ptr);
}

const struct hyp_alloc_ops hyp__malloc_ops = {
	.alloc = malloc_alloc,
	.free = malloc_free,
};
#endif

void *hyp__alloc(struct hyp_vm *vm, size_t size, size_t align)
{
	void *p = vm->alloc.alloc(vm->alloc.opaque, size, align);

	if (p)
		memset(p, 0, size);
	return p;
}

void hyp__free(struct hyp_vm *vm, void *ptr, size_t size)
{
	if (ptr)
		vm->alloc.free(vm->alloc.opaque, ptr, size);
}

int hyp__vec_insert(struct hyp_vm *vm, struct hyp_vec *vec, size_t elem_size, uint32_t at,
		    const void *elem, uint32_t max_count)
{
	char *data;

	hyp__assert(at <= vec->count);
	if (vec->count >= max_count)
		return -ENOSPC;
	if (vec->count == vec->capacity) {
		uint32_t capacity = vec->capacity ? vec->capacity * 2 : 8;
		void *grown;

		if (capacity > max_count)
			capacity = max_count;
		grown = hyp__alloc(vm, (size_t)capacity * elem_size, 16);
		if (!grown)
			return -ENOMEM;
		if (vec->count)
			memcpy(grown, vec->data, (size_t)vec->count * elem_size);
		hyp__free(vm, vec->data, (size_t)vec->capacity * elem_size);
		vec->data = grown;
		vec->capacity = capacity;
	}
	data = vec->data;
	memmove(data + (size_t)(at + 1) * elem_size, data + (size_t)at * elem_size,
		(size_t)(vec->count - at) * elem_size);
	memcpy(data + (size_t)at * elem_size, elem, elem_size);
	vec->count++;
	return 0;
}

void hyp__vec_remove(struct hyp_vec *vec, size_t elem_size, uint32_t at)
{
	char *data = vec->data;

	hyp__assert(at < vec->count);
	memmove(data + (size_t)at * elem_size, data + (size_t)(at + 1) * elem_size,
		(size_t)(vec->count - at - 1) * elem_size);
	vec->count--;
}

void hyp__vec_release(struct hyp_vm *vm, struct hyp_vec *vec, size_t elem_size)
{
	hyp__free(vm, vec->data, (size_t)vec->capacity * elem_size);
	vec->data = NULL;
	vec->count = vec->capacity = 0;
}
