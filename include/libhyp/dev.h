/* SPDX-License-Identifier: MIT */
/*
 * Device models: a PL011 UART, a PL031 RTC, virtio-mmio (version 2) console and block devices, and
 * the CFI NOR flash banks firmware boots from.
 *
 * Each model is a pure user of the public API: it registers an MMIO range with
 * hyp_vm_add_mmio_handler() and drives its interrupt line with hyp_vm_set_spi(), so it works on
 * every backend. A VMM creates the devices after hyp_vm_create() and before it starts vCPUs, and
 * destroys them before hyp_vm_destroy():
 *
 *	struct hyp_pl011_config uc = { .size = sizeof(uc), .tx_fn = console_out, .tx_opaque = term };
 *	struct hyp_pl011 *uart;
 *
 *	hyp_pl011_create(vm, &uc, &uart);      // 0x0900_0000, INTID 33: the virt board's UART
 *	... run vCPUs; an input thread calls hyp_pl011_receive(uart, buf, n) ...
 *	hyp_pl011_destroy(uart);
 *
 * Interrupt lines start low and a device calls hyp_vm_set_spi() only when its level changes, never
 * while being created (on KVM the first injection finalises the in-kernel GIC, after which no vCPU
 * can be added), so devices may be created before or after the vCPUs. An @intid must be an SPI
 * (32..1019); one the VM's GIC does not implement leaves the guest without that interrupt, and the
 * failed injections are logged at HYP_LOG_DEBUG.
 *
 * Threads: register accesses arrive on vCPU threads (several at once on an SMP guest), while the
 * VMM may push input or poll from any other thread. Every device serialises both behind a lock of
 * its own, so all functions below except create/destroy are safe from any thread. Callbacks given
 * in the configurations run on the thread that caused them (a vCPU thread for guest output, the
 * caller's thread for input) and must not block for long.
 *
 * The guest is hostile: register accesses of any width and offset, and for virtio every ring
 * index, descriptor address, length and flag, are validated. A bad access is read-as-zero /
 * write-ignored; a bad request gets the architected answer (a virtio error status, or the device
 * sets DEVICE_NEEDS_RESET and stops until the driver resets it). Nothing is ever read or written
 * outside guest RAM or outside the buffers the guest offered. Such events are logged at
 * HYP_LOG_DEBUG through the VM's log handler (the first DEVICE_NEEDS_RESET per device at
 * HYP_LOG_WARNING), so a guest cannot flood the log at the default priority.
 */
#ifndef LIBHYP_DEV_H
#define LIBHYP_DEV_H

#include <libhyp/platform.h>
#include <libhyp/types.h>

HYP_BEGIN_DECLS

/* ---- Common -------------------------------------------------------------------------------- */

/** Device configuration flags (the @flags field of every device config). A device refuses flags
 *  that do not apply to it with -EINVAL. */
enum hyp_dev_flags {
	/** No interrupt line: the device never calls hyp_vm_set_spi() and @intid is ignored (for
	 *  polled use, or a VM without an interrupt controller). */
	HYP_DEV_NO_IRQ = 1u << 0,
	/** PL011, virtio-console: write guest output to the file descriptor @tx_fd instead of
	 *  calling @tx_fn (hosted builds only; -ENOTSUP in the freestanding build). */
	HYP_DEV_TX_FD = 1u << 1,
	/** virtio-blk: the disk is read-only (VIRTIO_BLK_F_RO; guest writes fail with IOERR). */
	HYP_DEV_READ_ONLY = 1u << 2,
	/** virtio-blk: the disk is the file descriptor @fd (hosted builds only). */
	HYP_DEV_BACKING_FD = 1u << 3,
	/**
	 * virtio-blk: serve requests on an I/O thread of the device's own (hosted builds only).
	 * The driver's queue notifications signal an eventfd (hyp_vm_add_mmio_eventfd(): on kvm
	 * KVM_IOEVENTFD, so the notifying vCPU goes on without an exit to the VMM); the thread
	 * takes every request the queue holds at each wake-up (a batch) and raises the interrupt
	 * through an irqfd where the backend has them (hyp_vm_add_irqfd(), kvm), else with
	 * hyp_vm_set_spi(). The device lock and a hold of the memory map
	 * (hyp_vm_hold_memory()) cover each batch. It pays off when a vCPU has other work while
	 * its I/O is served, or several requests are in flight; with one request at a time the
	 * synchronous default costs less (README, "Benchmarks"). Stopping the vCPUs does not stop
	 * the thread: requests the driver queued are still served, and guest RAM still changes,
	 * until hyp_virtio_blk_destroy(); a VMM that copies guest RAM once its vCPUs have stopped
	 * (a snapshot, the last round of a live copy) destroys the device first or does without
	 * the flag. -ENOTSUP in the freestanding build.
	 */
	HYP_DEV_IO_THREAD = 1u << 4,
};

