# SPDX-License-Identifier: MIT
"""The Python binding on the mock backend: lifecycle, memory, registers, callbacks, exits, errors,
and callbacks that misbehave (raise, return the wrong thing, get garbage-collected)."""
import errno
import gc
import mmap
import threading
import unittest
import weakref

import libhyp
from libhyp import (CallbackError, Conduit, ExitReason, HandlerResult, HypError, Mem, MockMmio,
                    Reg, VM)

RAM = 0x4000_0000
UART = 0x0900_0000
SIZE = 1 << 16


class Fixture(unittest.TestCase):
    def setUp(self):
        self.ram = libhyp.guest_memory(SIZE)
        self.vm = VM("mock")
        self.vm.map(RAM, self.ram)
        self.vcpu = self.vm.vcpu()
        self.vcpu.set_reg(Reg.PC, RAM)

    def tearDown(self):
        self.vm.close()


class TestLifecycle(unittest.TestCase):
    def test_version(self):
        self.assertEqual(libhyp.version_string(), "%d.%d.%d" % (
            libhyp.version() >> 16, (libhyp.version() >> 8) & 0xFF, libhyp.version() & 0xFF))

    def test_context_managers_and_use_after_close(self):
        with VM("mock") as vm:
            self.assertEqual(vm.backend_name, "mock")
            with vm.vcpu() as vcpu:
                self.assertEqual(vcpu.index, 0)
            self.assertTrue(vcpu.closed)
            with self.assertRaises(ValueError):
                vcpu.get_reg(Reg.PC)
            other = vm.vcpu()
        self.assertTrue(vm.closed)
        # Destroying the VM destroyed its vCPUs: their handles refuse, nothing dangles.
        self.assertTrue(other.closed)
        with self.assertRaises(ValueError):
            other.run()
        with self.assertRaises(ValueError):
            vm.query_cap(libhyp.Cap.MAX_VCPUS)
        vm.close()  # twice is fine

    def test_query_cap(self):
        with VM("mock", max_vcpus=3) as vm:
            self.assertEqual(vm.query_cap(libhyp.Cap.MAX_VCPUS), 3)
            self.assertEqual(vm.query_cap(libhyp.Cap.SYSREG_TRAPS), 1)
        with VM("mock", mock_flags=libhyp.MockFlags.NO_SYSREG_TRAPS) as vm:
            self.assertEqual(vm.query_cap(libhyp.Cap.SYSREG_TRAPS), 0)

    def test_vm_dropped_without_close_is_destroyed(self):
        vm = VM("mock")
        vm.add_mmio_handler(UART, 0x1000, lambda vcpu, a: True)
        vm.vcpu()
        ref = weakref.ref(vm)
        del vm
        gc.collect()
        self.assertIsNone(ref())


class TestErrors(unittest.TestCase):
    def test_errors_carry_errno_name_and_message(self):
        with self.assertRaises(HypError) as cm:
            VM("no-such-backend")
        e = cm.exception
        self.assertEqual(e.errno, errno.ENOENT)
        self.assertEqual(e.errno_name, "ENOENT")
        self.assertEqual(e.function, "hyp_vm_create")
        self.assertTrue(e.strerror)
        self.assertIn("hyp_vm_create: ENOENT: " + e.strerror, str(e))
        self.assertIsInstance(e, OSError)

    def test_map_errors(self):
        with VM("mock") as vm:
            ram = libhyp.guest_memory(2 * libhyp.PAGE_SIZE)
            vm.map(RAM, ram)
            with self.assertRaises(HypError) as cm:
                vm.map(RAM + libhyp.PAGE_SIZE, libhyp.guest_memory(libhyp.PAGE_SIZE))
            self.assertEqual(cm.exception.errno_name, "EEXIST")
            with self.assertRaises(HypError) as cm:
                vm.map(RAM + 0x10_0000 + 1, libhyp.guest_memory(libhyp.PAGE_SIZE))
            self.assertEqual(cm.exception.errno, errno.EINVAL)
            with self.assertRaises(TypeError):
                vm.map(RAM + 0x20_0000, b"\0" * libhyp.PAGE_SIZE)
            with self.assertRaises(HypError) as cm:
                vm.unmap(RAM, libhyp.PAGE_SIZE)
            self.assertEqual(cm.exception.errno_name, "ENOENT")
            with self.assertRaises(HypError):
                vm.read(0x1000, 4)

    def test_bad_register_values(self):
        with VM("mock") as vm, vm.vcpu() as vcpu:
            with self.assertRaises(ValueError):
                vcpu.set_reg(Reg.X0, 1 << 64)
            with self.assertRaises(TypeError):
                vcpu.set_reg(Reg.X0, "1")
            with self.assertRaises(HypError) as cm:
                vcpu.set_reg(99, 0)
            self.assertEqual(cm.exception.errno_name, "EINVAL")

    def test_mock_script_exhausted(self):
        with VM("mock") as vm, vm.vcpu() as vcpu:
            with self.assertRaises(HypError) as cm:
                vcpu.run()
            self.assertEqual(cm.exception.errno_name, "ENODATA")


