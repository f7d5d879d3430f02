/* SPDX-License-Identifier: MIT */
/*
 * The mock backend: a scripted "guest" that produces the raw syndromes a real CPU would, so the
 * whole exit path (lib/trap decoding, dispatch, completion) runs exactly as on the el2 backend.
 * See include/libhyp/mock.h for the model.
 */
#include "hyp_string.h"

#include <libhyp/mock.h>

#include "hyp_bytes.h"
#include "internal.h"
#include "builtin.h"
#include "trap/trap.h"
#include "vgic/vgic.h"

#define MOCK_DEFAULT_MAX_STEPS 1024u
#define MOCK_NR_SPIS (HYP_INTID_MAX_SPI + 1 - HYP_INTID_SPI_BASE)

enum mock_step_kind {
	STEP_RAW,
	STEP_ACCESS, /* a load/store: traps only if the IPA is not writable RAM */
	STEP_SMCCC,
};

struct mock_step {
	uint8_t kind;
	uint8_t len;
	uint8_t reg;
	uint32_t flags;
	uint32_t function_id;
	hyp_ipa_t ipa;
	uint64_t esr, far, hpfar;
	uint64_t args[7];
};

struct mock_sysreg {
	uint32_t encoding;
	bool read_only;
	uint64_t reset;
};

/* The system registers a mock vCPU holds, with reset values. ID registers describe a plain
 * ARMv8.0 CPU; they are read-only to the VMM as on KVM for MPIDR. */
static const struct mock_sysreg mock_sysregs[] = {
	{ HYP_SYSREG_MIDR_EL1, true, 0x410fd034 },
	{ HYP_SYSREG_MPIDR_EL1, true, 0 /* per vCPU */ },
	{ HYP_SYSREG_REVIDR_EL1, true, 0 },
	{ HYP_SYSREG_ID_AA64PFR0_EL1, true, 0x11 }, /* EL0/EL1 AArch64 */
	{ HYP_SYSREG_ID_AA64MMFR0_EL1, true, 0x5 }, /* PARange 48 bits */
	{ HYP_SYSREG_CTR_EL0, true, 0x84448004 },
	{ HYP_SYSREG_SCTLR_EL1, false, 0x30d00800 }, /* RES1 bits, MMU off */
	{ HYP_SYSREG_ACTLR_EL1, false, 0 },
	{ HYP_SYSREG_CPACR_EL1, false, 0 },
	{ HYP_SYSREG_TTBR0_EL1, false, 0 },
	{ HYP_SYSREG_TTBR1_EL1, false, 0 },
	{ HYP_SYSREG_TCR_EL1, false, 0 },
	{ HYP_SYSREG_SPSR_EL1, false, 0 },
	{ HYP_SYSREG_ELR_EL1, false, 0 },
	{ HYP_SYSREG_SP_EL1, false, 0 },
	{ HYP_SYSREG_AFSR0_EL1, false, 0 },
	{ HYP_SYSREG_AFSR1_EL1, false, 0 },
	{ HYP_SYSREG_ESR_EL1, false, 0 },
	{ HYP_SYSREG_FAR_EL1, false, 0 },
	{ HYP_SYSREG_PAR_EL1, false, 0 },
	{ HYP_SYSREG_MAIR_EL1, false, 0 },
	{ HYP_SYSREG_AMAIR_EL1, false, 0 },
	{ HYP_SYSREG_VBAR_EL1, false, 0 },
	{ HYP_SYSREG_CONTEXTIDR_EL1, false, 0 },
	{ HYP_SYSREG_TPIDR_EL1, false, 0 },
	{ HYP_SYSREG_CNTKCTL_EL1, false, 0 },
	{ HYP_SYSREG_CSSELR_EL1, false, 0 },
	{ HYP_SYSREG_TPIDR_EL0, false, 0 },
	{ HYP_SYSREG_TPIDRRO_EL0, false, 0 },
	{ HYP_SYSREG_CNTFRQ_EL0, false, 62500000 },
	{ HYP_SYSREG_CNTP_CTL_EL0, false, 0 },
	{ HYP_SYSREG_CNTP_CVAL_EL0, false, 0 },
	{ HYP_SYSREG_CNTV_CTL_EL0, false, 0 },
	{ HYP_SYSREG_CNTV_CVAL_EL0, false, 0 },
	{ HYP_SYSREG_MDSCR_EL1, false, 0 },
};

#define MOCK_NR_SYSREGS HYP_ARRAY_SIZE(mock_sysregs)

struct mock_vm {
	uint32_t flags;
	uint32_t max_steps;
	/* HYP_IRQCHIP_LIBRARY: lib/vgic with its software CPU interface; NULL otherwise. */
	struct hyp_vgic *vgic;
	uint8_t spi_level[MOCK_NR_SPIS];
	uint32_t spi_count[MOCK_NR_SPIS];
};

