/* SPDX-License-Identifier: MIT */
/*
 * The CFI flash model on the mock backend: creation errors, read-array through the mapping and
 * through MMIO, the CFI query table, identifier codes, status bits, word and buffered program,
 * block erase, locking, bank 0's lock-down and its mapped view, persistence to the variable-store
 * file, and random hostile command sequences with invariants (nothing written outside the banks,
 * the firmware never changes, the file keeps its size and mirrors bank 1).
 * Command codes and status bits: the Intel/Sharp command set; table layout: CFI (JESD68).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-helpers.h"

#include <libhyp/dev.h>

#define BANK (1u << 20) /* small banks keep the tests quick: 4 blocks each */
#define BLOCK (256u << 10)
#define BANK1 ((uint64_t)BANK)
#define FW_SIZE 10000u

#define SR_READY 0x80u
#define SR_ERASE 0x20u
#define SR_PROGRAM 0x10u
#define SR_LOCKED 0x02u

static uint8_t firmware[FW_SIZE];

struct flash_test {
	struct test_vm t;
	struct hyp_cfi_flash *flash;
	char path[64];
	int fd;
};

static uint32_t rep(uint32_t chip)
{
	return chip | chip << 16;
}

static void wr(struct flash_test *f, uint64_t ipa, uint32_t len, uint64_t value)
{
	assert_int_equal(hyp_vcpu_set_reg(f->t.vcpu, HYP_REG_X(1), value), 0);
	assert_int_equal(hyp_mock_push_mmio(f->t.vcpu, ipa, len, 1,
					    HYP_MOCK_MMIO_WRITE |
						    (len == 8 ? HYP_MOCK_MMIO_REG64 : 0)),
			 0);
	test_run_to_end(f->t.vcpu);
}

static void cmd(struct flash_test *f, uint64_t ipa, uint32_t c)
{
	wr(f, ipa, 4, rep(c));
}

static uint64_t rd(struct flash_test *f, uint64_t ipa, uint32_t len)
{
	assert_int_equal(hyp_vcpu_set_reg(f->t.vcpu, HYP_REG_X(2), 0xdeadbeefdeadbeefull), 0);
	assert_int_equal(
		hyp_mock_push_mmio(f->t.vcpu, ipa, len, 2, len == 8 ? HYP_MOCK_MMIO_REG64 : 0), 0);
	test_run_to_end(f->t.vcpu);
	return test_reg(f->t.vcpu, HYP_REG_X(2));
}

/* What the guest reads from the mapped part of bank 0 (memory, not MMIO). */
static uint32_t view32(struct flash_test *f, uint64_t ipa)
{
	uint32_t v;

	assert_int_equal(hyp_vm_read_guest(f->t.vm, ipa, &v, 4), 0);
	return v;
}

static void setup_with_file(struct flash_test *f, bool with_file)
{
	struct hyp_cfi_flash_config cfg = {
		.size = sizeof(cfg),
		.bank_size = BANK,
		.code = firmware,
		.code_size = FW_SIZE,
	};

	for (unsigned i = 0; i < FW_SIZE; i++)
		firmware[i] = (uint8_t)(i * 7 + 3);
	test_vm_create(&f->t);
	f->fd = -1;
	if (with_file) {
		strcpy(f->path, "/tmp/libhyp-flash-XXXXXX");
		f->fd = mkstemp(f->path);
		assert_true(f->fd >= 0);
		assert_int_equal(ftruncate(f->fd, BANK), 0);
		{
			static uint8_t erased[BANK];

			memset(erased, 0xff, sizeof(erased));
			assert_int_equal(pwrite(f->fd, erased, BANK, 0), BANK);
		}
		cfg.vars_path = f->path;
	}
	assert_int_equal(hyp_cfi_flash_create(f->t.vm, &cfg, &f->flash), 0);
	assert_non_null(f->flash);
}

static void teardown_flash(struct flash_test *f)
{
	hyp_cfi_flash_destroy(f->flash);
	test_vm_destroy(&f->t);
	if (f->fd >= 0) {
		close(f->fd);
		unlink(f->path);
	}
}

static uint32_t file32(struct flash_test *f, uint64_t offset)
{
	uint32_t v;

	assert_int_equal(pread(f->fd, &v, 4, (off_t)offset), 4);
	return v;
}

