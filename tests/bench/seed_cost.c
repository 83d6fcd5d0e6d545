/* The fixed cost of a seed (issue 25): `faultline fuzz --jobs 1` over a
 * tiny scenario, scenarios/00-basics/single-register.json cut to 1 s of
 * virtual time (about 90 operations; only "valid" is expected),
 * where world set-up and tear-down, the scenario copy, the history index and
 * the check weigh most.  The cut copy is made here, in a temporary folder;
 * the shipped scenario is not changed.  ROUNDS runs of SEEDS seeds; prints
 * the median seeds per second of CPU time (user + system of faultline and
 * its worker, from getrusage RUSAGE_CHILDREN, so that other jobs on a
 * shared machine do not count) and of wall time.
 *
 *   bench-seed-cost [SEEDS [ROUNDS]]   (defaults 4000 and 5; run from the
 *   source root; FAULTLINE names the binary) */
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static double children_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *exe = g_getenv("FAULTLINE") ? g_getenv("FAULTLINE") : "build/faultline";
    const char *seeds = argc > 1 ? argv[1] : "4000";
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    rounds = CLAMP(rounds, 1, 15);
    json_error_t jerr;
    json_t *sc = json_load_file("scenarios/00-basics/single-register.json", 0, &jerr);
    if (!sc) {
        fprintf(stderr, "seed_cost: %s\n", jerr.text);
        return 1;
    }
    /* Cut to 1 s.  Only the checker's verdict is expected: the bounds are
     * sized for 10 s (min_ok, and min_availability, which the operations cut
     * short by the end fail on a third of the seeds at 1 s), and a failing
     * seed would measure the writing of its failure file instead. */
    json_object_set_new(sc, "duration", json_string("1s"));
    json_object_set_new(sc, "expect", json_pack("{s:b}", "valid", 1));
    g_autofree char *dir = g_dir_make_tmp("seed-cost-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "single-register-1s.json", NULL);
    json_dump_file(sc, path, JSON_INDENT(2));
    json_decref(sc);
    double cpu_rate[15], wall_rate[15];
    double ran = 0;
    for (int r = 0; r < rounds; r++) {
        g_autofree char *out_dir = g_build_filename(dir, "out", NULL);
        const char *av[] = { exe, "fuzz", path, "--seeds", seeds, "--jobs", "1", "--keep-going",
                             "--no-shrink", "--json", "--out", out_dir, NULL };
        char *out = NULL;
        int status;
        double cpu0 = children_cpu();
        if (!g_spawn_sync(NULL, (char **)av, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
                          NULL, &status, NULL)) {
            fprintf(stderr, "seed_cost: cannot run %s\n", exe);
            return 1;
        }
        double cpu = children_cpu() - cpu0;
        json_t *res = json_loads(out, 0, NULL);
        g_free(out);
        if (!res) {
            fprintf(stderr, "seed_cost: faultline fuzz printed no JSON\n");
            return 1;
        }
        ran = (double)json_integer_value(json_object_get(res, "ran"));
        double failed = (double)json_integer_value(json_object_get(res, "failed"));
        if (failed > 0)
            fprintf(stderr, "seed_cost: %.0f of %.0f seeds failed\n", failed, ran);
        cpu_rate[r] = ran / cpu;
        wall_rate[r] = ran / json_number_value(json_object_get(res, "seconds"));
        json_decref(res);
    }
    qsort(cpu_rate, (size_t)rounds, sizeof(double), cmp_double);
    qsort(wall_rate, (size_t)rounds, sizeof(double), cmp_double);
    printf("bench=seed-cost scenario=single-register-1s seeds=%.0f rounds=%d jobs=1"
           " seeds_per_cpu_s=%.0f seeds_per_cpu_s_min=%.0f seeds_per_cpu_s_max=%.0f"
           " seeds_per_wall_s=%.0f\n",
           ran, rounds, cpu_rate[rounds / 2], cpu_rate[0], cpu_rate[rounds - 1],
           wall_rate[rounds / 2]);
    const char *rm[] = { "rm", "-rf", dir, NULL };
    g_spawn_sync(NULL, (char **)rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
    return 0;
}
