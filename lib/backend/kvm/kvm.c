/* SPDX-License-Identifier: MIT */
/*
 * The kvm backend: libhyp on Linux's /dev/kvm (arm64 hosts).
 *
 * KVM does the world switch, stage 2, the GICv3 and the timers in the kernel; it also answers PSCI
 * itself (KVM_ARM_VCPU_PSCI_0_2), so this backend sets HYP_BACKEND_OWN_PSCI. What reaches us are
 * MMIO exits (already decoded by the kernel, completed through kvm_run->mmio.data), system events
 * and, where enabled, accesses without an instruction syndrome. Guest register access is through
 * KVM_{GET,SET}_ONE_REG, one register per ioctl even for hyp_vcpu_get_regs()/set_regs(): arm64
 * KVM has no multi-register ioctl (KVM_GET_REGS/KVM_SET_REGS answer -EINVAL), so the backend
 * leaves vcpu_get_regs/vcpu_set_regs out and the core loops over vcpu_get_reg/vcpu_set_reg.
 *
 * Ordering rules KVM imposes (Documentation/virt/kvm/devices/arm-vgic-v3.rst): the vGIC device
 * and its addresses before vCPUs run, KVM_DEV_ARM_VGIC_CTRL_INIT after every vCPU exists and
 * before the first KVM_RUN. We initialise it lazily at the first run of any vCPU.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <libhyp/backend.h>
#include <libhyp/kvm.h>

#include "hyp_bytes.h"
#include "internal.h"
#include "builtin.h"
#include "kvm-internal.h"

#define KVM_DEFAULT_PATH "/dev/kvm"
/* The fewest lines KVM's vGIC accepts (SGIs, PPIs and SPIs 32..63). */
#define KVM_MIN_NR_IRQS 64u
/* KVM's IPA size when the VM type does not say (KVM_CAP_ARM_VM_IPA_SIZE absent or type 0). */
#define KVM_DEFAULT_IPA_BITS 40u

/* Cheap on purpose: automatic selection calls it, and then vm_init opens /dev/kvm anyway (and
 * checks the API version there). Opening it here too would cost every VM a second open. */
static int kvm_probe(void)
{
	return access(KVM_DEFAULT_PATH, R_OK | W_OK) ? -ENODEV : 0;
}

/*
 * The kvm_run of the vCPU this thread is running, for the kick signal handler. Per thread, not per
 * VM: a signal is delivered to a thread, and a thread runs one vCPU at a time.
 */
static _Thread_local struct kvm_run *volatile thread_kvm_run;

/* This thread's id for the kick signal (tgkill), asked once per thread rather than per run. A
 * forked child's thread inherits its parent's copy, so fork forgets it. */
static _Thread_local pid_t thread_tid;
static pthread_once_t tid_atfork_once = PTHREAD_ONCE_INIT;

static void forget_tid(void)
{
	thread_tid = 0;
}

static void register_tid_atfork(void)
{
	pthread_atfork(NULL, NULL, forget_tid);
}

static pid_t this_tid(void)
{
	if (!thread_tid)
		thread_tid = (pid_t)syscall(SYS_gettid);
	return thread_tid;
}

static void kick_signal_handler(int sig)
{
	struct kvm_run *run = thread_kvm_run;

	(void)sig;
	/* A signal that lands between the pre-entry check and the KVM_RUN syscall is consumed
	 * here, not by KVM: make that KVM_RUN return at once (Documentation/virt/kvm/api.rst,
	 * immediate_exit). Inside KVM_RUN the delivery itself makes it return -EINTR. */
	if (run)
		run->immediate_exit = 1;
}

static int install_kick_handler(int sig)
{
	struct sigaction old, sa = { .sa_handler = kick_signal_handler };

	if (sigaction(sig, NULL, &old))
		return sys_err();
	if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)
		return 0; /* the application owns this signal's handler */
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: an interrupted KVM_RUN must come back to us. */
	return sigaction(sig, &sa, NULL) ? sys_err() : 0;
}

