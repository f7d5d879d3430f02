/* SPDX-License-Identifier: MIT */
/*
 * CFI parallel NOR flash, Intel/Sharp command set (CFI primary vendor command set 0x0001), shaped
 * like the two banks of QEMU's virt board: each bank is 4 bytes wide, built from two x16 chips
 * side by side, with 256 KiB blocks (128 KiB per chip). Command codes, status register bits and
 * the query table layout follow the CFI specification (JEDEC JESD68) and Intel's command set
 * documentation; nothing here is copied from an implementation.
 *
 * Both chips of a bank always receive the same commands, so one state machine drives the bank and
 * every 32-bit word a non-array read returns is the chip's 16-bit answer in both lanes. The command
 * is the low byte of the written value, whatever the width of the write: a write narrower than the
 * bus reaches the bank as a whole, and its bytes are data where data is due. That is what QEMU's
 * pflash does, and what firmware tested on it expects: U-Boot's CFI driver probes bus widths from 8
 * bits up, finds these banks as a x16 part on a 16-bit bus (32 MiB, 128 KiB sectors), and erases,
 * programs and buffers in halfwords. An erase still clears the whole 256 KiB block, as on QEMU.
 *
 * In read-array mode a bank is guest memory, as QEMU's "romd" mode: a read-only, executable mapping
 * of a "view" buffer that mirrors the array, so firmware executes from bank 0 and reads its
 * variables from bank 1 without exits, while every write exits to this model. A command that
 * leaves read-array mode unmaps the view (hyp_vcpu_exit_unmap(), from the MMIO callback) and the
 * bank's reads come here and get status, identifier or query data; read-array maps it again, with
 * the bytes programmed or erased meanwhile copied in. Bank 0's view covers the firmware (rounded
 * up to a page; the rest of the bank is always served here), bank 1's the whole bank.
 *
 * The library allows that remapping only while the writing vCPU is the only one inside
 * hyp_vcpu_run(). When others are (an SMP guest; a secondary vCPU waiting for PSCI CPU_ON counts),
 * the model keeps the mapping and rewrites the view's contents instead with what the chips would
 * answer (a status word everywhere, identifier or query data at the start of each block), and
 * copies the array back at read-array: still what a real flash shows, at the cost of a copy of the
 * view per mode change.
 *
 * Bank 0 is locked down (as a write-protected firmware flash: QEMU's readonly pflash0): program
 * and erase fail with the block-locked status bits, and the firmware bytes never change. Bank 1's
 * blocks start unlocked (lock bits are volatile, as QEMU's) and every completed program or erase is
 * written back to the variable-store file at once, so nothing is lost if the VMM dies.
 *
 * Operations complete instantly: the status register is ready (SR.7) whenever it is read, and
 * suspend/resume are accepted and do nothing.
 */
#include "hyp_string.h"

#include "dev-internal.h"

#if defined(HYP_HOSTED) && HYP_HOSTED
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#define BANK_WIDTH 4u		/* bytes per bus word */
#define CHIP_WIDTH 2u		/* x16 chips: two per bus word */
#define BLOCK_SIZE (256u << 10) /* per bank (128 KiB per chip) */
#define WRITE_BUFFER_CHIP 64u	/* bytes per chip */
#define WRITE_BUFFER (WRITE_BUFFER_CHIP * (BANK_WIDTH / CHIP_WIDTH)) /* 128 bytes per bank */
#define WRITE_BUFFER_WORDS (WRITE_BUFFER / BANK_WIDTH)

/* Commands (low byte of the written value). */
#define CMD_READ_ARRAY 0xff
#define CMD_AMD_RESET 0xf0 /* not Intel: probes for AMD parts write it; taken as read-array */
#define CMD_READ_STATUS 0x70
#define CMD_CLEAR_STATUS 0x50
#define CMD_READ_ID 0x90
#define CMD_CFI_QUERY 0x98
#define CMD_PROGRAM 0x40
#define CMD_PROGRAM_ALT 0x10
#define CMD_BUFFERED_PROGRAM 0xe8
#define CMD_BLOCK_ERASE 0x20
#define CMD_CONFIRM 0xd0 /* erase/buffer confirm, unlock block, resume */
#define CMD_SUSPEND 0xb0
#define CMD_LOCK_SETUP 0x60
#define CMD_LOCK_BLOCK 0x01
#define CMD_LOCK_DOWN 0x2f

