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
#include "backend/builtin.h"
#include "backend/el2/el2-internal.h"
#include "stage2/stage2.h"

_Static_assert(offsetof(struct hyp_el2_ctx, regs.pstate) ==
		       offsetof(struct hyp_el2_ctx, regs.pc) + 8,
	       "entry.S loads PC and PSTATE with one LDP");
_Static_assert(offsetof(struct hyp_el2_ctx, far) == offsetof(struct hyp_el2_ctx, esr) + 8,
	       "entry.S stores ESR and FAR with one STP");

#define read_sysreg(reg)                                                                           \
	({                                                                                         \
		uint64_t v_;                                                                       \
		__asm__ volatile("mrs %0, " #reg : "=r"(v_));                                      \
		v_;                                                                                \
	})
#define write_sysreg(v, reg) __asm__ volatile("msr " #reg ", %0" : : "r"((uint64_t)(v)))
#define isb() __asm__ volatile("isb" ::: "memory")
#define dsb(opt) __asm__ volatile("dsb " #opt ::: "memory")

/* HCR_EL2 (Arm ARM D19.2.46): stage 2 on, AArch64 EL1, physical interrupts to EL2, set/way
 * invalidation upgraded to clean+invalidate, broadcast TLB/IC maintenance and inner-shareable
 * barriers (vCPUs of one VM run on several CPUs), SMC and WFI (and WFE) trapped. */
#define HCR_VM (1ull << 0)
#define HCR_SWIO (1ull << 1)
#define HCR_FMO (1ull << 3)
#define HCR_IMO (1ull << 4)
#define HCR_AMO (1ull << 5)
#define HCR_FB (1ull << 9)
#define HCR_BSU_IS (1ull << 10)
#define HCR_TWI (1ull << 13)
#define HCR_TWE (1ull << 14)
#define HCR_TID3 (1ull << 18)
#define HCR_TSC (1ull << 19)
#define HCR_RW (1ull << 31)
#define HCR_E2H (1ull << 34)

/* CPTR_EL2 (non-VHE): RES1 bits, FP/SIMD not trapped (TFP = 0), SVE (TZ) and SME (TSM) trapped:
 * their state is not switched here. */
#define CPTR_EL2_VALUE 0x33ffull
/* CNTHCTL_EL2 (non-VHE): EL1 may read the physical counter (EL1PCTEN) but its physical timer
 * traps (EL1PCEN = 0): the CPU's physical timer is the firmware's. */
#define CNTHCTL_EL2_VALUE 0x1ull

/* MDCR_EL2: guest accesses to the debug registers (TDA, TDOSA, TDRA) and the PMU (TPM, TPMCR) trap:
 * that state is per physical CPU and not switched, so one VM could otherwise read or plant
 * another's breakpoints and counters. HPMN [4:0] is kept as the firmware set it. */
#define MDCR_EL2_TRAPS ((1ull << 11) | (1ull << 10) | (1ull << 9) | (1ull << 6) | (1ull << 5))

/* The EL1 (and EL0) system registers a guest owns, switched with the vCPU. */
#define EL1_SYSREGS(X)                                                                             \
	X(SCTLR_EL1, sctlr_el1)                                                                    \
	X(CPACR_EL1, cpacr_el1)                                                                    \
	X(TTBR0_EL1, ttbr0_el1)                                                                    \
	X(TTBR1_EL1, ttbr1_el1)                                                                    \
	X(TCR_EL1, tcr_el1)                                                                        \
	X(ESR_EL1, esr_el1)                                                                        \
	X(AFSR0_EL1, afsr0_el1)                                                                    \
	X(AFSR1_EL1, afsr1_el1)                                                                    \
	X(FAR_EL1, far_el1)                                                                        \
	X(MAIR_EL1, mair_el1)                                                                      \
	X(AMAIR_EL1, amair_el1)                                                                    \
	X(VBAR_EL1, vbar_el1)                                                                      \
	X(CONTEXTIDR_EL1, contextidr_el1)                                                          \
	X(TPIDR_EL0, tpidr_el0)                                                                    \
	X(TPIDRRO_EL0, tpidrro_el0)                                                                \
	X(TPIDR_EL1, tpidr_el1)                                                                    \
	X(PAR_EL1, par_el1)                                                                        \
	X(CNTKCTL_EL1, cntkctl_el1)                                                                \
	X(SP_EL1, sp_el1)                                                                          \
	X(ELR_EL1, elr_el1)                                                                        \
	X(SPSR_EL1, spsr_el1)                                                                      \
	X(CSSELR_EL1, csselr_el1)                                                                  \
	X(MDSCR_EL1, mdscr_el1)                                                                    \
	X(CNTV_CTL_EL0, cntv_ctl_el0)                                                              \
	X(CNTV_CVAL_EL0, cntv_cval_el0)

enum el1_sysreg_index {
#define X(name, asmname) EL1_##name,
	EL1_SYSREGS(X)
#undef X
		EL1_NR_SYSREGS
};

/* The per-physical-CPU words libhyp keeps in struct hyp_el2_cpu. */
enum { CPU_LOADED_VCPU = 0 };

struct el2_vm {
	struct hyp_el2_config cfg;
	struct hyp_el2_platform platform;
	struct hyp_s2 s2;
	uint64_t hcr, vtcr, vttbr, vpidr;
	uint32_t vmid;
};

struct el2_vcpu {
	struct hyp_el2_ctx ctx; /* first: entry.S's context pointer is the el2_vcpu's too */
	struct hyp_vcpu *vcpu;
	/* What the fast path did with the exit the ordinary path is now returning (HYP__FAST_*). */
	int fast_result;
	uint64_t el1[EL1_NR_SYSREGS];
	uint64_t vmpidr;
	/* The physical CPU whose hardware holds this vCPU's EL1 and FP/SIMD state, or NULL, and
	 * that CPU's MPIDR_EL1 (a cheap way to tell, on entry, whether it is this CPU). */
	struct hyp_el2_cpu *_Atomic loaded_on;
	uint64_t loaded_mpidr;
	uint8_t fp[HYP_EL2_FP_AREA_SIZE] __attribute__((aligned(16)));
};

/* A built-in backend reaches its state directly (internal.h) rather than through the exported
 * accessors: these run on every exit. */
static struct el2_vm *el2_vm(struct hyp_vm *vm)
{
	return vm->backend_state;
}

static struct el2_vcpu *el2_vcpu(struct hyp_vcpu *vcpu)
{
	return vcpu->backend_state;
}

static struct hyp_el2_cpu *this_cpu(const struct el2_vm *m)
{
	return m->platform.this_cpu(m->platform.opaque);
}

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
	if ((cfg.flags & ~(uint32_t)HYP_EL2_NATIVE_WFE) || cfg.reserved || !cfg.platform)
		return -EINVAL;
	r = hyp__copy_sized_config(&m->platform, sizeof(m->platform),
				   offsetof(struct hyp_el2_platform, opaque) + sizeof(void *),
				   cfg.platform, cfg.platform->size);
	if (r)
		return r;
	if (!m->platform.alloc_pages || !m->platform.free_pages || !m->platform.this_cpu)
		return -EINVAL;
	if (config->irqchip == HYP_IRQCHIP_BACKEND || config->irqchip == HYP_IRQCHIP_LIBRARY)
		return -ENOTSUP; /* no virtual GIC yet */
	m->cfg = cfg;

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
	if (r)
		return r;
	r = hyp_s2_vttbr(&m->s2, cfg.vmid, &m->vttbr);
	if (r || !cfg.vmid) {
		hyp_s2_destroy(&m->s2);
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
	/* A VMID may have served a VM before: no stale translations may survive. */
	s2_flush_vmid(m);
	return 0;
}

static void el2_vm_destroy(struct hyp_vm *vm)
{
	struct el2_vm *m = el2_vm(vm);

	s2_flush_vmid(m);
	hyp_s2_destroy(&m->s2);
}

static int el2_vm_query_cap(struct hyp_vm *vm, enum hyp_cap cap, uint64_t *value)
{
	(void)vm;
	switch (cap) {
	case HYP_CAP_SYSREG_TRAPS: /* the physical timer registers trap (CNTHCTL_EL2) */
	case HYP_CAP_SMCCC_HVC_EXITS:
	case HYP_CAP_SMCCC_SMC_EXITS:
	case HYP_CAP_READONLY_MEM:
	case HYP_CAP_WFX_EXITS:
	case HYP_CAP_NO_SYNDROME_EXITS:
		*value = 1;
		return 0;
	case HYP_CAP_IRQCHIP_BACKEND:
	case HYP_CAP_IRQ_INJECTION:
	case HYP_CAP_DIRTY_LOG:
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

/* ---- vCPU state switching ---- */

static void save_el1(uint64_t *el1)
{
#define X(name, asmname) el1[EL1_##name] = read_sysreg(asmname);
	EL1_SYSREGS(X)
#undef X
}

static void load_el1(const uint64_t *el1)
{
#define X(name, asmname) write_sysreg(el1[EL1_##name], asmname);
	EL1_SYSREGS(X)
#undef X
}

static void reset_state(struct hyp_vcpu *vcpu)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);

	memset(&v->ctx.regs, 0, sizeof(v->ctx.regs));
	v->ctx.regs.pstate = HYP_PSTATE_EL1H_DAIF;
	memset(v->el1, 0, sizeof(v->el1));
	v->el1[EL1_SCTLR_EL1] = SCTLR_EL1_RESET;
	memset(v->fp, 0, sizeof(v->fp));
}

/* Save the state of the vCPU loaded on @cpu (if any) and forget it. */
static void unload_cpu(struct hyp_el2_cpu *cpu)
{
	struct el2_vcpu *prev = (struct el2_vcpu *)(uintptr_t)cpu->opaque[CPU_LOADED_VCPU];

	if (!prev)
		return;
	save_el1(prev->el1);
	hyp__el2_save_fp(prev->fp);
	atomic_store(&prev->loaded_on, NULL);
	cpu->opaque[CPU_LOADED_VCPU] = 0;
}

/* Make @vcpu the one whose state the calling CPU's hardware holds. */
static int load_vcpu(struct hyp_vcpu *vcpu, struct hyp_el2_cpu *cpu)
{
	struct el2_vm *m = el2_vm(vcpu->vm);
	struct el2_vcpu *v = el2_vcpu(vcpu);
	struct hyp_el2_cpu *elsewhere = atomic_load(&v->loaded_on);

	if (elsewhere && elsewhere != cpu) {
		hyp_vm_log(hyp_vcpu_vm(vcpu), HYP_LOG_ERROR,
			   "el2: vCPU %u is pinned to another physical CPU", hyp_vcpu_index(vcpu));
		return -EBUSY;
	}
	/* FP/SIMD must be accessible at EL2 to switch it. */
	write_sysreg(CPTR_EL2_VALUE, cptr_el2);
	isb();
	unload_cpu(cpu);
	write_sysreg(m->hcr, hcr_el2);
	write_sysreg(m->vtcr, vtcr_el2);
	write_sysreg(m->vttbr, vttbr_el2);
	write_sysreg(m->vpidr, vpidr_el2);
	write_sysreg(v->vmpidr, vmpidr_el2);
	write_sysreg(CNTHCTL_EL2_VALUE, cnthctl_el2);
	write_sysreg((read_sysreg(mdcr_el2) & 0x1f) | MDCR_EL2_TRAPS, mdcr_el2);
	write_sysreg(0, cntvoff_el2);
	load_el1(v->el1);
	hyp__el2_load_fp(v->fp);
	isb();
	cpu->opaque[CPU_LOADED_VCPU] = (uint64_t)(uintptr_t)v;
	/* At EL2, MPIDR_EL1 reads the physical CPU's (VMPIDR_EL2 only affects EL1). */
	v->loaded_mpidr = read_sysreg(mpidr_el1);
	atomic_store(&v->loaded_on, cpu);
	return 0;
}

static int el2_vcpu_init(struct hyp_vcpu *vcpu)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);

	v->vcpu = vcpu;
	reset_state(vcpu);
	/* VMPIDR_EL2: RES1 bit 31, the affinity the VMM chose, U = 0 (multiprocessor). */
	v->vmpidr = (1ull << 31) | hyp_backend_vcpu_mpidr(vcpu);
	return hyp_backend_vcpu_set_gp_regs(vcpu, &v->ctx.regs);
}

