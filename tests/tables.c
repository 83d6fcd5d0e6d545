/* tests/tables: every test program starts with the built-in catalog
 * installed, as the faultline program's main does (sim/cli/tables.h), so
 * that tests load scenarios naming built-in protocols and fault kinds
 * without each calling it. */
#include "sim/cli/tables.h"

__attribute__((constructor)) static void install_tables(void)
{
    fl_cli_tables_install();
}