/* Status register. */
#define SR_READY (1u << 7)
#define SR_ERASE_ERROR (1u << 5)
#define SR_PROGRAM_ERROR (1u << 4)
#define SR_BLOCK_LOCKED (1u << 1)
#define SR_SEQUENCE_ERROR (SR_ERASE_ERROR | SR_PROGRAM_ERROR)
#define SR_ERRORS (SR_ERASE_ERROR | SR_PROGRAM_ERROR | (1u << 3) | SR_BLOCK_LOCKED)

/* Identifier codes (read-identifier mode, word offsets within a block): Intel, 0x18 as QEMU's
 * virt flash reports, and the block's lock status (bit 0 locked, bit 1 locked down). */
#define ID_MANUFACTURER 0x89
#define ID_DEVICE 0x18

#define LOCKED 1u
#define LOCKED_DOWN 2u

enum read_mode { MODE_ARRAY, MODE_STATUS, MODE_ID, MODE_QUERY };

/* What the next write means. */
enum pending {
	PEND_NONE,
	PEND_PROGRAM,	    /* after 0x40/0x10: the data word */
	PEND_ERASE,	    /* after 0x20: 0xd0 at the block */
	PEND_LOCK,	    /* after 0x60: 0x01, 0xd0 or 0x2f */
	PEND_BUFFER_COUNT,  /* after 0xe8: words - 1 */
	PEND_BUFFER_DATA,   /* the words */
	PEND_BUFFER_CONFIRM /* 0xd0 */
};

struct bank {
	uint8_t *array;	 /* bank_size bytes (bank 0: only code_size stored, the rest erased) */
	uint64_t stored; /* bytes of array that exist */
	uint8_t *locks;	 /* one byte per block */
	enum read_mode mode;
	enum pending pending;
	uint8_t status;
	/* Buffered program in progress. */
	uint64_t buf_block;  /* the block 0xe8 was written to */
	uint64_t buf_window; /* bank offset of the write-buffer window (UINT64_MAX before data) */
	uint32_t buf_words;  /* data writes expected */
	uint32_t buf_done;   /* received */
	uint32_t buf_lo, buf_hi; /* the bytes of the window written, [lo, hi) */
	uint8_t buf[WRITE_BUFFER];
	/* The guest-visible mapping, what it shows now, and the array bytes changed since it was
	 * last brought up to date ([dirty_lo, dirty_hi), empty when equal). */
	uint8_t *view;
	uint64_t view_size;
	enum read_mode view_mode;
	uint8_t view_status;
	bool mapped;
	bool owns_array;
	uint64_t dirty_lo, dirty_hi;
};

struct hyp_cfi_flash {
	struct hyp_vm *vm;
	hyp_ipa_t base;
	uint64_t bank_size;
	struct hyp__dev_lock lock;
	struct bank banks[2];
	int vars_fd; /* -1: nothing to write back to */
	uint8_t query[0x40];
	uint32_t query_len;
};

