// SPDX-License-Identifier: MIT
//! libhyp for Rust: the raw C API in [`sys`] and a thin safe wrapper over it.
//!
//! ```
//! use libhyp::{GuestMemory, Handled, Reg, Vm, VmConfig, ExitReason, MEM_RWX};
//!
//! let mut vm = Vm::new(&VmConfig::mock())?;
//! vm.map(0x4000_0000, GuestMemory::new(1 << 16)?, MEM_RWX)?;
//! vm.add_mmio_handler(0x0900_0000, 0x1000, |_vcpu, access| {
//!     if !access.is_write() {
//!         access.set_data(0x90);
//!     }
//!     Handled::Yes
//! })?;
//! let mut vcpu = vm.create_vcpu()?;
//! vcpu.set_reg(Reg::PC, 0x4000_0000)?;
//! vcpu.push_mmio(0x0900_0018, 4, 9, 0)?;                 // the mock's scripted guest
//! vcpu.push_smccc(libhyp::sys::HYP_PSCI_SYSTEM_OFF, &[])?;
//! assert_eq!(vcpu.run()?.reason(), ExitReason::SystemEvent);
//! assert_eq!(vcpu.get_reg(Reg::x(9))?, 0x90);
//! # Ok::<(), libhyp::Error>(())
//! ```
//!
//! What the types guarantee, so that misuse does not compile rather than crash:
//!
//! - A [`Vcpu`] borrows its [`Vm`]: the VM cannot be destroyed (dropped) while a vCPU handle, an
//!   [`Exit`] or a [`Kicker`] of it exists.
//! - [`Vcpu::run`] takes `&mut self` and a `Vcpu` is not `Sync`: one vCPU cannot be run from two
//!   threads at once. It is `Send`, so each vCPU can run on a thread of its own (scoped threads).
//! - The [`Exit`] returned by `run` borrows the vCPU: it cannot be read after the next run.
//! - Callbacks: MMIO ranges, SMCCC function-ID ranges and system registers.
//! - Guest memory is a [`GuestMemory`] the VM owns while it is mapped, so it outlives the guest's
//!   use of it. Callbacks are `Fn + Send + Sync + 'static` closures the VM owns.
//! - A panicking callback does not unwind into C: the exit is handed back unhandled and the panic
//!   resumes from the `run` call that invoked the callback.
//!
//! The compile-time guarantees are tested by `compile_fail` examples in this crate's docs (see
//! [`Vcpu`]). The library is found through `$LIBHYP_LIB_DIR` at build time (see build.rs).
//!
//! vCPUs live as long as their VM: dropping a `Vcpu` handle releases only the handle (a kick
//! may still be in flight), and `hyp_vm_destroy` frees every vCPU when the `Vm` is dropped.

pub mod sys;

use std::any::Any;
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fmt;
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::ptr::{self, NonNull};
use std::sync::{Arc, Mutex, RwLock};

pub use sys::{HYP_MEM_EXEC as MEM_EXEC, HYP_MEM_READ as MEM_READ, HYP_MEM_RWX as MEM_RWX,
              HYP_MEM_WRITE as MEM_WRITE, HYP_PAGE_SIZE as PAGE_SIZE};

/// A libhyp error: the negative errno value a C function returned.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Error {
    code: i32,
}

impl Error {
    /// The value the C function returned (negative).
    pub fn code(&self) -> i32 {
        self.code
    }

    /// The positive errno (for a host failure reported as -HYP_EHOST(e), the host's e).
    pub fn errno(&self) -> i32 {
        match unsafe { sys::hyp_error_host_errno(self.code) } {
            0 => -self.code,
            host => host,
        }
    }

    /// Whether the backend's host system call failed (-HYP_EHOST(e)).
    pub fn is_host_error(&self) -> bool {
        unsafe { sys::hyp_error_host_errno(self.code) != 0 }
    }

    /// The errno's symbolic name ("EINVAL"), or "E<number>" for one this table lacks.
    pub fn name(&self) -> String {
        let n = self.errno();
        let known = [
            (1, "EPERM"), (2, "ENOENT"), (4, "EINTR"), (5, "EIO"), (7, "E2BIG"), (8, "ENOEXEC"),
            (9, "EBADF"), (11, "EAGAIN"), (12, "ENOMEM"), (13, "EACCES"), (14, "EFAULT"),
            (16, "EBUSY"), (17, "EEXIST"), (19, "ENODEV"), (21, "EISDIR"), (22, "EINVAL"),
            (28, "ENOSPC"), (34, "ERANGE"), (35, "EDEADLK"), (38, "ENOSYS"), (61, "ENODATA"),
            (71, "EPROTO"), (75, "EOVERFLOW"), (95, "ENOTSUP"), (108, "ESHUTDOWN"),
            (110, "ETIMEDOUT"),
        ];
        known.iter().find(|(k, _)| *k == n).map(|(_, s)| s.to_string())
            .unwrap_or_else(|| format!("E{}", n))
    }

