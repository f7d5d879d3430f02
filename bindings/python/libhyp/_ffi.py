# SPDX-License-Identifier: MIT
"""The C ABI as ctypes declarations: the shared library, the public structs and the prototypes.

Layouts mirror include/libhyp/*.h; tests/test_abi.py checks every size and offset against the
project's ABI description (abi/libhyp.abi), which a C unit test checks against the headers.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, Union, c_bool, c_char_p, c_int, c_int32,
                    c_size_t, c_uint, c_uint8, c_uint16, c_uint32, c_uint64, c_void_p)


def _load() -> ctypes.CDLL:
    """libhyp.so.0: $LIBHYP_LIBRARY if set (a path), else the dynamic linker's search."""
    path = os.environ.get("LIBHYP_LIBRARY")
    if not path:
        path = ctypes.util.find_library("hyp") or "libhyp.so.0"
    return ctypes.CDLL(path)


lib = _load()


class Syndrome(Structure):
    _fields_ = [("esr", c_uint64), ("far", c_uint64), ("hpfar", c_uint64), ("valid", c_uint32),
                ("reserved", c_uint32)]


class MmioAccessC(Structure):
    _fields_ = [("ipa", c_uint64), ("offset", c_uint64), ("data", c_uint64), ("len", c_uint8),
                ("is_write", c_uint8), ("sign_extend", c_uint8), ("reg", c_uint8),
                ("reg64", c_uint8), ("acquire_release", c_uint8), ("reserved", c_uint8 * 2)]


class SmcccCallC(Structure):
    _fields_ = [("function_id", c_uint32), ("conduit", c_uint8), ("reserved", c_uint8),
                ("imm", c_uint16), ("args", c_uint64 * 7), ("ret", c_uint64 * 4)]


class SysregAccessC(Structure):
    _fields_ = [("encoding", c_uint32), ("is_write", c_uint8), ("reg", c_uint8),
                ("reserved", c_uint8 * 2), ("value", c_uint64)]


class WfxC(Structure):
    _fields_ = [("is_wfe", c_uint8), ("has_timeout", c_uint8), ("reserved", c_uint8 * 6)]


class MemFaultC(Structure):
    _fields_ = [("ipa", c_uint64), ("va", c_uint64), ("kind", c_uint8), ("is_write", c_uint8),
                ("fault_status", c_uint8), ("ipa_valid", c_uint8), ("reserved", c_uint8 * 4)]


class SystemEventC(Structure):
    _fields_ = [("type", c_uint32), ("reserved", c_uint32), ("data", c_uint64)]


class ExceptionC(Structure):
    _fields_ = [("ec", c_uint8), ("il", c_uint8), ("imm", c_uint16), ("iss", c_uint32)]


class _ExitUnion(Union):
    _fields_ = [("mmio", MmioAccessC), ("smccc", SmcccCallC), ("sysreg", SysregAccessC),
                ("wfx", WfxC), ("fault", MemFaultC), ("system_event", SystemEventC),
                ("exception", ExceptionC)]


class ExitC(Structure):
    _anonymous_ = ("u",)
    _fields_ = [("reason", c_uint32), ("vcpu_index", c_uint32), ("raw", Syndrome),
                ("u", _ExitUnion)]


LOG_FN = CFUNCTYPE(None, c_void_p, c_int, c_char_p, c_void_p)
MMIO_FN = CFUNCTYPE(c_int, c_void_p, c_void_p, POINTER(MmioAccessC))
SMCCC_FN = CFUNCTYPE(c_int, c_void_p, c_void_p, POINTER(SmcccCallC))
SYSREG_FN = CFUNCTYPE(c_int, c_void_p, c_void_p, POINTER(SysregAccessC))
EXIT_FN = CFUNCTYPE(c_int, c_void_p, c_void_p, POINTER(ExitC))


class VmConfig(Structure):
    _fields_ = [("size", c_uint32), ("flags", c_uint32), ("backend", c_char_p),
                ("backend_ops", c_void_p), ("backend_config", c_void_p), ("alloc", c_void_p),
                ("log_fn", LOG_FN), ("log_opaque", c_void_p), ("log_priority", c_int32),
                ("ipa_bits", c_uint32), ("max_vcpus", c_uint32), ("irqchip", c_uint32),
                ("gicd_base", c_uint64), ("gicr_base", c_uint64),
                ("dirty_ring_entries", c_uint32)]


