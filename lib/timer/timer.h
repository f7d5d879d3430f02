/* SPDX-License-Identifier: MIT */
/*
 * lib/timer: the EL1 generic timers of a vCPU, for backends without KVM (el2, mock).
 *
 * References are to the Arm ARM (DDI 0487), chapter D11 "The Generic Timer in AArch64 state"
 * (the counters, the virtual offset, the CompareValue and TimerValue views of a timer, the timer
 * condition and its interrupt) and the register descriptions of CNTV_CTL_EL0, CNTV_CVAL_EL0,
 * CNTV_TVAL_EL0, their CNTP_* counterparts, CNTVOFF_EL2 and CNTHCTL_EL2.
 *
 * Pure logic, as every subsystem: it never executes a system instruction. It learns the time from
 * a clock callback (the physical count, CNTPCT_EL0) and drives interrupt lines through a set_ppi
 * callback that the backend wires to its interrupt controller (lib/vgic). The unit tests run it on
 * x86 with a fake clock; the EL2 backend runs it unchanged.
 *
 * THE MODEL
 * Per VM (struct hyp_timer_vm): CNTVOFF, so that CNTVCT = CNTPCT - CNTVOFF (modulo 2^64), the
 * counter frequency, and the INTIDs of the two timer PPIs (virtual 27, EL1 physical 30 by default).
 * Per vCPU (struct hyp_timer_vcpu), two timers, each with CTL (ENABLE, IMASK; ISTATUS derived) and
 * CVAL:
 * - the EL1 virtual timer (CNTV_*), compared against CNTVCT. At EL2 the hardware runs it while
 *   the vCPU is loaded; the model holds it while the vCPU is scheduled out (and always on the
 *   mock, which has no hardware);
 * - the EL1 physical timer (CNTP_*), compared against CNTPCT. The CPU's own physical timer belongs
 *   to the firmware, so EL1 accesses trap (CNTHCTL_EL2.EL1PCEN = 0) and this model answers them
 *   (hyp_timer_sysreg_read/write) with a software deadline.
 * A timer's condition is met when its counter >= CVAL, as unsigned 64-bit values. ISTATUS reads 1
 * when ENABLE is 1 and the condition is met; the timer's interrupt output is ENABLE && !IMASK &&
 * condition. Every change of an output is reported once through set_ppi(opaque, vcpu index,
 * INTID, level); re-evaluating an unchanged state reports nothing.
 *
 * WHAT THE BACKEND DOES
 * 1. Once per VM: hyp_timer_vm_init() with the clock, set_ppi, CNTFRQ_EL0 and optional INTIDs and
 *    CNTVOFF; once per vCPU: hyp_timer_vcpu_init(). Both structs live in the backend's own
 *    VM/vCPU state; nothing here allocates.
 * 2. Traps: CNTHCTL_EL2 with EL1PCEN = 0 (EL1PTEN = 0 under E2H), so CNTP_CTL/CVAL/TVAL_EL0 trap.
 *    Every trapped MRS/MSR goes to hyp_timer_handle_sysreg() first: 0 = done (complete the
 *    instruction, an MRS returning access->value), -ENOENT = not a timer register (dispatch it
 *    as usual), -EPERM = an access the architecture makes UNDEFINED (inject UNDEF). CNTPCT_EL0
 *    may stay untrapped (EL1PCTEN = 1): the physical timer has no offset, so the guest's view of
 *    CNTPCT is the hardware's.
 * 3. Entering a vCPU (EL2 only): hyp_timer_vcpu_load() gives CNTVOFF_EL2, CNTV_CVAL_EL0 and
 *    CNTV_CTL_EL0 to write, in that order (CTL last, so the timer is enabled only once its offset
 *    and compare value are the vCPU's; should the CPU still compare stale values for a moment,
 *    the spurious physical interrupt costs one exit and hyp_timer_vcpu_sync() finds the level
 *    low). If it says hw->mask_irq, the virtual timer's level is already high and delivered as a
 *    virtual interrupt: keep the *physical* virtual-timer PPI masked at the physical GIC (or
 *    taken and not deactivated), or the level-sensitive physical interrupt would fire at EL2 on
 *    every entry and storm the CPU. Otherwise unmask it.
 * 4. While loaded, the guest programs the hardware timer directly. When the physical virtual-timer
 *    PPI fires at EL2, and on every exit while the level is high (at the latest at the EOI
 *    maintenance interrupt lib/vgic asks for a level interrupt, or at the deactivation when the
 *    list register has the HW bit), read CNTV_CTL_EL0 and CNTV_CVAL_EL0 and call
 *    hyp_timer_vcpu_sync(): it reports the level through set_ppi and returns whether the physical
 *    PPI must stay masked. The guest "acknowledges" the timer architecturally by changing it
 *    (IMASK, ENABLE, a later CVAL/TVAL): the level then drops and sync says unmask.
 * 5. Scheduling the vCPU out (or before sleeping on its WFI): read CNTV_CTL_EL0 and
 *    CNTV_CVAL_EL0, call hyp_timer_vcpu_put(), then write 0 to CNTV_CTL_EL0 so the hardware timer
 *    is quiet for whatever runs next, and unmask the physical PPI. From then on the model holds
 *    the virtual timer: its level keeps reaching the interrupt controller through set_ppi, so a
 *    vCPU that is not running still gets its timer interrupt pended.
 * 6. Time passing: call hyp_timer_update(now) whenever a deadline may have passed (an EL2 timer
 *    armed by the backend fired, a thread woke up, any exit). hyp_timer_next_deadline() is the
 *    physical count at which the next output goes high (the software physical timer always; the
 *    virtual timer only while not loaded, since the hardware fires it otherwise): arm the EL2
 *    timer (CNTHP_CVAL_EL2) or a host timer for it before entering the guest or going idle.
 * 7. WFI (trapped with HCR_EL2.TWI): hyp_timer_wfi_sleep_until() brings every level up to date and
 *    gives the count until which the physical CPU may sleep, unless lib/vgic has (or gets) an
 *    interrupt pending for the vCPU. A timer whose output is already high is not a wake-up by
 *    itself: whether its interrupt wakes the vCPU is the interrupt controller's decision (it may
 *    be disabled or of too low priority), so a guest leaving the timer firing with its PPI
 *    disabled sleeps instead of spinning. A vCPU that stays loaded while its physical CPU sleeps
 *    (one vCPU per CPU) is woken for its virtual timer by the hardware (the physical PPI, unmasked
 *    while the level is low), so only the physical timer's deadline is reported then; put the
 *    vCPU first to have the model cover both.
 * 8. PSCI CPU_ON / system reset of a vCPU: hyp_timer_vcpu_reset() (while not loaded).
 *
 * On the mock backend, which has no hardware timer, the vCPU is never loaded: the virtual timer's
 * registers reach hyp_timer_handle_sysreg() as trapped accesses too, and CNTVCT_EL0/CNTPCT_EL0
 * reads are answered from the clock.
 *
 * Concurrency: no locks. The caller serialises the calls for one vCPU (set_ppi is called from
 * inside them, on the caller's thread). Calls for different vCPUs of one VM may run concurrently;
 * CNTVOFF is read and written atomically, but a change only reaches a vCPU at its next call (and
 * a loaded vCPU at its next load).
 *
 * Not modelled: the EL2 timers (the backend's own), the secure timer, CNTPOFF_EL2 (FEAT_ECV: the
 * physical timer here compares against CNTPCT unoffset), AArch32 (CP15) accessors, the event
 * stream (CNTKCTL_EL1 is an ordinary EL1 register the backend switches).
 */