struct mock_vcpu {
	struct hyp_gp_regs regs;
	uint64_t sysregs[MOCK_NR_SYSREGS];
	struct mock_step *steps; /* ring of max_steps */
	uint32_t head, count;
	uint8_t private_level[HYP_INTID_SPI_BASE];
	uint32_t private_count[HYP_INTID_SPI_BASE];
	bool injected;
	uint64_t injected_esr, injected_far;
	struct hyp_fp_regs fp;
};

static int mock_vcpu_enter(struct hyp_vcpu *vcpu, struct hyp_exit *exit);

static struct mock_vm *mock_vm(struct hyp_vm *vm)
{
	return hyp_backend_vm_state(vm);
}

static struct mock_vcpu *mock_vcpu(struct hyp_vcpu *vcpu)
{
	return hyp_backend_vcpu_state(vcpu);
}

static bool is_mock_vm(const struct hyp_vm *vm)
{
	return vm && vm->ops.vcpu_enter == mock_vcpu_enter;
}

static bool is_mock_vcpu(const struct hyp_vcpu *vcpu)
{
	return vcpu && is_mock_vm(vcpu->vm);
}

/* ---- HYP_IRQCHIP_LIBRARY: lib/vgic without list registers ---- */

/* The GIC CPU interface registers a guest reaches by MRS/MSR; with the software CPU interface
 * they all trap (as ICH_HCR_EL2.TALL0/TALL1/TC would make them) and lib/vgic answers. */
static const uint32_t mock_icc_regs[] = {
	HYP_VGIC_ICC_PMR_EL1,	    HYP_VGIC_ICC_IAR0_EL1,	HYP_VGIC_ICC_EOIR0_EL1,
	HYP_VGIC_ICC_HPPIR0_EL1,    HYP_VGIC_ICC_BPR0_EL1,	HYP_VGIC_ICC_AP0R0_EL1,
	HYP_VGIC_ICC_AP0R0_EL1 + 1, HYP_VGIC_ICC_AP0R0_EL1 + 2, HYP_VGIC_ICC_AP0R0_EL1 + 3,
	HYP_VGIC_ICC_AP1R0_EL1,	    HYP_VGIC_ICC_AP1R0_EL1 + 1, HYP_VGIC_ICC_AP1R0_EL1 + 2,
	HYP_VGIC_ICC_AP1R0_EL1 + 3, HYP_VGIC_ICC_DIR_EL1,	HYP_VGIC_ICC_RPR_EL1,
	HYP_VGIC_ICC_SGI1R_EL1,	    HYP_VGIC_ICC_ASGI1R_EL1,	HYP_VGIC_ICC_SGI0R_EL1,
	HYP_VGIC_ICC_IAR1_EL1,	    HYP_VGIC_ICC_EOIR1_EL1,	HYP_VGIC_ICC_HPPIR1_EL1,
	HYP_VGIC_ICC_BPR1_EL1,	    HYP_VGIC_ICC_CTLR_EL1,	HYP_VGIC_ICC_SRE_EL1,
	HYP_VGIC_ICC_IGRPEN0_EL1,   HYP_VGIC_ICC_IGRPEN1_EL1,
};

/* Nothing to kick: a mock vCPU runs only its script, and looks again (hyp_mock_gic_irq_line()) when
 * the test asks. */
static void mock_vgic_notify(void *opaque, uint32_t vcpu)
{
	(void)opaque;
	(void)vcpu;
}

static enum hyp_handler_result mock_gic_access(struct hyp_vcpu *vcpu, struct hyp_mmio_access *a,
					       bool redist)
{
	hyp_vgic_mmio(mock_vm(vcpu->vm)->vgic, vcpu->index, redist, a->offset, a->len, a->is_write,
		      &a->data);
	return HYP_HANDLED;
}

static enum hyp_handler_result mock_gicd(void *opaque, struct hyp_vcpu *vcpu,
					 struct hyp_mmio_access *access)
{
	(void)opaque;
	return mock_gic_access(vcpu, access, false);
}

static enum hyp_handler_result mock_gicr(void *opaque, struct hyp_vcpu *vcpu,
					 struct hyp_mmio_access *access)
{
	(void)opaque;
	return mock_gic_access(vcpu, access, true);
}

static enum hyp_handler_result mock_icc(void *opaque, struct hyp_vcpu *vcpu,
					struct hyp_sysreg_access *access)
{
	struct hyp_vgic *vgic = opaque;
	int r = access->is_write ?
			hyp_vgic_icc_write(vgic, vcpu->index, access->encoding, access->value) :
			hyp_vgic_icc_read(vgic, vcpu->index, access->encoding, &access->value);

	/* -ENOENT: a read of a write-only register or the reverse, UNDEFINED: the caller's. */
	return r ? HYP_NOT_HANDLED : HYP_HANDLED;
}