    /// libhyp's description (hyp_strerror).
    pub fn message(&self) -> String {
        unsafe { CStr::from_ptr(sys::hyp_strerror(self.code)) }.to_string_lossy().into_owned()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.is_host_error() { "host " } else { "" };
        write!(f, "{}{}: {}", host, self.name(), self.message())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({}: {})", self.code, self)
    }
}

impl std::error::Error for Error {}

fn check(r: c_int) -> Result<c_int, Error> {
    if r < 0 {
        Err(Error { code: r })
    } else {
        Ok(r)
    }
}

/// The linked library's version as "major.minor.micro".
pub fn version_string() -> String {
    unsafe { CStr::from_ptr(sys::hyp_version_string()) }.to_string_lossy().into_owned()
}

/// A core register (enum hyp_reg).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reg(c_int);

impl Reg {
    pub const SP_EL0: Reg = Reg(sys::HYP_REG_SP_EL0);
    pub const PC: Reg = Reg(sys::HYP_REG_PC);
    pub const PSTATE: Reg = Reg(sys::HYP_REG_PSTATE);
    pub const SP_EL1: Reg = Reg(sys::HYP_REG_SP_EL1);
    pub const ELR_EL1: Reg = Reg(sys::HYP_REG_ELR_EL1);
    pub const SPSR_EL1: Reg = Reg(sys::HYP_REG_SPSR_EL1);

    /// Xn, n in 0..=30.
    ///
    /// # Panics
    /// If n > 30.
    pub fn x(n: u32) -> Reg {
        assert!(n <= 30, "X{} does not exist", n);
        Reg(sys::HYP_REG_X0 + n as c_int)
    }
}

/// Why `run` returned (enum hyp_exit_reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitReason {
    None,
    Mmio,
    Smccc,
    Sysreg,
    Wfx,
    MemFault,
    SystemEvent,
    Kicked,
    Debug,
    Exception,
    /// A value this version of the crate does not know.
    Unknown(u32),
}

impl From<u32> for ExitReason {
    fn from(v: u32) -> Self {
        match v {
            sys::HYP_EXIT_NONE => ExitReason::None,
            sys::HYP_EXIT_MMIO => ExitReason::Mmio,
            sys::HYP_EXIT_SMCCC => ExitReason::Smccc,
            sys::HYP_EXIT_SYSREG => ExitReason::Sysreg,
            sys::HYP_EXIT_WFX => ExitReason::Wfx,
            sys::HYP_EXIT_MEM_FAULT => ExitReason::MemFault,
            sys::HYP_EXIT_SYSTEM_EVENT => ExitReason::SystemEvent,
            sys::HYP_EXIT_KICKED => ExitReason::Kicked,
            sys::HYP_EXIT_DEBUG => ExitReason::Debug,
            sys::HYP_EXIT_EXCEPTION => ExitReason::Exception,
            other => ExitReason::Unknown(other),
        }
    }
}

/// What a callback did with an exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    /// HYP_HANDLED: complete the instruction, resume the guest.
    Yes,
    /// HYP_NOT_HANDLED: hand the exit to the caller of `run`.
    No,
}

/// How to create a VM (struct hyp_vm_config, and the mock's struct hyp_mock_config).
#[derive(Clone, Debug, Default)]
pub struct VmConfig {
    /// "kvm", "el2", "mock", or None for automatic selection.
    pub backend: Option<String>,
    pub flags: u32,
    pub ipa_bits: u32,
    pub max_vcpus: u32,
    pub irqchip: u32,
    /// enum hyp_mock_flags, for the mock backend.
    pub mock_flags: u32,
}

impl VmConfig {
    /// The mock backend with its defaults.
    pub fn mock() -> Self {
        VmConfig { backend: Some("mock".into()), ..Default::default() }
    }
}

/// Page-aligned, zeroed memory to give a guest: owned by the [`Vm`] while mapped.
pub struct GuestMemory {
    ptr: NonNull<u8>,
    size: usize,
}