static uint32_t log2_u64(uint64_t v)
{
	uint32_t n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

/* The CFI query table one chip answers (word offsets 0x10 onwards; JESD68 layout, Intel primary
 * extended table at 0x31). */
static void build_query(struct hyp_cfi_flash *f)
{
	uint8_t *q = f->query;
	uint64_t chip_size = f->bank_size / (BANK_WIDTH / CHIP_WIDTH);
	uint32_t chip_block = BLOCK_SIZE / (BANK_WIDTH / CHIP_WIDTH);
	uint32_t blocks = (uint32_t)(chip_size / chip_block);

	memset(q, 0, sizeof(f->query));
	q[0x10] = 'Q';
	q[0x11] = 'R';
	q[0x12] = 'Y';
	q[0x13] = 0x01; /* primary command set: Intel/Sharp extended */
	q[0x15] = 0x31; /* primary extended table address */
	q[0x1b] = 0x27; /* Vcc min 2.7 V */
	q[0x1c] = 0x36; /* Vcc max 3.6 V */
	q[0x1f] = 0x06; /* typical word program 2^6 us */
	q[0x20] = 0x08; /* typical buffer program 2^8 us */
	q[0x21] = 0x0a; /* typical block erase 2^10 ms */
	q[0x23] = 0x04; /* maxima: 2^4 times the typical */
	q[0x24] = 0x04;
	q[0x25] = 0x04;
	q[0x27] = (uint8_t)log2_u64(chip_size);
	q[0x28] = 0x01; /* x16 asynchronous interface */
	q[0x2a] = (uint8_t)log2_u64(WRITE_BUFFER_CHIP);
	q[0x2c] = 1; /* one erase block region */
	q[0x2d] = (uint8_t)((blocks - 1) & 0xff);
	q[0x2e] = (uint8_t)((blocks - 1) >> 8);
	q[0x2f] = (uint8_t)((chip_block / 256) & 0xff);
	q[0x30] = (uint8_t)((chip_block / 256) >> 8);
	q[0x31] = 'P';
	q[0x32] = 'R';
	q[0x33] = 'I';
	q[0x34] = '1';
	q[0x35] = '0';
	q[0x36] = 0x26; /* erase suspend, program suspend, instant individual block locking */
	q[0x3a] = 0x01; /* program allowed in erase suspend */
	q[0x3b] = 0x03; /* block status: lock and lock-down bits */
	q[0x3d] = 0x33; /* Vcc optimum 3.3 V */
	f->query_len = 0x3f;
}

static uint64_t replicate(uint16_t chip_value)
{
	uint32_t word = chip_value | (uint32_t)chip_value << 16;

	return word | (uint64_t)word << 32;
}

/* The 16-bit answer of each chip at bank offset @offset in a non-array mode. */
static uint16_t chip_answer(const struct hyp_cfi_flash *f, const struct bank *b,
			    enum read_mode mode, uint8_t status, uint64_t offset)
{
	uint64_t word = (offset % BLOCK_SIZE) / BANK_WIDTH;

	switch (mode) {
	case MODE_STATUS:
		return status;
	case MODE_ID:
		/* Identifier codes decode the word offset within the block (lock status at +2). */
		if (word == 0)
			return ID_MANUFACTURER;
		if (word == 1)
			return ID_DEVICE;
		if (word == 2)
			return b->locks[offset / BLOCK_SIZE];
		return 0;
	case MODE_QUERY:
		return word < f->query_len ? f->query[word] : 0;
	default:
		return 0;
	}
}

static uint8_t array_byte(const struct bank *b, uint64_t offset)
{
	return offset < b->stored ? b->array[offset] : 0xff;
}

static void mark_dirty(struct bank *b, uint64_t offset, uint64_t len)
{
	if (offset >= b->view_size)
		return;
	if (offset + len > b->view_size)
		len = b->view_size - offset;
	if (b->dirty_lo == b->dirty_hi) {
		b->dirty_lo = offset;
		b->dirty_hi = offset + len;
		return;
	}
	if (offset < b->dirty_lo)
		b->dirty_lo = offset;
	if (offset + len > b->dirty_hi)
		b->dirty_hi = offset + len;
}

/* Make a bank's view show what the chips answer now; a no-op when it shows that already. */
static void update_view(struct hyp_cfi_flash *f, struct bank *b)
{
	if (b->mode == MODE_ARRAY && b->view_mode == MODE_ARRAY) {
		/* Only what program and erase changed. */
		if (b->dirty_lo < b->dirty_hi)
			memcpy(b->view + b->dirty_lo, b->array + b->dirty_lo,
			       b->dirty_hi - b->dirty_lo);
		b->dirty_lo = b->dirty_hi = 0;
		return;
	}
	if (b->mode == b->view_mode && (b->mode != MODE_STATUS || b->status == b->view_status))
		return;
	if (b->mode == MODE_ARRAY) {
		uint64_t n = b->stored < b->view_size ? b->stored : b->view_size;

		memcpy(b->view, b->array, n);
		memset(b->view + n, 0xff, b->view_size - n);
		b->dirty_lo = b->dirty_hi = 0;
	} else if (b->mode == MODE_STATUS) {
		uint64_t v = replicate(b->status);

		for (uint64_t o = 0; o < b->view_size; o += 8)
			memcpy(b->view + o, &v, 8);
	} else {
		/* Identifier and query answers are zero but for the first words of each block. */
		memset(b->view, 0, b->view_size);
		for (uint64_t blk = 0; blk < b->view_size; blk += BLOCK_SIZE) {
			for (uint64_t w = 0; w < 0x40 && blk + w * BANK_WIDTH < b->view_size; w++) {
				uint32_t v = (uint32_t)replicate(chip_answer(
					f, b, b->mode, b->status, blk + w * BANK_WIDTH));

				memcpy(b->view + blk + w * BANK_WIDTH, &v, 4);
			}
		}
	}
	b->view_mode = b->mode;
	b->view_status = b->status;
}

/* Write back bank 1's bytes [@offset, @offset + @len) to the variable-store file. */
static void persist(struct hyp_cfi_flash *f, unsigned bank, uint64_t offset, uint64_t len)
{
#if defined(HYP_HOSTED) && HYP_HOSTED
	const uint8_t *p = f->banks[bank].array + offset;

	if (bank != 1 || f->vars_fd < 0)
		return;
	while (len) {
		ssize_t n = pwrite(f->vars_fd, p, len, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			dev_err(f->vm, "cfi-flash: writing the variable store back failed: %s",
				n < 0 ? hyp_strerror(-errno) : "short write");
			return;
		}
		p += n;
		offset += (uint64_t)n;
		len -= (uint64_t)n;
	}
#else
	(void)f;
	(void)bank;
	(void)offset;
	(void)len;
#endif
}

static bool block_locked(const struct bank *b, uint64_t offset)
{
	return b->locks[offset / BLOCK_SIZE] != 0;
}

/* Program: NOR cells only go from 1 to 0, so the new contents are the old AND the data. */
static void program(struct hyp_cfi_flash *f, unsigned bank, uint64_t offset, const uint8_t *data,
		    uint64_t len)
{
	struct bank *b = &f->banks[bank];

	if (block_locked(b, offset)) {
		b->status |= SR_BLOCK_LOCKED | SR_PROGRAM_ERROR;
		return;
	}
	if (offset + len > b->stored) /* bank 0 beyond the firmware: locked down anyway */
		return;
	for (uint64_t i = 0; i < len; i++)
		b->array[offset + i] &= data[i];
	mark_dirty(b, offset, len);
	persist(f, bank, offset, len);
}

static void erase(struct hyp_cfi_flash *f, unsigned bank, uint64_t offset)
{
	struct bank *b = &f->banks[bank];
	uint64_t start = offset & ~(uint64_t)(BLOCK_SIZE - 1);

	if (block_locked(b, start)) {
		b->status |= SR_BLOCK_LOCKED | SR_ERASE_ERROR;
		return;
	}
	if (start + BLOCK_SIZE > b->stored)
		return;
	memset(b->array + start, 0xff, BLOCK_SIZE);
	mark_dirty(b, start, BLOCK_SIZE);
	persist(f, bank, start, BLOCK_SIZE);
}

static void sequence_error(struct bank *b)
{
	b->status |= SR_SEQUENCE_ERROR;
	b->pending = PEND_NONE;
	b->mode = MODE_STATUS;
}

/*
 * One data write of a buffered program. Each write is one word of the count, whatever its width (an
 * 8-byte store counts as the two bus words it carries), and all must fall in one aligned
 * write-buffer window of the block the command went to.
 */
static void buffer_data(struct bank *b, uint64_t offset, const uint8_t *bytes, uint32_t len)
{
	uint64_t window = offset & ~(uint64_t)(WRITE_BUFFER - 1);
	uint32_t words = len > BANK_WIDTH ? len / BANK_WIDTH : 1;
	uint32_t at = (uint32_t)(offset - window);

	if (b->buf_window == UINT64_MAX) {
		if ((offset & ~(uint64_t)(BLOCK_SIZE - 1)) != b->buf_block) {
			sequence_error(b);
			return;
		}
		b->buf_window = window;
		b->buf_lo = WRITE_BUFFER;
		b->buf_hi = 0;
		memset(b->buf, 0xff, sizeof(b->buf));
	}
	/* Accesses are naturally aligned and at most 8 bytes: one that starts in the window
	 * ends in it. */
	if (window != b->buf_window || b->buf_done + words > b->buf_words) {
		sequence_error(b);
		return;
	}
	for (uint32_t i = 0; i < len; i++)
		b->buf[at + i] &= bytes[i];
	if (at < b->buf_lo)
		b->buf_lo = at;
	if (at + len > b->buf_hi)
		b->buf_hi = at + len;
	b->buf_done += words;
	if (b->buf_done == b->buf_words)
		b->pending = PEND_BUFFER_CONFIRM;
}

/* A write of @len bytes (1, 2, 4 or 8, naturally aligned) at bank offset @offset. */
static void bank_write(struct hyp_cfi_flash *f, unsigned bank, uint64_t offset, uint32_t len,
		       uint64_t data)
{
	struct bank *b = &f->banks[bank];
	uint8_t bytes[8];
	uint8_t cmd = (uint8_t)data;

	for (unsigned i = 0; i < 8; i++)
		bytes[i] = (uint8_t)(data >> (8 * i));
	switch (b->pending) {
	case PEND_PROGRAM:
		b->pending = PEND_NONE;
		b->mode = MODE_STATUS;
		program(f, bank, offset, bytes, len);
		return;
	case PEND_ERASE:
		if (cmd != CMD_CONFIRM) {
			sequence_error(b);
			return;
		}
		b->pending = PEND_NONE;
		b->mode = MODE_STATUS;
		erase(f, bank, offset);
		return;
	case PEND_LOCK:
		b->pending = PEND_NONE;
		b->mode = MODE_STATUS;
		if (cmd == CMD_LOCK_BLOCK)
			b->locks[offset / BLOCK_SIZE] |= LOCKED;
		else if (cmd == CMD_LOCK_DOWN)
			b->locks[offset / BLOCK_SIZE] |= LOCKED | LOCKED_DOWN;
		else if (cmd == CMD_CONFIRM) {
			/* Lock-down holds until reset: unlocking such a block fails. */
			if (b->locks[offset / BLOCK_SIZE] & LOCKED_DOWN)
				b->status |= SR_BLOCK_LOCKED | SR_ERASE_ERROR;
			else
				b->locks[offset / BLOCK_SIZE] = 0;
		} else
			sequence_error(b);
		return;
	case PEND_BUFFER_COUNT: {
		uint32_t words = (uint32_t)(data & 0xffff) + 1;

		if (words > WRITE_BUFFER_WORDS ||
		    (offset & ~(uint64_t)(BLOCK_SIZE - 1)) != b->buf_block) {
			sequence_error(b);
			return;
		}
		b->buf_words = words;
		b->buf_done = 0;
		b->buf_window = UINT64_MAX;
		b->pending = PEND_BUFFER_DATA;
		return;
	}
	case PEND_BUFFER_DATA:
		buffer_data(b, offset, bytes, len);
		return;
	case PEND_BUFFER_CONFIRM:
		if (cmd != CMD_CONFIRM) {
			sequence_error(b);
			return;
		}
		b->pending = PEND_NONE;
		b->mode = MODE_STATUS;
		program(f, bank, b->buf_window + b->buf_lo, b->buf + b->buf_lo,
			b->buf_hi - b->buf_lo);
		return;
	case PEND_NONE:
		break;
	}
	switch (cmd) {
	case CMD_READ_ARRAY:
	case CMD_AMD_RESET:
		b->mode = MODE_ARRAY;
		break;
	case CMD_READ_STATUS:
		b->mode = MODE_STATUS;
		break;
	case CMD_CLEAR_STATUS:
		b->status &= (uint8_t)~SR_ERRORS;
		break;
	case CMD_READ_ID:
		b->mode = MODE_ID;
		break;
	case CMD_CFI_QUERY:
		b->mode = MODE_QUERY;
		break;
	case CMD_PROGRAM:
	case CMD_PROGRAM_ALT:
		b->pending = PEND_PROGRAM;
		b->mode = MODE_STATUS;
		break;
	case CMD_BLOCK_ERASE:
		b->pending = PEND_ERASE;
		b->mode = MODE_STATUS;
		break;
	case CMD_LOCK_SETUP:
		b->pending = PEND_LOCK;
		b->mode = MODE_STATUS;
		break;
	case CMD_BUFFERED_PROGRAM:
		/* Reads now return the extended status: buffer available (SR.7). */
		b->pending = PEND_BUFFER_COUNT;
		b->buf_block = offset & ~(uint64_t)(BLOCK_SIZE - 1);
		b->mode = MODE_STATUS;
		break;
	case CMD_SUSPEND:
	case CMD_CONFIRM: /* resume: nothing is ever suspended */
		break;
	default:
		/* Reserved codes do nothing on the chips this models. */
		dev_dbg(f->vm, "cfi-flash: bank %u: unknown command %#x ignored", bank, cmd);
		break;
	}
}

static uint64_t bank_read(const struct hyp_cfi_flash *f, const struct bank *b, uint64_t offset,
			  uint32_t len)
{
	uint64_t value = 0;

	if (b->mode == MODE_ARRAY) {
		for (uint32_t i = 0; i < len; i++)
			value |= (uint64_t)array_byte(b, offset + i) << (8 * i);
		return value;
	}
	/* Non-array answers repeat per bus word: take the bytes the access covers. */
	for (uint32_t i = 0; i < len; i++) {
		uint64_t o = offset + i;
		uint64_t word = replicate(chip_answer(f, b, b->mode, b->status, o & ~3ull));

		value |= ((word >> (8 * (o & 3))) & 0xff) << (8 * i);
	}
	return value;
}

static hyp_ipa_t bank_base(const struct hyp_cfi_flash *f, unsigned bank)
{
	return f->base + bank * f->bank_size;
}

/*
 * After a write: a bank in read-array mode is memory, in any other mode it is served here. When
 * the mapping cannot change (another vCPU is running), the view's contents change instead; when
 * it cannot be mapped again, reads stay here (correct, only slower).
 */
static void sync_mapping(struct hyp_cfi_flash *f, unsigned bank, struct hyp_vcpu *vcpu)
{
	struct bank *b = &f->banks[bank];

	if (b->mode != MODE_ARRAY) {
		if (b->mapped && !hyp_vcpu_exit_unmap(vcpu, bank_base(f, bank), b->view_size))
			b->mapped = false;
		if (b->mapped)
			update_view(f, b);
		return;
	}
	update_view(f, b);
	if (!b->mapped &&
	    !hyp_vcpu_exit_map(vcpu, bank_base(f, bank), b->view, b->view_size, HYP_MEM_RX))
		b->mapped = true;
}

static enum hyp_handler_result flash_mmio(void *opaque, struct hyp_vcpu *vcpu,
					  struct hyp_mmio_access *access)
{
	struct hyp_cfi_flash *f = opaque;
	uint64_t offset = access->offset;
	unsigned bank;

	/* Both banks are one range: an access must be naturally aligned and inside one bank (so
	 * nothing is ever read or written outside the banks). Anything else is read-as-zero /
	 * write-ignored, as a bus that drops it. */
	if ((access->len != 1 && access->len != 2 && access->len != 4 && access->len != 8) ||
	    (offset & (access->len - 1)) || offset >= 2 * f->bank_size ||
	    offset + access->len > 2 * f->bank_size) {
		dev_dbg(f->vm, "cfi-flash: bad %u-byte access at offset %#llx ignored",
			(unsigned)access->len, (unsigned long long)offset);
		if (!access->is_write)
			access->data = 0;
		return HYP_HANDLED;
	}
	bank = offset >= f->bank_size;
	offset -= bank * f->bank_size;
	hyp__dev_lock(&f->lock);
	if (access->is_write) {
		bank_write(f, bank, offset, access->len, access->data);
		sync_mapping(f, bank, vcpu);
	} else {
		access->data = bank_read(f, &f->banks[bank], offset, access->len);
	}
	hyp__dev_unlock(&f->lock);
	return HYP_HANDLED;
}

static bool is_power_of_two(uint64_t v)
{
	return v && !(v & (v - 1));
}

static int unmap_banks(struct hyp_cfi_flash *f)
{
	for (unsigned i = 0; i < 2; i++) {
		if (f->banks[i].mapped) {
			int r = hyp_vm_unmap(f->vm, bank_base(f, i), f->banks[i].view_size);

			if (r)
				return r;
			f->banks[i].mapped = false;
		}
	}
	return 0;
}

static void free_flash(struct hyp_cfi_flash *f)
{
	uint64_t blocks = f->bank_size / BLOCK_SIZE;

	for (unsigned i = 0; i < 2; i++) {
		struct bank *b = &f->banks[i];

		if (b->owns_array && b->array)
			hyp_vm_free(f->vm, b->array, b->stored);
		if (b->view)
			hyp_vm_free(f->vm, b->view, b->view_size);
		if (b->locks)
			hyp_vm_free(f->vm, b->locks, blocks);
	}
#if defined(HYP_HOSTED) && HYP_HOSTED
	if (f->vars_fd >= 0)
		close(f->vars_fd);
#endif
	hyp__dev_lock_fini(&f->lock);
	hyp_vm_free(f->vm, f, sizeof(*f));
}

/* Open the variable store and read it into @b->array. */
static int load_vars(struct hyp_cfi_flash *f, struct bank *b, const char *path)
{
#if defined(HYP_HOSTED) && HYP_HOSTED
	struct stat st;
	uint64_t done = 0;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		int r = -errno;

		dev_err(f->vm, "cfi-flash: cannot open the variable store %s: %s", path,
			hyp_strerror(r));
		return r;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != f->bank_size) {
		dev_err(f->vm,
			"cfi-flash: the variable store %s must be a file of exactly %llu bytes",
			path, (unsigned long long)f->bank_size);
		close(fd);
		return -EINVAL;
	}
	while (done < f->bank_size) {
		ssize_t n = pread(fd, b->array + done, f->bank_size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			dev_err(f->vm, "cfi-flash: reading the variable store %s failed", path);
			close(fd);
			return n < 0 ? -errno : -EIO;
		}
		done += (uint64_t)n;
	}
	f->vars_fd = fd;
	return 0;
#else
	(void)f;
	(void)b;
	(void)path;
	return -ENOTSUP;
#endif
}

