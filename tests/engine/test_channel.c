/* The network's defences (sim/channel.h) alone: no world, no protocol.
 * A sealed message opens to what was sealed; a flipped byte anywhere, a
 * wrong link or a sender without a key is refused; encryption hides the
 * payload; the replay window takes each sequence number once and refuses
 * what is too old; the same seed seals the same bytes. */
#include "sim/channel.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static const uint8_t msg[] = "AppendEntries term 7 value 123456789";

static bool contains(const uint8_t *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return true;
    return false;
}

static FlChannel *chan(FlAuth auth, bool encrypt, uint32_t window)
{
    FlChannelSpec s = { auth, encrypt, window };
    return fl_channel_new(&s, 5, 42);
}

static void test_roundtrip_each_mode(void **state)
{
    const FlChannelSpec specs[] = {
        { FL_AUTH_MAC, false, 0 }, { FL_AUTH_NONE, true, 0 }, { FL_AUTH_NONE, false, 8 },
        { FL_AUTH_MAC, true, 64 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(specs); i++) {
        assert_true(fl_channel_spec_on(&specs[i]));
        FlChannel *c = fl_channel_new(&specs[i], 5, 42);
        g_autoptr(GByteArray) wire = g_byte_array_new();
        g_autoptr(GByteArray) out = g_byte_array_new();
        fl_channel_seal(c, 1, 2, msg, sizeof msg, wire);
        assert_int_equal(wire->len, sizeof msg + fl_channel_overhead(c));
        assert_int_equal(fl_channel_open(c, 1, 2, wire->data, wire->len, out), FL_CHANNEL_OK);
        assert_int_equal(out->len, sizeof msg);
        assert_memory_equal(out->data, msg, sizeof msg);
        fl_channel_free(c);
    }
    FlChannelSpec off = { FL_AUTH_NONE, false, 0 };
    assert_false(fl_channel_spec_on(&off));
}

/* Every single-byte change of a MAC'd or encrypted message is caught:
 * in the sequence number, the body and the tag. */
static void test_flipped_byte_dropped(void **state)
{
    for (int enc = 0; enc <= 1; enc++) {
        FlChannel *c = chan(enc ? FL_AUTH_NONE : FL_AUTH_MAC, enc, 0);
        g_autoptr(GByteArray) wire = g_byte_array_new();
        g_autoptr(GByteArray) out = g_byte_array_new();
        fl_channel_seal(c, 0, 3, msg, sizeof msg, wire);
        for (guint i = 0; i < wire->len; i++) {
            wire->data[i] ^= 0x20;
            assert_int_equal(fl_channel_open(c, 0, 3, wire->data, wire->len, out), FL_CHANNEL_AUTH);
            wire->data[i] ^= 0x20;
        }
        /* Too short to hold the header and tag. */
        assert_int_equal(fl_channel_open(c, 0, 3, wire->data, 10, out), FL_CHANNEL_MALFORMED);
        assert_int_equal(fl_channel_open(c, 0, 3, wire->data, wire->len, out), FL_CHANNEL_OK);
        fl_channel_free(c);
    }
}

/* A message moved to another link (inject as another node), or sent by an
 * endpoint outside the cluster, has the wrong key or none. */
static void test_wrong_link_and_outsider(void **state)
{
    FlChannel *c = chan(FL_AUTH_MAC, false, 0);
    g_autoptr(GByteArray) wire = g_byte_array_new();
    g_autoptr(GByteArray) out = g_byte_array_new();
    fl_channel_seal(c, 1, 2, msg, sizeof msg, wire);
    assert_int_equal(fl_channel_open(c, 3, 2, wire->data, wire->len, out), FL_CHANNEL_AUTH);
    assert_int_equal(fl_channel_open(c, 2, 1, wire->data, wire->len, out), FL_CHANNEL_AUTH);
    assert_int_equal(fl_channel_open(c, 99, 2, wire->data, wire->len, out), FL_CHANNEL_AUTH);
    /* Authentication alone takes the same message twice: replays need the window. */
    assert_int_equal(fl_channel_open(c, 1, 2, wire->data, wire->len, out), FL_CHANNEL_OK);
    assert_int_equal(fl_channel_open(c, 1, 2, wire->data, wire->len, out), FL_CHANNEL_OK);
    fl_channel_free(c);
}

static void test_encrypt_hides_payload(void **state)
{
    FlChannel *c = chan(FL_AUTH_NONE, true, 0);
    g_autoptr(GByteArray) wire = g_byte_array_new();
    fl_channel_seal(c, 1, 2, msg, sizeof msg, wire);
    size_t off, len;
    assert_false(fl_channel_clear(c, wire->len, &off, &len));
    assert_int_equal(off, FL_CHANNEL_SEQ_BYTES);
    assert_int_equal(len, sizeof msg);
    assert_false(contains(wire->data, wire->len, "123456789"));
    assert_false(contains(wire->data, wire->len, "AppendEntries"));
    fl_channel_free(c);
    /* In clear with MAC only. */
    c = chan(FL_AUTH_MAC, false, 0);
    fl_channel_seal(c, 1, 2, msg, sizeof msg, wire);
    assert_true(fl_channel_clear(c, wire->len, &off, &len));
    assert_memory_equal(wire->data + off, msg, len);
    fl_channel_free(c);
}

/* Seals n messages on link 0 -> 1 into @wires. */
static void seal_n(FlChannel *c, GPtrArray *wires, int n)
{
    for (int i = 0; i < n; i++) {
        GByteArray *b = g_byte_array_new();
        fl_channel_seal(c, 0, 1, msg, sizeof msg, b);
        g_ptr_array_add(wires, b);
    }
}

static FlChannelVerdict open_i(FlChannel *c, GPtrArray *wires, int i)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    GByteArray *b = g_ptr_array_index(wires, i);
    return fl_channel_open(c, 0, 1, b->data, b->len, out);
}

