/* SPDX-License-Identifier: MIT */
/*
 * Guest snippets for test-kvm-backend.c, one flat binary loaded at the start of RAM. Entry i is
 * at RAM + 4 * i (a branch table), so the test picks a behaviour by setting the PC. Every
 * snippet talks to the test device at TESTDEV (0x0b000000) and ends by powering off through
 * PSCI or by spinning; the vector table reports any exception at TESTDEV_VECTOR and spins.
 */
#define TESTDEV 0x0b000000
#define TESTDEV_VALUE 0x00	/* stores of results */
#define TESTDEV_BYTE 0x08	/* loads return a byte chosen by the test */
#define TESTDEV_VECTOR 0x10	/* the vector handler stores ESR_EL1 here, then ELR_EL1 */
#define TESTDEV_DEFERRED 0x20	/* stores the test defers (hyp_vm_defer_mmio_writes()) */
#define DEFERRED_STORES 1000
#define DEFERRED_PAIR 0x28	/* test_deferred_writes_two_vcpus: (vCPU << 32) | round */
#define DEFERRED_PAIR_ROUNDS 400
#define PAIR_DONE 0x401f0000	/* in RAM: vCPU 1 sets it when its rounds are done */
#define ROM 0x50000000		/* a read-only region the test maps */
#define PSCI_VERSION 0x84000000
#define PSCI_SYSTEM_OFF 0x84000008
/* The inter-partition channel of test_chan (libhyp/chan-layout.h, rings of 256 bytes). */
#define CHAN 0x48000000
#define CHAN_DB 0x0b100000
#define CHAN_BYTES 100

	.text
	.globl _start
_start:
	b	spin			/* 0: spin forever (kick test) */
	b	mmio_sign_extend	/* 1: ldrsb x1 <- TESTDEV_BYTE; store x1 */
	b	psci_version		/* 2: hvc PSCI_VERSION; store x0 */
	b	rom_write		/* 3: store to ROM, then load it back and store the value */
	b	no_syndrome		/* 4: ldp from unclaimed MMIO (ISV = 0) */
	b	read_mpidr		/* 5: store MPIDR_EL1 */
	b	two_stores		/* 6: store 1 then store 2 (PC redirection test) */
	b	unmapped		/* 7: load from an IPA with nothing there */
	b	id_registers		/* 8: store ID_AA64PFR0/ISAR1/DFR0_EL1 */
	b	smccc_calls		/* 9: vendor HVC and SMC, PSCI_VERSION, an unrouted call */
	b	dirty_pages		/* 10: 4 rounds of page writes, each reported at REPORT */
	b	dirty_hammer		/* 11: rounds over 16 pages forever, each counted at COUNT */
	b	dirty_sweep		/* 12: the same over 200 pages (more than a dirty ring's 192) */
	b	chan_echo		/* 13: echo CHAN_BYTES channel bytes + 1, ringing after each */
	b	deferred_stores		/* 14: store 1..DEFERRED_STORES to TESTDEV_DEFERRED, then load */
	b	deferred_pair		/* 15: on two vCPUs: a deferred store, then a load that exits */

setup:
	adr	x9, vectors
	msr	vbar_el1, x9
	isb
	mov	x10, #TESTDEV
	ret

spin:
	bl	setup
1:	b	1b

