# SPDX-License-Identifier: MIT
"""consumer.c's VMM in Python, run by tests/consumers/run-consumers.sh with the binding installed
by pip and the installed libhyp.so.0 found by the dynamic linker."""
import sys

import libhyp
from libhyp import MockMmio, Reg

RAM, UART = 0x4000_0000, 0x0900_0000
total = []


def uart(vcpu, access):
    if access.is_write:
        total.append(access.data)
    else:
        access.data = 0x90
    return True


ram = libhyp.guest_memory(1 << 16)
with libhyp.VM("mock") as vm:
    vm.map(RAM, ram)
    vm.add_mmio_handler(UART, 0x1000, uart)
    with vm.vcpu() as vcpu:
        vcpu.set_regs({Reg.PC: RAM, Reg.X0: ord("h")})
        vcpu.push_mmio(UART, 1, 0, MockMmio.WRITE)
        vcpu.push_mmio(UART + 0x18, 4, 9)
        vcpu.push_smccc(libhyp.PSCI_SYSTEM_OFF)
        ex = vcpu.run()
        ok = (ex.reason == libhyp.ExitReason.SYSTEM_EVENT and total == [ord("h")] and
              vcpu.get_reg(Reg.X9) == 0x90)
print(f"consumer.py: libhyp {libhyp.version_string()} from {libhyp.__file__}: "
      f"{'ok' if ok else 'FAILED'}")
sys.exit(0 if ok else 1)