/**
 * hyp_dev_tx_fn - receives a device's output (bytes the guest transmitted).
 * @opaque: the config's @tx_opaque.
 * @bytes: the data, valid only during the call.
 * @len: the number of bytes (> 0).
 *
 * Runs on the vCPU thread that transmitted, and must not destroy the device. The PL011 calls it
 * without its lock held, so it may call hyp_pl011_receive() (an echo); the virtio console calls it
 * with the lock held (see struct hyp_virtio_console_config).
 */
typedef void (*hyp_dev_tx_fn)(void *opaque, const void *bytes, size_t len);

/**
 * hyp_dev_tx_try_fn - receives a device's output, with backpressure.
 * @opaque: the config's @tx_opaque.
 * @bytes: the data, valid only during the call.
 * @len: the number of bytes (> 0).
 *
 * Return: how many of the bytes were taken, 0..@len (a larger value counts as @len). Fewer than
 * @len means "full": the device keeps the rest and offers it again later (see
 * struct hyp_virtio_console_config). Same threading rules as hyp_dev_tx_fn.
 */
typedef size_t (*hyp_dev_tx_try_fn)(void *opaque, const void *bytes, size_t len);

/**
 * hyp_dev_notify_fn - "the device can take input again".
 * @opaque: the config's @rx_ready_opaque.
 *
 * Called once after a receive call accepted fewer bytes than offered, as soon as the guest made
 * room (read the FIFO, posted buffers, enabled the receiver). Runs on the vCPU thread that made
 * room, without the device lock held: typically it wakes the VMM's input thread.
 */
typedef void (*hyp_dev_notify_fn)(void *opaque);

/* ---- PL011 UART ---------------------------------------------------------------------------- */

struct hyp_pl011;

/**
 * struct hyp_pl011_config - an Arm PrimeCell UART (PL011 r1p5: 32-entry FIFOs). Zero-initialise,
 * set @size, fill what you need.
 * @size: sizeof(struct hyp_pl011_config); the same growth rules as struct hyp_vm_config.
 * @flags: enum hyp_dev_flags: HYP_DEV_NO_IRQ, HYP_DEV_TX_FD.
 * @base: the IPA of the 4 KiB register window; 0 means HYP_DEFAULT_UART_BASE.
 * @intid: the SPI's INTID (32..1019); 0 means HYP_DEFAULT_UART_INTID.
 * @tx_fd: with HYP_DEV_TX_FD, the descriptor guest output is written to (not closed by the
 *	   device; write errors drop the output).
 * @tx_fn: receives guest output, one call per byte written to UARTDR; NULL discards it.
 * @tx_opaque: passed to @tx_fn.
 * @rx_ready_fn: optional, see hyp_dev_notify_fn.
 * @rx_ready_opaque: passed to @rx_ready_fn.
 */
struct hyp_pl011_config {
	uint32_t size;
	uint32_t flags;
	hyp_ipa_t base;
	uint32_t intid;
	int32_t tx_fd;
	hyp_dev_tx_fn tx_fn;
	void *tx_opaque;
	hyp_dev_notify_fn rx_ready_fn;
	void *rx_ready_opaque;
};

