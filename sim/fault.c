#include "sim/fault.h"

void fl_fault_free(FlFault *f)
{
    if (!f)
        return;
    if (f->kind && f->kind->destroy)
        f->kind->destroy(f);
    g_free(f->state);
    g_free(f);
}
