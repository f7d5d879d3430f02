/* SPDX-License-Identifier: MIT */
/*
 * A position-independent bare-metal program for hyp-run's loader tests: the same code is booted
 * as a raw binary (--format raw --load-addr) and as a position-independent ELF (ET_DYN). It checks
 * that X0 points to a flattened device tree (magic 0xd00dfeed) lying outside its own footprint
 * (its image plus the BSS and stack below `footprint_end`), prints "HELLO: dtb ok" or what is
 * wrong on the PL011, and powers off with PSCI SYSTEM_OFF. Only PC-relative addressing: no
 * relocations, so it runs wherever it is put.
 */
#define UART 0x09000000
#define FDT_MAGIC_LE 0xedfe0dd0 /* 0xd00dfeed, big-endian in memory */

	.text
	.global _start
_start:
	mov	x19, x0
	adr	x20, _start
	adr	x21, footprint_end
	adr	x0, stack_top
	mov	sp, x0
	mov	x22, #UART
	adr	x1, msg_hello
	bl	puts
	/* The DTB must not sit in [_start, footprint_end). */
	cmp	x19, x20
	b.lo	1f
	cmp	x19, x21
	b.lo	bad_place
1:	ldr	w1, [x19]
	ldr	w2, =FDT_MAGIC_LE
	cmp	w1, w2
	b.ne	bad_magic
	adr	x1, msg_ok
	bl	puts
	b	off
bad_place:
	adr	x1, msg_place
	bl	puts
	b	off
bad_magic:
	adr	x1, msg_magic
	bl	puts
off:
	ldr	x0, =0x84000008 /* PSCI SYSTEM_OFF */
	hvc	#0
	b	.

/* X1 = string; clobbers X1, X2. */
puts:
	ldrb	w2, [x1], #1
	cbz	w2, 2f
	str	w2, [x22]
	b	puts
2:	ret

	.section .rodata
msg_hello:	.asciz "HELLO: running\n"
msg_ok:		.asciz "HELLO: dtb ok\n"
msg_place:	.asciz "HELLO: FAIL: the DTB is inside my footprint\n"
msg_magic:	.asciz "HELLO: FAIL: X0 is not a device tree\n"

	/* The footprint: BSS and stack the program uses past its file. */
	.bss
	.balign	16
	.space	0x8000
stack_top:
	.space	0x8000
footprint_end:
