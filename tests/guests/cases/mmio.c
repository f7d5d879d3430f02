/* SPDX-License-Identifier: MIT */
/*
 * mmio: loads and stores of every width to an emulated device, as the hypervisor must complete
 * them (Arm ARM C6.2, load/store instructions; D17.2.37 ESR_ELx ISS encoding for data aborts:
 * SAS = size, SSE = sign extend, SRT = register, SF = 64-bit register).
 *
 * The scratch window returns a known pattern whose every byte has bit 7 set, so a sign-extending
 * load that were completed as zero-extending (or the reverse) shows up. Each load first fills the
 * destination X register with garbage, so a W-register load that failed to clear bits [63:32]
 * shows up too. Stores are checked against what the driver recorded.
 */
#include "rt/rt.h"

LHT_GUEST(.nr_vcpus = 1);

#define GARBAGE 0xdeadbeefcafef00dull

static uint64_t scratch(uint64_t off)
{
	return LHT_SCRATCH_BASE + off;
}

/* Run one load instruction into a register prefilled with GARBAGE; return the whole X register. */
#define LOAD(insn, wx, addr)                                                                       \
	({                                                                                         \
		uint64_t __v;                                                                      \
		__asm__ volatile("mov %x0, %2\n\t" insn " %" wx "0, [%1]"                          \
				 : "=&r"(__v)                                                      \
				 : "r"(addr), "r"(GARBAGE)                                         \
				 : "memory");                                                      \
		__v;                                                                               \
	})

static void check_loads(void)
{
	uint64_t b = lht_scratch_byte(0x11);
	uint64_t h = lht_scratch_value(0x22, 2);
	uint64_t w = lht_scratch_value(0x44, 4);
	uint64_t x = lht_scratch_value(0x88, 8);

	/* Zero-extending loads: writing a W register clears bits [63:32] (Arm ARM C1.2.5). */
	lht_check_eq("LDRB W: zero-extended into X", LOAD("ldrb", "w", scratch(0x11)), b);
	lht_check_eq("LDRH W: zero-extended into X", LOAD("ldrh", "w", scratch(0x22)), h);
	lht_check_eq("LDR W: zero-extended into X", LOAD("ldr", "w", scratch(0x44)), w);
	lht_check_eq("LDR X: 64-bit load", LOAD("ldr", "x", scratch(0x88)), x);

	/* Sign-extending loads: to 32 bits then zero-extended for W (ISS.SF = 0), to 64 for X.
	 * The hypervisor knows to extend only from ISS.SSE. */
	lht_check_depends(LHT_DEPENDS_ISS_SSE);
	lht_check_eq("LDRSB W: sign-extended to 32 bits, bits [63:32] clear",
		     LOAD("ldrsb", "w", scratch(0x11)), (uint32_t)(int32_t)(int8_t)b);
	lht_check_depends(LHT_DEPENDS_ISS_SSE);
	lht_check_eq("LDRSB X: sign-extended to 64 bits", LOAD("ldrsb", "x", scratch(0x11)),
		     (uint64_t)(int64_t)(int8_t)b);
	lht_check_depends(LHT_DEPENDS_ISS_SSE);
	lht_check_eq("LDRSH W: sign-extended to 32 bits, bits [63:32] clear",
		     LOAD("ldrsh", "w", scratch(0x22)), (uint32_t)(int32_t)(int16_t)h);
	lht_check_depends(LHT_DEPENDS_ISS_SSE);
	lht_check_eq("LDRSH X: sign-extended to 64 bits", LOAD("ldrsh", "x", scratch(0x22)),
		     (uint64_t)(int64_t)(int16_t)h);
	lht_check_depends(LHT_DEPENDS_ISS_SSE);
	lht_check_eq("LDRSW X: sign-extended to 64 bits", LOAD("ldrsw", "x", scratch(0x44)),
		     (uint64_t)(int64_t)(int32_t)w);

	/* Load-acquire forms carry a full syndrome too (ISS.AR). */
	lht_check_eq("LDARB W: zero-extended", LOAD("ldarb", "w", scratch(0x11)), b);
	lht_check_eq("LDAR W: zero-extended", LOAD("ldar", "w", scratch(0x44)), w);
	lht_check_eq("LDAR X: 64-bit", LOAD("ldar", "x", scratch(0x88)), x);

	/* Unaligned-offset values at the other end of the window. */
	lht_check_eq("LDR X at the last doubleword of the window", LOAD("ldr", "x", scratch(0xff8)),
		     lht_scratch_value(0xff8, 8));
}

struct store_log {
	uint64_t count, off, len, data;
};