HYP_API int hyp_cfi_flash_create(struct hyp_vm *vm, const struct hyp_cfi_flash_config *config,
				 struct hyp_cfi_flash **ret)
{
	struct hyp_cfi_flash_config cfg;
	struct hyp_cfi_flash *f;
	uint64_t blocks;
	int r;

	if (!vm || !config || !ret)
		return -EINVAL;
	r = hyp__dev_copy_config(
		&cfg, sizeof(cfg),
		offsetof(struct hyp_cfi_flash_config, vars_path) + sizeof(cfg.vars_path), config);
	if (r)
		return r;
	if (cfg.flags || !cfg.code || !cfg.code_size || (cfg.vars && cfg.vars_path))
		return -EINVAL;
	if (!cfg.bank_size)
		cfg.bank_size = HYP_DEFAULT_FLASH_BANK_SIZE;
	/* The CFI device size is a power of two, and the chips hold whole blocks. */
	if (!is_power_of_two(cfg.bank_size) || cfg.bank_size < 2 * BLOCK_SIZE ||
	    cfg.bank_size > (1ull << 30) || (cfg.base & (cfg.bank_size - 1)) ||
	    cfg.base + 2 * cfg.bank_size < cfg.base)
		return -EINVAL;
	if (cfg.code_size > cfg.bank_size) {
		dev_err(vm, "cfi-flash: firmware of %llu bytes does not fit a %llu-byte bank",
			(unsigned long long)cfg.code_size, (unsigned long long)cfg.bank_size);
		return -ENOSPC;
	}
#if !(defined(HYP_HOSTED) && HYP_HOSTED)
	if (cfg.vars_path)
		return -ENOTSUP;
#endif

