/* SPDX-License-Identifier: MIT */
/*
 * The el2 backend: libhyp as the hypervisor itself, inside firmware running at EL2 (non-VHE).
 *
 * Per VM: stage-2 tables (lib/stage2) and the EL2 control values (HCR_EL2, VTCR_EL2, VTTBR_EL2,
 * CPTR_EL2, CNTHCTL_EL2). Per vCPU: the general-purpose registers in memory (registered with the
 * core, which decodes and completes traps on them), and the EL1 system registers and FP/SIMD
 * registers, which live in the hardware of the physical CPU the vCPU is loaded on and are saved
 * and restored only when another vCPU is loaded there (vCPUs are pinned; see libhyp/el2.h).
 *
 * The exit path: entry.S returns from the guest with the syndrome; a synchronous exception is
 * handed to the core as a raw exit (ESR/FAR/HPFAR), a physical interrupt goes to the firmware's
 * handler and the guest resumes unless it was a kick.
 */
#include <libhyp/el2.h>

#include "hyp_string.h"

#include "fast-exit.h"
#include "internal.h"
#include "builtin.h"
#include "backend/el2/el2-state.h"

_Static_assert(offsetof(struct hyp_el2_ctx, regs.pstate) ==
		       offsetof(struct hyp_el2_ctx, regs.pc) + 8,
	       "entry.S loads PC and PSTATE with one LDP");
_Static_assert(offsetof(struct hyp_el2_ctx, far) == offsetof(struct hyp_el2_ctx, esr) + 8,
	       "entry.S stores ESR and FAR with one STP");

static int el2_probe(void)
{
#if defined(__aarch64__)
	/* CurrentEL[3:2] is the exception level. */
	if (((read_sysreg(CurrentEL) >> 2) & 3) != 2)
		return -ENODEV;
	return 0;
#else
	return -ENODEV;
#endif
}

/* ---- stage 2 glue ---- */

static void *s2_alloc_page(void *opaque)
{
	struct el2_vm *m = opaque;
	void *p = m->platform.alloc_pages(m->platform.opaque, 1);

	if (p)
		memset(p, 0, HYP_PAGE_SIZE);
	return p;
}

static void s2_free_page(void *opaque, void *page)
{
	struct el2_vm *m = opaque;

	m->platform.free_pages(m->platform.opaque, page, 1);
}

static void *s2_alloc_pages(void *opaque, unsigned int count)
{
	struct el2_vm *m = opaque;
	void *p = m->platform.alloc_pages(m->platform.opaque, count);

	if (p)
		memset(p, 0, (size_t)count * HYP_PAGE_SIZE);
	return p;
}

static void s2_free_pages(void *opaque, void *pages, unsigned int count)
{
	struct el2_vm *m = opaque;

	m->platform.free_pages(m->platform.opaque, pages, count);
}

/* Guest RAM (hyp_vm_ram_alloc()): physically contiguous firmware pages, zeroed here; el2_mem_map()
 * cleans them to the point of coherency when they are given to the guest. */
static int el2_ram_alloc(struct hyp_vm *vm, uint64_t size, uint32_t flags, void **ret)
{
	struct el2_vm *m = hyp_backend_vm_state(vm);
	uint64_t pages = size / HYP_PAGE_SIZE;
	void *p;

	if (flags)
		return -ENOTSUP;
	if (pages > UINT32_MAX)
		return -ENOMEM;
	p = m->platform.alloc_pages(m->platform.opaque, (unsigned int)pages);
	if (!p)
		return -ENOMEM;
	memset(p, 0, (size_t)size);
	*ret = p;
	return 0;
}

static void el2_ram_free(struct hyp_vm *vm, void *host, uint64_t size, uint32_t flags)
{
	struct el2_vm *m = hyp_backend_vm_state(vm);

	(void)flags;
	m->platform.free_pages(m->platform.opaque, host, (unsigned int)(size / HYP_PAGE_SIZE));
}

static hyp_pa_t s2_virt_to_phys(void *opaque, void *va)
{
	struct el2_vm *m = opaque;

	return m->platform.virt_to_phys ? m->platform.virt_to_phys(m->platform.opaque, va) :
					  (hyp_pa_t)(uintptr_t)va;
}

static void *s2_phys_to_virt(void *opaque, hyp_pa_t pa)
{
	struct el2_vm *m = opaque;

	return m->platform.phys_to_virt ? m->platform.phys_to_virt(m->platform.opaque, pa) :
					  (void *)(uintptr_t)pa;
}