static void el2_vcpu_destroy(struct hyp_vcpu *vcpu)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);
	struct hyp_el2_cpu *cpu = atomic_load(&v->loaded_on);

	/* The hardware may keep its stale state; the CPU just must not save it into freed
	 * memory later. */
	if (cpu && cpu->opaque[CPU_LOADED_VCPU] == (uint64_t)(uintptr_t)v)
		cpu->opaque[CPU_LOADED_VCPU] = 0;
}

static int el2_vcpu_reset(struct hyp_vcpu *vcpu)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);
	struct hyp_el2_cpu *cpu = atomic_load(&v->loaded_on);

	/* Discard the hardware copy (do not save it over the reset state): the next entry loads
	 * the reset values. */
	if (cpu && cpu->opaque[CPU_LOADED_VCPU] == (uint64_t)(uintptr_t)v)
		cpu->opaque[CPU_LOADED_VCPU] = 0;
	atomic_store(&v->loaded_on, NULL);
	reset_state(vcpu);
	return 0;
}

/* Which EL1 register an encoding names, or -1. */
static int el1_index(uint32_t encoding)
{
	switch (encoding) {
#define X(name, asmname)                                                                           \
	case HYP_SYSREG_##name:                                                                    \
		return EL1_##name;
		EL1_SYSREGS(X)
#undef X
	default:
		return -1;
	}
}

