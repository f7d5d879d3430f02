/* SPDX-License-Identifier: MIT */
/*
 * Unit-testing a VMM's interrupt flows on any host: a mock VM with libhyp's GIC
 * (HYP_IRQCHIP_LIBRARY), written the way a VMM author would. The "guest" is a script of the
 * accesses a GICv3 driver makes (distributor and redistributor MMIO, CPU interface system
 * registers); the "device" is the VMM's own hyp_vm_set_spi(); the test looks at what the guest
 * would see (its registers, the IRQ line) and at the GIC's state (hyp_mock_gic_irq_state()).
 */
#include "test-helpers.h"

#define GICD HYP_DEFAULT_GICD_BASE
#define GICR HYP_DEFAULT_GICR_BASE
#define GICD_CTLR 0x0000
#define GICD_ISENABLER(n) (0x0100 + 4 * ((n) / 32))
#define GICR_WAKER 0x0014
#define CTLR_ARE_GRP1 0x12u /* ARE | EnableGrp1 (GICD_CTLR with DS = 1) */

#define ICC_PMR_EL1 HYP_SYSREG(3, 0, 4, 6, 0)
#define ICC_IAR1_EL1 HYP_SYSREG(3, 0, 12, 12, 0)
#define ICC_EOIR1_EL1 HYP_SYSREG(3, 0, 12, 12, 1)
#define ICC_SGI1R_EL1 HYP_SYSREG(3, 0, 12, 11, 5)
#define ICC_IGRPEN1_EL1 HYP_SYSREG(3, 0, 12, 12, 7)

#define UART_SPI 40u

static void create_vm(struct test_vm *t, uint32_t max_vcpus)
{
	struct hyp_vm_config config = {
		.size = sizeof(config),
		.backend = "mock",
		.irqchip = HYP_IRQCHIP_LIBRARY,
		.max_vcpus = max_vcpus,
	};

	test_vm_create_with(t, &config);
}

/* The guest stores @value (with X@reg) at @ipa. */
static void guest_store32(struct hyp_vcpu *vcpu, uint64_t ipa, uint32_t value)
{
	assert_int_equal(hyp_vcpu_set_reg(vcpu, HYP_REG_X(1), value), 0);
	assert_int_equal(hyp_mock_push_mmio(vcpu, ipa, 4, 1, HYP_MOCK_MMIO_WRITE), 0);
	test_run_to_end(vcpu);
}

static void guest_msr(struct hyp_vcpu *vcpu, uint32_t encoding, uint64_t value)
{
	assert_int_equal(hyp_vcpu_set_reg(vcpu, HYP_REG_X(2), value), 0);
	assert_int_equal(hyp_mock_push_sysreg(vcpu, encoding, true, 2), 0);
	test_run_to_end(vcpu);
}

static uint64_t guest_mrs(struct hyp_vcpu *vcpu, uint32_t encoding)
{
	assert_int_equal(hyp_mock_push_sysreg(vcpu, encoding, false, 3), 0);
	test_run_to_end(vcpu);
	return test_reg(vcpu, HYP_REG_X(3));
}

/* What a GICv3 driver does at boot: distributor on, redistributor awake, CPU interface on. */
static void guest_gic_init(struct hyp_vcpu *vcpu, uint32_t index)
{
	if (index == 0)
		guest_store32(vcpu, GICD + GICD_CTLR, CTLR_ARE_GRP1);
	guest_store32(vcpu, GICR + index * HYP_GICR_SIZE_PER_VCPU + GICR_WAKER, 0);
	guest_msr(vcpu, ICC_PMR_EL1, 0xff);
	guest_msr(vcpu, ICC_IGRPEN1_EL1, 1);
}

