/* SPDX-License-Identifier: MIT */
/*
 * Software stage-1 walk of the EL1&0 regime (Arm ARM DDI 0487, D8.1-D8.4: translation table
 * formats, the translation process, and D8.4.6 for the access flag, D8.4.1 for AP[2:1]).
 */
#include "s1walk.h"

#include "arm64.h"
#include "hyp_errno.h"

#define TCR_T0SZ(t) ((unsigned)((t) >> 0) & 0x3f)
#define TCR_EPD0 (UINT64_C(1) << 7)
#define TCR_TG0(t) ((unsigned)((t) >> 14) & 3)
#define TCR_T1SZ(t) ((unsigned)((t) >> 16) & 0x3f)
#define TCR_EPD1 (UINT64_C(1) << 23)
#define TCR_TG1(t) ((unsigned)((t) >> 30) & 3)
#define TCR_IPS(t) ((unsigned)((t) >> 32) & 7)
#define TCR_TBI0 (UINT64_C(1) << 37)
#define TCR_TBI1 (UINT64_C(1) << 38)
#define TCR_HA (UINT64_C(1) << 39)
#define TCR_HD (UINT64_C(1) << 40)
#define TCR_TBID0 (UINT64_C(1) << 51)
#define TCR_TBID1 (UINT64_C(1) << 52)
#define TCR_DS (UINT64_C(1) << 59)

#define DESC_VALID UINT64_C(1)
#define DESC_TABLE UINT64_C(2)	    /* at levels 0-2: table; at level 3: page (else reserved) */
#define DESC_AP1 (UINT64_C(1) << 6) /* EL0 access */
#define DESC_AP2 (UINT64_C(1) << 7) /* read-only */
#define DESC_AF (UINT64_C(1) << 10)
#define DESC_DBM (UINT64_C(1) << 51)

/* How often a walk reads a descriptor again after losing the race to update it (hyp_s1_write_fn). */
#define S1_UPDATE_RETRIES 8u

static int fault(struct hyp_s1_result *out, unsigned fsc, int level, int err)
{
	out->fsc = (uint8_t)(fsc + (unsigned)level);
	return err;
}

/* TCR_ELx.TG0 and TG1 encode the granule differently (D19.2.139). Reserved values are treated as
 * 4K, one of the choices the architecture allows. */
static unsigned granule_shift(bool ttbr1, unsigned tg)
{
	if (ttbr1)
		return tg == 1 ? 14 : tg == 3 ? 16 : 12;
	return tg == 1 ? 16 : tg == 2 ? 14 : 12;
}

/* TCR_EL1.IPS: the output address size, limited to what the implementation has (PAMax): the
 * 52-bit encoding means 48 bits unless FEAT_LPA, and then only with the 64K granule (DS = 0). */
unsigned hyp_trap_pa_bits(unsigned encoding)
{
	static const uint8_t bits[8] = { 32, 36, 40, 42, 44, 48, 52, 52 };

	return bits[encoding & 7];
}

static unsigned output_bits(unsigned ips, unsigned granule, unsigned pa_max)
{
	unsigned b = hyp_trap_pa_bits(ips);

	if (b == 52 && (granule != 16 || pa_max < 52))
		b = 48;
	return b < pa_max ? b : pa_max;
}

/* The output address held in a table, block or page descriptor, bits [47:@low] (plus [51:48]
 * from descriptor bits [15:12] with FEAT_LPA and the 64K granule). */
static uint64_t desc_address(uint64_t desc, unsigned low, bool lpa52)
{
	uint64_t addr = desc & (((UINT64_C(1) << 48) - 1) & ~((UINT64_C(1) << low) - 1));

	if (lpa52)
		addr |= ((desc >> 12) & 0xf) << 48;
	return addr;
}

int hyp_trap_s1_translate(const struct hyp_s1_regime *regime, uint64_t va, unsigned access,
			  hyp_s1_read_fn read, hyp_s1_write_fn write, void *opaque,
			  struct hyp_s1_result *out)
{
	const uint64_t tcr = regime->tcr_el1;
	unsigned pa_max = regime->pa_bits_max ? regime->pa_bits_max : 48;
	bool ttbr1, tbi, lpa52;
	unsigned granule, stride, txsz, inputsize, oa_bits, min_txsz;
	uint64_t table, top_mask;
	int level, start_level;
	unsigned retries = 0;

	out->ipa = 0;
	out->fsc = 0;
	if (!(regime->sctlr_el1 & SCTLR_M)) {
		/* Stage 1 disabled: VA = PA, with an address size fault above the largest PA. */
		if (va >> 52)
			return fault(out, FSC_ADDR_SIZE, 0, -EFAULT);
		out->ipa = va;
		return 0;
	}
	if ((regime->sctlr_el1 & SCTLR_EE) || (tcr & TCR_DS))
		return fault(out, FSC_TRANS, 0, -ENOTSUP);