/* Where a loaded vCPU's register lives: the calling CPU's hardware (1), memory (0), or another
 * CPU's hardware (-EBUSY). */
static int state_location(struct hyp_vcpu *vcpu)
{
	struct el2_vm *m = el2_vm(vcpu->vm);
	struct hyp_el2_cpu *cpu = atomic_load(&el2_vcpu(vcpu)->loaded_on);

	if (!cpu)
		return 0;
	return cpu == this_cpu(m) ? 1 : -EBUSY;
}

static int el2_get_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t *value)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);
	int index = el1_index(encoding), where;

	switch (encoding) {
	case HYP_SYSREG_MPIDR_EL1:
		*value = v->vmpidr;
		return 0;
	case HYP_SYSREG_MIDR_EL1:
		*value = el2_vm(vcpu->vm)->vpidr;
		return 0;
	default:
		break;
	}
	if (index < 0)
		return -ENOENT;
	where = state_location(vcpu);
	if (where < 0)
		return where;
	if (where) {
		uint64_t el1[EL1_NR_SYSREGS];

		/* Reading every register to return one keeps the accessor table-driven; this
		 * is not a hot path. */
		save_el1(el1);
		*value = el1[index];
	} else {
		*value = v->el1[index];
	}
	return 0;
}

/* The FP save area has struct hyp_fp_regs' layout (entry.S: V0-V31, FPSR, FPCR). */
_Static_assert(sizeof(struct hyp_fp_regs) == HYP_EL2_FP_AREA_SIZE, "FP area layout");