class TestMemory(Fixture):
    def test_zero_copy_both_ways(self):
        self.ram[0x100:0x104] = b"\x11\x22\x33\x44"
        self.assertEqual(self.vm.read(RAM + 0x100, 4), b"\x11\x22\x33\x44")
        self.vm.write(RAM + 0x200, b"abc")
        self.assertEqual(self.ram[0x200:0x203], b"abc")
        # The guest's own load from RAM (the mock performs it on the mapped memory).
        self.vcpu.push_mmio(RAM + 0x100, 4, 13)
        self.vcpu.push_smccc(libhyp.PSCI_SYSTEM_OFF)
        self.vcpu.run()
        self.assertEqual(self.vcpu.get_reg(Reg.X13), 0x44332211)

    def test_mapped_buffer_is_pinned(self):
        # The VM holds the buffer: it cannot be closed under the guest.
        with self.assertRaises(BufferError):
            self.ram.close()
        self.vm.unmap(RAM, SIZE)
        self.ram.close()

    def test_bytearray_resize_refused_while_mapped(self):
        with VM("mock") as vm:
            # A bytearray is only page aligned by chance; when it is, resizing it must fail.
            buf = bytearray(2 * libhyp.PAGE_SIZE)
            try:
                vm.map(RAM, buf)
            except HypError as e:
                self.assertEqual(e.errno_name, "EINVAL")
                return
            with self.assertRaises(BufferError):
                buf.extend(b"x")


class TestRegisters(Fixture):
    def test_regs(self):
        self.vcpu.set_regs({Reg.X0: 1, Reg.X(5): 5, Reg.SP_EL1: 0x8000})
        self.assertEqual(self.vcpu.get_regs([Reg.X0, Reg.X5, Reg.SP_EL1]), [1, 5, 0x8000])
        self.vcpu.set_reg(Reg.X1, -1)
        self.assertEqual(self.vcpu.get_reg(Reg.X1), (1 << 64) - 1)
        # All or nothing: an invalid PSTATE refuses the whole batch.
        with self.assertRaises(HypError):
            self.vcpu.set_regs({Reg.X0: 7, Reg.PSTATE: 0xF})
        self.assertEqual(self.vcpu.get_reg(Reg.X0), 1)


