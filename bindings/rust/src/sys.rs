// SPDX-License-Identifier: MIT
//! Raw declarations of the C API (include/libhyp/*.h), as the headers spell them.
//!
//! Written by hand; `tests/abi.rs` checks the size, alignment and every member offset of each
//! struct here, and each constant, against the project's ABI description (abi/libhyp.abi), which
//! a C unit test checks against the headers. Only what the safe wrapper and VMM code need is
//! declared: the VM/vCPU API, callbacks, exits and the mock backend's scripting API.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_uint, c_void};

pub type hyp_ipa_t = u64;

/// struct hyp_vm (opaque).
#[repr(C)]
pub struct hyp_vm {
    _private: [u8; 0],
}

/// struct hyp_vcpu (opaque).
#[repr(C)]
pub struct hyp_vcpu {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct hyp_syndrome {
    pub esr: u64,
    pub far: u64,
    pub hpfar: u64,
    pub valid: u32,
    pub reserved: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct hyp_mmio_access {
    pub ipa: hyp_ipa_t,
    pub offset: u64,
    pub data: u64,
    pub len: u8,
    pub is_write: u8,
    pub sign_extend: u8,
    pub reg: u8,
    pub reg64: u8,
    pub acquire_release: u8,
    pub reserved: [u8; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct hyp_smccc_call {
    pub function_id: u32,
    pub conduit: u8,
    pub reserved: u8,
    pub imm: u16,
    pub args: [u64; 7],
    pub ret: [u64; 4],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct hyp_sysreg_access {
    pub encoding: u32,
    pub is_write: u8,
    pub reg: u8,
    pub reserved: [u8; 2],
    pub value: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct hyp_wfx {
    pub is_wfe: u8,
    pub has_timeout: u8,
    pub reserved: [u8; 6],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct hyp_mem_fault {
    pub ipa: hyp_ipa_t,
    pub va: u64,
    pub kind: u8,
    pub is_write: u8,
    pub fault_status: u8,
    pub ipa_valid: u8,
    pub reserved: [u8; 4],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct hyp_system_event {
    pub type_: u32,
    pub reserved: u32,
    pub data: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct hyp_exception {
    pub ec: u8,
    pub il: u8,
    pub imm: u16,
    pub iss: u32,
}

/// The anonymous union of struct hyp_exit.
#[repr(C)]
#[derive(Clone, Copy)]
pub union hyp_exit_union {
    pub mmio: hyp_mmio_access,
    pub smccc: hyp_smccc_call,
    pub sysreg: hyp_sysreg_access,
    pub wfx: hyp_wfx,
    pub fault: hyp_mem_fault,
    pub system_event: hyp_system_event,
    pub exception: hyp_exception,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct hyp_exit {
    pub reason: u32,
    pub vcpu_index: u32,
    pub raw: hyp_syndrome,
    pub u: hyp_exit_union,
}

/// hyp_log_fn: the last parameter is a va_list, which both LP64 ABIs libhyp targets pass as a
/// pointer.
pub type hyp_log_fn =
    Option<unsafe extern "C" fn(opaque: *mut c_void, priority: c_int, fmt: *const c_char, args: *mut c_void)>;
pub type hyp_mmio_fn =
    Option<unsafe extern "C" fn(opaque: *mut c_void, vcpu: *mut hyp_vcpu, access: *mut hyp_mmio_access) -> c_int>;
pub type hyp_smccc_fn =
    Option<unsafe extern "C" fn(opaque: *mut c_void, vcpu: *mut hyp_vcpu, call: *mut hyp_smccc_call) -> c_int>;
pub type hyp_sysreg_fn =
    Option<unsafe extern "C" fn(opaque: *mut c_void, vcpu: *mut hyp_vcpu, access: *mut hyp_sysreg_access) -> c_int>;
pub type hyp_exit_fn =
    Option<unsafe extern "C" fn(opaque: *mut c_void, vcpu: *mut hyp_vcpu, exit: *mut hyp_exit) -> c_int>;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct hyp_vm_config {
    pub size: u32,
    pub flags: u32,
    pub backend: *const c_char,
    pub backend_ops: *const c_void,
    pub backend_config: *const c_void,
    pub alloc: *const c_void,
    pub log_fn: hyp_log_fn,
    pub log_opaque: *mut c_void,
    pub log_priority: i32,
    pub ipa_bits: u32,
    pub max_vcpus: u32,
    pub irqchip: u32,
    pub gicd_base: hyp_ipa_t,
    pub gicr_base: hyp_ipa_t,
    pub dirty_ring_entries: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct hyp_vcpu_config {
    pub size: u32,
    pub index: u32,
    pub power: u32,
    pub reserved: u32,
    pub mpidr: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct hyp_mock_config {
    pub size: u32,
    pub flags: u32,
    pub max_script_steps: u32,
    pub reserved: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct hyp_fp_regs {
    pub v: [[u8; 16]; 32],
    pub fpsr: u64,
    pub fpcr: u64,
}

// enum hyp_exit_reason
pub const HYP_EXIT_NONE: u32 = 0;
pub const HYP_EXIT_MMIO: u32 = 1;
pub const HYP_EXIT_SMCCC: u32 = 2;
pub const HYP_EXIT_SYSREG: u32 = 3;
pub const HYP_EXIT_WFX: u32 = 4;
pub const HYP_EXIT_MEM_FAULT: u32 = 5;
pub const HYP_EXIT_SYSTEM_EVENT: u32 = 6;
pub const HYP_EXIT_KICKED: u32 = 7;
pub const HYP_EXIT_DEBUG: u32 = 8;
pub const HYP_EXIT_EXCEPTION: u32 = 9;
// enum hyp_handler_result
pub const HYP_NOT_HANDLED: c_int = 0;
pub const HYP_HANDLED: c_int = 1;
// enum hyp_smccc_conduit
pub const HYP_CONDUIT_HVC: u32 = 1;
pub const HYP_CONDUIT_SMC: u32 = 2;
// enum hyp_mem_flags
pub const HYP_MEM_READ: u32 = 1;
pub const HYP_MEM_WRITE: u32 = 2;
pub const HYP_MEM_EXEC: u32 = 4;
pub const HYP_MEM_RWX: u32 = 7;
// enum hyp_reg
pub const HYP_REG_X0: c_int = 0;
pub const HYP_REG_SP_EL0: c_int = 31;
pub const HYP_REG_PC: c_int = 32;
pub const HYP_REG_PSTATE: c_int = 33;
pub const HYP_REG_SP_EL1: c_int = 34;
pub const HYP_REG_ELR_EL1: c_int = 35;
pub const HYP_REG_SPSR_EL1: c_int = 36;
// enum hyp_system_event_type
pub const HYP_SYSTEM_EVENT_OFF: u32 = 1;
pub const HYP_SYSTEM_EVENT_RESET: u32 = 2;
pub const HYP_SYSTEM_EVENT_CRASH: u32 = 3;
// enum hyp_mock_mmio_flags
pub const HYP_MOCK_MMIO_WRITE: u32 = 1;
pub const HYP_MOCK_MMIO_SIGN_EXTEND: u32 = 2;
pub const HYP_MOCK_MMIO_REG64: u32 = 4;
// enum hyp_vcpu_power
pub const HYP_VCPU_POWER_DEFAULT: u32 = 0;
pub const HYP_VCPU_POWER_ON: u32 = 1;
pub const HYP_VCPU_POWER_OFF: u32 = 2;
// constants
pub const HYP_PAGE_SIZE: u32 = 4096;
pub const HYP_EHOST_BASE: i32 = 0x10000;
pub const HYP_PSCI_VERSION: u32 = 0x8400_0000;
pub const HYP_PSCI_SYSTEM_OFF: u32 = 0x8400_0008;
pub const HYP_PSCI_SYSTEM_RESET: u32 = 0x8400_0009;

extern "C" {
    pub fn hyp_strerror(err: c_int) -> *const c_char;
    pub fn hyp_error_host_errno(err: c_int) -> c_int;
    pub fn hyp_version() -> u32;
    pub fn hyp_version_string() -> *const c_char;

    pub fn hyp_vm_create(config: *const hyp_vm_config, ret: *mut *mut hyp_vm) -> c_int;
    pub fn hyp_vm_destroy(vm: *mut hyp_vm) -> c_int;
    pub fn hyp_vm_backend_name(vm: *const hyp_vm) -> *const c_char;
    pub fn hyp_vm_map(vm: *mut hyp_vm, ipa: hyp_ipa_t, host: *mut c_void, size: u64, flags: u32) -> c_int;
    pub fn hyp_vm_unmap(vm: *mut hyp_vm, ipa: hyp_ipa_t, size: u64) -> c_int;
    pub fn hyp_vm_write_guest(vm: *mut hyp_vm, ipa: hyp_ipa_t, src: *const c_void, len: usize) -> c_int;
    pub fn hyp_vm_read_guest(vm: *const hyp_vm, ipa: hyp_ipa_t, dst: *mut c_void, len: usize) -> c_int;
    pub fn hyp_vm_add_mmio_handler(vm: *mut hyp_vm, base: hyp_ipa_t, size: u64, f: hyp_mmio_fn,
                                   opaque: *mut c_void) -> c_int;
    pub fn hyp_vm_remove_mmio_handler(vm: *mut hyp_vm, base: hyp_ipa_t) -> c_int;
    pub fn hyp_vm_add_smccc_handler(vm: *mut hyp_vm, conduits: u32, first: u32, last: u32,
                                    f: hyp_smccc_fn, opaque: *mut c_void) -> c_int;
    pub fn hyp_vm_remove_smccc_handler(vm: *mut hyp_vm, conduits: u32, first: u32) -> c_int;
    pub fn hyp_vm_add_sysreg_handler(vm: *mut hyp_vm, encoding: u32, f: hyp_sysreg_fn,
                                     opaque: *mut c_void) -> c_int;
    pub fn hyp_vm_remove_sysreg_handler(vm: *mut hyp_vm, encoding: u32) -> c_int;
    pub fn hyp_vm_set_exit_handler(vm: *mut hyp_vm, reason: c_int, f: hyp_exit_fn,
                                   opaque: *mut c_void) -> c_int;
    pub fn hyp_vm_set_spi(vm: *mut hyp_vm, intid: u32, level: bool) -> c_int;

    pub fn hyp_vcpu_create(vm: *mut hyp_vm, config: *const hyp_vcpu_config, ret: *mut *mut hyp_vcpu) -> c_int;
    pub fn hyp_vcpu_destroy(vcpu: *mut hyp_vcpu) -> c_int;
    pub fn hyp_vcpu_index(vcpu: *const hyp_vcpu) -> u32;
    pub fn hyp_vcpu_get_reg(vcpu: *mut hyp_vcpu, reg: c_int, value: *mut u64) -> c_int;
    pub fn hyp_vcpu_set_reg(vcpu: *mut hyp_vcpu, reg: c_int, value: u64) -> c_int;
    pub fn hyp_vcpu_get_regs(vcpu: *mut hyp_vcpu, regs: *const c_int, values: *mut u64, count: c_uint) -> c_int;
    pub fn hyp_vcpu_set_regs(vcpu: *mut hyp_vcpu, regs: *const c_int, values: *const u64, count: c_uint) -> c_int;
    pub fn hyp_vcpu_get_sysreg(vcpu: *mut hyp_vcpu, encoding: u32, value: *mut u64) -> c_int;
    pub fn hyp_vcpu_set_sysreg(vcpu: *mut hyp_vcpu, encoding: u32, value: u64) -> c_int;
    pub fn hyp_vcpu_get_fp_regs(vcpu: *mut hyp_vcpu, regs: *mut hyp_fp_regs) -> c_int;
    pub fn hyp_vcpu_set_fp_regs(vcpu: *mut hyp_vcpu, regs: *const hyp_fp_regs) -> c_int;
    pub fn hyp_vcpu_run(vcpu: *mut hyp_vcpu) -> c_int;
    pub fn hyp_vcpu_exit(vcpu: *mut hyp_vcpu) -> *mut hyp_exit;
    pub fn hyp_vcpu_kick(vcpu: *mut hyp_vcpu) -> c_int;
    pub fn hyp_vcpu_inject_exception(vcpu: *mut hyp_vcpu, kind: c_int, addr: u64) -> c_int;
    pub fn hyp_vcpu_is_powered_on(vcpu: *const hyp_vcpu) -> c_int;

    pub fn hyp_mock_push_mmio(vcpu: *mut hyp_vcpu, ipa: hyp_ipa_t, len: u32, reg: u32, flags: u32) -> c_int;
    pub fn hyp_mock_push_smccc(vcpu: *mut hyp_vcpu, conduit: u32, imm: u16, function_id: u32,
                               args: *const u64) -> c_int;
    pub fn hyp_mock_push_sysreg(vcpu: *mut hyp_vcpu, encoding: u32, is_write: bool, reg: u32) -> c_int;
    pub fn hyp_mock_push_wfx(vcpu: *mut hyp_vcpu, is_wfe: bool) -> c_int;
    pub fn hyp_mock_push_exec_fault(vcpu: *mut hyp_vcpu, ipa: hyp_ipa_t) -> c_int;
    pub fn hyp_mock_push_raw(vcpu: *mut hyp_vcpu, esr: u64, far: u64, hpfar: u64) -> c_int;
    pub fn hyp_mock_script_length(vcpu: *const hyp_vcpu) -> c_int;
    pub fn hyp_mock_irq_level(vm: *const hyp_vm, vcpu: *const hyp_vcpu, intid: u32) -> c_int;
    pub fn hyp_mock_irq_count(vm: *const hyp_vm, vcpu: *const hyp_vcpu, intid: u32) -> c_int;
    pub fn hyp_mock_last_injection(vcpu: *mut hyp_vcpu, esr: *mut u64, far: *mut u64) -> c_int;
}
