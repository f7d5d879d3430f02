/* SPDX-License-Identifier: MIT */
/*
 * hyp-run: a command-line VMM on libhyp. Boots an arm64 Linux Image (or an ELF / raw binary) on
 * the QEMU-virt-shaped platform libhyp describes: GICv3, PL011 console, PL031 RTC, virtio-mmio
 * block and console devices, PSCI for SMP.
 *
 *   hyp-run --kernel Image [--initrd FILE] [--cmdline "..."] [--mem 512M] [--cpus 2]
 *           [--disk FILE[,ro][,iothread]] [--console pl011|virtio] [--backend kvm]
 *
 * Exit status: 0 when the guest powers off, 3 when it asks for a reset, 130 after Ctrl-C, 1 on
 * any error (bad options, unreadable files, a kernel that does not fit, a VM that cannot run).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libhyp/boot.h>
#include <libhyp/dev.h>
#include <libhyp/fdt.h>
#include <libhyp/hyp.h>
#include <libhyp/kvm.h>

#define EXIT_POWEROFF 0
#define EXIT_ERROR 1
#define EXIT_RESET 3
#define EXIT_INTERRUPTED 130

#define MAX_CPUS 64u
#define MAX_DISKS 4u
#define DEFAULT_MEM (512ull << 20)
#define DEFAULT_CMDLINE_PL011 "console=ttyAMA0 earlycon=pl011,0x09000000"
#define DEFAULT_CMDLINE_VIRTIO "console=hvc0"

struct disk {
	const char *path;
	bool read_only;
	bool io_thread; /* HYP_DEV_IO_THREAD */
	int fd;
	struct hyp_virtio_blk *dev;
};

struct options {
	const char *kernel;
	const char *firmware;	/* --firmware: boot from flash instead of loading a kernel */
	const char *flash_vars; /* --flash-vars: the variable store (flash bank 1) */
	const char *initrd;
	const char *cmdline;
	const char *backend;
	uint64_t mem;
	unsigned cpus;
	bool virtio_console;
	bool verbose;
	bool ignore_unclaimed;
	uint32_t format;    /* enum hyp_boot_format */
	uint64_t load_addr; /* raw: required; Image and position-independent ELF: optional */
	uint64_t footprint; /* raw: bytes used from load_addr (file, BSS, stack) */
	struct disk disks[MAX_DISKS];
	unsigned nr_disks;
	/* CPU features (enum hyp_kvm_cpu_feature): asked for explicitly, refused explicitly; the
	 * rest is "what the host offers" (-cpu host). */
	uint32_t features_on, features_off;
	uint32_t sve_max_vl; /* bytes; 0: the host's largest */
	const char *precopy; /* --precopy FILE */
	uint32_t dirty_ring; /* --dirty-ring ENTRIES (0: the bitmap only) */
};

static const struct {
	const char *option;
	uint32_t feature;
	const char *name;
} cpu_features[] = {
	{ "pmu", HYP_KVM_CPU_PMU, "a PMUv3" },
	{ "sve", HYP_KVM_CPU_SVE, "SVE" },
	{ "pauth", HYP_KVM_CPU_PTRAUTH, "pointer authentication" },
	{ "mte", HYP_KVM_CPU_MTE, "MTE" },
};

struct vmm {
	struct options opt;
	void *kernel; /* --firmware: the flash image's bytes */
	size_t kernel_size, initrd_size;
	/* --kernel / --initrd: open until loaded, read by libhyp straight into guest RAM. */
	int kernel_fd, initrd_fd;
	struct hyp_cfi_flash *flash;
	struct hyp_vm *vm;
	struct hyp_vcpu *vcpus[MAX_CPUS];
	pthread_t threads[MAX_CPUS];
	void *ram;
	struct hyp_pl011 *uart;
	struct hyp_pl031 *rtc;
	struct hyp_virtio_console *vcon;
	_Atomic int stop_reason; /* 0 running, else an EXIT_* code */
	/* Held by the input and RTC threads around device calls, so teardown can wait them out. */
	pthread_mutex_t input_lock;
	int precopy_fd; /* --precopy: the file guest RAM is copied to */
};

