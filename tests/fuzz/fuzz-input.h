/* SPDX-License-Identifier: MIT */
/*
 * Shared by the libFuzzer harnesses: reading the fuzzer's bytes as a stream of small integers,
 * and reporting a broken invariant.
 *
 * An exhausted input reads as zeros rather than ending the run, so every prefix of an interesting
 * input is still a valid (shorter) test case and the fuzzer's minimiser can shrink it freely.
 */
#ifndef HYP_FUZZ_INPUT_H
#define HYP_FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static inline uint64_t fuzz_bytes(struct fuzz_in *in, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++) {
		uint64_t b = 0;

		if (in->left) {
			b = *in->p++;
			in->left--;
		}
		v |= b << (8 * i);
	}
	return v;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	return (uint8_t)fuzz_bytes(in, 1);
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	return (uint16_t)fuzz_bytes(in, 2);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	return (uint32_t)fuzz_bytes(in, 4);
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	return fuzz_bytes(in, 8);
}

static inline bool fuzz_done(const struct fuzz_in *in)
{
	return in->left == 0;
}

/*
 * A broken invariant is a finding: abort() makes libFuzzer save the input as a crash file and
 * exit with -error_exitcode, exactly as for a sanitizer report.
 */
#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);   \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* HYP_FUZZ_INPUT_H */
