/* SPDX-License-Identifier: MIT */
/*
 * libhyp: an embeddable hypervisor library for aarch64 guests.
 *
 * Include this umbrella header to get the whole VMM-facing API:
 *
 *	struct hyp_vm_config cfg = { .size = sizeof(cfg), .backend = "kvm" };
 *	struct hyp_vm *vm;
 *	struct hyp_vcpu *vcpu;
 *
 *	hyp_vm_create(&cfg, &vm);
 *	hyp_vm_map(vm, 0x40000000, ram, ram_size, HYP_MEM_RWX);
 *	hyp_vm_add_mmio_handler(vm, 0x09000000, 0x1000, uart_mmio, uart);
 *	hyp_vcpu_create(vm, NULL, &vcpu);
 *	hyp_vcpu_set_reg(vcpu, HYP_REG_PC, 0x40000000);
 *	while (hyp_vcpu_run(vcpu) == 0 && hyp_vcpu_exit(vcpu)->reason != HYP_EXIT_SYSTEM_EVENT)
 *		handle(hyp_vcpu_exit(vcpu));
 *	hyp_vm_destroy(vm);
 *
 * Backend authors also include <libhyp/backend.h>; mock-based tests include <libhyp/mock.h>.
 */
#ifndef LIBHYP_HYP_H
#define LIBHYP_HYP_H

#include <libhyp/boot.h>
#include <libhyp/chan.h>
#include <libhyp/dev.h>
#include <libhyp/error.h>
#include <libhyp/exit.h>
#include <libhyp/fdt.h>
#include <libhyp/handlers.h>
#include <libhyp/irq.h>
#include <libhyp/log.h>
#include <libhyp/platform.h>
#include <libhyp/smccc.h>
#include <libhyp/sysreg.h>
#include <libhyp/types.h>
#include <libhyp/vcpu.h>
#include <libhyp/version.h>
#include <libhyp/vm.h>

#endif /* LIBHYP_HYP_H */