mmio_sign_extend:
	bl	setup
	ldrsb	x1, [x10, #TESTDEV_BYTE]
	str	x1, [x10, #TESTDEV_VALUE]
	b	poweroff

psci_version:
	bl	setup
	ldr	x0, =PSCI_VERSION
	hvc	#0
	str	x0, [x10, #TESTDEV_VALUE]
	b	poweroff

rom_write:
	bl	setup
	mov	x11, #ROM
	ldr	x1, =0x1122334455667788
	str	x1, [x11, #0x40]
	ldr	x2, [x11, #0x40]
	str	x2, [x10, #TESTDEV_VALUE]
	b	poweroff

no_syndrome:
	bl	setup
	/* An LDP (no syndrome) from the page after the test device, which no callback claims: the
	 * library emulates it and hands both elements to the VMM as MMIO exits. */
	add	x12, x10, #0x1000
	ldp	x1, x2, [x12, #0x20]
	str	x1, [x10, #TESTDEV_VALUE]
	str	x2, [x10, #TESTDEV_VALUE]
	str	x12, [x10, #TESTDEV_VALUE]
	b	poweroff

read_mpidr:
	bl	setup
	mrs	x1, mpidr_el1
	str	x1, [x10, #TESTDEV_VALUE]
	b	poweroff

two_stores:
	bl	setup
	mov	x1, #1
	str	x1, [x10, #TESTDEV_VALUE]
	mov	x1, #2
	str	x1, [x10, #TESTDEV_VALUE]
	b	poweroff

unmapped:
	bl	setup
	mov	x11, #0x60000000
	ldr	x1, [x11, #0x8]
	b	poweroff

id_registers:
	bl	setup
	mrs	x1, id_aa64pfr0_el1
	str	x1, [x10, #TESTDEV_VALUE]
	mrs	x1, id_aa64isar1_el1
	str	x1, [x10, #TESTDEV_VALUE]
	mrs	x1, id_aa64dfr0_el1
	str	x1, [x10, #TESTDEV_VALUE]
	b	poweroff

smccc_calls:
	bl	setup
	ldr	x0, =0xc6000a20		/* vendor hypervisor call, HVC64, 7 arguments */
	mov	x1, #0x11
	mov	x2, #0x22
	mov	x3, #0x33
	mov	x4, #0x44
	mov	x5, #0x55
	mov	x6, #0x66
	mov	x7, #0x77
	hvc	#0
	str	x0, [x10, #TESTDEV_VALUE]
	str	x1, [x10, #TESTDEV_VALUE]
	str	x2, [x10, #TESTDEV_VALUE]
	str	x3, [x10, #TESTDEV_VALUE]
	ldr	x0, =0xc6000a21		/* the same range over SMC */
	mov	x1, #0x101
	smc	#0
	str	x0, [x10, #TESTDEV_VALUE]
	ldr	x0, =PSCI_VERSION	/* overridden by the VMM where KVM allows */
	hvc	#0
	str	x0, [x10, #TESTDEV_VALUE]
	ldr	x0, =0xc6000a30		/* no handler: KVM answers NOT_SUPPORTED */
	hvc	#0
	str	x0, [x10, #TESTDEV_VALUE]
	b	poweroff

/* Round r (1..4) writes pages 3r, 3r + 1 and 100 + r of the data area (RAM + 1 MiB), then
 * stores r to REPORT, which no callback claims: the exit goes to the test, which fetches the
 * dirty log there. */
dirty_pages:
	bl	setup
	ldr	x11, =0x40100000
	mov	x12, #1
1:	lsl	x13, x12, #12
	add	x14, x13, x13, lsl #1
	add	x15, x11, x14
	str	x12, [x15]
	add	x15, x15, #4096
	str	x12, [x15, #8]
	ldr	x16, =0x64000
	add	x16, x16, x13
	add	x16, x11, x16
	str	w12, [x16, #0xffc]
	ldr	x17, =0x0c000000
	str	x12, [x17]
	add	x12, x12, #1
	cmp	x12, #5
	b.ne	1b
	b	poweroff

/* Round after round, a store to each of 16 pages of the data area (RAM + 1 MiB), then one to
 * 0x0c100000, which the test counts; until the test kicks the vCPU. */
dirty_hammer:
	bl	setup
	ldr	x11, =0x40100000
	ldr	x15, =0x0c100000
	mov	x12, #0
1:	mov	x13, #0
2:	add	x14, x11, x13, lsl #12
	str	x12, [x14, #16]
	add	x13, x13, #1
	cmp	x13, #16
	b.ne	2b
	str	x12, [x15]
	add	x12, x12, #1
	b	1b

dirty_sweep:
	bl	setup
	ldr	x11, =0x40100000
	ldr	x15, =0x0c100000
	mov	x12, #0
1:	mov	x13, #0
2:	add	x14, x11, x13, lsl #12
	str	x12, [x14, #24]
	add	x13, x13, #1
	cmp	x13, #200
	b.ne	2b
	str	x12, [x15]
	add	x12, x12, #1
	b	1b
/* The guest end of a channel, driven directly: wait for a byte in to_guest (prod at 0x40), put it
 * + 1 into to_host, publish both indexes (to_guest.cons 0x80, to_host.prod 0x84), ring. */
chan_echo:
	bl	setup
	ldr	x11, =CHAN
	ldr	x12, =CHAN_DB
	mov	w13, #0			/* to_guest.cons */
	mov	w14, #0			/* to_host.prod */
1:	ldr	w1, [x11, #0x40]
	cmp	w1, w13
	b.eq	1b
	dmb	sy
	and	w2, w13, #255
	add	x3, x11, #0x100
	ldrb	w4, [x3, x2]
	add	w4, w4, #1
	and	w2, w14, #255
	add	x3, x11, #0x200
	strb	w4, [x3, x2]
	add	w13, w13, #1
	add	w14, w14, #1
	dmb	sy
	str	w13, [x11, #0x80]
	str	w14, [x11, #0x84]
	dsb	sy
	str	wzr, [x12]
	cmp	w14, #CHAN_BYTES
	b.lo	1b
	b	poweroff

/* x12 holds the value being stored (the test compares it with what its callback gets); the load
 * at the end exits, and every store before it must have reached the callback by then. */
deferred_stores:
	bl	setup
	mov	x12, #0
1:	add	x12, x12, #1
	str	x12, [x10, #TESTDEV_DEFERRED]
	cmp	x12, #DEFERRED_STORES
	b.ne	1b
	ldrb	w1, [x10, #TESTDEV_BYTE]
	str	x1, [x10, #TESTDEV_VALUE]
	b	poweroff

/* Each vCPU (its index in MPIDR_EL1.Aff0) stores (index << 32) | round, then loads: the test's
 * callback checks at each load that this vCPU's store has reached it. vCPU 1 raises PAIR_DONE when
 * done and spins; vCPU 0 waits for it, then powers off. */
deferred_pair:
	bl	setup
	mrs	x13, mpidr_el1
	and	x13, x13, #0xff
	lsl	x13, x13, #32
	ldr	x15, =PAIR_DONE
	mov	x14, #0
1:	add	x14, x14, #1
	orr	x12, x13, x14
	str	x12, [x10, #DEFERRED_PAIR]
	ldrb	w1, [x10, #TESTDEV_BYTE]
	cmp	x14, #DEFERRED_PAIR_ROUNDS
	b.ne	1b
	cbz	x13, 2f
	mov	x1, #1
	str	x1, [x15]
3:	b	3b
2:	ldr	x1, [x15]
	cbz	x1, 2b
	b	poweroff

poweroff:
	ldr	x0, =PSCI_SYSTEM_OFF
	hvc	#0
	b	poweroff

report_exception:
	mov	x10, #TESTDEV
	mrs	x1, esr_el1
	str	x1, [x10, #TESTDEV_VECTOR]
	mrs	x1, elr_el1
	str	x1, [x10, #TESTDEV_VECTOR]
	b	poweroff

	.balign	0x800
vectors:
	.rept	16
	b	report_exception
	.balign	0x80
	.endr
	.ltorg