// The memory is plain bytes; the VM serialises access to it (RwLock) while it is mapped.
unsafe impl Send for GuestMemory {}
unsafe impl Sync for GuestMemory {}

impl GuestMemory {
    fn layout(size: usize) -> Result<std::alloc::Layout, Error> {
        if size == 0 || size % PAGE_SIZE as usize != 0 {
            return Err(Error { code: -22 });
        }
        std::alloc::Layout::from_size_align(size, PAGE_SIZE as usize).map_err(|_| Error { code: -22 })
    }

    /// `size` bytes (a non-zero multiple of PAGE_SIZE, else EINVAL; ENOMEM if unavailable).
    pub fn new(size: usize) -> Result<Self, Error> {
        let layout = Self::layout(size)?;
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        NonNull::new(ptr).map(|ptr| GuestMemory { ptr, size }).ok_or(Error { code: -12 })
    }

    pub fn len(&self) -> usize {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn as_slice(&self) -> &[u8] {
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.size) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.size) }
    }
}

impl Drop for GuestMemory {
    fn drop(&mut self) {
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), Self::layout(self.size).unwrap()) }
    }
}

type PanicSlot = Arc<Mutex<HashMap<usize, Box<dyn Any + Send>>>>;

/// A registered callback: the closure and where its panic goes. Boxed, so the address C holds
/// as `opaque` is stable; owned by the Vm until removed (after C stops calling it).
struct Callback<F: ?Sized> {
    panics: PanicSlot,
    f: Box<F>,
}

/// The vCPU a callback runs for (on its thread, inside `run`).
pub struct CallbackVcpu {
    raw: *mut sys::hyp_vcpu,
}

impl CallbackVcpu {
    pub fn index(&self) -> u32 {
        unsafe { sys::hyp_vcpu_index(self.raw) }
    }

    pub fn get_reg(&self, reg: Reg) -> Result<u64, Error> {
        let mut v = 0;
        check(unsafe { sys::hyp_vcpu_get_reg(self.raw, reg.0, &mut v) })?;
        Ok(v)
    }

    pub fn set_reg(&self, reg: Reg, value: u64) -> Result<(), Error> {
        check(unsafe { sys::hyp_vcpu_set_reg(self.raw, reg.0, value) }).map(|_| ())
    }
}

/// A decoded MMIO access (struct hyp_mmio_access); set the data of a load.
#[repr(transparent)]
pub struct MmioAccess(sys::hyp_mmio_access);

impl MmioAccess {
    pub fn ipa(&self) -> u64 {
        self.0.ipa
    }
    /// The IPA minus the callback range's base.
    pub fn offset(&self) -> u64 {
        self.0.offset
    }
    pub fn len(&self) -> u8 {
        self.0.len
    }
    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }
    pub fn is_write(&self) -> bool {
        self.0.is_write != 0
    }
    pub fn data(&self) -> u64 {
        self.0.data
    }
    /// For a load: the value (the low `len()` bytes are used).
    pub fn set_data(&mut self, v: u64) {
        self.0.data = v;
    }
    pub fn raw(&mut self) -> &mut sys::hyp_mmio_access {
        &mut self.0
    }
}

/// A decoded SMCCC call (struct hyp_smccc_call); set the results.
#[repr(transparent)]
pub struct SmcccCall(sys::hyp_smccc_call);

impl SmcccCall {
    pub fn function_id(&self) -> u32 {
        self.0.function_id
    }
    /// X1..X7.
    pub fn args(&self) -> [u64; 7] {
        self.0.args
    }
    /// X0..X3 on return (pre-set to NOT_SUPPORTED and the unchanged X1..X3).
    pub fn ret(&mut self) -> &mut [u64; 4] {
        &mut self.0.ret
    }
}

/// A trapped MSR/MRS (struct hyp_sysreg_access); set the value of an MRS.
#[repr(transparent)]
pub struct SysregAccess(sys::hyp_sysreg_access);

impl SysregAccess {
    /// HYP_SYSREG(op0, op1, CRn, CRm, op2): see [`sysreg`].
    pub fn encoding(&self) -> u32 {
        self.0.encoding
    }
    pub fn is_write(&self) -> bool {
        self.0.is_write != 0
    }
    pub fn value(&self) -> u64 {
        self.0.value
    }
    /// For an MRS: the value the guest reads.
    pub fn set_value(&mut self, v: u64) {
        self.0.value = v;
    }
}