/*
 * TLB maintenance for this VM's VMID: TLBI by IPA and the stage-1 entries built on it act on the
 * VMID in VTTBR_EL2, so switch to the VM's VTTBR for the duration (Arm ARM D8.13, "TLB
 * maintenance instructions"; the Inner Shareable forms reach every CPU running the VM).
 */
static void s2_flush_ipa(void *opaque, hyp_ipa_t ipa, int level)
{
	struct el2_vm *m = opaque;
	uint64_t saved = read_sysreg(vttbr_el2);

	(void)level;
	write_sysreg(m->vttbr, vttbr_el2);
	isb();
	dsb(ishst);
	__asm__ volatile("tlbi ipas2e1is, %0" : : "r"(ipa >> 12) : "memory");
	dsb(ish);
	__asm__ volatile("tlbi vmalle1is" ::: "memory");
	dsb(ish);
	write_sysreg(saved, vttbr_el2);
	isb();
}

static void s2_flush_vmid(void *opaque)
{
	struct el2_vm *m = opaque;
	uint64_t saved = read_sysreg(vttbr_el2);

	write_sysreg(m->vttbr, vttbr_el2);
	isb();
	dsb(ishst);
	__asm__ volatile("tlbi vmalls12e1is" ::: "memory");
	dsb(ish);
	write_sysreg(saved, vttbr_el2);
	isb();
}

/* ---- VM ---- */

static int el2_vm_init(struct hyp_vm *vm, const struct hyp_vm_config *config)
{
	struct hyp_el2_config cfg = { .size = sizeof(cfg) };
	struct el2_vm *m = el2_vm(vm);
	struct hyp_s2_mm_ops ops;
	struct hyp_s2_config s2cfg;
	int r;

	if (el2_probe())
		return -ENODEV;
	if (read_sysreg(hcr_el2) & HCR_E2H)
		return -ENOTSUP; /* VHE: EL1 register names would reach EL2's registers */
	if (!config->backend_config)
		return -EINVAL;
	r = hyp__copy_sized_config(&cfg, sizeof(cfg),
				   offsetof(struct hyp_el2_config, vmid) + sizeof(cfg.vmid),
				   config->backend_config,
				   ((const struct hyp_el2_config *)config->backend_config)->size);
	if (r)
		return r;
	if ((cfg.flags & ~(uint32_t)(HYP_EL2_NATIVE_WFE | HYP_EL2_NATIVE_WFI)) || cfg.reserved ||
	    !cfg.platform)
		return -EINVAL;
	r = hyp__copy_sized_config(&m->platform, sizeof(m->platform),
				   offsetof(struct hyp_el2_platform, opaque) + sizeof(void *),
				   cfg.platform, cfg.platform->size);
	if (r)
		return r;
	if (!m->platform.alloc_pages || !m->platform.free_pages || !m->platform.this_cpu)
		return -EINVAL;
	if (m->platform.kick_sgi) {
		if ((m->platform.kick_sgi & ~(HYP_EL2_KICK_SGI(0) | 0xfu)) ||
		    !(m->platform.kick_sgi & HYP_EL2_KICK_SGI(0)) || !m->platform.handle_acked_irq)
			return -EINVAL;
		m->own_kick = true;
		m->kick_intid = m->platform.kick_sgi & 0xfu;
	}
	m->cfg = cfg;
	r = hyp__el2_irq_vm_init(vm, config);
	if (r)
		return r;

	s2cfg = (struct hyp_s2_config){
		.ipa_bits = config->ipa_bits,
		.mmfr0 = read_sysreg(id_aa64mmfr0_el1),
		.mmfr1 = read_sysreg(id_aa64mmfr1_el1),
	};
	ops = (struct hyp_s2_mm_ops){
		.alloc_page = s2_alloc_page,
		.free_page = s2_free_page,
		.alloc_pages = s2_alloc_pages,
		.free_pages = s2_free_pages,
		.virt_to_phys = s2_virt_to_phys,
		.phys_to_virt = s2_phys_to_virt,
		.tlb_flush_ipa = s2_flush_ipa,
		.tlb_flush_vmid = s2_flush_vmid,
		.opaque = m,
	};
	r = hyp_s2_init(&m->s2, &s2cfg, &ops);
	if (r) {
		hyp__el2_irq_vm_destroy(vm);
		return r;
	}
	r = hyp_s2_vttbr(&m->s2, cfg.vmid, &m->vttbr);
	if (r || !cfg.vmid) {
		hyp_s2_destroy(&m->s2);
		hyp__el2_irq_vm_destroy(vm);
		return -EINVAL;
	}
	m->vmid = cfg.vmid;
	m->vtcr = hyp_s2_vtcr(&m->s2);
	m->vpidr = read_sysreg(midr_el1);
	/* TID3: the guest's ID registers come from hyp_trap_id_reg_visible(), so it is not told of
	 * features this backend traps (SVE, SME, PMU, ...). */
	m->hcr = HCR_VM | HCR_SWIO | HCR_FMO | HCR_IMO | HCR_AMO | HCR_FB | HCR_BSU_IS | HCR_TWI |
		 HCR_TID3 | HCR_TSC | HCR_RW;
	if (!(cfg.flags & HYP_EL2_NATIVE_WFE))
		m->hcr |= HCR_TWE;
	/* Native WFI needs the GIC: the interrupts that end it reach the CPU through the list
	 * registers and physical PPIs this backend manages. */
	if ((cfg.flags & HYP_EL2_NATIVE_WFI) && m->vgic)
		m->hcr &= ~HCR_TWI;
	/* A VMID may have served a VM before: no stale translations may survive. */
	s2_flush_vmid(m);
	return 0;
}