static void test_create_errors(void **state)
{
	struct test_vm t;
	struct hyp_cfi_flash_config cfg = { .size = sizeof(cfg),
					    .code = firmware,
					    .code_size = 16 };
	struct hyp_cfi_flash *flash = (void *)0x1;
	static uint8_t big[BANK + 1];
	uint8_t vars[BANK];
	char path[] = "/tmp/libhyp-flash-XXXXXX";
	int fd;

	(void)state;
	test_vm_create(&t);
	assert_int_equal(hyp_cfi_flash_create(NULL, &cfg, &flash), -EINVAL);
	assert_int_equal(hyp_cfi_flash_create(t.vm, NULL, &flash), -EINVAL);
	assert_int_equal(hyp_cfi_flash_create(t.vm, &cfg, NULL), -EINVAL);
	cfg.flags = 1;
	assert_int_equal(hyp_cfi_flash_create(t.vm, &cfg, &flash), -EINVAL);
	cfg.flags = 0;
	cfg.bank_size = 3u << 20; /* not a power of two */
	assert_int_equal(hyp_cfi_flash_create(t.vm, &cfg, &flash), -EINVAL);
	cfg.bank_size = 256u << 10; /* one block per chip pair: too small */
	assert_int_equal(hyp_cfi_flash_create(t.vm, &cfg, &flash), -EINVAL);
	cfg.bank_size = BANK;
	cfg.base = 0x1000; /* not bank aligned */
	assert_int_equal(hyp_cfi_flash_create(t.vm, &cfg, &flash), -EINVAL);
	cfg.base = 0;
	cfg.code = NULL;
	assert_int_equal(hyp_cfi_flash_create(t.vm, &cfg, &flash), -EINVAL);
	/* A firmware file larger than its bank. */
	cfg.code = big;
	cfg.code_size = sizeof(big);
	assert_int_equal(hyp_cfi_flash_create(t.vm, &cfg, &flash), -ENOSPC);
	cfg.code = firmware;
	cfg.code_size = 16;
	cfg.vars = vars;
	cfg.vars_path = "/nonexistent";
	assert_int_equal(hyp_cfi_flash_create(t.vm, &cfg, &flash), -EINVAL);
	cfg.vars = NULL;
	assert_int_equal(hyp_cfi_flash_create(t.vm, &cfg, &flash), -ENOENT);
	/* A variable store of the wrong size. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, BANK - 4096), 0);
	cfg.vars_path = path;
	assert_int_equal(hyp_cfi_flash_create(t.vm, &cfg, &flash), -EINVAL);
	assert_int_equal(ftruncate(fd, BANK + 1), 0);
	assert_int_equal(hyp_cfi_flash_create(t.vm, &cfg, &flash), -EINVAL);
	close(fd);
	unlink(path);
	/* Overlapping guest RAM. */
	cfg.vars_path = NULL;
	cfg.base = TEST_RAM_BASE;
	assert_int_equal(hyp_cfi_flash_create(t.vm, &cfg, &flash), -EEXIST);
	assert_ptr_equal(flash, (void *)0x1);
	/* Without read-only memory the firmware bank cannot be mapped. */
	test_vm_destroy(&t);
	{
		struct hyp_mock_config mc = { .size = sizeof(mc),
					      .flags = HYP_MOCK_NO_READONLY_MEM };
		struct hyp_vm_config vc = { .size = sizeof(vc),
					    .backend = "mock",
					    .backend_config = &mc };

		test_vm_create_with(&t, &vc);
		cfg.base = 0;
		assert_int_equal(hyp_cfi_flash_create(t.vm, &cfg, &flash), -ENOTSUP);
	}
	test_vm_destroy(&t);
	hyp_cfi_flash_destroy(NULL);
}

static void test_read_array(void **state)
{
	struct flash_test f;
	uint8_t got[FW_SIZE];

	(void)state;
	setup_with_file(&f, false);
	/* The firmware is memory at IPA 0: the guest executes and reads it without exits. */
	assert_int_equal(hyp_vm_read_guest(f.t.vm, 0, got, FW_SIZE), 0);
	assert_memory_equal(got, firmware, FW_SIZE);
	/* The rest of the last page is erased, and so is the unmapped rest of bank 0 (MMIO). */
	assert_int_equal(view32(&f, 12284), 0xffffffffu);
	assert_int_equal(rd(&f, 0x10000, 4), 0xffffffffu);
	assert_int_equal(rd(&f, 0x10000, 8), UINT64_MAX);
	assert_int_equal(rd(&f, BANK - 1, 1), 0xffu);
	/* Bank 1 starts erased without a file. */
	assert_int_equal(rd(&f, BANK1, 4), 0xffffffffu);
	assert_int_equal(rd(&f, BANK1 + 2, 2), 0xffffu);
	/* Misaligned or odd-sized accesses read as zero. */
	assert_int_equal(rd(&f, 0x10001, 4), 0);
	teardown_flash(&f);
}

