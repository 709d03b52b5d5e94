/* SPDX-License-Identifier: MIT */
/*
 * A store on a local file: page i is bytes [i * page size, (i + 1) * page
 * size) of the file, the last page possibly partial. Reads go with O_DIRECT
 * where the filesystem takes it, so that storage fills the caller's staging
 * page with no copy through the page cache; everything else is buffered.
 * Every transfer names its offset (pread/pwrite), so any number of threads
 * may use one store: the fds have no position that matters.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

#define FILE_FLAGS (UMOVE_STORE_RDONLY | UMOVE_STORE_BUFFERED)

struct file_store {
	int fd;	 /* buffered, O_RDWR or O_RDONLY */
	int dfd; /* O_DIRECT, same access mode, or -1 */
	/* dfd still usable; cleared for good by the first EINVAL it returns. */
	atomic_bool direct;
	uint64_t size; /* the file's size at open: writes never grow it */
	size_t page_size;
};

static bool aligned(const struct file_store *fs, uintptr_t v)
{
	return !(v & (fs->page_size - 1));
}

/*
 * The fd for one transfer of len bytes at off from/to buf: O_DIRECT when
 * all three are page aligned and O_DIRECT still works, else buffered.
 */
static int pick_fd(struct file_store *fs, const void *buf, uint64_t off,
		   size_t len)
{
	if (fs->dfd < 0 ||
	    !atomic_load_explicit(&fs->direct, memory_order_relaxed))
		return fs->fd;
	if (!aligned(fs, (uintptr_t)buf) || !aligned(fs, (uintptr_t)off) ||
	    !aligned(fs, len))
		return fs->fd;
	return fs->dfd;
}

/* The filesystem refused O_DIRECT for a transfer it should take: stop. */
static void direct_refused(struct file_store *fs)
{
	atomic_store_explicit(&fs->direct, false, memory_order_relaxed);
}

/*
 * Reads len bytes at off into buf; stops early at end of file, or once the
 * first `need` bytes are in. Returns the bytes read or a negative errno.
 */