/**
 * hyp_pl011_create() - attach a PL011 UART to a VM.
 * @vm: the VM (no vCPU of it may be running).
 * @config: the configuration (read during the call only).
 * @ret: receives the UART. Untouched on failure.
 *
 * The model implements UARTDR, UARTRSR/ECR, UARTFR, UARTILPR, UARTIBRD/FBRD, UARTLCR_H, UARTCR,
 * UARTIFLS, UARTIMSC, UARTRIS, UARTMIS, UARTICR, UARTDMACR and the PeriphID/PCellID registers
 * (0x00341011, 0xB105F00D) that Linux's amba bus probes. Transmission is instantaneous: the
 * transmit FIFO always reads empty and every byte reaches @tx_fn before the store completes. The
 * receive FIFO holds 32 entries (1 with UARTLCR_H.FEN clear). The RX, RT and TX interrupts follow
 * the TRM (RX at the UARTIFLS trigger level, RT when input stops with data in the FIFO, TX when a
 * byte leaves the FIFO), and the line level is UARTRIS & UARTIMSC. Loopback (UARTCR.LBE) feeds
 * output back into the receive FIFO. The modem inputs read as a connected terminal (CTS, DSR, DCD
 * asserted). Accesses of 1, 2 or 4 bytes are accepted; others read as zero and ignore writes.
 *
 * Return: 0; -EINVAL for NULL arguments, a bad @size or unknown @flags, an @intid that is not an
 * SPI, HYP_DEV_TX_FD together with @tx_fn or with a negative @tx_fd; -E2BIG (see struct
 * hyp_vm_config); -ENOTSUP for HYP_DEV_TX_FD in the freestanding build, or if the VM has no
 * interrupt controller (use HYP_DEV_NO_IRQ); -EEXIST if the window overlaps another MMIO range;
 * -EBUSY if a vCPU is running; -ENOMEM.
 */
HYP_API int hyp_pl011_create(struct hyp_vm *vm, const struct hyp_pl011_config *config,
			     struct hyp_pl011 **ret);

/**
 * hyp_pl011_receive() - input: bytes arriving on the UART's receive line.
 * @uart: the UART.
 * @bytes: the bytes (may be NULL when @len is 0).
 * @len: how many.
 *
 * The bytes enter the receive FIFO while it has room and the receiver is enabled (UARTCR.UARTEN
 * and RXE set, LBE clear): a disabled receiver takes nothing, so input typed before the guest's
 * driver starts is kept by the caller rather than lost. Updates the interrupt line.
 *
 * Return: the number of bytes accepted (0..@len, at most the FIFO depth); -EINVAL for a NULL
 * @uart, or NULL @bytes with a non-zero @len.
 */
HYP_API int hyp_pl011_receive(struct hyp_pl011 *uart, const void *bytes, size_t len);

/**
 * hyp_pl011_destroy() - detach the UART from its VM and free it.
 * @uart: the UART, or NULL (does nothing).
 *
 * Call before hyp_vm_destroy(), while no vCPU of the VM runs. (If a vCPU is running the MMIO range
 * cannot be removed: the device is then left attached and not freed, and an error is logged.)
 */
HYP_API void hyp_pl011_destroy(struct hyp_pl011 *uart);

/* ---- PL031 RTC ----------------------------------------------------------------------------- */

struct hyp_pl031;

/**
 * hyp_dev_clock_fn - a wall clock.
 * @opaque: the config's @clock_opaque.
 *
 * Return: the current time in seconds since 1970-01-01 UTC. May run on any thread.
 */
typedef uint64_t (*hyp_dev_clock_fn)(void *opaque);

/**
 * struct hyp_pl031_config - an Arm PrimeCell real-time clock. Zero-initialise, set @size.
 * @size: sizeof(struct hyp_pl031_config).
 * @flags: enum hyp_dev_flags: HYP_DEV_NO_IRQ.
 * @base: the IPA of the 4 KiB window; 0 means HYP_DEFAULT_RTC_BASE.
 * @intid: the alarm SPI's INTID; 0 means HYP_DEFAULT_RTC_INTID.
 * @reserved: must be 0.
 * @clock_fn: the time source; NULL means the host's time() (hosted builds; required in the
 *	      freestanding build).
 * @clock_opaque: passed to @clock_fn.
 */
