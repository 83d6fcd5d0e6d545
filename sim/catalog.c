/* sim/catalog: see sim/catalog.h.  Lookups walk the tables in order, so a
 * name resolves the same way in every run. */
#include "sim/catalog.h"

#include "sim/module.h"

#include <assert.h>
#include <string.h>

static const FlCatalog *current;

void fl_catalog_set(const FlCatalog *c)
{
    assert(c);
    assert(c->protocols);
    assert(c->fault_kinds);
    assert(c->faults_explicit);
    current = c;
}

const FlCatalog *fl_catalog(void)
{
    /* Set by the program before it loads a scenario (sim/cli/tables.c). */
    assert(current);
    return current;
}

const FlProtocol *fl_catalog_protocol(const char *name)
{
    for (const FlProtocol *const *p = fl_catalog()->protocols; *p; p++)
        if (strcmp((*p)->name, name) == 0)
            return *p;
    return fl_module_protocol_find(name);
}

const FlFaultKind *fl_catalog_fault_kind(const char *name)
{
    for (const FlFaultKind *const *k = fl_catalog()->fault_kinds; *k; k++)
        if (strcmp((*k)->name, name) == 0)
            return *k;
    return NULL;
}