static void el2_vm_destroy(struct hyp_vm *vm)
{
	struct el2_vm *m = el2_vm(vm);

	s2_flush_vmid(m);
	hyp_s2_destroy(&m->s2);
	hyp__el2_irq_vm_destroy(vm);
}

static int el2_vm_query_cap(struct hyp_vm *vm, enum hyp_cap cap, uint64_t *value)
{
	switch (cap) {
	case HYP_CAP_IRQ_INJECTION:
		*value = el2_vm(vm)->vgic != NULL;
		return 0;
	case HYP_CAP_SYSREG_TRAPS: /* the physical timer registers trap (CNTHCTL_EL2) */
	case HYP_CAP_SMCCC_HVC_EXITS:
	case HYP_CAP_SMCCC_SMC_EXITS:
	case HYP_CAP_READONLY_MEM:
	case HYP_CAP_WFX_EXITS:
	case HYP_CAP_NO_SYNDROME_EXITS:
		*value = 1;
		return 0;
	case HYP_CAP_DIRTY_LOG: /* stage-2 write protection, fault and mark: el2_dirty_*() */
		*value = 1;
		return 0;
	case HYP_CAP_DIRTY_RING: /* the library's rings, filled by el2_dirty_fault() */
		*value = HYP_DIRTY_RING_MAX_ENTRIES;
		return 0;
	case HYP_CAP_IRQCHIP_BACKEND:
		*value = 0;
		return 0;
	default:
		return -ENOTSUP;
	}
}

/*
 * Guests start with their MMU off, so their accesses are non-cacheable: whatever the firmware (or
 * a previous owner of the memory) wrote through the caches must reach the point of coherency
 * first, and no stale instructions may be fetched (Arm ARM D7.4.9, "Data and instruction
 * caches").
 */
static void clean_to_poc(const void *start, uint64_t size)
{
	uint64_t line = 4u << ((read_sysreg(ctr_el0) >> 16) & 0xf); /* CTR_EL0.DminLine */
	uintptr_t p = (uintptr_t)start & ~(uintptr_t)(line - 1);

	for (; p < (uintptr_t)start + size; p += line)
		__asm__ volatile("dc civac, %0" : : "r"(p) : "memory");
	dsb(ish);
	__asm__ volatile("ic ialluis" ::: "memory");
	dsb(ish);
	isb();
}

static int el2_mem_map(struct hyp_vm *vm, const struct hyp_mem_region *region)
{
	struct el2_vm *m = el2_vm(vm);
	uint32_t attrs = HYP_S2_R | HYP_S2_MEM_NORMAL;
	int r;

	if (region->flags & HYP_MEM_WRITE)
		attrs |= HYP_S2_W;
	if (region->flags & HYP_MEM_EXEC)
		attrs |= HYP_S2_X;
	r = hyp_s2_map(&m->s2, region->ipa, s2_virt_to_phys(m, region->host), region->size, attrs);
	if (!r)
		clean_to_poc(region->host, region->size);
	return r;
}

static int el2_mem_unmap(struct hyp_vm *vm, const struct hyp_mem_region *region)
{
	return hyp_s2_unmap(&el2_vm(vm)->s2, region->ipa, region->size);
}