static int mock_vgic_init(struct hyp_vm *vm)
{
	struct mock_vm *m = mock_vm(vm);
	struct hyp_vgic_config cfg = {
		.nr_vcpus = vm->max_vcpus,
		.nr_spis = 224, /* the el2 backend's count, and KVM's default */
		.alloc = &vm->alloc,
		.ops = { .notify = mock_vgic_notify },
	};
	int r;

	r = hyp_vgic_create(&cfg, &m->vgic);
	if (r)
		return r;
	r = hyp_vm_add_mmio_handler(vm, vm->gicd_base, HYP_GICD_SIZE, mock_gicd, NULL);
	if (!r)
		r = hyp_vm_add_mmio_handler(vm, vm->gicr_base,
					    (uint64_t)HYP_GICR_SIZE_PER_VCPU * vm->max_vcpus,
					    mock_gicr, NULL);
	for (size_t i = 0; !r && i < HYP_ARRAY_SIZE(mock_icc_regs); i++)
		r = hyp_vm_add_sysreg_handler(vm, mock_icc_regs[i], mock_icc, m->vgic);
	if (r) {
		/* A failed init is freed without its handler tables. */
		hyp__vec_release(vm, &vm->mmio, sizeof(struct hyp_mmio_range));
		hyp__vec_release(vm, &vm->sysregs, sizeof(struct hyp_sysreg_handler));
		hyp_vgic_destroy(m->vgic);
		m->vgic = NULL;
	}
	return r;
}

static void mock_vm_destroy(struct hyp_vm *vm)
{
	hyp_vgic_destroy(mock_vm(vm)->vgic);
}

static int mock_vm_init(struct hyp_vm *vm, const struct hyp_vm_config *config)
{
	struct hyp_mock_config mcfg = { .size = sizeof(mcfg) };
	struct mock_vm *m = mock_vm(vm);
	int r;

	/* The mock has no GIC of its own: without HYP_IRQCHIP_LIBRARY it records interrupt lines;
	 * with it, lib/vgic runs them through its software CPU interface. */
	if (config->irqchip == HYP_IRQCHIP_BACKEND)
		return -ENOTSUP;
	if (config->backend_config) {
		const struct hyp_mock_config *user = config->backend_config;

		r = hyp__copy_sized_config(&mcfg, sizeof(mcfg),
					   offsetof(struct hyp_mock_config, max_script_steps) +
						   sizeof(mcfg.max_script_steps),
					   user, user->size);
		if (r)
			return r;
	}
	if (mcfg.flags &
	    ~(uint32_t)(HYP_MOCK_NO_SYSREG_TRAPS | HYP_MOCK_NO_READONLY_MEM | HYP_MOCK_NO_IRQCHIP))
		return -EINVAL;
	if (mcfg.max_script_steps > (1u << 20))
		return -EINVAL;
	m->flags = mcfg.flags;
	if (config->irqchip == HYP_IRQCHIP_NONE)
		m->flags |= HYP_MOCK_NO_IRQCHIP;
	m->max_steps = mcfg.max_script_steps ? mcfg.max_script_steps : MOCK_DEFAULT_MAX_STEPS;
	if (config->irqchip == HYP_IRQCHIP_LIBRARY) {
		/* Its CPU interface is reached through sysreg traps. */
		if (m->flags & (HYP_MOCK_NO_IRQCHIP | HYP_MOCK_NO_SYSREG_TRAPS))
			return -ENOTSUP;
		return mock_vgic_init(vm);
	}
	return 0;
}

static int mock_vm_query_cap(struct hyp_vm *vm, enum hyp_cap cap, uint64_t *value)
{
	uint32_t flags = mock_vm(vm)->flags;

	switch (cap) {
	case HYP_CAP_IRQ_INJECTION:
		*value = !(flags & HYP_MOCK_NO_IRQCHIP);
		return 0;
	case HYP_CAP_SYSREG_TRAPS:
		*value = !(flags & HYP_MOCK_NO_SYSREG_TRAPS);
		return 0;
	case HYP_CAP_READONLY_MEM:
		*value = !(flags & HYP_MOCK_NO_READONLY_MEM);
		return 0;
	case HYP_CAP_INJECT_EXCEPTIONS:
		*value = 1u << HYP_INJECT_UNDEF | 1u << HYP_INJECT_DATA_ABORT |
			 1u << HYP_INJECT_PREFETCH_ABORT;
		return 0;
	case HYP_CAP_CUSTOM_MPIDR:
	case HYP_CAP_SMCCC_HVC_EXITS:
	case HYP_CAP_SMCCC_SMC_EXITS:
	case HYP_CAP_WFX_EXITS:
	case HYP_CAP_NO_SYNDROME_EXITS:
	case HYP_CAP_DIRTY_LOG: /* scripted stores to RAM mark their pages */
		*value = 1;
		return 0;
	case HYP_CAP_DIRTY_RING: /* the library's rings, filled by the same marks */
		*value = HYP_DIRTY_RING_MAX_ENTRIES;
		return 0;
	default:
		return -ENOTSUP;
	}
}

