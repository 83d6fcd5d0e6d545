/* sim/cli/tables: see sim/cli/tables.h. */
#include "sim/cli/tables.h"

#include "faults/nemesis.h"
#include "faults/registry.h"
#include "protocols/registry.h"
#include "sim/catalog.h"
#include "sim/cli/cli.h"

void fl_cli_tables_install(void)
{
    /* Static storage: the catalog is borrowed until exit. */
    static FlCatalog builtins;
    builtins.protocols = fl_protocols();
    builtins.fault_kinds = fl_fault_kinds();
    builtins.faults_explicit = fl_faults_explicit;
    builtins.judge_alerts = fl_alerts_judge;
    fl_catalog_set(&builtins);
}