struct hyp_pl031_config {
	uint32_t size;
	uint32_t flags;
	hyp_ipa_t base;
	uint32_t intid;
	uint32_t reserved;
	hyp_dev_clock_fn clock_fn;
	void *clock_opaque;
};

/**
 * hyp_pl031_create() - attach a PL031 RTC to a VM.
 * @vm: the VM (no vCPU of it may be running).
 * @config: the configuration.
 * @ret: receives the RTC. Untouched on failure.
 *
 * RTCDR counts seconds from the clock (it starts running at reset with the clock's value, as if
 * firmware had loaded it; RTCCR reads 1); writing RTCLR moves it. The alarm (RTCRIS) latches when
 * the counter reaches RTCMR, or when RTCMR/RTCLR are written so that both are equal; the line
 * level is RTCRIS & RTCIMSC. The PeriphID/PCellID registers read 0x00141031 and 0xB105F00D. The
 * device has no timer of its own: the alarm is evaluated on every guest access and by
 * hyp_pl031_poll(), which a VMM calls when the delay it reports has passed.
 *
 * Return: 0; -EINVAL for NULL arguments, a bad @size, unknown @flags, a non-zero @reserved or a
 * bad @intid; -E2BIG; -ENOTSUP without @clock_fn in the freestanding build, or if the VM has no
 * interrupt controller (use HYP_DEV_NO_IRQ); -EEXIST; -EBUSY; -ENOMEM.
 */
HYP_API int hyp_pl031_create(struct hyp_vm *vm, const struct hyp_pl031_config *config,
			     struct hyp_pl031 **ret);

/**
 * hyp_pl031_poll() - evaluate the alarm now and drive the interrupt line.
 * @rtc: the RTC.
 * @next: optional: receives the seconds until the counter next equals RTCMR (1..2^32) if the
 *	  alarm interrupt is unmasked, or UINT64_MAX if it is masked (nothing to wait for).
 *
 * Return: 1 if the alarm interrupt is asserted (RTCMIS set), 0 if not; -EINVAL for a NULL @rtc.
 */
HYP_API int hyp_pl031_poll(struct hyp_pl031 *rtc, uint64_t *next);

/** hyp_pl031_destroy() - detach and free the RTC; NULL does nothing. Same rules as
 *  hyp_pl011_destroy(). */
HYP_API void hyp_pl031_destroy(struct hyp_pl031 *rtc);

/* ---- virtio-mmio devices --------------------------------------------------------------------- */

/*
 * Both virtio devices use the virtio-mmio transport, version 2 (virtio 1.x, section 4.2.2), with
 * split virtqueues of up to 256 entries, indirect descriptors (VIRTIO_F_INDIRECT_DESC) and
 * VIRTIO_F_VERSION_1. A driver must negotiate VERSION_1 (FEATURES_OK is refused otherwise).
 * Requests are served on the vCPU thread that writes QueueNotify. A malformed queue or chain (a
 * descriptor index out of range, a chain of more than QueueNumMax descriptors counting indirect
 * ones, which is also where a loop ends, a nested or misused indirect table, rings outside guest
 * RAM or misaligned, a queue size that is not a power of two or exceeds QueueNumMax, an available
 * index that runs ahead by more than the queue size) sets DEVICE_NEEDS_RESET and raises a
 * configuration-change interrupt; the device then ignores the driver until it writes 0 to Status.
 *
 * Interrupts: each event (used buffers, a configuration change) gives the SPI a rising edge of its
 * own unless an event the driver has not read from InterruptStatus yet is pending; the line stays
 * high until InterruptACK clears the last bit. Describe the SPI edge-triggered (hyp_fdt_build()
 * does, as QEMU's virt board does). InterruptACK clears only bits the driver has read: where the
 * backend can collect writes (hyp_vm_defer_mmio_writes(); kvm), the device asks it to for
 * InterruptACK, which saves an exit to userspace per interrupt, and an acknowledgement that lands
 * after the device raised the same event again leaves that event pending. A guest that configures
 * the SPI level-triggered still works there, at a price: the line stays high past its EOI until
 * the acknowledgement is delivered, so it takes one spurious interrupt per event (its
 * InterruptStatus read, an exit, delivers the acknowledgement and reads 0).
 */