static void mock_reset_state(struct hyp_vcpu *vcpu)
{
	struct mock_vcpu *mv = mock_vcpu(vcpu);

	memset(&mv->regs, 0, sizeof(mv->regs));
	memset(&mv->fp, 0, sizeof(mv->fp));
	mv->regs.pstate = HYP_PSTATE_EL1H_DAIF;
	for (size_t i = 0; i < MOCK_NR_SYSREGS; i++)
		mv->sysregs[i] = mock_sysregs[i].reset;
	/* MPIDR_EL1 bit 31 is RES1; the affinity is the vCPU's. */
	for (size_t i = 0; i < MOCK_NR_SYSREGS; i++)
		if (mock_sysregs[i].encoding == HYP_SYSREG_MPIDR_EL1)
			mv->sysregs[i] = (1ull << 31) | hyp_backend_vcpu_mpidr(vcpu);
}

static int mock_vcpu_init(struct hyp_vcpu *vcpu)
{
	struct mock_vcpu *mv = mock_vcpu(vcpu);
	struct hyp_vm *vm = hyp_vcpu_vm(vcpu);

	mv->steps = hyp_vm_alloc(vm, sizeof(*mv->steps) * mock_vm(vm)->max_steps, 16);
	if (!mv->steps)
		return -ENOMEM;
	/* The library GIC's redistributor, IROUTER and SGI targets answer to the vCPU's MPIDR (the
	 * core has made it unique among the VM's vCPUs). */
	if (mock_vm(vm)->vgic)
		hyp_vgic_set_mpidr(mock_vm(vm)->vgic, hyp_vcpu_index(vcpu),
				   hyp_backend_vcpu_mpidr(vcpu));
	mock_reset_state(vcpu);
	return hyp_backend_vcpu_set_gp_regs(vcpu, &mv->regs);
}

static void mock_vcpu_destroy(struct hyp_vcpu *vcpu)
{
	struct hyp_vm *vm = hyp_vcpu_vm(vcpu);

	hyp_vm_free(vm, mock_vcpu(vcpu)->steps, sizeof(struct mock_step) * mock_vm(vm)->max_steps);
}

static int mock_vcpu_reset(struct hyp_vcpu *vcpu)
{
	mock_reset_state(vcpu);
	return 0;
}

static int sysreg_slot(uint32_t encoding)
{
	for (size_t i = 0; i < MOCK_NR_SYSREGS; i++)
		if (mock_sysregs[i].encoding == encoding)
			return (int)i;
	return -ENOENT;
}

static int mock_get_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t *value)
{
	int slot = sysreg_slot(encoding);

	if (slot < 0)
		return slot;
	*value = mock_vcpu(vcpu)->sysregs[slot];
	return 0;
}

static int mock_get_fp_regs(struct hyp_vcpu *vcpu, struct hyp_fp_regs *regs)
{
	*regs = mock_vcpu(vcpu)->fp;
	return 0;
}

static int mock_set_fp_regs(struct hyp_vcpu *vcpu, const struct hyp_fp_regs *regs)
{
	mock_vcpu(vcpu)->fp = *regs;
	return 0;
}

static int mock_set_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t value)
{
	int slot = sysreg_slot(encoding);

	if (slot < 0)
		return slot;
	if (mock_sysregs[slot].read_only)
		return -EPERM;
	mock_vcpu(vcpu)->sysregs[slot] = value;
	return 0;
}

/* The core registers the library does not serve from the register file (SP_EL1, ELR_EL1,
 * SPSR_EL1) are EL1 system registers to the mock. */
static int banked_slot(enum hyp_reg reg)
{
	switch (reg) {
	case HYP_REG_SP_EL1:
		return sysreg_slot(HYP_SYSREG_SP_EL1);
	case HYP_REG_ELR_EL1:
		return sysreg_slot(HYP_SYSREG_ELR_EL1);
	case HYP_REG_SPSR_EL1:
		return sysreg_slot(HYP_SYSREG_SPSR_EL1);
	default:
		return -EINVAL;
	}
}

static int mock_get_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs, uint64_t *values,
			 unsigned int count)
{
	for (unsigned int i = 0; i < count; i++) {
		int slot = banked_slot(regs[i]);

		if (slot < 0)
			return slot;
		values[i] = mock_vcpu(vcpu)->sysregs[slot];
	}
	return 0;
}

