/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM for kvm VMs (hyp_vm_ram_alloc()). KVM maps guest memory at stage 2 in 2 MiB blocks
 * only where the host backs it with a huge page and the host address and the IPA agree modulo
 * 2 MiB (Linux arch/arm64/kvm/mmu.c, fault_supports_stage2_huge_mapping()); anything else costs a
 * stage-2 fault per 4 KiB page the guest touches. So: reserve 2 MiB more than asked, keep the
 * 2 MiB aligned part, give the rest back, and ask for transparent huge pages. Or, on request,
 * hugetlbfs pages through a memfd (always huge, needs pages reserved by the administrator).
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "kvm-internal.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004u
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001u
#endif
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21u << 26)
#endif

#define RAM_ALIGN ((uint64_t)HYP_RAM_ALIGN)

static uint64_t hugetlb_size(uint64_t size)
{
	return (size + RAM_ALIGN - 1) & ~(RAM_ALIGN - 1);
}

static int alloc_hugetlb(uint64_t size, void **ret)
{
	uint64_t len = hugetlb_size(size);
	int fd = (int)syscall(SYS_memfd_create, "libhyp-guest-ram",
			      MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
	void *p;

	if (fd < 0)
		return errno == EINVAL || errno == ENOSYS ? -ENOTSUP : -ENOMEM;
	/* MAP_POPULATE: hugetlbfs reserves at mmap() time anyway; taking the pages now turns a
	 * shortage into -ENOMEM here instead of a SIGBUS in the guest later. */
	if (ftruncate(fd, (off_t)len)) {
		close(fd);
		return -ENOMEM;
	}
	p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -ENOMEM;
	*ret = p;
	return 0;
}

int hyp__kvm_ram_alloc(struct hyp_vm *vm, uint64_t size, uint32_t flags, void **ret)
{
	uint8_t *area, *ram;
	uint64_t len;

	(void)vm;
	if (size > SIZE_MAX - RAM_ALIGN)
		return -ENOMEM;
	if (flags & HYP_RAM_HUGETLB)
		return alloc_hugetlb(size, ret);
	len = size + RAM_ALIGN;
	area = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		return -ENOMEM;
	ram = (uint8_t *)(((uintptr_t)area + RAM_ALIGN - 1) & ~(uintptr_t)(RAM_ALIGN - 1));
	if (ram > area)
		munmap(area, (size_t)(ram - area));
	if (area + len > ram + size)
		munmap(ram + size, (size_t)(area + len - (ram + size)));
	/* A hint: without transparent huge pages (or with them set to "never") the memory still
	 * works, in 4 KiB pages. */
	(void)madvise(ram, (size_t)size, MADV_HUGEPAGE);
	*ret = ram;
	return 0;
}

void hyp__kvm_ram_free(struct hyp_vm *vm, void *host, uint64_t size, uint32_t flags)
{
	(void)vm;
	/* A hugetlbfs mapping covers whole huge pages. */
	munmap(host, (size_t)((flags & HYP_RAM_HUGETLB) ? hugetlb_size(size) : size));
}
