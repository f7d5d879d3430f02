/* SPDX-License-Identifier: MIT */
/*
 * virtio block device (virtio 1.2, 5.2), one request queue, backed by a file or block device
 * (hosted builds) or by caller-supplied read/write callbacks (any build).
 *
 * A request is a readable stream (the 16-byte header struct virtio_blk_req, then data for OUT)
 * and a writable stream (data for IN and GET_ID, then the status byte). The status byte is the
 * last byte of the writable stream; it is checked before anything else, since without it there
 * is no way to answer, and the request is then a protocol violation (DEVICE_NEEDS_RESET).
 */
#include "hyp_string.h"

#include <libhyp/backend.h>

#include "virtio.h"

#if defined(HYP_HOSTED) && HYP_HOSTED
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#endif

#define VIRTIO_ID_BLOCK 2

#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_FLUSH 9

#define VIRTIO_BLK_T_IN 0u
#define VIRTIO_BLK_T_OUT 1u
#define VIRTIO_BLK_T_FLUSH 4u
#define VIRTIO_BLK_T_GET_ID 8u

#define VIRTIO_BLK_S_OK 0u
#define VIRTIO_BLK_S_IOERR 1u
#define VIRTIO_BLK_S_UNSUPP 2u

#define SECTOR_SIZE 512u
#define REQ_HEADER_SIZE 16u

/* struct virtio_blk_config up to num_queues (5.2.4); only capacity and seg_max are offered. */
#define CONFIG_CAPACITY 0u
#define CONFIG_SEG_MAX 12u
#define CONFIG_SIZE 36u

#define REQUESTQ 0u

struct hyp_virtio_blk {
	struct hyp__virtio vdev; /* first: the transport's callbacks get this pointer */
	const struct hyp_blk_ops *ops;
	void *ops_opaque;
	int fd;	       /* -1 unless backed by a file descriptor */
	bool close_fd; /* we opened it from a path */
	bool read_only;
	uint64_t sectors; /* the capacity */
	uint8_t id[HYP_VIRTIO_BLK_ID_BYTES];
};

static struct hyp_virtio_blk *to_blk(struct hyp__virtio *vdev)
{
	return hyp__container_of(vdev, struct hyp_virtio_blk, vdev);
}

static void blk_get_config(struct hyp__virtio *vdev, uint8_t *config)
{
	memset(config, 0, CONFIG_SIZE);
	hyp__put_le64(config + CONFIG_CAPACITY, to_blk(vdev)->sectors);
	/* A request is a header, data buffers and a status byte, all in one queue's worth of
	 * descriptors. */
	hyp__put_le32(config + CONFIG_SEG_MAX, HYP__VQ_MAX_SIZE - 2);
}

/* ---- The disk -------------------------------------------------------------------------------- */

struct io_ctx {
	struct hyp_virtio_blk *blk;
	uint64_t offset; /* disk byte offset of the start of the data */
};

