/* tests/check/bench.c: speed of `faultline check` on generated histories.
 *
 * For each case it writes a history with fl_gen_history (tests/check/gen.h)
 * to a temporary file, runs the real binary on it ($FAULTLINE, or argv[1])
 * and prints wall time, CPU time and peak memory (the child's maxrss).  The
 * targets are those of issue 3: each case decided in under 10 s and 2 GiB.
 * A wrong verdict makes the benchmark fail; a slow one is marked.
 *
 * The `sc` cases time the whole-history sequential check
 * (--consistency sequential) on histories from fl_gen_sc: register
 * histories over several keys that are sequentially consistent by
 * construction but not linearizable (each process's clock lags by a fixed
 * number of steps), and their invalid twins (one read of the initial value
 * after the reader's own write).
 *
 *   meson test -C build --benchmark check-speed -v
 *   build/tests/check/bench-check build/faultline [SUBSTRING]
 */
#include "tests/check/gen.h"

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
    const char *model;
    guint32 ops, processes, keys;
    double info, cas;
    guint32 sc_lag;         /* > 0: an fl_gen_sc history, checked for SC */
} Case;

static const Case cases[] = {
    { "register 1k/200", "register", 1000, 200, 0, 0, 0.1, 0 },
    { "register 10k/50 5% info", "register", 10000, 50, 0, 0.05, 0.1, 0 },
    { "register 100k/10", "register", 100000, 10, 0, 0, 0.1, 0 },
    { "register 10k/50 5% info, no cas", "register", 10000, 50, 0, 0.05, 0, 0 },
    { "kv 1M/100 keys/20 procs 1% info", "kv", 1000000, 20, 100, 0.01, 0, 0 },
    { "sc register 1k/8 procs/4 keys", "register", 1000, 8, 4, 0, 0, 20 },
    { "sc register 10k/8 procs/16 keys", "register", 10000, 8, 16, 0, 0, 20 },
    { "sc register 100k/8 procs/64 keys", "register", 100000, 8, 64, 0, 0, 20 },
};

#define TARGET_S 10.0
#define TARGET_MIB 2048.0

int main(int argc, char **argv)
{
    const char *bin = argc > 1 ? argv[1] : g_getenv("FAULTLINE");
    const char *only = argc > 2 ? argv[2] : NULL;
    if (bin == NULL) {
        fprintf(stderr, "usage: bench-check FAULTLINE [SUBSTRING] (or set $FAULTLINE)\n");
        return 2;
    }
    guint64 seed = 1;
    printf("seed %" G_GUINT64_FORMAT "; intervals heavy-tailed (Pareto 1.5); invalid = one read changed\n", seed);
    printf("%-34s %-8s %9s %8s %8s %9s  %s\n", "case", "variant", "verdict", "wall s", "cpu s", "peak MiB", "");
    int wrong = 0;
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        const Case *c = &cases[i];
        if (only && !strstr(c->name, only)) continue;
        for (int invalid = 0; invalid < 2; invalid++) {
            FlGenParams p = {
                .model = c->model, .ops = c->ops, .processes = c->processes,
                .keys = c->keys, .info = c->info, .cas = c->cas,
                .invalid = invalid, .seed = seed,
            };
            /* Generate in a child, so that this process stays small and the
             * checker's peak memory is its own (a fork starts with ours). */
            char *path = NULL;
            int fd = g_file_open_tmp("fl-bench-XXXXXX.jsonl", &path, NULL);
            g_assert(fd >= 0);
            pid_t gen = fork();
            if (gen == 0) {
                GString *text = g_string_new(NULL);
                gboolean ok = c->sc_lag ? fl_gen_sc(c->ops, c->processes, c->keys, c->sc_lag,
                                                    invalid, seed, text)
                                        : fl_gen_history(&p, text);
                gboolean wrote = write(fd, text->str, text->len) == (ssize_t)text->len;
                _exit(ok && wrote ? 0 : 1);
            }
            int gstatus;
            waitpid(gen, &gstatus, 0);
            close(fd);
            if (!WIFEXITED(gstatus) || WEXITSTATUS(gstatus) != 0) {
                printf("%-34s %-8s (no result to change)\n", c->name, "invalid");
                g_unlink(path);
                g_free(path);
                continue;
            }

            gint64 t0 = g_get_monotonic_time();
            pid_t pid = fork();
            if (pid == 0) {
                int devnull = open("/dev/null", O_WRONLY);
                dup2(devnull, 1);
                execl(bin, bin, "check", "--model", c->model, "--consistency",
                      c->sc_lag ? "sequential" : "linearizable", "--timeout", "60", path, (char *)NULL);
                _exit(127);
            }
            int status;
            struct rusage ru;
            wait4(pid, &status, 0, &ru);
            double wall = (double)(g_get_monotonic_time() - t0) / 1e6;
            double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
            double mib = (double)ru.ru_maxrss / 1024.0;
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            const char *verdict = code == 0 ? "valid" : code == 1 ? "invalid" : code == 3 ? "unknown" : "error";
            gboolean right = code == invalid;
            wrong += !right;
            printf("%-34s %-8s %9s %8.2f %8.2f %9.1f  %s%s\n", c->name, invalid ? "invalid" : "valid",
                   verdict, wall, cpu, mib, right ? "" : "WRONG ",
                   wall > TARGET_S || mib > TARGET_MIB ? "over target" : "");
            fflush(stdout);
            g_unlink(path);
            g_free(path);
        }
    }
    return wrong ? 1 : 0;
}
