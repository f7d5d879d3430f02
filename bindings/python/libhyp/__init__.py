# SPDX-License-Identifier: MIT
"""libhyp for Python: ctypes over libhyp.so.0, no compiled extension.

    import libhyp, mmap

    ram = mmap.mmap(-1, 1 << 20)                      # page-aligned, zero-copy guest RAM
    with libhyp.VM("mock") as vm:
        vm.map(0x4000_0000, ram)
        vm.add_mmio_handler(0x0900_0000, 0x1000, lambda vcpu, a: print(chr(a.data)) or True)
        with vm.vcpu() as vcpu:
            vcpu.set_reg(libhyp.Reg.PC, 0x4000_0000)
            vcpu.push_smccc(libhyp.PSCI_SYSTEM_OFF)       # the mock's scripted guest
            ex = vcpu.run()
            assert ex.reason == libhyp.ExitReason.SYSTEM_EVENT

Errors are HypError (an OSError carrying the errno, its name and libhyp's message). An exception
raised in a callback, or a callback returning something other than a bool/HandlerResult, is
raised from the run() call that invoked it as CallbackError (the original as its __cause__); the
exit is handed back to the caller, so the VM stays usable. The library finds libhyp.so.0 through
$LIBHYP_LIBRARY (a path) or the dynamic linker.
"""
from __future__ import annotations

import ctypes
import errno as _errno
import enum
import threading
import weakref
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import _ffi

__all__ = [
    "HypError", "CallbackError", "VM", "Vcpu", "Exit", "MmioAccess", "SmcccCall", "SysregAccess",
    "ExitReason", "Reg", "Mem", "Cap", "Conduit", "HandlerResult", "Irqchip", "VcpuPower",
    "InjectKind", "MemFaultKind", "SystemEventType", "MockFlags", "MockMmio", "MockGicState",
    "LogPriority", "VmFlags", "sysreg", "version", "version_string", "guest_memory", "PAGE_SIZE",
]

PAGE_SIZE = 4096
HOST_ERRNO_BASE = 0x10000

# SMCCC / PSCI function IDs (libhyp/smccc.h) most VMMs and tests need.
PSCI_VERSION = 0x84000000
PSCI_CPU_OFF = 0x84000002
PSCI_CPU_ON_64 = 0xC4000003
PSCI_SYSTEM_OFF = 0x84000008
PSCI_SYSTEM_RESET = 0x84000009
SMCCC_VERSION = 0x80000000
SMCCC_NOT_SUPPORTED = (1 << 64) - 1


class ExitReason(enum.IntEnum):
    """enum hyp_exit_reason."""
    NONE = 0
    MMIO = 1
    SMCCC = 2
    SYSREG = 3
    WFX = 4
    MEM_FAULT = 5
    SYSTEM_EVENT = 6
    KICKED = 7
    DEBUG = 8
    EXCEPTION = 9


class Reg(enum.IntEnum):
    """enum hyp_reg: X0..X30 (Reg.X(n) too), SP_EL0, PC, PSTATE, SP_EL1, ELR_EL1, SPSR_EL1."""
    X0 = 0
    X1 = 1
    X2 = 2
    X3 = 3
    X4 = 4
    X5 = 5
    X6 = 6
    X7 = 7
    X8 = 8
    X9 = 9
    X10 = 10
    X11 = 11
    X12 = 12
    X13 = 13
    X14 = 14
    X15 = 15
    X16 = 16
    X17 = 17
    X18 = 18
    X19 = 19
    X20 = 20
    X21 = 21
    X22 = 22
    X23 = 23
    X24 = 24
    X25 = 25
    X26 = 26
    X27 = 27
    X28 = 28
    X29 = 29
    X30 = 30
    LR = 30
    SP_EL0 = 31
    PC = 32
    PSTATE = 33
    SP_EL1 = 34
    ELR_EL1 = 35
    SPSR_EL1 = 36

    @classmethod
    def X(cls, n: int) -> "Reg":
        """Xn."""
        if not 0 <= n <= 30:
            raise ValueError(f"X{n}: no such register")
        return cls(n)


class Mem(enum.IntFlag):
    """enum hyp_mem_flags."""
    READ = 1
    WRITE = 2
    EXEC = 4
    RWX = 7
    RX = 5
    RO = 1


class VmFlags(enum.IntFlag):
    """enum hyp_vm_flags."""
    ABORT_UNCLAIMED = 1


class Cap(enum.IntEnum):
    """enum hyp_cap."""
    IRQCHIP_BACKEND = 1
    IRQ_INJECTION = 2
    SYSREG_TRAPS = 3
    SMCCC_HVC_EXITS = 4
    SMCCC_SMC_EXITS = 5
    PSCI_OVERRIDE = 6
    READONLY_MEM = 7
    DIRTY_LOG = 8
    WFX_EXITS = 9
    MAX_VCPUS = 10
    IPA_BITS = 11
    NO_SYNDROME_EXITS = 12
    INJECT_EXCEPTIONS = 13
    CUSTOM_MPIDR = 14
    DIRTY_RING = 15
    CPU_FEATURES = 16


