/* tests/bench/elle_speed.c: speed of the Elle-style checker (issue 24):
 * `faultline check --model list-append --consistency serializable` on
 * generated histories of 10k, 100k and 1M transactions (strict
 * serializable by construction: each case must come out valid), and on
 * histories with one G-single cycle hidden among many G2-item ones (write
 * skews), which must come out invalid for serializable (and name
 * G-single) yet valid for snapshot isolation, which allows write skew.
 * It prints wall time, CPU time and the checker's peak memory (maxrss).
 * Target: 1M list-append transactions within 30 s and 4 GiB on one core.
 *
 *   meson test -C build --benchmark elle-speed -v
 *   build/tests/bench/bench-elle-speed build/faultline [SUBSTRING]
 */
#include "tests/check/elle_gen.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

typedef struct {
    const char *name;
    FlTxnKind kind;
    guint64 txns;
    guint processes, g2, gsingle;
    const char *consistency;
    int want;                /* exit status */
} Case;

static const Case cases[] = {
    { "list-append 10k/10 procs", FL_TXN_LIST_APPEND, 10000, 10, 0, 0, "serializable", 0 },
    { "list-append 100k/10 procs", FL_TXN_LIST_APPEND, 100000, 10, 0, 0, "serializable", 0 },
    { "list-append 1M/10 procs", FL_TXN_LIST_APPEND, 1000000, 10, 0, 0, "serializable", 0 },
    { "list-append 1M/10 procs", FL_TXN_LIST_APPEND, 1000000, 10, 0, 0, "strict-serializable", 0 },
    { "list-append 100k + 10k G2 + 1 G-single", FL_TXN_LIST_APPEND, 100000, 10, 10000, 1,
      "serializable", 1 },
    { "list-append 100k + 10k G2 + 1 G-single", FL_TXN_LIST_APPEND, 100000, 10, 10000, 1,
      "snapshot-isolation", 1 },
    { "list-append 100k + 10k G2", FL_TXN_LIST_APPEND, 100000, 10, 10000, 0,
      "snapshot-isolation", 0 },
    { "list-append 1M + 100k G2 + 1 G-single", FL_TXN_LIST_APPEND, 1000000, 10, 100000, 1,
      "serializable", 1 },
    { "rw-register 100k/10 procs", FL_TXN_RW_REGISTER, 100000, 10, 0, 0, "serializable", 0 },
    { "rw-register 1M/10 procs", FL_TXN_RW_REGISTER, 1000000, 10, 0, 0, "serializable", 0 },
};

#define TARGET_S 30.0
#define TARGET_MIB 4096.0

int main(int argc, char **argv)
{
    const char *bin = argc > 1 ? argv[1] : g_getenv("FAULTLINE");
    const char *only = argc > 2 ? argv[2] : NULL;
    if (bin == NULL) {
        fprintf(stderr, "usage: bench-elle-speed FAULTLINE [SUBSTRING] (or set $FAULTLINE)\n");
        return 2;
    }
    guint64 seed = 1;
    printf("seed %" G_GUINT64_FORMAT "; 1-4 micro-ops a transaction, 8 active keys of at most "
           "32 appends; JSON Lines\n", seed);
    printf("%-42s %-20s %8s %8s %8s %9s %9s\n", "case", "consistency", "verdict", "gen s",
           "wall s", "cpu s", "peak MiB");
    int wrong = 0;
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        const Case *c = &cases[i];
        if (only && !strstr(c->name, only)) continue;
        char *path = NULL;
        int fd = g_file_open_tmp("fl-elle-XXXXXX.jsonl", &path, NULL);
        g_assert(fd >= 0);
        gint64 g0 = g_get_monotonic_time();
        pid_t gen = fork();
        if (gen == 0) {
            FILE *f = fdopen(fd, "w");
            FlElleGenParams p = { .kind = c->kind, .txns = c->txns, .processes = c->processes,
                                  .seed = seed, .g2_pairs = c->g2, .g_single = c->gsingle };
            fl_elle_gen(&p, f);
            _exit(fclose(f) == 0 ? 0 : 1);
        }
        int gstatus;
        waitpid(gen, &gstatus, 0);
        close(fd);
        double gen_s = (double)(g_get_monotonic_time() - g0) / 1e6;
        gint64 t0 = g_get_monotonic_time();
        int pipefd[2];
        g_assert(pipe(pipefd) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            dup2(pipefd[1], 1);
            close(pipefd[0]);
            execl(bin, bin, "check", "--model", c->kind == FL_TXN_LIST_APPEND ? "list-append"
                  : "rw-register", "--consistency", c->consistency, "--timeout", "120", path,
                  (char *)NULL);
            _exit(127);
        }
        close(pipefd[1]);
        GString *out = g_string_new(NULL);
        char buf[4096];
        ssize_t r;
        while ((r = read(pipefd[0], buf, sizeof buf)) > 0) g_string_append_len(out, buf, r);
        close(pipefd[0]);
        int status;
        struct rusage ru;
        wait4(pid, &status, 0, &ru);
        double wall = (double)(g_get_monotonic_time() - t0) / 1e6;
        double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
        double mib = (double)ru.ru_maxrss / 1024.0;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        const char *verdict = code == 0 ? "valid" : code == 1 ? "invalid" : code == 3 ? "unknown"
                              : "error";
        gboolean right = code == c->want;
        /* The hidden G-single must be named. */
        if (c->gsingle && !strstr(out->str, "\nG-single: ")) right = FALSE;
        wrong += !right;
        printf("%-42s %-20s %8s %8.2f %8.2f %9.2f %9.1f  %s%s\n", c->name, c->consistency,
               verdict, gen_s, wall, cpu, mib, right ? "" : "WRONG ",
               wall > TARGET_S || mib > TARGET_MIB ? "over target" : "");
        if (!right) fputs(out->str, stdout);
        fflush(stdout);
        g_string_free(out, TRUE);
        g_unlink(path);
        g_free(path);
    }
    return wrong ? 1 : 0;
}