static int kvm_check(struct kvm_vm_state *k, long cap)
{
	int r = ioctl(k->vm_fd >= 0 ? k->vm_fd : k->kvm_fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

/* A capability only some VMs ever ask about, checked once, on first use: a VM that never maps
 * read-only memory or injects an abort does not pay the ioctl at creation. Any thread may ask;
 * racing askers get and store the same answer. */
static bool kvm_cap_lazy(struct kvm_vm_state *k, _Atomic int8_t *slot, long cap)
{
	int8_t v = atomic_load_explicit(slot, memory_order_relaxed);

	if (!v) {
		v = kvm_check(k, cap) > 0 ? 2 : 1;
		atomic_store_explicit(slot, v, memory_order_relaxed);
	}
	return v == 2;
}

/*
 * Accesses without a syndrome (ESR_EL2.ISS.ISV clear) as KVM_EXIT_ARM_NISV exits, enabled when
 * first needed rather than at creation: when asked for (HYP_CAP_NO_SYNDROME_EXITS), or when
 * KVM_RUN fails with ENOSYS, which is what KVM does with such an access while the capability is
 * off, leaving the vCPU to take the same abort again when it re-enters. No
 * KVM_CHECK_EXTENSION: enabling a capability the host lacks fails, the same answer.
 */
static bool kvm_nisv_enable(struct kvm_vm_state *k)
{
	int8_t v = atomic_load_explicit(&k->nisv_to_user, memory_order_relaxed);

	if (!v) {
		struct kvm_enable_cap cap = { .cap = KVM_CAP_ARM_NISV_TO_USER };

		v = ioctl(k->vm_fd, KVM_ENABLE_CAP, &cap) == 0 ? 2 : 1;
		atomic_store_explicit(&k->nisv_to_user, v, memory_order_relaxed);
	}
	return v == 2;
}

static int create_vgic(const struct hyp_vm_config *config, struct kvm_vm_state *k)
{
	struct kvm_create_device dev = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
	uint64_t dist = config->gicd_base, redist = config->gicr_base;
	struct kvm_device_attr attr;

	if (ioctl(k->vm_fd, KVM_CREATE_DEVICE, &dev))
		return errno == ENODEV ? -ENOTSUP : sys_err();
	k->vgic_fd = (int)dev.fd;
	attr = (struct kvm_device_attr){ .group = KVM_DEV_ARM_VGIC_GRP_ADDR,
					 .attr = KVM_VGIC_V3_ADDR_TYPE_DIST,
					 .addr = (uint64_t)(uintptr_t)&dist };
	if (ioctl(k->vgic_fd, KVM_SET_DEVICE_ATTR, &attr))
		return sys_err();
	/* One redistributor region, 128 KiB per vCPU, sized by KVM from the vCPU count. */
	attr.attr = KVM_VGIC_V3_ADDR_TYPE_REDIST;
	attr.addr = (uint64_t)(uintptr_t)&redist;
	if (ioctl(k->vgic_fd, KVM_SET_DEVICE_ATTR, &attr))
		return sys_err();
	/* The line count (KVM_DEV_ARM_VGIC_GRP_NR_IRQS) is set at initialisation, when the devices
	 * have claimed their lines: ensure_vgic_ready(). */
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void release_vm(struct kvm_vm_state *k)
{
	close_fd(&k->vgic_fd);
	close_fd(&k->vm_fd);
	close_fd(&k->kvm_fd);
}

static int setup_vm(struct hyp_vm *vm, const struct hyp_vm_config *config);

static int kvm_vm_init(struct hyp_vm *vm, const struct hyp_vm_config *config)
{
	struct kvm_vm_state *k = vm_state(vm);
	int r;

	k->kvm_fd = k->vm_fd = k->vgic_fd = -1;
	pthread_once(&tid_atfork_once, register_tid_atfork);
	r = setup_vm(vm, config);
	if (r) {
		release_vm(k);
		return r;
	}
	pthread_mutex_init(&k->vgic_lock, NULL);
	pthread_mutex_init(&k->pause_lock, NULL);
	pthread_mutex_init(&k->coalesced_lock, NULL);
	k->page_size = (size_t)sysconf(_SC_PAGESIZE);
	pthread_cond_init(&k->pause_cond, NULL);
	return 0;
}

static void kvm_vm_destroy(struct hyp_vm *vm)
{
	struct kvm_vm_state *k = vm_state(vm);

	release_vm(k);
	pthread_mutex_destroy(&k->vgic_lock);
	pthread_mutex_destroy(&k->pause_lock);
	pthread_mutex_destroy(&k->coalesced_lock);
	pthread_cond_destroy(&k->pause_cond);
}

/*
 * Each optional CPU feature asked for (@features) must be offered by this host's KVM: refuse
 * rather than pretend. Those only wanted (@wanted) are taken where offered.
 */
static int check_cpu_features(struct hyp_vm *vm, struct kvm_vm_state *k, uint32_t features,
			      uint32_t wanted, uint32_t irqchip)
{
	static const struct {
		uint32_t feature;
		long caps[2];
		const char *name;
	} needs[] = {
		{ HYP_KVM_CPU_PTRAUTH,
		  { KVM_CAP_ARM_PTRAUTH_ADDRESS, KVM_CAP_ARM_PTRAUTH_GENERIC },
		  "pointer authentication" },
		{ HYP_KVM_CPU_SVE, { KVM_CAP_ARM_SVE, KVM_CAP_ARM_SVE }, "SVE" },
		{ HYP_KVM_CPU_PMU, { KVM_CAP_ARM_PMU_V3, KVM_CAP_ARM_PMU_V3 }, "PMUv3" },
		{ HYP_KVM_CPU_MTE, { KVM_CAP_ARM_MTE, KVM_CAP_ARM_MTE }, "MTE" },
	};

	const uint32_t known = HYP_KVM_CPU_PTRAUTH | HYP_KVM_CPU_SVE | HYP_KVM_CPU_PMU |
			       HYP_KVM_CPU_MTE;

	if ((features | wanted) & ~known)
		return -EINVAL;
	wanted &= ~features;
	/* The PMU interrupt needs the in-kernel GIC. */
	if (irqchip == HYP_IRQCHIP_NONE) {
		if (features & HYP_KVM_CPU_PMU) {
			hyp_vm_log(
				vm, HYP_LOG_ERROR,
				"kvm: a guest PMU needs the in-kernel GIC (its overflow interrupt)");
			return -ENOTSUP;
		}
		wanted &= ~(uint32_t)HYP_KVM_CPU_PMU;
	}
	for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
		if (!((features | wanted) & needs[i].feature))
			continue;
		if (kvm_check(k, needs[i].caps[0]) > 0 && kvm_check(k, needs[i].caps[1]) > 0)
			continue;
		if (wanted & needs[i].feature) {
			wanted &= ~needs[i].feature;
			continue;
		}
		hyp_vm_log(vm, HYP_LOG_ERROR, "kvm: this host cannot give guests %s",
			   needs[i].name);
		return -ENOTSUP;
	}
	features |= wanted;
	if (features & HYP_KVM_CPU_MTE) {
		/* Enabled on the VM before any vCPU or memory exists (KVM API: KVM_CAP_ARM_MTE). */
		struct kvm_enable_cap cap = { .cap = KVM_CAP_ARM_MTE };

		if (ioctl(k->vm_fd, KVM_ENABLE_CAP, &cap))
			return sys_err();
	}
	k->cpu_features = features;
	return 0;
}

static int setup_vm(struct hyp_vm *vm, const struct hyp_vm_config *config)
{
	struct hyp_kvm_config kcfg = { .size = sizeof(kcfg) };
	struct kvm_vm_state *k = vm_state(vm);
	unsigned long type = 0;
	int max_ipa, r;

	if (config->backend_config) {
		const struct hyp_kvm_config *user = config->backend_config;

		r = hyp__copy_sized_config(&kcfg, sizeof(kcfg),
					   offsetof(struct hyp_kvm_config, kvm_path) +
						   sizeof(kcfg.kvm_path),
					   user, user->size);
		if (r)
			return r;
	}
	if (config->irqchip == HYP_IRQCHIP_LIBRARY)
		return -ENOTSUP; /* KVM's userspace irqchip model cannot host lib/vgic */
	/* 0: sized at initialisation from the lines claimed (hyp_vm_claim_spi()). */
	k->nr_irqs = kcfg.nr_irqs;
	if (k->nr_irqs && (k->nr_irqs % 32 || k->nr_irqs < KVM_MIN_NR_IRQS || k->nr_irqs > 1024))
		return -EINVAL;
	k->kick_signal = kcfg.kick_signal ? kcfg.kick_signal : SIGRTMIN + 4;
	if (k->kick_signal <= 0 || k->kick_signal >= NSIG)
		return -EINVAL;

	k->kvm_fd = open(kcfg.kvm_path ? kcfg.kvm_path : KVM_DEFAULT_PATH, O_RDWR | O_CLOEXEC);
	if (k->kvm_fd < 0) {
		hyp_vm_log(vm, HYP_LOG_ERROR, "kvm: cannot open %s: %s",
			   kcfg.kvm_path ? kcfg.kvm_path : KVM_DEFAULT_PATH, strerror(errno));
		return -ENODEV;
	}
	if (ioctl(k->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return -ENODEV;

	/* The IPA size goes in the VM type (0 is KVM's 40 bits, the only size a host without
	 * KVM_CAP_ARM_VM_IPA_SIZE has). Create first and ask only on failure, for the reason:
	 * a VM that can be created needs no KVM_CHECK_EXTENSION. */
	type = config->ipa_bits == KVM_DEFAULT_IPA_BITS ?
		       0 :
		       KVM_VM_TYPE_ARM_IPA_SIZE(config->ipa_bits);
	k->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, type);
	if (k->vm_fd < 0) {
		r = sys_err();
		/* KVM_CAP_ARM_VM_IPA_SIZE gives the largest IPA size; without it only 40 bits
		 * exist. */
		max_ipa = kvm_check(k, KVM_CAP_ARM_VM_IPA_SIZE);
		if (max_ipa <= 0 && config->ipa_bits != KVM_DEFAULT_IPA_BITS)
			return -ENOTSUP;
		if (max_ipa > 0 && config->ipa_bits > (uint32_t)max_ipa) {
			hyp_vm_log(vm, HYP_LOG_ERROR,
				   "kvm: host supports %d IPA bits, %u requested", max_ipa,
				   config->ipa_bits);
			return -ENOTSUP;
		}
		return r;
	}
	k->run_size = (size_t)ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if ((long)k->run_size <= 0)
		return sys_err();
	if ((kcfg.sve_max_vl % 16) ||
	    (kcfg.sve_max_vl &&
	     !((kcfg.cpu_features | kcfg.cpu_features_if_available) & HYP_KVM_CPU_SVE)))
		return -EINVAL;
	k->sve_max_vq = kcfg.sve_max_vl / 16;
	r = check_cpu_features(vm, k, kcfg.cpu_features, kcfg.cpu_features_if_available,
			       config->irqchip);
	if (r)
		return r;
	/* Before any vCPU and memslot exists, as KVM requires (kvm-dirty.c). */
	if (config->dirty_ring_entries) {
		r = hyp__kvm_dirty_ring_enable(vm, config->dirty_ring_entries);
		if (r)
			return r;
	}
	if (config->irqchip != HYP_IRQCHIP_NONE) {
		r = create_vgic(config, k);
		if (r) {
			hyp_vm_log(vm, HYP_LOG_ERROR, "kvm: in-kernel GICv3 unavailable: %s",
				   hyp_strerror(r));
			return r;
		}
	}
	return install_kick_handler(k->kick_signal);
}

static int kvm_vm_query_cap(struct hyp_vm *vm, enum hyp_cap cap, uint64_t *value)
{
	struct kvm_vm_state *k = vm_state(vm);

	switch (cap) {
	case HYP_CAP_IRQCHIP_BACKEND:
	case HYP_CAP_IRQ_INJECTION:
		*value = k->vgic_fd >= 0;
		return 0;
	case HYP_CAP_CPU_FEATURES:
		*value = k->cpu_features;
		return 0;
	case HYP_CAP_READONLY_MEM:
		*value = kvm_cap_lazy(k, &k->readonly_mem, KVM_CAP_READONLY_MEM);
		return 0;
	case HYP_CAP_NO_SYNDROME_EXITS:
		*value = kvm_nisv_enable(k);
		return 0;
	case HYP_CAP_INJECT_EXCEPTIONS:
		*value = kvm_cap_lazy(k, &k->inject_dabt, KVM_CAP_ARM_INJECT_EXT_DABT) ?
				 1u << HYP_INJECT_DATA_ABORT :
				 0;
		return 0;
	case HYP_CAP_SMCCC_HVC_EXITS: /* KVM's SMCCC filter (Linux 6.4+): kvm-smccc.c */
	case HYP_CAP_SMCCC_SMC_EXITS:
		*value = hyp__kvm_smccc_filter(k);
		return 0;
	case HYP_CAP_CUSTOM_MPIDR: /* KVM resets MPIDR from the vCPU id at CPU_ON */
	case HYP_CAP_SYSREG_TRAPS: /* KVM handles or UNDEFs sysregs in the kernel */
	case HYP_CAP_WFX_EXITS:	   /* WFI/WFE block in the kernel */
		*value = 0;
		return 0;
	case HYP_CAP_DIRTY_LOG: /* KVM_MEM_LOG_DIRTY_PAGES: kvm-dirty.c */
		*value = hyp__kvm_dirty_log_supported();
		return 0;
	case HYP_CAP_DIRTY_RING: /* KVM_CAP_DIRTY_LOG_RING_ACQ_REL + _WITH_BITMAP: kvm-dirty.c */
		*value = hyp__kvm_dirty_ring_max(k);
		return 0;
	default:
		return -ENOTSUP;
	}
}

static int set_memory_region(struct kvm_vm_state *k, const struct hyp_mem_region *region,
			     uint64_t size)
{
	struct kvm_userspace_memory_region mr = {
		.slot = region->slot,
		.flags = (region->flags & HYP_MEM_WRITE) ? 0 : KVM_MEM_READONLY,
		.guest_phys_addr = region->ipa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)region->host,
	};

	return ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) ? sys_err() : 0;
}

static int kvm_mem_map(struct hyp_vm *vm, const struct hyp_mem_region *region)
{
	/* Stage 2 under KVM is always executable: refuse what we could not enforce. */
	if (!(region->flags & HYP_MEM_EXEC))
		return -ENOTSUP;
	return set_memory_region(vm_state(vm), region, region->size);
}

static int kvm_mem_unmap(struct hyp_vm *vm, const struct hyp_mem_region *region)
{
	/* A zero-sized slot deletes it (KVM API: KVM_SET_USER_MEMORY_REGION). */
	return set_memory_region(vm_state(vm), region, 0);
}

static int vcpu_init_features(struct hyp_vcpu *vcpu, struct kvm_vcpu_state *kv, bool power_off)
{
	struct kvm_vm_state *k = vm_state(hyp_vcpu_vm(vcpu));
	struct kvm_vcpu_init init;

	if (ioctl(k->vm_fd, KVM_ARM_PREFERRED_TARGET, &init))
		return sys_err();
	/* Without PSCI 0.2 KVM answers PSCI calls with -1 and zeroes X1-X3. */
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (power_off)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (k->cpu_features & HYP_KVM_CPU_PTRAUTH)
		init.features[0] |= 1u << KVM_ARM_VCPU_PTRAUTH_ADDRESS |
				    1u << KVM_ARM_VCPU_PTRAUTH_GENERIC;
	if (k->cpu_features & HYP_KVM_CPU_SVE)
		init.features[0] |= 1u << KVM_ARM_VCPU_SVE;
	if (k->cpu_features & HYP_KVM_CPU_PMU)
		init.features[0] |= 1u << KVM_ARM_VCPU_PMU_V3;
	if (ioctl(kv->fd, KVM_ARM_VCPU_INIT, &init))
		return sys_err();
	if (k->cpu_features & HYP_KVM_CPU_SVE) {
		/* The vector lengths (all the host has up to the maximum asked for), then
		 * finalize; both must precede any run or other register access
		 * (Documentation/virt/kvm/api.rst, KVM_REG_ARM64_SVE_VLS, KVM_ARM_VCPU_FINALIZE). */
		int what = KVM_ARM_VCPU_SVE;

		if (k->sve_max_vq) {
			uint64_t vls[8];
			struct kvm_one_reg reg = { .id = KVM_REG_ARM64_SVE_VLS,
						   .addr = (uint64_t)(uintptr_t)vls };
			bool any = false;

			if (ioctl(kv->fd, KVM_GET_ONE_REG, &reg))
				return sys_err();
			for (uint32_t vq = 1; vq <= 512; vq++) {
				uint64_t bit = 1ull << ((vq - 1) % 64);

				if (vq > k->sve_max_vq)
					vls[(vq - 1) / 64] &= ~bit;
				else if (vls[(vq - 1) / 64] & bit)
					any = true;
			}
			if (!any) {
				hyp_vm_log(hyp_vcpu_vm(vcpu), HYP_LOG_ERROR,
					   "kvm: the host has no SVE vector length up to %u bytes",
					   k->sve_max_vq * 16);
				return -ENOTSUP;
			}
			if (ioctl(kv->fd, KVM_SET_ONE_REG, &reg))
				return sys_err();
		}
		if (ioctl(kv->fd, KVM_ARM_VCPU_FINALIZE, &what))
			return sys_err();
	}
	kv->pmu_pending = k->cpu_features & HYP_KVM_CPU_PMU;
	return 0;
}

static int kvm_vcpu_init(struct hyp_vcpu *vcpu)
{
	struct kvm_vm_state *k = vm_state(hyp_vcpu_vm(vcpu));
	struct kvm_vcpu_state *kv = vcpu_state(vcpu);
	uint64_t mpidr = hyp_backend_vcpu_mpidr(vcpu);
	int r;

	/*
	 * KVM derives MPIDR_EL1 from the vCPU id with the layout of libhyp's default
	 * (hyp__default_mpidr(), lib/common/arm64.h: reset_mpidr() in Linux), and re-derives
	 * it whenever its in-kernel PSCI resets the vCPU (CPU_ON: reset_mpidr() in Linux 6.1); its
	 * vGICv3 also ignores Aff3. Another affinity would silently revert or break interrupt
	 * routing, so refuse it.
	 */
	if (mpidr != hyp__default_mpidr(hyp_vcpu_index(vcpu))) {
		hyp_vm_log(hyp_vcpu_vm(vcpu), HYP_LOG_INFO,
			   "kvm: vCPU %u: MPIDR %#llx unsupported; KVM fixes it to %#llx",
			   hyp_vcpu_index(vcpu), (unsigned long long)mpidr,
			   (unsigned long long)hyp__default_mpidr(hyp_vcpu_index(vcpu)));
		return -ENOTSUP;
	}
	kv->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)hyp_vcpu_index(vcpu));
	if (kv->fd < 0)
		return sys_err();
	kv->redist_frame = atomic_fetch_add(&k->vcpus_created, 1);
	kv->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, kv->fd, 0);
	if (kv->run == MAP_FAILED) {
		kv->run = NULL;
		r = sys_err();
		goto fail;
	}
	r = hyp__kvm_dirty_ring_map(hyp_vcpu_vm(vcpu), kv);
	if (r)
		goto fail;
	/* Only a vCPU known to be on starts running: anything else (an error included) waits for
	 * PSCI CPU_ON rather than running from KVM's reset PC. */
	r = vcpu_init_features(vcpu, kv, hyp_vcpu_is_powered_on(vcpu) != 1);
	if (r)
		goto fail;
	return 0;