/*
 * Dirty-page logging: a logged region is mapped without write permission (its 2 MiB and 1 GiB
 * blocks stay blocks); the first write to a page faults (a stage-2 permission fault), and
 * el2_dirty_fault() makes that 4 KiB page writable again, splitting a block through lib/stage2
 * (hyp_s2_set_attrs() splits a block that straddles the range), marks the page and lets the guest
 * retry the store. A fetch write-protects the pages it reported again (el2_dirty_log_clear()).
 */
static uint32_t region_s2_attrs(const struct hyp_mem_region *region, bool writable)
{
	uint32_t attrs = HYP_S2_R | HYP_S2_MEM_NORMAL;

	if (writable)
		attrs |= HYP_S2_W;
	if (region->flags & HYP_MEM_EXEC)
		attrs |= HYP_S2_X;
	return attrs;
}

static int s2_protect(struct el2_vm *m, const struct hyp_mem_region *region, hyp_ipa_t ipa,
		      uint64_t size, bool writable)
{
	int r;

	while (atomic_flag_test_and_set_explicit(&m->s2_lock, memory_order_acquire))
		__asm__ volatile("yield");
	r = hyp_s2_set_attrs(&m->s2, ipa, size, region_s2_attrs(region, writable));
	atomic_flag_clear_explicit(&m->s2_lock, memory_order_release);
	return r;
}

static int el2_dirty_log_enable(struct hyp_vm *vm, const struct hyp_mem_region *region, bool enable)
{
	return s2_protect(el2_vm(vm), region, region->ipa, region->size, !enable);
}

static int el2_dirty_log_clear(struct hyp_vm *vm, const struct hyp_mem_region *region,
			       const uint64_t *bitmap)
{
	uint64_t pages = region->size / HYP_PAGE_SIZE;

	/* One stage-2 change per run of consecutive pages. */
	for (uint64_t n = 0; n < pages;) {
		uint64_t end;
		int r;

		if (!(bitmap[n / 64] >> (n % 64) & 1)) {
			n++;
			continue;
		}
		for (end = n + 1; end < pages && (bitmap[end / 64] >> (end % 64) & 1); end++)
			;
		r = s2_protect(el2_vm(vm), region, region->ipa + n * HYP_PAGE_SIZE,
			       (end - n) * HYP_PAGE_SIZE, false);
		if (r)
			return r;
		n = end;
	}
	return 0;
}

/* A stage-2 permission fault on a write to RAM the VMM made writable: the dirty log's
 * write protection. True if handled (the guest retries the store). */
static bool el2_dirty_fault(struct el2_vcpu *v, const struct hyp_exit *exit)
{
	struct hyp_vm *vm = v->vcpu->vm;
	const struct hyp_mem_region *region;
	hyp_ipa_t ipa;

	if (HYP_ESR_EC(exit->raw.esr) != HYP_EC_DABT_LOW ||
	    (exit->raw.esr & FSC_TYPE_MASK) != FSC_PERM || !(exit->raw.esr & DABT_WNR) ||
	    (exit->raw.esr & DABT_S1PTW))
		return false;
	ipa = ((exit->raw.hpfar >> 4) << 12) | (exit->raw.far & (HYP_PAGE_SIZE - 1));
	region = hyp__mem_find(vm, ipa);
	if (!region || !(region->flags & HYP_MEM_WRITE))
		return false; /* read-only memory: the VMM's MMIO exit */
	ipa &= ~(hyp_ipa_t)(HYP_PAGE_SIZE - 1);
	/* Writable again first (also when logging was just turned off: a fault that raced the
	 * disable finds the page writable already, and the guest simply retries). */
	if (s2_protect(el2_vm(vm), region, ipa, HYP_PAGE_SIZE, true))
		return false;
	hyp__dirty_mark_vcpu(v->vcpu, ipa, HYP_PAGE_SIZE);
	return true;
}

static uint64_t read_id_reg(uint32_t encoding);
#define ID_AA64DFR0_EL1_ENC HYP_SYSREG(3, 0, 0, 5, 0)