static void test_cfi_query(void **state)
{
	struct flash_test f;
	static const uint8_t expect[][2] = {
		{ 0x10, 'Q' },	{ 0x11, 'R' },	{ 0x12, 'Y' }, { 0x13, 0x01 }, { 0x14, 0x00 },
		{ 0x15, 0x31 }, { 0x16, 0x00 }, { 0x27, 19 },  { 0x28, 0x01 }, { 0x2a, 6 },
		{ 0x2c, 1 },	{ 0x2d, 3 },	{ 0x2e, 0 },   { 0x2f, 0x00 }, { 0x30, 0x02 },
		{ 0x31, 'P' },	{ 0x32, 'R' },	{ 0x33, 'I' }, { 0x34, '1' },  { 0x3b, 0x03 },
	};

	(void)state;
	setup_with_file(&f, false);
	/* U-Boot's probe on a 32-bit bus of x16 chips: 0x98 at word 0x55, 'Q' 'R' 'Y' in both
	 * lanes of words 0x10..0x12. Chip size 2^19 (two chips make the 1 MiB bank), 4 blocks
	 * of 128 KiB per chip (y = 3, z = 512), 64-byte write buffer. */
	cmd(&f, BANK1 + 0x55 * 4, 0x98);
	for (unsigned i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
		assert_int_equal(rd(&f, BANK1 + expect[i][0] * 4u, 4), rep(expect[i][1]));
	/* Narrow reads see one lane's bytes; 8-byte reads two words. */
	assert_int_equal(rd(&f, BANK1 + 0x10 * 4, 1), 'Q');
	assert_int_equal(rd(&f, BANK1 + 0x10 * 4 + 2, 2), 'Q');
	assert_int_equal(rd(&f, BANK1 + 0x10 * 4, 8), (uint64_t)rep('R') << 32 | rep('Q'));
	assert_int_equal(rd(&f, BANK1 + 0x80 * 4, 4), 0); /* past the table */
	/* Bank 0 leaves guest memory while it is in query mode (its reads come to the model),
	 * and is memory again after read-array. Bank 1 likewise. */
	cmd(&f, 0x55 * 4, 0x98);
	{
		uint32_t v;

		assert_int_equal(hyp_vm_read_guest(f.t.vm, 0, &v, 4), -EFAULT);
		assert_int_equal(hyp_vm_read_guest(f.t.vm, BANK1, &v, 4), -EFAULT);
	}
	assert_int_equal(rd(&f, 0x10 * 4, 4), rep('Q'));
	assert_int_equal(rd(&f, 0x27 * 4, 4), rep(19));
	assert_int_equal(rd(&f, 0x100 * 4, 4), 0);
	cmd(&f, BANK1, 0xff);
	assert_int_equal(view32(&f, BANK1), 0xffffffffu);
	cmd(&f, 0, 0xff);
	assert_int_equal(view32(&f, 0x10 * 4), *(uint32_t *)&firmware[0x40]);
	/* AMD's reset (0xf0) also returns to read-array. */
	cmd(&f, BANK1, 0xf0);
	assert_int_equal(rd(&f, BANK1 + 0x10 * 4, 4), 0xffffffffu);
	teardown_flash(&f);
}

static void test_identifier_and_status(void **state)
{
	struct flash_test f;

	(void)state;
	setup_with_file(&f, false);
	cmd(&f, BANK1, 0x90);
	assert_int_equal(rd(&f, BANK1, 4), rep(0x89));
	assert_int_equal(rd(&f, BANK1 + 4, 4), rep(0x18));
	assert_int_equal(rd(&f, BANK1 + 8, 4), rep(0)); /* unlocked */
	assert_int_equal(rd(&f, BANK1 + BLOCK + 8, 4), rep(0));
	/* Bank 0 is locked down: lock status 3 in every block, the view shows the codes. */
	cmd(&f, 0, 0x90);
	assert_int_equal(rd(&f, 0, 4), rep(0x89));
	assert_int_equal(rd(&f, 8, 4), rep(3));
	assert_int_equal(rd(&f, BLOCK + 8, 4), rep(3));
	cmd(&f, 0, 0x70);
	assert_int_equal(rd(&f, 0, 4), rep(SR_READY));
	assert_int_equal(rd(&f, 0x2000, 4), rep(SR_READY));
	assert_int_equal(rd(&f, 3 * BLOCK, 4), rep(SR_READY));
	cmd(&f, 0, 0xff);
	assert_memory_equal(f.t.ram, (uint8_t[16]){ 0 }, 16); /* RAM untouched */
	assert_int_equal(view32(&f, 0), *(uint32_t *)firmware);
	/* Unknown commands change nothing: still identifier mode. */
	cmd(&f, BANK1, 0x90);
	cmd(&f, BANK1, 0x42);
	assert_int_equal(rd(&f, BANK1, 4), rep(0x89));
	teardown_flash(&f);
}

static void test_word_program_and_erase(void **state)
{
	struct flash_test f;

	(void)state;
	setup_with_file(&f, true);
	cmd(&f, BANK1 + 0x100, 0x40);
	assert_int_equal(rd(&f, BANK1 + 0x100, 4), rep(SR_READY)); /* status while pending */
	wr(&f, BANK1 + 0x100, 4, 0x12345678);
	assert_int_equal(rd(&f, BANK1 + 0x100, 4), rep(SR_READY));
	cmd(&f, BANK1, 0xff);
	assert_int_equal(rd(&f, BANK1 + 0x100, 4), 0x12345678);
	assert_int_equal(view32(&f, BANK1 + 0x100), 0x12345678); /* the mapping has it too */
	assert_int_equal(file32(&f, 0x100), 0x12345678);	 /* written back at once */
	/* Programming only clears bits. */
	cmd(&f, BANK1 + 0x100, 0x10);
	wr(&f, BANK1 + 0x100, 4, 0xff00ff0f);
	cmd(&f, BANK1, 0xff);
	assert_int_equal(rd(&f, BANK1 + 0x100, 4), 0x12005608);
	/* Narrow and wide programs. */
	cmd(&f, BANK1, 0x40);
	wr(&f, BANK1 + 0x201, 1, 0x5a);
	cmd(&f, BANK1, 0x40);
	wr(&f, BANK1 + 0x208, 8, 0x0102030405060708ull);
	cmd(&f, BANK1, 0xff);
	assert_int_equal(rd(&f, BANK1 + 0x200, 4), 0xffff5affu);
	assert_int_equal(rd(&f, BANK1 + 0x208, 8), 0x0102030405060708ull);
	/* Block erase: 0x20, then 0xd0 at an address in the block. */
	cmd(&f, BANK1 + 0x300, 0x20);
	cmd(&f, BANK1 + 0x300, 0xd0);
	assert_int_equal(rd(&f, BANK1, 4), rep(SR_READY));
	cmd(&f, BANK1, 0xff);
	assert_int_equal(rd(&f, BANK1 + 0x100, 4), 0xffffffffu);
	assert_int_equal(file32(&f, 0x100), 0xffffffffu);
	/* A broken erase sequence: SR.4 and SR.5 until clear status; nothing erased. */
	cmd(&f, BANK1 + BLOCK, 0x40);
	wr(&f, BANK1 + BLOCK, 4, 0);
	cmd(&f, BANK1 + BLOCK, 0x20);
	cmd(&f, BANK1 + BLOCK, 0xff);
	assert_int_equal(rd(&f, BANK1 + BLOCK, 4), rep(SR_READY | SR_ERASE | SR_PROGRAM));
	cmd(&f, BANK1 + BLOCK, 0x70);
	assert_int_equal(rd(&f, BANK1 + BLOCK, 4), rep(SR_READY | SR_ERASE | SR_PROGRAM));
	cmd(&f, BANK1 + BLOCK, 0x50);
	assert_int_equal(rd(&f, BANK1 + BLOCK, 4), rep(SR_READY));
	cmd(&f, BANK1, 0xff);
	assert_int_equal(rd(&f, BANK1 + BLOCK, 4), 0);
	teardown_flash(&f);

	/* The store survives: a new device on the same file sees the data. */
	setup_with_file(&f, true);
	cmd(&f, BANK1 + 0x40, 0x40);
	wr(&f, BANK1 + 0x40, 4, 0xcafef00d);
	hyp_cfi_flash_destroy(f.flash);
	{
		struct hyp_cfi_flash_config cfg = { .size = sizeof(cfg),
						    .bank_size = BANK,
						    .code = firmware,
						    .code_size = FW_SIZE,
						    .vars_path = f.path };

		assert_int_equal(hyp_cfi_flash_create(f.t.vm, &cfg, &f.flash), 0);
	}
	assert_int_equal(rd(&f, BANK1 + 0x40, 4), 0xcafef00du);
	teardown_flash(&f);
}

static void buffered(struct flash_test *f, uint64_t at, uint32_t words, uint32_t seed)
{
	cmd(f, at, 0xe8);
	assert_int_equal(rd(f, at, 4), rep(SR_READY)); /* buffer available */
	cmd(f, at, words - 1);
	for (uint32_t i = 0; i < words; i++)
		wr(f, at + 4 * i, 4, seed + i);
	cmd(f, at, 0xd0);
}

static void test_buffered_program(void **state)
{
	struct flash_test f;

	(void)state;
	setup_with_file(&f, true);
	/* A whole 128-byte buffer: 32 bus words (32 x16 words per chip, 64 bytes each). */
	buffered(&f, BANK1 + 0x1000, 32, 0x11110000);
	assert_int_equal(rd(&f, BANK1 + 0x1000, 4), rep(SR_READY));
	cmd(&f, BANK1, 0xff);
	for (uint32_t i = 0; i < 32; i++)
		assert_int_equal(rd(&f, BANK1 + 0x1000 + 4 * i, 4), 0x11110000 + i);
	assert_int_equal(rd(&f, BANK1 + 0x1080, 4), 0xffffffffu);
	assert_int_equal(file32(&f, 0x107c), 0x1111001f);
	/* Starting mid-window is fine as long as the words stay in the window. */
	buffered(&f, BANK1 + 0x2040, 16, 0x22220000);
	cmd(&f, BANK1, 0xff);
	assert_int_equal(rd(&f, BANK1 + 0x207c, 4), 0x2222000f);
	/* 8-byte stores fill two words. */
	cmd(&f, BANK1 + 0x3000, 0xe8);
	cmd(&f, BANK1 + 0x3000, 3);
	wr(&f, BANK1 + 0x3000, 8, 0x4444444433333333ull);
	wr(&f, BANK1 + 0x3008, 8, 0x6666666655555555ull);
	cmd(&f, BANK1 + 0x3000, 0xd0);
	cmd(&f, BANK1, 0xff);
	assert_int_equal(rd(&f, BANK1 + 0x3008, 8), 0x6666666655555555ull);

	struct {
		const char *what;
		uint32_t count;
		uint64_t data_at;
		bool confirm;
	} bad[] = {
		{ "count beyond the buffer", 32, 0x4000, true },
		{ "data outside the window", 2, 0x4078, true },
		{ "data in another block", 0, BLOCK + 0x4000, true },
		{ "no confirm", 0, 0x4000, false },
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cmd(&f, BANK1 + 0x50, 0x50);
		cmd(&f, BANK1 + 0x4000, 0xe8);
		cmd(&f, BANK1 + 0x4000, bad[i].count);
		wr(&f, BANK1 + bad[i].data_at, 4, 0);
		wr(&f, BANK1 + bad[i].data_at + 4, 4, 0);
		wr(&f, BANK1 + bad[i].data_at + 8, 4, 0);
		if (bad[i].confirm)
			cmd(&f, BANK1 + 0x4000, 0xd0);
		else
			cmd(&f, BANK1 + 0x4000, 0x70);
		print_message("# %s\n", bad[i].what);
		assert_int_equal(rd(&f, BANK1 + 0x4000, 4), rep(SR_READY | SR_ERASE | SR_PROGRAM));
		cmd(&f, BANK1, 0xff);
		/* Only a sequence error: nothing programmed where the error was found. */
		assert_int_equal(rd(&f, BANK1 + 0x4000 + 8, 4), 0xffffffffu);
	}
	/* An 8-byte store cannot be the last of an odd count. */
	cmd(&f, BANK1, 0x50);
	cmd(&f, BANK1 + 0x5000, 0xe8);
	cmd(&f, BANK1 + 0x5000, 0);
	wr(&f, BANK1 + 0x5000, 8, 0);
	assert_int_equal(rd(&f, BANK1, 4), rep(SR_READY | SR_ERASE | SR_PROGRAM));
	cmd(&f, BANK1, 0xff);
	assert_int_equal(rd(&f, BANK1 + 0x5000, 8), ~0ull);
	teardown_flash(&f);
}

/*
 * U-Boot's CFI driver on QEMU's virt board: it probes bus widths from 8 bits up, takes each bank for
 * a x16 part on a 16-bit bus, and writes every command and datum as a halfword: erase at 128 KiB
 * "sectors", 0xe8 and a count of 32 halfwords (a 64-byte buffer), the data, 0xd0, read array.
 * What it programs must be in the array, in the guest's mapped view and in the file.
 */
static void test_halfword_bus(void **state)
{
	struct flash_test f;
	uint16_t data[64];
	uint8_t got[128];

	(void)state;
	setup_with_file(&f, true);
	/* The probe that succeeds: query at word 0x55 of a 16-bit bus, 'Q' at halfword 0x20. */
	wr(&f, BANK1 + 0x154, 2, 0x98);
	assert_int_equal(rd(&f, BANK1 + 0x40, 2), 'Q');
	assert_int_equal(rd(&f, BANK1 + 0x44, 2), 'R');
	wr(&f, BANK1, 2, 0xff);
	/* Erase both 128 KiB "sectors" of the first block, after a word program somewhere. */
	wr(&f, BANK1 + 0x30000, 2, 0x40);
	wr(&f, BANK1 + 0x30000, 2, 0x1234);
	wr(&f, BANK1, 2, 0xff);
	assert_int_equal(rd(&f, BANK1 + 0x30000, 4), 0xffff1234u);
	for (uint64_t sector = 0; sector < BLOCK; sector += BLOCK / 2) {
		wr(&f, BANK1 + sector, 2, 0x50);
		wr(&f, BANK1 + sector, 2, 0x20);
		wr(&f, BANK1 + sector, 2, 0xd0);
		assert_int_equal(rd(&f, BANK1 + sector, 2), SR_READY);
		wr(&f, BANK1 + sector, 2, 0xff);
	}
	/* The erase took the whole 256 KiB block, as on QEMU. */
	assert_int_equal(rd(&f, BANK1 + 0x30000, 4), 0xffffffffu);
	for (unsigned i = 0; i < 64; i++)
		data[i] = (uint16_t)(0x4100 + i * 3);
	for (unsigned half = 0; half < 2; half++) {
		wr(&f, BANK1, 2, 0x50);
		wr(&f, BANK1, 2, 0x70);
		wr(&f, BANK1, 2, 0xe8);
		assert_int_equal(rd(&f, BANK1, 2), SR_READY);
		wr(&f, BANK1, 2, 31);
		for (unsigned i = 0; i < 32; i++)
			wr(&f, BANK1 + 64 * half + 2 * i, 2, data[32 * half + i]);
		wr(&f, BANK1, 2, 0xd0);
		assert_int_equal(rd(&f, BANK1, 2), SR_READY);
		wr(&f, BANK1, 2, 0xff);
	}
	/* Through MMIO, through the mapping the guest reads in read-array mode, and in the file. */
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(rd(&f, BANK1 + 2 * i, 2), data[i]);
	assert_int_equal(hyp_vm_read_guest(f.t.vm, BANK1, got, sizeof(got)), 0);
	assert_memory_equal(got, data, sizeof(got));
	assert_int_equal(pread(f.fd, got, sizeof(got), 0), (ssize_t)sizeof(got));
	assert_memory_equal(got, data, sizeof(got));
	assert_int_equal(file32(&f, 0x30000), 0xffffffffu);
	/* A byte program lands where it is written. */
	wr(&f, BANK1 + 0x201, 1, 0x40);
	wr(&f, BANK1 + 0x201, 1, 0x5a);
	wr(&f, BANK1, 2, 0xff);
	assert_int_equal(rd(&f, BANK1 + 0x200, 4), 0xffff5affu);
	teardown_flash(&f);
}

static void *run_secondary(void *opaque)
{
	int r;

	/* Powered off: waits inside hyp_vcpu_run() for CPU_ON until kicked. -EBUSY: the main
	 * thread was probing with hyp_vm_map() at that moment. */
	do
		r = hyp_vcpu_run(opaque);
	while (r == -EBUSY);
	return (void *)(intptr_t)r;
}

/*
 * With another vCPU inside hyp_vcpu_run() the model cannot remap (hyp_vcpu_exit_unmap() says
 * -EBUSY) and rewrites the mapped views instead: the guest's reads of the mapping show the status
 * register, the identifier and query answers, and the array again after read-array.
 */
static void test_views_with_a_second_vcpu(void **state)
{
	struct flash_test f;
	struct hyp_vcpu *second;
	pthread_t thread;
	void *ret;

	(void)state;
	setup_with_file(&f, true);
	assert_int_equal(hyp_vcpu_create(f.t.vm, NULL, &second), 0);
	assert_int_equal(pthread_create(&thread, NULL, run_secondary, second), 0);
	/* Wait until it is inside: then the VM cannot be reconfigured from here. */
	for (;;) {
		static uint8_t page[HYP_PAGE_SIZE] __attribute__((aligned(HYP_PAGE_SIZE)));
		int r = hyp_vm_map(f.t.vm, 0x30000000, page, sizeof(page), HYP_MEM_RWX);

		if (r == -EBUSY)
			break;
		assert_int_equal(r, 0);
		r = hyp_vm_unmap(f.t.vm, 0x30000000, sizeof(page));
		if (r == -EBUSY)
			break; /* the page stays mapped, out of the way */
		assert_int_equal(r, 0);
	}
	cmd(&f, BANK1 + 0x100, 0x40);
	assert_int_equal(view32(&f, BANK1 + 0x100), rep(SR_READY)); /* the view shows the status */
	assert_int_equal(view32(&f, BANK1 + 0x8000), rep(SR_READY));
	wr(&f, BANK1 + 0x100, 4, 0x12345678);
	cmd(&f, BANK1 + 0x100, 0x90);
	assert_int_equal(view32(&f, BANK1 + BLOCK), rep(0x89));
	assert_int_equal(view32(&f, BANK1 + BLOCK + 4), rep(0x18));
	cmd(&f, BANK1, 0x98);
	assert_int_equal(view32(&f, BANK1 + 0x40), rep('Q'));
	assert_int_equal(rd(&f, BANK1 + 0x44, 4), rep('R'));
	cmd(&f, BANK1, 0xff);
	assert_int_equal(view32(&f, BANK1 + 0x100), 0x12345678);
	assert_int_equal(view32(&f, BANK1 + 0x8000), 0xffffffffu);
	assert_int_equal(view32(&f, 0), 0x18110a03); /* bank 0: the firmware, untouched */
	assert_int_equal(file32(&f, 0x100), 0x12345678);
	assert_int_equal(hyp_vcpu_kick(second), 0);
	assert_int_equal(pthread_join(thread, &ret), 0);
	assert_int_equal((intptr_t)ret, 0);
	teardown_flash(&f);
}

static void test_locking(void **state)
{
	struct flash_test f;

	(void)state;
	setup_with_file(&f, true);
	/* Lock block 1 of bank 1: program and erase fail with SR.1; other blocks work. */
	cmd(&f, BANK1 + BLOCK, 0x60);
	cmd(&f, BANK1 + BLOCK, 0x01);
	cmd(&f, BANK1, 0x90);
	assert_int_equal(rd(&f, BANK1 + BLOCK + 8, 4), rep(1));
	assert_int_equal(rd(&f, BANK1 + 8, 4), rep(0));
	cmd(&f, BANK1 + BLOCK, 0x40);
	wr(&f, BANK1 + BLOCK, 4, 0);
	assert_int_equal(rd(&f, BANK1, 4), rep(SR_READY | SR_PROGRAM | SR_LOCKED));
	cmd(&f, BANK1, 0x50);
	cmd(&f, BANK1 + BLOCK, 0x20);
	cmd(&f, BANK1 + BLOCK, 0xd0);
	assert_int_equal(rd(&f, BANK1, 4), rep(SR_READY | SR_ERASE | SR_LOCKED));
	cmd(&f, BANK1, 0x50);
	cmd(&f, BANK1, 0xff);
	assert_int_equal(rd(&f, BANK1 + BLOCK, 4), 0xffffffffu);
	/* Unlock: programs again. */
	cmd(&f, BANK1 + BLOCK, 0x60);
	cmd(&f, BANK1 + BLOCK, 0xd0);
	cmd(&f, BANK1 + BLOCK, 0x40);
	wr(&f, BANK1 + BLOCK, 4, 0x600dda7a);
	cmd(&f, BANK1, 0xff);
	assert_int_equal(rd(&f, BANK1 + BLOCK, 4), 0x600dda7a);
	/* Lock-down holds until reset: unlock fails. */
	cmd(&f, BANK1 + 2 * BLOCK, 0x60);
	cmd(&f, BANK1 + 2 * BLOCK, 0x2f);
	cmd(&f, BANK1 + 2 * BLOCK, 0x60);
	cmd(&f, BANK1 + 2 * BLOCK, 0xd0);
	assert_int_equal(rd(&f, BANK1, 4) & rep(SR_LOCKED), rep(SR_LOCKED));
	cmd(&f, BANK1, 0x50);
	cmd(&f, BANK1, 0x90);
	assert_int_equal(rd(&f, BANK1 + 2 * BLOCK + 8, 4), rep(3));
	/* A bad lock command is a sequence error. */
	cmd(&f, BANK1, 0x60);
	cmd(&f, BANK1, 0x77);
	assert_int_equal(rd(&f, BANK1, 4), rep(SR_READY | SR_ERASE | SR_PROGRAM));
	/* Suspend and resume are accepted. */
	cmd(&f, BANK1, 0x50);
	cmd(&f, BANK1, 0xb0);
	cmd(&f, BANK1, 0xd0);
	assert_int_equal(rd(&f, BANK1, 4), rep(SR_READY));
	teardown_flash(&f);
}

static void test_firmware_bank_read_only(void **state)
{
	struct flash_test f;
	uint8_t got[FW_SIZE];

	(void)state;
	setup_with_file(&f, true);
	/* Writing the code bank (a store to read-only memory exits to the model). */
	cmd(&f, 0x100, 0x40);
	wr(&f, 0x100, 4, 0);
	assert_int_equal(rd(&f, 0x100, 4), rep(SR_READY | SR_PROGRAM | SR_LOCKED));
	cmd(&f, 0, 0x50);
	cmd(&f, 0x100, 0x20);
	cmd(&f, 0x100, 0xd0);
	assert_int_equal(rd(&f, 0, 4), rep(SR_READY | SR_ERASE | SR_LOCKED));
	cmd(&f, 0, 0x60);
	cmd(&f, 0, 0xd0); /* unlock a locked-down block: refused */
	cmd(&f, 0, 0x50);
	buffered(&f, 0x200, 4, 0);
	assert_int_equal(rd(&f, 0, 4), rep(SR_READY | SR_PROGRAM | SR_LOCKED));
	cmd(&f, 0, 0xff);
	assert_int_equal(hyp_vm_read_guest(f.t.vm, 0, got, FW_SIZE), 0);
	assert_memory_equal(got, firmware, FW_SIZE);
	assert_int_equal(file32(&f, 0), 0xffffffffu); /* bank 0 never reaches the file */
	teardown_flash(&f);
}

/* xorshift: reproducible. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_hostile_sequences(void **state)
{
	static const uint8_t cmds[] = { 0xff, 0xf0, 0x70, 0x50, 0x90, 0x98, 0x40, 0x10, 0xe8,
					0x20, 0xd0, 0xb0, 0x60, 0x01, 0x2f, 0x00, 0x1f, 0x03 };
	static const uint32_t widths[] = { 1, 2, 4, 8, 3, 16 };
	static uint8_t file[BANK];
	uint64_t seed = 0x1234567887654321ull;
	struct flash_test f;
	uint8_t got[FW_SIZE];
	struct stat st;

	(void)state;
	setup_with_file(&f, true);
	for (unsigned i = 0; i < 20000; i++) {
		uint64_t r = rnd(&seed);
		uint32_t len = widths[r % 6];
		uint64_t at = (rnd(&seed) % (2 * BANK + 64)) & ~(uint64_t)((r >> 8) & 1 ? 0 : 3);
		uint64_t value = (r >> 16) & 1 ? rep(cmds[(r >> 20) % sizeof(cmds)]) : rnd(&seed);

		/* Mostly near the start of a block, where command sequences happen. */
		if ((r >> 30) & 1)
			at = (at & ~(uint64_t)(BLOCK - 1)) + (at & 0xff);
		if (at + (len > 8 ? 8 : len) > 2 * BANK + 64)
			continue;
		if (len > 8 || len == 3) {
			/* The mock only issues architectural sizes: the model's own check is
			 * covered by the misaligned accesses. */
			len = 4;
		}
		if ((r >> 40) & 1) {
			wr(&f, at, len, value);
		} else {
			uint64_t v = rd(&f, at, len);

			(void)v;
		}
	}
	/* Invariants: guest RAM untouched, the firmware unchanged, the file still one bank and
	 * identical to what the guest reads from bank 1. */
	for (unsigned i = 0; i < TEST_RAM_SIZE; i++)
		if (((uint8_t *)f.t.ram)[i])
			fail_msg("guest RAM byte %u written", i);
	cmd(&f, 0, 0xff);
	assert_int_equal(hyp_vm_read_guest(f.t.vm, 0, got, FW_SIZE), 0);
	assert_memory_equal(got, firmware, FW_SIZE);
	assert_int_equal(fstat(f.fd, &st), 0);
	assert_int_equal(st.st_size, BANK);
	assert_int_equal(pread(f.fd, file, BANK, 0), BANK);
	cmd(&f, BANK1, 0xff);
	/* Let any pending sequence end: a read-array command while one is pending may be its
	 * data; the second one is a command. */
	cmd(&f, BANK1, 0xff);
	for (uint64_t o = 0; o < BANK; o += 4096 - 4)
		assert_int_equal(rd(&f, BANK1 + o, 4), *(uint32_t *)&file[o]);
	teardown_flash(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_read_array),
		cmocka_unit_test(test_cfi_query),
		cmocka_unit_test(test_identifier_and_status),
		cmocka_unit_test(test_word_program_and_erase),
		cmocka_unit_test(test_buffered_program),
		cmocka_unit_test(test_halfword_bus),
		cmocka_unit_test(test_views_with_a_second_vcpu),
		cmocka_unit_test(test_locking),
		cmocka_unit_test(test_firmware_bank_read_only),
		cmocka_unit_test(test_hostile_sequences),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