static void test_replay_window(void **state)
{
    for (int mac = 0; mac <= 1; mac++) {
        FlChannel *c = chan(mac ? FL_AUTH_MAC : FL_AUTH_NONE, false, 4);
        g_autoptr(GPtrArray) w = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
        seal_n(c, w, 10);   /* seq 1..10 */
        assert_int_equal(open_i(c, w, 0), FL_CHANNEL_OK);
        assert_int_equal(open_i(c, w, 0), FL_CHANNEL_REPLAY);       /* a duplicate */
        assert_int_equal(open_i(c, w, 5), FL_CHANNEL_OK);           /* seq 6: top */
        /* Within the window (6 - 3 < 4): out of order but new, once. */
        assert_int_equal(open_i(c, w, 2), FL_CHANNEL_OK);           /* seq 3 */
        assert_int_equal(open_i(c, w, 2), FL_CHANNEL_REPLAY);
        /* Outside it (6 - 2 >= 4): too old, even if never seen. */
        assert_int_equal(open_i(c, w, 1), FL_CHANNEL_REPLAY);       /* seq 2 */
        assert_int_equal(open_i(c, w, 4), FL_CHANNEL_OK);           /* seq 5 */
        assert_int_equal(open_i(c, w, 9), FL_CHANNEL_OK);           /* seq 10: jumps */
        assert_int_equal(open_i(c, w, 5), FL_CHANNEL_REPLAY);       /* seq 6: now too old */
        assert_int_equal(open_i(c, w, 8), FL_CHANNEL_OK);           /* seq 9 */
        fl_channel_free(c);
    }
}

/* A forged sequence number must not move the window when the MAC fails:
 * the genuine messages after it still pass. */
static void test_window_moves_only_when_authentic(void **state)
{
    FlChannel *c = chan(FL_AUTH_MAC, false, 4);
    g_autoptr(GPtrArray) w = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
    seal_n(c, w, 3);
    GByteArray *b = g_ptr_array_index(w, 0);
    g_autoptr(GByteArray) forged = g_byte_array_new();
    g_byte_array_append(forged, b->data, b->len);
    forged->data[7] = 0x7f;   /* seq 2^62-ish */
    g_autoptr(GByteArray) out = g_byte_array_new();
    assert_int_equal(fl_channel_open(c, 0, 1, forged->data, forged->len, out), FL_CHANNEL_AUTH);
    for (int i = 0; i < 3; i++)
        assert_int_equal(open_i(c, w, i), FL_CHANNEL_OK);
    fl_channel_free(c);
}

/* The same seed and sends give the same wire bytes; another seed other keys. */
static void test_deterministic(void **state)
{
    g_autoptr(GByteArray) a = g_byte_array_new();
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GByteArray) out = g_byte_array_new();
    FlChannelSpec s = { FL_AUTH_MAC, true, 16 };
    FlChannel *c1 = fl_channel_new(&s, 5, 7), *c2 = fl_channel_new(&s, 5, 7);
    FlChannel *c3 = fl_channel_new(&s, 5, 8);
    for (int i = 0; i < 3; i++) {
        fl_channel_seal(c1, 4, 0, msg, sizeof msg, a);
        fl_channel_seal(c2, 4, 0, msg, sizeof msg, b);
        assert_int_equal(a->len, b->len);
        assert_memory_equal(a->data, b->data, a->len);
    }
    fl_channel_seal(c3, 4, 0, msg, sizeof msg, b);
    fl_channel_seal(c3, 4, 0, msg, sizeof msg, b);
    fl_channel_seal(c3, 4, 0, msg, sizeof msg, b);
    assert_memory_not_equal(a->data, b->data, a->len);
    assert_int_equal(fl_channel_open(c3, 4, 0, a->data, a->len, out), FL_CHANNEL_AUTH);
    fl_channel_free(c1);
    fl_channel_free(c2);
    fl_channel_free(c3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_each_mode),
        cmocka_unit_test(test_flipped_byte_dropped),
        cmocka_unit_test(test_wrong_link_and_outsider),
        cmocka_unit_test(test_encrypt_hides_payload),
        cmocka_unit_test(test_replay_window),
        cmocka_unit_test(test_window_moves_only_when_authentic),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