class Conduit(enum.IntFlag):
    """enum hyp_smccc_conduit."""
    HVC = 1
    SMC = 2


class HandlerResult(enum.IntEnum):
    """enum hyp_handler_result: what a callback returns (True/False mean the same)."""
    NOT_HANDLED = 0
    HANDLED = 1


class Irqchip(enum.IntEnum):
    """enum hyp_irqchip."""
    AUTO = 0
    BACKEND = 1
    LIBRARY = 2
    NONE = 3


class VcpuPower(enum.IntEnum):
    """enum hyp_vcpu_power."""
    DEFAULT = 0
    ON = 1
    OFF = 2


class InjectKind(enum.IntEnum):
    """enum hyp_inject_kind."""
    UNDEF = 1
    DATA_ABORT = 2
    PREFETCH_ABORT = 3


class MemFaultKind(enum.IntEnum):
    """enum hyp_mem_fault_kind."""
    NO_SYNDROME = 1
    EXEC = 2
    PAGE_TABLE_WALK = 3
    OTHER = 4


class SystemEventType(enum.IntEnum):
    """enum hyp_system_event_type."""
    OFF = 1
    RESET = 2
    CRASH = 3


class LogPriority(enum.IntEnum):
    """enum hyp_log_priority."""
    ERROR = 3
    WARNING = 4
    INFO = 6
    DEBUG = 7


class MockFlags(enum.IntFlag):
    """enum hyp_mock_flags (VM(mock_flags=...))."""
    NO_SYSREG_TRAPS = 1
    NO_READONLY_MEM = 2
    NO_IRQCHIP = 4


class MockMmio(enum.IntFlag):
    """enum hyp_mock_mmio_flags (Vcpu.push_mmio(flags=...))."""
    WRITE = 1
    SIGN_EXTEND = 2
    REG64 = 4
    ACQ_REL = 8
    NO_SYNDROME = 16


class MockGicState(enum.IntFlag):
    """enum hyp_mock_gic_state."""
    PENDING = 1
    ACTIVE = 2
    ENABLED = 4


# Each Python enum and the C enum it mirrors, with the C prefix of its enumerators; the tests
# compare them value by value with abi/libhyp.abi.
C_ENUMS = {
    ExitReason: ("hyp_exit_reason", "HYP_EXIT_"), Reg: ("hyp_reg", "HYP_REG_"),
    Mem: ("hyp_mem_flags", "HYP_MEM_"), VmFlags: ("hyp_vm_flags", "HYP_VM_"),
    Cap: ("hyp_cap", "HYP_CAP_"), Conduit: ("hyp_smccc_conduit", "HYP_CONDUIT_"),
    HandlerResult: ("hyp_handler_result", "HYP_"), Irqchip: ("hyp_irqchip", "HYP_IRQCHIP_"),
    VcpuPower: ("hyp_vcpu_power", "HYP_VCPU_POWER_"), InjectKind: ("hyp_inject_kind", "HYP_INJECT_"),
    MemFaultKind: ("hyp_mem_fault_kind", "HYP_FAULT_"),
    SystemEventType: ("hyp_system_event_type", "HYP_SYSTEM_EVENT_"),
    LogPriority: ("hyp_log_priority", "HYP_LOG_"), MockFlags: ("hyp_mock_flags", "HYP_MOCK_"),
    MockMmio: ("hyp_mock_mmio_flags", "HYP_MOCK_MMIO_"),
    MockGicState: ("hyp_mock_gic_state", "HYP_MOCK_GIC_"),
}


