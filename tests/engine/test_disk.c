/* Tests of durable storage and crash-restart.
 *
 * First sim/disk directly: only synced bytes survive fl_disk_crash.  Then end
 * to end through a world, with a small protocol defined here that writes
 * synced and unsynced data in `init` and reports what `recover` finds.  The
 * protocol reports through the globals below: allowed in tests, never in
 * protocols/. */
#include "sim/disk.h"
#include "sim/world.h"

#include "sim/fault.h"

#include <glib.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* Checks that @file reads as exactly @want (NULL: does not exist). */
static void expect_file(FlDisk *d, const char *file, const char *want)
{
    size_t len = 12345;
    const uint8_t *p = fl_disk_do_view(d, file, &len);
    if (!want) {
        assert_null(p);
        assert_int_equal(len, 0);
        return;
    }
    assert_int_equal(len, strlen(want));
    if (len)
        assert_memory_equal(p, want, len);
}

static void put(FlDisk *d, const char *file, const char *s)
{
    fl_disk_do_append(d, file, s, strlen(s));
}

static void test_unsynced_lost(void **state)
{
    FlDisk *d = fl_disk_new();
    put(d, "log", "abc");
    expect_file(d, "log", "abc");           /* reads see the cache at once */
    assert_int_equal(fl_disk_unsynced(d), 3);
    fl_disk_crash(d);
    size_t len = 99;
    fl_disk_do_view(d, "log", &len);
    assert_int_equal(len, 0);               /* nothing was synced */
    assert_int_equal(fl_disk_unsynced(d), 0);
    expect_file(d, "never", NULL);
    fl_disk_free(d);
}

static void test_synced_survive(void **state)
{
    FlDisk *d = fl_disk_new();
    put(d, "log", "abc");
    fl_disk_do_sync(d, "log");
    assert_int_equal(fl_disk_unsynced(d), 0);
    fl_disk_crash(d);
    expect_file(d, "log", "abc");
    /* Crashing again changes nothing. */
    fl_disk_crash(d);
    expect_file(d, "log", "abc");
    fl_disk_free(d);
}

static void test_append_sync_append_crash(void **state)
{
    FlDisk *d = fl_disk_new();
    put(d, "log", "one,");
    fl_disk_do_sync(d, "log");
    put(d, "log", "two,");
    fl_disk_do_sync(d, "log");
    put(d, "log", "three,");
    expect_file(d, "log", "one,two,three,");
    assert_int_equal(fl_disk_unsynced(d), 6);
    fl_disk_crash(d);
    expect_file(d, "log", "one,two,");
    /* Life goes on after the crash: appends and syncs build on the prefix. */
    put(d, "log", "four,");
    fl_disk_do_sync(d, "log");
    put(d, "log", "five,");
    fl_disk_crash(d);
    expect_file(d, "log", "one,two,four,");
    fl_disk_free(d);
}

static void test_rewrite_crash_restores_old(void **state)
{
    FlDisk *d = fl_disk_new();
    fl_disk_do_write(d, "meta", "term=1", 6);
    fl_disk_do_sync(d, "meta");
    fl_disk_do_write(d, "meta", "term=22", 7);
    expect_file(d, "meta", "term=22");
    assert_true(fl_disk_unsynced(d) > 0);
    fl_disk_crash(d);
    expect_file(d, "meta", "term=1");
    /* A shorter rewrite, synced, replaces the whole durable content. */
    fl_disk_do_write(d, "meta", "t=3", 3);
    fl_disk_do_sync(d, "meta");
    fl_disk_crash(d);
    expect_file(d, "meta", "t=3");
    /* A same-length rewrite after an append-style sync is still a rewrite. */
    fl_disk_do_write(d, "meta", "t=4", 3);
    fl_disk_do_sync(d, "meta");
    fl_disk_do_write(d, "meta", "t=5", 3);
    fl_disk_crash(d);
    expect_file(d, "meta", "t=4");
    /* Rewriting to empty and syncing empties the durable file. */
    fl_disk_do_write(d, "meta", NULL, 0);
    fl_disk_do_sync(d, "meta");
    fl_disk_crash(d);
    size_t len = 9;
    fl_disk_do_view(d, "meta", &len);
    assert_int_equal(len, 0);
    fl_disk_free(d);
}

