// SPDX-License-Identifier: MIT
//! libhyp::sys against the ABI description (abi/libhyp.abi, itself checked against the headers by
//! the C unit test abi-description): every struct's size, alignment and member offsets and sizes,
//! and the constants and enumerators declared here.
use std::collections::HashMap;
use std::mem::{align_of, size_of, MaybeUninit};

use libhyp::sys;

struct Abi {
    structs: HashMap<String, (usize, usize)>,
    fields: HashMap<String, Vec<(String, usize, usize)>>,
    values: HashMap<String, i64>,
}

fn abi() -> Abi {
    let path = std::env::var("LIBHYP_ABI_FILE")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../abi/libhyp.abi").into());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {}", path, e));
    let mut a = Abi { structs: HashMap::new(), fields: HashMap::new(), values: HashMap::new() };
    for line in text.lines() {
        let p: Vec<&str> = line.split_whitespace().collect();
        match p.first().copied() {
            Some("struct") => {
                a.structs.insert(p[1].into(), (p[3].parse().unwrap(), p[5].parse().unwrap()));
            }
            Some("field") => a.fields.entry(p[1].into()).or_default().push((
                p[2].into(), p[3].parse().unwrap(), p[4].parse().unwrap())),
            Some("enum") => {
                a.values.insert(p[2].into(), p[3].parse().unwrap());
            }
            Some("const") => {
                a.values.insert(p[1].into(), p[2].parse().unwrap());
            }
            _ => {}
        }
    }
    a
}

/// (offset, size) of a field, without offset_of! (Rust 1.63).
macro_rules! field {
    ($t:ty, $($f:tt)+) => {{
        let u = MaybeUninit::<$t>::uninit();
        let base = u.as_ptr();
        // Only addresses are computed: nothing is read.
        let f = unsafe { std::ptr::addr_of!((*base).$($f)+) };
        fn size_of_pointee<T>(_: *const T) -> usize { size_of::<T>() }
        (f as usize - base as usize, size_of_pointee(f))
    }};
}

macro_rules! check_struct {
    ($abi:expr, $t:ty, $name:expr, [$($c:literal => ($($f:tt)+)),* $(,)?]) => {{
        let name: &str = $name;
        assert_eq!($abi.structs.get(name), Some(&(size_of::<$t>(), align_of::<$t>())),
                   "size/alignment of struct {}", name);
        let mine: Vec<(String, usize, usize)> = vec![$({ let (o, s) = field!($t, $($f)+);
                                                         ($c.to_string(), o, s) }),*];
        assert_eq!(Some(&mine), $abi.fields.get(name), "members of struct {}", name);
    }};
}

#[test]
fn structs_match_the_abi_description() {
    let a = abi();
    check_struct!(a, sys::hyp_syndrome, "hyp_syndrome",
                  ["esr" => (esr), "far" => (far), "hpfar" => (hpfar), "valid" => (valid),
                   "reserved" => (reserved)]);
    check_struct!(a, sys::hyp_mmio_access, "hyp_mmio_access",
                  ["ipa" => (ipa), "offset" => (offset), "data" => (data), "len" => (len),
                   "is_write" => (is_write), "sign_extend" => (sign_extend), "reg" => (reg),
                   "reg64" => (reg64), "acquire_release" => (acquire_release),
                   "reserved" => (reserved)]);
    check_struct!(a, sys::hyp_smccc_call, "hyp_smccc_call",
                  ["function_id" => (function_id), "conduit" => (conduit),
                   "reserved" => (reserved), "imm" => (imm), "args" => (args), "ret" => (ret)]);
    check_struct!(a, sys::hyp_sysreg_access, "hyp_sysreg_access",
                  ["encoding" => (encoding), "is_write" => (is_write), "reg" => (reg),
                   "reserved" => (reserved), "value" => (value)]);
    check_struct!(a, sys::hyp_wfx, "hyp_wfx",
                  ["is_wfe" => (is_wfe), "has_timeout" => (has_timeout), "reserved" => (reserved)]);
    check_struct!(a, sys::hyp_mem_fault, "hyp_mem_fault",
                  ["ipa" => (ipa), "va" => (va), "kind" => (kind), "is_write" => (is_write),
                   "fault_status" => (fault_status), "ipa_valid" => (ipa_valid),
                   "reserved" => (reserved)]);
    check_struct!(a, sys::hyp_system_event, "hyp_system_event",
                  ["type" => (type_), "reserved" => (reserved), "data" => (data)]);
    check_struct!(a, sys::hyp_exception, "hyp_exception",
                  ["ec" => (ec), "il" => (il), "imm" => (imm), "iss" => (iss)]);
    // The C struct's anonymous union members appear as members of struct hyp_exit.
    check_struct!(a, sys::hyp_exit, "hyp_exit",
                  ["reason" => (reason), "vcpu_index" => (vcpu_index), "raw" => (raw),
                   "mmio" => (u.mmio), "smccc" => (u.smccc), "sysreg" => (u.sysreg),
                   "wfx" => (u.wfx), "fault" => (u.fault), "system_event" => (u.system_event),
                   "exception" => (u.exception)]);
    check_struct!(a, sys::hyp_vm_config, "hyp_vm_config",
                  ["size" => (size), "flags" => (flags), "backend" => (backend),
                   "backend_ops" => (backend_ops), "backend_config" => (backend_config),
                   "alloc" => (alloc), "log_fn" => (log_fn), "log_opaque" => (log_opaque),
                   "log_priority" => (log_priority), "ipa_bits" => (ipa_bits),
                   "max_vcpus" => (max_vcpus), "irqchip" => (irqchip),
                   "gicd_base" => (gicd_base), "gicr_base" => (gicr_base),
                   "dirty_ring_entries" => (dirty_ring_entries)]);
    check_struct!(a, sys::hyp_vcpu_config, "hyp_vcpu_config",
                  ["size" => (size), "index" => (index), "power" => (power),
                   "reserved" => (reserved), "mpidr" => (mpidr)]);
    check_struct!(a, sys::hyp_mock_config, "hyp_mock_config",
                  ["size" => (size), "flags" => (flags), "max_script_steps" => (max_script_steps),
                   "reserved" => (reserved)]);
    check_struct!(a, sys::hyp_fp_regs, "hyp_fp_regs",
                  ["v" => (v), "fpsr" => (fpsr), "fpcr" => (fpcr)]);
}

