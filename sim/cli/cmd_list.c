/* faultline list protocols|faults|types|consistency */
#include "sim/catalog.h"
#include "sim/check/check.h"
#include "sim/check/consistency.h"
#include "sim/check/elle.h"
#include "sim/cli/cli.h"
#include "sim/module.h"

#include <stdio.h>
#include <string.h>

static const char *type_name(FlParamType t)
{
    switch (t) {
    case FL_PARAM_INT: return "integer";
    case FL_PARAM_DOUBLE: return "number";
    case FL_PARAM_BOOL: return "bool";
    case FL_PARAM_DURATION: return "duration";
    case FL_PARAM_RANGE: return "duration range";
    case FL_PARAM_ENUM: return "one of";
    }
    return "?";
}

static void list_protocol(const FlProtocol *p)
{
    printf("%-16s %s\n", p->name, p->summary);
    for (const FlParam *q = p->params; q && q->name; q++)
        printf("  %-16s %s%s%s, default %s: %s\n", q->name, type_name(q->type),
               q->choices ? " " : "", q->choices ? q->choices : "", q->def, q->doc);
    /* What a `trigger` fault's "message" may name. */
    if (p->kinds)
        printf("  %-16s %s\n", "(message kinds)", p->kinds);
}

/* The built-ins, then what --module loaded (main.c loads them first). */
static void list_protocols(void)
{
    for (const FlProtocol *const *p = fl_catalog()->protocols; *p; p++)
        list_protocol(*p);
    for (size_t i = 0; fl_module_protocol(i); i++)
        list_protocol(fl_module_protocol(i));
}

static void list_faults(void)
{
    printf("Every fault takes: kind, at (start, default 0), and for or until (default: to the end).\n\n");
    for (const FlFaultKind *const *k = fl_catalog()->fault_kinds; *k; k++) {
        printf("%-12s %s\n", (*k)->name, (*k)->summary);
        if ((*k)->own_timing)
            printf("  %-14s (it has its own time fields: no at, for or until)\n", "");
        if ((*k)->duration_field)
            printf("  %-14s how long until it heals (like \"for\")\n", (*k)->duration_field);
        for (const FlFaultField *f = (*k)->fields; f && f->name; f++)
            printf("  %-14s %s\n", f->name, f->doc);
    }
}

static void list_types(void)
{
    for (const char *const *m = fl_check_model_names(); *m; m++)
        printf("%s\n", *m);
}

static void list_consistency(void)
{
    for (const char *const *c = fl_consistency_names(); *c; c++)
        printf("%-20s %s\n", *c, fl_consistency_doc(*c));
    for (const char *const *c = fl_elle_consistency_names(); *c; c++)
        printf("%-20s %s\n", *c, fl_elle_consistency_doc(*c));
    /* The node-log checkers (sim/check/events.h), for type events. */
    printf("%-20s %s\n", "happens-before", "the clock condition and vector clocks characterising happens-before (events type: clocks)");
    printf("%-20s %s\n", "one-leader", "one leader per epoch, and agreement on the highest id once stable (events type: election-*)");
    printf("%-20s %s\n", "consistent-cut", "every snapshot a consistent cut that holds all the money (events type: snapshot)");
    printf("%-20s %s\n", "mutual-exclusion", "no two critical sections concurrent, every request granted (events type: mutex)");
    printf("%-20s %s\n", "serial-resource", "the updates of a resource under a lease were serial: no lost update, no stale or ungranted write (events type: lease)");
    printf("%-20s %s\n", "membership", "every crashed member declared dead by every live one within a bound, no live one declared dead (events type: swim)");
    printf("%-20s %s\n", "validity", "broadcast: a correct node delivers what it broadcast (events type: broadcast)");
    printf("%-20s %s\n", "agreement", "broadcast: what one correct node delivers, every correct node delivers");
    printf("%-20s %s\n", "integrity", "broadcast: nothing delivered twice, nothing delivered that was not broadcast");
    printf("%-20s %s\n", "fifo-order", "broadcast: each origin's messages delivered in the order it sent them");
    printf("%-20s %s\n", "causal-order", "broadcast: a message delivered after its whole causal past");
    printf("%-20s %s\n", "total-order", "broadcast: correct nodes deliver common messages in one order");
}

int fl_cmd_list(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("protocols|faults|types|consistency");
    g_option_context_set_summary(ctx,
        "Lists what a scenario can name: protocols with their parameters, fault\n"
        "kinds with their fields, the data types a history can hold (workload.model,\n"
        "check --type) and the consistency models the checker decides\n"
        "(check.consistency, check --consistency).  `models` is the old name of\n"
        "`types`.");
    if (!fl_cli_parse(ctx, &argc, &argv, "list"))
        return 2;
    if (argc != 2) {
        fprintf(stderr, "faultline list: expected one of protocols, faults, types, consistency\n");
        return 2;
    }
    if (strcmp(argv[1], "protocols") == 0)
        list_protocols();
    else if (strcmp(argv[1], "faults") == 0)
        list_faults();
    else if (strcmp(argv[1], "types") == 0 || strcmp(argv[1], "models") == 0)
        list_types();
    else if (strcmp(argv[1], "consistency") == 0)
        list_consistency();
    else {
        fprintf(stderr, "faultline list: unknown list \"%s\" (expected protocols, faults, types or consistency)\n", argv[1]);
        return 2;
    }
    return 0;
}