/* Every register is resolved before any is written: a batch applies entirely or not at all. */
static int mock_set_regs(struct hyp_vcpu *vcpu, const enum hyp_reg *regs, const uint64_t *values,
			 unsigned int count)
{
	for (unsigned int i = 0; i < count; i++)
		if (banked_slot(regs[i]) < 0)
			return -EINVAL;
	for (unsigned int i = 0; i < count; i++)
		mock_vcpu(vcpu)->sysregs[banked_slot(regs[i])] = values[i];
	return 0;
}

static void set_raw(struct hyp_exit *exit, uint64_t esr, uint64_t far, uint64_t hpfar)
{
	exit->raw.esr = esr;
	exit->raw.far = far;
	exit->raw.hpfar = hpfar;
	exit->raw.valid = HYP_SYNDROME_ESR | HYP_SYNDROME_FAR | HYP_SYNDROME_HPFAR;
}

/* The syndrome a stage-2 data abort on this access reports. */
static uint64_t access_esr(const struct mock_step *step, uint32_t fsc)
{
	uint64_t iss = fsc;
	unsigned sas = step->len == 1 ? 0 : step->len == 2 ? 1 : step->len == 4 ? 2 : 3;

	if (step->flags & HYP_MOCK_MMIO_WRITE)
		iss |= DABT_WNR;
	if (!(step->flags & HYP_MOCK_MMIO_NO_SYNDROME)) {
		iss |= DABT_ISV | (uint64_t)sas << DABT_SAS_SHIFT |
		       (uint64_t)step->reg << DABT_SRT_SHIFT;
		if (step->flags & HYP_MOCK_MMIO_SIGN_EXTEND)
			iss |= DABT_SSE;
		if (step->flags & HYP_MOCK_MMIO_REG64)
			iss |= DABT_SF;
		if (step->flags & HYP_MOCK_MMIO_ACQ_REL)
			iss |= DABT_AR;
	}
	return ((uint64_t)HYP_EC_DABT_LOW << ESR_EC_SHIFT) | ESR_IL | iss;
}

/*
 * A load or store the script asked for. Returns true if it completed on guest RAM (no trap, as on
 * hardware), false if it traps, with the syndrome in @exit.
 */
static bool do_access(struct hyp_vcpu *vcpu, const struct mock_step *step, struct hyp_exit *exit)
{
	struct mock_vcpu *mv = mock_vcpu(vcpu);
	struct hyp_vm *vm = hyp_vcpu_vm(vcpu);
	bool is_write = step->flags & HYP_MOCK_MMIO_WRITE;
	bool mapped = true, writable = true;
	uint8_t *bytes[8];

	/* Byte by byte: an unaligned access may straddle two adjacent regions, which hardware
	 * handles without a trap as long as both are mapped. */
	for (unsigned i = 0; i < step->len; i++) {
		void *host;

		if (hyp_vm_guest_ptr(vm, step->ipa + i, 1, false, &host)) {
			mapped = false;
			break;
		}
		bytes[i] = host;
		if (hyp_vm_guest_ptr(vm, step->ipa + i, 1, true, &host))
			writable = false;
	}
	if (mapped) {
		if (!is_write) {
			uint8_t buf[8];

			for (unsigned i = 0; i < step->len; i++)
				buf[i] = *bytes[i];
			struct hyp_mmio_access a = {
				.data = hyp__le_load(buf, step->len),
				.len = step->len,
				.sign_extend = !!(step->flags & HYP_MOCK_MMIO_SIGN_EXTEND),
				.reg64 = !!(step->flags & HYP_MOCK_MMIO_REG64),
			};

			if (step->reg != 31)
				mv->regs.x[step->reg] = hyp_trap_mmio_read_value(&a);
			mv->regs.pc += 4;
			return true;
		}
		if (writable) {
			uint64_t v = step->reg == 31 ? 0 : mv->regs.x[step->reg];
			uint8_t buf[8];

			hyp__le_store(buf, v, step->len);
			for (unsigned i = 0; i < step->len; i++)
				*bytes[i] = buf[i];
			/* After the store, as the dirty log's ordering needs (lib/core/dirty.c). */
			hyp__dirty_mark_vcpu(vcpu, step->ipa, step->len);
			mv->regs.pc += 4;
			return true;
		}
		/* A store to read-only memory: stage-2 permission fault. */
		set_raw(exit, access_esr(step, (FSC_PERM | 3u)), step->ipa, (step->ipa >> 12) << 4);
		return false;
	}
	set_raw(exit, access_esr(step, (FSC_TRANS | 3u)), step->ipa, (step->ipa >> 12) << 4);
	return false;
}

