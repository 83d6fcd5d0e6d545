/* Exploration speed (issue 17): `faultline explore` BFS over the small
 * Raft and Paxos configurations (raft-explore.json and paxos-explore.json in scenarios/04-consensus) at
 * a fixed depth, exhausted, with and without partial-order reduction.
 * Prints states and distinct states, states per second, and the
 * reduction's factor as ratios of the same run (states without / with,
 * wall time without / with); the distinct states should be equal. */
#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static json_t *explore(const char *exe, const char *scenario, const char *depth, bool reduce)
{
    const char *argv[] = { exe, "explore", scenario, "--depth", depth, "--max-states", "0",
                           "--json", reduce ? NULL : "--no-reduction", NULL };
    char *out = NULL;
    int status;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
                      &status, NULL))
        return NULL;
    json_t *r = json_loads(out, 0, NULL);
    g_free(out);
    return r;
}

int main(void)
{
    const char *exe = getenv("FAULTLINE");
    if (!exe)
        exe = "build/faultline";
    const struct { const char *name, *file, *depth; } runs[] = {
        { "raft", "scenarios/04-consensus/raft-explore.json", "7" },
        { "paxos", "scenarios/04-consensus/paxos-explore.json", "9" },
    };
    printf("explore-speed: BFS, exhausted, one core\n");
    for (size_t i = 0; i < G_N_ELEMENTS(runs); i++) {
        json_t *with = explore(exe, runs[i].file, runs[i].depth, true);
        json_t *without = explore(exe, runs[i].file, runs[i].depth, false);
        if (!with || !without) {
            fprintf(stderr, "explore-speed: %s: no report\n", runs[i].name);
            return 1;
        }
        double s1 = json_number_value(json_object_get(with, "states"));
        double s0 = json_number_value(json_object_get(without, "states"));
        double u1 = json_number_value(json_object_get(with, "unique"));
        double u0 = json_number_value(json_object_get(without, "unique"));
        double t1 = json_number_value(json_object_get(with, "wall_s"));
        double t0 = json_number_value(json_object_get(without, "wall_s"));
        printf("  %-6s depth %s  reduction: %9.0f states, %8.0f distinct, %7.0f states/s, %.2f s\n",
               runs[i].name, runs[i].depth, s1, u1, t1 > 0 ? s1 / t1 : 0, t1);
        printf("  %-6s depth %s  none:      %9.0f states, %8.0f distinct, %7.0f states/s, %.2f s\n",
               runs[i].name, runs[i].depth, s0, u0, t0 > 0 ? s0 / t0 : 0, t0);
        printf("  %-6s reduction factor: %.2fx fewer states, %.2fx less time\n", runs[i].name,
               s1 > 0 ? s0 / s1 : 0, t1 > 0 ? t0 / t1 : 0);
        /* Known gap (issue 17): paxos at depth 9 misses 3 of 25,911 states
         * with reduction; printed, not failed, until it is understood. */
        if (u1 != u0)
            printf("  %-6s WARNING: %.0f distinct states with reduction, %.0f without\n",
                   runs[i].name, u1, u0);
        json_decref(with);
        json_decref(without);
    }
    return 0;
}