struct hyp_virtio_console;

/**
 * struct hyp_virtio_console_config - a virtio console (device ID 3) with one port: receiveq 0,
 * transmitq 1. Zero-initialise, set @size.
 * @size: sizeof(struct hyp_virtio_console_config).
 * @flags: enum hyp_dev_flags: HYP_DEV_NO_IRQ, HYP_DEV_TX_FD.
 * @base: the IPA of the 0x200-byte window (required, e.g. HYP_VIRTIO_MMIO_SLOT_BASE(0)).
 * @intid: the SPI's INTID (required unless HYP_DEV_NO_IRQ, e.g. HYP_VIRTIO_MMIO_SLOT_INTID(0)).
 * @tx_fd: with HYP_DEV_TX_FD, where guest output is written.
 * @tx_fn: receives guest output (transmitq buffers, and VIRTIO_CONSOLE_F_EMERG_WRITE bytes);
 *	   NULL discards it. Called with the device lock held: it must not call back into this
 *	   device (hyp_virtio_console_receive() from it returns -EDEADLK in hosted builds; hand the
 *	   bytes to another thread, or use the PL011, to echo).
 * @tx_opaque: passed to @tx_fn.
 * @rx_ready_fn: optional, see hyp_dev_notify_fn.
 * @rx_ready_opaque: passed to @rx_ready_fn.
 * @tx_try_fn: instead of @tx_fn (or @tx_fd), output with backpressure: a transmit buffer whose
 *	       bytes @tx_try_fn does not all take stays in the transmitq, not returned to the
 *	       driver, and the device offers the rest (nothing twice, nothing lost) at the driver's
 *	       next notification or when the VMM calls hyp_virtio_console_tx_resume(), typically
 *	       once its sink has room again. Buffers behind it wait too (the console is one stream).
 *	       An emergency write (VIRTIO_CONSOLE_F_EMERG_WRITE, one byte that cannot wait, 5.3.6)
 *	       it refuses is dropped. Called with the device lock held, like @tx_fn. Receives
 *	       @tx_opaque. Mind the guest: Linux's hvc console (/dev/hvc0) waits for each transmit
 *	       buffer spinning with interrupts masked, so a buffer held until a sink that depends
 *	       on that guest's interrupts drains (a peer waiting for the guest to read) stops
 *	       that vCPU for good; take such output with @tx_fn into a buffer of the VMM's.
 */
struct hyp_virtio_console_config {
	uint32_t size;
	uint32_t flags;
	hyp_ipa_t base;
	uint32_t intid;
	int32_t tx_fd;
	hyp_dev_tx_fn tx_fn;
	void *tx_opaque;
	hyp_dev_notify_fn rx_ready_fn;
	void *rx_ready_opaque;
	hyp_dev_tx_try_fn tx_try_fn;
};

/**
 * hyp_virtio_console_create() - attach a virtio console to a VM.
 * @vm: the VM (no vCPU of it may be running).
 * @config: the configuration.
 * @ret: receives the device. Untouched on failure.
 *
 * Return: 0; -EINVAL for NULL arguments, a bad @size, unknown @flags, a zero @base, a bad @intid,
 * HYP_DEV_TX_FD with @tx_fn or a negative @tx_fd, @tx_try_fn with @tx_fn or HYP_DEV_TX_FD;
 * -E2BIG; -ENOTSUP (HYP_DEV_TX_FD in the freestanding build; no interrupt controller); -EEXIST;
 * -EBUSY; -ENOMEM.
 */
HYP_API int hyp_virtio_console_create(struct hyp_vm *vm,
				      const struct hyp_virtio_console_config *config,
				      struct hyp_virtio_console **ret);

