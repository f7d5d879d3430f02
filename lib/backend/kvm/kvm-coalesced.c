/* SPDX-License-Identifier: MIT */
/*
 * Deferred MMIO writes (hyp_vm_defer_mmio_writes()) through KVM's coalesced MMIO
 * (Documentation/virt/kvm/api.rst, KVM_REGISTER_COALESCED_MMIO): KVM appends a guest write to a
 * registered zone to a ring in one page of the vCPU mapping and resumes the guest without an exit
 * (a full ring falls back to an ordinary MMIO exit). The ring is the VM's, shared by every vCPU's
 * mapping; the backend empties it, in order, before it returns any exit, and when a zone goes.
 */
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "kvm-internal.h"

/* The ring KVM fills, in the page at @page pages into @kv's mapping. */
static struct kvm_coalesced_mmio_ring *ring_of(struct kvm_vm_state *k, struct kvm_vcpu_state *kv)
{
	return (struct kvm_coalesced_mmio_ring *)(void *)((char *)kv->run +
							  (size_t)k->coalesced_page * k->page_size);
}

/*
 * Deliver what the ring holds, through @vcpu (the caller's, or any with no vCPU running): the
 * entries there when it starts, so other vCPUs storing without pause cannot keep it here (what
 * they add is the next exit's). Each entry leaves the ring only once delivered: a vCPU whose own
 * check finds the ring empty is then sure its earlier writes have reached their callback, and one
 * that finds it not empty waits here on the lock until they have.
 */
static void drain(struct hyp_vcpu *vcpu)
{
	struct kvm_vm_state *k = vm_state(hyp_vcpu_vm(vcpu));
	struct kvm_coalesced_mmio_ring *ring = ring_of(k, vcpu_state(vcpu));
	uint32_t max =
		(uint32_t)((k->page_size - sizeof(*ring)) / sizeof(struct kvm_coalesced_mmio));
	uint32_t first, last;

	pthread_mutex_lock(&k->coalesced_lock);
	first = __atomic_load_n(&ring->first, __ATOMIC_RELAXED);
	/* Acquire: the entries KVM wrote before it moved @last. */
	last = __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE);
	while (first != last && first < max && last < max) {
		struct kvm_coalesced_mmio e = ring->coalesced_mmio[first];
		uint64_t data = 0;

		if (e.len && e.len <= sizeof(e.data)) {
			for (uint32_t i = 0; i < e.len; i++)
				data |= (uint64_t)e.data[i] << (8 * i);
			hyp_backend_dispatch_deferred_write(vcpu, e.phys_addr, e.len, data);
		}
		first = (first + 1) % max;
		/* Release: KVM may reuse the slot once it sees @first move past it. */
		__atomic_store_n(&ring->first, first, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&k->coalesced_lock);
}

void hyp__kvm_coalesced_drain_slow(struct hyp_vcpu *vcpu)
{
	struct kvm_vm_state *k = vm_state(hyp_vcpu_vm(vcpu));
	struct kvm_coalesced_mmio_ring *ring = ring_of(k, vcpu_state(vcpu));

	/* The common case, nothing collected: two loads, no lock. */
	if (__atomic_load_n(&ring->first, __ATOMIC_RELAXED) ==
	    __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE))
		return;
	drain(vcpu);
}

void hyp__kvm_coalesced_release(struct hyp_vcpu *vcpu)
{
	/* A vCPU that goes takes its mapping of the ring with it: deliver what is held while the
	 * mapping is there (others may still run: the lock orders it with their drains). */
	if (atomic_load(&vm_state(hyp_vcpu_vm(vcpu))->coalesced_zones))
		drain(vcpu);
}

int hyp__kvm_mmio_defer(struct hyp_vm *vm, hyp_ipa_t base, uint64_t size, bool on)
{
	struct kvm_vm_state *k = vm_state(vm);
	struct kvm_coalesced_mmio_zone zone = { .addr = base, .size = (uint32_t)size };
	int page;

	if (size > UINT32_MAX)
		return -EINVAL;
	if (!on) {
		/* No vCPU runs (the library's reconfiguration): what KVM holds for the zone, and
		 * for any other, is delivered through the first vCPU there is. With no vCPU left
		 * nothing is held: the last one to go delivered it (hyp__kvm_coalesced_release()). */
		if (ioctl(k->vm_fd, KVM_UNREGISTER_COALESCED_MMIO, &zone)) {
			int r = sys_err();

			/* KVM goes on collecting writes there: the ring keeps being emptied (they
			 * reach whatever then holds the address, or nobody). */
			hyp_vm_log(vm, HYP_LOG_ERROR,
				   "kvm: KVM_UNREGISTER_COALESCED_MMIO %#llx+%#llx: %s",
				   (unsigned long long)base, (unsigned long long)size,
				   hyp_strerror(r));
			return r;
		}
		for (uint32_t i = 0; i < vm->max_vcpus; i++) {
			struct hyp_vcpu *vcpu = hyp__vm_vcpu(vm, i);

			if (vcpu) {
				drain(vcpu);
				break;
			}
		}
		atomic_fetch_sub(&k->coalesced_zones, 1);
		return 0;
	}
	/* KVM_CAP_COALESCED_MMIO is the ring's page offset in the vCPU mapping (0: none). */
	page = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	if (page <= 0 || (size_t)(page + 1) * k->page_size > k->run_size)
		return -ENOTSUP;
	k->coalesced_page = (uint32_t)page;
	if (ioctl(k->vm_fd, KVM_REGISTER_COALESCED_MMIO, &zone))
		return sys_err();
	atomic_fetch_add(&k->coalesced_zones, 1);
	return 0;
}