/* A level-sensitive device interrupt from raise to EOI. */
static void test_spi_raise_ack_eoi(void **state)
{
	struct test_vm t;

	(void)state;
	create_vm(&t, 1);
	guest_gic_init(t.vcpu, 0);
	guest_store32(t.vcpu, GICD + GICD_ISENABLER(UART_SPI), 1u << (UART_SPI % 32));
	assert_int_equal(hyp_mock_gic_irq_state(t.vm, NULL, UART_SPI), HYP_MOCK_GIC_ENABLED);
	assert_int_equal(hyp_mock_gic_irq_line(t.vcpu), 0);

	/* The device raises its line: pending, and the vCPU would take an IRQ. */
	assert_int_equal(hyp_vm_set_spi(t.vm, UART_SPI, true), 0);
	assert_int_equal(hyp_mock_gic_irq_state(t.vm, NULL, UART_SPI),
			 HYP_MOCK_GIC_ENABLED | HYP_MOCK_GIC_PENDING);
	assert_int_equal(hyp_mock_gic_irq_line(t.vcpu), 1);

	/* The handler acknowledges it: active; the line is still high, so it stays pending, but
	 * at the running priority it does not interrupt again. */
	assert_int_equal(guest_mrs(t.vcpu, ICC_IAR1_EL1), UART_SPI);
	assert_int_equal(hyp_mock_gic_irq_state(t.vm, NULL, UART_SPI),
			 HYP_MOCK_GIC_ENABLED | HYP_MOCK_GIC_PENDING | HYP_MOCK_GIC_ACTIVE);
	assert_int_equal(hyp_mock_gic_irq_line(t.vcpu), 0);

	/* It services the device, which lowers the line, then EOIs. */
	assert_int_equal(hyp_vm_set_spi(t.vm, UART_SPI, false), 0);
	guest_msr(t.vcpu, ICC_EOIR1_EL1, UART_SPI);
	assert_int_equal(hyp_mock_gic_irq_state(t.vm, NULL, UART_SPI), HYP_MOCK_GIC_ENABLED);
	assert_int_equal(hyp_mock_gic_irq_line(t.vcpu), 0);
	assert_int_equal(guest_mrs(t.vcpu, ICC_IAR1_EL1), 1023); /* spurious */
	/* The line history is still there for tests that only look at levels. */
	assert_int_equal(hyp_mock_irq_count(t.vm, NULL, UART_SPI), 1);
	test_vm_destroy(&t);
}

/* A level still high at EOI is pending again (the driver forgot the device). */
static void test_level_repends_after_eoi(void **state)
{
	struct test_vm t;

	(void)state;
	create_vm(&t, 1);
	guest_gic_init(t.vcpu, 0);
	guest_store32(t.vcpu, GICD + GICD_ISENABLER(UART_SPI), 1u << (UART_SPI % 32));
	assert_int_equal(hyp_vm_set_spi(t.vm, UART_SPI, true), 0);
	assert_int_equal(guest_mrs(t.vcpu, ICC_IAR1_EL1), UART_SPI);
	guest_msr(t.vcpu, ICC_EOIR1_EL1, UART_SPI);
	assert_int_equal(hyp_mock_gic_irq_line(t.vcpu), 1);
	assert_int_equal(guest_mrs(t.vcpu, ICC_IAR1_EL1), UART_SPI);
	test_vm_destroy(&t);
}