/* For the signal handler: the one VMM of this process. */
static struct vmm *the_vmm;

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: hyp-run --kernel FILE [OPTIONS]\n"
		"       hyp-run --firmware FILE [--flash-vars FILE] [OPTIONS]\n"
		"Boot an arm64 guest (a Linux Image, an ELF64, a raw binary, or firmware such as\n"
		"U-Boot) with libhyp.\n"
		"\n"
		"  -k, --kernel FILE     the kernel: arm64 Linux Image (EFI-stub Images too) or ELF64\n"
		"                        e.g. --kernel /boot/vmlinuz-6.1.0-arm64\n"
		"  -i, --initrd FILE     an initrd / initramfs, described in /chosen\n"
		"                        e.g. --initrd initramfs.cpio\n"
		"  -c, --cmdline TEXT    kernel command line (default for a Linux Image: \"%s\",\n"
		"                        or \"%s\" with --console virtio; empty otherwise)\n"
		"                        e.g. --cmdline \"console=ttyAMA0 root=/dev/vda rw\"\n"
		"      --format FMT      'auto' (default: a Linux Image or an ELF64, by their magic),\n"
		"                        'image', 'elf' or 'raw' (raw bytes: needs --load-addr)\n"
		"                        e.g. --format raw --load-addr 0x40080000\n"
		"      --load-addr ADDR  raw: where the bytes go and run from; Linux Image: the 2 MiB\n"
		"                        aligned base; position-independent ELF: the base (aligned to\n"
		"                        its segments); e.g. --format raw --load-addr 0x40080000\n"
		"      --footprint SIZE  raw: the memory the program uses from --load-addr (file, BSS,\n"
		"                        stack; default: the file size), kept clear of DTB and initrd\n"
		"                        e.g. --format raw --load-addr 0x40080000 --footprint 2M\n"
		"  -f, --firmware FILE   boot firmware the way QEMU's virt board does: FILE (at most\n"
		"                        64 MiB) in CFI flash bank 0 at address 0, where the boot vCPU\n"
		"                        starts (EL1, registers 0); the device tree, with the flash,\n"
		"                        at the base of RAM. No --kernel: the firmware loads it\n"
		"                        e.g. --firmware /usr/lib/u-boot/qemu_arm64/u-boot.bin\n"
		"      --flash-vars FILE the firmware's variable store: flash bank 1 (0x04000000),\n"
		"                        a file of exactly 64 MiB, created erased if missing; every\n"
		"                        program and erase is written back at once\n"
		"                        e.g. --firmware u-boot.bin --flash-vars vars.img\n"
		"  -m, --mem SIZE        guest RAM at 0x40000000, with K/M/G suffix (default 512M)\n"
		"                        e.g. --mem 2G\n"
		"  -n, --cpus N          vCPUs, 1..%u (default 1); secondaries start via PSCI\n"
		"                        e.g. --cpus 4\n"
		"  -d, --disk FILE[,ro][,iothread]\n"
		"                        a virtio-blk disk backed by FILE (repeat for more, up to %u);\n"
		"                        ',ro' makes it read-only; ',iothread' serves its requests on\n"
		"                        a thread of its own (queue notifications through an eventfd,\n"
		"                        interrupts through an irqfd on kvm); e.g. --disk root.img\n"
		"                        --disk iso,ro\n"
		"      --console KIND    'pl011' (default: ttyAMA0) or 'virtio' (hvc0); output goes\n"
		"                        to stdout, stdin feeds the guest's console\n"
		"                        e.g. --console virtio\n"
		"  -b, --backend NAME    libhyp backend: 'kvm', or 'auto' (default); e.g. --backend kvm\n"
		"      --unclaimed WHAT  guest accesses to addresses with no device: 'abort'\n"
		"                        (default: a synchronous external abort, as on hardware)\n"
		"                        or 'ignore' (reads as zero, writes ignored)\n"
		"                        e.g. --unclaimed ignore\n"
		"\n"
		"CPU features (kvm backend). Each takes 'on' (fail if the host's KVM cannot give it),\n"
		"'off' (hidden from the guest's ID registers), or 'auto' (the default but for the\n"
		"PMU: on where the host offers it, as QEMU's -cpu host):\n"
		"      --pmu[=on|off|auto]    PMUv3 (overflow interrupt PPI 23); off unless asked for,\n"
		"                        as in kvmtool (KVM's PMU set-up waits for an RCU grace\n"
		"                        period at VM creation); e.g. --pmu\n"
		"      --sve[=on|off|auto|BITS]  SVE; BITS (a multiple of 128) caps the vector\n"
		"                        length: the guest gets every length the host has up to it\n"
		"                        e.g. --sve=256\n"
		"      --pauth[=on|off|auto]  pointer authentication (address and generic keys)\n"
		"                        e.g. --pauth=off\n"
		"      --mte[=on|off|auto]    memory tagging (KVM_CAP_ARM_MTE); e.g. --mte=on\n"
		"\n"
		"      --precopy FILE    copy guest RAM to FILE while the guest runs, in rounds, with\n"
		"                        libhyp's dirty-page log (the first half of a live migration):\n"
		"                        all of RAM, then the pages written since, each round, until\n"
		"                        a round finds at most 64; when the guest stops, a last round\n"
		"                        and a check that FILE holds exactly guest RAM\n"
		"                        e.g. --precopy ram.img\n"
		"      --dirty-ring N    with --precopy: give each vCPU a dirty ring of N entries\n"
		"                        (a power of two, 256..65536) and take each round from the\n"
		"                        rings first, then from the bitmap (what the rings could not\n"
		"                        hold); fails where the host has no ring (HYP_CAP_DIRTY_RING)\n"
		"                        e.g. --dirty-ring 1024\n"
		"  -v, --verbose         log libhyp's messages to stderr; e.g. --verbose\n"
		"  -h, --help            this text\n"
		"\n"
		"Examples:\n"
		"  hyp-run --kernel Image --initrd rd.cpio --disk root.img --cpus 2 --mem 1G\n"
		"  hyp-run --firmware u-boot.bin --flash-vars vars.img --disk boot.img --sve=off\n"
		"\n"
		"Devices: GICv3 (0x08000000), PL011 (0x09000000, INTID 33), PL031 (0x09010000,\n"
		"INTID 34), virtio-mmio slots from 0x0a000000 (INTID 48+): disks first, then the\n"
		"virtio console; with --firmware, CFI flash at 0x00000000 and 0x04000000.\n"
		"\n"
		"Exit status: 0 guest powered off, 3 guest asked for a reset, 130 interrupted\n"
		"(Ctrl-C), 1 error. Nothing a guest does ends hyp-run but its own PSCI SYSTEM_OFF or\n"
		"SYSTEM_RESET: accesses without a device, unknown SMCCC calls, trapped system\n"
		"registers and instructions get their architected answer (see --verbose).\n",
		DEFAULT_CMDLINE_PL011, DEFAULT_CMDLINE_VIRTIO, MAX_CPUS, MAX_DISKS);
}

static int fail(const char *fmt, ...)
{
	va_list args;

	fputs("hyp-run: ", stderr);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
	return EXIT_ERROR;
}