class VcpuConfig(Structure):
    _fields_ = [("size", c_uint32), ("index", c_uint32), ("power", c_uint32),
                ("reserved", c_uint32), ("mpidr", c_uint64)]


class MockConfig(Structure):
    _fields_ = [("size", c_uint32), ("flags", c_uint32), ("max_script_steps", c_uint32),
                ("reserved", c_uint32)]


class FpRegs(Structure):
    _fields_ = [("v", (c_uint8 * 16) * 32), ("fpsr", c_uint64), ("fpcr", c_uint64)]


# The C struct each ctypes class mirrors (tests/test_abi.py).
C_STRUCTS = {
    "hyp_syndrome": Syndrome, "hyp_mmio_access": MmioAccessC, "hyp_smccc_call": SmcccCallC,
    "hyp_sysreg_access": SysregAccessC, "hyp_wfx": WfxC, "hyp_mem_fault": MemFaultC,
    "hyp_system_event": SystemEventC, "hyp_exception": ExceptionC, "hyp_exit": ExitC,
    "hyp_vm_config": VmConfig, "hyp_vcpu_config": VcpuConfig, "hyp_mock_config": MockConfig,
    "hyp_fp_regs": FpRegs,
}

vm_p = c_void_p
vcpu_p = c_void_p
u64_p = POINTER(c_uint64)


def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


hyp_strerror = _fn("hyp_strerror", c_char_p, c_int)
hyp_error_host_errno = _fn("hyp_error_host_errno", c_int, c_int)
hyp_version = _fn("hyp_version", c_uint32)
hyp_version_string = _fn("hyp_version_string", c_char_p)
hyp_exit_reason_name = _fn("hyp_exit_reason_name", c_char_p, c_uint32)

hyp_vm_create = _fn("hyp_vm_create", c_int, POINTER(VmConfig), POINTER(vm_p))
hyp_vm_destroy = _fn("hyp_vm_destroy", c_int, vm_p)
hyp_vm_backend_name = _fn("hyp_vm_backend_name", c_char_p, vm_p)
hyp_vm_query_cap = _fn("hyp_vm_query_cap", c_int, vm_p, c_int, u64_p)
hyp_vm_map = _fn("hyp_vm_map", c_int, vm_p, c_uint64, c_void_p, c_uint64, c_uint32)
hyp_vm_unmap = _fn("hyp_vm_unmap", c_int, vm_p, c_uint64, c_uint64)
hyp_vm_write_guest = _fn("hyp_vm_write_guest", c_int, vm_p, c_uint64, c_void_p, c_size_t)
hyp_vm_read_guest = _fn("hyp_vm_read_guest", c_int, vm_p, c_uint64, c_void_p, c_size_t)
hyp_vm_set_log_handler = _fn("hyp_vm_set_log_handler", c_int, vm_p, LOG_FN, c_void_p, c_int)
hyp_vm_add_mmio_handler = _fn("hyp_vm_add_mmio_handler", c_int, vm_p, c_uint64, c_uint64,
                              MMIO_FN, c_void_p)
hyp_vm_remove_mmio_handler = _fn("hyp_vm_remove_mmio_handler", c_int, vm_p, c_uint64)
hyp_vm_add_smccc_handler = _fn("hyp_vm_add_smccc_handler", c_int, vm_p, c_uint32, c_uint32,
                               c_uint32, SMCCC_FN, c_void_p)
hyp_vm_remove_smccc_handler = _fn("hyp_vm_remove_smccc_handler", c_int, vm_p, c_uint32, c_uint32)
hyp_vm_add_sysreg_handler = _fn("hyp_vm_add_sysreg_handler", c_int, vm_p, c_uint32, SYSREG_FN,
                                c_void_p)
hyp_vm_remove_sysreg_handler = _fn("hyp_vm_remove_sysreg_handler", c_int, vm_p, c_uint32)
hyp_vm_set_exit_handler = _fn("hyp_vm_set_exit_handler", c_int, vm_p, c_int, EXIT_FN, c_void_p)
hyp_vm_set_spi = _fn("hyp_vm_set_spi", c_int, vm_p, c_uint32, c_bool)