static void test_truncate(void **state)
{
    FlDisk *d = fl_disk_new();
    put(d, "log", "abcdef");
    fl_disk_do_sync(d, "log");
    /* Longer than the file: no-op. */
    fl_disk_do_truncate(d, "log", 100);
    expect_file(d, "log", "abcdef");
    fl_disk_do_truncate(d, "log", 6);
    expect_file(d, "log", "abcdef");
    assert_int_equal(fl_disk_unsynced(d), 0);
    /* A truncation not synced is undone by a crash. */
    fl_disk_do_truncate(d, "log", 2);
    expect_file(d, "log", "ab");
    fl_disk_crash(d);
    expect_file(d, "log", "abcdef");
    /* Truncate, then append back past the old length, then sync: the
     * durable file is the new content, not old bytes with a new tail. */
    fl_disk_do_truncate(d, "log", 2);
    put(d, "log", "XYZWVU!");
    fl_disk_do_sync(d, "log");
    fl_disk_crash(d);
    expect_file(d, "log", "abXYZWVU!");
    /* Truncate, append back to exactly the old length, sync. */
    fl_disk_do_truncate(d, "log", 3);
    put(d, "log", "123456");
    fl_disk_do_sync(d, "log");
    fl_disk_crash(d);
    expect_file(d, "log", "abX123456");
    /* Truncate to 0 and sync. */
    fl_disk_do_truncate(d, "log", 0);
    fl_disk_do_sync(d, "log");
    fl_disk_crash(d);
    size_t len = 9;
    fl_disk_do_view(d, "log", &len);
    assert_int_equal(len, 0);
    /* Truncating or syncing a file that does not exist creates nothing. */
    fl_disk_do_truncate(d, "nope", 0);
    fl_disk_do_sync(d, "nope2");
    expect_file(d, "nope", NULL);
    expect_file(d, "nope2", NULL);
    assert_int_equal(fl_disk_files(d), 1);
    fl_disk_free(d);
}

/* Files are independent: syncing one makes nothing else durable. */
static void test_files_independent(void **state)
{
    FlDisk *d = fl_disk_new();
    put(d, "a", "1");
    put(d, "b", "2");
    put(d, "c", "3");
    fl_disk_do_sync(d, "b");
    fl_disk_crash(d);
    size_t len;
    fl_disk_do_view(d, "a", &len);
    assert_int_equal(len, 0);
    expect_file(d, "b", "2");
    fl_disk_do_view(d, "c", &len);
    assert_int_equal(len, 0);
    /* Creation order is kept, for disk faults that pick a file. */
    assert_int_equal(fl_disk_files(d), 3);
    GByteArray *b = fl_disk_durable(d, 1);
    assert_int_equal(b->len, 1);
    assert_int_equal(b->data[0], '2');
    /* A disk fault corrupting durable bytes: the corruption shows after a
     * crash. */
    b->data[0] = 'X';
    fl_disk_crash(d);
    expect_file(d, "b", "X");
    fl_disk_free(d);
}

/* Random operations against a model of two byte strings per file. */
static void test_random_against_model(void **state)
{
    FlRng rng;
    fl_rng_init(&rng, 77, "disk-model");
    printf("# disk model: seed=77 steps=20000\n");
    FlDisk *d = fl_disk_new();
    static const char *const names[] = { "x", "y" };
    GString *cache[2] = { g_string_new(NULL), g_string_new(NULL) };
    GString *durable[2] = { g_string_new(NULL), g_string_new(NULL) };
    for (int step = 0; step < 20000; step++) {
        int f = (int)fl_rng_below(&rng, 2);
        char buf[8];
        size_t n = fl_rng_below(&rng, sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)('a' + fl_rng_below(&rng, 26));
        switch (fl_rng_below(&rng, 6)) {
        case 0:
            fl_disk_do_write(d, names[f], buf, n);
            g_string_truncate(cache[f], 0);
            g_string_append_len(cache[f], buf, (gssize)n);
            break;
        case 1:
        case 2:
            fl_disk_do_append(d, names[f], buf, n);
            g_string_append_len(cache[f], buf, (gssize)n);
            break;
        case 3: {
            size_t to = fl_rng_below(&rng, cache[f]->len + 3);
            fl_disk_do_truncate(d, names[f], to);
            if (to < cache[f]->len)
                g_string_truncate(cache[f], to);
            break;
        }
        case 4:
            fl_disk_do_sync(d, names[f]);
            g_string_assign(durable[f], "");
            g_string_append_len(durable[f], cache[f]->str, (gssize)cache[f]->len);
            break;
        case 5:
            if (fl_rng_below(&rng, 4) == 0) {
                fl_disk_crash(d);
                for (int k = 0; k < 2; k++) {
                    g_string_assign(cache[k], "");
                    g_string_append_len(cache[k], durable[k]->str, (gssize)durable[k]->len);
                }
            }
            break;
        }
        for (int k = 0; k < 2; k++) {
            size_t len;
            const uint8_t *p = fl_disk_do_view(d, names[k], &len);
            if (len != cache[k]->len || (len && memcmp(p, cache[k]->str, len) != 0))
                fail_msg("step %d: file %s reads %zu bytes, model has %zu", step, names[k],
                         len, cache[k]->len);
        }
    }
    for (int k = 0; k < 2; k++) {
        g_string_free(cache[k], TRUE);
        g_string_free(durable[k], TRUE);
    }
    fl_disk_free(d);
}