static ssize_t read_full(struct file_store *fs, char *buf, uint64_t off,
			 size_t len, size_t need)
{
	size_t done = 0;

	while (done < need) {
		int fd = pick_fd(fs, buf + done, off + done, len - done);
		ssize_t n =
			pread(fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL && fd == fs->dfd) {
			direct_refused(fs);
			continue;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int file_read(void *priv, uint64_t index, size_t count, void *buf)
{
	struct file_store *fs = priv;
	uint64_t off = index * fs->page_size;
	size_t len = count * fs->page_size;
	size_t inside = 0;
	ssize_t n;

	if (off < fs->size)
		inside = fs->size - off < len ? (size_t)(fs->size - off) : len;
	/* O_DIRECT wants whole pages: ask for len, but need only inside. */
	n = read_full(fs, buf, off, len, inside);
	if (n < 0)
		return (int)n;
	/*
	 * What lies past the size at open reads as zeros, even if the file
	 * has grown since (another writer) or shrunk (a short read).
	 */
	if ((size_t)n < inside)
		inside = (size_t)n;
	memset((char *)buf + inside, 0, len - inside);
	return 0;
}

static int write_full(struct file_store *fs, const char *buf, uint64_t off,
		      size_t len)
{
	size_t done = 0;

	while (done < len) {
		int fd = pick_fd(fs, buf + done, off + done, len - done);
		ssize_t n =
			pwrite(fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL && fd == fs->dfd) {
			direct_refused(fs);
			continue;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* a regular file never does this */
		done += (size_t)n;
	}
	return 0;
}

static int file_write(void *priv, uint64_t index, size_t count, const void *buf)
{
	struct file_store *fs = priv;
	uint64_t off = index * fs->page_size;
	size_t len = count * fs->page_size;
	size_t whole, tail;
	int ret;

	/* Only the bytes inside the file: the last page must not grow it. */
	if (fs->size - off < len)
		len = (size_t)(fs->size - off);
	whole = len & ~(fs->page_size - 1);
	tail = len - whole;
	ret = write_full(fs, buf, off, whole);
	if (ret || !tail)
		return ret;
	/* A partial page is never an O_DIRECT length: pick_fd goes buffered. */
	return write_full(fs, (const char *)buf + whole, off + whole, tail);
}

static int file_sync(void *priv)
{
	struct file_store *fs = priv;

	/* O_DIRECT writes bypass the page cache, not the device's cache. */
	return fdatasync(fs->fd) ? -errno : 0;
}

static void file_close(void *priv)
{
	struct file_store *fs = priv;

	if (fs->dfd >= 0)
		close(fs->dfd);
	close(fs->fd);
	free(fs);
}

/* The two fds are one file: path may have been renamed over in between. */
static bool same_file(int a, int b)
{
	struct stat sa, sb;

	return !fstat(a, &sa) && !fstat(b, &sb) && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/*
 * Opens the O_DIRECT fd and reads page 0 through it, so that a filesystem
 * that opens O_DIRECT but refuses the transfers is found before the store
 * is published (st->direct never changes afterwards).
 */
static void open_direct(struct file_store *fs, const char *path, int mode)
{
	void *page;
	ssize_t n;

	/* O_DIRECT is per open file, not per fd: a dup() cannot have it. */
	fs->dfd =
		open(path, mode | O_DIRECT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fs->dfd < 0)
		return; /* EINVAL: no O_DIRECT here; any other error too */
	if (!same_file(fs->fd, fs->dfd) || fcntl(fs->dfd, F_SETFL, O_DIRECT) ||
	    posix_memalign(&page, fs->page_size, fs->page_size))
		goto refuse;
	do
		n = pread(fs->dfd, page, fs->page_size, 0);
	while (n < 0 && errno == EINTR);
	free(page);
	if (n >= 0 || errno != EINVAL) {
		atomic_init(&fs->direct, true);
		return;
	}
refuse:
	close(fs->dfd);
	fs->dfd = -1;
}

/* Opens path as a regular file, never blocking (a FIFO) nor creating. */
static int open_regular(const char *path, int mode, uint64_t *size)
{
	struct stat sb;
	int fd, ret;

	fd = open(path, mode | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == EISDIR ? -EINVAL : -errno;
	if (fstat(fd, &sb)) {
		ret = -errno;
		goto fail;
	}
	ret = -EINVAL;
	if (!S_ISREG(sb.st_mode) || sb.st_size <= 0)
		goto fail;
	/* O_NONBLOCK only served the open (a FIFO would block in it). */
	if (fcntl(fd, F_SETFL, 0)) {
		ret = -errno;
		goto fail;
	}
	*size = (uint64_t)sb.st_size;
	return fd;
fail:
	close(fd);
	return ret;
}

int umove_store_file(struct umove_store **out, const char *path, unsigned flags)
{
	struct umove_store_ops ops = {
		.read = file_read,
		.write = file_write,
		.sync = file_sync,
		.close = file_close,
	};
	int mode = flags & UMOVE_STORE_RDONLY ? O_RDONLY : O_RDWR;
	struct file_store *fs;
	struct umove_store *st;
	int ret;

	if (!out || !path || (flags & ~FILE_FLAGS))
		return -EINVAL;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->page_size = (size_t)sysconf(_SC_PAGESIZE);
	fs->dfd = -1;
	atomic_init(&fs->direct, false);
	ret = open_regular(path, mode, &fs->size);
	if (ret < 0) {
		free(fs);
		return ret;
	}
	fs->fd = ret;
	if (!(flags & UMOVE_STORE_BUFFERED))
		open_direct(fs, path, mode);
	if (flags & UMOVE_STORE_RDONLY)
		ops.write = NULL;
	ret = um_store_new(&st, &ops, sizeof(ops), fs,
			   (fs->size + fs->page_size - 1) / fs->page_size);
	if (ret) {
		file_close(fs);
		return ret;
	}
	st->direct = fs->dfd >= 0;
	*out = st;
	return 0;
}