class TestCallbacks(Fixture):
    def test_mmio_read_and_write(self):
        writes = []

        def uart(vcpu, access):
            self.assertIs(vcpu, self.vcpu)
            if access.is_write:
                writes.append((access.offset, access.data))
            else:
                access.data = 0x80
            return HandlerResult.HANDLED

        self.vm.add_mmio_handler(UART, 0x1000, uart)
        self.vcpu.set_reg(Reg.X2, 0x41)
        self.vcpu.push_mmio(UART, 1, 2, MockMmio.WRITE)
        self.vcpu.push_mmio(UART + 0x18, 1, 12, MockMmio.SIGN_EXTEND | MockMmio.REG64)
        self.vcpu.push_smccc(libhyp.PSCI_SYSTEM_OFF)
        ex = self.vcpu.run()
        self.assertEqual(ex.reason, ExitReason.SYSTEM_EVENT)
        self.assertEqual(ex.system_event["type"], libhyp.SystemEventType.OFF)
        self.assertEqual(writes, [(0, 0x41)])
        self.assertEqual(self.vcpu.get_reg(Reg.X12), 0xFFFF_FFFF_FFFF_FF80)

    def test_smccc_and_sysreg(self):
        def call(vcpu, c):
            c.ret = (7, c.args[0] + 1)
            return True

        actlr = libhyp.sysreg(3, 0, 1, 0, 1)

        def reg(vcpu, a):
            a.value = 0x1234
            return True

        self.vm.add_smccc_handler(0xC600_0001, 0xC600_0001, call, Conduit.HVC)
        self.vm.add_sysreg_handler(actlr, reg)
        self.vcpu.push_smccc(0xC600_0001, [41])
        self.vcpu.push_sysreg(actlr, False, 9)
        self.vcpu.push_wfx()  # returned to the caller: the registers are as the calls left them
        self.assertEqual(self.vcpu.run().reason, ExitReason.WFX)
        self.assertEqual(self.vcpu.get_regs([Reg.X0, Reg.X1, Reg.X9]), [7, 42, 0x1234])

    def test_exit_to_caller_and_in_out_fields(self):
        self.vcpu.push_mmio(UART, 4, 14)
        self.vcpu.push_smccc(0xC600_0002, conduit=Conduit.SMC)
        ex = self.vcpu.run()
        self.assertEqual(ex.reason, ExitReason.MMIO)
        self.assertEqual((ex.mmio.ipa, ex.mmio.len, ex.mmio.is_write), (UART, 4, False))
        with self.assertRaises(ValueError):
            ex.smccc  # not an SMCCC exit
        ex.mmio.data = 0xDEADBEEF
        ex2 = self.vcpu.run()
        self.assertEqual(self.vcpu.get_reg(Reg.X14), 0xDEADBEEF)
        # The first record is stale now: reading it is refused, not a read of reused memory.
        with self.assertRaises(RuntimeError):
            ex.reason
        self.assertEqual(ex2.reason, ExitReason.SMCCC)
        self.assertEqual(ex2.smccc.function_id, 0xC600_0002)
        self.assertEqual(ex2.smccc.ret[0], libhyp.SMCCC_NOT_SUPPORTED)
        ex2.smccc.ret = [5]
        with self.assertRaises(HypError):
            self.vcpu.run()  # script exhausted, after completing the call
        self.assertEqual(self.vcpu.get_reg(Reg.X0), 5)

    def test_generic_exit_handler(self):
        seen = []
        self.vm.set_exit_handler(ExitReason.WFX, lambda v, ex: seen.append(ex.wfx) or True)
        self.vcpu.push_wfx(True)
        self.vcpu.push_smccc(libhyp.PSCI_SYSTEM_OFF)
        self.assertEqual(self.vcpu.run().reason, ExitReason.SYSTEM_EVENT)
        self.assertEqual(seen[0]["is_wfe"], 1)
        self.vm.set_exit_handler(ExitReason.WFX, None)
        with self.assertRaises(HypError) as cm:
            self.vm.set_exit_handler(ExitReason.KICKED, lambda v, e: True)
        self.assertEqual(cm.exception.errno_name, "EINVAL")

    def test_registration_errors(self):
        self.vm.add_mmio_handler(UART, 0x1000, lambda v, a: True)
        with self.assertRaises(HypError) as cm:
            self.vm.add_mmio_handler(UART + 0x800, 0x1000, lambda v, a: True)
        self.assertEqual(cm.exception.errno_name, "EEXIST")
        with self.assertRaises(TypeError):
            self.vm.add_mmio_handler(0x100_0000, 0x1000, "not callable")
        self.vm.remove_mmio_handler(UART)
        with self.assertRaises(HypError):
            self.vm.remove_mmio_handler(UART)

    def test_interrupts_and_injection(self):
        self.vm.set_spi(40, True)
        self.assertEqual(self.vm.mock_irq_level(40), 1)
        self.assertEqual(self.vm.mock_irq_count(40), 1)
        self.vcpu.inject_exception(libhyp.InjectKind.UNDEF)
        self.vcpu.push_smccc(libhyp.PSCI_SYSTEM_OFF)
        self.vcpu.run()
        self.assertIsNotNone(self.vcpu.last_injection())