static bool parse_size(const char *text, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(text, &end, 0);
	if (errno || end == text)
		return false;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case '\0':
		break;
	default:
		return false;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

static int parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'n' },
		{ "disk", required_argument, NULL, 'd' },
		{ "console", required_argument, NULL, 'C' },
		{ "backend", required_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "unclaimed", required_argument, NULL, 'U' },
		{ "format", required_argument, NULL, 'F' },
		{ "load-addr", required_argument, NULL, 'L' },
		{ "footprint", required_argument, NULL, 'P' },
		{ "firmware", required_argument, NULL, 'f' },
		{ "flash-vars", required_argument, NULL, 'V' },
		{ "pmu", optional_argument, NULL, 'Q' },
		{ "sve", optional_argument, NULL, 'S' },
		{ "pauth", optional_argument, NULL, 'A' },
		{ "mte", optional_argument, NULL, 'T' },
		{ "precopy", required_argument, NULL, 'p' },
		{ "dirty-ring", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* The PMU is off unless asked for (kvmtool's default too): KVM sets up a guest's first
	 * PMU with a host perf counter, whose creation waits for an RCU grace period (~12M
	 * instructions of the test rig's boot, measured with linux-bench's boot-split). */
	*opt = (struct options){ .mem = DEFAULT_MEM, .cpus = 1, .features_off = HYP_KVM_CPU_PMU };
	while ((c = getopt_long(argc, argv, "k:i:c:m:n:d:b:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			opt->kernel = optarg;
			break;
		case 'f':
			opt->firmware = optarg;
			break;
		case 'V':
			opt->flash_vars = optarg;
			break;
		case 'p':
			opt->precopy = optarg;
			break;
		case 'R': {
			char *end;
			unsigned long n = strtoul(optarg, &end, 0);

			/* The library checks the value itself (power of two, range). */
			if (*end || end == optarg || !n || n > UINT32_MAX)
				return fail("--dirty-ring: '%s' is not a ring size", optarg);
			opt->dirty_ring = (uint32_t)n;
			break;
		}
		case 'Q':
		case 'S':
		case 'A':
		case 'T': {
			unsigned i = c == 'Q' ? 0 : c == 'S' ? 1 : c == 'A' ? 2 : 3;
			uint32_t bit = cpu_features[i].feature;
			char *end;
			unsigned long bits;

			opt->features_on &= ~bit;
			opt->features_off &= ~bit;
			if (!optarg || !strcmp(optarg, "on")) {
				opt->features_on |= bit;
			} else if (!strcmp(optarg, "off")) {
				opt->features_off |= bit;
			} else if (strcmp(optarg, "auto")) {
				bits = c == 'S' ? strtoul(optarg, &end, 0) : 0;
				if (c != 'S' || *end || !bits || bits % 128 || bits > 2048)
					return fail("--%s takes on, off or auto%s, not '%s'",
						    cpu_features[i].option,
						    c == 'S' ? " or a vector length in bits "
							       "(128..2048, a multiple of 128)" :
							       "",
						    optarg);
				opt->features_on |= bit;
				opt->sve_max_vl = (uint32_t)(bits / 8);
			}
			break;
		}
		case 'i':
			opt->initrd = optarg;
			break;
		case 'c':
			opt->cmdline = optarg;
			break;
		case 'm':
			if (!parse_size(optarg, &opt->mem) || opt->mem < (2ull << 20) ||
			    opt->mem % HYP_PAGE_SIZE)
				return fail(
					"--mem: '%s' is not a size of at least 2M in whole pages",
					optarg);
			break;
		case 'n': {
			char *end;
			unsigned long n = strtoul(optarg, &end, 10);

			if (*end || n < 1 || n > MAX_CPUS)
				return fail("--cpus: '%s' is not a number from 1 to %u", optarg,
					    MAX_CPUS);
			opt->cpus = (unsigned)n;
			break;
		}
		case 'd': {
			struct disk *d;
			char *comma;

			if (opt->nr_disks == MAX_DISKS)
				return fail("--disk: at most %u disks", MAX_DISKS);
			d = &opt->disks[opt->nr_disks++];
			d->path = optarg;
			d->fd = -1;
			/* Options at the end, in any order: FILE,ro,iothread. */
			while ((comma = strrchr(optarg, ','))) {
				if (!strcmp(comma, ",ro"))
					d->read_only = true;
				else if (!strcmp(comma, ",iothread"))
					d->io_thread = true;
				else
					break;
				*comma = '\0';
			}
			break;
		}
		case 'C':
			if (!strcmp(optarg, "virtio"))
				opt->virtio_console = true;
			else if (strcmp(optarg, "pl011"))
				return fail("--console: '%s' is neither 'pl011' nor 'virtio'",
					    optarg);
			break;
		case 'b':
			opt->backend = optarg;
			break;
		case 'F': {
			static const char *const names[] = { "auto", "image", "elf", "raw" };
			unsigned i;

			for (i = 0; i < 4 && strcmp(optarg, names[i]); i++)
				;
			if (i == 4)
				return fail("--format takes auto, image, elf or raw, not '%s'",
					    optarg);
			opt->format = i == 0 ? HYP_BOOT_FORMAT_AUTO :
				      i == 1 ? HYP_BOOT_FORMAT_ARM64_IMAGE :
				      i == 2 ? HYP_BOOT_FORMAT_ELF :
					       HYP_BOOT_FORMAT_RAW;
			break;
		}
		case 'L':
			if (!parse_size(optarg, &opt->load_addr) || !opt->load_addr)
				return fail("--load-addr: '%s' is not an address", optarg);
			break;
		case 'P':
			if (!parse_size(optarg, &opt->footprint) || !opt->footprint)
				return fail("--footprint: '%s' is not a size", optarg);
			break;
		case 'U':
			if (!strcmp(optarg, "abort") || !strcmp(optarg, "ignore")) {
				opt->ignore_unclaimed = !strcmp(optarg, "ignore");
				break;
			}
			fail("--unclaimed takes 'abort' or 'ignore', not '%s'", optarg);
			return EXIT_ERROR;
		case 'v':
			opt->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_POWEROFF);
		default:
			usage(stderr);
			return EXIT_ERROR;
		}
	}
	if (optind != argc)
		return fail("unexpected argument '%s' (see --help)", argv[optind]);
	if (opt->dirty_ring && !opt->precopy)
		return fail("--dirty-ring is for --precopy");
	for (unsigned i = 0; opt->precopy && i < opt->nr_disks; i++)
		if (opt->disks[i].io_thread)
			return fail(
				"--precopy and --disk %s,iothread: the disk's I/O thread goes on "
				"writing guest memory after the vCPUs stop, so the last round "
				"would not be exact",
				opt->disks[i].path);
	if (opt->precopy && opt->firmware)
		return fail("--precopy and --firmware: the flash remaps guest memory while the "
			    "guest runs, which the dirty log cannot follow");
	if (opt->firmware) {
		/* The firmware loads the kernel itself (from a --disk, say). */
		if (opt->kernel || opt->initrd || opt->format || opt->load_addr || opt->footprint)
			return fail("--firmware boots from flash: --kernel, --initrd, --format, "
				    "--load-addr and --footprint do not apply (put the kernel on "
				    "a --disk for the firmware to load)");
		return 0;
	}
	if (opt->flash_vars)
		return fail("--flash-vars is the variable store of --firmware");
	if (!opt->kernel)
		return fail("--kernel or --firmware is required (see --help)");
	if (opt->format == HYP_BOOT_FORMAT_RAW && !opt->load_addr)
		return fail("--format raw needs --load-addr (where the bytes go and run from)");
	if (opt->footprint && opt->format != HYP_BOOT_FORMAT_RAW)
		return fail("--footprint is for --format raw (other formats state their size)");
	return 0;
}

/* Open a file to load from: a non-empty regular file. The contents are untrusted: libhyp's
 * loader validates them as it reads them. */
static int open_file(const char *path, int *fd_out, size_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fail("cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0) {
		close(fd);
		return fail("%s is not a non-empty regular file", path);
	}
	*fd_out = fd;
	*size = (size_t)st.st_size;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Read a whole file. The contents are untrusted: libhyp's loaders validate them. */
static int read_file(const char *path, void **data, size_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t done = 0;
	char *buf;

	if (fd < 0)
		return fail("cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0) {
		close(fd);
		return fail("%s is not a non-empty regular file", path);
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		close(fd);
		return fail("%s: out of memory", path);
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n <= 0) {
			free(buf);
			close(fd);
			return fail("reading %s: %s", path, n ? strerror(errno) : "file shrank");
		}
		done += (size_t)n;
	}
	close(fd);
	*data = buf;
	*size = done;
	return 0;
}

static void log_to_stderr(void *opaque, enum hyp_log_priority priority, const char *fmt,
			  va_list args)
{
	(void)opaque;
	(void)priority;
	fputs("hyp-run: libhyp: ", stderr);
	vfprintf(stderr, fmt, args);
	fputc('\n', stderr);
}

static void request_stop(struct vmm *vmm, int reason)
{
	int none = 0;

	atomic_compare_exchange_strong(&vmm->stop_reason, &none, reason);
	for (unsigned i = 0; i < vmm->opt.cpus; i++)
		if (vmm->vcpus[i])
			hyp_vcpu_kick(vmm->vcpus[i]);
}

static void on_sigint(int sig)
{
	(void)sig;
	/* Async-signal-safe: an atomic and hyp_vcpu_kick() only. */
	if (the_vmm)
		request_stop(the_vmm, EXIT_INTERRUPTED);
}

struct vcpu_thread {
	struct vmm *vmm;
	unsigned index;
	int status;
};

/*
 * An exit the library returned because nothing answered it: always something the guest did. The
 * guest gets the architected answer and hyp-run goes on; only the guest's PSCI SYSTEM_OFF or
 * SYSTEM_RESET (or a signal) ends a run.
 */
static void answer_guest(struct vmm *vmm, unsigned index, struct hyp_vcpu *vcpu,
			 struct hyp_exit *exit)
{
	const char *answer = "ignored";

	switch (exit->reason) {
	case HYP_EXIT_MMIO:
		/* Only with --unclaimed ignore (else the library injected the abort): reads as
		 * zero, writes ignored. */
		if (!exit->mmio.is_write)
			exit->mmio.data = 0;
		answer = exit->mmio.is_write ? "write ignored" : "read as zero";
		break;
	case HYP_EXIT_SMCCC:
		/* ret[] is pre-set to NOT_SUPPORTED: the SMCCC answer to an unknown call. */
		answer = "SMCCC NOT_SUPPORTED";
		break;
	case HYP_EXIT_WFX:
		answer = "resumed";
		break;
	case HYP_EXIT_MEM_FAULT:
		/* Cache maintenance by VA on a device completes as a no-op (the library advances
		 * the PC); any other fault is an abort, as a bus with nothing there gives. */
		if (exit->fault.kind == HYP_FAULT_OTHER && ((exit->raw.esr >> 8) & 1)) {
			answer = "cache maintenance on a device: no effect";
			break;
		}
		if (hyp_vcpu_inject_exception(vcpu,
					      exit->fault.kind == HYP_FAULT_EXEC ?
						      HYP_INJECT_PREFETCH_ABORT :
						      HYP_INJECT_DATA_ABORT,
					      exit->fault.va) == 0)
			answer = "abort injected";
		else
			answer = "abort not injectable on this backend: retried";
		break;
	default:
		/* Trapped system registers and instructions the VMM does not emulate: UNDEFINED,
		 * as on a CPU without them. */
		answer = hyp_vcpu_inject_exception(vcpu, HYP_INJECT_UNDEF, 0) == 0 ?
				 "UNDEF injected" :
				 "UNDEF not injectable on this backend: retried";
		break;
	}
	if (vmm->opt.verbose)
		fprintf(stderr, "hyp-run: vCPU %u: guest %s exit (ESR %#" PRIx64 "): %s\n", index,
			hyp_exit_reason_name(exit->reason), exit->raw.esr, answer);
}

static void *vcpu_main(void *opaque)
{
	struct vcpu_thread *t = opaque;
	struct vmm *vmm = t->vmm;
	struct hyp_vcpu *vcpu = vmm->vcpus[t->index];

	for (;;) {
		struct hyp_exit *exit;
		int r = hyp_vcpu_run(vcpu);

		if (r) {
			fail("vCPU %u: %s", t->index, hyp_strerror(r));
			request_stop(vmm, EXIT_ERROR);
			break;
		}
		exit = hyp_vcpu_exit(vcpu);
		if (exit->reason == HYP_EXIT_SYSTEM_EVENT) {
			request_stop(vmm, exit->system_event.type == HYP_SYSTEM_EVENT_RESET ?
						  EXIT_RESET :
					  exit->system_event.type == HYP_SYSTEM_EVENT_OFF ?
						  EXIT_POWEROFF :
						  EXIT_ERROR);
			break;
		}
		if (exit->reason == HYP_EXIT_KICKED) {
			if (atomic_load(&vmm->stop_reason))
				break;
			continue;
		}
		answer_guest(vmm, t->index, vcpu, exit);
	}
	return NULL;
}

/* Console input: stdin to the guest's console device, for as long as there is any. */
static void *input_main(void *opaque)
{
	struct vmm *vmm = opaque;
	char buf[256];

	while (!atomic_load(&vmm->stop_reason)) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
		size_t done = 0;

		if (n <= 0)
			break;
		while (done < (size_t)n) {
			int r = -1;

			pthread_mutex_lock(&vmm->input_lock);
			if (!atomic_load(&vmm->stop_reason))
				r = vmm->vcon ? hyp_virtio_console_receive(vmm->vcon, buf + done,
									   (size_t)n - done) :
						hyp_pl011_receive(vmm->uart, buf + done,
								  (size_t)n - done);
			pthread_mutex_unlock(&vmm->input_lock);
			if (r < 0)
				return NULL;
			done += (size_t)r;
			if (!r)
				usleep(10000); /* the guest is not reading yet */
		}
	}
	return NULL;
}