static int el2_vcpu_init(struct hyp_vcpu *vcpu)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);

	v->vcpu = vcpu;
	hyp__el2_reset_state(vcpu);
	/* VMPIDR_EL2: RES1 bit 31, the affinity the VMM chose, U = 0 (multiprocessor). */
	v->vmpidr = (1ull << 31) | hyp_backend_vcpu_mpidr(vcpu);
	hyp_trap_debug_reset(&v->debug, hyp_trap_id_reg_visible(ID_AA64DFR0_EL1_ENC,
								read_id_reg(ID_AA64DFR0_EL1_ENC)));
	hyp__el2_irq_vcpu_init(vcpu);
	return hyp_backend_vcpu_set_gp_regs(vcpu, &v->ctx.regs);
}

static void el2_vcpu_destroy(struct hyp_vcpu *vcpu)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);
	struct hyp_el2_cpu *cpu = atomic_load(&v->loaded_on);

	/* The hardware may keep its stale state; the CPU just must not save it into freed
	 * memory later. */
	if (cpu && cpu->opaque[CPU_LOADED_VCPU] == (uint64_t)(uintptr_t)v) {
		cpu->opaque[CPU_LOADED_VCPU] = 0;
		/* On its own CPU, nothing of it may keep firing there (its virtual timer, a
		 * maintenance interrupt), and lib/vgic learns what its list registers held. */
		if (cpu == this_cpu(el2_vm(vcpu->vm))) {
			if (el2_vm(vcpu->vm)->vgic)
				hyp__el2_vgic_sync_hw(v);
			hyp__el2_irq_quiesce();
		}
	}
}

static int el2_vcpu_reset(struct hyp_vcpu *vcpu)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);
	struct hyp_el2_cpu *cpu = atomic_load(&v->loaded_on);

	/* Discard the hardware copy (do not save it over the reset state): the next entry loads
	 * the reset values. The interrupt state is taken back first (the GIC's view of what the
	 * list registers held, the timers' model). */
	if (cpu && cpu->opaque[CPU_LOADED_VCPU] == (uint64_t)(uintptr_t)v) {
		hyp__el2_irq_reset(v);
		cpu->opaque[CPU_LOADED_VCPU] = 0;
	} else {
		hyp__el2_irq_reset(v);
	}
	atomic_store(&v->loaded_on, NULL);
	hyp__el2_reset_state(vcpu);
	return 0;
}

/* ---- running ---- */

/*
 * The syndrome of a synchronous exit, as the architecture defines it. FAR_EL2 and HPFAR_EL2 are
 * only meaningful for aborts (otherwise they hold whatever the last abort left: possibly another
 * VM's). And HPFAR_EL2 is not written for a stage-2 Permission fault that is not on a stage-1
 * walk (Arm ARM D19.2.54): translate FAR through the guest's stage 1 (its EL1 registers are live
 * in this CPU) with AT S1E1R instead, as Linux does. Returns false if the guest's tables changed
 * under us (PAR_EL1.F): it re-executes the access and faults again.
 */
static bool fill_syndrome(struct el2_vcpu *v, struct hyp_exit *exit)
{
	uint64_t esr = v->ctx.esr;
	uint32_t ec = HYP_ESR_EC(esr);

	exit->raw.esr = esr;
	exit->raw.reserved = 0;
	if (ec != HYP_EC_DABT_LOW && ec != HYP_EC_IABT_LOW) {
		exit->raw.far = exit->raw.hpfar = 0;
		exit->raw.valid = HYP_SYNDROME_ESR;
		return true;
	}
	exit->raw.far = v->ctx.far;
	exit->raw.hpfar = v->ctx.hpfar;
	exit->raw.valid = HYP_SYNDROME_ESR | HYP_SYNDROME_FAR | HYP_SYNDROME_HPFAR;
	if ((esr & FSC_TYPE_MASK) == FSC_PERM && !(esr & DABT_S1PTW)) {
		uint64_t saved = read_sysreg(par_el1), par;

		__asm__ volatile("at s1e1r, %0" : : "r"(v->ctx.far));
		isb();
		par = read_sysreg(par_el1);
		write_sysreg(saved, par_el1);
		if (par & 1)
			return false;
		/* PAR_EL1.PA[47:12] is the IPA page; HPFAR_EL2.FIPA holds IPA[47:12] at [43:4]. */
		exit->raw.hpfar = ((par & 0x0000fffffffff000ull) >> 12) << 4;
	}
	return true;
}

/* The fast path for an HVC64 or SMC64. In line at each of its two call sites, so the decoder's
 * EC tests fold away in each copy. */