def sysreg(op0: int, op1: int, crn: int, crm: int, op2: int) -> int:
    """HYP_SYSREG(): the libhyp encoding of an MRS/MSR system register operand."""
    for name, v, bits in (("op0", op0, 2), ("op1", op1, 3), ("crn", crn, 4), ("crm", crm, 4),
                          ("op2", op2, 3)):
        if not 0 <= v < (1 << bits):
            raise ValueError(f"{name} {v} does not fit in {bits} bits")
    return (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2


def version() -> int:
    """The linked library's version, (major << 16 | minor << 8 | micro)."""
    return _ffi.hyp_version()


def version_string() -> str:
    """The linked library's version as "major.minor.micro"."""
    return _ffi.hyp_version_string().decode()


def guest_memory(size: int):
    """Anonymous, page-aligned, zeroed memory for VM.map(): an mmap.mmap of @size bytes."""
    import mmap
    if size <= 0 or size % PAGE_SIZE:
        raise ValueError(f"size {size} is not a positive multiple of {PAGE_SIZE}")
    return mmap.mmap(-1, size)


class HypError(OSError):
    """A libhyp call failed. errno: the positive errno value (for a host failure reported as
    -HYP_EHOST(e), the host's e); errno_name: its symbolic name ("EEXIST"; "host EFAULT" for host
    failures); strerror: libhyp's description (hyp_strerror()); function: the C function."""

    def __init__(self, function: str, err: int):
        code = -err if err < 0 else err
        host = _ffi.hyp_error_host_errno(err)
        self.libhyp_code = -code
        self.is_host_error = bool(host)
        num = host or code
        name = _errno.errorcode.get(num, f"E{num}")
        self.errno_name = ("host " + name) if host else name
        self.function = function
        message = _ffi.hyp_strerror(err).decode(errors="replace")
        super().__init__(num, message)

    def __str__(self) -> str:
        return f"{self.function}: {self.errno_name}: {self.strerror}"


class CallbackError(Exception):
    """A Python callback raised, or returned something other than a bool or HandlerResult. Raised
    from the run() call during which the callback ran; the original exception is __cause__. The
    exit the callback was asked to handle is handed back unhandled: the VM stays usable."""


def _check(function: str, r: int) -> int:
    if r < 0:
        raise HypError(function, r)
    return r


def _u64(name: str, value: Any) -> int:
    """A value for a 64-bit register or data field: an int in [-2**63, 2**64); negative values
    are taken as two's complement."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not -(1 << 63) <= value < (1 << 64):
        raise ValueError(f"{name} {value:#x} does not fit in 64 bits")
    return value & ((1 << 64) - 1)


class _View:
    """A window on a library-owned record (an exit, a callback's access), valid for a limited
    time: during the callback, or until the vCPU runs again. Afterwards every access raises
    RuntimeError instead of reading memory the library may have reused."""
    __slots__ = ("_c", "_alive")

    def __init__(self, c, alive: Callable[[], bool]):
        self._c = c
        self._alive = alive

    def _s(self):
        if not self._alive():
            raise RuntimeError(f"this {type(self).__name__} is no longer valid (its callback "
                               "returned, or the vCPU ran again or was destroyed)")
        return self._c


class MmioAccess(_View):
    """struct hyp_mmio_access. Set .data for a load (the low .len bytes are used)."""
    __slots__ = ()
    ipa = property(lambda self: self._s().ipa)
    offset = property(lambda self: self._s().offset, doc="IPA minus the callback range's base")
    len = property(lambda self: self._s().len)
    is_write = property(lambda self: bool(self._s().is_write))
    sign_extend = property(lambda self: bool(self._s().sign_extend))
    reg = property(lambda self: self._s().reg)
    reg64 = property(lambda self: bool(self._s().reg64))
    acquire_release = property(lambda self: bool(self._s().acquire_release))

    @property
    def data(self) -> int:
        return self._s().data

    @data.setter
    def data(self, value: int) -> None:
        self._s().data = _u64("MmioAccess.data", value)

    def __repr__(self) -> str:
        s = self._s()
        kind = "write" if s.is_write else "read"
        return f"<MmioAccess {kind} {s.len} bytes at {s.ipa:#x} data={s.data:#x}>"


class SmcccCall(_View):
    """struct hyp_smccc_call. Set .ret (up to four values for X0..X3)."""
    __slots__ = ()
    function_id = property(lambda self: self._s().function_id)
    conduit = property(lambda self: Conduit(self._s().conduit))
    imm = property(lambda self: self._s().imm)
    args = property(lambda self: tuple(self._s().args), doc="X1..X7")

    @property
    def ret(self) -> Tuple[int, int, int, int]:
        return tuple(self._s().ret)

    @ret.setter
    def ret(self, values: Sequence[int]) -> None:
        values = list(values) if not isinstance(values, int) else [values]
        if not 1 <= len(values) <= 4:
            raise ValueError("SMCCC returns 1 to 4 values (X0..X3)")
        checked = [_u64(f"SmcccCall.ret[{i}]", v) for i, v in enumerate(values)]
        s = self._s()
        for i, v in enumerate(checked):
            s.ret[i] = v

    def __repr__(self) -> str:
        s = self._s()
        return f"<SmcccCall {Conduit(s.conduit).name} #{s.imm} fid={s.function_id:#x}>"


class SysregAccess(_View):
    """struct hyp_sysreg_access. Set .value for an MRS."""
    __slots__ = ()
    encoding = property(lambda self: self._s().encoding)
    is_write = property(lambda self: bool(self._s().is_write))
    reg = property(lambda self: self._s().reg)

    @property
    def value(self) -> int:
        return self._s().value

    @value.setter
    def value(self, v: int) -> None:
        self._s().value = _u64("SysregAccess.value", v)

    def __repr__(self) -> str:
        s = self._s()
        return f"<SysregAccess {'MSR' if s.is_write else 'MRS'} {s.encoding:#x} value={s.value:#x}>"


def _snapshot(c) -> Dict[str, Any]:
    return {name: (tuple(getattr(c, name)) if hasattr(getattr(c, name), "__len__")
                   else getattr(c, name)) for name, _ in c._fields_ if name != "reserved"}


class Exit(_View):
    """struct hyp_exit: why run() returned. .reason selects which of .mmio, .smccc, .sysreg
    (views whose in/out fields the caller may set before the next run), .wfx, .fault,
    .system_event, .exception (dicts) applies. .raw: (esr, far, hpfar, valid)."""
    __slots__ = ()
    reason = property(lambda self: ExitReason(self._s().reason))
    vcpu_index = property(lambda self: self._s().vcpu_index)
    raw = property(lambda self: (self._s().raw.esr, self._s().raw.far, self._s().raw.hpfar,
                                 self._s().raw.valid))

    def _member(self, reasons, name):
        s = self._s()
        if s.reason not in reasons:
            raise ValueError(f"a {ExitReason(s.reason).name} exit has no .{name}")
        return getattr(s, name)

    @property
    def mmio(self) -> MmioAccess:
        return MmioAccess(self._member((ExitReason.MMIO,), "mmio"), self._alive)

    @property
    def smccc(self) -> SmcccCall:
        return SmcccCall(self._member((ExitReason.SMCCC,), "smccc"), self._alive)

    @property
    def sysreg(self) -> SysregAccess:
        return SysregAccess(self._member((ExitReason.SYSREG,), "sysreg"), self._alive)

    @property
    def wfx(self) -> Dict[str, Any]:
        return _snapshot(self._member((ExitReason.WFX,), "wfx"))

    @property
    def fault(self) -> Dict[str, Any]:
        return _snapshot(self._member((ExitReason.MEM_FAULT,), "fault"))

    @property
    def system_event(self) -> Dict[str, Any]:
        return _snapshot(self._member((ExitReason.SYSTEM_EVENT,), "system_event"))

    @property
    def exception(self) -> Dict[str, Any]:
        return _snapshot(self._member((ExitReason.EXCEPTION, ExitReason.DEBUG), "exception"))

    def __repr__(self) -> str:
        return f"<Exit {self.reason.name} vcpu {self.vcpu_index} esr={self.raw[0]:#x}>"


Callback = Callable[..., Union[bool, HandlerResult]]


class VM:
    """A virtual machine (hyp_vm_create). A context manager: leaving it destroys the VM.

    backend: "kvm", "el2", "mock", or None for automatic selection. The mock backend's options:
    mock_flags (MockFlags), mock_max_script_steps. log: a callable(priority, message) receiving
    the library's messages at log_priority and more severe.
    """

    def __init__(self, backend: Optional[str] = None, *, flags: int = 0, ipa_bits: int = 0,
                 max_vcpus: int = 0, irqchip: int = Irqchip.AUTO, gicd_base: int = 0,
                 gicr_base: int = 0, mock_flags: int = 0, mock_max_script_steps: int = 0,
                 log: Optional[Callable[[LogPriority, str], None]] = None,
                 log_priority: int = LogPriority.WARNING):
        self._vm: Optional[int] = None
        self._lock = threading.RLock()
        self._callbacks: Dict[Any, Any] = {}
        self._maps: Dict[Tuple[int, int], Any] = {}
        self._vcpus: "weakref.WeakValueDictionary[int, Vcpu]" = weakref.WeakValueDictionary()
        self._pending: Dict[int, BaseException] = {}
        self._log_error: Optional[BaseException] = None
        cfg = _ffi.VmConfig()
        cfg.size = ctypes.sizeof(cfg)
        cfg.flags = flags
        cfg.backend = backend.encode() if backend is not None else None
        cfg.ipa_bits = ipa_bits
        cfg.max_vcpus = max_vcpus
        cfg.irqchip = irqchip
        cfg.gicd_base = gicd_base
        cfg.gicr_base = gicr_base
        mock = None
        if backend == "mock":
            mock = _ffi.MockConfig(size=ctypes.sizeof(_ffi.MockConfig), flags=mock_flags,
                                   max_script_steps=mock_max_script_steps)
            cfg.backend_config = ctypes.cast(ctypes.pointer(mock), ctypes.c_void_p)
        elif mock_flags or mock_max_script_steps:
            raise ValueError("mock_flags and mock_max_script_steps need backend='mock'")
        if log is not None:
            self._log_fn = _ffi.LOG_FN(self._make_log_trampoline(log))
            cfg.log_fn = self._log_fn
            cfg.log_priority = int(log_priority)
        out = _ffi.vm_p()
        _check("hyp_vm_create", _ffi.hyp_vm_create(ctypes.byref(cfg), ctypes.byref(out)))
        self._vm = out.value

    def _make_log_trampoline(self, log):
        def trampoline(_opaque, priority, fmt, args):
            try:
                buf = ctypes.create_string_buffer(4096)
                _ffi.vsnprintf(buf, len(buf), fmt, args)
                log(LogPriority(priority), buf.value.decode(errors="replace"))
            except BaseException as e:  # surfaces from the next run()
                self._log_error = e
        return trampoline

    # Lifecycle
    def _handle(self) -> int:
        if self._vm is None:
            raise ValueError("the VM is closed")
        return self._vm

    @property
    def closed(self) -> bool:
        return self._vm is None

    def close(self) -> None:
        """Destroy the VM and its vCPUs (hyp_vm_destroy). HypError(EBUSY) while a vCPU runs.
        Closing a closed VM does nothing."""
        with self._lock:
            if self._vm is None:
                return
            _check("hyp_vm_destroy", _ffi.hyp_vm_destroy(self._vm))
            self._vm = None
            for v in list(self._vcpus.values()):
                v._vcpu = None
            self._callbacks.clear()
            self._maps.clear()

    def __enter__(self) -> "VM":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # Properties
    @property
    def backend_name(self) -> str:
        return _ffi.hyp_vm_backend_name(self._handle()).decode()

    def query_cap(self, cap: int) -> int:
        """hyp_vm_query_cap(): 1/0 for a boolean capability, else the number."""
        v = ctypes.c_uint64()
        _check("hyp_vm_query_cap", _ffi.hyp_vm_query_cap(self._handle(), int(cap), ctypes.byref(v)))
        return v.value

    # Memory
    def map(self, ipa: int, buffer, flags: int = Mem.RWX) -> None:
        """Give the guest @buffer at @ipa, zero-copy (hyp_vm_map). @buffer: a writable buffer
        whose address and size are page aligned, e.g. guest_memory(size) or mmap.mmap(-1, size).
        The VM holds the buffer (an mmap cannot be closed, a bytearray not resized) until unmap()
        or close()."""
        if isinstance(buffer, (bytes, str)):
            raise TypeError("guest memory must be a writable buffer (mmap, bytearray), not "
                            f"{type(buffer).__name__}")
        view = memoryview(buffer)
        if view.readonly:
            raise TypeError("guest memory must be writable (the VMM side writes it)")
        size = view.nbytes
        view.release()
        host = (ctypes.c_char * size).from_buffer(buffer) if size else None
        addr = ctypes.addressof(host) if host is not None else None
        with self._lock:
            _check("hyp_vm_map", _ffi.hyp_vm_map(self._handle(), ipa, addr, size, int(flags)))
            self._maps[(ipa, size)] = host

    def unmap(self, ipa: int, size: int) -> None:
        """Remove a region, exactly as mapped (hyp_vm_unmap); the buffer is released."""
        with self._lock:
            _check("hyp_vm_unmap", _ffi.hyp_vm_unmap(self._handle(), ipa, size))
            self._maps.pop((ipa, size), None)

    def write(self, ipa: int, data: bytes) -> None:
        """Copy @data into guest memory (hyp_vm_write_guest)."""
        data = bytes(data)
        _check("hyp_vm_write_guest", _ffi.hyp_vm_write_guest(self._handle(), ipa, data, len(data)))

    def read(self, ipa: int, length: int) -> bytes:
        """Copy @length bytes out of guest memory (hyp_vm_read_guest)."""
        if length < 0:
            raise ValueError("negative length")
        buf = ctypes.create_string_buffer(length)
        _check("hyp_vm_read_guest", _ffi.hyp_vm_read_guest(self._handle(), ipa, buf, length))
        return buf.raw

    # Callbacks
    def _trampoline(self, fn: Callback, view_type, what: str):
        """A C callback calling @fn(vcpu, view). Nothing escapes into C: an exception or a bad
        return value is recorded for the vCPU's run() to raise, and the exit goes back to the
        caller (HYP_NOT_HANDLED)."""
        def trampoline(_opaque, vcpu_ptr, record):
            if vcpu_ptr in self._pending:
                return HandlerResult.NOT_HANDLED  # already failing: hand the exit back
            alive = [True]
            try:
                vcpu = self._vcpus.get(vcpu_ptr)
                view = view_type(record.contents, lambda: alive[0])
                r = fn(vcpu, view)
                if isinstance(r, HandlerResult) or r is True or r is False:
                    return int(r)
                raise TypeError(f"{what} callback {fn!r} returned {r!r}: expected True/False or "
                                "a HandlerResult")
            except BaseException as e:
                err = CallbackError(f"{what} callback {getattr(fn, '__name__', fn)!r} failed: "
                                    f"{type(e).__name__}: {e}")
                err.__cause__ = e
                self._pending[vcpu_ptr] = err
                return HandlerResult.NOT_HANDLED
            finally:
                alive[0] = False
        return trampoline

    def _register(self, key, cfunc, fn, call: Callable[[], int], function: str) -> None:
        with self._lock:
            if key in self._callbacks:
                raise HypError(function, -_errno.EEXIST)
            _check(function, call())
            # The VM owns the C trampoline and the Python callable: both live as long as the
            # registration, whatever the caller keeps.
            self._callbacks[key] = (cfunc, fn)

    def add_mmio_handler(self, base: int, size: int, fn: Callback) -> None:
        """Route guest accesses to [base, base + size) to fn(vcpu, access: MmioAccess) -> bool
        (hyp_vm_add_mmio_handler). True: handled, the guest resumes inside run()."""
        if not callable(fn):
            raise TypeError("fn must be callable")
        cfunc = _ffi.MMIO_FN(self._trampoline(fn, MmioAccess, "MMIO"))
        self._register(("mmio", base), cfunc, fn, lambda: _ffi.hyp_vm_add_mmio_handler(
            self._handle(), base, size, cfunc, None), "hyp_vm_add_mmio_handler")

    def remove_mmio_handler(self, base: int) -> None:
        with self._lock:
            _check("hyp_vm_remove_mmio_handler", _ffi.hyp_vm_remove_mmio_handler(self._handle(),
                                                                                 base))
            self._callbacks.pop(("mmio", base), None)

    def add_smccc_handler(self, first: int, last: int, fn: Callback,
                          conduits: int = Conduit.HVC | Conduit.SMC) -> None:
        """Route SMCCC calls with function IDs in [first, last] to fn(vcpu, call: SmcccCall) ->
        bool (hyp_vm_add_smccc_handler); set call.ret."""
        if not callable(fn):
            raise TypeError("fn must be callable")
        cfunc = _ffi.SMCCC_FN(self._trampoline(fn, SmcccCall, "SMCCC"))
        self._register(("smccc", int(conduits), first), cfunc, fn,
                       lambda: _ffi.hyp_vm_add_smccc_handler(self._handle(), int(conduits), first,
                                                            last, cfunc, None),
                       "hyp_vm_add_smccc_handler")

    def remove_smccc_handler(self, first: int, conduits: int = Conduit.HVC | Conduit.SMC) -> None:
        with self._lock:
            _check("hyp_vm_remove_smccc_handler",
                   _ffi.hyp_vm_remove_smccc_handler(self._handle(), int(conduits), first))
            self._callbacks.pop(("smccc", int(conduits), first), None)

    def add_sysreg_handler(self, encoding: int, fn: Callback) -> None:
        """Handle trapped accesses to one system register: fn(vcpu, access: SysregAccess) -> bool
        (hyp_vm_add_sysreg_handler); set access.value for an MRS."""
        if not callable(fn):
            raise TypeError("fn must be callable")
        cfunc = _ffi.SYSREG_FN(self._trampoline(fn, SysregAccess, "sysreg"))
        self._register(("sysreg", encoding), cfunc, fn, lambda: _ffi.hyp_vm_add_sysreg_handler(
            self._handle(), encoding, cfunc, None), "hyp_vm_add_sysreg_handler")

    def remove_sysreg_handler(self, encoding: int) -> None:
        with self._lock:
            _check("hyp_vm_remove_sysreg_handler",
                   _ffi.hyp_vm_remove_sysreg_handler(self._handle(), encoding))
            self._callbacks.pop(("sysreg", encoding), None)

    def set_exit_handler(self, reason: int, fn: Optional[Callback]) -> None:
        """The generic callback fn(vcpu, exit: Exit) -> bool for one exit reason, or None to
        remove it (hyp_vm_set_exit_handler)."""
        with self._lock:
            if fn is None:
                _check("hyp_vm_set_exit_handler", _ffi.hyp_vm_set_exit_handler(
                    self._handle(), int(reason), _ffi.EXIT_FN(), None))
                self._callbacks.pop(("exit", int(reason)), None)
                return
        if not callable(fn):
            raise TypeError("fn must be callable or None")
        cfunc = _ffi.EXIT_FN(self._trampoline(fn, Exit, "exit"))
        self._register(("exit", int(reason)), cfunc, fn, lambda: _ffi.hyp_vm_set_exit_handler(
            self._handle(), int(reason), cfunc, None), "hyp_vm_set_exit_handler")

    # Interrupts
    def set_spi(self, intid: int, level: bool) -> None:
        """Drive a shared peripheral interrupt line (hyp_vm_set_spi)."""
        _check("hyp_vm_set_spi", _ffi.hyp_vm_set_spi(self._handle(), intid, bool(level)))

    # vCPUs
    def vcpu(self, index: Optional[int] = None, *, power: int = VcpuPower.DEFAULT,
             mpidr: int = 0) -> "Vcpu":
        """Create a vCPU (hyp_vcpu_create): the lowest free index by default."""
        return Vcpu(self, index, power, mpidr)

    # The mock backend's view of interrupts
    def mock_irq_level(self, intid: int, vcpu: Optional["Vcpu"] = None) -> int:
        """hyp_mock_irq_level(): 1 if the VMM asserted the line, else 0."""
        return _check("hyp_mock_irq_level", _ffi.hyp_mock_irq_level(
            self._handle(), vcpu._handle() if vcpu else None, intid))

    def mock_irq_count(self, intid: int, vcpu: Optional["Vcpu"] = None) -> int:
        """hyp_mock_irq_count(): how many times the line was asserted."""
        return _check("hyp_mock_irq_count", _ffi.hyp_mock_irq_count(
            self._handle(), vcpu._handle() if vcpu else None, intid))

    def mock_gic_irq_state(self, intid: int, vcpu: Optional["Vcpu"] = None) -> MockGicState:
        """hyp_mock_gic_irq_state() (irqchip=Irqchip.LIBRARY VMs)."""
        return MockGicState(_check("hyp_mock_gic_irq_state", _ffi.hyp_mock_gic_irq_state(
            self._handle(), vcpu._handle() if vcpu else None, intid)))


class Vcpu:
    """A vCPU (hyp_vcpu_create); use VM.vcpu(). A context manager: leaving it destroys the vCPU.
    Only one thread may run() a vCPU at a time (HypError EBUSY otherwise)."""

    def __init__(self, vm: VM, index: Optional[int], power: int, mpidr: int):
        self.vm = vm
        self._vcpu: Optional[int] = None
        self._generation = 0
        cfg = None
        if index is not None or power or mpidr:
            if index is None:
                raise ValueError("power and mpidr need an explicit index")
            cfg = _ffi.VcpuConfig(size=ctypes.sizeof(_ffi.VcpuConfig), index=index,
                                  power=int(power), mpidr=mpidr)
        out = _ffi.vcpu_p()
        with vm._lock:
            _check("hyp_vcpu_create", _ffi.hyp_vcpu_create(
                vm._handle(), ctypes.byref(cfg) if cfg is not None else None, ctypes.byref(out)))
            self._vcpu = out.value
            vm._vcpus[self._vcpu] = self

    def _handle(self) -> int:
        if self._vcpu is None:
            raise ValueError("the vCPU is closed (destroyed, or its VM was)")
        return self._vcpu

    @property
    def closed(self) -> bool:
        return self._vcpu is None

    def close(self) -> None:
        """Destroy the vCPU (hyp_vcpu_destroy); HypError(EBUSY) while a vCPU of the VM runs."""
        with self.vm._lock:
            if self._vcpu is None:
                return
            _check("hyp_vcpu_destroy", _ffi.hyp_vcpu_destroy(self._vcpu))
            self.vm._vcpus.pop(self._vcpu, None)
            self.vm._pending.pop(self._vcpu, None)
            self._vcpu = None

    def __enter__(self) -> "Vcpu":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def index(self) -> int:
        return _ffi.hyp_vcpu_index(self._handle())

    # Registers
    def get_reg(self, reg: int) -> int:
        v = ctypes.c_uint64()
        _check("hyp_vcpu_get_reg", _ffi.hyp_vcpu_get_reg(self._handle(), int(reg), ctypes.byref(v)))
        return v.value

    def set_reg(self, reg: int, value: int) -> None:
        _check("hyp_vcpu_set_reg", _ffi.hyp_vcpu_set_reg(self._handle(), int(reg),
                                                          _u64("value", value)))

    def get_regs(self, regs: Iterable[int]) -> List[int]:
        """Several core registers in one call (hyp_vcpu_get_regs)."""
        ids = [int(r) for r in regs]
        c_ids = (ctypes.c_int * len(ids))(*ids)
        vals = (ctypes.c_uint64 * len(ids))()
        _check("hyp_vcpu_get_regs", _ffi.hyp_vcpu_get_regs(self._handle(), c_ids, vals, len(ids)))
        return list(vals)

    def set_regs(self, values: Mapping[int, int]) -> None:
        """Several core registers, all or nothing (hyp_vcpu_set_regs)."""
        items = list(values.items())
        c_ids = (ctypes.c_int * len(items))(*[int(k) for k, _ in items])
        vals = (ctypes.c_uint64 * len(items))(*[_u64(f"value of {k}", v) for k, v in items])
        _check("hyp_vcpu_set_regs", _ffi.hyp_vcpu_set_regs(self._handle(), c_ids, vals,
                                                            len(items)))

    def get_sysreg(self, encoding: int) -> int:
        v = ctypes.c_uint64()
        _check("hyp_vcpu_get_sysreg", _ffi.hyp_vcpu_get_sysreg(self._handle(), encoding,
                                                                ctypes.byref(v)))
        return v.value

    def set_sysreg(self, encoding: int, value: int) -> None:
        _check("hyp_vcpu_set_sysreg", _ffi.hyp_vcpu_set_sysreg(self._handle(), encoding,
                                                                _u64("value", value)))

    # Running
    def run(self) -> Exit:
        """Run until an exit the caller must see (hyp_vcpu_run). Returns the Exit, valid until
        the next run(). Raises HypError (e.g. ENODATA: the mock's script is exhausted) or
        CallbackError (a callback failed during this run; its exit was handed back)."""
        handle = self._handle()
        self._generation += 1
        r = _ffi.hyp_vcpu_run(handle)  # ctypes releases the GIL for the call
        err = self.vm._pending.pop(handle, None)
        if err is None and self.vm._log_error is not None:
            cause, self.vm._log_error = self.vm._log_error, None
            err = CallbackError(f"log handler failed: {type(cause).__name__}: {cause}")
            err.__cause__ = cause
        if err is not None:
            raise err
        _check("hyp_vcpu_run", r)
        gen = self._generation
        return Exit(_ffi.hyp_vcpu_exit(handle).contents,
                    lambda: self._vcpu is not None and self._generation == gen)

    def kick(self) -> None:
        """Make run() return ExitReason.KICKED (hyp_vcpu_kick); any thread."""
        _check("hyp_vcpu_kick", _ffi.hyp_vcpu_kick(self._handle()))

    def inject_exception(self, kind: int, addr: int = 0) -> None:
        _check("hyp_vcpu_inject_exception",
               _ffi.hyp_vcpu_inject_exception(self._handle(), int(kind), addr))

    @property
    def powered_on(self) -> bool:
        return bool(_check("hyp_vcpu_is_powered_on", _ffi.hyp_vcpu_is_powered_on(self._handle())))

    def set_ppi(self, intid: int, level: bool) -> None:
        _check("hyp_vcpu_set_ppi", _ffi.hyp_vcpu_set_ppi(self._handle(), intid, bool(level)))

    def raise_sgi(self, intid: int) -> None:
        _check("hyp_vcpu_raise_sgi", _ffi.hyp_vcpu_raise_sgi(self._handle(), intid))

    # The mock backend's script (libhyp/mock.h): what the guest "does" next
    def push_mmio(self, ipa: int, length: int, reg: int, flags: int = 0) -> None:
        """The guest loads (or, with MockMmio.WRITE, stores) @length bytes at @ipa via Xreg."""
        _check("hyp_mock_push_mmio", _ffi.hyp_mock_push_mmio(self._handle(), ipa, length, reg,
                                                              int(flags)))

    def push_smccc(self, function_id: int, args: Sequence[int] = (),
                   conduit: int = Conduit.HVC, imm: int = 0) -> None:
        """The guest makes an SMCCC call with X1..X7 = @args (missing ones 0)."""
        if len(args) > 7:
            raise ValueError("at most 7 arguments (X1..X7)")
        a = (ctypes.c_uint64 * 7)(*[_u64("arg", v) for v in args])
        _check("hyp_mock_push_smccc", _ffi.hyp_mock_push_smccc(self._handle(), int(conduit), imm,
                                                                function_id, ctypes.byref(a)))

    def push_sysreg(self, encoding: int, is_write: bool, reg: int) -> None:
        _check("hyp_mock_push_sysreg", _ffi.hyp_mock_push_sysreg(self._handle(), encoding,
                                                                  bool(is_write), reg))

    def push_wfx(self, is_wfe: bool = False) -> None:
        _check("hyp_mock_push_wfx", _ffi.hyp_mock_push_wfx(self._handle(), bool(is_wfe)))

    def push_exec_fault(self, ipa: int) -> None:
        _check("hyp_mock_push_exec_fault", _ffi.hyp_mock_push_exec_fault(self._handle(), ipa))

    def push_raw(self, esr: int, far: int = 0, hpfar: int = 0) -> None:
        _check("hyp_mock_push_raw", _ffi.hyp_mock_push_raw(self._handle(), esr, far, hpfar))

    @property
    def script_length(self) -> int:
        return _check("hyp_mock_script_length", _ffi.hyp_mock_script_length(self._handle()))

    def last_injection(self) -> Optional[Tuple[int, int]]:
        """(ESR_EL1, FAR_EL1) of the last injected exception, or None (hyp_mock_last_injection)."""
        esr, far = ctypes.c_uint64(), ctypes.c_uint64()
        r = _check("hyp_mock_last_injection", _ffi.hyp_mock_last_injection(
            self._handle(), ctypes.byref(esr), ctypes.byref(far)))
        return (esr.value, far.value) if r else None

    def mock_gic_irq_line(self) -> bool:
        return bool(_check("hyp_mock_gic_irq_line", _ffi.hyp_mock_gic_irq_line(self._handle())))