#ifndef HYP_TIMER_TIMER_H
#define HYP_TIMER_TIMER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libhyp/exit.h>

/** The two EL1 timers of a vCPU. */
enum hyp_timer_id {
	HYP_TIMER_VIRT = 0, /* CNTV_*, compared against CNTVCT */
	HYP_TIMER_PHYS = 1, /* CNTP_*, compared against CNTPCT */
	HYP_TIMER_COUNT
};

/** hyp_timer_clock_fn - the current physical count (CNTPCT_EL0); must not go backwards. */
typedef uint64_t (*hyp_timer_clock_fn)(void *opaque);

/**
 * hyp_timer_set_ppi_fn - drive a timer's interrupt line (level-sensitive).
 * @vcpu_index: the vCPU given to hyp_timer_vcpu_init().
 * @intid: the PPI (HYP_TIMER_VIRT or HYP_TIMER_PHYS's INTID from the VM configuration).
 * @level: the new level; always different from the last one reported for this line.
 */
typedef void (*hyp_timer_set_ppi_fn)(void *opaque, uint32_t vcpu_index, uint32_t intid, bool level);

/**
 * struct hyp_timer_config - per-VM parameters.
 * @clock:	Required. The physical counter.
 * @set_ppi:	Required. The interrupt lines.
 * @opaque:	Passed to both callbacks.
 * @freq:	Required. The counter frequency in Hz (CNTFRQ_EL0[31:0]).
 * @cntvoff:	The initial virtual offset (CNTVOFF_EL2).
 * @virt_intid:	The virtual timer's PPI, 16..31; 0 = 27 (HYP_DEFAULT_TIMER_VIRT_INTID).
 * @phys_intid:	The EL1 physical timer's PPI, 16..31; 0 = 30 (HYP_DEFAULT_TIMER_PHYS_INTID).
 */
