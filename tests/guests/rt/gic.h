/* SPDX-License-Identifier: MIT */
/*
 * Minimal GICv3 programming for the conformance guests (GICv3/v4 architecture specification,
 * Arm IHI 0069; register offsets from chapter 12). Affinity routing is on (ARE = 1), every
 * interrupt is Non-secure Group 1 and delivered as IRQ through the ICC_* system registers.
 */
#ifndef LHT_GIC_H
#define LHT_GIC_H

#include "rt.h"

/* Distributor (IHI 0069 12.9). */
#define GICD_CTLR 0x0000
#define GICD_TYPER 0x0004
#define GICD_IGROUPR(n) (0x0080 + 4 * ((n) / 32))
#define GICD_ISENABLER(n) (0x0100 + 4 * ((n) / 32))
#define GICD_ICENABLER(n) (0x0180 + 4 * ((n) / 32))
#define GICD_ISPENDR(n) (0x0200 + 4 * ((n) / 32))
#define GICD_ICPENDR(n) (0x0280 + 4 * ((n) / 32))
#define GICD_ISACTIVER(n) (0x0300 + 4 * ((n) / 32))
#define GICD_IPRIORITYR(n) (0x0400 + (n))
#define GICD_ICFGR(n) (0x0c00 + 4 * ((n) / 16))
#define GICD_IROUTER(n) (0x6000 + 8 * (n))
#define GICD_CTLR_RWP (1u << 31)
#define GICD_CTLR_ARE (1u << 4)
#define GICD_CTLR_ENABLE_G1 (1u << 1)

/* Redistributor: RD_base frame, then SGI_base frame 64 KiB above it (IHI 0069 12.10, 12.11). */
#define GICR_CTLR 0x0000
#define GICR_TYPER 0x0008
#define GICR_WAKER 0x0014
#define GICR_SGI_BASE 0x10000
#define GICR_IGROUPR0 (GICR_SGI_BASE + 0x0080)
#define GICR_ISENABLER0 (GICR_SGI_BASE + 0x0100)
#define GICR_ICENABLER0 (GICR_SGI_BASE + 0x0180)
#define GICR_ISPENDR0 (GICR_SGI_BASE + 0x0200)
#define GICR_ICPENDR0 (GICR_SGI_BASE + 0x0280)
#define GICR_IPRIORITYR(n) (GICR_SGI_BASE + 0x0400 + (n))
#define GICR_ICFGR1 (GICR_SGI_BASE + 0x0c04)
#define GICR_TYPER_LAST (1ull << 4)
#define GICR_WAKER_PROCESSOR_SLEEP (1u << 1)
#define GICR_WAKER_CHILDREN_ASLEEP (1u << 2)

#define GIC_PRIO_DEFAULT 0xa0

/* Turn the distributor on with affinity routing and Group 1. Returns false on timeout. */
bool gic_dist_init(void);
/* This CPU's redistributor (found by matching GICR_TYPER.Affinity_Value against MPIDR_EL1), or 0. */
uint64_t gic_redist(void);
/* Wake this CPU's redistributor and enable its CPU interface (ICC_SRE_EL1.SRE, PMR, IGRPEN1).
 * Returns false if the redistributor is missing or does not wake. */
bool gic_cpu_init(void);
/* Enable SGI/PPI @intid (< 32) on this CPU as Group 1 with the default priority. */
void gic_enable_private(uint32_t intid);
/* Configure SPI @intid: Group 1, default priority, level (@edge false) or edge, routed to the CPU
 * with affinity @mpidr, enabled. */
void gic_enable_spi(uint32_t intid, bool edge, uint64_t mpidr);
void gic_disable_spi(uint32_t intid);
bool gic_spi_pending(uint32_t intid);
/* ICC_SGI1R_EL1 (IHI 0069 12.2.21): SGI @intid to the one CPU with affinity @mpidr
 * (Aff0 < 16: the TargetList covers Aff0 0..15 when RS = 0). */
void gic_send_sgi(uint32_t intid, uint64_t mpidr);

#endif /* LHT_GIC_H */