	f = hyp_vm_alloc(vm, sizeof(*f), _Alignof(struct hyp_cfi_flash));
	if (!f)
		return -ENOMEM;
	f->vm = vm;
	f->base = cfg.base;
	f->bank_size = cfg.bank_size;
	f->vars_fd = -1;
	r = hyp__dev_lock_init(&f->lock);
	if (r) {
		hyp_vm_free(vm, f, sizeof(*f));
		return r;
	}
	build_query(f);
	blocks = f->bank_size / BLOCK_SIZE;
	for (unsigned i = 0; i < 2; i++) {
		struct bank *b = &f->banks[i];

		b->mode = b->view_mode = MODE_ARRAY;
		b->status = SR_READY;
		b->locks = hyp_vm_alloc(vm, blocks, 1);
		if (!b->locks) {
			r = -ENOMEM;
			goto fail;
		}
	}
	/* Bank 0: the firmware, locked down, with its mapped view. */
	memset(f->banks[0].locks, LOCKED | LOCKED_DOWN, blocks);
	f->banks[0].stored = cfg.code_size;
	f->banks[0].array = hyp_vm_alloc(vm, cfg.code_size, 8);
	f->banks[0].owns_array = true;
	f->banks[0].view_size = (cfg.code_size + HYP_PAGE_SIZE - 1) &
				~(uint64_t)(HYP_PAGE_SIZE - 1);
	f->banks[0].view = hyp_vm_alloc(vm, f->banks[0].view_size, HYP_PAGE_SIZE);
	if (!f->banks[0].array || !f->banks[0].view) {
		r = -ENOMEM;
		goto fail;
	}
	memcpy(f->banks[0].array, cfg.code, cfg.code_size);
	memcpy(f->banks[0].view, cfg.code, cfg.code_size);
	memset(f->banks[0].view + cfg.code_size, 0xff, f->banks[0].view_size - cfg.code_size);
	/* Bank 1: the caller's buffer, a file's contents, or an erased volatile store. */
	f->banks[1].stored = f->bank_size;
	f->banks[1].view_size = f->bank_size;
	f->banks[1].view = hyp_vm_alloc(vm, f->bank_size, HYP_PAGE_SIZE);
	if (!f->banks[1].view) {
		r = -ENOMEM;
		goto fail;
	}
	if (cfg.vars) {
		f->banks[1].array = cfg.vars;
	} else {
		f->banks[1].array = hyp_vm_alloc(vm, f->bank_size, 8);
		f->banks[1].owns_array = true;
		if (!f->banks[1].array) {
			r = -ENOMEM;
			goto fail;
		}
		if (cfg.vars_path)
			r = load_vars(f, &f->banks[1], cfg.vars_path);
		else
			memset(f->banks[1].array, 0xff, f->bank_size);
		if (r)
			goto fail;
	}
	memcpy(f->banks[1].view, f->banks[1].array, f->bank_size);

	for (unsigned i = 0; i < 2; i++) {
		r = hyp_vm_map(vm, bank_base(f, i), f->banks[i].view, f->banks[i].view_size,
			       HYP_MEM_RX);
		if (r) {
			dev_err(vm, "cfi-flash: cannot map flash bank %u: %s", i, hyp_strerror(r));
			goto fail;
		}
		f->banks[i].mapped = true;
	}
	r = hyp_vm_add_mmio_handler(vm, f->base, 2 * f->bank_size, flash_mmio, f);
	if (r)
		goto fail;
	*ret = f;
	return 0;
fail:
	unmap_banks(f);
	free_flash(f);
	return r;
}

HYP_API void hyp_cfi_flash_destroy(struct hyp_cfi_flash *flash)
{
	int r;

	if (!flash)
		return;
	r = hyp_vm_remove_mmio_handler(flash->vm, flash->base);
	if (!r)
		r = unmap_banks(flash);
	if (r) {
		dev_err(flash->vm, "cfi-flash@%#llx: cannot detach (%s); device left attached",
			(unsigned long long)flash->base, hyp_strerror(r));
		return;
	}
	free_flash(flash);
}