struct hyp_timer_config {
	hyp_timer_clock_fn clock;
	hyp_timer_set_ppi_fn set_ppi;
	void *opaque;
	uint32_t freq;
	uint32_t virt_intid;
	uint32_t phys_intid;
	uint64_t cntvoff;
};

/**
 * struct hyp_timer_vm - per-VM timer state. Caller-owned storage; read the fields only through the
 * functions below.
 */
struct hyp_timer_vm {
	hyp_timer_clock_fn clock;
	hyp_timer_set_ppi_fn set_ppi;
	void *opaque;
	_Atomic uint64_t cntvoff;
	uint32_t freq;
	uint32_t intid[HYP_TIMER_COUNT];
};

/**
 * struct hyp_timer_ctx - one EL1 timer.
 * @ctl:	ENABLE and IMASK as the guest last wrote them (ISTATUS is never stored).
 * @cval:	The CompareValue.
 * @level:	The output level last reported through set_ppi.
 */
struct hyp_timer_ctx {
	uint64_t ctl;
	uint64_t cval;
	bool level;
};

/**
 * struct hyp_timer_vcpu - the timers of one vCPU. Caller-owned storage.
 * @vm:		The VM's timer state.
 * @index:	The vCPU index passed to set_ppi.
 * @loaded:	The virtual timer is in the hardware (between hyp_timer_vcpu_load() and
 *		hyp_timer_vcpu_put()): timer[HYP_TIMER_VIRT] holds the values of the last sync only.
 * @timer:	The two timers.
 */
struct hyp_timer_vcpu {
	struct hyp_timer_vm *vm;
	uint32_t index;
	bool loaded;
	struct hyp_timer_ctx timer[HYP_TIMER_COUNT];
};

/**
 * struct hyp_timer_hw - the virtual timer's hardware registers, as the backend writes them when
 * it loads a vCPU.
 * @cntvoff:	CNTVOFF_EL2.
 * @cval:	CNTV_CVAL_EL0.
 * @ctl:	CNTV_CTL_EL0 (ENABLE and IMASK).
 * @mask_irq:	The virtual timer's level is high (already delivered through set_ppi): keep the
 *		physical virtual-timer PPI masked while this vCPU runs.
 */
struct hyp_timer_hw {
	uint64_t cntvoff;
	uint64_t cval;
	uint64_t ctl;
	bool mask_irq;
};

/* ---------------------------------------------------------------------------------------------
 * Per VM.
 */

/**
 * hyp_timer_vm_init() - set up a VM's timer state.
 * Return: 0; -EINVAL for NULL pointers, a missing callback, a zero frequency, an INTID outside
 * 16..31 or both timers on the same INTID. @vm is written only on success.
 */
int hyp_timer_vm_init(struct hyp_timer_vm *vm, const struct hyp_timer_config *cfg);

/** hyp_timer_vm_cntvoff() - the VM's CNTVOFF. */
uint64_t hyp_timer_vm_cntvoff(const struct hyp_timer_vm *vm);

