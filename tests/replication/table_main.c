/* consistency-table: prints the table of which system satisfies which
 * consistency model, from the runs of a scenario folder (by default
 * scenarios/02-consistency).  Its output is the table in that folder's
 * README.md; the replication-table test checks that they agree.
 *
 *   build/tests/replication/consistency-table [DIR] */
#include "tests/replication/table.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "scenarios/02-consistency";
    GError *err = NULL;
    GPtrArray *rows = table_run_dir(dir, &err);
    if (!rows) {
        fprintf(stderr, "consistency-table: %s\n", err->message);
        g_error_free(err);
        return 2;
    }
    char *md = table_markdown(rows);
    fputs(md, stdout);
    int status = 0;
    for (guint i = 0; i < rows->len; i++) {
        const TableRow *r = g_ptr_array_index(rows, i);
        if (!r->met) {
            fprintf(stderr, "consistency-table: %s: expectations not met:\n%s", r->file, r->unmet);
            status = 1;
        }
    }
    g_free(md);
    g_ptr_array_unref(rows);
    return status;
}