/* The PL031 has no timer of its own: evaluate its alarm once a second (it has 1 s resolution). */
static void *rtc_main(void *opaque)
{
	struct vmm *vmm = opaque;

	for (;;) {
		sleep(1);
		pthread_mutex_lock(&vmm->input_lock);
		if (atomic_load(&vmm->stop_reason)) {
			pthread_mutex_unlock(&vmm->input_lock);
			return NULL;
		}
		hyp_pl031_poll(vmm->rtc, NULL);
		pthread_mutex_unlock(&vmm->input_lock);
	}
}

/*
 * --precopy: copy guest RAM to a file while the guest runs, the first half of a live migration (or
 * of a snapshot taken without a long pause). Logging starts before the first, whole copy; each
 * later round copies the pages the log reports as written since the round before. A guest whose
 * working set is small converges: the rounds shrink until one finds at most PRECOPY_DONE pages,
 * which a migration would copy with the guest paused. Here the last round runs when the guest
 * has stopped, and the file is then compared with guest RAM: any write the log missed shows.
 */
#define PRECOPY_DONE 64u
#define PRECOPY_MAX_ROUNDS 50u

struct precopy {
	struct vmm *vmm;
	uint64_t *bitmap;
	uint64_t *log;	  /* --dirty-ring: the bitmap fetch, ORed into @bitmap */
	hyp_ipa_t *pages; /* --dirty-ring: a harvest's entries */
	size_t words;
	unsigned rounds;
	uint64_t copied; /* pages written to the file, all rounds */
	int result;
	atomic_bool guest_stopped; /* the rounds end: precopy_finish() takes the last one */
};

/* Write the pages set in @bitmap (all of them if NULL) to the file; returns the page count. */
static int64_t precopy_pages(struct vmm *vmm, const uint64_t *bitmap)
{
	uint64_t pages = vmm->opt.mem / HYP_PAGE_SIZE, count = 0;

	for (uint64_t n = 0; n < pages;) {
		uint64_t end;

		if (bitmap && !(bitmap[n / 64] >> (n % 64) & 1)) {
			n++;
			continue;
		}
		for (end = n + 1; end < pages && (!bitmap || (bitmap[end / 64] >> (end % 64) & 1));
		     end++)
			;
		for (uint64_t off = n * HYP_PAGE_SIZE; off < end * HYP_PAGE_SIZE;) {
			ssize_t w = pwrite(vmm->precopy_fd, (char *)vmm->ram + off,
					   end * HYP_PAGE_SIZE - off, (off_t)off);

			if (w <= 0)
				return -1;
			off += (uint64_t)w;
		}
		count += end - n;
		n = end;
	}
	return (int64_t)count;
}

#define PRECOPY_HARVEST 4096u

/* --dirty-ring: the rings until they run short, then the bitmap (what they could not hold, and
 * the VMM's own writes): the pages in @pc->bitmap, their count, and how many came from the rings
 * in *@from_ring. */
static int precopy_collect(struct precopy *pc, int *from_ring)
{
	uint64_t pages = pc->vmm->opt.mem / HYP_PAGE_SIZE;
	int n, count = 0;

	*from_ring = 0;
	memset(pc->bitmap, 0, pc->words * sizeof(uint64_t));
	do {
		n = hyp_vm_dirty_ring_harvest(pc->vmm->vm, pc->pages, PRECOPY_HARVEST);
		for (int i = 0; i < n; i++) {
			uint64_t p = (pc->pages[i] - HYP_DEFAULT_RAM_BASE) / HYP_PAGE_SIZE;

			if (pc->pages[i] < HYP_DEFAULT_RAM_BASE || p >= pages ||
			    (pc->bitmap[p / 64] >> (p % 64) & 1))
				continue;
			pc->bitmap[p / 64] |= 1ull << (p % 64);
			++*from_ring;
		}
	} while (n == (int)PRECOPY_HARVEST);
	if (n < 0)
		return n;
	n = hyp_vm_dirty_log_fetch(pc->vmm->vm, HYP_DEFAULT_RAM_BASE, pc->log, pc->words);
	if (n < 0)
		return n;
	for (size_t w = 0; w < pc->words; w++) {
		pc->bitmap[w] |= pc->log[w];
		count += __builtin_popcountll(pc->bitmap[w]);
	}
	return count;
}