static int mock_vcpu_enter(struct hyp_vcpu *vcpu, struct hyp_exit *exit)
{
	struct mock_vcpu *mv = mock_vcpu(vcpu);
	uint32_t max_steps = mock_vm(hyp_vcpu_vm(vcpu))->max_steps;

	for (;;) {
		struct mock_step *step;

		if (hyp_backend_vcpu_kick_pending(vcpu)) {
			exit->reason = HYP_EXIT_KICKED;
			return 0;
		}
		if (!mv->count)
			return -ENODATA;
		step = &mv->steps[mv->head];
		mv->head = (mv->head + 1) % max_steps;
		mv->count--;

		switch (step->kind) {
		case STEP_ACCESS:
			if (do_access(vcpu, step, exit))
				continue;
			return 0;
		case STEP_SMCCC:
			mv->regs.x[0] = step->function_id;
			memcpy(&mv->regs.x[1], step->args, sizeof(step->args));
			/* HVC reports the address after itself as its preferred return address;
			 * a trapped SMC reports its own (Arm ARM D1.10.1). */
			if (HYP_ESR_EC(step->esr) == HYP_EC_HVC64)
				mv->regs.pc += 4;
			set_raw(exit, step->esr, 0, 0);
			exit->raw.valid = HYP_SYNDROME_ESR;
			return 0;
		default:
			set_raw(exit, step->esr, step->far, step->hpfar);
			return 0;
		}
	}
}

static int mock_inject_irq(struct hyp_vm *vm, struct hyp_vcpu *vcpu, enum hyp_backend_irq kind,
			   uint32_t intid, bool level)
{
	struct mock_vm *m = mock_vm(vm);
	uint8_t *levels;
	uint32_t *counts;

	if (m->flags & HYP_MOCK_NO_IRQCHIP)
		return -ENOTSUP;
	if (kind == HYP_BACKEND_IRQ_SPI) {
		levels = &m->spi_level[intid - HYP_INTID_SPI_BASE];
		counts = &m->spi_count[intid - HYP_INTID_SPI_BASE];
	} else {
		levels = &mock_vcpu(vcpu)->private_level[intid];
		counts = &mock_vcpu(vcpu)->private_count[intid];
	}
	if (m->vgic) {
		uint32_t index = vcpu ? vcpu->index : 0;
		int r = kind == HYP_BACKEND_IRQ_SGI ?
				hyp_vgic_raise(m->vgic, index, intid) :
				hyp_vgic_set_level(m->vgic, index, intid, level);

		if (r)
			return r;
	}
	/* Atomics: lines may be driven from any thread (a device's I/O thread, a VMM thread),
	 * and read by the inspection helpers on another. */
	if (kind == HYP_BACKEND_IRQ_SGI) {
		/* An SGI is an event, not a line: count it and keep it raised. */
		__atomic_add_fetch(counts, 1, __ATOMIC_RELAXED);
		__atomic_store_n(levels, 1, __ATOMIC_RELEASE);
		return 0;
	}
	if (!__atomic_exchange_n(levels, (uint8_t)level, __ATOMIC_ACQ_REL) && level)
		__atomic_add_fetch(counts, 1, __ATOMIC_RELAXED);
	return 0;
}

static int mock_vcpu_inject(struct hyp_vcpu *vcpu, enum hyp_inject_kind kind, uint64_t addr);

/* Nothing to arm: the mock sees every store it performs (do_access()). */
static int mock_dirty_log_enable(struct hyp_vm *vm, const struct hyp_mem_region *region,
				 bool enable)
{
	(void)vm;
	(void)region;
	(void)enable;
	return 0;
}

const struct hyp_backend_ops hyp__mock_backend_ops = {
	.version = HYP_BACKEND_OPS_VERSION,
	.size = sizeof(struct hyp_backend_ops),
	.name = "mock",
	.vm_state_size = sizeof(struct mock_vm),
	.vcpu_state_size = sizeof(struct mock_vcpu),
	.vm_init = mock_vm_init,
	.vm_destroy = mock_vm_destroy,
	.vm_query_cap = mock_vm_query_cap,
	.vcpu_init = mock_vcpu_init,
	.vcpu_destroy = mock_vcpu_destroy,
	.vcpu_reset = mock_vcpu_reset,
	.vcpu_get_sysreg = mock_get_sysreg,
	.vcpu_set_sysreg = mock_set_sysreg,
	.vcpu_get_fp_regs = mock_get_fp_regs,
	.vcpu_set_fp_regs = mock_set_fp_regs,
	.vcpu_enter = mock_vcpu_enter,
	.vcpu_inject = mock_vcpu_inject,
	.inject_irq = mock_inject_irq,
	.vcpu_get_regs = mock_get_regs,
	.vcpu_set_regs = mock_set_regs,
	.dirty_log_enable = mock_dirty_log_enable,
};

/* Injection is computed by lib/trap on the register file by the core, exactly as for the el2
 * backend; the mock only remembers what the guest was shown. */
