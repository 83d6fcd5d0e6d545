/* mapreduce: clients submit MapReduce jobs, `wordcount` or `index`, each
 * on a text of its own: the op's argument is a unique value used as the
 * seed of sim/check/corpus.h.  The job's answer names the text's size
 * (the value) and holds the whole output (the text), so the history alone
 * lets the checker regenerate the input and recompute the output.
 *
 * History values: invoke {"seed": S}; ok {"seed": S, "words": W,
 * "output": "word count\n..."} (index: "word d1,d2,...\n"). */
#include "sim/workload.h"

#include <inttypes.h>

static void mr_make(FlWorkloadGen *g, FlRng *rng, FlOp *op)
{
    op->a = fl_workload_fresh(g, op->key);
}

static void mr_value(GString *s, const FlOp *op, const FlResult *res)
{
    g_string_append_printf(s, "{\"seed\":%" PRId64, op->a);
    if (res) {
        g_string_append_printf(s, ",\"words\":%" PRId64 ",\"output\":", res->value);
        fl_json_text(s, res->text ? res->text : "", res->text ? res->text_len : 0);
    }
    g_string_append_c(s, '}');
}

static const FlWorkloadOp mr_ops[] = {
    { "wordcount", FL_OP_MR_WORDCOUNT, 0.5 },
    { "index", FL_OP_MR_INDEX, 0.5 },
    { NULL, 0, 0 },
};

const FlWorkloadModel fl_workload_mapreduce = {
    .name = "mapreduce",
    .check_model = "mapreduce",
    .summary = "MapReduce jobs: wordcount and index on generated texts (output checked exactly)",
    .ops = mr_ops,
    .read_kind = FL_OP_MR_WORDCOUNT,
    .make = mr_make,
    .value = mr_value,
};