/**
 * hyp_timer_vm_set_cntvoff() - change CNTVOFF. The virtual timers' levels follow at each vCPU's
 * next call (call hyp_timer_update() on each); a loaded vCPU needs CNTVOFF_EL2 written too.
 */
void hyp_timer_vm_set_cntvoff(struct hyp_timer_vm *vm, uint64_t cntvoff);

/**
 * hyp_timer_vm_set_cntvct() - choose CNTVOFF so that CNTVCT reads @cntvct when CNTPCT is @now
 * (restoring a saved virtual count). Same follow-up as hyp_timer_vm_set_cntvoff().
 */
void hyp_timer_vm_set_cntvct(struct hyp_timer_vm *vm, uint64_t now, uint64_t cntvct);

/** hyp_timer_vm_intid() - the INTID of timer @id (HYP_TIMER_VIRT or HYP_TIMER_PHYS). */
uint32_t hyp_timer_vm_intid(const struct hyp_timer_vm *vm, enum hyp_timer_id id);

/**
 * hyp_timer_ticks_to_ns() - a count of counter ticks in nanoseconds, rounded down, saturating at
 * UINT64_MAX; for a backend that sleeps with a host or firmware clock of another unit.
 */
uint64_t hyp_timer_ticks_to_ns(const struct hyp_timer_vm *vm, uint64_t ticks);

/* ---------------------------------------------------------------------------------------------
 * Per vCPU: life cycle and the hardware virtual timer.
 */

/** hyp_timer_vcpu_init() - both timers disabled (CTL 0, CVAL 0), outputs low, not loaded. */
void hyp_timer_vcpu_init(struct hyp_timer_vcpu *vcpu, struct hyp_timer_vm *vm, uint32_t index);

/**
 * hyp_timer_vcpu_reset() - the timers as after a warm reset: CTL 0 and CVAL 0 (the architecture
 * leaves them UNKNOWN; 0 is what KVM presents too). An output that was high is lowered through
 * set_ppi.
 * Return: 0; -EBUSY while the vCPU is loaded (put it first).
 */
int hyp_timer_vcpu_reset(struct hyp_timer_vcpu *vcpu);

/**
 * hyp_timer_vcpu_load() - hand the virtual timer to the hardware (EL2, before entering the vCPU).
 * Brings both levels up to date at the current time first, so a timer that became due while the
 * vCPU was out is pending before it runs. @hw receives the values to write (see the header
 * comment, step 3).
 */
void hyp_timer_vcpu_load(struct hyp_timer_vcpu *vcpu, struct hyp_timer_hw *hw);

/**
 * hyp_timer_vcpu_sync() - take the hardware virtual timer's registers (read at an exit while
 * loaded) into the model and re-evaluate the virtual timer's output at the current time (the
 * emulated physical timer is re-evaluated by hyp_timer_update() and hyp_timer_wfi_sleep_until(),
 * which the backend calls before it enters or sleeps anyway).
 * @ctl: CNTV_CTL_EL0 as read (ISTATUS and RES0 bits are ignored); @cval: CNTV_CVAL_EL0.
 * Return: true if the virtual timer's level is high: the physical virtual-timer PPI must stay
 * masked; false: unmask it.
 */
bool hyp_timer_vcpu_sync(struct hyp_timer_vcpu *vcpu, uint64_t ctl, uint64_t cval);

/**
 * hyp_timer_vcpu_put() - take the virtual timer back from the hardware (scheduling the vCPU out):
 * hyp_timer_vcpu_sync() with the registers as read, then the model holds the timer; both outputs
 * are brought up to date. The backend
 * then writes 0 to CNTV_CTL_EL0 and unmasks the physical PPI.
 */
void hyp_timer_vcpu_put(struct hyp_timer_vcpu *vcpu, uint64_t ctl, uint64_t cval);

/* ---------------------------------------------------------------------------------------------
 * Per vCPU: time.
 */

/**
 * hyp_timer_update() - re-evaluate the timers the model holds at physical count @now and report
 * each output that changed through set_ppi (the virtual timer is skipped while loaded: the
 * hardware evaluates it, hyp_timer_vcpu_sync() reports it).
 */
void hyp_timer_update(struct hyp_timer_vcpu *vcpu, uint64_t now);