static int mock_vcpu_inject(struct hyp_vcpu *vcpu, enum hyp_inject_kind kind, uint64_t addr)
{
	struct mock_vcpu *mv = mock_vcpu(vcpu);
	int r = hyp__vcpu_inject_via_regs(vcpu, kind, addr);

	if (r)
		return r;
	mv->injected = true;
	mock_get_sysreg(vcpu, HYP_SYSREG_ESR_EL1, &mv->injected_esr);
	mock_get_sysreg(vcpu, HYP_SYSREG_FAR_EL1, &mv->injected_far);
	return 0;
}

/* ---- The scripting API (include/libhyp/mock.h) ---- */

static int push(struct hyp_vcpu *vcpu, const struct mock_step *step)
{
	struct mock_vcpu *mv;
	uint32_t max_steps;

	if (!is_mock_vcpu(vcpu))
		return -EINVAL;
	mv = mock_vcpu(vcpu);
	max_steps = mock_vm(vcpu->vm)->max_steps;
	if (mv->count == max_steps)
		return -ENOSPC;
	mv->steps[(mv->head + mv->count) % max_steps] = *step;
	mv->count++;
	return 0;
}

HYP_API int hyp_mock_push_mmio(struct hyp_vcpu *vcpu, hyp_ipa_t ipa, uint32_t len, uint32_t reg,
			       uint32_t flags)
{
	const uint32_t known = HYP_MOCK_MMIO_WRITE | HYP_MOCK_MMIO_SIGN_EXTEND |
			       HYP_MOCK_MMIO_REG64 | HYP_MOCK_MMIO_ACQ_REL |
			       HYP_MOCK_MMIO_NO_SYNDROME;
	struct mock_step step = { .kind = STEP_ACCESS, .ipa = ipa, .flags = flags };

	if ((len != 1 && len != 2 && len != 4 && len != 8) || reg > 31 || (flags & ~known))
		return -EINVAL;
	/* No real access reaches an IPA outside the VM's IPA space. */
	if (vcpu && is_mock_vcpu(vcpu) &&
	    ((ipa + len - 1) >> vcpu->vm->ipa_bits || ipa + len < ipa))
		return -EINVAL;
	/* Sign extension is a property of loads only (LDRS*), and an 8-byte access is always to an
	 * X register: reject scripts no real instruction could produce. */
	if ((flags & HYP_MOCK_MMIO_SIGN_EXTEND) && ((flags & HYP_MOCK_MMIO_WRITE) || len == 8))
		return -EINVAL;
	if (len == 8 && !(flags & HYP_MOCK_MMIO_REG64))
		return -EINVAL;
	step.len = (uint8_t)len;
	step.reg = (uint8_t)reg;
	return push(vcpu, &step);
}

HYP_API int hyp_mock_push_smccc(struct hyp_vcpu *vcpu, uint32_t conduit, uint16_t imm,
				uint32_t function_id, const uint64_t args[7])
{
	struct mock_step step = { .kind = STEP_SMCCC, .function_id = function_id };
	uint64_t ec;

	if (conduit == HYP_CONDUIT_HVC)
		ec = HYP_EC_HVC64;
	else if (conduit == HYP_CONDUIT_SMC)
		ec = HYP_EC_SMC64;
	else
		return -EINVAL;
	step.esr = (ec << ESR_EC_SHIFT) | ESR_IL | imm;
	if (args)
		memcpy(step.args, args, sizeof(step.args));
	return push(vcpu, &step);
}

HYP_API int hyp_mock_push_sysreg(struct hyp_vcpu *vcpu, uint32_t encoding, bool is_write,
				 uint32_t reg)
{
	struct mock_step step = { .kind = STEP_RAW };
	uint64_t iss;

	if (encoding > 0xffff || reg > 31)
		return -EINVAL;
	/* ESR_EL2.ISS for EC 0x18: Op0 [21:20], Op2 [19:17], Op1 [16:14], CRn [13:10], Rt [9:5],
	 * CRm [4:1], Direction [0] (1 = read). */
	iss = (uint64_t)HYP_SYSREG_OP0(encoding) << 20 | (uint64_t)HYP_SYSREG_OP2(encoding) << 17 |
	      (uint64_t)HYP_SYSREG_OP1(encoding) << 14 | (uint64_t)HYP_SYSREG_CRN(encoding) << 10 |
	      (uint64_t)reg << 5 | (uint64_t)HYP_SYSREG_CRM(encoding) << 1 | (is_write ? 0 : 1);
	step.esr = ((uint64_t)HYP_EC_SYS64 << ESR_EC_SHIFT) | ESR_IL | iss;
	return push(vcpu, &step);
}

HYP_API int hyp_mock_push_wfx(struct hyp_vcpu *vcpu, bool is_wfe)
{
	struct mock_step step = { .kind = STEP_RAW };

	step.esr = ((uint64_t)HYP_EC_WFX << ESR_EC_SHIFT) | ESR_IL | WFX_CV_AL | (is_wfe ? 1 : 0);
	return push(vcpu, &step);
}