fail:
	if (kv->gfns)
		munmap(kv->gfns, (size_t)k->ring_entries * sizeof(struct kvm_dirty_gfn));
	if (kv->run)
		munmap(kv->run, k->run_size);
	close(kv->fd);
	return r;
}

static void kvm_vcpu_destroy(struct hyp_vcpu *vcpu)
{
	struct kvm_vm_state *k = vm_state(hyp_vcpu_vm(vcpu));
	struct kvm_vcpu_state *kv = vcpu_state(vcpu);

	hyp__kvm_dirty_ring_unmap(vcpu);
	hyp__kvm_coalesced_release(vcpu);
	munmap(kv->run, k->run_size);
	close(kv->fd);
}

/*
 * The GIC's line count: what the caller asked for, else just enough for the SPIs claimed so far
 * (hyp_vm_claim_spi(), which the device models call), rounded up to the multiple of 32 the GIC
 * needs (GICD_TYPER.ITLinesNumber counts blocks of 32). Linux programs every line's registers at
 * boot: 64 lines instead of 256 spare a guest some 270 register writes, each an exit to KVM.
 */
static uint32_t vgic_nr_irqs(struct hyp_vm *vm, const struct kvm_vm_state *k)
{
	uint32_t spi = atomic_load_explicit(&vm->max_claimed_spi, memory_order_relaxed);
	uint32_t n = (spi + 1 + 31) & ~31u;

	if (k->nr_irqs)
		return k->nr_irqs;
	return n < KVM_MIN_NR_IRQS ? KVM_MIN_NR_IRQS : n;
}