/* ---- end to end: a protocol that crashes and recovers ------------------- */

typedef struct DiskTest {
    int marker;   /* set by init: recover must find its state zeroed */
} DiskTest;

/* What the protocol saw; reset by each test. */
static struct {
    int inits, recovers, destroys;
    char seen_f[64], seen_g[64], seen_h[64];
    size_t seen_g_len;
    bool g_exists;
    int marker_at_recover;
    int timers_fired[4];      /* by tag */
    int pings_at_0;
    FlTime recover_time;
} seen;

enum { TAG_OLD = 1, TAG_NEW = 2, TAG_PING = 3 };

static void copy_file(FlNode *n, const char *file, char *out)
{
    size_t len = fl_disk_read(n, file, out, 63);
    out[len < 63 ? len : 63] = '\0';
}

static void dt_init(FlNode *n, void *state)
{
    DiskTest *s = state;
    s->marker = 42;
    if (fl_self(n) == 0) {
        seen.inits++;
        fl_disk_write(n, "f", "a", 1);
        fl_disk_sync(n, "f");
        fl_disk_append(n, "f", "b", 1);        /* not synced: lost */
        fl_disk_write(n, "g", "never synced", 12);
        fl_disk_write(n, "h", "old", 3);
        fl_disk_sync(n, "h");
        fl_disk_write(n, "h", "new", 3);       /* rewrite, not synced */
        fl_timer(n, FL_SEC(3), TAG_OLD);       /* dies with the crash */
    } else {
        /* Node 1 pings node 0 while it is down, and after it is back. */
        fl_timer(n, FL_MS(1500), TAG_PING);
        fl_timer(n, FL_MS(2500), TAG_PING);
    }
}

static void dt_recover(FlNode *n, void *state)
{
    DiskTest *s = state;
    seen.recovers++;
    seen.marker_at_recover = s->marker;
    seen.recover_time = fl_now(n);
    copy_file(n, "f", seen.seen_f);
    copy_file(n, "h", seen.seen_h);
    size_t len = 99;
    seen.g_exists = fl_disk_view(n, "g", &len) != NULL;
    seen.seen_g_len = len;
    copy_file(n, "g", seen.seen_g);
    fl_timer(n, FL_MS(1500), TAG_NEW);
}

static void dt_destroy(FlNode *n, void *state)
{
    if (fl_self(n) == 0)
        seen.destroys++;
}

static void dt_on_message(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len)
{
    if (fl_self(n) == 0 && len == 4 && memcmp(msg, "ping", 4) == 0)
        seen.pings_at_0++;
}

static void dt_on_timer(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    if (fl_self(n) == 0)
        seen.timers_fired[tag]++;
    if (tag == TAG_PING)
        fl_send(n, 0, "ping", 4);
}

static const FlProtocol disktest = {
    .name = "disktest",
    .summary = "test protocol: synced and unsynced writes, then a crash",
    .state_size = sizeof(DiskTest),
    .init = dt_init,
    .recover = dt_recover,
    .destroy = dt_destroy,
    .on_message = dt_on_message,
    .on_timer = dt_on_timer,
};

static struct {
    bool up_while_down;
    size_t f_len_while_down;
} probe;

static void crash_cb(FlWorld *w, void *ctx, uint64_t node)
{
    fl_world_crash(w, (uint32_t)node);
    fl_world_crash(w, (uint32_t)node);   /* a no-op when already down */
}

static void probe_cb(FlWorld *w, void *ctx, uint64_t node)
{
    probe.up_while_down = fl_world_node_up(w, (uint32_t)node);
    fl_disk_do_view(fl_world_disk(w, (uint32_t)node), "f", &probe.f_len_while_down);
}

static void restart_cb(FlWorld *w, void *ctx, uint64_t node)
{
    fl_world_restart(w, (uint32_t)node);
    fl_world_restart(w, (uint32_t)node);   /* a no-op when already up */
}

static void check_recovery(void)
{
    assert_int_equal(seen.inits, 1);
    assert_int_equal(seen.recovers, 1);
    assert_int_equal(seen.marker_at_recover, 0);    /* state wiped */
    assert_string_equal(seen.seen_f, "a");          /* synced kept, unsynced lost */
    assert_string_equal(seen.seen_h, "old");        /* unsynced rewrite undone */
    assert_int_equal(seen.seen_g_len, 0);           /* never synced: empty */
    assert_string_equal(seen.seen_g, "");
    assert_int_equal(seen.recover_time, FL_SEC(2));
    /* The timer armed before the crash never fires; the new one does. */
    assert_int_equal(seen.timers_fired[TAG_OLD], 0);
    assert_int_equal(seen.timers_fired[TAG_NEW], 1);
    /* The ping sent while node 0 was down is lost; the later one arrives. */
    assert_int_equal(seen.pings_at_0, 1);
    /* destroy: once at the crash, once at the end of the run. */
    assert_int_equal(seen.destroys, 2);
}