HYP_API int hyp_mock_push_exec_fault(struct hyp_vcpu *vcpu, hyp_ipa_t ipa)
{
	if (vcpu && is_mock_vcpu(vcpu) && ipa >> vcpu->vm->ipa_bits)
		return -EINVAL;
	struct mock_step step = { .kind = STEP_RAW, .far = ipa, .hpfar = (ipa >> 12) << 4 };

	step.esr = ((uint64_t)HYP_EC_IABT_LOW << ESR_EC_SHIFT) | ESR_IL | (FSC_TRANS | 3u);
	return push(vcpu, &step);
}

HYP_API int hyp_mock_push_raw(struct hyp_vcpu *vcpu, uint64_t esr, uint64_t far, uint64_t hpfar)
{
	struct mock_step step = { .kind = STEP_RAW, .esr = esr, .far = far, .hpfar = hpfar };

	return push(vcpu, &step);
}

HYP_API int hyp_mock_script_length(const struct hyp_vcpu *vcpu)
{
	if (!is_mock_vcpu(vcpu))
		return -EINVAL;
	return (int)mock_vcpu((struct hyp_vcpu *)vcpu)->count;
}

static int irq_slot(const struct hyp_vm *vm, const struct hyp_vcpu *vcpu, uint32_t intid,
		    uint8_t **level, uint32_t **count)
{
	if (!is_mock_vm(vm) || intid > HYP_INTID_MAX_SPI)
		return -EINVAL;
	if (intid >= HYP_INTID_SPI_BASE) {
		struct mock_vm *m = mock_vm((struct hyp_vm *)vm);

		*level = &m->spi_level[intid - HYP_INTID_SPI_BASE];
		*count = &m->spi_count[intid - HYP_INTID_SPI_BASE];
		return 0;
	}
	if (!vcpu || vcpu->vm != vm)
		return -EINVAL;
	*level = &mock_vcpu((struct hyp_vcpu *)vcpu)->private_level[intid];
	*count = &mock_vcpu((struct hyp_vcpu *)vcpu)->private_count[intid];
	return 0;
}

HYP_API int hyp_mock_irq_level(const struct hyp_vm *vm, const struct hyp_vcpu *vcpu, uint32_t intid)
{
	uint32_t *count;
	uint8_t *level;
	int r = irq_slot(vm, vcpu, intid, &level, &count);

	return r ? r : __atomic_load_n(level, __ATOMIC_ACQUIRE);
}

HYP_API int hyp_mock_irq_count(const struct hyp_vm *vm, const struct hyp_vcpu *vcpu, uint32_t intid)
{
	uint32_t *count;
	uint8_t *level;
	int r = irq_slot(vm, vcpu, intid, &level, &count);

	return r ? r : (int)__atomic_load_n(count, __ATOMIC_ACQUIRE);
}

HYP_API int hyp_mock_gic_irq_state(const struct hyp_vm *vm, const struct hyp_vcpu *vcpu,
				   uint32_t intid)
{
	struct hyp_vgic_irq_info info;
	struct mock_vm *m;
	uint32_t index = 0;
	int r;

	if (!is_mock_vm(vm))
		return -EINVAL;
	m = mock_vm((struct hyp_vm *)vm);
	if (!m->vgic)
		return -ENOTSUP;
	if (intid < HYP_INTID_SPI_BASE) {
		if (!vcpu || vcpu->vm != vm)
			return -EINVAL;
		index = vcpu->index;
	}
	r = hyp_vgic_irq_info(m->vgic, index, intid, &info);
	if (r)
		return r;
	return (info.pending ? HYP_MOCK_GIC_PENDING : 0) | (info.active ? HYP_MOCK_GIC_ACTIVE : 0) |
	       (info.enabled ? HYP_MOCK_GIC_ENABLED : 0);
}

HYP_API int hyp_mock_gic_irq_line(const struct hyp_vcpu *vcpu)
{
	struct mock_vm *m;

	if (!is_mock_vcpu(vcpu))
		return -EINVAL;
	m = mock_vm(vcpu->vm);
	if (!m->vgic)
		return -ENOTSUP;
	return hyp_vgic_irq_line(m->vgic, vcpu->index);
}

HYP_API int hyp_mock_last_injection(struct hyp_vcpu *vcpu, uint64_t *esr, uint64_t *far)
{
	struct mock_vcpu *mv;

	if (!is_mock_vcpu(vcpu) || !esr || !far)
		return -EINVAL;
	mv = mock_vcpu(vcpu);
	if (!mv->injected)
		return 0;
	*esr = mv->injected_esr;
	*far = mv->injected_far;
	return 1;
}
