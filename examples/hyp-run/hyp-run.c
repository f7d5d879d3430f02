/* SPDX-License-Identifier: MIT */
/*
 * hyp-run: a command-line VMM on libhyp. Boots an arm64 Linux Image (or an ELF / raw binary) on
 * the QEMU-virt-shaped platform libhyp describes: GICv3, PL011 console, PL031 RTC, virtio-mmio
 * block and console devices, PSCI for SMP.
 *
 *   hyp-run --kernel Image [--initrd FILE] [--cmdline "..."] [--mem 512M] [--cpus 2]
 *           [--disk FILE[,ro]] [--console pl011|virtio] [--backend kvm]
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
#include <unistd.h>

#include <libhyp/boot.h>
#include <libhyp/dev.h>
#include <libhyp/fdt.h>
#include <libhyp/hyp.h>

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
	int fd;
	struct hyp_virtio_blk *dev;
};

struct options {
	const char *kernel;
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
};

struct vmm {
	struct options opt;
	void *kernel, *initrd;
	size_t kernel_size, initrd_size;
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
};

/* For the signal handler: the one VMM of this process. */
static struct vmm *the_vmm;

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: hyp-run --kernel FILE [OPTIONS]\n"
		"Boot an arm64 guest (a Linux Image, an ELF64 or a raw binary) with libhyp.\n"
		"\n"
		"  -k, --kernel FILE     the kernel: arm64 Linux Image (EFI-stub Images too) or ELF64\n"
		"  -i, --initrd FILE     an initrd / initramfs, described in /chosen\n"
		"  -c, --cmdline TEXT    kernel command line (default for a Linux Image: \"%s\",\n"
		"                        or \"%s\" with --console virtio; empty otherwise)\n"
		"      --format FMT      'auto' (default: a Linux Image or an ELF64, by their magic),\n"
		"                        'image', 'elf' or 'raw' (raw bytes: needs --load-addr)\n"
		"      --load-addr ADDR  raw: where the bytes go and run from; Linux Image: the 2 MiB\n"
		"                        aligned base; position-independent ELF: the base (aligned to\n"
		"                        its segments); e.g. --format raw --load-addr 0x40080000\n"
		"      --footprint SIZE  raw: the memory the program uses from --load-addr (file, BSS,\n"
		"                        stack; default: the file size), kept clear of DTB and initrd\n"
		"  -m, --mem SIZE        guest RAM at 0x40000000, with K/M/G suffix (default 512M)\n"
		"  -n, --cpus N          vCPUs, 1..%u (default 1); secondaries start via PSCI\n"
		"  -d, --disk FILE[,ro]  a virtio-blk disk backed by FILE (repeat for more, up to %u);\n"
		"                        ',ro' makes it read-only\n"
		"      --console KIND    'pl011' (default: ttyAMA0) or 'virtio' (hvc0); output goes\n"
		"                        to stdout, stdin feeds the guest's console\n"
		"  -b, --backend NAME    libhyp backend: 'kvm', or 'auto' (default)\n"
		"      --unclaimed WHAT  guest accesses to addresses with no device: 'abort'\n"
		"                        (default: a synchronous external abort, as on hardware)\n"
		"                        or 'ignore' (reads as zero, writes ignored)\n"
		"  -v, --verbose         log libhyp's messages to stderr\n"
		"  -h, --help            this text\n"
		"\n"
		"Devices: GICv3 (0x08000000), PL011 (0x09000000, INTID 33), PL031 (0x09010000,\n"
		"INTID 34), virtio-mmio slots from 0x0a000000 (INTID 48+): disks first, then the\n"
		"virtio console.\n"
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*opt = (struct options){ .mem = DEFAULT_MEM, .cpus = 1 };
	while ((c = getopt_long(argc, argv, "k:i:c:m:n:d:b:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			opt->kernel = optarg;
			break;
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
			comma = strrchr(optarg, ',');
			if (comma && !strcmp(comma, ",ro")) {
				*comma = '\0';
				d->read_only = true;
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
	if (!opt->kernel)
		return fail("--kernel is required (see --help)");
	if (opt->format == HYP_BOOT_FORMAT_RAW && !opt->load_addr)
		return fail("--format raw needs --load-addr (where the bytes go and run from)");
	if (opt->footprint && opt->format != HYP_BOOT_FORMAT_RAW)
		return fail("--footprint is for --format raw (other formats state their size)");
	return 0;
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
			.flags = d->read_only ? HYP_DEV_READ_ONLY : 0,
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

	bc.kernel = vmm->kernel;
	bc.kernel_size = vmm->kernel_size;
	bc.kernel_format = vmm->opt.format;
	bc.load_addr = vmm->opt.load_addr;
	bc.footprint = vmm->opt.footprint;
	bc.initrd = vmm->initrd;
	bc.initrd_size = vmm->initrd_size;
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
	hyp_pl031_destroy(vmm->rtc);
	hyp_pl011_destroy(vmm->uart);
	if (hyp_vm_destroy(vmm->vm)) {
		/* A vCPU thread is still in the guest: its RAM must stay mapped. */
		fprintf(stderr, "hyp-run: a vCPU still runs; VM not destroyed\n");
		return;
	}
	if (vmm->ram)
		munmap(vmm->ram, vmm->opt.mem);
	free(vmm->kernel);
	free(vmm->initrd);
}

int main(int argc, char **argv)
{
	static struct vmm vmm;
	struct hyp_vm_config config = { .size = sizeof(config), .log_fn = log_to_stderr };
	struct hyp_fdt_virtio virtio[MAX_DISKS + 1];
	struct vcpu_thread threads[MAX_CPUS];
	struct sigaction sa = { .sa_handler = on_sigint };
	unsigned nr_virtio = 0;
	pthread_t input;
	int r;

	r = parse_options(argc, argv, &vmm.opt);
	if (r)
		return r;
	pthread_mutex_init(&vmm.input_lock, NULL);
	/* Files first: a missing file is the most likely mistake, report it before anything else. */
	if (read_file(vmm.opt.kernel, &vmm.kernel, &vmm.kernel_size) ||
	    (vmm.opt.initrd && read_file(vmm.opt.initrd, &vmm.initrd, &vmm.initrd_size))) {
		teardown(&vmm);
		return EXIT_ERROR;
	}
	config.backend = vmm.opt.backend;
	config.max_vcpus = vmm.opt.cpus;
	config.log_priority = vmm.opt.verbose ? HYP_LOG_DEBUG : HYP_LOG_WARNING;
	/* Accesses nobody claims, and load/store forms the library cannot emulate (exclusives,
	 * atomics on a device), get a synchronous external abort inside the library. */
	if (!vmm.opt.ignore_unclaimed)
		config.flags |= HYP_VM_ABORT_UNCLAIMED;
	r = hyp_vm_create(&config, &vmm.vm);
	if (r) {
		teardown(&vmm);
		return fail("cannot create a VM (backend %s): %s",
			    vmm.opt.backend ? vmm.opt.backend : "auto",
			    r == -ENOENT ? "no such backend in this libhyp" : hyp_strerror(r));
	}
	vmm.ram = mmap(NULL, vmm.opt.mem, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vmm.ram == MAP_FAILED) {
		vmm.ram = NULL;
		r = fail("cannot allocate %" PRIu64 " bytes of guest RAM", vmm.opt.mem);
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
	r = load_guest(&vmm, virtio, nr_virtio);
	if (r)
		goto out;

	the_vmm = &vmm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (unsigned i = 0; i < vmm.opt.cpus; i++) {
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
	for (unsigned i = 0; i < vmm.opt.cpus; i++)
		pthread_join(vmm.threads[i], NULL);
	r = atomic_load(&vmm.stop_reason);
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
