/* sim/check/model_mutex.c: a lock, initially free.
 *
 *   acquire: null -> null  succeeds when free, then held
 *   release: null -> null  succeeds when held, then free
 * The state is one byte: 0 free, 1 held.
 */
#include "sim/check/model.h"

enum { ACQUIRE, RELEASE };
static const char *const ops[] = { "acquire", "release", NULL };

static gboolean parse(FlModelCtx *ctx, FlOp *op, const FlVal *v, gboolean ok,
                      GString *why)
{
    return TRUE;
}

static void init(FlModelCtx *ctx, GByteArray *state)
{
    guint8 free_ = 0;
    g_byte_array_append(state, &free_, 1);
}

static gboolean step(FlModelCtx *ctx, const guint8 *state, gsize len,
                     const FlOp *op, GByteArray *next)
{
    guint8 held = state[0];
    if (held == (op->f == ACQUIRE)) return FALSE;
    guint8 now = op->f == ACQUIRE;
    g_byte_array_append(next, &now, 1);
    return TRUE;
}

static void show_state(FlModelCtx *ctx, const guint8 *state, gsize len,
                       GString *out)
{
    g_string_append(out, state[0] ? "held" : "free");
}

const FlModel fl_model_mutex = {
    .name = "mutex",
    .ops = ops,
    .parse = parse,
    .init = init,
    .step = step,
    .show_state = show_state,
};
