// SPDX-License-Identifier: MIT
//! The safe wrapper on the mock backend: memory, registers, callbacks, exits, errors, panics.
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use libhyp::{sys, sysreg, ExitReason, GuestMemory, Handled, Reg, Vm, VmConfig, MEM_RWX};

const RAM: u64 = 0x4000_0000;
const UART: u64 = 0x0900_0000;

fn vm_with_ram() -> Vm {
    let vm = Vm::new(&VmConfig::mock()).unwrap();
    vm.map(RAM, GuestMemory::new(1 << 16).unwrap(), MEM_RWX).unwrap();
    vm
}

#[test]
fn mmio_and_smccc_callbacks() {
    let vm = vm_with_ram();
    let written = Arc::new(AtomicU64::new(0));
    let w = written.clone();
    vm.add_mmio_handler(UART, 0x1000, move |vcpu, a| {
        assert_eq!(vcpu.index(), 0);
        if a.is_write() {
            w.store(a.data(), Ordering::SeqCst);
        } else {
            a.set_data(0x80);
        }
        Handled::Yes
    }).unwrap();
    vm.add_smccc_handler(sys::HYP_CONDUIT_HVC, 0xc600_0001, 0xc600_0001, |_, call| {
        let x1 = call.args()[0];
        call.ret()[0] = 7;
        call.ret()[1] = x1 + 1;
        Handled::Yes
    }).unwrap();
    let mut vcpu = vm.create_vcpu().unwrap();
    vcpu.set_reg(Reg::PC, RAM).unwrap();
    vcpu.set_reg(Reg::x(2), 0x41).unwrap();
    vcpu.push_mmio(UART, 1, 2, sys::HYP_MOCK_MMIO_WRITE).unwrap();
    vcpu.push_mmio(UART + 0x18, 1, 12, sys::HYP_MOCK_MMIO_SIGN_EXTEND | sys::HYP_MOCK_MMIO_REG64).unwrap();
    vcpu.push_smccc(0xc600_0001, &[41]).unwrap();
    vcpu.push_wfx(false).unwrap();
    assert_eq!(vcpu.run().unwrap().reason(), ExitReason::Wfx);
    assert_eq!(written.load(Ordering::SeqCst), 0x41);
    assert_eq!(vcpu.get_reg(Reg::x(12)).unwrap(), 0xffff_ffff_ffff_ff80);
    assert_eq!((vcpu.get_reg(Reg::x(0)).unwrap(), vcpu.get_reg(Reg::x(1)).unwrap()), (7, 42));
}

#[test]
fn exits_to_the_caller_and_memory() {
    let vm = vm_with_ram();
    vm.write_guest(RAM + 0x100, &[0x11, 0x22, 0x33, 0x44]).unwrap();
    let mut vcpu = vm.create_vcpu().unwrap();
    vcpu.set_reg(Reg::PC, RAM).unwrap();
    vcpu.push_mmio(RAM + 0x100, 4, 13, 0).unwrap(); // a load from RAM: no exit
    vcpu.push_mmio(UART, 4, 14, 0).unwrap();
    vcpu.push_smccc(sys::HYP_PSCI_SYSTEM_OFF, &[]).unwrap();
    {
        let mut exit = vcpu.run().unwrap();
        assert_eq!(exit.reason(), ExitReason::Mmio);
        assert!(exit.smccc().is_none());
        let a = exit.mmio().unwrap();
        assert_eq!((a.ipa(), a.len(), a.is_write()), (UART, 4, false));
        a.set_data(0xdead_beef);
    }
    let exit = vcpu.run().unwrap();
    assert_eq!(exit.system_event(), Some((sys::HYP_SYSTEM_EVENT_OFF, 0)));
    assert_eq!(vcpu.get_reg(Reg::x(13)).unwrap(), 0x4433_2211);
    assert_eq!(vcpu.get_reg(Reg::x(14)).unwrap(), 0xdead_beef);
    drop(vcpu);
    let mem = vm.unmap(RAM, 1 << 16).unwrap();
    assert_eq!(&mem.as_slice()[0x100..0x104], &[0x11, 0x22, 0x33, 0x44]);
}