/**
 * hyp_virtio_console_receive() - input for the guest's console.
 * @console: the device.
 * @bytes: the bytes (may be NULL when @len is 0).
 * @len: how many.
 *
 * The bytes go to the guest's receive buffers, through a 4 KiB holding buffer that also keeps
 * input arriving before the driver is ready (or while it posts no buffers).
 *
 * A guest bug to know: Linux's virtio_console (seen with 6.1, read in its source) fills its
 * receive queue before it lists the port, and input arriving in that window (the device uses
 * the first buffers and interrupts) makes it empty the queue from the interrupt without the lock
 * the filling CPU holds: its vring's free list is corrupted, and the guest hangs (hvc spinning
 * with interrupts masked) or loses or garbles input. Input that waits from before the guest
 * booted is the likely trigger. A VMM that has such a backlog should hold it until the guest
 * has shown the port is up, for example until its first output (examples/el2-firmware,
 * channel.c).
 *
 * Return: the number of bytes accepted (0..@len); -EINVAL for a NULL @console, or NULL @bytes
 * with a non-zero @len; -EDEADLK (nothing accepted) when called from this console's own @tx_fn,
 * which runs with the device lock held (hosted builds: the freestanding spinlock cannot tell and
 * would spin forever, so EL2 firmware must not do it).
 */
HYP_API int hyp_virtio_console_receive(struct hyp_virtio_console *console, const void *bytes,
				       size_t len);

/**
 * hyp_virtio_console_tx_resume() - offer held output to @tx_try_fn again.
 * @console: the device.
 *
 * For a console with struct hyp_virtio_console_config.tx_try_fn: the sink has room again (e.g.
 * the channel's peer consumed), so the device sends what it held back, then any transmit buffers
 * queued behind it, returning them to the driver (and interrupting it) as they complete. Safe from
 * any thread; does nothing if nothing is held.
 *
 * Return: 0; -EINVAL for a NULL @console; -EDEADLK (nothing done) when called from the console's
 * own @tx_try_fn (hosted builds; EL2 firmware must not do it).
 */
HYP_API int hyp_virtio_console_tx_resume(struct hyp_virtio_console *console);

/** hyp_virtio_console_destroy() - detach and free; NULL does nothing. Same rules as
 *  hyp_pl011_destroy(). */
HYP_API void hyp_virtio_console_destroy(struct hyp_virtio_console *console);

struct hyp_virtio_blk;

/**
 * struct hyp_blk_ops - a disk supplied by the caller (any build, the freestanding one included).
 * @read: copy @len bytes at byte @offset of the disk into @buf; 0, or a negative errno.
 * @write: store @len bytes from @buf at @offset; 0 or a negative errno. Not called for a
 *	   read-only disk.
 * @flush: make completed writes durable; 0 or a negative errno. NULL means nothing to do.
 *
 * The range is always inside the disk; a request is split at guest buffer boundaries, so @len
 * need not be a multiple of 512. @buf is guest memory. The methods run on a vCPU thread (or the
 * device's I/O thread, HYP_DEV_IO_THREAD) with the device lock held, in the middle of a request
 * whose other buffers are already located: they must not change the VM's memory map
 * (hyp_vcpu_exit_unmap() and the like) nor destroy the device.
 */
struct hyp_blk_ops {
	int (*read)(void *opaque, uint64_t offset, void *buf, size_t len);
	int (*write)(void *opaque, uint64_t offset, const void *buf, size_t len);
	int (*flush)(void *opaque);
};

/** The length of a virtio-blk device ID string (VIRTIO_BLK_T_GET_ID). */
#define HYP_VIRTIO_BLK_ID_BYTES 20u

/**
 * struct hyp_virtio_blk_config - a virtio block device (device ID 2). Zero-initialise, set @size
 * and exactly one backing: @path, @ops, or @fd with HYP_DEV_BACKING_FD.
 * @size: sizeof(struct hyp_virtio_blk_config).
 * @flags: enum hyp_dev_flags: HYP_DEV_NO_IRQ, HYP_DEV_READ_ONLY, HYP_DEV_BACKING_FD,
 *	   HYP_DEV_IO_THREAD.
 * @base: the IPA of the 0x200-byte window (required).
 * @intid: the SPI's INTID (required unless HYP_DEV_NO_IRQ).
 * @fd: with HYP_DEV_BACKING_FD, an open disk image or block device (hosted builds). It must be
 *	readable, and writable unless HYP_DEV_READ_ONLY; the device neither duplicates nor closes
 *	it, so keep it open until hyp_virtio_blk_destroy().
 * @path: a disk image or block device to open (hosted builds); opened read-only with
 *	  HYP_DEV_READ_ONLY, else read-write; closed by hyp_virtio_blk_destroy().
 * @ops: a caller-supplied disk.
 * @ops_opaque: passed to @ops.
 * @disk_size: with @ops, the disk's size in bytes (a multiple of 512 is expected: a partial last
 *	       sector is not visible to the guest).
 * @serial: the device ID string for VIRTIO_BLK_T_GET_ID (up to HYP_VIRTIO_BLK_ID_BYTES bytes are
 *	    used); NULL for an empty ID.
 */
