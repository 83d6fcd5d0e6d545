/* files: a file workload for distributed file systems.  Keys are file
 * numbers.  Operations: create (an empty file; fails if it exists),
 * write (records at an offset; fails past the end), append (records at the
 * end; the answer is the offset), read (the whole file, or null), delete.
 * Every write and append has a unique id, and its bytes name it (see
 * FL_FILE_RECORD in sim/store.h), so a checker can tell where each byte of
 * a read came from.
 *
 * History values: create, delete: null; write: {"id","offset","records"};
 * append: {"id","records"} and, when ok, "offset"; read: null, and when ok
 * the file's bytes as a string, or null when there is no such file. */
#include "sim/workload.h"

#include <inttypes.h>

static void files_make(FlWorkloadGen *g, FlRng *rng, FlOp *op)
{
    if (op->kind == FL_OP_FILE_WRITE) {
        op->a = fl_workload_fresh(g, op->key);
        op->b = fl_file_pack((uint32_t)fl_rng_below(rng, 16), 1 + (uint32_t)fl_rng_below(rng, 4));
    } else if (op->kind == FL_OP_FILE_APPEND) {
        op->a = fl_workload_fresh(g, op->key);
        op->b = 1 + (int64_t)fl_rng_below(rng, 4);
    }
}

static void files_value(GString *s, const FlOp *op, const FlResult *res)
{
    switch (op->kind) {
    case FL_OP_FILE_WRITE:
        g_string_append_printf(s, "{\"id\":%" PRId64 ",\"offset\":%u,\"records\":%u}", op->a,
                               fl_file_offset(op->b), fl_file_records(op->b));
        break;
    case FL_OP_FILE_APPEND:
        g_string_append_printf(s, "{\"id\":%" PRId64 ",\"records\":%" PRId64, op->a, op->b);
        if (res && res->has_value)
            g_string_append_printf(s, ",\"offset\":%" PRId64, res->value);
        g_string_append_c(s, '}');
        break;
    case FL_OP_FILE_READ:
        if (res && res->has_value)
            fl_json_text(s, res->text ? res->text : "", res->text ? res->text_len : 0);
        else
            g_string_append(s, "null");
        break;
    default:
        g_string_append(s, "null");
    }
}

static const FlWorkloadOp files_ops[] = {
    { "create", FL_OP_FILE_CREATE, 0.1 },
    { "write", FL_OP_FILE_WRITE, 0.15 },
    { "append", FL_OP_FILE_APPEND, 0.3 },
    { "read", FL_OP_FILE_READ, 0.4 },
    { "delete", FL_OP_FILE_DELETE, 0.05 },
    { NULL, 0, 0 },
};

const FlWorkloadModel fl_workload_files = {
    .name = "files",
    .check_model = "files",
    .summary = "files of records: create, write, append, read, delete (bytes name their write)",
    .ops = files_ops,
    .read_kind = FL_OP_FILE_READ,
    .make = files_make,
    .value = files_value,
};