static int precopy_round(struct precopy *pc, const char *what)
{
	int from_ring = 0;
	int n = pc->log ? precopy_collect(pc, &from_ring) :
			  hyp_vm_dirty_log_fetch(pc->vmm->vm, HYP_DEFAULT_RAM_BASE, pc->bitmap,
						 pc->words);
	int64_t written;

	if (n < 0) {
		fprintf(stderr, "hyp-run: precopy: fetching the dirty log: %s\n", hyp_strerror(n));
		return -1;
	}
	written = precopy_pages(pc->vmm, pc->bitmap);
	if (written != n) {
		fprintf(stderr, "hyp-run: precopy: writing %s: %s\n", pc->vmm->opt.precopy,
			strerror(errno));
		return -1;
	}
	pc->rounds++;
	pc->copied += (uint64_t)n;
	if (pc->log)
		fprintf(stderr,
			"hyp-run: precopy %s %u: %d pages (%d from the dirty rings, %d more from "
			"the bitmap)\n",
			what, pc->rounds, n, from_ring, n - from_ring);
	else
		fprintf(stderr, "hyp-run: precopy %s %u: %d pages\n", what, pc->rounds, n);
	return n;
}

static void *precopy_main(void *opaque)
{
	struct precopy *pc = opaque;
	struct vmm *vmm = pc->vmm;
	int64_t all = precopy_pages(vmm, NULL);

	if (all < 0) {
		fprintf(stderr, "hyp-run: precopy: writing %s: %s\n", vmm->opt.precopy,
			strerror(errno));
		pc->result = -1;
		return NULL;
	}
	pc->copied = (uint64_t)all;
	fprintf(stderr, "hyp-run: precopy round 0: %" PRId64 " pages (all of RAM)\n", all);
	while (pc->rounds < PRECOPY_MAX_ROUNDS) {
		struct timespec pause = { .tv_nsec = 200 * 1000 * 1000 };
		int n;

		nanosleep(&pause, NULL);
		if (atomic_load(&pc->guest_stopped))
			break;
		n = precopy_round(pc, "round");
		if (n < 0) {
			pc->result = -1;
			return NULL;
		}
		if ((unsigned)n <= PRECOPY_DONE) {
			fprintf(stderr,
				"hyp-run: precopy converged after %u rounds: %d pages left for a "
				"stop-and-copy round\n",
				pc->rounds, n);
			break;
		}
	}
	return NULL;
}

