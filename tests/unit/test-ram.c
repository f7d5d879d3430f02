/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM from the library: hyp_vm_ram_alloc() / hyp_vm_ram_free() on the mock (plain hosted
 * memory) and on a stub backend with its own ram_alloc/ram_free methods (what kvm and el2 do),
 * which counts what it hands out so that the VM's ownership (hyp_vm_destroy() frees the rest) is
 * checked, not assumed. Also hyp_vm_claim_spi()'s argument checks.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libhyp/hyp.h>
#include <libhyp/mock.h>

#include "test-stub-backend.h"

#define PAGE HYP_PAGE_SIZE
#define RAM_BASE 0x40000000ull

static char sentinel_object;
#define PTR_SENTINEL ((void *)&sentinel_object)

static struct hyp_vm *mock_vm(void)
{
	struct hyp_vm_config config = { .size = sizeof(config), .backend = "mock" };
	struct hyp_vm *vm = NULL;

	assert_int_equal(hyp_vm_create(&config, &vm), 0);
	return vm;
}

static void test_mock_alloc_map_free(void **state)
{
	struct hyp_vm *vm = mock_vm();
	uint8_t buf[16], *ram = PTR_SENTINEL;
	void *p = PTR_SENTINEL;

	(void)state;
	assert_int_equal(hyp_vm_ram_alloc(vm, 64 * PAGE, 0, &p), 0);
	ram = p;
	assert_ptr_not_equal(ram, PTR_SENTINEL);
	assert_int_equal((uintptr_t)ram % PAGE, 0);
	/* Zeroed and writable all the way. */
	for (size_t i = 0; i < 64 * PAGE; i += PAGE / 2)
		assert_int_equal(ram[i], 0);
	memset(ram, 0xa5, 64 * PAGE);
	assert_int_equal(hyp_vm_map(vm, RAM_BASE, ram, 64 * PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_read_guest(vm, RAM_BASE + 63 * PAGE, buf, sizeof(buf)), 0);
	assert_int_equal(buf[0], 0xa5);
	/* Mapped: refused, nothing freed (the guest could still use it). */
	assert_int_equal(hyp_vm_ram_free(vm, ram, 64 * PAGE), -EBUSY);
	assert_int_equal(hyp_vm_unmap(vm, RAM_BASE, 64 * PAGE), 0);
	/* Not exactly an allocation: -ENOENT. */
	assert_int_equal(hyp_vm_ram_free(vm, ram, 32 * PAGE), -ENOENT);
	assert_int_equal(hyp_vm_ram_free(vm, ram + PAGE, 63 * PAGE), -ENOENT);
	assert_int_equal(hyp_vm_ram_free(vm, ram, 64 * PAGE), 0);
	assert_int_equal(hyp_vm_ram_free(vm, ram, 64 * PAGE), -ENOENT);
	/* One left allocated, and mapped: hyp_vm_destroy() frees it (ASan/valgrind see a leak
	 * otherwise). */
	assert_int_equal(hyp_vm_ram_alloc(vm, 16 * PAGE, 0, &p), 0);
	assert_int_equal(hyp_vm_map(vm, RAM_BASE, p, 16 * PAGE, HYP_MEM_RWX), 0);
	assert_int_equal(hyp_vm_destroy(vm), 0);
}

static void test_bad_arguments(void **state)
{
	struct hyp_vm *vm = mock_vm();
	void *p = PTR_SENTINEL;

	(void)state;
	assert_int_equal(hyp_vm_ram_alloc(NULL, PAGE, 0, &p), -EINVAL);
	assert_int_equal(hyp_vm_ram_alloc(vm, PAGE, 0, NULL), -EINVAL);
	assert_int_equal(hyp_vm_ram_alloc(vm, 0, 0, &p), -EINVAL);
	assert_int_equal(hyp_vm_ram_alloc(vm, PAGE + 1, 0, &p), -EINVAL);
	assert_int_equal(hyp_vm_ram_alloc(vm, PAGE, 1u << 31, &p), -EINVAL);
	/* Explicit huge pages are a kvm thing: the mock says so. */
	assert_int_equal(hyp_vm_ram_alloc(vm, 2u << 20, HYP_RAM_HUGETLB, &p), -ENOTSUP);
	/* A size no host can give. */
	assert_int_equal(hyp_vm_ram_alloc(vm, UINT64_MAX & ~(uint64_t)(PAGE - 1), 0, &p), -ENOMEM);
	assert_ptr_equal(p, PTR_SENTINEL);
	assert_int_equal(hyp_vm_ram_free(NULL, p, PAGE), -EINVAL);
	assert_int_equal(hyp_vm_ram_free(vm, NULL, PAGE), -EINVAL);
	/* Memory the library did not allocate. */
	assert_int_equal(hyp_vm_ram_free(vm, &sentinel_object, PAGE), -ENOENT);

	assert_int_equal(hyp_vm_claim_spi(NULL, 40), -EINVAL);
	assert_int_equal(hyp_vm_claim_spi(vm, 31), -EINVAL);
	assert_int_equal(hyp_vm_claim_spi(vm, 1020), -EINVAL);
	assert_int_equal(hyp_vm_claim_spi(vm, 32), 0);
	assert_int_equal(hyp_vm_claim_spi(vm, 1019), 0);
	assert_int_equal(hyp_vm_destroy(vm), 0);
}

/* From a callback, with the vCPU inside hyp_vcpu_run(): both refuse, changing nothing. */
struct busy {
	void *ram;
	int alloc, free;
	void *got;
};

static enum hyp_handler_result busy_mmio(void *opaque, struct hyp_vcpu *vcpu,
					 struct hyp_mmio_access *access)
{
	struct busy *b = opaque;

	b->got = PTR_SENTINEL;
	b->alloc = hyp_vm_ram_alloc(hyp_vcpu_vm(vcpu), PAGE, 0, &b->got);
	b->free = hyp_vm_ram_free(hyp_vcpu_vm(vcpu), b->ram, 4 * PAGE);
	access->data = 0;
	return HYP_HANDLED;
}

static void test_busy_while_running(void **state)
{
	struct hyp_vm *vm = mock_vm();
	struct hyp_vcpu *vcpu;
	struct busy b = { 0 };

	(void)state;
	assert_int_equal(hyp_vm_ram_alloc(vm, 4 * PAGE, 0, &b.ram), 0);
	assert_int_equal(hyp_vm_add_mmio_handler(vm, 0x09000000ull, 0x1000, busy_mmio, &b), 0);
	assert_int_equal(hyp_vcpu_create(vm, NULL, &vcpu), 0);
	assert_int_equal(hyp_mock_push_mmio(vcpu, 0x09000000ull, 4, 0, 0), 0);
	assert_int_equal(hyp_vcpu_run(vcpu), -ENODATA);
	assert_int_equal(b.alloc, -EBUSY);
	assert_ptr_equal(b.got, PTR_SENTINEL);
	assert_int_equal(b.free, -EBUSY);
	/* Still allocated: freeing it now works once. */
	assert_int_equal(hyp_vm_ram_free(vm, b.ram, 4 * PAGE), 0);
	assert_int_equal(hyp_vm_destroy(vm), 0);
}

/* A backend with its own guest RAM methods, keeping a ledger. */
struct ledger {
	unsigned allocs, frees;
	uint64_t live_bytes;
	uint32_t last_flags;
	void *last_freed;
};

static struct ledger ledger;

static int ledger_ram_alloc(struct hyp_vm *vm, uint64_t size, uint32_t flags, void **ret)
{
	void *p;

	(void)vm;
	if (flags & HYP_RAM_HUGETLB)
		return -ENOTSUP;
	if (posix_memalign(&p, 2u << 20, (size_t)size))
		return -ENOMEM;
	memset(p, 0, (size_t)size);
	ledger.allocs++;
	ledger.live_bytes += size;
	*ret = p;
	return 0;
}

static void ledger_ram_free(struct hyp_vm *vm, void *host, uint64_t size, uint32_t flags)
{
	(void)vm;
	ledger.frees++;
	ledger.live_bytes -= size;
	ledger.last_flags = flags;
	ledger.last_freed = host;
	free(host);
}

static const struct hyp_backend_ops ledger_ops = {
	TEST_STUB_BACKEND("ledger"),
	.vm_init = test_stub_vm_init,
	.ram_alloc = ledger_ram_alloc,
	.ram_free = ledger_ram_free,
};

static void test_backend_methods_and_ownership(void **state)
{
	struct hyp_vm_config config = { .size = sizeof(config), .backend_ops = &ledger_ops };
	struct hyp_vm *vm = NULL;
	void *a = NULL, *b = NULL, *c = PTR_SENTINEL;

	(void)state;
	memset(&ledger, 0, sizeof(ledger));
	assert_int_equal(hyp_vm_create(&config, &vm), 0);
	assert_int_equal(hyp_vm_ram_alloc(vm, 4 * PAGE, 0, &a), 0);
	assert_int_equal(hyp_vm_ram_alloc(vm, 8 * PAGE, 0, &b), 0);
	assert_int_equal((uintptr_t)a % (2u << 20), 0); /* the backend's, not the generic mmap */
	assert_int_equal(ledger.allocs, 2);
	/* The backend's refusal comes back as is, and nothing is recorded. */
	assert_int_equal(hyp_vm_ram_alloc(vm, 2u << 20, HYP_RAM_HUGETLB, &c), -ENOTSUP);
	assert_ptr_equal(c, PTR_SENTINEL);
	assert_int_equal(hyp_vm_ram_free(vm, a, 4 * PAGE), 0);
	assert_int_equal(ledger.frees, 1);
	assert_ptr_equal(ledger.last_freed, a);
	assert_int_equal(ledger.live_bytes, 8 * PAGE);
	/* The VM frees what is left. */
	assert_int_equal(hyp_vm_destroy(vm), 0);
	assert_int_equal(ledger.frees, 2);
	assert_ptr_equal(ledger.last_freed, b);
	assert_int_equal(ledger.live_bytes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mock_alloc_map_free),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_backend_methods_and_ownership),
		cmocka_unit_test(test_busy_while_running),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
