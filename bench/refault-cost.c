/* What a page given back by the agent's start-up trim (src/NodeAgent/Platform/ImagePages.cs) costs when it is needed
 * again: maps a file read-only and private, touches every page, drops them with MADV_DONTNEED, touches every page again
 * and prints both passes' times (docs/benchmarks.md, "Agent cost: the binary's start-up-only pages given back").
 *
 *   cc -O2 -o /tmp/refault-cost bench/refault-cost.c && /tmp/refault-cost artifacts/agent/nginx-ha-agent
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static long touch(volatile const char *p, size_t length)
{
    long sum = 0;
    for (size_t i = 0; i < length; i += 4096) sum += p[i];
    return sum;
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: %s FILE\n", argv[0]); return 2; }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) { perror(argv[1]); return 1; }
    size_t length = (size_t)st.st_size;
    volatile const char *p = mmap(NULL, length, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    long sum = touch(p, length);
    double t0 = now_ms();
    sum += touch(p, length);
    double resident = now_ms() - t0;
    if (madvise((void *)p, length, MADV_DONTNEED) != 0) { perror("madvise"); return 1; }
    t0 = now_ms();
    sum += touch(p, length);
    double refault = now_ms() - t0;
    printf("%zu bytes (%zu pages): resident pass %.3f ms, after MADV_DONTNEED %.3f ms (%ld)\n",
           length, (length + 4095) / 4096, resident, refault, sum & 1);
    return 0;
}