class TestMisbehavingCallbacks(Fixture):
    """A callback's failure is raised from run(), the exit is handed back, the VM goes on."""

    def script(self):
        self.vcpu.push_mmio(UART, 4, 1)
        self.vcpu.push_smccc(libhyp.PSCI_SYSTEM_OFF)

    def assert_fails_then_recovers(self, fn, cause):
        self.vm.add_mmio_handler(UART, 0x1000, fn)
        self.script()
        with self.assertRaises(CallbackError) as cm:
            self.vcpu.run()
        self.assertIsInstance(cm.exception.__cause__, cause)
        self.assertFalse(self.vm.closed)
        # The MMIO exit was handed back unhandled; the guest goes on to power off.
        self.assertEqual(self.vcpu.run().reason, ExitReason.SYSTEM_EVENT)

    def test_callback_raises(self):
        def boom(vcpu, access):
            raise ValueError("device on fire")
        self.assert_fails_then_recovers(boom, ValueError)

    def test_callback_returns_wrong_types(self):
        for bad in (None, "yes", 2, 1.0, [True]):
            with self.subTest(returned=bad):
                self.tearDown()
                self.setUp()
                self.assert_fails_then_recovers(lambda v, a, bad=bad: bad, TypeError)

    def test_callback_sets_bad_values(self):
        def too_big(vcpu, access):
            access.data = 1 << 70
            return True

        def wrong_type(vcpu, access):
            access.data = "0x10"
            return True
        self.assert_fails_then_recovers(too_big, ValueError)
        self.tearDown()
        self.setUp()
        self.assert_fails_then_recovers(wrong_type, TypeError)

    def test_callback_keeps_its_view(self):
        kept = []
        self.vm.add_mmio_handler(UART, 0x1000, lambda v, a: kept.append(a) or True)
        self.script()
        self.vcpu.run()
        with self.assertRaises(RuntimeError):
            kept[0].data = 1

    def test_callback_exits_the_interpreter_loop(self):
        def stop(vcpu, access):
            raise KeyboardInterrupt
        self.assert_fails_then_recovers(stop, KeyboardInterrupt)

    def test_smccc_bad_ret(self):
        def bad(vcpu, call):
            call.ret = [1, 2, 3, 4, 5]
            return True
        self.vm.add_smccc_handler(0xC600_0001, 0xC600_0001, bad)
        self.vcpu.push_smccc(0xC600_0001)
        with self.assertRaises(CallbackError) as cm:
            self.vcpu.run()
        self.assertIsInstance(cm.exception.__cause__, ValueError)

    def test_garbage_collected_callbacks_still_work(self):
        calls = []

        class Device:
            def mmio(self, vcpu, access):
                calls.append(access.offset)
                return True

        def register():
            dev = Device()
            self.vm.add_mmio_handler(UART, 0x1000, dev.mmio)
            return weakref.ref(dev)

        ref = register()
        gc.collect()
        self.assertIsNotNone(ref())  # the VM keeps the callback (and its object) alive
        self.vcpu.push_mmio(UART + 8, 4, 1, MockMmio.WRITE)
        self.vcpu.push_smccc(libhyp.PSCI_SYSTEM_OFF)
        self.vcpu.run()
        self.assertEqual(calls, [8])
        self.vm.remove_mmio_handler(UART)
        gc.collect()
        self.assertIsNone(ref())  # and lets go of it once removed

    def test_log_handler(self):
        messages = []
        with VM("mock", log=lambda p, m: messages.append((p, m)),
                log_priority=libhyp.LogPriority.DEBUG) as vm:
            libhyp._ffi.lib.hyp_vm_log(libhyp._ffi.c_void_p(vm._vm), 4, b"answer %d %s", 42,
                                       b"ok")
        self.assertIn((libhyp.LogPriority.WARNING, "answer 42 ok"), messages)


class TestThreads(unittest.TestCase):
    def test_kick_a_vcpu_waiting_in_run(self):
        with VM("mock") as vm:
            vm.vcpu()
            second = vm.vcpu(1)  # powered off: waits inside run() for CPU_ON
            result = []
            t = threading.Thread(target=lambda: result.append(second.run().reason))
            t.start()
            t.join(0.2)
            self.assertTrue(t.is_alive())
            second.kick()
            t.join(10)
            self.assertFalse(t.is_alive())
            self.assertEqual(result, [ExitReason.KICKED])

    def test_one_vcpu_from_two_threads_is_refused(self):
        with VM("mock") as vm:
            vm.vcpu()
            second = vm.vcpu(1)  # powered off: its run() waits
            t = threading.Thread(target=lambda: second.run())
            t.start()
            t.join(0.2)
            self.assertTrue(t.is_alive())
            with self.assertRaises(HypError) as cm:
                second.run()
            self.assertEqual(cm.exception.errno_name, "EBUSY")
            # Nor can the VM be destroyed under the running vCPU.
            with self.assertRaises(HypError) as cm:
                vm.close()
            self.assertEqual(cm.exception.errno_name, "EBUSY")
            self.assertFalse(vm.closed)
            second.kick()
            t.join(10)
            self.assertFalse(t.is_alive())

    def test_exit_unreadable_after_the_vm_is_closed(self):
        vm = VM("mock")
        vcpu = vm.vcpu()
        vcpu.push_wfx()
        ex = vcpu.run()
        self.assertEqual(ex.reason, ExitReason.WFX)
        vm.close()
        with self.assertRaises(RuntimeError):
            ex.reason


if __name__ == "__main__":
    unittest.main()
