/* SPDX-License-Identifier: MIT */
/*
 * mock-vmm: a small VMM written against the public libhyp API, run on the mock backend.
 *
 * It shows the callback style a real VMM uses: a UART model on an MMIO range, a vendor hypercall
 * on an SMCCC function-ID range, a log handler, and a run loop that only sees the exits no
 * callback handled. The "guest" is scripted with <libhyp/mock.h>: it prints a greeting through
 * the UART one byte at a time, polls the UART flag register, asks the VMM for a value through a
 * hypercall, checks PSCI, and powers off. Swap the backend name for "kvm" and the script for a
 * guest image, and the VMM code above main()'s script section stays the same.
 *
 * Exit status: 0 if the guest powered off cleanly having done all of the above.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libhyp/hyp.h>
#include <libhyp/mock.h>

#define RAM_BASE 0x40000000ull
#define RAM_SIZE (2u << 20)
#define UART_BASE 0x09000000ull
#define UART_SIZE 0x1000u
#define UART_DR 0x000u /* PL011 data register */
#define UART_FR 0x018u /* PL011 flag register */
#define UART_FR_TXFE (1u << 7)

/* A vendor-specific hypervisor service call (SMCCC owner 6), fast, 64-bit. */
#define VMM_CALL_GET_ANSWER 0xc6000001u

struct uart {
	char line[256];
	size_t len;
	unsigned bytes;
};

static void log_to_stderr(void *opaque, enum hyp_log_priority priority, const char *fmt,
			  va_list args)
{
	(void)opaque;
	fprintf(stderr, "libhyp[%d]: ", (int)priority);
	vfprintf(stderr, fmt, args);
	fputc('\n', stderr);
}

/* The UART: bytes written to DR are collected into lines; FR says "transmit FIFO empty". */
static enum hyp_handler_result uart_mmio(void *opaque, struct hyp_vcpu *vcpu,
					 struct hyp_mmio_access *access)
{
	struct uart *uart = opaque;

	(void)vcpu;
	if (access->offset == UART_DR && access->is_write) {
		char c = (char)access->data;

		uart->bytes++;
		if (c == '\n' || uart->len == sizeof(uart->line) - 1) {
			uart->line[uart->len] = '\0';
			printf("guest console: %s\n", uart->line);
			uart->len = 0;
		} else {
			uart->line[uart->len++] = c;
		}
		return HYP_HANDLED;
	}
	if (access->offset == UART_FR && !access->is_write) {
		access->data = UART_FR_TXFE;
		return HYP_HANDLED;
	}
	/* Unknown UART register: reads as zero, writes ignored, as many real devices do. */
	if (!access->is_write)
		access->data = 0;
	return HYP_HANDLED;
}

static enum hyp_handler_result vmm_call(void *opaque, struct hyp_vcpu *vcpu,
					struct hyp_smccc_call *call)
{
	unsigned *calls = opaque;

	(void)vcpu;
	if (call->function_id == VMM_CALL_GET_ANSWER) {
		(*calls)++;
		call->ret[0] = 0;
		call->ret[1] = 42;
		return HYP_HANDLED;
	}
	return HYP_NOT_HANDLED; /* leave it to the run loop */
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "mock-vmm: %s: %s\n", what, hyp_strerror(err));
	return 1;
}