struct hyp_virtio_blk_config {
	uint32_t size;
	uint32_t flags;
	hyp_ipa_t base;
	uint32_t intid;
	int32_t fd;
	const char *path;
	const struct hyp_blk_ops *ops;
	void *ops_opaque;
	uint64_t disk_size;
	const char *serial;
};

/**
 * hyp_virtio_blk_create() - attach a virtio block device to a VM.
 * @vm: the VM (no vCPU of it may be running).
 * @config: the configuration.
 * @ret: receives the device. Untouched on failure.
 *
 * Offers VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_FLUSH and, for a read-only disk, VIRTIO_BLK_F_RO.
 * Serves VIRTIO_BLK_T_IN, OUT, FLUSH and GET_ID; other request types get VIRTIO_BLK_S_UNSUPP.
 * A request gets VIRTIO_BLK_S_IOERR if its header is short, its data length is not a multiple of
 * 512, it reaches beyond the capacity, it writes a read-only disk, a data buffer is not guest RAM
 * (or, for IN, not writable guest RAM), or the disk fails. A request without a writable status
 * byte cannot be answered: the device sets DEVICE_NEEDS_RESET. The capacity (config space offset
 * 0) is the disk's size in 512-byte sectors, rounded down.
 *
 * Return: 0; -EINVAL for NULL arguments, a bad @size, unknown @flags, a zero @base, a bad @intid,
 * no backing or more than one, @ops without @read (or without @write for a writable disk);
 * -E2BIG; -ENOTSUP (@path/@fd or HYP_DEV_IO_THREAD in the freestanding build; no interrupt
 * controller); for @path the open(2) error (-ENOENT, -EACCES...); for @fd -EBADF if it is not
 * open for reading (or for writing, on a writable disk); -EEXIST; -EBUSY; -ENOMEM; with
 * HYP_DEV_IO_THREAD, the errors of eventfd(2), pthread_create() and hyp_vm_add_mmio_eventfd().
 * Each failure is also logged.
 */
HYP_API int hyp_virtio_blk_create(struct hyp_vm *vm, const struct hyp_virtio_blk_config *config,
				  struct hyp_virtio_blk **ret);

/** hyp_virtio_blk_destroy() - detach and free; closes a disk opened from @path. NULL does
 *  nothing. Same rules as hyp_pl011_destroy(); with HYP_DEV_IO_THREAD it also stops and joins
 *  the thread (after the batch it may be serving), so it must not be called from that thread. */
HYP_API void hyp_virtio_blk_destroy(struct hyp_virtio_blk *blk);

/* ---- CFI parallel NOR flash ---------------------------------------------------------------- */

struct hyp_cfi_flash;

/**
 * struct hyp_cfi_flash_config - the two flash banks of QEMU's virt board, where firmware boots:
 * bank 0 (at @base) holds the firmware and is where the boot vCPU starts (PC = @base), bank 1
 * (at @base + @bank_size) a variable store. Zero-initialise, set @size, @code and @code_size.
 * @size: sizeof(struct hyp_cfi_flash_config).
 * @flags: must be 0.
 * @base: the IPA of bank 0, aligned to @bank_size; 0 is HYP_DEFAULT_FLASH_BASE (IPA 0).
 * @bank_size: bytes per bank: a power of two from 512 KiB to 1 GiB; 0 means
 *	       HYP_DEFAULT_FLASH_BANK_SIZE (64 MiB, as QEMU).
 * @code: the firmware image (copied; the rest of bank 0 reads as erased, 0xff).
 * @code_size: its length, 1..@bank_size.
 * @vars: optional: a buffer of @bank_size bytes the device uses as bank 1 (the caller's; it sees
 *	  every program and erase at once and keeps it valid until hyp_cfi_flash_destroy()).
 * @vars_path: optional, hosted builds: a file of exactly @bank_size bytes with bank 1's contents.
 *	       Every completed program and erase is written back to it immediately (pwrite of the
 *	       changed bytes), so the store survives the VMM however it ends. Closed by
 *	       hyp_cfi_flash_destroy(). Neither @vars nor @vars_path: bank 1 starts erased and
 *	       its contents are lost at destroy.
 */