/**
 * hyp_timer_next_deadline() - the earliest physical count at which an output the model holds goes
 * high: an enabled, unmasked timer whose condition is not met at @now reports the count at which
 * it will be; one whose condition is met reports @now (call hyp_timer_update()). A disabled or
 * masked timer, or one whose deadline lies beyond the physical counter's range (possible for the
 * virtual timer when CNTVOFF makes CNTVCT wrap first), has none.
 * Return: true and *@deadline set; false: no deadline (*@deadline untouched).
 */
bool hyp_timer_next_deadline(const struct hyp_timer_vcpu *vcpu, uint64_t now, uint64_t *deadline);

/**
 * hyp_timer_wfi_sleep_until() - the vCPU executed WFI: hyp_timer_update(@now), then the earliest
 * count (> @now) at which a timer whose output is low goes high. The physical CPU may sleep until
 * then, or until lib/vgic has an interrupt the vCPU can take. A timer whose output is already high
 * does not count (its interrupt is the interrupt controller's to deliver or to hold back).
 * Return: true and *@until set; false: no timer will wake the vCPU (sleep until another
 * interrupt or a kick; *@until untouched).
 */
bool hyp_timer_wfi_sleep_until(struct hyp_timer_vcpu *vcpu, uint64_t now, uint64_t *until);

/** hyp_timer_level() - the output level of timer @id as last reported through set_ppi. */
bool hyp_timer_level(const struct hyp_timer_vcpu *vcpu, enum hyp_timer_id id);

/* ---------------------------------------------------------------------------------------------
 * Per vCPU: register accesses, trapped or from the VMM (get/set register, migration).
 *
 * Registers (HYP_SYSREG_* encodings): CNTP_CTL_EL0, CNTP_CVAL_EL0, CNTP_TVAL_EL0; CNTV_CTL_EL0,
 * CNTV_CVAL_EL0, CNTV_TVAL_EL0 (while not loaded); CNTPCT_EL0, CNTPCTSS_EL0, CNTVCT_EL0,
 * CNTVCTSS_EL0 and CNTFRQ_EL0 (read-only). The time is taken from the clock callback, and the
 * accessed timer's output is re-evaluated (and reported if it changed) on every access.
 *
 * Semantics (Arm ARM D11, "Timers"): a CTL write keeps ENABLE and IMASK and ignores ISTATUS and
 * the RES0 bits; a CTL read returns ENABLE, IMASK and ISTATUS (0 while ENABLE is 0, where the
 * architecture makes it UNKNOWN). CVAL is 64 bits. A TVAL write sets CVAL = counter +
 * SignExtend(value[31:0]) (bits [63:32] are RES0 and ignored); a TVAL read returns
 * (CVAL - counter)[31:0], zero-extended (also while ENABLE is 0, where it is UNKNOWN).
 */

/**
 * hyp_timer_sysreg_read() - an MRS of a timer register.
 * Return: 0 and *@value set; -ENOENT: not a register modelled here; -EBUSY: a CNTV_* timer
 * register while the vCPU is loaded (the hardware has it). *@value untouched on failure.
 */
int hyp_timer_sysreg_read(struct hyp_timer_vcpu *vcpu, uint32_t encoding, uint64_t *value);

/**
 * hyp_timer_sysreg_write() - an MSR to a timer register.
 * Return: 0; -ENOENT: not a register modelled here; -EPERM: a read-only register (the counters,
 * CNTFRQ_EL0: writing it from EL1 is UNDEFINED); -EBUSY as for reads.
 */
int hyp_timer_sysreg_write(struct hyp_timer_vcpu *vcpu, uint32_t encoding, uint64_t value);

/**
 * hyp_timer_handle_sysreg() - a trapped MRS/MSR (the decoded access of an EC 0x18 exit): the read
 * or write above. For a successful MRS, @access->value is the value for Rt; nothing is changed on
 * failure. Return: as hyp_timer_sysreg_read() / hyp_timer_sysreg_write().
 */
int hyp_timer_handle_sysreg(struct hyp_timer_vcpu *vcpu, struct hyp_sysreg_access *access);

#endif /* HYP_TIMER_TIMER_H */