hyp_vcpu_create = _fn("hyp_vcpu_create", c_int, vm_p, POINTER(VcpuConfig), POINTER(vcpu_p))
hyp_vcpu_destroy = _fn("hyp_vcpu_destroy", c_int, vcpu_p)
hyp_vcpu_index = _fn("hyp_vcpu_index", c_uint32, vcpu_p)
hyp_vcpu_get_reg = _fn("hyp_vcpu_get_reg", c_int, vcpu_p, c_int, u64_p)
hyp_vcpu_set_reg = _fn("hyp_vcpu_set_reg", c_int, vcpu_p, c_int, c_uint64)
hyp_vcpu_get_regs = _fn("hyp_vcpu_get_regs", c_int, vcpu_p, POINTER(c_int), u64_p, c_uint)
hyp_vcpu_set_regs = _fn("hyp_vcpu_set_regs", c_int, vcpu_p, POINTER(c_int), u64_p, c_uint)
hyp_vcpu_get_sysreg = _fn("hyp_vcpu_get_sysreg", c_int, vcpu_p, c_uint32, u64_p)
hyp_vcpu_set_sysreg = _fn("hyp_vcpu_set_sysreg", c_int, vcpu_p, c_uint32, c_uint64)
hyp_vcpu_get_fp_regs = _fn("hyp_vcpu_get_fp_regs", c_int, vcpu_p, POINTER(FpRegs))
hyp_vcpu_set_fp_regs = _fn("hyp_vcpu_set_fp_regs", c_int, vcpu_p, POINTER(FpRegs))
hyp_vcpu_run = _fn("hyp_vcpu_run", c_int, vcpu_p)
hyp_vcpu_exit = _fn("hyp_vcpu_exit", POINTER(ExitC), vcpu_p)
hyp_vcpu_kick = _fn("hyp_vcpu_kick", c_int, vcpu_p)
hyp_vcpu_inject_exception = _fn("hyp_vcpu_inject_exception", c_int, vcpu_p, c_int, c_uint64)
hyp_vcpu_is_powered_on = _fn("hyp_vcpu_is_powered_on", c_int, vcpu_p)
hyp_vcpu_set_ppi = _fn("hyp_vcpu_set_ppi", c_int, vcpu_p, c_uint32, c_bool)
hyp_vcpu_raise_sgi = _fn("hyp_vcpu_raise_sgi", c_int, vcpu_p, c_uint32)

hyp_mock_push_mmio = _fn("hyp_mock_push_mmio", c_int, vcpu_p, c_uint64, c_uint32, c_uint32,
                         c_uint32)
hyp_mock_push_smccc = _fn("hyp_mock_push_smccc", c_int, vcpu_p, c_uint32, c_uint16, c_uint32,
                          POINTER(c_uint64 * 7))
hyp_mock_push_sysreg = _fn("hyp_mock_push_sysreg", c_int, vcpu_p, c_uint32, c_bool, c_uint32)
hyp_mock_push_wfx = _fn("hyp_mock_push_wfx", c_int, vcpu_p, c_bool)
hyp_mock_push_exec_fault = _fn("hyp_mock_push_exec_fault", c_int, vcpu_p, c_uint64)
hyp_mock_push_raw = _fn("hyp_mock_push_raw", c_int, vcpu_p, c_uint64, c_uint64, c_uint64)
hyp_mock_script_length = _fn("hyp_mock_script_length", c_int, vcpu_p)
hyp_mock_irq_level = _fn("hyp_mock_irq_level", c_int, vm_p, vcpu_p, c_uint32)
hyp_mock_irq_count = _fn("hyp_mock_irq_count", c_int, vm_p, vcpu_p, c_uint32)
hyp_mock_gic_irq_state = _fn("hyp_mock_gic_irq_state", c_int, vm_p, vcpu_p, c_uint32)
hyp_mock_gic_irq_line = _fn("hyp_mock_gic_irq_line", c_int, vcpu_p)
hyp_mock_last_injection = _fn("hyp_mock_last_injection", c_int, vcpu_p, u64_p, u64_p)

# libc's vsnprintf formats the log handler's (fmt, va_list): on x86_64 and aarch64 a va_list
# argument arrives as a pointer, which is passed on unchanged.
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
vsnprintf = _libc.vsnprintf
vsnprintf.restype = c_int
vsnprintf.argtypes = [c_char_p, c_size_t, c_char_p, c_void_p]