/* The scripted guest: what a few lines of guest code would do. */
static int script_guest(struct hyp_vcpu *vcpu)
{
	static const char greeting[] = "Hello from a libhyp guest!\n";
	int r = 0;

	for (const char *c = greeting; *c && !r; c++) {
		/* ldr w1, [x0, #UART_FR] until TXFE; then strb w2, [x0] with w2 = *c. The mock
		 * cannot change w2 between steps, so the byte goes through a RAM buffer: a store
		 * of the character to RAM, a load of it into w2, the MMIO store. */
		r = hyp_mock_push_mmio(vcpu, UART_BASE + UART_FR, 4, 1, 0);
		r = r ? r :
			hyp_mock_push_mmio(vcpu, RAM_BASE + 0x1000 + (size_t)(c - greeting), 1, 2,
					   0);
		r = r ? r :
			hyp_mock_push_mmio(vcpu, UART_BASE + UART_DR, 1, 2, HYP_MOCK_MMIO_WRITE);
	}
	if (!r)
		r = hyp_mock_push_smccc(vcpu, HYP_CONDUIT_HVC, 0, VMM_CALL_GET_ANSWER, NULL);
	if (!r)
		r = hyp_mock_push_smccc(vcpu, HYP_CONDUIT_HVC, 0, HYP_PSCI_VERSION, NULL);
	if (!r)
		r = hyp_mock_push_smccc(vcpu, HYP_CONDUIT_HVC, 0, HYP_PSCI_SYSTEM_OFF, NULL);
	return r;
}

int main(void)
{
	struct hyp_vm_config config = {
		.size = sizeof(config),
		.backend = "mock",
		.log_fn = log_to_stderr,
		.max_vcpus = 1,
	};
	static const char greeting[] = "Hello from a libhyp guest!\n";
	struct uart uart = { .len = 0 };
	struct hyp_vcpu *vcpu;
	struct hyp_vm *vm;
	unsigned exits_seen = 0, vmm_calls = 0;
	void *ram;
	int r, status = 1;

	printf("libhyp %s, sample VMM on the mock backend\n", hyp_version_string());
	r = hyp_vm_create(&config, &vm);
	if (r)
		return fail("hyp_vm_create", r);
	/* Guest RAM as the backend wants it (zeroed); the VM frees it when destroyed. */
	r = hyp_vm_ram_alloc(vm, RAM_SIZE, 0, &ram);
	if (r) {
		fail("allocating guest RAM", r);
		goto out;
	}
	memcpy((char *)ram + 0x1000, greeting, sizeof(greeting));
	if ((r = hyp_vm_map(vm, RAM_BASE, ram, RAM_SIZE, HYP_MEM_RWX)) ||
	    (r = hyp_vm_add_mmio_handler(vm, UART_BASE, UART_SIZE, uart_mmio, &uart)) ||
	    (r = hyp_vm_add_smccc_handler(vm, HYP_CONDUIT_HVC, VMM_CALL_GET_ANSWER,
					  VMM_CALL_GET_ANSWER, vmm_call, &vmm_calls)) ||
	    (r = hyp_vcpu_create(vm, NULL, &vcpu)) ||
	    (r = hyp_vcpu_set_reg(vcpu, HYP_REG_PC, RAM_BASE)) || (r = script_guest(vcpu))) {
		fail("setting up the VM", r);
		goto out;
	}

	for (;;) {
		struct hyp_exit *exit;

		r = hyp_vcpu_run(vcpu);
		if (r) {
			fail("hyp_vcpu_run", r);
			goto out;
		}
		exit = hyp_vcpu_exit(vcpu);
		exits_seen++;
		if (exit->reason == HYP_EXIT_SYSTEM_EVENT) {
			printf("guest powered %s\n",
			       exit->system_event.type == HYP_SYSTEM_EVENT_OFF ? "off" : "down");
			break;
		}
		printf("unexpected exit: %s\n", hyp_exit_reason_name(exit->reason));
		goto out;
	}
	printf("UART bytes: %u, vendor hypercalls: %u, exits returned to the run loop: %u\n",
	       uart.bytes, vmm_calls, exits_seen);
	/* Everything else was handled by callbacks and the built-in PSCI without leaving
	 * hyp_vcpu_run(): the only exit the loop saw is the power-off. */
	status = uart.bytes == sizeof(greeting) - 1 && vmm_calls == 1 && exits_seen == 1 ? 0 : 1;
out:
	if (hyp_vm_destroy(vm))
		status = 1;
	return status;
}