/// HYP_SYSREG(): the libhyp encoding of a system register operand; None if a field is too wide.
pub fn sysreg(op0: u32, op1: u32, crn: u32, crm: u32, op2: u32) -> Option<u32> {
    if op0 > 3 || op1 > 7 || crn > 15 || crm > 15 || op2 > 7 {
        return None;
    }
    Some((op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2)
}

/// Everything the trampolines share: call the closure, keep panics out of C.
unsafe fn call_guarded<F: ?Sized, A>(opaque: *mut c_void, vcpu: *mut sys::hyp_vcpu, arg: *mut A,
                                     call: impl FnOnce(&F, &CallbackVcpu, &mut A) -> Handled) -> c_int {
    let cb = &*(opaque as *const Callback<F>);
    if cb.panics.lock().map(|p| p.contains_key(&(vcpu as usize))).unwrap_or(true) {
        return sys::HYP_NOT_HANDLED; // already failing on this vCPU: hand the exit back
    }
    let v = CallbackVcpu { raw: vcpu };
    match panic::catch_unwind(AssertUnwindSafe(|| call(&cb.f, &v, &mut *arg))) {
        Ok(Handled::Yes) => sys::HYP_HANDLED,
        Ok(Handled::No) => sys::HYP_NOT_HANDLED,
        Err(payload) => {
            if let Ok(mut p) = cb.panics.lock() {
                p.insert(vcpu as usize, payload);
            }
            sys::HYP_NOT_HANDLED
        }
    }
}

type MmioFn = dyn Fn(&CallbackVcpu, &mut MmioAccess) -> Handled + Send + Sync;
type SmcccFn = dyn Fn(&CallbackVcpu, &mut SmcccCall) -> Handled + Send + Sync;

unsafe extern "C" fn mmio_trampoline(opaque: *mut c_void, vcpu: *mut sys::hyp_vcpu,
                                     access: *mut sys::hyp_mmio_access) -> c_int {
    call_guarded::<MmioFn, _>(opaque, vcpu, access as *mut MmioAccess, |f, v, a| f(v, a))
}

type SysregFn = dyn Fn(&CallbackVcpu, &mut SysregAccess) -> Handled + Send + Sync;

unsafe extern "C" fn sysreg_trampoline(opaque: *mut c_void, vcpu: *mut sys::hyp_vcpu,
                                       access: *mut sys::hyp_sysreg_access) -> c_int {
    call_guarded::<SysregFn, _>(opaque, vcpu, access as *mut SysregAccess, |f, v, a| f(v, a))
}

unsafe extern "C" fn smccc_trampoline(opaque: *mut c_void, vcpu: *mut sys::hyp_vcpu,
                                      call: *mut sys::hyp_smccc_call) -> c_int {
    call_guarded::<SmcccFn, _>(opaque, vcpu, call as *mut SmcccCall, |f, v, c| f(v, c))
}

#[derive(Hash, PartialEq, Eq, Clone, Copy, Debug)]
enum Key {
    Mmio(u64),
    Smccc(u32, u32),
    Sysreg(u32),
}

/// A virtual machine (hyp_vm_create); destroyed when dropped.
pub struct Vm {
    raw: NonNull<sys::hyp_vm>,
    // Readers: guest memory copies; writer: map/unmap (the C API requires them exclusive).
    regions: RwLock<HashMap<(u64, u64), GuestMemory>>,
    callbacks: Mutex<HashMap<Key, Box<dyn Any + Send + Sync>>>,
    panics: PanicSlot,
}

// The C API is thread-safe for the calls exposed on &Vm (registration and memory changes are
// refused with EBUSY while vCPUs run; the rest is serialised here).
unsafe impl Send for Vm {}
unsafe impl Sync for Vm {}

impl Vm {
    pub fn new(config: &VmConfig) -> Result<Vm, Error> {
        let backend = match &config.backend {
            Some(b) => Some(CString::new(b.as_str()).map_err(|_| Error { code: -22 })?),
            None => None,
        };
        let mock = sys::hyp_mock_config {
            size: std::mem::size_of::<sys::hyp_mock_config>() as u32,
            flags: config.mock_flags,
            ..Default::default()
        };
        let is_mock = config.backend.as_deref() == Some("mock");
        if !is_mock && config.mock_flags != 0 {
            return Err(Error { code: -22 });
        }
        let cfg = sys::hyp_vm_config {
            size: std::mem::size_of::<sys::hyp_vm_config>() as u32,
            flags: config.flags,
            backend: backend.as_ref().map_or(ptr::null(), |b| b.as_ptr()),
            backend_ops: ptr::null(),
            backend_config: if is_mock { &mock as *const _ as *const c_void } else { ptr::null() },
            alloc: ptr::null(),
            log_fn: None,
            log_opaque: ptr::null_mut(),
            log_priority: 0,
            ipa_bits: config.ipa_bits,
            max_vcpus: config.max_vcpus,
            irqchip: config.irqchip,
            gicd_base: 0,
            gicr_base: 0,
            dirty_ring_entries: 0,
        };
        let mut raw = ptr::null_mut();
        check(unsafe { sys::hyp_vm_create(&cfg, &mut raw) })?;
        Ok(Vm {
            raw: NonNull::new(raw).expect("hyp_vm_create succeeded without a VM"),
            regions: RwLock::new(HashMap::new()),
            callbacks: Mutex::new(HashMap::new()),
            panics: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    pub fn as_raw(&self) -> *mut sys::hyp_vm {
        self.raw.as_ptr()
    }

    pub fn backend_name(&self) -> String {
        unsafe { CStr::from_ptr(sys::hyp_vm_backend_name(self.raw.as_ptr())) }
            .to_string_lossy().into_owned()
    }

    /// Give the guest `mem` at `ipa` (hyp_vm_map); the VM owns it until `unmap` or drop.
    pub fn map(&self, ipa: u64, mut mem: GuestMemory, flags: u32) -> Result<(), Error> {
        let mut regions = self.regions.write().unwrap_or_else(|e| e.into_inner());
        let host = mem.as_mut_slice().as_mut_ptr() as *mut c_void;
        check(unsafe { sys::hyp_vm_map(self.raw.as_ptr(), ipa, host, mem.len() as u64, flags) })?;
        regions.insert((ipa, mem.len() as u64), mem);
        Ok(())
    }

    /// Remove a region exactly as mapped (hyp_vm_unmap) and get its memory back.
    pub fn unmap(&self, ipa: u64, size: u64) -> Result<GuestMemory, Error> {
        let mut regions = self.regions.write().unwrap_or_else(|e| e.into_inner());
        check(unsafe { sys::hyp_vm_unmap(self.raw.as_ptr(), ipa, size) })?;
        Ok(regions.remove(&(ipa, size)).expect("a region libhyp had but this Vm did not own"))
    }

    pub fn write_guest(&self, ipa: u64, data: &[u8]) -> Result<(), Error> {
        let _r = self.regions.read().unwrap_or_else(|e| e.into_inner());
        check(unsafe {
            sys::hyp_vm_write_guest(self.raw.as_ptr(), ipa, data.as_ptr() as *const c_void, data.len())
        }).map(|_| ())
    }

    pub fn read_guest(&self, ipa: u64, buf: &mut [u8]) -> Result<(), Error> {
        let _r = self.regions.read().unwrap_or_else(|e| e.into_inner());
        check(unsafe {
            sys::hyp_vm_read_guest(self.raw.as_ptr(), ipa, buf.as_mut_ptr() as *mut c_void, buf.len())
        }).map(|_| ())
    }

    fn register<F: ?Sized + Send + Sync + 'static>(&self, key: Key, f: Box<F>,
                                                     c_call: impl FnOnce(*mut c_void) -> c_int)
                                                     -> Result<(), Error> {
        let mut cbs = self.callbacks.lock().unwrap_or_else(|e| e.into_inner());
        if cbs.contains_key(&key) {
            return Err(Error { code: -17 });
        }
        let cb = Box::new(Callback { panics: self.panics.clone(), f });
        let opaque = &*cb as *const Callback<F> as *mut c_void;
        check(c_call(opaque))?;
        cbs.insert(key, cb);
        Ok(())
    }

    fn unregister(&self, key: Key, c_call: impl FnOnce() -> c_int) -> Result<(), Error> {
        let mut cbs = self.callbacks.lock().unwrap_or_else(|e| e.into_inner());
        // Only once C has let go of the callback (it refuses while a vCPU runs) is it dropped.
        check(c_call())?;
        cbs.remove(&key);
        Ok(())
    }

    /// Route guest accesses to [base, base + size) to `f` (hyp_vm_add_mmio_handler).
    pub fn add_mmio_handler<F>(&self, base: u64, size: u64, f: F) -> Result<(), Error>
    where
        F: Fn(&CallbackVcpu, &mut MmioAccess) -> Handled + Send + Sync + 'static,
    {
        let raw = self.raw.as_ptr();
        self.register::<MmioFn>(Key::Mmio(base), Box::new(f), |opaque| unsafe {
            sys::hyp_vm_add_mmio_handler(raw, base, size, Some(mmio_trampoline), opaque)
        })
    }

    pub fn remove_mmio_handler(&self, base: u64) -> Result<(), Error> {
        let raw = self.raw.as_ptr();
        self.unregister(Key::Mmio(base), || unsafe { sys::hyp_vm_remove_mmio_handler(raw, base) })
    }

    /// Route SMCCC calls with function IDs in [first, last] on `conduits` to `f`.
    pub fn add_smccc_handler<F>(&self, conduits: u32, first: u32, last: u32, f: F) -> Result<(), Error>
    where
        F: Fn(&CallbackVcpu, &mut SmcccCall) -> Handled + Send + Sync + 'static,
    {
        let raw = self.raw.as_ptr();
        self.register::<SmcccFn>(Key::Smccc(conduits, first), Box::new(f), |opaque| unsafe {
            sys::hyp_vm_add_smccc_handler(raw, conduits, first, last, Some(smccc_trampoline), opaque)
        })
    }

    pub fn remove_smccc_handler(&self, conduits: u32, first: u32) -> Result<(), Error> {
        let raw = self.raw.as_ptr();
        self.unregister(Key::Smccc(conduits, first), || unsafe {
            sys::hyp_vm_remove_smccc_handler(raw, conduits, first)
        })
    }

    /// Handle trapped accesses to one system register (hyp_vm_add_sysreg_handler).
    pub fn add_sysreg_handler<F>(&self, encoding: u32, f: F) -> Result<(), Error>
    where
        F: Fn(&CallbackVcpu, &mut SysregAccess) -> Handled + Send + Sync + 'static,
    {
        let raw = self.raw.as_ptr();
        self.register::<SysregFn>(Key::Sysreg(encoding), Box::new(f), |opaque| unsafe {
            sys::hyp_vm_add_sysreg_handler(raw, encoding, Some(sysreg_trampoline), opaque)
        })
    }

    pub fn remove_sysreg_handler(&self, encoding: u32) -> Result<(), Error> {
        let raw = self.raw.as_ptr();
        self.unregister(Key::Sysreg(encoding), || unsafe {
            sys::hyp_vm_remove_sysreg_handler(raw, encoding)
        })
    }

    pub fn set_spi(&self, intid: u32, level: bool) -> Result<(), Error> {
        check(unsafe { sys::hyp_vm_set_spi(self.raw.as_ptr(), intid, level) }).map(|_| ())
    }

    /// The mock backend: the level the VMM last drove on an interrupt line.
    pub fn mock_irq_level(&self, intid: u32) -> Result<bool, Error> {
        check(unsafe { sys::hyp_mock_irq_level(self.raw.as_ptr(), ptr::null(), intid) }).map(|v| v != 0)
    }

    /// Create a vCPU with the lowest free index.
    pub fn create_vcpu(&self) -> Result<Vcpu<'_>, Error> {
        self.create_vcpu_with(None, sys::HYP_VCPU_POWER_DEFAULT)
    }

    /// Create a vCPU with this index and initial power state (enum hyp_vcpu_power).
    pub fn create_vcpu_with(&self, index: Option<u32>, power: u32) -> Result<Vcpu<'_>, Error> {
        let cfg = index.map(|index| sys::hyp_vcpu_config {
            size: std::mem::size_of::<sys::hyp_vcpu_config>() as u32,
            index,
            power,
            ..Default::default()
        });
        let mut raw = ptr::null_mut();
        check(unsafe {
            sys::hyp_vcpu_create(self.raw.as_ptr(), cfg.as_ref().map_or(ptr::null(), |c| c as *const _),
                                 &mut raw)
        })?;
        Ok(Vcpu { raw: NonNull::new(raw).expect("no vCPU"), vm: self, _not_sync: PhantomData })
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // No Vcpu, Exit or Kicker can be alive (they borrow self), so no vCPU runs: destroy
        // cannot be refused. Callbacks and memory are dropped after it, when C is done with them.
        let r = unsafe { sys::hyp_vm_destroy(self.raw.as_ptr()) };
        debug_assert_eq!(r, 0, "hyp_vm_destroy refused with no vCPU running");
    }
}

/// A vCPU of a [`Vm`]. `Send` (run it on a thread of its own), not `Sync`; `run` needs `&mut`.
///
/// The VM cannot be dropped while a vCPU handle is alive:
/// ```compile_fail
/// let vm = libhyp::Vm::new(&libhyp::VmConfig::mock()).unwrap();
/// let mut vcpu = vm.create_vcpu().unwrap();
/// drop(vm);
/// let _ = vcpu.run();
/// ```
/// One vCPU cannot be run from two threads:
/// ```compile_fail
/// let vm = libhyp::Vm::new(&libhyp::VmConfig::mock()).unwrap();
/// let mut vcpu = vm.create_vcpu().unwrap();
/// std::thread::scope(|s| {
///     s.spawn(|| { let _ = vcpu.run(); });
///     s.spawn(|| { let _ = vcpu.run(); });
/// });
/// ```
/// nor shared between threads at all:
/// ```compile_fail
/// fn shared<T: Sync>(_: &T) {}
/// let vm = libhyp::Vm::new(&libhyp::VmConfig::mock()).unwrap();
/// let vcpu = vm.create_vcpu().unwrap();
/// shared(&vcpu);
/// ```
/// An exit cannot be read after the next run:
/// ```compile_fail
/// let vm = libhyp::Vm::new(&libhyp::VmConfig::mock()).unwrap();
/// let mut vcpu = vm.create_vcpu().unwrap();
/// let first = vcpu.run().unwrap();
/// let _second = vcpu.run();
/// let _ = first.reason();
/// ```
/// The same code used as intended compiles (each compile_fail example above is this with one
/// rule broken, so they fail for the reason given, not for a typo):
/// ```
/// fn shared<T: Sync>(_: &T) {}
/// let vm = libhyp::Vm::new(&libhyp::VmConfig::mock()).unwrap();
/// let mut vcpu = vm.create_vcpu().unwrap();
/// shared(&vm);
/// std::thread::scope(|s| {
///     s.spawn(|| { let _ = vcpu.run(); });
/// });
/// vcpu.push_wfx(false).unwrap();
/// let first = vcpu.run().unwrap();
/// let _ = first.reason();
/// let _second = vcpu.run();
/// drop(vcpu);
/// drop(vm);
/// ```
/// Moving a vCPU to a thread of its own and kicking it from another is fine (this one compiles
/// and runs):
/// ```
/// let vm = libhyp::Vm::new(&libhyp::VmConfig::mock()).unwrap();
/// let _boot = vm.create_vcpu().unwrap();
/// let mut second = vm.create_vcpu().unwrap(); // powered off: waits in run() for CPU_ON
/// let kicker = second.kicker();
/// std::thread::scope(|s| {
///     let t = s.spawn(move || second.run().map(|e| e.reason()));
///     kicker.kick().unwrap();
///     assert_eq!(t.join().unwrap().unwrap(), libhyp::ExitReason::Kicked);
/// });
/// ```
pub struct Vcpu<'vm> {
    raw: NonNull<sys::hyp_vcpu>,
    vm: &'vm Vm,
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

unsafe impl Send for Vcpu<'_> {}

impl<'vm> Vcpu<'vm> {
    pub fn as_raw(&self) -> *mut sys::hyp_vcpu {
        self.raw.as_ptr()
    }

    pub fn vm(&self) -> &'vm Vm {
        self.vm
    }

    pub fn index(&self) -> u32 {
        unsafe { sys::hyp_vcpu_index(self.raw.as_ptr()) }
    }

    pub fn get_reg(&self, reg: Reg) -> Result<u64, Error> {
        let mut v = 0;
        check(unsafe { sys::hyp_vcpu_get_reg(self.raw.as_ptr(), reg.0, &mut v) })?;
        Ok(v)
    }

    pub fn set_reg(&mut self, reg: Reg, value: u64) -> Result<(), Error> {
        check(unsafe { sys::hyp_vcpu_set_reg(self.raw.as_ptr(), reg.0, value) }).map(|_| ())
    }

    /// Run until an exit the caller must see (hyp_vcpu_run). A callback that panicked during
    /// this run has its panic resumed here (after the exit was handed back unhandled).
    pub fn run(&mut self) -> Result<Exit<'_>, Error> {
        let r = unsafe { sys::hyp_vcpu_run(self.raw.as_ptr()) };
        let payload = self.vm.panics.lock().ok().and_then(|mut p| p.remove(&(self.raw.as_ptr() as usize)));
        if let Some(payload) = payload {
            panic::resume_unwind(payload);
        }
        check(r)?;
        let exit = unsafe { &mut *sys::hyp_vcpu_exit(self.raw.as_ptr()) };
        Ok(Exit { raw: exit })
    }

    /// A handle that kicks this vCPU from any thread (hyp_vcpu_kick), valid as long as the VM.
    pub fn kicker(&self) -> Kicker<'vm> {
        Kicker { raw: self.raw, _vm: PhantomData }
    }

    pub fn push_mmio(&mut self, ipa: u64, len: u32, reg: u32, flags: u32) -> Result<(), Error> {
        check(unsafe { sys::hyp_mock_push_mmio(self.raw.as_ptr(), ipa, len, reg, flags) }).map(|_| ())
    }

    /// The guest makes an HVC SMCCC call with X1.. = `args` (at most 7; the rest 0).
    pub fn push_smccc(&mut self, function_id: u32, args: &[u64]) -> Result<(), Error> {
        if args.len() > 7 {
            return Err(Error { code: -22 });
        }
        let mut a = [0u64; 7];
        a[..args.len()].copy_from_slice(args);
        check(unsafe {
            sys::hyp_mock_push_smccc(self.raw.as_ptr(), sys::HYP_CONDUIT_HVC, 0, function_id, a.as_ptr())
        }).map(|_| ())
    }

    /// The guest executes MRS Xreg, <encoding> (or MSR when `is_write`) and it traps.
    pub fn push_sysreg(&mut self, encoding: u32, is_write: bool, reg: u32) -> Result<(), Error> {
        check(unsafe { sys::hyp_mock_push_sysreg(self.raw.as_ptr(), encoding, is_write, reg) }).map(|_| ())
    }

    pub fn push_wfx(&mut self, is_wfe: bool) -> Result<(), Error> {
        check(unsafe { sys::hyp_mock_push_wfx(self.raw.as_ptr(), is_wfe) }).map(|_| ())
    }

    pub fn script_length(&self) -> Result<u32, Error> {
        check(unsafe { sys::hyp_mock_script_length(self.raw.as_ptr()) }).map(|n| n as u32)
    }
}