#[test]
fn errors_carry_errno_name_and_message() {
    let e = Vm::new(&VmConfig { backend: Some("no-such".into()), ..Default::default() }).err().unwrap();
    assert_eq!((e.errno(), e.name().as_str()), (2, "ENOENT"));
    assert!(e.to_string().starts_with("ENOENT: ") && e.to_string().len() > 8, "{}", e);
    let vm = vm_with_ram();
    let e = vm.map(RAM, GuestMemory::new(4096).unwrap(), MEM_RWX).unwrap_err();
    assert_eq!(e.name(), "EEXIST");
    assert_eq!(GuestMemory::new(100).err().unwrap().name(), "EINVAL");
    let mut vcpu = vm.create_vcpu().unwrap();
    assert_eq!(vcpu.run().err().unwrap().name(), "ENODATA"); // the mock's script is empty
    assert_eq!(vm.remove_mmio_handler(UART).unwrap_err().name(), "ENOENT");
    vm.add_mmio_handler(UART, 0x1000, |_, _| Handled::Yes).unwrap();
    assert_eq!(vm.add_mmio_handler(UART + 8, 8, |_, _| Handled::Yes).unwrap_err().name(), "EEXIST");
}

#[test]
fn a_panicking_callback_resumes_from_run_and_the_vm_goes_on() {
    let vm = vm_with_ram();
    vm.add_mmio_handler(UART, 0x1000, |_, a| {
        if a.offset() == 0 {
            panic!("device on fire");
        }
        Handled::Yes
    }).unwrap();
    let mut vcpu = vm.create_vcpu().unwrap();
    vcpu.set_reg(Reg::PC, RAM).unwrap();
    vcpu.push_mmio(UART, 4, 9, 0).unwrap();
    vcpu.push_mmio(UART + 4, 4, 9, sys::HYP_MOCK_MMIO_WRITE).unwrap();
    vcpu.push_smccc(sys::HYP_PSCI_SYSTEM_OFF, &[]).unwrap();
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        let _ = vcpu.run();
    }));
    let msg = caught.unwrap_err();
    assert_eq!(msg.downcast_ref::<&str>(), Some(&"device on fire"));
    // The failed access was handed back unhandled; the rest of the script runs normally.
    assert_eq!(vcpu.run().unwrap().reason(), ExitReason::SystemEvent);
}

#[test]
fn vcpus_on_their_own_threads() {
    let vm = Vm::new(&VmConfig { max_vcpus: 4, ..VmConfig::mock() }).unwrap();
    vm.map(RAM, GuestMemory::new(1 << 16).unwrap(), MEM_RWX).unwrap();
    let hits = Arc::new(AtomicU64::new(0));
    let h = hits.clone();
    vm.add_mmio_handler(UART, 0x1000, move |_, _| {
        h.fetch_add(1, Ordering::SeqCst);
        Handled::Yes
    }).unwrap();
    let mut vcpus: Vec<_> = (0..4)
        .map(|i| vm.create_vcpu_with(Some(i), sys::HYP_VCPU_POWER_ON).unwrap())
        .collect();
    std::thread::scope(|s| {
        for v in vcpus.iter_mut() {
            s.spawn(move || {
                v.set_reg(Reg::PC, RAM).unwrap();
                for _ in 0..100 {
                    v.push_mmio(UART, 4, 1, sys::HYP_MOCK_MMIO_WRITE).unwrap();
                }
                v.push_wfx(false).unwrap();
                assert_eq!(v.run().unwrap().reason(), ExitReason::Wfx);
            });
        }
    });
    assert_eq!(hits.load(Ordering::SeqCst), 400);
}

#[test]
fn sysreg_callback() {
    let vm = vm_with_ram();
    let actlr = sysreg(3, 0, 1, 0, 1).unwrap();
    assert_eq!(sysreg(4, 0, 0, 0, 0), None);
    let written = Arc::new(AtomicU64::new(0));
    let w = written.clone();
    vm.add_sysreg_handler(actlr, move |_, a| {
        assert_eq!(a.encoding(), actlr);
        if a.is_write() {
            w.store(a.value(), Ordering::SeqCst);
        } else {
            a.set_value(0x1234);
        }
        Handled::Yes
    }).unwrap();
    assert_eq!(vm.add_sysreg_handler(actlr, |_, _| Handled::Yes).unwrap_err().name(), "EEXIST");
    let mut vcpu = vm.create_vcpu().unwrap();
    vcpu.set_reg(Reg::PC, RAM).unwrap();
    vcpu.set_reg(Reg::x(3), 77).unwrap();
    vcpu.push_sysreg(actlr, true, 3).unwrap();
    vcpu.push_sysreg(actlr, false, 9).unwrap();
    vcpu.push_wfx(false).unwrap();
    assert_eq!(vcpu.run().unwrap().reason(), ExitReason::Wfx);
    assert_eq!(written.load(Ordering::SeqCst), 77);
    assert_eq!(vcpu.get_reg(Reg::x(9)).unwrap(), 0x1234);
    drop(vcpu);
    vm.remove_sysreg_handler(actlr).unwrap();
}