static void test_world_crash_restart(void **state)
{
    memset(&seen, 0, sizeof seen);
    memset(&probe, 0, sizeof probe);
    FlScenario *sc = fl_scenario_new(&disktest, 2);
    sc->duration = FL_SEC(5);
    GError *err = NULL;
    FlWorldOptions opt = { .trace_path = NULL, .record_history = true };
    FlWorld *w = fl_world_new(sc, &opt, &err);
    assert_non_null(w);
    assert_true(fl_world_node_up(w, 0));
    fl_world_at(w, FL_SEC(1), crash_cb, NULL, 0);
    fl_world_at(w, FL_MS(1700), probe_cb, NULL, 0);
    fl_world_at(w, FL_SEC(2), restart_cb, NULL, 0);
    assert_int_equal(fl_world_run(w, &err), 0);
    assert_null(err);
    assert_false(probe.up_while_down);
    assert_int_equal(probe.f_len_while_down, 1);    /* the disk, seen from outside */
    assert_true(fl_world_node_up(w, 0));
    assert_true(fl_world_stats(w)->dropped >= 1);
    fl_world_free(w);
    check_recovery();
    fl_scenario_free(sc);
}

/* The same through the `crash` fault of a scenario file.  Test protocols
 * are not in the registry, so the JSON names `single` (which, like the test
 * protocol, declares no parameters) and the test swaps the protocol in
 * after loading. */
static void test_fault_crash_restart(void **state)
{
    memset(&seen, 0, sizeof seen);
    static const char text[] =
        "{ \"name\": \"disk-crash\", \"seed\": 3, \"duration\": \"5s\","
        "  \"cluster\": { \"protocol\": \"single\", \"nodes\": 2 },"
        "  \"network\": { \"timing\": \"sync\", \"bound\": \"5ms\" },"
        "  \"faults\": [ { \"at\": \"1s\", \"kind\": \"crash\", \"node\": 0,"
        "                  \"restart_after\": \"1s\" } ] }";
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    assert_non_null(root);
    GError *err = NULL;
    FlScenario *sc = fl_scenario_from_json(root, "disk-crash.json", -1, &err);
    json_decref(root);
    if (!sc)
        fail_msg("%s", err->message);
    assert_null(sc->protocol->params);
    sc->protocol = &disktest;
    FlWorld *w = fl_world_new(sc, NULL, &err);
    assert_non_null(w);
    assert_int_equal(fl_world_run(w, &err), 0);
    json_t *iv = fl_world_fault_intervals(w);
    assert_int_equal(json_array_size(iv), 1);
    json_t *first = json_array_get(iv, 0);
    assert_string_equal(json_string_value(json_object_get(first, "kind")), "crash");
    assert_int_equal(json_integer_value(json_object_get(first, "start")), FL_SEC(1));
    assert_int_equal(json_integer_value(json_object_get(first, "stop")), FL_SEC(2));
    json_decref(iv);
    fl_world_free(w);
    check_recovery();
    fl_scenario_free(sc);
}

/* A crash without restart: recover never runs, and the node stays down. */
static void test_crash_no_restart(void **state)
{
    memset(&seen, 0, sizeof seen);
    FlScenario *sc = fl_scenario_new(&disktest, 2);
    sc->duration = FL_SEC(5);
    GError *err = NULL;
    FlWorld *w = fl_world_new(sc, NULL, &err);
    fl_world_at(w, FL_SEC(1), crash_cb, NULL, 0);
    assert_int_equal(fl_world_run(w, &err), 0);
    assert_false(fl_world_node_up(w, 0));
    assert_int_equal(seen.recovers, 0);
    assert_int_equal(seen.pings_at_0, 0);
    assert_int_equal(seen.timers_fired[TAG_OLD], 0);
    assert_int_equal(seen.destroys, 1);
    fl_world_free(w);
    assert_int_equal(seen.destroys, 1);   /* a down node is not destroyed twice */
    fl_scenario_free(sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unsynced_lost),
        cmocka_unit_test(test_synced_survive),
        cmocka_unit_test(test_append_sync_append_crash),
        cmocka_unit_test(test_rewrite_crash_restores_old),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_files_independent),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_world_crash_restart),
        cmocka_unit_test(test_fault_crash_restart),
        cmocka_unit_test(test_crash_no_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