#if defined(HYP_HOSTED) && HYP_HOSTED
static int fd_read(void *opaque, uint64_t offset, void *buf, size_t len)
{
	struct hyp_virtio_blk *blk = opaque;
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(blk->fd, p, len, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -EIO; /* the image shrank under us */
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

static int fd_write(void *opaque, uint64_t offset, const void *buf, size_t len)
{
	struct hyp_virtio_blk *blk = opaque;
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(blk->fd, p, len, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

static int fd_flush(void *opaque)
{
	struct hyp_virtio_blk *blk = opaque;

#if defined(__linux__)
	return fdatasync(blk->fd) ? -errno : 0;
#else
	return fsync(blk->fd) ? -errno : 0;
#endif
}

static const struct hyp_blk_ops fd_ops = {
	.read = fd_read,
	.write = fd_write,
	.flush = fd_flush,
};

/*
 * A file-backed request's data in one preadv()/pwritev(): the guest's buffers (each piece of
 * guest RAM hyp__vq_walk() finds, after checking it) are gathered into an iovec array, and the
 * system call is made once per request instead of once per buffer: a 1 MiB request the guest
 * scattered over 128 buffers was 128 system calls. Only a request of more pieces than the array
 * holds takes more than one.
 */
#define IOV_PIECES 256

struct iov_ctx {
	struct hyp_virtio_blk *blk;
	bool write;
	bool gather_only; /* a full array is -E2BIG, not a system call */
	int n;
	uint64_t offset; /* disk offset of the first byte of iov[0] */
	uint64_t bytes;	 /* bytes in iov[0..n) */
	struct iovec iov[IOV_PIECES];
	uint64_t ipa[IOV_PIECES]; /* each piece's guest address, to mark it dirty once read into */
	size_t len[IOV_PIECES];
};

static int iov_flush(struct iov_ctx *c)
{
	struct iovec *iov = c->iov;
	uint64_t left = c->bytes;
	int n = c->n, r = 0;

	while (left) {
		ssize_t done = c->write ? pwritev(c->blk->fd, iov, n, (off_t)c->offset) :
					  preadv(c->blk->fd, iov, n, (off_t)c->offset);

		if (done < 0 && errno == EINTR)
			continue;
		if (done <= 0) {
			r = done < 0 ? -errno : -EIO; /* 0: the image shrank under us */
			break;
		}
		c->offset += (uint64_t)done;
		left -= (uint64_t)done;
		/* A short transfer: go on from where it stopped. */
		while (n && (size_t)done >= iov->iov_len) {
			done -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + done;
			iov->iov_len -= (size_t)done;
		}
	}
	/* What a read put in guest RAM, marked once there (a live copy fetching the log in
	 * between then sees the new contents, or the mark again): all of it, even after an error
	 * part way through. */
	if (!c->write)
		for (int i = 0; i < c->n; i++)
			hyp_backend_mark_dirty(c->blk->vdev.vm, c->ipa[i], c->len[i]);
	c->n = 0;
	c->bytes = 0;
	return r;
}

static int iov_piece(void *opaque, void *host, size_t len, uint64_t pos, uint64_t ipa)
{
	struct iov_ctx *c = opaque;

	(void)pos; /* pieces come in stream order */
	if (c->n == IOV_PIECES) {
		int r = c->gather_only ? -E2BIG : iov_flush(c);

		if (r)
			return r;
	}
	c->ipa[c->n] = ipa;
	c->len[c->n] = len;
	c->iov[c->n++] = (struct iovec){ .iov_base = host, .iov_len = len };
	c->bytes += len;
	return 0;
}

/* Move @len bytes between the disk at @offset and the chain's data stream starting at @start. */
static int fd_transfer(struct hyp_virtio_blk *blk, const struct hyp__vq_chain *chain, bool write,
		       uint64_t start, uint64_t len, uint64_t offset)
{
	struct iov_ctx c;
	int r;

	/* Only the header is set: the arrays (8 KiB) are filled as pieces arrive, and clearing
	 * them would cost every request more than its gathering does. */
	c.blk = blk;
	c.write = write;
	c.gather_only = true;
	c.n = 0;
	c.offset = offset;
	c.bytes = 0;
	/* One pass when the array holds the whole transfer (the usual case: a chain has at most
	 * HYP__VQ_MAX_SIZE buffers): gathering does no I/O, so a bad buffer still fails the request
	 * before any. More pieces than that: every byte checked first, then gathered and
	 * transferred an array at a time. iov_flush() marks what a read wrote. */
	r = hyp__vq_walk_once(&blk->vdev, chain, !write, start, len, iov_piece, &c);
	if (r == -E2BIG) {
		c.n = 0;
		c.bytes = 0;
		c.gather_only = false;
		r = hyp__vq_walk_once(&blk->vdev, chain, !write, start, len, NULL, NULL);
		if (!r)
			r = hyp__vq_walk_once(&blk->vdev, chain, !write, start, len, iov_piece, &c);
	}
	return r ? r : iov_flush(&c);
}
#endif

static int read_piece(void *opaque, void *host, size_t len, uint64_t pos, uint64_t ipa)
{
	struct io_ctx *ctx = opaque;

	(void)ipa;
	return ctx->blk->ops->read(ctx->blk->ops_opaque, ctx->offset + pos, host, len);
}

static int write_piece(void *opaque, void *host, size_t len, uint64_t pos, uint64_t ipa)
{
	struct io_ctx *ctx = opaque;

	(void)ipa;
	return ctx->blk->ops->write(ctx->blk->ops_opaque, ctx->offset + pos, host, len);
}

/* ---- Requests -------------------------------------------------------------------------------- */

/* Whether @bytes of data at @sector lie inside the disk, in whole sectors (5.2.6.1). */
static bool sector_range_ok(const struct hyp_virtio_blk *blk, uint64_t sector, uint64_t bytes)
{
	return !(bytes % SECTOR_SIZE) && sector <= blk->sectors &&
	       bytes / SECTOR_SIZE <= blk->sectors - sector;
}

/* Serve one request; returns the status and sets *@written to the bytes of the writable stream
 * filled before the status byte. */
static uint8_t serve_request(struct hyp_virtio_blk *blk, const struct hyp__vq_chain *chain,
			     uint64_t *written)
{
	struct hyp__virtio *vdev = &blk->vdev;
	uint8_t header[REQ_HEADER_SIZE];
	uint64_t data, sector;
	struct io_ctx ctx = { blk, 0 };
	uint32_t type;
	int r;

	*written = 0;
	if (chain->misordered || chain->readable < REQ_HEADER_SIZE ||
	    hyp__vq_read(vdev, chain, 0, header, sizeof(header)))
		return VIRTIO_BLK_S_IOERR;
	type = hyp__get_le32(header);
	sector = hyp__get_le64(header + 8);

	switch (type) {
	case VIRTIO_BLK_T_IN:
		data = chain->writable - 1;
		if (!sector_range_ok(blk, sector, data))
			return VIRTIO_BLK_S_IOERR;
		ctx.offset = sector * SECTOR_SIZE;
#if defined(HYP_HOSTED) && HYP_HOSTED
		if (blk->ops == &fd_ops)
			r = fd_transfer(blk, chain, false, 0, data, ctx.offset);
		else
#endif
			/* hyp__vq_walk checks every buffer is writable guest RAM before
			 * reading. */
			r = hyp__vq_walk(vdev, chain, true, 0, data, read_piece, &ctx);
		if (r)
			return VIRTIO_BLK_S_IOERR;
		*written = data;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_OUT:
		data = chain->readable - REQ_HEADER_SIZE;
		if (blk->read_only || !sector_range_ok(blk, sector, data))
			return VIRTIO_BLK_S_IOERR;
		ctx.offset = sector * SECTOR_SIZE;
#if defined(HYP_HOSTED) && HYP_HOSTED
		if (blk->ops == &fd_ops)
			r = fd_transfer(blk, chain, true, REQ_HEADER_SIZE, data, ctx.offset);
		else
#endif
			r = hyp__vq_walk(vdev, chain, false, REQ_HEADER_SIZE, data, write_piece,
					 &ctx);
		return r ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_FLUSH:
		r = blk->ops->flush ? blk->ops->flush(blk->ops_opaque) : 0;
		return r ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		data = chain->writable - 1;
		if (data > HYP_VIRTIO_BLK_ID_BYTES)
			data = HYP_VIRTIO_BLK_ID_BYTES;
		if (hyp__vq_write(vdev, chain, 0, blk->id, (size_t)data))
			return VIRTIO_BLK_S_IOERR;
		*written = data;
		return VIRTIO_BLK_S_OK;
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

static void blk_queue_notify(struct hyp__virtio *vdev, uint32_t queue)
{
	struct hyp_virtio_blk *blk = to_blk(vdev);
	struct hyp__vq_chain chain;

	uint32_t budget;

	(void)queue;
	/* At most a ring's worth per call, so a driver that keeps refilling the ring cannot keep
	 * the caller here: what is left is served again soon (struct hyp__vq.unfinished). */
	for (budget = vdev->vq[REQUESTQ].num; budget; budget--) {
		uint64_t written;
		uint8_t status;

		if (hyp__vq_pop(vdev, REQUESTQ, &chain) <= 0)
			break;
		if (!chain.writable ||
		    hyp__vq_walk(vdev, &chain, true, chain.writable - 1, 1, NULL, NULL)) {
			hyp__virtio_needs_reset(vdev, "request without a writable status byte");
			break;
		}
		status = serve_request(blk, &chain, &written);
		if (status != VIRTIO_BLK_S_OK)
			dev_dbg(vdev->vm, "virtio-blk@%#llx: request failed with status %u",
				(unsigned long long)vdev->base, status);
		/* Cannot fail: the status byte was checked above. */
		hyp__vq_write(vdev, &chain, chain.writable - 1, &status, 1);
		hyp__vq_push(vdev, REQUESTQ, &chain, (uint32_t)(written + 1));
	}
	vdev->vq[REQUESTQ].unfinished = !budget && hyp__vq_usable(vdev, REQUESTQ);
}

static const struct hyp__virtio_ops blk_ops = {
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1,
	.config_size = CONFIG_SIZE,
	.get_config = blk_get_config,
	.queue_notify = blk_queue_notify,
};

/* ---- Creation -------------------------------------------------------------------------------- */

#if defined(HYP_HOSTED) && HYP_HOSTED
/* Why open(2) failed, in words: hyp_strerror() only knows the library's own errors. */
static const char *open_error(int err)
{
	switch (err) {
	case ENOENT:
		return "no such file";
	case EACCES:
		return "permission denied";
	case EISDIR:
		return "is a directory";
	case EROFS:
		return "read-only file system (use HYP_DEV_READ_ONLY)";
	case ELOOP:
		return "too many symbolic links";
	case ENAMETOOLONG:
		return "name too long";
	default:
		return "open failed";
	}
}

/* Check the descriptor and find the disk's size. */
static int probe_fd(struct hyp_vm *vm, struct hyp_virtio_blk *blk, const char *what)
{
	struct stat st;
	int mode = fcntl(blk->fd, F_GETFL);
	uint64_t size;

	if (mode < 0 || fstat(blk->fd, &st)) {
		dev_err(vm, "virtio-blk: %s: not an open file descriptor", what);
		return -EBADF;
	}
	mode &= O_ACCMODE;
	if (mode == O_WRONLY || (!blk->read_only && mode == O_RDONLY)) {
		dev_err(vm, "virtio-blk: %s: not open for %s", what,
			mode == O_WRONLY ? "reading" : "writing (use HYP_DEV_READ_ONLY)");
		return -EBADF;
	}
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		off_t pos = lseek(blk->fd, 0, SEEK_CUR);
		off_t end = lseek(blk->fd, 0, SEEK_END);

		if (pos < 0 || end < 0 || lseek(blk->fd, pos, SEEK_SET) < 0) {
			dev_err(vm, "virtio-blk: %s: cannot find the device's size", what);
			return -EIO;
		}
		size = (uint64_t)end;
	} else {
		dev_err(vm, "virtio-blk: %s: not a regular file or block device", what);
		return -EINVAL;
	}
	blk->sectors = size / SECTOR_SIZE;
	if (size % SECTOR_SIZE)
		dev_warn(vm,
			 "virtio-blk: %s: size %llu is not a multiple of 512; the last %u bytes "
			 "are not visible to the guest",
			 what, (unsigned long long)size, (unsigned)(size % SECTOR_SIZE));
	return 0;
}
#endif

static int setup_backing(struct hyp_vm *vm, struct hyp_virtio_blk *blk,
			 const struct hyp_virtio_blk_config *cfg)
{
	unsigned backings =
		(cfg->path != NULL) + (cfg->ops != NULL) + ((cfg->flags & HYP_DEV_BACKING_FD) != 0);

	if (backings != 1)
		return -EINVAL;
	if (cfg->ops) {
		if (!cfg->ops->read || (!blk->read_only && !cfg->ops->write))
			return -EINVAL;
		blk->ops = cfg->ops;
		blk->ops_opaque = cfg->ops_opaque;
		blk->sectors = cfg->disk_size / SECTOR_SIZE;
		return 0;
	}
#if defined(HYP_HOSTED) && HYP_HOSTED
	blk->ops = &fd_ops;
	blk->ops_opaque = blk;
	if (cfg->path) {
		int r;

		blk->fd = open(cfg->path, (blk->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (blk->fd < 0) {
			r = -errno;
			dev_err(vm, "virtio-blk: cannot open disk image '%s' for %s: %s (errno %d)",
				cfg->path, blk->read_only ? "reading" : "reading and writing",
				open_error(-r), -r);
			return r;
		}
		blk->close_fd = true;
		r = probe_fd(vm, blk, cfg->path);
		if (r) {
			close(blk->fd);
			blk->fd = -1;
			blk->close_fd = false;
		}
		return r;
	}
	if (cfg->fd < 0)
		return -EINVAL;
	blk->fd = cfg->fd;
	return probe_fd(vm, blk, "disk fd");
#else
	(void)vm;
	return -ENOTSUP; /* no files at EL2: use @ops */
#endif
}

static void release_backing(struct hyp_virtio_blk *blk)
{
#if defined(HYP_HOSTED) && HYP_HOSTED
	if (blk->close_fd)
		close(blk->fd);
#else
	(void)blk;
#endif
}

HYP_API int hyp_virtio_blk_create(struct hyp_vm *vm, const struct hyp_virtio_blk_config *config,
				  struct hyp_virtio_blk **ret)
{
	struct hyp_virtio_blk_config cfg;
	struct hyp_virtio_blk *blk;
	uint64_t features;
	int r;

	if (!vm || !config || !ret)
		return -EINVAL;
	r = hyp__dev_copy_config(
		&cfg, sizeof(cfg),
		offsetof(struct hyp_virtio_blk_config, serial) + sizeof(cfg.serial), config);
	if (r)
		return r;
	if (cfg.flags & ~(uint32_t)(HYP_DEV_NO_IRQ | HYP_DEV_READ_ONLY | HYP_DEV_BACKING_FD |
				    HYP_DEV_IO_THREAD))
		return -EINVAL;

	blk = hyp_vm_alloc(vm, sizeof(*blk), _Alignof(struct hyp_virtio_blk));
	if (!blk)
		return -ENOMEM;
	blk->fd = -1;
	blk->read_only = (cfg.flags & HYP_DEV_READ_ONLY) != 0;
	/* The ID is NUL-padded, and not NUL-terminated when 20 bytes long (5.2.6). */
	for (size_t i = 0; cfg.serial && i < HYP_VIRTIO_BLK_ID_BYTES && cfg.serial[i]; i++)
		blk->id[i] = (uint8_t)cfg.serial[i];

	features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_INDIRECT_DESC) |
		   (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_FLUSH);
	if (blk->read_only)
		features |= 1ull << VIRTIO_BLK_F_RO;
	/* Cheap argument checks first, so a bad config does not open files. */
	if (!cfg.base) {
		hyp_vm_free(vm, blk, sizeof(*blk));
		return -EINVAL;
	}
	r = setup_backing(vm, blk, &cfg);
	if (r) {
		hyp_vm_free(vm, blk, sizeof(*blk));
		return r;
	}
	r = hyp__virtio_init(&blk->vdev, vm, &blk_ops, "virtio-blk", features, cfg.base, cfg.intid,
			     cfg.flags);
	if (!r)
		r = hyp__virtio_attach(&blk->vdev);
	if (r) {
		release_backing(blk);
		hyp_vm_free(vm, blk, sizeof(*blk));
		return r;
	}
	*ret = blk;
	return 0;
}

HYP_API void hyp_virtio_blk_destroy(struct hyp_virtio_blk *blk)
{
	if (!blk)
		return;
	if (hyp__virtio_detach(&blk->vdev))
		return;
	release_backing(blk);
	hyp_vm_free(blk->vdev.vm, blk, sizeof(*blk));
}