static int precopy_start(struct vmm *vmm, struct precopy *pc, pthread_t *thread)
{
	int r;

	*pc = (struct precopy){ .vmm = vmm, .words = (vmm->opt.mem / HYP_PAGE_SIZE + 63) / 64 };
	vmm->precopy_fd = open(vmm->opt.precopy, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (vmm->precopy_fd < 0)
		return fail("--precopy %s: %s", vmm->opt.precopy, strerror(errno));
	pc->bitmap = calloc(pc->words, sizeof(uint64_t));
	if (vmm->opt.dirty_ring) {
		pc->log = calloc(pc->words, sizeof(uint64_t));
		pc->pages = calloc(PRECOPY_HARVEST, sizeof(hyp_ipa_t));
	}
	if (!pc->bitmap || (vmm->opt.dirty_ring && (!pc->log || !pc->pages))) {
		free(pc->bitmap);
		free(pc->log);
		free(pc->pages);
		return fail("--precopy: out of memory");
	}
	/* Logging first: every write after this is in a later round, the whole copy has the rest. */
	r = hyp_vm_dirty_log_enable(vmm->vm, HYP_DEFAULT_RAM_BASE, true);
	if (!r && pthread_create(thread, NULL, precopy_main, pc))
		r = -EAGAIN;
	if (r) {
		free(pc->bitmap);
		free(pc->log);
		free(pc->pages);
		return fail("--precopy: the dirty-page log: %s", hyp_strerror(r));
	}
	return 0;
}

/* The guest has stopped: the last round, then the file must be guest RAM exactly. */
static int precopy_finish(struct vmm *vmm, struct precopy *pc, pthread_t thread)
{
	uint64_t pages = vmm->opt.mem / HYP_PAGE_SIZE, differ = 0;
	char *buf = malloc(HYP_PAGE_SIZE);
	int n;

	atomic_store(&pc->guest_stopped, true);
	pthread_join(thread, NULL);
	if (pc->result || !buf) {
		free(buf);
		free(pc->bitmap);
		free(pc->log);
		free(pc->pages);
		return EXIT_ERROR;
	}
	n = precopy_round(pc, "stop-and-copy round");
	for (uint64_t p = 0; n >= 0 && p < pages; p++) {
		if (pread(vmm->precopy_fd, buf, HYP_PAGE_SIZE, (off_t)(p * HYP_PAGE_SIZE)) !=
			    HYP_PAGE_SIZE ||
		    memcmp(buf, (char *)vmm->ram + p * HYP_PAGE_SIZE, HYP_PAGE_SIZE))
			differ++;
	}
	free(buf);
	free(pc->bitmap);
	free(pc->log);
	free(pc->pages);
	if (n < 0)
		return EXIT_ERROR;
	if (differ) {
		fprintf(stderr,
			"hyp-run: precopy: %s differs from guest RAM in %" PRIu64 " pages\n",
			vmm->opt.precopy, differ);
		return EXIT_ERROR;
	}
	fprintf(stderr,
		"hyp-run: precopy: %s holds guest RAM exactly: %u rounds after the whole copy, "
		"%" PRIu64 " pages copied in all (RAM: %" PRIu64 " pages)\n",
		vmm->opt.precopy, pc->rounds, pc->copied, pages);
	if (vmm->opt.dirty_ring) {
		struct hyp_dirty_ring_stats s = { .size = sizeof(s) };

		if (!hyp_vm_dirty_ring_stats(vmm->vm, &s))
			fprintf(stderr,
				"hyp-run: precopy: dirty rings of %u entries: %" PRIu64
				" pages harvested, %" PRIu64 " ring-full events, %" PRIu64
				" pages moved into the bitmap\n",
				s.entries, s.harvested, s.full, s.spilled);
	}
	return 0;
}

static int setup_devices(struct vmm *vmm, struct hyp_fdt_virtio *virtio, unsigned *nr_virtio)
{
	struct hyp_pl011_config uc = { .size = sizeof(uc),
				       .flags = HYP_DEV_TX_FD,
				       .tx_fd = STDOUT_FILENO };
	struct hyp_pl031_config rc = { .size = sizeof(rc) };
	unsigned slot = 0;
	int r;

	r = hyp_pl011_create(vmm->vm, &uc, &vmm->uart);
	if (r)
		return fail("PL011: %s", hyp_strerror(r));
	r = hyp_pl031_create(vmm->vm, &rc, &vmm->rtc);
	if (r)
		return fail("PL031: %s", hyp_strerror(r));
	for (unsigned i = 0; i < vmm->opt.nr_disks; i++, slot++) {
		struct disk *d = &vmm->opt.disks[i];
		struct hyp_virtio_blk_config bc = {
			.size = sizeof(bc),
			.flags = (d->read_only ? HYP_DEV_READ_ONLY : 0) |
				 (d->io_thread ? HYP_DEV_IO_THREAD : 0),
			.base = HYP_VIRTIO_MMIO_SLOT_BASE(slot),
			.intid = HYP_VIRTIO_MMIO_SLOT_INTID(slot),
			.path = d->path,
		};

		r = hyp_virtio_blk_create(vmm->vm, &bc, &d->dev);
		if (r)
			return fail("disk %s: %s", d->path, hyp_strerror(r));
		virtio[slot] = (struct hyp_fdt_virtio){ .base = bc.base, .intid = bc.intid };
	}
	if (vmm->opt.virtio_console) {
		struct hyp_virtio_console_config cc = {
			.size = sizeof(cc),
			.flags = HYP_DEV_TX_FD,
			.tx_fd = STDOUT_FILENO,
			.base = HYP_VIRTIO_MMIO_SLOT_BASE(slot),
			.intid = HYP_VIRTIO_MMIO_SLOT_INTID(slot),
		};

		r = hyp_virtio_console_create(vmm->vm, &cc, &vmm->vcon);
		if (r)
			return fail("virtio console: %s", hyp_strerror(r));
		virtio[slot] = (struct hyp_fdt_virtio){ .base = cc.base, .intid = cc.intid };
		slot++;
	}
	*nr_virtio = slot;
	return 0;
}

/* What a loader error means for this command line, in the user's words. */
static const char *load_error(int r, const struct options *opt)
{
	switch (r) {
	case -ENOSPC:
		return "the kernel (with its footprint) and the initrd do not fit in guest RAM "
		       "(try a larger --mem)";
	case -ERANGE:
		return opt->load_addr ?
			       "--load-addr, or the image placed there, is outside guest RAM" :
			       "the ELF's segments lie outside guest RAM (RAM starts at "
			       "0x40000000)";
	case -EINVAL:
		return opt->load_addr ? "--load-addr is not usable for this image (misaligned, or "
					"an ELF executable, which is linked for its addresses)" :
					"invalid loader arguments";
	case -ENOEXEC:
		return opt->format == HYP_BOOT_FORMAT_AUTO ?
			       "not a Linux Image or an ELF64 (a raw binary needs --format raw "
			       "--load-addr ADDR), or a corrupt one" :
			       "not a valid image of that format";
	default:
		return "cannot boot this kernel";
	}
}

static int load_guest(struct vmm *vmm, const struct hyp_fdt_virtio *virtio, unsigned nr_virtio)
{
	struct hyp_boot_config bc = { .size = sizeof(bc),
				      .ram_base = HYP_DEFAULT_RAM_BASE,
				      .ram_size = vmm->opt.mem };
	struct hyp_boot_layout layout = { .size = sizeof(layout) };
	struct hyp_fdt_mem_range mem = { .base = HYP_DEFAULT_RAM_BASE, .size = vmm->opt.mem };
	struct hyp_fdt_config fc = { .size = sizeof(fc),
				     .num_cpus = vmm->opt.cpus,
				     .num_mem = 1,
				     .mem = &mem,
				     .num_virtio = nr_virtio,
				     .virtio = virtio,
				     .bootargs = vmm->opt.cmdline };
	void *dtb = NULL;
	size_t dtb_size = 0;
	int r;

	/* No copy of the files: libhyp reads them from the descriptors into guest RAM. DTB and
	 * initrd at the top of RAM, where Linux's early allocations go anyway: one 2 MiB page
	 * less of guest RAM resident. */
	bc.flags = HYP_BOOT_KERNEL_FD | HYP_BOOT_PLACE_HIGH;
	bc.kernel_fd = vmm->kernel_fd;
	bc.kernel_size = vmm->kernel_size;
	bc.kernel_format = vmm->opt.format;
	bc.load_addr = vmm->opt.load_addr;
	bc.footprint = vmm->opt.footprint;
	if (vmm->initrd_fd >= 0) {
		bc.flags |= HYP_BOOT_INITRD_FD;
		bc.initrd_fd = vmm->initrd_fd;
		bc.initrd_size = vmm->initrd_size;
	}
	bc.dtb_size = HYP_BOOT_DTB_MAX_SIZE;
	r = hyp_boot_plan(&bc, &layout);
	if (r) {
		r = fail("%s: %s", load_error(r, &vmm->opt), hyp_strerror(r));
		goto out;
	}
	/* Linux's console arguments mean nothing to other programs. */
	if (!fc.bootargs)
		fc.bootargs = layout.format != HYP_BOOT_FORMAT_ARM64_IMAGE ? "" :
			      vmm->opt.virtio_console ? DEFAULT_CMDLINE_VIRTIO :
							DEFAULT_CMDLINE_PL011;
	fc.initrd_start = layout.initrd_start;
	fc.initrd_end = layout.initrd_end;
	dtb = aligned_alloc(8, HYP_BOOT_DTB_MAX_SIZE);
	r = dtb ? hyp_fdt_build(&fc, dtb, HYP_BOOT_DTB_MAX_SIZE, &dtb_size) : -ENOMEM;
	if (r) {
		r = fail("device tree: %s%s", hyp_strerror(r),
			 r == -EINVAL ? " (is the command line too long?)" : "");
		goto out;
	}
	r = hyp_boot_load(vmm->vm, &bc, dtb, dtb_size, &layout);
	if (!r)
		r = hyp_boot_setup_vcpu(vmm->vcpus[0], &layout);
	if (r)
		r = fail("loading the guest: %s", hyp_strerror(r));
	else if (vmm->opt.verbose)
		fprintf(stderr,
			"hyp-run: kernel %#" PRIx64 "-%#" PRIx64 ", entry %#" PRIx64
			", initrd %#" PRIx64 "-%#" PRIx64 ", DTB %#" PRIx64 " (%zu bytes)\n",
			layout.kernel_start, layout.kernel_end, layout.entry, layout.initrd_start,
			layout.initrd_end, layout.dtb_addr, dtb_size);
out:
	free(dtb);
	return r;
}

/*
 * The variable store must be exactly one flash bank. A missing file is created erased (all 0xff,
 * what a new flash holds); an existing one of another size is refused rather than resized, since
 * it is most likely the wrong file.
 */
static int prepare_flash_vars(const char *path)
{
	static char erased[64 << 10];
	struct stat st;
	int fd;

	if (!stat(path, &st)) {
		if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != HYP_DEFAULT_FLASH_BANK_SIZE)
			return fail("--flash-vars %s: a variable store must be a regular file of "
				    "exactly %llu bytes (64 MiB, one flash bank), not %lld bytes",
				    path, (unsigned long long)HYP_DEFAULT_FLASH_BANK_SIZE,
				    (long long)st.st_size);
		return 0;
	}
	if (errno != ENOENT)
		return fail("--flash-vars %s: %s", path, strerror(errno));
	memset(erased, 0xff, sizeof(erased));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail("--flash-vars: cannot create %s: %s", path, strerror(errno));
	for (uint64_t done = 0; done < HYP_DEFAULT_FLASH_BANK_SIZE; done += sizeof(erased)) {
		if (write(fd, erased, sizeof(erased)) != (ssize_t)sizeof(erased)) {
			int e = errno;

			close(fd);
			unlink(path);
			return fail("--flash-vars: writing %s: %s", path, strerror(e));
		}
	}
	close(fd);
	return 0;
}

