/* VR's messages: every type encodes and decodes back to itself, and a
 * decode refuses anything an honest peer could not have sent (every
 * truncation, trailing bytes, unknown types, impossible op and commit
 * numbers, entries where the type carries none, a partial log where a whole
 * one is due) instead of trusting part of it. */
#include "protocols/vr/vr.h"

#include <glib.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static FlRequest entries[3];

static void fill_entries(void)
{
    for (int i = 0; i < 3; i++) {
        memset(&entries[i], 0, sizeof entries[i]);
        entries[i].client = 7;
        entries[i].id = 100 + (uint64_t)i;
        entries[i].op.kind = i == 0 ? FL_OP_PUT : FL_OP_APPEND;
        entries[i].op.key = (uint32_t)i;
        entries[i].op.a = 40 + i;
    }
}

/* Encodes @m into @w (reset first). */
static void encode(FlWriter *w, const VrMsg *m)
{
    fl_writer_reset(w);
    vr_msg_encode(w, m);
}

/* One message of every type, as an honest replica sends it. */
static VrMsg sample(uint8_t type)
{
    VrMsg m = { .type = type, .view = 6 };
    switch (type) {
    case VR_PREPARE:
    case VR_NEW_STATE:
        m.op = 5, m.commit = 3, m.n = 2, m.entries = &entries[1];
        break;
    case VR_PREPARE_OK:
    case VR_GET_STATE:
        m.op = 4;
        break;
    case VR_COMMIT:
        m.op = 5, m.commit = 5;
        break;
    case VR_DO_VIEW_CHANGE:
        m.op = 3, m.commit = 2, m.aux = 4, m.n = 3, m.entries = entries;
        break;
    case VR_START_VIEW:
        m.op = 3, m.commit = 1, m.n = 3, m.entries = entries;
        break;
    case VR_RECOVERY:
        m.aux = 0xfeed;
        break;
    case VR_RECOVERY_RESPONSE:
        m.aux = 0xfeed, m.primary = true, m.op = 3, m.commit = 3, m.n = 3, m.entries = entries;
        break;
    default:
        break;
    }
    return m;
}

static void test_round_trip(void **st)
{
    (void)st;
    fill_entries();
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    for (uint8_t t = VR_PREPARE; t < VR_MSG_MAX; t++) {
        VrMsg m = sample(t), d;
        encode(&w, &m);
        assert_int_equal(w.len, VR_HEADER + 34 * m.n);
        assert_true(vr_msg_decode(w.data, w.len, &d));
        assert_int_equal(d.type, t);
        assert_int_equal(d.view, m.view);
        assert_int_equal(d.op, m.op);
        assert_int_equal(d.commit, m.commit);
        assert_int_equal(d.aux, m.aux);
        assert_int_equal(d.primary, m.primary);
        assert_int_equal(d.n, m.n);
        for (uint32_t i = 0; i < m.n; i++)
            assert_true(vr_request_eq(&d.entries[i], &m.entries[i]));
        assert_non_null(vr_msg_kind(w.data, w.len));
        vr_msg_clear(&d);
    }
    fl_writer_deinit(&w);
}

/* Every truncation of every type is refused, and so are trailing bytes. */
static void test_truncated(void **st)
{
    (void)st;
    fill_entries();
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    for (uint8_t t = VR_PREPARE; t < VR_MSG_MAX; t++) {
        VrMsg m = sample(t), d;
        encode(&w, &m);
        for (size_t len = 0; len < w.len; len++) {
            assert_false(vr_msg_decode(w.data, len, &d));
            assert_null(vr_msg_kind(w.data, len));
            FlMsgField f[FL_MAX_MSG_FIELDS];
            assert_int_equal(vr_msg_fields(w.data, len, f, FL_MAX_MSG_FIELDS), 0);
        }
        fl_put_u8(&w, 0);
        assert_false(vr_msg_decode(w.data, w.len, &d));
    }
    fl_writer_deinit(&w);
}

/* Fields an honest replica never sends. */
static void test_invalid(void **st)
{
    (void)st;
    fill_entries();
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    VrMsg d;

    VrMsg m = sample(VR_PREPARE);
    m.commit = m.op + 1;            /* commit past op */
    encode(&w, &m);
    assert_false(vr_msg_decode(w.data, w.len, &d));

    m = sample(VR_PREPARE);
    m.op = VR_MAX_LOG + 1;          /* past the log bound */
    encode(&w, &m);
    assert_false(vr_msg_decode(w.data, w.len, &d));

    m = sample(VR_PREPARE);
    m.view = VR_MAX_VIEW;           /* a view that could wrap */
    encode(&w, &m);
    assert_false(vr_msg_decode(w.data, w.len, &d));

    m = sample(VR_PREPARE);
    m.primary = true;               /* the flag only in RecoveryResponse */
    encode(&w, &m);
    assert_false(vr_msg_decode(w.data, w.len, &d));

    m = sample(VR_START_VIEW);
    m.n = 2, m.entries = &entries[1];   /* a partial log where a whole one is due */
    encode(&w, &m);
    assert_false(vr_msg_decode(w.data, w.len, &d));

    m = sample(VR_DO_VIEW_CHANGE);
    m.aux = m.view + 1;             /* last normal view after the view */
    encode(&w, &m);
    assert_false(vr_msg_decode(w.data, w.len, &d));

    m = sample(VR_PREPARE_OK);
    m.n = 1, m.entries = entries;   /* entries on a type that carries none */
    encode(&w, &m);
    assert_false(vr_msg_decode(w.data, w.len, &d));

    m = sample(VR_RECOVERY_RESPONSE);
    m.primary = false;              /* a backup's answer carries no log */
    encode(&w, &m);
    assert_false(vr_msg_decode(w.data, w.len, &d));

    m = sample(VR_PREPARE);
    FlRequest noop = entries[1];
    noop.op.kind = FL_OP_NOOP;      /* not a client operation */
    m.entries = &noop, m.n = 1;
    encode(&w, &m);
    assert_false(vr_msg_decode(w.data, w.len, &d));

    m = sample(VR_PREPARE);
    encode(&w, &m);
    w.data[0] = VR_MSG_MAX;         /* unknown type */
    assert_false(vr_msg_decode(w.data, w.len, &d));
    w.data[0] = 0;
    assert_false(vr_msg_decode(w.data, w.len, &d));

    m = sample(VR_PREPARE);
    encode(&w, &m);
    w.data[VR_OFF_N] = 0xff;        /* a count the bytes cannot hold */
    assert_false(vr_msg_decode(w.data, w.len, &d));
    fl_writer_deinit(&w);
}

/* The fields a mutation may change sit where vr.h says. */
static void test_fields(void **st)
{
    (void)st;
    fill_entries();
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    VrMsg m = sample(VR_PREPARE);
    encode(&w, &m);
    FlMsgField f[FL_MAX_MSG_FIELDS];
    int k = vr_msg_fields(w.data, w.len, f, FL_MAX_MSG_FIELDS);
    assert_int_equal(k, 3);
    assert_string_equal(f[0].name, "view");
    assert_int_equal(f[0].offset, VR_OFF_VIEW);
    assert_int_equal(w.data[f[0].offset], 6);
    assert_int_equal(w.data[f[1].offset], 5);
    assert_int_equal(w.data[f[2].offset], 3);
    assert_string_equal(vr_msg_kind(w.data, w.len), "Prepare");
    fl_writer_deinit(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