/* vCPU 0 sends SGI 3 to vCPU 1 through ICC_SGI1R_EL1 (TargetList bit 1, Aff1..3 = 0). */
static void test_sgi_between_vcpus(void **state)
{
	struct hyp_vcpu_config c1 = { .size = sizeof(c1), .index = 1 };
	struct hyp_vcpu *v1;
	struct test_vm t;

	(void)state;
	create_vm(&t, 2);
	assert_int_equal(hyp_vcpu_create(t.vm, &c1, &v1), 0);
	guest_gic_init(t.vcpu, 0);
	assert_int_equal(hyp_mock_gic_irq_state(t.vm, v1, 3), HYP_MOCK_GIC_ENABLED);
	guest_msr(t.vcpu, ICC_SGI1R_EL1, (3ull << 24) | (1u << 1));
	assert_int_equal(hyp_mock_gic_irq_state(t.vm, v1, 3),
			 HYP_MOCK_GIC_ENABLED | HYP_MOCK_GIC_PENDING);
	assert_int_equal(hyp_mock_gic_irq_state(t.vm, t.vcpu, 3), HYP_MOCK_GIC_ENABLED);
	/* The VMM can do the same (hyp_vcpu_raise_sgi()). */
	assert_int_equal(hyp_vcpu_raise_sgi(t.vcpu, 4), 0);
	assert_int_equal(hyp_mock_gic_irq_state(t.vm, t.vcpu, 4),
			 HYP_MOCK_GIC_ENABLED | HYP_MOCK_GIC_PENDING);
	test_vm_destroy(&t);
}

/* A vCPU created with an affinity another vCPU (not created yet) has by default: SGIs find it
 * there, and not at its own default place. */
static void test_sgi_custom_mpidr(void **state)
{
	struct hyp_vcpu_config c1 = { .size = sizeof(c1), .index = 1, .mpidr = 2 };
	struct hyp_vcpu *v1;
	struct test_vm t;

	(void)state;
	create_vm(&t, 3);
	assert_int_equal(hyp_vcpu_create(t.vm, &c1, &v1), 0);
	guest_gic_init(t.vcpu, 0);
	guest_msr(t.vcpu, ICC_SGI1R_EL1, (3ull << 24) | (1u << 2));
	assert_int_equal(hyp_mock_gic_irq_state(t.vm, v1, 3),
			 HYP_MOCK_GIC_ENABLED | HYP_MOCK_GIC_PENDING);
	guest_msr(t.vcpu, ICC_SGI1R_EL1, (5ull << 24) | (1u << 1));
	assert_int_equal(hyp_mock_gic_irq_state(t.vm, v1, 5), HYP_MOCK_GIC_ENABLED);
	test_vm_destroy(&t);
}

static void test_without_library_gic(void **state)
{
	struct hyp_mock_config mcfg = { .size = sizeof(mcfg), .flags = HYP_MOCK_NO_SYSREG_TRAPS };
	struct hyp_vm_config config = {
		.size = sizeof(config),
		.backend = "mock",
		.backend_config = &mcfg,
		.irqchip = HYP_IRQCHIP_LIBRARY,
	};
	struct hyp_vm *vm;
	struct test_vm t;

	(void)state;
	/* Its CPU interface needs sysreg traps. */
	assert_int_equal(hyp_vm_create(&config, &vm), -ENOTSUP);
	/* The default mock records lines only. */
	test_vm_create(&t);
	assert_int_equal(hyp_vm_set_spi(t.vm, UART_SPI, true), 0);
	assert_int_equal(hyp_mock_gic_irq_state(t.vm, NULL, UART_SPI), -ENOTSUP);
	assert_int_equal(hyp_mock_gic_irq_line(t.vcpu), -ENOTSUP);
	test_vm_destroy(&t);
	/* The library GIC has 224 SPIs (INTIDs 32..255), like KVM's default. */
	create_vm(&t, 1);
	assert_int_equal(hyp_vm_set_spi(t.vm, 255, true), 0);
	assert_int_equal(hyp_vm_set_spi(t.vm, 256, true), -EINVAL);
	assert_int_equal(hyp_mock_gic_irq_state(t.vm, NULL, 256), -EINVAL);
	assert_int_equal(hyp_mock_gic_irq_state(t.vm, NULL, 5), -EINVAL); /* SGI: which vCPU? */
	test_vm_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spi_raise_ack_eoi),
		cmocka_unit_test(test_level_repends_after_eoi),
		cmocka_unit_test(test_sgi_between_vcpus),
		cmocka_unit_test(test_sgi_custom_mpidr),
		cmocka_unit_test(test_without_library_gic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