/*
 * QEMU virt's firmware convention: the firmware executes from flash bank 0 at IPA 0 (PC = 0,
 * EL1h, interrupts masked, general registers 0), bank 1 holds its variable store, and the device
 * tree waits at the base of RAM, where firmware such as U-Boot's qemu_arm64 looks for it.
 */
static int boot_firmware(struct vmm *vmm, const struct hyp_fdt_virtio *virtio, unsigned nr_virtio)
{
	struct hyp_cfi_flash_config flc = { .size = sizeof(flc),
					    .code = vmm->kernel,
					    .code_size = vmm->kernel_size,
					    .vars_path = vmm->opt.flash_vars };
	struct hyp_fdt_mem_range mem = { .base = HYP_DEFAULT_RAM_BASE, .size = vmm->opt.mem };
	struct hyp_fdt_config fc = { .size = sizeof(fc),
				     .flags = HYP_FDT_FLASH,
				     .num_cpus = vmm->opt.cpus,
				     .num_mem = 1,
				     .mem = &mem,
				     .num_virtio = nr_virtio,
				     .virtio = virtio,
				     .bootargs = vmm->opt.cmdline };
	struct hyp_boot_layout layout = { .size = sizeof(layout), .entry = HYP_DEFAULT_FLASH_BASE };
	size_t dtb_size = 0;
	void *dtb;
	int r;

	r = hyp_cfi_flash_create(vmm->vm, &flc, &vmm->flash);
	if (r)
		return fail("flash: %s", hyp_strerror(r));
	dtb = aligned_alloc(8, HYP_FDT_MAX_SIZE);
	r = dtb ? hyp_fdt_build(&fc, dtb, HYP_FDT_MAX_SIZE, &dtb_size) : -ENOMEM;
	if (!r && dtb_size > vmm->opt.mem)
		r = -ENOSPC;
	if (!r)
		r = hyp_vm_write_guest(vmm->vm, HYP_DEFAULT_RAM_BASE, dtb, dtb_size);
	free(dtb);
	if (r)
		return fail("device tree: %s", hyp_strerror(r));
	/* x0 = dtb_addr = 0: firmware finds the tree at the RAM base, not through a register. */
	r = hyp_boot_setup_vcpu(vmm->vcpus[0], &layout);
	if (r)
		return fail("starting the firmware: %s", hyp_strerror(r));
	if (vmm->opt.verbose)
		fprintf(stderr,
			"hyp-run: firmware %s (%zu bytes) in flash at 0, DTB at %#llx (%zu bytes)\n",
			vmm->opt.firmware, vmm->kernel_size,
			(unsigned long long)HYP_DEFAULT_RAM_BASE, dtb_size);
	return 0;
}

/*
 * Create the VM with the CPU features asked for, plus those left to "auto" that this host's KVM
 * can give (the library asks KVM about each: hyp_kvm_config.cpu_features_if_available).
 */
static int create_vm(struct vmm *vmm, struct hyp_vm_config *config)
{
	struct hyp_kvm_config kc = { .size = sizeof(kc), .sve_max_vl = vmm->opt.sve_max_vl };
	const struct options *opt = &vmm->opt;
	bool kvm = !opt->backend || !strcmp(opt->backend, "auto") || !strcmp(opt->backend, "kvm");
	int r;

	if (!kvm) {
		/* struct hyp_kvm_config means nothing to other backends. */
		for (unsigned i = 0; i < sizeof(cpu_features) / sizeof(cpu_features[0]); i++)
			if (opt->features_on & cpu_features[i].feature)
				return fail("--%s: CPU features need the kvm backend",
					    cpu_features[i].option);
		return hyp_vm_create(config, &vmm->vm);
	}
	kc.cpu_features = opt->features_on;
	for (unsigned i = 0; i < sizeof(cpu_features) / sizeof(cpu_features[0]); i++)
		if (!((opt->features_on | opt->features_off) & cpu_features[i].feature))
			kc.cpu_features_if_available |= cpu_features[i].feature;
	config->backend_config = &kc;
	r = hyp_vm_create(config, &vmm->vm);
	if (r == -ENOTSUP && opt->features_on) {
		/* Which one? Ask for each alone, so the message names it. */
		for (unsigned i = 0; i < sizeof(cpu_features) / sizeof(cpu_features[0]); i++) {
			struct hyp_vm_config probe = *config;
			struct hyp_kvm_config pk = kc;
			struct hyp_vm *vm;

			if (!(opt->features_on & cpu_features[i].feature))
				continue;
			probe.log_fn = NULL;
			probe.backend_config = &pk;
			pk.cpu_features = cpu_features[i].feature;
			pk.cpu_features_if_available = 0;
			pk.sve_max_vl = cpu_features[i].feature == HYP_KVM_CPU_SVE ? kc.sve_max_vl :
										     0;
			if (hyp_vm_create(&probe, &vm)) {
				fail("--%s: this host's KVM cannot give the guest %s%s",
				     cpu_features[i].option, cpu_features[i].name,
				     cpu_features[i].feature == HYP_KVM_CPU_SVE && kc.sve_max_vl ?
					     " with that vector length" :
					     "");
				return -ENOTSUP;
			}
			hyp_vm_destroy(vm);
		}
	}
	if (!r && opt->verbose) {
		uint64_t given = 0;

		hyp_vm_query_cap(vmm->vm, HYP_CAP_CPU_FEATURES, &given);
		fprintf(stderr, "hyp-run: CPU features:%s%s%s%s\n",
			given & HYP_KVM_CPU_PMU ? " pmu" : "",
			given & HYP_KVM_CPU_SVE ? " sve" : "",
			given & HYP_KVM_CPU_PTRAUTH ? " pauth" : "",
			given & HYP_KVM_CPU_MTE ? " mte" : "");
	}
	return r;
}

static void teardown(struct vmm *vmm)
{
	/* The input thread checks stop_reason under the lock: once we hold it with stop_reason set,
	 * it never touches a device again. */
	if (!atomic_load(&vmm->stop_reason))
		atomic_store(&vmm->stop_reason, -1);
	pthread_mutex_lock(&vmm->input_lock);
	pthread_mutex_unlock(&vmm->input_lock);
	for (unsigned i = 0; i < vmm->opt.nr_disks; i++)
		hyp_virtio_blk_destroy(vmm->opt.disks[i].dev);
	hyp_virtio_console_destroy(vmm->vcon);
	hyp_cfi_flash_destroy(vmm->flash);
	hyp_pl031_destroy(vmm->rtc);
	hyp_pl011_destroy(vmm->uart);
	if (hyp_vm_destroy(vmm->vm)) {
		/* A vCPU thread is still in the guest: its RAM must stay mapped. */
		fprintf(stderr, "hyp-run: a vCPU still runs; VM not destroyed\n");
		return;
	}
	if (vmm->precopy_fd >= 0)
		close(vmm->precopy_fd);
	free(vmm->kernel);
	close_fd(&vmm->kernel_fd);
	close_fd(&vmm->initrd_fd);
}