/* KVM_DEV_ARM_VGIC_CTRL_INIT once, after every vCPU exists, before the first KVM_RUN. */
static int ensure_vgic_ready(struct hyp_vm *vm, struct kvm_vm_state *k)
{
	struct kvm_device_attr attr = { .group = KVM_DEV_ARM_VGIC_GRP_CTRL,
					.attr = KVM_DEV_ARM_VGIC_CTRL_INIT };
	int r = 0;

	if (k->vgic_fd < 0 || atomic_load_explicit(&k->vgic_ready, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&k->vgic_lock);
	if (!atomic_load(&k->vgic_ready)) {
		uint32_t nr_irqs = vgic_nr_irqs(vm, k);
		struct kvm_device_attr lines = { .group = KVM_DEV_ARM_VGIC_GRP_NR_IRQS,
						 .addr = (uint64_t)(uintptr_t)&nr_irqs };

		if (ioctl(k->vgic_fd, KVM_SET_DEVICE_ATTR, &lines) ||
		    ioctl(k->vgic_fd, KVM_SET_DEVICE_ATTR, &attr)) {
			r = sys_err();
		} else {
			k->nr_irqs = nr_irqs;
			atomic_store_explicit(&k->vgic_ready, true, memory_order_release);
		}
	}
	pthread_mutex_unlock(&k->vgic_lock);
	return r;
}

static int translate_exit(struct hyp_vm *vm, struct kvm_run *run, struct hyp_exit *exit)
{
	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		/* KVM decoded the instruction and will extend the loaded value into the right
		 * register itself: the syndrome details stay in the kernel. */
		exit->reason = HYP_EXIT_MMIO;
		exit->mmio = (struct hyp_mmio_access){
			.ipa = run->mmio.phys_addr,
			.len = (uint8_t)run->mmio.len,
			.is_write = run->mmio.is_write,
			.data = run->mmio.is_write ? hyp__le_load(run->mmio.data, run->mmio.len) :
						     0,
		};
		return 0;
	case KVM_EXIT_SYSTEM_EVENT:
		exit->reason = HYP_EXIT_SYSTEM_EVENT;
		exit->system_event.data = 0;
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			exit->system_event.type = HYP_SYSTEM_EVENT_OFF;
			return 0;
		case KVM_SYSTEM_EVENT_RESET:
			exit->system_event.type = HYP_SYSTEM_EVENT_RESET;
			return 0;
		default:
			exit->system_event.type = HYP_SYSTEM_EVENT_CRASH;
			exit->system_event.data = run->system_event.type;
			return 0;
		}
	case KVM_EXIT_ARM_NISV:
		exit->reason = HYP_EXIT_MEM_FAULT;
		/* KVM passes a sanitised ISS only; rebuild the ESR_EL2 it came from: a data abort
		 * from a lower EL (EC 0x24) of a 32-bit instruction (IL). */
		exit->raw.esr = ((uint64_t)HYP_EC_DABT_LOW << ESR_EC_SHIFT) | ESR_IL |
				HYP_ESR_ISS(run->arm_nisv.esr_iss);
		exit->raw.valid = HYP_SYNDROME_ESR;
		exit->fault = (struct hyp_mem_fault){
			.ipa = run->arm_nisv.fault_ipa,
			.kind = HYP_FAULT_NO_SYNDROME,
			.is_write = !!(run->arm_nisv.esr_iss & DABT_WNR),
			.fault_status = (uint8_t)(run->arm_nisv.esr_iss & ABT_FSC_MASK),
			.ipa_valid = 1,
		};
		return 0;
	case KVM_EXIT_INTR:
		exit->reason = HYP_EXIT_KICKED;
		return 0;
	case KVM_EXIT_FAIL_ENTRY:
		hyp_vm_log(vm, HYP_LOG_ERROR, "kvm: entry failed, reason %#llx",
			   (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return -EIO;
	case KVM_EXIT_INTERNAL_ERROR:
		hyp_vm_log(vm, HYP_LOG_ERROR, "kvm: internal error %u", run->internal.suberror);
		return -EIO;
	default:
		hyp_vm_log(vm, HYP_LOG_ERROR, "kvm: unexpected exit reason %u", run->exit_reason);
		return -EPROTO;
	}
}

/* PMUv3: overflow PPI, then INIT, after the vGIC exists and is initialised. */
static int init_pmu(struct kvm_vcpu_state *kv)
{
	int intid = HYP_KVM_PMU_INTID;
	struct kvm_device_attr attr = { .group = KVM_ARM_VCPU_PMU_V3_CTRL,
					.attr = KVM_ARM_VCPU_PMU_V3_IRQ,
					.addr = (uint64_t)(uintptr_t)&intid };

	if (ioctl(kv->fd, KVM_SET_DEVICE_ATTR, &attr))
		return sys_err();
	attr = (struct kvm_device_attr){ .group = KVM_ARM_VCPU_PMU_V3_CTRL,
					 .attr = KVM_ARM_VCPU_PMU_V3_INIT };
	if (ioctl(kv->fd, KVM_SET_DEVICE_ATTR, &attr))
		return sys_err();
	kv->pmu_pending = false;
	return 0;
}

static int kvm_vcpu_enter(struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	struct hyp_vm *vm = hyp_vcpu_vm(vcpu);
	struct kvm_vcpu_state *kv = vcpu_state(vcpu);
	bool nisv_retried = false;
	int r;

again:
	r = ensure_vgic_ready(vm, vm_state(vm));
	if (r)
		return r;
	if (!atomic_load_explicit(&vm_state(vm)->smccc_installed, memory_order_acquire)) {
		r = hyp__kvm_smccc_install(vm);
		if (r)
			return r;
	}
	if (kv->pmu_pending) {
		r = init_pmu(kv);
		if (r)
			return r;
	}
	thread_kvm_run = kv->run;
	atomic_store(&kv->tid, this_tid());
	/* Another vCPU may need every vCPU out of the guest for a moment (kvm-vgic.c). */
	if (!hyp__kvm_run_enter(vcpu)) {
		atomic_store(&kv->tid, 0);
		thread_kvm_run = NULL;
		exit->reason = HYP_EXIT_KICKED;
		return 0;
	}
	/* From here a kick either finds the flag (or the system event) below, or sets
	 * immediate_exit itself, or signals this thread (whose handler sets immediate_exit). Only
	 * ever set it here: clearing could erase a kick that just arrived. */
	if (hyp_backend_vcpu_kick_pending(vcpu))
		kv->run->immediate_exit = 1;
	r = ioctl(kv->fd, KVM_RUN, 0);
	kv->pc_bias = 0; /* KVM_RUN retired (or dropped) the pending MMIO access */
	atomic_store(&kv->tid, 0);
	hyp__kvm_run_exit(vcpu);
	/* A kick signal can still arrive after this (a kicker read the tid just before it was
	 * cleared): its handler must not write into this kvm_run, which the VM's destruction may
	 * unmap before the signal lands. A signal that arrives earlier sets immediate_exit on a
	 * live kvm_run, which only makes the next KVM_RUN return at once (a spurious kick). */
	thread_kvm_run = NULL;
	atomic_signal_fence(memory_order_seq_cst);
	/* Writes KVM collected for deferred ranges come before whatever this exit is. */
	hyp__kvm_coalesced_drain(vcpu);
	if (r < 0) {
		if (errno == EINTR || errno == EAGAIN) {
			kv->run->immediate_exit = 0;
			/* KVM retires a pending MMIO access first thing in KVM_RUN and only then
			 * returns for immediate_exit, without resetting exit_reason (Linux 6.1
			 * kvm_arch_vcpu_ioctl_run()). Nothing is pending any more: a PC the caller
			 * sets now must not be biased for a retirement (hyp__kvm_set_reg()). */
			if (kv->run->exit_reason == KVM_EXIT_MMIO)
				kv->run->exit_reason = KVM_EXIT_INTR;
			exit->reason = HYP_EXIT_KICKED;
			return 0;
		}
		if (errno == ENOSYS && !nisv_retried && kvm_nisv_enable(vm_state(vm))) {
			/* An access without a syndrome before the capability was on (another
			 * thread may have just enabled it): once more, now it is an exit. */
			nisv_retried = true;
			goto again;
		}
		if (errno == ENOSYS) {
			/* An access without a syndrome and no KVM_CAP_ARM_NISV_TO_USER. */
			hyp_vm_log(vm, HYP_LOG_ERROR,
				   "kvm: guest access KVM cannot decode (no ISV)");
		}
		return sys_err();
	}
	if (kv->run->exit_reason == KVM_EXIT_DIRTY_RING_FULL) {
		/* Spilled into the logs, the vCPU goes on (a kick is still seen above). */
		r = hyp__kvm_dirty_ring_full(vcpu);
		if (r)
			return r;
		goto again;
	}
	if (kv->run->exit_reason == KVM_EXIT_HYPERCALL)
		return hyp__kvm_smccc_exit(vcpu, kv->run, exit);
	return translate_exit(vm, kv->run, exit);
}

static int kvm_vcpu_complete(struct hyp_vcpu *vcpu, const struct hyp_exit *exit, bool advance_pc)
{
	struct kvm_vcpu_state *kv = vcpu_state(vcpu);

	/* A PC the VMM moved is already biased for KVM's retirement (hyp__kvm_set_reg()). */
	(void)advance_pc;
	if (exit->reason == HYP_EXIT_SMCCC)
		return hyp__kvm_smccc_complete(vcpu, exit);
	if (exit->reason != HYP_EXIT_MMIO || exit->mmio.is_write)
		return 0;
	for (unsigned i = 0; i < 8; i++)
		kv->run->mmio.data[i] = (uint8_t)(exit->mmio.data >> (8 * i));
	return 0;
}

int hyp__kvm_vcpu_kick(struct hyp_vcpu *vcpu)
{
	struct kvm_vm_state *k = vm_state(hyp_vcpu_vm(vcpu));
	struct kvm_vcpu_state *kv = vcpu_state(vcpu);
	pid_t tid;

	/* Async-signal-safe: a store and a raw tgkill, no locks. */
	kv->run->immediate_exit = 1;
	tid = atomic_load(&kv->tid);
	if (tid)
		syscall(SYS_tgkill, getpid(), tid, k->kick_signal);
	return 0;
}

static int kvm_vcpu_inject(struct hyp_vcpu *vcpu, enum hyp_inject_kind kind, uint64_t addr)
{
	struct kvm_vm_state *k = vm_state(hyp_vcpu_vm(vcpu));
	struct kvm_vcpu_events events = { 0 };

	(void)addr; /* KVM reports the faulting address of the last abort in FAR_EL1 */
	if (kind != HYP_INJECT_DATA_ABORT ||
	    !kvm_cap_lazy(k, &k->inject_dabt, KVM_CAP_ARM_INJECT_EXT_DABT))
		return -ENOTSUP;
	events.exception.ext_dabt_pending = 1;
	if (ioctl(vcpu_state(vcpu)->fd, KVM_SET_VCPU_EVENTS, &events))
		return sys_err();
	/* The abort replaces the access: KVM must not also retire the MMIO instruction at the next
	 * KVM_RUN (it would step the guest past its vector entry; upstream fixed this in the kernel
	 * only in 6.13). kvm_handle_mmio_return() runs only for exit_reason KVM_EXIT_MMIO. */
	if (vcpu_state(vcpu)->run->exit_reason == KVM_EXIT_MMIO) {
		struct kvm_vcpu_state *kv = vcpu_state(vcpu);
		uint64_t pc;

		kv->run->exit_reason = KVM_EXIT_UNKNOWN;
		/* No retirement now: a PC biased for one is put back. */
		if (kv->pc_bias &&
		    !hyp__kvm_get_one_reg(
			    kv, hyp__kvm_core_reg_id(offsetof(struct kvm_regs, regs.pc)), &pc))
			hyp__kvm_set_one_reg(
				kv, hyp__kvm_core_reg_id(offsetof(struct kvm_regs, regs.pc)),
				pc + kv->pc_bias);
		kv->pc_bias = 0;
	}
	return 0;
}

static int kvm_inject_irq(struct hyp_vm *vm, struct hyp_vcpu *vcpu, enum hyp_backend_irq kind,
			  uint32_t intid, bool level)
{
	struct kvm_vm_state *k = vm_state(vm);
	struct kvm_irq_level irq = { .level = level };
	uint32_t index;

	if (k->vgic_fd < 0)
		return -ENOTSUP;
	switch (kind) {
	case HYP_BACKEND_IRQ_SPI:
		/* The first injection initialises the GIC: with this line, if it is the first. */
		if (!atomic_load_explicit(&k->vgic_ready, memory_order_acquire))
			hyp_vm_claim_spi(vm, intid);
		if (ensure_vgic_ready(vm, k))
			return -EBUSY;
		if (intid >= k->nr_irqs)
			return -EINVAL;
		irq.irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | intid;
		break;
	case HYP_BACKEND_IRQ_PPI:
		/* The vCPU index is split: low 8 bits in VCPU, the next 4 in VCPU2. */
		index = hyp_vcpu_index(vcpu);
		irq.irq = (KVM_ARM_IRQ_TYPE_PPI << KVM_ARM_IRQ_TYPE_SHIFT) |
			  ((index & 0xff) << KVM_ARM_IRQ_VCPU_SHIFT) |
			  (((index >> 8) & 0xf) << KVM_ARM_IRQ_VCPU2_SHIFT) | intid;
		break;
	default:
		return -ENOTSUP; /* SGIs are the guest's to send through ICC_SGI1R_EL1 */
	}
	if (ensure_vgic_ready(vm, k))
		return -EBUSY;
	return ioctl(k->vm_fd, KVM_IRQ_LINE, &irq) ? sys_err() : 0;
}

/* hyp_vm_add_irqfd(): KVM_IRQFD. KVM takes it only once its GIC is initialised (-EAGAIN before:
 * kvm_arch_intc_initialized()); its default routing maps GSI n to SPI n + 32. */
static int kvm_irqfd(struct hyp_vm *vm, uint32_t intid, int fd, bool on)
{
	struct kvm_vm_state *k = vm_state(vm);
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)fd,
		.gsi = intid - HYP_INTID_SPI_BASE,
		.flags = on ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	if (k->vgic_fd < 0)
		return -ENOTSUP;
	if (on && !atomic_load_explicit(&k->vgic_ready, memory_order_acquire))
		hyp_vm_claim_spi(vm, intid);
	if (ensure_vgic_ready(vm, k))
		return -EBUSY;
	if (intid >= k->nr_irqs)
		return -EINVAL;
	return ioctl(k->vm_fd, KVM_IRQFD, &irqfd) ? sys_err() : 0;
}