static HYP_ALWAYS_INLINE int el2_fast_smccc(struct el2_vcpu *v)
{
	struct hyp_exit *exit = &v->vcpu->exit;

	exit->raw.esr = v->ctx.esr;
	exit->raw.reserved = 0;
	exit->raw.far = exit->raw.hpfar = 0;
	exit->raw.valid = HYP_SYNDROME_ESR;
	return hyp__vcpu_fast_smccc(v->vcpu);
}

/* The hardware's value of ID register S3_0_C0_C<crm>_<op2>, CRm 1..7 (hyp_trap_is_id_reg()). */
static uint64_t read_id_reg(uint32_t encoding)
{
#define ID_REG(crm, op2)                                                                           \
	case HYP_SYSREG(3, 0, 0, crm, op2):                                                        \
		return read_sysreg(S3_0_C0_C##crm##_##op2);
#define ID_REGS_CRM(crm)                                                                           \
	ID_REG(crm, 0)                                                                             \
	ID_REG(crm, 1)                                                                             \
	ID_REG(crm, 2) ID_REG(crm, 3) ID_REG(crm, 4) ID_REG(crm, 5) ID_REG(crm, 6) ID_REG(crm, 7)
	switch (encoding) {
		ID_REGS_CRM(1)
		ID_REGS_CRM(2)
		ID_REGS_CRM(3)
		ID_REGS_CRM(4)
		ID_REGS_CRM(5)
		ID_REGS_CRM(6)
		ID_REGS_CRM(7)
	default:
		return 0;
	}
#undef ID_REGS_CRM
#undef ID_REG
}

/*
 * A trapped MRS of an ID register (HCR_EL2.TID3), answered here unless the VMM registered a
 * handler for it: Rt gets hyp_trap_id_reg_visible() of the hardware value, the PC steps over the
 * MRS. MSRs to ID registers are UNDEFINED without a trap, so only reads arrive. Returns true if
 * it answered.
 */
static bool el2_answer_id_reg(struct el2_vcpu *v, uint32_t iss)
{
	uint32_t encoding =
		HYP_SYSREG(SYS_OP0(iss), SYS_OP1(iss), SYS_CRN(iss), SYS_CRM(iss), SYS_OP2(iss));
	struct hyp_gp_regs *regs = &v->ctx.regs;

	if (!(iss & SYS_DIR_READ) || !hyp_trap_is_id_reg(encoding) || (regs->pstate & PSTATE_NRW) ||
	    hyp__sysreg_find(v->vcpu->vm, encoding))
		return false;
	gpr_write(regs, SYS_RT(iss), hyp_trap_id_reg_visible(encoding, read_id_reg(encoding)));
	hyp_trap_skip_a64_insn(regs, 4);
	return true;
}

/*
 * A trapped MSR/MRS of a debug register (MDCR_EL2.TDA, TDOSA, TDRA), answered here from the
 * vCPU's copy unless the VMM registered a handler for it (hyp_trap_debug_access(): an OS's CPU
 * setup writes MDSCR_EL1 and OSLAR_EL1 and clears its breakpoints; before this, Linux took an
 * UNDEF on its first MDSCR_EL1 write, with its vectors not yet set up). Returns true if it
 * answered.
 */
static bool el2_answer_debug_reg(struct el2_vcpu *v, uint32_t iss)
{
	uint32_t encoding =
		HYP_SYSREG(SYS_OP0(iss), SYS_OP1(iss), SYS_CRN(iss), SYS_CRM(iss), SYS_OP2(iss));
	struct hyp_gp_regs *regs = &v->ctx.regs;
	bool is_read = iss & SYS_DIR_READ;
	uint64_t value = is_read ? 0 : gpr_read(regs, SYS_RT(iss));

	if (SYS_OP0(iss) != 2 || (regs->pstate & PSTATE_NRW) ||
	    hyp__sysreg_find(v->vcpu->vm, encoding) ||
	    !hyp_trap_debug_access(&v->debug, encoding, !is_read, &value))
		return false;
	if (is_read)
		gpr_write(regs, SYS_RT(iss), value);
	hyp_trap_skip_a64_insn(regs, 4);
	return true;
}

int hyp__el2_fast_exit(struct hyp_el2_ctx *ctx)
{
	struct el2_vcpu *v = (struct el2_vcpu *)ctx;
	struct hyp_exit *exit = &v->vcpu->exit;
	uint64_t esr = ctx->esr;
	uint32_t ec = HYP_ESR_EC(esr);
	int r;

	/* Only exits that can be served without the EL1 state (no AT walk) qualify, with their
	 * syndrome as fill_syndrome() would report it. FAR_EL2 and HPFAR_EL2 still hold this
	 * exit's values (guest_sync_fast saved only ESR_EL2). */
	if (ec == HYP_EC_DABT_LOW) {
		if ((esr & FSC_TYPE_MASK) == FSC_PERM)
			return 0;
		ctx->far = read_sysreg(far_el2);
		ctx->hpfar = read_sysreg(hpfar_el2);
		exit->raw.esr = esr;
		exit->raw.reserved = 0;
		exit->raw.far = ctx->far;
		exit->raw.hpfar = ctx->hpfar;
		exit->raw.valid = HYP_SYNDROME_ESR | HYP_SYNDROME_FAR | HYP_SYNDROME_HPFAR;
		r = hyp__vcpu_fast_mmio(v->vcpu);
	} else if (ec == HYP_EC_HVC64) {
		r = el2_fast_smccc(v);
	} else if (ec == HYP_EC_SMC64) {
		r = el2_fast_smccc(v);
	} else if (ec == HYP_EC_SYS64) {
		/* SGI generation first: the trapped register on a hot path (every IPI). */
		if ((HYP_ESR_ISS(esr) & ICC_SGIR_ISS_MASK) == ICC_SGIR_ISS_MATCH &&
		    SYS_OP2(HYP_ESR_ISS(esr)) >= 5)
			return hyp__el2_irq_sgi(v, HYP_ESR_ISS(esr));
		return el2_answer_id_reg(v, HYP_ESR_ISS(esr)) ||
		       el2_answer_debug_reg(v, HYP_ESR_ISS(esr)) ||
		       hyp__el2_irq_sysreg(v, HYP_ESR_ISS(esr));
	} else {
		return 0;
	}
	if (r == HYP__FAST_RESUME) {
		/* A callback may have raised an interrupt for this very vCPU. */
		hyp__el2_irq_refresh(v);
		return 1;
	}
	v->fast_result = r;
	return 0;
}

static int el2_vcpu_enter(struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	struct el2_vm *m = el2_vm(vcpu->vm);
	struct el2_vcpu *v = el2_vcpu(vcpu);
	uint64_t daif;
	int r;

	/* Still loaded here (nothing else was loaded on this CPU since)? Then the hardware holds
	 * our state and the platform need not be asked which CPU this is. */
	if (__builtin_expect(!atomic_load_explicit(&v->loaded_on, memory_order_relaxed) ||
				     atomic_load_explicit(&v->loaded_mpidr, memory_order_relaxed) !=
					     read_sysreg(mpidr_el1),
			     0)) {
		r = hyp__el2_load_vcpu(vcpu, this_cpu(m));
		if (r)
			return r;
	}
	/* With IRQs masked from the check to the ERET, a kick IPI cannot be swallowed by the
	 * firmware's own handler in between: it stays pending and exits the guest at once. The
	 * check is sequentially consistent, pairing with the kicker's flag store then loaded_on
	 * load (no store-buffering miss). */
	daif = read_sysreg(daif);
	__asm__ volatile("msr daifset, #0xf" ::: "memory");
	hyp__el2_irq_forget_masks(v);
	for (;;) {
		if (__builtin_expect(
			    atomic_load(&vcpu->kick) || atomic_load(&vcpu->vm->system_event), 0)) {
			exit->reason = HYP_EXIT_KICKED;
			r = 0;
			goto out;
		}
		hyp__el2_irq_before_entry(v);
		hyp__el2_enter_guest(&v->ctx);
		hyp__el2_irq_after_exit(v);
		if (v->fast_result) {
			/* The fast path already dispatched this exit: not handled (the caller's), or
			 * handled with something for the run loop to look at. */
			r = v->fast_result;
			v->fast_result = 0;
			if (r == HYP__FAST_RETURN) {
				r = HYP__ENTER_DISPATCHED;
				goto out;
			}
			if (r == HYP__FAST_RECHECK) {
				exit->reason = HYP_EXIT_KICKED;
				r = 0;
				goto out;
			}
		}
		switch (v->ctx.exit_kind) {
		case HYP_EL2_EXIT_SYNC:
			/* With the GIC, WFI sleeps here until the vCPU has an interrupt to take
			 * (or a kick: the loop top sees it). */
			if (m->vgic && HYP_ESR_EC(v->ctx.esr) == HYP_EC_WFX &&
			    !(HYP_ESR_ISS(v->ctx.esr) & WFX_TI_WFE)) {
				hyp__el2_irq_wfi(v);
				continue;
			}
			/* fall through */
		case HYP_EL2_EXIT_SERROR:
			/* The core decodes it (an SError reports EC 0x2f: an exception exit). */
			/* A raw exit (the fast path may have decoded it, then declined). */
			exit->reason = HYP_EXIT_NONE;
			if (!fill_syndrome(v, exit) || el2_dirty_fault(v, exit))
				continue;
			r = 0;
			goto out;
		default:
			/* A physical interrupt: the firmware's. Then let the core look: a kick, a
			 * system event on another vCPU, or nothing (it re-enters at once). */
			if (m->platform.handle_irq)
				hyp__el2_irq_host(v);
			if (m->vgic)
				continue; /* the loop top sees a kick or a system event */
			exit->reason = HYP_EXIT_KICKED;
			r = 0;
			goto out;
		}
	}
out:
	write_sysreg(daif, daif);
	return r;
}

static int el2_vcpu_kick(struct hyp_vcpu *vcpu)
{
	struct el2_vm *m = el2_vm(vcpu->vm);
	struct hyp_el2_cpu *cpu = atomic_load(&el2_vcpu(vcpu)->loaded_on);

	/* Async-signal-safe in spirit: no locks, just an IPI request and an event. */
	if (cpu)
		hyp__el2_kick_cpu(m, el2_vcpu(vcpu), cpu);
	dsb(ish);
	__asm__ volatile("sev" ::: "memory");
	return 0;
}

static int el2_vcpu_wait(struct hyp_vcpu *vcpu)
{
	/* A powered-off vCPU's CPU sleeps until an event: hyp_vcpu_kick() and PSCI CPU_ON end
	 * with SEV (el2_vcpu_wake). */
	struct el2_vm *m = el2_vm(vcpu->vm);

	while (!hyp_backend_vcpu_should_wake(vcpu)) {
		/* The firmware may run with IRQs masked at EL2: serve a pending one (its
		 * watchdog, a kick) here, as the guest exit path would. ISR_EL1.I shows it. */
		if ((read_sysreg(isr_el1) & (1u << 7)) && m->platform.handle_irq)
			m->platform.handle_irq(m->platform.opaque);
		__asm__ volatile("wfe" ::: "memory");
	}
	return 0;
}

static void el2_vcpu_wake(struct hyp_vcpu *vcpu)
{
	(void)vcpu;
	dsb(ish);
	__asm__ volatile("sev" ::: "memory");
}

const struct hyp_backend_ops hyp__el2_backend_ops = {
	.version = HYP_BACKEND_OPS_VERSION,
	.size = sizeof(struct hyp_backend_ops),
	.name = "el2",
	.vm_state_size = sizeof(struct el2_vm),
	.vcpu_state_size = sizeof(struct el2_vcpu),
	.probe = el2_probe,
	.vm_init = el2_vm_init,
	.vm_destroy = el2_vm_destroy,
	.vm_query_cap = el2_vm_query_cap,
	.mem_map = el2_mem_map,
	.ram_alloc = el2_ram_alloc,
	.ram_free = el2_ram_free,
	.mem_unmap = el2_mem_unmap,
	.vcpu_init = el2_vcpu_init,
	.vcpu_destroy = el2_vcpu_destroy,
	.vcpu_reset = el2_vcpu_reset,
	.vcpu_get_sysreg = hyp__el2_get_sysreg,
	.vcpu_set_sysreg = hyp__el2_set_sysreg,
	.vcpu_get_fp_regs = hyp__el2_get_fp_regs,
	.vcpu_set_fp_regs = hyp__el2_set_fp_regs,
	.vcpu_enter = el2_vcpu_enter,
	.vcpu_kick = el2_vcpu_kick,
	.vcpu_wait = el2_vcpu_wait,
	.vcpu_wake = el2_vcpu_wake,
	.vcpu_get_regs = hyp__el2_get_regs,
	.vcpu_set_regs = hyp__el2_set_regs,
	.inject_irq = hyp__el2_inject_irq,
	.dirty_log_enable = el2_dirty_log_enable,
	.dirty_log_clear = el2_dirty_log_clear,
	.assign_irq = hyp__el2_assign_irq,
	.host_irq = hyp__el2_host_irq,
	.vcpu_log_state = hyp__el2_vcpu_log_state,
};
