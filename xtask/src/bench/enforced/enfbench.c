/* enfbench: per-syscall cost under whatever seccomp filter it runs with.
 *   enfbench run ITERS ROUNDS MASK [HOLD_MS]
 *       MASK: 1 getppid, 2 personality(0xffffffff), 4 socket(AF_UNIX, SOCK_STREAM) +
 *       close, 8 afs_syscall (denied everywhere); then, with HOLD_MS, print "PID n" and
 *       sleep HOLD_MS ms (for PTRACE_SECCOMP_GET_FILTER)
 *   enfbench synth N POS KIND ITERS ROUNDS MASK
 *       install an own linear cBPF filter of N allowed entries with getppid and
 *       personality(0xffffffff) at POS (0 = first, 1 = last); KIND 0: getppid
 *       unconditional, 1: getppid behind an always-true argument load.
 * Output of run/synth: one line per syscall: "R name v1 v2 ..." (ns per call per round,
 * thread CPU time). */
#define _GNU_SOURCE
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static inline long sys1(long nr, long a0) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a0) : "rcx", "r11", "memory");
    return ret;
}
static inline long sys3(long nr, long a0, long a1, long a2) {
    long ret;
    register long r10 __asm__("r10") = 0;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}
static double now(void) {
    struct timespec ts;
    sys3(228, CLOCK_THREAD_CPUTIME_ID, (long)&ts, 0);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}
#define NR_GETPPID 110
#define NR_PERSONALITY 135
#define NR_SOCKET 41
#define NR_CLOSE 3
#define NR_DENIED 183 /* afs_syscall: not implemented, in no profile */

static char out[1 << 20];
static size_t outlen;
static void put(const char *s) {
    size_t n = strlen(s);
    if (outlen + n < sizeof out) { memcpy(out + outlen, s, n); outlen += n; }
}
static void flush(void) {
    size_t off = 0;
    while (off < outlen) {
        long w = sys3(1, 1, (long)(out + off), outlen - off);
        if (w <= 0) break;
        off += w;
    }
    outlen = 0;
}

#define MAXR 4096
static double res[4][MAXR];
static const char *names[4] = {"getppid", "personality", "socket", "denied"};

static int run(long iters, int rounds, int mask) {
    if (rounds > MAXR) rounds = MAXR;
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 4; k++) {
            if (!(mask & (1 << k))) continue;
            long n = k == 2 ? iters / 16 + 1 : iters;
            double t0 = now();
            switch (k) {
            case 0: for (long i = 0; i < n; i++) sys1(NR_GETPPID, 0); break;
            case 1: for (long i = 0; i < n; i++) sys1(NR_PERSONALITY, 0xffffffffL); break;
            case 2:
                for (long i = 0; i < n; i++) {
                    long fd = sys3(NR_SOCKET, 1 /*AF_UNIX*/, 1 /*SOCK_STREAM*/, 0);
                    if (fd < 0) { put("E socket failed\n"); flush(); return 3; }
                    sys1(NR_CLOSE, fd);
                }
                break;
            case 3: for (long i = 0; i < n; i++) sys1(NR_DENIED, 0); break;
            }
            res[k][r] = (now() - t0) / n;
        }
    }
    char buf[64];
    for (int k = 0; k < 4; k++) {
        if (!(mask & (1 << k))) continue;
        put("R "); put(names[k]);
        for (int r = 0; r < rounds; r++) { snprintf(buf, sizeof buf, " %.2f", res[k][r]); put(buf); }
        put("\n");
    }
    flush();
    return 0;
}

#define MAXF 4096
static struct sock_filter prog[MAXF];
static int len;
static void emit(unsigned short code, unsigned char jt, unsigned char jf, unsigned int k) {
    prog[len].code = code; prog[len].jt = jt; prog[len].jf = jf; prog[len].k = k; len++;
}
#define ARG0 offsetof(struct seccomp_data, args[0])
static void special(int kind) {
    /* getppid */
    if (kind == 0) {
        emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, NR_GETPPID);
        emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    } else {
        emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, NR_GETPPID);
        emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG0);
        emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    }
    /* personality(0xffffffff) */
    emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 4, NR_PERSONALITY);
    emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG0);
    emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0xffffffffu);
    emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | 38);
}
static int synth(int n, int pos, int kind) {
    static const int essential[] = {1, 3, 60, 228, 231, 39, 35};
    int fill[MAXF], nf = 0;
    for (unsigned i = 0; i < sizeof essential / sizeof *essential; i++) fill[nf++] = essential[i];
    for (int nr = 0; nr < 1000 && nf < n - 2; nr++) {
        int skip = nr == NR_GETPPID || nr == NR_PERSONALITY || nr == NR_DENIED || nr == NR_SOCKET;
        for (unsigned i = 0; i < sizeof essential / sizeof *essential; i++) skip |= nr == essential[i];
        if (!skip) fill[nf++] = nr;
    }
    emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, arch));
    emit(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH_X86_64);
    emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
    emit(BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
    if (pos == 0) special(kind);
    for (int i = 0; i < nf; i++) {
        emit(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, fill[i]);
        emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    }
    if (pos != 0) special(kind);
    emit(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | 38);
    struct sock_fprog fp = {.len = len, .filter = prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp)) {
        perror("seccomp");
        return 2;
    }
    return 0;
}

static int hold(long ms) {
    char buf[64];
    snprintf(buf, sizeof buf, "PID %ld\n", sys1(39, 0));
    put(buf);
    flush();
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    sys3(35, (long)&ts, 0, 0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 5 && !strcmp(argv[1], "run")) {
        int rc = run(atol(argv[2]), atoi(argv[3]), atoi(argv[4]));
        if (rc || argc < 6) return rc;
        return hold(atol(argv[5]));
    }
    if (argc >= 8 && !strcmp(argv[1], "synth")) {
        int rc = synth(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
        if (rc) return rc;
        return run(atol(argv[5]), atoi(argv[6]), atoi(argv[7]));
    }
    fprintf(stderr, "usage: enfbench run ITERS ROUNDS MASK [HOLD_MS] | synth N POS KIND ITERS ROUNDS MASK\n");
    return 64;
}