/* hyp_vm_add_mmio_eventfd(): KVM_IOEVENTFD on the MMIO bus. */
static int kvm_mmio_eventfd(struct hyp_vm *vm, hyp_ipa_t ipa, uint32_t len, uint64_t value,
			    uint32_t flags, int fd, bool on)
{
	struct kvm_ioeventfd io = {
		.datamatch = value,
		.addr = ipa,
		.len = len,
		.fd = fd,
	};

	if (flags & HYP_MMIO_EVENTFD_MATCH_VALUE)
		io.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
	if (!on)
		io.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	return ioctl(vm_state(vm)->vm_fd, KVM_IOEVENTFD, &io) ? sys_err() : 0;
}

static int kvm_vcpu_power_state(struct hyp_vcpu *vcpu)
{
	struct kvm_mp_state mp;

	if (ioctl(vcpu_state(vcpu)->fd, KVM_GET_MP_STATE, &mp))
		return sys_err();
	return mp.mp_state != KVM_MP_STATE_STOPPED;
}

const struct hyp_backend_ops hyp__kvm_backend_ops = {
	.version = HYP_BACKEND_OPS_VERSION,
	.size = sizeof(struct hyp_backend_ops),
	.name = "kvm",
	.flags = HYP_BACKEND_OWN_PSCI,
	.vm_state_size = sizeof(struct kvm_vm_state),
	.vcpu_state_size = sizeof(struct kvm_vcpu_state),
	.probe = kvm_probe,
	.vm_init = kvm_vm_init,
	.vm_destroy = kvm_vm_destroy,
	.vm_query_cap = kvm_vm_query_cap,
	.mem_map = kvm_mem_map,
	.mem_unmap = kvm_mem_unmap,
	.vcpu_init = kvm_vcpu_init,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_get_reg = hyp__kvm_get_reg,
	.vcpu_set_reg = hyp__kvm_set_reg,
	.vcpu_get_sysreg = hyp__kvm_get_sysreg,
	.vcpu_set_sysreg = hyp__kvm_set_sysreg,
	.vcpu_get_fp_regs = hyp__kvm_get_fp_regs,
	.vcpu_set_fp_regs = hyp__kvm_set_fp_regs,
	.vcpu_enter = kvm_vcpu_enter,
	.vcpu_complete = kvm_vcpu_complete,
	.vcpu_kick = hyp__kvm_vcpu_kick,
	.vcpu_inject = kvm_vcpu_inject,
	.inject_irq = kvm_inject_irq,
	.vcpu_power_state = kvm_vcpu_power_state,
	.vcpu_device_access = hyp__kvm_vgic_access,
	.smccc_route = hyp__kvm_smccc_route,
	.dirty_log_enable = hyp__kvm_dirty_log_enable,
	.dirty_log_fetch = hyp__kvm_dirty_log_fetch,
	.ram_alloc = hyp__kvm_ram_alloc,
	.ram_free = hyp__kvm_ram_free,
	.dirty_ring_harvest = hyp__kvm_dirty_ring_harvest,
	.mmio_defer = hyp__kvm_mmio_defer,
	.mmio_eventfd = kvm_mmio_eventfd,
	.irqfd = kvm_irqfd,
};
