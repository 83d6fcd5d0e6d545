/* sim/catalog: the tables a scenario's names resolve against, handed to
 * the engine by the program that links it.
 *
 * The engine knows no protocol and no fault kind by name: the protocols/
 * and faults/ layers are built on it, not under it.  The program (the
 * `faultline` command: sim/cli/tables.c) sets the catalog once at start
 * with the built-in protocols, the fault kinds and the nemesis's hook;
 * protocols of loaded modules (sim/module.h) are found after the built-in
 * ones.  The catalog and its tables are borrowed for the rest of the
 * process; forked workers inherit it.  Single-threaded, like the engine. */
#pragma once

#include "sim/fault.h"
#include "sim/node.h"
#include "sim/scenario.h"

#include <jansson.h>

typedef struct FlCatalog {
    const FlProtocol *const *protocols;      /* NULL-terminated: the built-ins */
    const FlFaultKind *const *fault_kinds;   /* NULL-terminated */
    /* The scenario's faults as resolved, after a run, with every random
     * schedule that started (the nemesis) replaced by the faults it drew:
     * what `faultline fuzz` shrinks and replays.  Transfer full.
     * Required. */
    json_t *(*faults_explicit)(const FlScenario *sc);
    /* Optional: judges the scenario's expect.alerts after a run (fl_run),
     * which takes Prometheus' promtool, a program the engine does not run
     * itself (sim/cli/cmd_alerts.c).  @windows is the run's time series
     * and @metrics its metrics.json (both borrowed); the generated test
     * file and alerts.json go into @dir (NULL: a temporary folder,
     * removed after).  Returns what metrics.json shows as "alerts"
     * (transfer full): {"judged": true, "fired": N, "expect": "met" or
     * "not-met", ...}, with one line per unmet expectation, "alerts: ...",
     * appended to @unmet; or {"judged": false, "why": TEXT} when it could
     * not be judged (no rules file named, no promtool); or NULL with @err
     * set when promtool refused the rules.  NULL hook: never judged. */
    json_t *(*judge_alerts)(const FlScenario *sc, json_t *windows, json_t *metrics,
                            const char *dir, GPtrArray *unmet, GError **err);
} FlCatalog;

/* Sets the catalog (borrowed until exit); a later call replaces it. */
void fl_catalog_set(const FlCatalog *c);
/* The catalog; asserts that one was set (a program bug otherwise). */
const FlCatalog *fl_catalog(void);

/* The protocol named @name: a built-in one, else one of a loaded module;
 * NULL when none has that name. */
const FlProtocol *fl_catalog_protocol(const char *name);
/* The fault kind named @name, or NULL. */
const FlFaultKind *fl_catalog_fault_kind(const char *name);