struct hyp_cfi_flash_config {
	uint32_t size;
	uint32_t flags;
	hyp_ipa_t base;
	uint64_t bank_size;
	const void *code;
	size_t code_size;
	void *vars;
	const char *vars_path;
};

/**
 * hyp_cfi_flash_create() - attach the two CFI flash banks to a VM.
 * @vm: the VM (no vCPU of it may be running).
 * @config: the configuration (read during the call only).
 * @ret: receives the device. Untouched on failure.
 *
 * Each bank is 4 bytes wide (two x16 chips in parallel), with 256 KiB erase blocks and a 128-byte
 * write buffer, and speaks the Intel/Sharp
 * command set (CFI primary command set 0x0001): read array (0xff; 0xf0 too), read status (0x70),
 * clear status (0x50), read identifier (0x90: manufacturer 0x89, device 0x18, block lock status
 * at word 2 of each block), CFI query (0x98), word program (0x40/0x10), buffered program (0xe8,
 * word count - 1, the words, 0xd0), block erase (0x20, 0xd0), block lock, unlock and lock-down
 * (0x60 then 0x01, 0xd0, 0x2f), suspend and resume (0xb0, 0xd0: accepted, operations complete
 * instantly). A write of any width reaches both chips: its low byte is the command, and where data
 * is due its bytes are the data, each write one word of a buffered program's count (QEMU's pflash
 * does the same; U-Boot drives the banks as x16 parts on a 16-bit bus). Programming clears bits
 * only (new = old AND data). Errors show in the status
 * register as on the chips: a broken sequence sets SR.4 and SR.5, a locked block SR.1 with SR.4
 * (program) or SR.5 (erase); they stay until clear status.
 *
 * Bank 0 is guest memory while it is in read-array mode: its firmware part is mapped read-only
 * and executable with hyp_vm_map() (so the backend needs HYP_CAP_READONLY_MEM), guest writes to
 * it exit to the model, and in the other modes the mapping shows the status, identifier or query
 * answers. Its blocks are locked down: the firmware never changes (program and erase fail with
 * SR.1). Bank 1's blocks start unlocked. Accesses must be 1, 2, 4 or 8 bytes, naturally aligned;
 * others read as zero and ignore writes.
 *
 * Return: 0; -EINVAL for NULL arguments, a bad @size, non-zero @flags, no @code, a bad @bank_size
 * or a misaligned @base, both @vars and @vars_path, a @vars_path that is not a regular file of
 * exactly @bank_size bytes; -ENOSPC if @code_size exceeds @bank_size; -E2BIG; -ENOTSUP for
 * @vars_path in the freestanding build, or read-only memory on a backend without it; for
 * @vars_path the open(2) error (-ENOENT, -EACCES...); -EEXIST if the banks overlap memory or an
 * MMIO range; -EBUSY; -ENOMEM. Each failure is also logged.
 */
HYP_API int hyp_cfi_flash_create(struct hyp_vm *vm, const struct hyp_cfi_flash_config *config,
				 struct hyp_cfi_flash **ret);

/** hyp_cfi_flash_destroy() - detach and free the banks, closing the variable-store file (which
 *  is already up to date). NULL does nothing. Same rules as hyp_pl011_destroy(). */
HYP_API void hyp_cfi_flash_destroy(struct hyp_cfi_flash *flash);

HYP_END_DECLS

#endif /* LIBHYP_DEV_H */
