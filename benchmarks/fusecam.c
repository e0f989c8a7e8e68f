/* A simulated camera in C: the same read-only, throttled FUSE passthrough as fusecam.py.
 *
 *   fusecam SOURCE MOUNTPOINT MB_PER_S
 *
 * Why a second one: fusepy spends ~0.3 ms of Python per 128 KiB request, so 24 Python
 * cameras on 2 cores take a third of the CPU the daemon needs (bench_docks prints it). A
 * real USB camera costs the host almost nothing: its bytes arrive by DMA. This one serves
 * the same bytes with the same throttle, single-threaded, ``direct_io`` (every
 * read goes through this process, as every read from a camera goes over its bus), for a
 * few microseconds of CPU per request. Built by bench_docks.py with gcc and libfuse2.
 */
#define FUSE_USE_VERSION 26
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char root[PATH_MAX];
static double rate;          /* bytes per second */
static double bus_free;      /* monotonic seconds: when the bus is done with what it carried */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int full(char *out, const char *path) {
    return snprintf(out, PATH_MAX, "%s%s", root, path) < PATH_MAX ? 0 : -ENAMETOOLONG;
}

static int cam_getattr(const char *path, struct stat *st) {
    char p[PATH_MAX];
    if (full(p, path) != 0)
        return -ENAMETOOLONG;
    return lstat(p, st) == 0 ? 0 : -errno;
}

static int cam_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t offset,
                       struct fuse_file_info *fi) {
    (void)offset; (void)fi;
    char p[PATH_MAX];
    if (full(p, path) != 0)
        return -ENAMETOOLONG;
    DIR *dir = opendir(p);
    if (dir == NULL)
        return -errno;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL)
        if (fill(buf, entry->d_name, NULL, 0))
            break;
    closedir(dir);
    return 0;
}

static int cam_open(const char *path, struct fuse_file_info *fi) {
    if (fi->flags & (O_WRONLY | O_RDWR))
        return -EROFS;
    char p[PATH_MAX];
    if (full(p, path) != 0)
        return -ENAMETOOLONG;
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return -errno;
    fi->fh = (uint64_t)fd;
    return 0;
}

static int cam_read(const char *path, char *buf, size_t size, off_t offset,
                    struct fuse_file_info *fi) {
    (void)path;
    ssize_t count = pread((int)fi->fh, buf, size, offset);
    if (count < 0)
        return -errno;
    /* The bus carries these bytes once it is free, at its speed: hand them over when they
     * would arrive. Time the bus sat idle is lost, never credited (no burst above it): the
     * time between requests (the FUSE round trip, the reader's turn) too, as on a
     * bulk-only USB link, so one reader of a 35 MB/s camera gets ~30 MB/s. */
    double start = now();
    if (bus_free < start)
        bus_free = start;
    bus_free += (double)count / rate;
    double wait = bus_free - start;
    struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
    return (int)count;
}

static int cam_release(const char *path, struct fuse_file_info *fi) {
    (void)path;
    close((int)fi->fh);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s SOURCE MOUNTPOINT MB_PER_S\n", argv[0]);
        return 2;
    }
    if (realpath(argv[1], root) == NULL) {
        perror(argv[1]);
        return 1;
    }
    rate = atof(argv[3]) * 1e6;
    if (!(rate > 0)) {  /* also NaN */
        fprintf(stderr, "MB_PER_S must be positive\n");
        return 2;
    }
    struct fuse_operations ops = {
        .getattr = cam_getattr, .readdir = cam_readdir, .open = cam_open,
        .read = cam_read, .release = cam_release,
    };
    char *args[] = {argv[0], argv[2], "-f", "-s", "-o", "ro,direct_io", NULL};
    return fuse_main(6, args, &ops, NULL);
}