#[test]
fn constants_match_the_abi_description() {
    let a = abi();
    let mine: &[(&str, i64)] = &[
        ("HYP_EXIT_NONE", sys::HYP_EXIT_NONE as i64), ("HYP_EXIT_MMIO", sys::HYP_EXIT_MMIO as i64),
        ("HYP_EXIT_SMCCC", sys::HYP_EXIT_SMCCC as i64), ("HYP_EXIT_SYSREG", sys::HYP_EXIT_SYSREG as i64),
        ("HYP_EXIT_WFX", sys::HYP_EXIT_WFX as i64), ("HYP_EXIT_MEM_FAULT", sys::HYP_EXIT_MEM_FAULT as i64),
        ("HYP_EXIT_SYSTEM_EVENT", sys::HYP_EXIT_SYSTEM_EVENT as i64),
        ("HYP_EXIT_KICKED", sys::HYP_EXIT_KICKED as i64), ("HYP_EXIT_DEBUG", sys::HYP_EXIT_DEBUG as i64),
        ("HYP_EXIT_EXCEPTION", sys::HYP_EXIT_EXCEPTION as i64),
        ("HYP_NOT_HANDLED", sys::HYP_NOT_HANDLED as i64), ("HYP_HANDLED", sys::HYP_HANDLED as i64),
        ("HYP_CONDUIT_HVC", sys::HYP_CONDUIT_HVC as i64), ("HYP_CONDUIT_SMC", sys::HYP_CONDUIT_SMC as i64),
        ("HYP_MEM_READ", sys::HYP_MEM_READ as i64), ("HYP_MEM_WRITE", sys::HYP_MEM_WRITE as i64),
        ("HYP_MEM_EXEC", sys::HYP_MEM_EXEC as i64), ("HYP_MEM_RWX", sys::HYP_MEM_RWX as i64),
        ("HYP_REG_X0", sys::HYP_REG_X0 as i64), ("HYP_REG_SP_EL0", sys::HYP_REG_SP_EL0 as i64),
        ("HYP_REG_PC", sys::HYP_REG_PC as i64), ("HYP_REG_PSTATE", sys::HYP_REG_PSTATE as i64),
        ("HYP_REG_SP_EL1", sys::HYP_REG_SP_EL1 as i64), ("HYP_REG_ELR_EL1", sys::HYP_REG_ELR_EL1 as i64),
        ("HYP_REG_SPSR_EL1", sys::HYP_REG_SPSR_EL1 as i64),
        ("HYP_SYSTEM_EVENT_OFF", sys::HYP_SYSTEM_EVENT_OFF as i64),
        ("HYP_SYSTEM_EVENT_RESET", sys::HYP_SYSTEM_EVENT_RESET as i64),
        ("HYP_SYSTEM_EVENT_CRASH", sys::HYP_SYSTEM_EVENT_CRASH as i64),
        ("HYP_MOCK_MMIO_WRITE", sys::HYP_MOCK_MMIO_WRITE as i64),
        ("HYP_MOCK_MMIO_SIGN_EXTEND", sys::HYP_MOCK_MMIO_SIGN_EXTEND as i64),
        ("HYP_MOCK_MMIO_REG64", sys::HYP_MOCK_MMIO_REG64 as i64),
        ("HYP_VCPU_POWER_DEFAULT", sys::HYP_VCPU_POWER_DEFAULT as i64),
        ("HYP_VCPU_POWER_ON", sys::HYP_VCPU_POWER_ON as i64),
        ("HYP_VCPU_POWER_OFF", sys::HYP_VCPU_POWER_OFF as i64),
        ("HYP_PAGE_SIZE", sys::HYP_PAGE_SIZE as i64), ("HYP_EHOST_BASE", sys::HYP_EHOST_BASE as i64),
        ("HYP_PSCI_VERSION", sys::HYP_PSCI_VERSION as i64),
        ("HYP_PSCI_SYSTEM_OFF", sys::HYP_PSCI_SYSTEM_OFF as i64),
        ("HYP_PSCI_SYSTEM_RESET", sys::HYP_PSCI_SYSTEM_RESET as i64),
    ];
    for (name, value) in mine {
        assert_eq!(a.values.get(*name), Some(value), "{}", name);
    }
}
