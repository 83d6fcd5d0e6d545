/* vr messages: encode and validating decode (see vr.h for the layout). */
#include "protocols/vr/vr.h"

void vr_msg_encode(FlWriter *w, const VrMsg *m)
{
    fl_put_u8(w, m->type);
    fl_put_u64(w, m->view);
    fl_put_u64(w, m->op);
    fl_put_u64(w, m->commit);
    fl_put_u64(w, m->aux);
    fl_put_u8(w, m->primary ? 1 : 0);
    fl_put_u32(w, m->n);
    for (uint32_t i = 0; i < m->n; i++)
        fl_request_encode(w, &m->entries[i]);
}

/* Types that may carry entries, and those whose entries must be the whole
 * log (ops 1..op). */
static bool carries_entries(const VrMsg *m)
{
    switch (m->type) {
    case VR_PREPARE:
    case VR_DO_VIEW_CHANGE:
    case VR_START_VIEW:
    case VR_NEW_STATE:
        return true;
    case VR_RECOVERY_RESPONSE:
        return m->primary;
    default:
        return false;
    }
}

static bool whole_log(const VrMsg *m)
{
    return m->type == VR_DO_VIEW_CHANGE || m->type == VR_START_VIEW ||
           (m->type == VR_RECOVERY_RESPONSE && m->primary);
}

bool vr_msg_decode(const uint8_t *p, size_t len, VrMsg *m)
{
    FlReader r;
    fl_reader_init(&r, p, len);
    *m = (VrMsg){ 0 };
    m->type = fl_get_u8(&r);
    m->view = fl_get_u64(&r);
    m->op = fl_get_u64(&r);
    m->commit = fl_get_u64(&r);
    m->aux = fl_get_u64(&r);
    uint8_t flag = fl_get_u8(&r);
    m->n = fl_get_u32(&r);
    if (!fl_reader_ok(&r) || m->type < VR_PREPARE || m->type >= VR_MSG_MAX || flag > 1)
        return false;
    m->primary = flag == 1;
    if (m->primary && m->type != VR_RECOVERY_RESPONSE)
        return false;
    if (m->view >= VR_MAX_VIEW || m->op > VR_MAX_LOG || m->commit > m->op || m->n > m->op)
        return false;
    if (m->type == VR_DO_VIEW_CHANGE && m->aux > m->view)
        return false;   /* a last normal view after the view it is sent in */
    if (m->n > 0 && !carries_entries(m))
        return false;
    if (whole_log(m) && m->n != m->op)
        return false;
    /* Each request takes at least 34 bytes: refuse a count the bytes left
     * cannot hold before allocating for it. */
    if ((size_t)m->n * 34 > fl_reader_left(&r))
        return false;
    if (m->n > 0) {
        m->entries = g_new(FlRequest, m->n);
        for (uint32_t i = 0; i < m->n; i++) {
            if (!fl_request_decode(&r, &m->entries[i]) || m->entries[i].op.kind == FL_OP_NOOP) {
                vr_msg_clear(m);
                return false;
            }
        }
    }
    if (!fl_reader_done(&r)) {
        vr_msg_clear(m);
        return false;
    }
    return true;
}

void vr_msg_clear(VrMsg *m)
{
    g_free(m->entries);
    m->entries = NULL;
    m->n = 0;
}

static const char *const kind_names[VR_MSG_MAX] = {
    [VR_PREPARE] = "Prepare",
    [VR_PREPARE_OK] = "PrepareOK",
    [VR_COMMIT] = "Commit",
    [VR_START_VIEW_CHANGE] = "StartViewChange",
    [VR_DO_VIEW_CHANGE] = "DoViewChange",
    [VR_START_VIEW] = "StartView",
    [VR_RECOVERY] = "Recovery",
    [VR_RECOVERY_RESPONSE] = "RecoveryResponse",
    [VR_GET_STATE] = "GetState",
    [VR_NEW_STATE] = "NewState",
};

/* Decodes @p only to validate it; the kind and fields must not name
 * messages a node would drop. */
static bool valid(const uint8_t *p, size_t len, uint8_t *type)
{
    VrMsg m;
    if (!vr_msg_decode(p, len, &m))
        return false;
    *type = m.type;
    vr_msg_clear(&m);
    return true;
}

const char *vr_msg_kind(const uint8_t *p, size_t len)
{
    uint8_t type;
    return valid(p, len, &type) ? kind_names[type] : NULL;
}

int vr_msg_fields(const uint8_t *p, size_t len, FlMsgField *out, int max)
{
    uint8_t type;
    if (!valid(p, len, &type))
        return 0;
    const FlMsgField all[] = {
        { "view", VR_OFF_VIEW, 8, FL_FIELD_ROUND },
        { "op", VR_OFF_OP, 8, FL_FIELD_VALUE },
        { "commit", VR_OFF_COMMIT, 8, FL_FIELD_VALUE },
    };
    int k = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(all) && k < max; i++)
        out[k++] = all[i];
    return k;
}