static int el2_get_fp_regs(struct hyp_vcpu *vcpu, struct hyp_fp_regs *regs)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);
	int where = state_location(vcpu);

	if (where < 0)
		return where;
	if (where) {
		uint8_t area[HYP_EL2_FP_AREA_SIZE] __attribute__((aligned(16)));

		hyp__el2_save_fp(area);
		memcpy(regs, area, sizeof(area));
	} else {
		memcpy(regs, v->fp, sizeof(v->fp));
	}
	return 0;
}

static int el2_set_fp_regs(struct hyp_vcpu *vcpu, const struct hyp_fp_regs *regs)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);
	int where = state_location(vcpu);

	if (where < 0)
		return where;
	if (where) {
		uint8_t area[HYP_EL2_FP_AREA_SIZE] __attribute__((aligned(16)));

		memcpy(area, regs, sizeof(area));
		hyp__el2_load_fp(area);
	} else {
		memcpy(v->fp, regs, sizeof(v->fp));
	}
	return 0;
}

static int el2_set_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t value)
{
	struct el2_vcpu *v = el2_vcpu(vcpu);
	int index = el1_index(encoding), where;

	if (encoding == HYP_SYSREG_MPIDR_EL1 || encoding == HYP_SYSREG_MIDR_EL1)
		return -EPERM;
	if (index < 0)
		return -ENOENT;
	where = state_location(vcpu);
	if (where < 0)
		return where;
	if (where) {
		uint64_t el1[EL1_NR_SYSREGS];

		save_el1(el1);
		el1[index] = value;
		load_el1(el1);
		isb();
	} else {
		v->el1[index] = value;
	}
	return 0;
}

/* The core registers the library does not serve from the register file: the EL1 banked ones,
 * kept with the other EL1 system registers. */