	ttbr1 = (va >> 55) & 1;
	tbi = (tcr & (ttbr1 ? TCR_TBI1 : TCR_TBI0)) &&
	      !((access & HYP_S1_FETCH) && (tcr & (ttbr1 ? TCR_TBID1 : TCR_TBID0)));
	if (tbi) /* the top byte takes the value of bit 55 (D8.8, address tagging) */
		va = ttbr1 ? va | (UINT64_C(0xff) << 56) : va & ~(UINT64_C(0xff) << 56);
	if (tcr & (ttbr1 ? TCR_EPD1 : TCR_EPD0))
		return fault(out, FSC_TRANS, 0, -EFAULT);
	granule = granule_shift(ttbr1, ttbr1 ? TCR_TG1(tcr) : TCR_TG0(tcr));
	stride = granule - 3;
	oa_bits = output_bits(TCR_IPS(tcr), granule, pa_max);
	/* With FEAT_LPA and the 64K granule, descriptors and the TTBR carry OA[51:48]
	 * (D8.3.1, D19.2.155), whatever TCR_EL1.IPS says. */
	lpa52 = granule == 16 && pa_max >= 52;
	txsz = ttbr1 ? TCR_T1SZ(tcr) : TCR_T0SZ(tcr);
	/* An out-of-range TxSZ is CONSTRAINED UNPREDICTABLE; we use the nearest valid value
	 * (R_JTCQC: one of the permitted behaviours). 52-bit VAs need the 64K granule (FEAT_LVA). */
	min_txsz = granule == 16 ? 12 : 16;
	if (txsz < min_txsz)
		txsz = min_txsz;
	if (txsz > (granule == 16 ? 47u : 48u)) /* FEAT_TTST's largest: a level-3 table of >= 2 */
		txsz = granule == 16 ? 47 : 48;
	inputsize = 64 - txsz;

	/* Bits above the input size must all equal the TTBR select bit. */
	top_mask = ~((UINT64_C(1) << inputsize) - 1);
	if ((va & top_mask) != (ttbr1 ? top_mask : 0))
		return fault(out, FSC_TRANS, 0, -EFAULT);

	/* As many levels as it takes to resolve inputsize - granule bits, stride bits a level. */
	start_level = 3 - (int)((inputsize - granule - 1) / stride);
	{
		uint64_t ttbr = ttbr1 ? regime->ttbr1_el1 : regime->ttbr0_el1;
		unsigned first_bits = inputsize - (granule + stride * (unsigned)(3 - start_level));
		/* The first table is aligned to its size (at least 64 bytes with 52-bit
		 * addresses): BADDR bits below that are RES0 and taken as zero. */
		uint64_t align = UINT64_C(8) << first_bits;

		if (lpa52 && align < 64)
			align = 64;
		table = ttbr & ((UINT64_C(1) << 48) - 1) & ~(align - 1);
		if (lpa52)
			table |= (ttbr >> 2 & 0xf) << 48;
	}

	for (level = start_level;; level++) {
		unsigned shift = granule + stride * (unsigned)(3 - level);
		unsigned nbits = level == start_level ? inputsize - shift : stride;
		uint64_t index = (va >> shift) & ((UINT64_C(1) << nbits) - 1);
		uint64_t desc, oa;

		if (read(opaque, table + index * 8, &desc))
			return fault(out, FSC_EXTABT_WALK, level, -EIO);
		if (!(desc & DESC_VALID))
			return fault(out, FSC_TRANS, level, -EFAULT);
		if (level < 3 && (desc & DESC_TABLE)) {
			table = desc_address(desc, granule, lpa52);
			if (table >> oa_bits)
				return fault(out, FSC_ADDR_SIZE, level, -EFAULT);
			continue;
		}
		/* A block: level 1 and 2 with 4K, level 2 with 16K, level 2 (and level 1 with
		 * 52-bit output) with 64K. Level 3 needs the page encoding. */
		if (level == 3 ? !(desc & DESC_TABLE) :
				 !(level == 2 || (level == 1 && (granule == 12 || lpa52))))
			return fault(out, FSC_TRANS, level, -EFAULT);
		oa = desc_address(desc, shift, lpa52);
		if (oa >> oa_bits)
			return fault(out, FSC_ADDR_SIZE, level, -EFAULT);
		{
			uint64_t updated = desc;

			/* Access flag: a fault, unless the hardware manages it (TCR_EL1.HA) and
			 * sets it (D8.4.6). */
			if (!(desc & DESC_AF)) {
				if (!(tcr & TCR_HA))
					return fault(out, FSC_ACCESS, level, -EFAULT);
				updated |= DESC_AF;
			}
			if (!(access & HYP_S1_FETCH)) {
				if ((access & HYP_S1_EL0) && !(desc & DESC_AP1))
					return fault(out, FSC_PERM, level, -EFAULT);
				/* A write to a read-only page is allowed when the hardware manages
				 * the dirty state (TCR_EL1.HA and HD) and the page is writable-clean
				 * (DBM): it becomes dirty (AP[2] cleared, D8.4.7). */
				if ((access & HYP_S1_WRITE) && (desc & DESC_AP2)) {
					if (!(desc & DESC_DBM) ||
					    (tcr & (TCR_HA | TCR_HD)) != (TCR_HA | TCR_HD))
						return fault(out, FSC_PERM, level, -EFAULT);
					updated &= ~DESC_AP2;
				}
			}
			if (updated != desc && write) {
				int w = write(opaque, table + index * 8, desc, updated);

				/* Changed under us: walk this level again with what it holds now,
				 * a bounded number of times (a guest rewriting its own descriptor
				 * without pause gets an external abort on the walk, not a hang). */
				if (w == -EAGAIN && ++retries <= S1_UPDATE_RETRIES) {
					level--;
					continue;
				}
				if (w)
					return fault(out, FSC_EXTABT_WALK, level, -EIO);
			}
		}
		out->ipa = oa | (va & ((UINT64_C(1) << shift) - 1));
		return 0;
	}
}
