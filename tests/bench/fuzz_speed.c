/* Fuzzing speed (issue 5): `faultline fuzz` over 1,000 seeds of a 5-node
 * Raft cluster at 200 operations per second whose leader crashes, with one
 * worker and with one per core.  Prints seeds per second per core, the ratio
 * of virtual time simulated to wall time, and how the workers scale. */
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static json_t *fuzz(const char *exe, const char *scenario, const char *seeds, int jobs)
{
    char j[16];
    g_snprintf(j, sizeof j, "%d", jobs);
    g_autofree char *dir = g_dir_make_tmp("fuzz-bench-XXXXXX", NULL);
    const char *argv[] = { exe, "fuzz", scenario, "--seeds", seeds, "--jobs", j, "--keep-going",
                           "--no-shrink", "--json", "--out", dir, NULL };
    char *out = NULL;
    int status;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
                      &status, NULL))
        return NULL;
    json_t *r = json_loads(out, 0, NULL);
    g_free(out);
    const char *rm[] = { "rm", "-rf", dir, NULL };
    g_spawn_sync(NULL, (char **)rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
    return r;
}

int main(int argc, char **argv)
{
    const char *exe = g_getenv("FAULTLINE") ? g_getenv("FAULTLINE") : "build/faultline";
    const char *scenario = argc > 1 ? argv[1] : "scenarios/04-consensus/raft-leader-crash.json";
    const char *seeds = argc > 2 ? argv[2] : "1000";
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double one = 0;
    for (int jobs = 1; jobs <= (cores > 1 ? cores : 1); jobs = jobs == 1 && cores > 1 ? (int)cores : jobs + 1) {
        json_t *r = fuzz(exe, scenario, seeds, jobs);
        if (!r) {
            fprintf(stderr, "fuzz_speed: faultline fuzz failed\n");
            return 1;
        }
        double secs = json_number_value(json_object_get(r, "seconds"));
        double ran = (double)json_integer_value(json_object_get(r, "ran"));
        double virt = json_number_value(json_object_get(r, "virtual_seconds"));
        double rate = ran / secs;
        if (jobs == 1)
            one = rate;
        printf("bench=fuzz scenario=%s seeds=%.0f jobs=%d seconds=%.2f seeds_per_s=%.1f"
               " seeds_per_s_per_core=%.1f virtual_per_wall_per_core=%.0f speedup=%.2f\n",
               json_string_value(json_object_get(r, "scenario")), ran, jobs, secs, rate, rate / jobs,
               virt / secs / jobs, rate / one);
        fflush(stdout);
        json_decref(r);
        if (jobs == cores)
            break;
    }
    return 0;
}