static struct store_log store_log(void)
{
	return (struct store_log){
		.count = lht_reg_read(LHT_REG_SCRATCH_COUNT),
		.off = lht_reg_read(LHT_REG_SCRATCH_WOFF),
		.len = lht_reg_read(LHT_REG_SCRATCH_WLEN),
		.data = lht_reg_read(LHT_REG_SCRATCH_WDATA),
	};
}

/* One store, then what the device saw: exactly one write of @len bytes of @data at @off. */
static void expect_store(const char *what, uint64_t before, uint64_t off, uint64_t len,
			 uint64_t data)
{
	struct store_log l = store_log();
	char name[96];

	lht_check_eq(lht_concat(name, sizeof(name), what, ": the device saw exactly one write"),
		     l.count, before + 1);
	lht_check_eq(lht_concat(name, sizeof(name), what, ": offset"), l.off, off);
	lht_check_eq(lht_concat(name, sizeof(name), what, ": size"), l.len, len);
	lht_check_eq(lht_concat(name, sizeof(name), what, ": value (truncated to the size)"),
		     l.data, data);
}

#define STORE(insn, wx, addr, val)                                                                 \
	__asm__ volatile(insn " %" wx "0, [%1]" ::"r"(val), "r"(addr) : "memory")

static void check_stores(void)
{
	uint64_t c;

	c = store_log().count;
	STORE("strb", "w", scratch(0x101), 0x1234u);
	expect_store("STRB W of 0x1234", c, 0x101, 1, 0x34);

	c = store_log().count;
	STORE("strh", "w", scratch(0x202), 0xa5a5beefu);
	expect_store("STRH W of 0xa5a5beef", c, 0x202, 2, 0xbeef);

	c = store_log().count;
	STORE("str", "w", scratch(0x304), 0x89abcdefu);
	expect_store("STR W of 0x89abcdef", c, 0x304, 4, 0x89abcdef);

	c = store_log().count;
	STORE("str", "x", scratch(0x408), 0xfedcba9876543210ull);
	expect_store("STR X of 0xfedcba9876543210", c, 0x408, 8, 0xfedcba9876543210ull);

	c = store_log().count;
	STORE("stlr", "x", scratch(0x510), 0x0123456789abcdefull);
	expect_store("STLR X of 0x0123456789abcdef", c, 0x510, 8, 0x0123456789abcdefull);

	/* Register 31 as the source of a store is the zero register, not SP (Arm ARM C1.2.5):
	 * ISS.SRT = 31 must read as 0. Dirty the log first so a stale value cannot pass. */
	STORE("str", "x", scratch(0x600), ~0ull);
	c = store_log().count;
	__asm__ volatile("strb wzr, [%0]" ::"r"(scratch(0x611)) : "memory");
	expect_store("STRB WZR", c, 0x611, 1, 0);

	STORE("str", "x", scratch(0x600), ~0ull);
	c = store_log().count;
	__asm__ volatile("strh wzr, [%0]" ::"r"(scratch(0x622)) : "memory");
	expect_store("STRH WZR", c, 0x622, 2, 0);

	STORE("str", "x", scratch(0x600), ~0ull);
	c = store_log().count;
	__asm__ volatile("str wzr, [%0]" ::"r"(scratch(0x644)) : "memory");
	expect_store("STR WZR", c, 0x644, 4, 0);

	STORE("str", "x", scratch(0x600), ~0ull);
	c = store_log().count;
	__asm__ volatile("str xzr, [%0]" ::"r"(scratch(0x688)) : "memory");
	expect_store("STR XZR", c, 0x688, 8, 0);
}

/* Loads into X30 and a register the compiler holds a live value in must not disturb anything
 * else: a hypervisor that wrote the wrong register would corrupt X19 here. */
static void check_register_targets(void)
{
	uint64_t keep = 0x1111222233334444ull, got, x30;

	__asm__ volatile("mov x19, %2\n\t"
			 "ldrsh x30, [%3]\n\t"
			 "mov %0, x19\n\t"
			 "mov %1, x30"
			 : "=&r"(got), "=&r"(x30)
			 : "r"(keep), "r"(scratch(0x22))
			 : "x19", "x30", "memory");
	lht_check_depends(LHT_DEPENDS_ISS_SSE);
	lht_check_eq("LDRSH X30: loads into X30", x30,
		     (uint64_t)(int64_t)(int16_t)lht_scratch_value(0x22, 2));
	lht_check_eq("LDRSH X30: X19 untouched", got, keep);
}

void guest_main(void)
{
	check_loads();
	check_stores();
	check_register_targets();
}