/// Kicks a vCPU from any thread or a signal handler; cannot outlive the VM.
#[derive(Clone, Copy)]
pub struct Kicker<'vm> {
    raw: NonNull<sys::hyp_vcpu>,
    _vm: PhantomData<&'vm Vm>,
}

unsafe impl Send for Kicker<'_> {}
unsafe impl Sync for Kicker<'_> {}

impl Kicker<'_> {
    pub fn kick(&self) -> Result<(), Error> {
        check(unsafe { sys::hyp_vcpu_kick(self.raw.as_ptr()) }).map(|_| ())
    }
}

/// The record of the last exit (struct hyp_exit), borrowed from the vCPU until its next run.
pub struct Exit<'a> {
    raw: &'a mut sys::hyp_exit,
}

impl Exit<'_> {
    pub fn reason(&self) -> ExitReason {
        ExitReason::from(self.raw.reason)
    }

    pub fn raw(&mut self) -> &mut sys::hyp_exit {
        self.raw
    }

    /// The MMIO access of an MMIO exit (set its data before the next run for a load).
    pub fn mmio(&mut self) -> Option<&mut MmioAccess> {
        if self.raw.reason != sys::HYP_EXIT_MMIO {
            return None;
        }
        Some(unsafe { &mut *(&mut self.raw.u.mmio as *mut sys::hyp_mmio_access as *mut MmioAccess) })
    }

    /// The call of an SMCCC exit (set its results before the next run).
    pub fn smccc(&mut self) -> Option<&mut SmcccCall> {
        if self.raw.reason != sys::HYP_EXIT_SMCCC {
            return None;
        }
        Some(unsafe { &mut *(&mut self.raw.u.smccc as *mut sys::hyp_smccc_call as *mut SmcccCall) })
    }

    /// The system event (enum hyp_system_event_type, data) of a SYSTEM_EVENT exit.
    pub fn system_event(&self) -> Option<(u32, u64)> {
        if self.raw.reason != sys::HYP_EXIT_SYSTEM_EVENT {
            return None;
        }
        let e = unsafe { self.raw.u.system_event };
        Some((e.type_, e.data))
    }
}