static int banked_index(enum hyp_reg reg)
{
	switch (reg) {
	case HYP_REG_SP_EL1:
		return EL1_SP_EL1;
	case HYP_REG_ELR_EL1:
		return EL1_ELR_EL1;
	case HYP_REG_SPSR_EL1:
		return EL1_SPSR_EL1;
	default:
		return -1;
	}
}

/* One save (and for a write one load) of a loaded vCPU's EL1 state serves the whole list, where
 * the single-register accessors pay that per register. */
static int el2_get_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs, uint64_t *values,
			unsigned int count)
{
	uint64_t live[EL1_NR_SYSREGS];
	const uint64_t *el1 = el2_vcpu(vcpu)->el1;
	int where = state_location(vcpu);

	if (where < 0)
		return where;
	for (unsigned int i = 0; i < count; i++)
		if (banked_index(regs[i]) < 0)
			return -EINVAL;
	if (where) {
		save_el1(live);
		el1 = live;
	}
	for (unsigned int i = 0; i < count; i++)
		values[i] = el1[banked_index(regs[i])];
	return 0;
}

static int el2_set_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs, const uint64_t *values,
			unsigned int count)
{
	uint64_t live[EL1_NR_SYSREGS];
	uint64_t *el1 = el2_vcpu(vcpu)->el1;
	int where = state_location(vcpu);

	if (where < 0)
		return where;
	for (unsigned int i = 0; i < count; i++)
		if (banked_index(regs[i]) < 0)
			return -EINVAL;
	if (where) {
		save_el1(live);
		el1 = live;
	}
	for (unsigned int i = 0; i < count; i++)
		el1[banked_index(regs[i])] = values[i];
	if (where) {
		load_el1(live);
		isb();
	}
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
		return el2_answer_id_reg(v, HYP_ESR_ISS(esr));
	} else {
		return 0;
	}
	if (r == HYP__FAST_RESUME)
		return 1;
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
				     v->loaded_mpidr != read_sysreg(mpidr_el1),
			     0)) {
		r = load_vcpu(vcpu, this_cpu(m));
		if (r)
			return r;
	}
	/* With IRQs masked from the check to the ERET, a kick IPI cannot be swallowed by the
	 * firmware's own handler in between: it stays pending and exits the guest at once. The
	 * check is sequentially consistent, pairing with the kicker's flag store then loaded_on
	 * load (no store-buffering miss). */
	daif = read_sysreg(daif);
	__asm__ volatile("msr daifset, #0xf" ::: "memory");
	for (;;) {
		if (__builtin_expect(
			    atomic_load(&vcpu->kick) || atomic_load(&vcpu->vm->system_event), 0)) {
			exit->reason = HYP_EXIT_KICKED;
			r = 0;
			goto out;
		}
		hyp__el2_enter_guest(&v->ctx);
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
		case HYP_EL2_EXIT_SERROR:
			/* The core decodes it (an SError reports EC 0x2f: an exception exit). */
			/* A raw exit (the fast path may have decoded it, then declined). */
			exit->reason = HYP_EXIT_NONE;
			if (!fill_syndrome(v, exit))
				continue;
			r = 0;
			goto out;
		default:
			/* A physical interrupt: the firmware's. Then let the core look: a kick, a
			 * system event on another vCPU, or nothing (it re-enters at once). */
			if (m->platform.handle_irq)
				m->platform.handle_irq(m->platform.opaque);
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
	if (cpu && m->platform.kick_cpu)
		m->platform.kick_cpu(m->platform.opaque, cpu);
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
	.mem_unmap = el2_mem_unmap,
	.vcpu_init = el2_vcpu_init,
	.vcpu_destroy = el2_vcpu_destroy,
	.vcpu_reset = el2_vcpu_reset,
	.vcpu_get_sysreg = el2_get_sysreg,
	.vcpu_set_sysreg = el2_set_sysreg,
	.vcpu_get_fp_regs = el2_get_fp_regs,
	.vcpu_set_fp_regs = el2_set_fp_regs,
	.vcpu_enter = el2_vcpu_enter,
	.vcpu_kick = el2_vcpu_kick,
	.vcpu_wait = el2_vcpu_wait,
	.vcpu_wake = el2_vcpu_wake,
	.vcpu_get_regs = el2_get_regs,
	.vcpu_set_regs = el2_set_regs,
};
