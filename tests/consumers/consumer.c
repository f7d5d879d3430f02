/* SPDX-License-Identifier: MIT */
/*
 * A VMM built outside the libhyp tree (tests/consumers/run-consumers.sh builds it against the
 * installed library through pkg-config, pkg-config --static, meson's dependency('libhyp'), and
 * libhyp as a meson subproject), run on the mock backend: a UART callback, a scripted guest
 * that writes to it and powers off. Exit status 0 if everything happened as scripted.
 */
#include <stdio.h>
#include <stdlib.h>

#include <libhyp/hyp.h>
#include <libhyp/mock.h>

#define RAM_BASE 0x40000000ull
#define UART_BASE 0x09000000ull

static _Alignas(4096) unsigned char ram[1 << 16];

static enum hyp_handler_result uart(void *opaque, struct hyp_vcpu *vcpu,
				    struct hyp_mmio_access *access)
{
	unsigned *sum = opaque;

	(void)vcpu;
	if (access->is_write)
		*sum += (unsigned)access->data;
	else
		access->data = 0x90;
	return HYP_HANDLED;
}

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "consumer: %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

int main(void)
{
	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "mock" };
	struct hyp_vm *vm;
	struct hyp_vcpu *vcpu;
	unsigned sum = 0;
	uint64_t x9 = 0;

	/* The headers and the library are the same release. */
	CHECK(hyp_version() == HYP_VERSION);
	CHECK(hyp_vm_create(&cfg, &vm) == 0);
	CHECK(hyp_vm_map(vm, RAM_BASE, ram, sizeof(ram), HYP_MEM_RWX) == 0);
	CHECK(hyp_vm_add_mmio_handler(vm, UART_BASE, 0x1000, uart, &sum) == 0);
	CHECK(hyp_vcpu_create(vm, NULL, &vcpu) == 0);
	CHECK(hyp_vcpu_set_reg(vcpu, HYP_REG_PC, RAM_BASE) == 0);
	CHECK(hyp_vcpu_set_reg(vcpu, HYP_REG_X(0), 'h') == 0);
	CHECK(hyp_mock_push_mmio(vcpu, UART_BASE, 1, 0, HYP_MOCK_MMIO_WRITE) == 0);
	CHECK(hyp_mock_push_mmio(vcpu, UART_BASE + 0x18, 4, 9, 0) == 0);
	CHECK(hyp_mock_push_smccc(vcpu, HYP_CONDUIT_HVC, 0, HYP_PSCI_SYSTEM_OFF, NULL) == 0);
	CHECK(hyp_vcpu_run(vcpu) == 0);
	CHECK(hyp_vcpu_exit(vcpu)->reason == HYP_EXIT_SYSTEM_EVENT);
	CHECK(hyp_vcpu_exit(vcpu)->system_event.type == HYP_SYSTEM_EVENT_OFF);
	CHECK(hyp_vcpu_get_reg(vcpu, HYP_REG_X(9), &x9) == 0);
	CHECK(sum == 'h' && x9 == 0x90);
	CHECK(hyp_vm_destroy(vm) == 0);
	printf("consumer: libhyp %s, mock guest wrote and read the UART and powered off\n",
	       hyp_version_string());
	return 0;
}