int main(int argc, char **argv)
{
	static struct vmm vmm;
	struct hyp_vm_config config = { .size = sizeof(config), .log_fn = log_to_stderr };
	struct hyp_fdt_virtio virtio[MAX_DISKS + 1];
	struct vcpu_thread threads[MAX_CPUS];
	struct sigaction sa = { .sa_handler = on_sigint };
	unsigned nr_virtio = 0;
	struct precopy precopy;
	pthread_t input, precopy_thread;
	int r;

	r = parse_options(argc, argv, &vmm.opt);
	if (r)
		return r;
	pthread_mutex_init(&vmm.input_lock, NULL);
	vmm.precopy_fd = -1;
	/* Files first: a missing file is the most likely mistake, report it before anything else. */
	vmm.kernel_fd = vmm.initrd_fd = -1;
	if ((vmm.opt.firmware ? read_file(vmm.opt.firmware, &vmm.kernel, &vmm.kernel_size) :
				open_file(vmm.opt.kernel, &vmm.kernel_fd, &vmm.kernel_size)) ||
	    (vmm.opt.initrd && open_file(vmm.opt.initrd, &vmm.initrd_fd, &vmm.initrd_size))) {
		teardown(&vmm);
		return EXIT_ERROR;
	}
	/* Flash files are checked before anything is created: a wrong file is the likely mistake. */
	if (vmm.opt.firmware && vmm.kernel_size > HYP_DEFAULT_FLASH_BANK_SIZE) {
		teardown(&vmm);
		return fail("--firmware %s is %zu bytes: larger than its 64 MiB flash bank",
			    vmm.opt.firmware, vmm.kernel_size);
	}
	if (vmm.opt.flash_vars && prepare_flash_vars(vmm.opt.flash_vars)) {
		teardown(&vmm);
		return EXIT_ERROR;
	}
	config.backend = vmm.opt.backend;
	config.max_vcpus = vmm.opt.cpus;
	config.dirty_ring_entries = vmm.opt.dirty_ring;
	config.log_priority = vmm.opt.verbose ? HYP_LOG_DEBUG : HYP_LOG_WARNING;
	/* Accesses nobody claims, and load/store forms the library cannot emulate (exclusives,
	 * atomics on a device), get a synchronous external abort inside the library. */
	if (!vmm.opt.ignore_unclaimed)
		config.flags |= HYP_VM_ABORT_UNCLAIMED;
	r = create_vm(&vmm, &config);
	if (r == -ENOTSUP && vmm.opt.features_on) {
		teardown(&vmm);
		return EXIT_ERROR; /* create_vm() said which feature */
	}
	if (r && vmm.opt.dirty_ring && (r == -EINVAL || r == -ENOTSUP)) {
		teardown(&vmm);
		return fail(r == -EINVAL ?
				    "--dirty-ring %u: not a power of two from 256 to 65536" :
				    "--dirty-ring %u: this host has no dirty ring that large "
				    "(HYP_CAP_DIRTY_RING; kvm: Linux 6.3+)",
			    vmm.opt.dirty_ring);
	}
	if (r) {
		teardown(&vmm);
		return fail("cannot create a VM (backend %s): %s",
			    vmm.opt.backend ? vmm.opt.backend : "auto",
			    r == -ENOENT ? "no such backend in this libhyp" : hyp_strerror(r));
	}
	/* The library allocates it as the backend wants it (on kvm: 2 MiB aligned, huge pages, so
	 * KVM maps it in 2 MiB blocks at the 2 MiB aligned RAM base); the VM frees it. */
	r = hyp_vm_ram_alloc(vmm.vm, vmm.opt.mem, 0, &vmm.ram);
	if (r) {
		r = fail("cannot allocate %" PRIu64 " bytes of guest RAM: %s", vmm.opt.mem,
			 hyp_strerror(r));
		goto out;
	}
	r = hyp_vm_map(vmm.vm, HYP_DEFAULT_RAM_BASE, vmm.ram, vmm.opt.mem, HYP_MEM_RWX);
	if (r) {
		r = fail("mapping guest RAM: %s", hyp_strerror(r));
		goto out;
	}
	/* Every vCPU exists before anything runs (the in-kernel GIC freezes the set). */
	for (unsigned i = 0; i < vmm.opt.cpus; i++) {
		struct hyp_vcpu_config vc = { .size = sizeof(vc), .index = i };

		r = hyp_vcpu_create(vmm.vm, &vc, &vmm.vcpus[i]);
		if (r) {
			r = fail("vCPU %u: %s", i, hyp_strerror(r));
			goto out;
		}
	}
	r = setup_devices(&vmm, virtio, &nr_virtio);
	if (r)
		goto out;
	r = vmm.opt.firmware ? boot_firmware(&vmm, virtio, nr_virtio) :
			       load_guest(&vmm, virtio, nr_virtio);
	/* Loaded: nothing of the files is kept while the guest runs. */
	close_fd(&vmm.kernel_fd);
	close_fd(&vmm.initrd_fd);
	if (r)
		goto out;

	if (vmm.opt.precopy) {
		r = precopy_start(&vmm, &precopy, &precopy_thread);
		if (r)
			goto out;
	}
	the_vmm = &vmm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* vCPU 0 runs on this thread, the one that created it and set its registers up: on KVM a
	 * vCPU's first KVM_RUN from another thread can block ~10 ms in the kernel. The others,
	 * off until the guest starts them, get threads of their own. */
	threads[0] = (struct vcpu_thread){ .vmm = &vmm, .index = 0 };
	for (unsigned i = 1; i < vmm.opt.cpus; i++) {
		threads[i] = (struct vcpu_thread){ .vmm = &vmm, .index = i };
		if (pthread_create(&vmm.threads[i], NULL, vcpu_main, &threads[i])) {
			request_stop(&vmm, EXIT_ERROR);
			vmm.opt.cpus = i;
			break;
		}
	}
	/* The helper threads are detached: a blocking read of stdin must not hold up the exit;
	 * teardown() waits them out of the devices through input_lock. */
	if (!pthread_create(&input, NULL, input_main, &vmm))
		pthread_detach(input);
	if (!pthread_create(&input, NULL, rtc_main, &vmm))
		pthread_detach(input);
	vcpu_main(&threads[0]);
	for (unsigned i = 1; i < vmm.opt.cpus; i++)
		pthread_join(vmm.threads[i], NULL);
	r = atomic_load(&vmm.stop_reason);
	if (vmm.opt.precopy && precopy_finish(&vmm, &precopy, precopy_thread) && !r)
		r = EXIT_ERROR;
	the_vmm = NULL;
	if (r == EXIT_POWEROFF)
		atomic_store(&vmm.stop_reason, -1); /* keep the input thread out of the devices */
	if (r == EXIT_INTERRUPTED)
		fprintf(stderr, "\nhyp-run: interrupted, guest stopped\n");
	else if (r == EXIT_RESET)
		fprintf(stderr, "hyp-run: the guest asked for a reset\n");
out:
	teardown(&vmm);
	return r;
}
