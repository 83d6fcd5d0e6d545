/* The `trigger` fault (faults/trigger.c): a crash right after a protocol
 * event.  For each event (a message of a kind sent, a role taken, a disk
 * write before its sync, an acknowledgement to a client, and the count
 * from a role change) the trace must show the event, the trigger firing
 * and the node's crash at the same instant, with nothing the node did in
 * between; the handler's later effects are lost; runs replay exactly; and
 * bad specs are refused with a message that names the field. */
#include "tests/faults/helpers.h"

#include "faults/registry.h"
#include "protocols/registry.h"
#include "sim/world.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* Two-phase commit with node 0 coordinating every transfer, as
 * scenarios/05-transactions/2pc-coordinator-crash.json runs it. */
#define TWOPC(faults)                                                                      \
    "{\"seed\":3,\"duration\":\"3s\",\"cluster\":{\"protocol\":\"2pc\",\"nodes\":4,"      \
    "\"params\":{\"coordinators\":\"one\",\"timeout\":\"40ms\",\"retry\":\"10ms\"}},"     \
    "\"network\":{\"timing\":\"sync\",\"bound\":\"5ms\",\"delay\":{\"dist\":\"uniform\","  \
    "\"min\":\"1ms\",\"max\":\"5ms\"}},\"workload\":{\"model\":\"txn\",\"clients\":4,"     \
    "\"keys\":12,\"rate\":200,\"timeout\":\"500ms\",\"until\":\"2s\"},"                    \
    "\"faults\":" faults "}"

static FlScenario *load(const char *text)
{
    GError *err = NULL;
    FlScenario *sc = fx_scenario_text(text, &err);
    if (!sc)
        fail_msg("%s", err->message);
    return sc;
}

static const char *ev_name(json_t *e) { return json_string_value(json_object_get(e, "ev")); }
static int64_t ev_int(json_t *e, const char *k) { return json_integer_value(json_object_get(e, k)); }
static const char *ev_text(json_t *e) { return json_string_value(json_object_get(e, "text")); }

/* The index of the first fault event whose text starts with @prefix, or -1. */
static ssize_t find_fault(json_t *trace, const char *prefix)
{
    for (size_t i = 0; i < json_array_size(trace); i++) {
        json_t *e = json_array_get(trace, i);
        if (strcmp(ev_name(e), "fault") == 0 && ev_text(e) &&
            strncmp(ev_text(e), prefix, strlen(prefix)) == 0)
            return (ssize_t)i;
    }
    return -1;
}

/* From the firing at @fire on: the next events of @node up to its crash
 * are only trace lines (the engine's "crashed at handler return"), at the
 * same instant; returns the crash's index. */
static size_t assert_crash_follows(json_t *trace, size_t fire, uint32_t node)
{
    int64_t t = ev_int(json_array_get(trace, fire), "t");
    for (size_t i = fire + 1; i < json_array_size(trace); i++) {
        json_t *e = json_array_get(trace, i);
        assert_int_equal(ev_int(e, "t"), t);
        const char *ev = ev_name(e);
        if (strcmp(ev, "crash") == 0) {
            assert_int_equal(ev_int(e, "node"), node);
            return i;
        }
        /* Nothing of the node's own may come between. */
        if (strcmp(ev, "send") == 0)
            assert_int_not_equal(ev_int(e, "from"), node);
        if (strcmp(ev, "role") == 0)
            assert_int_not_equal(ev_int(e, "node"), node);
    }
    fail_msg("no crash after the trigger fired");
    return 0;
}

/* on send: the coordinator crashes right after its first PREPARE; the other
 * participant of that transfer never gets one, and it restarts at once. */
static void test_send(void **state)
{
    FlScenario *sc = load(TWOPC("[{\"kind\":\"trigger\",\"at\":\"1s\",\"node\":0,\"on\":\"send\","
                                "\"message\":\"PREPARE\",\"restart_after\":\"0s\"}]"));
    json_t *trace = fx_trace(sc);
    ssize_t fire = find_fault(trace, "start trigger node 0 sent PREPARE to ");
    assert_true(fire > 0);
    /* The event right before the firing is that send, from node 0. */
    json_t *sent = json_array_get(trace, (size_t)fire - 1);
    assert_string_equal(ev_name(sent), "send");
    assert_int_equal(ev_int(sent, "from"), 0);
    assert_true(ev_int(sent, "t") >= FL_SEC(1));
    size_t crash = assert_crash_follows(trace, (size_t)fire, 0);
    json_t *line = json_array_get(trace, crash - 1);
    assert_string_equal(ev_name(line), "log");
    assert_non_null(strstr(ev_text(line), "crashed at handler return (trigger)"));
    /* restart_after 0s: back at the same instant, after the crash. */
    bool restarted = false;
    for (size_t i = crash + 1; i < json_array_size(trace) && !restarted; i++) {
        json_t *e = json_array_get(trace, i);
        if (strcmp(ev_name(e), "restart") == 0 && ev_int(e, "node") == 0) {
            assert_int_equal(ev_int(e, "t"), ev_int(sent, "t"));
            restarted = true;
        }
    }
    assert_true(restarted);
    /* It fires once. */
    assert_int_equal(find_fault(trace, "start trigger") , fire);
    for (size_t i = (size_t)fire + 1; i < json_array_size(trace); i++) {
        json_t *e = json_array_get(trace, i);
        if (strcmp(ev_name(e), "fault") == 0)
            assert_null(strstr(ev_text(e), "start trigger"));
    }
    json_decref(trace);
    fl_scenario_free(sc);
}

/* count: the k-th match, here the third COMMIT decision node 0 sends. */
static void test_send_count(void **state)
{
    FlScenario *sc = load(TWOPC("[{\"kind\":\"trigger\",\"node\":0,\"on\":\"send\","
                                "\"message\":\"COMMIT\",\"count\":3}]"));
    json_t *trace = fx_trace(sc);
    ssize_t fire = find_fault(trace, "start trigger node 0 sent COMMIT to ");
    assert_true(fire > 0);
    assert_non_null(strstr(ev_text(json_array_get(trace, (size_t)fire)), "(3rd match)"));
    assert_crash_follows(trace, (size_t)fire, 0);
    json_decref(trace);
    fl_scenario_free(sc);
}

/* when before, in_handler 2: the coordinator told one participant COMMIT
 * and crashed before the second COMMIT of the same decision left. */
static void test_send_before(void **state)
{
    FlScenario *sc = load(TWOPC("[{\"kind\":\"trigger\",\"at\":\"1s\",\"node\":0,\"on\":\"send\","
                                "\"message\":\"COMMIT\",\"in_handler\":2,\"when\":\"before\"}]"));
    json_t *trace = fx_trace(sc);
    ssize_t fire = find_fault(trace, "start trigger node 0 was about to send COMMIT to ");
    assert_true(fire > 0);
    json_t *e = json_array_get(trace, (size_t)fire);
    assert_non_null(strstr(ev_text(e), "(1st match, 2nd of its handler)"));
    assert_non_null(strstr(ev_text(e), "the message lost"));
    /* The first COMMIT left just before, to the other participant. */
    json_t *sent = json_array_get(trace, (size_t)fire - 1);
    assert_string_equal(ev_name(sent), "send");
    assert_int_equal(ev_int(sent, "from"), 0);
    assert_int_equal(ev_int(sent, "t"), ev_int(e, "t"));
    assert_crash_follows(trace, (size_t)fire, 0);
    json_decref(trace);
    fl_scenario_free(sc);
}

/* on role: the first node to become Raft leader crashes right after it
 * says so, before its first heartbeat goes out. */
static void test_role(void **state)
{
    FlScenario *sc = load("{\"seed\":5,\"duration\":\"3s\",\"cluster\":{\"protocol\":\"raft\","
                          "\"nodes\":3},\"faults\":[{\"kind\":\"trigger\",\"on\":\"role\","
                          "\"role\":\"leader\",\"restart_after\":\"100ms\"}]}");
    json_t *trace = fx_trace(sc);
    ssize_t fire = find_fault(trace, "start trigger node ");
    assert_true(fire > 0);
    json_t *role = json_array_get(trace, (size_t)fire - 1);
    assert_string_equal(ev_name(role), "role");
    assert_string_equal(ev_text(role), "leader");
    uint32_t node = (uint32_t)ev_int(role, "node");
    size_t crash = assert_crash_follows(trace, (size_t)fire, node);
    /* It was the first leader: no node said "leader" before. */
    for (ssize_t i = 0; i < fire - 1; i++) {
        json_t *e = json_array_get(trace, (size_t)i);
        if (strcmp(ev_name(e), "role") == 0)
            assert_string_not_equal(ev_text(e), "leader");
    }
    /* Restarted 100ms later, and someone leads afterwards. */
    bool restarted = false, led = false;
    for (size_t i = crash + 1; i < json_array_size(trace); i++) {
        json_t *e = json_array_get(trace, i);
        if (strcmp(ev_name(e), "restart") == 0 && ev_int(e, "node") == node) {
            assert_int_equal(ev_int(e, "t"), ev_int(role, "t") + FL_MS(100));
            restarted = true;
        }
        led |= strcmp(ev_name(e), "role") == 0 && strcmp(ev_text(e), "leader") == 0;
    }
    assert_true(restarted);
    assert_true(led);
    json_decref(trace);
    fl_scenario_free(sc);
}

/* Raft on three nodes under @faults (a JSON array). */
static FlScenario *raft3(const char *faults)
{
    g_autofree char *text = g_strdup_printf(
        "{\"seed\":5,\"duration\":\"4s\",\"cluster\":{\"protocol\":\"raft\",\"nodes\":3},"
        "\"workload\":{\"model\":\"kv\",\"clients\":3,\"keys\":2,\"rate\":100,"
        "\"until\":\"3.5s\"},\"faults\":%s}", faults);
    return load(text);
}

/* The index of the last event before @fire that is a send from @node to a
 * client (an id past the servers), or -1. */
static ssize_t last_reply_before(json_t *trace, size_t fire, uint32_t node, uint32_t servers)
{
    for (ssize_t i = (ssize_t)fire - 1; i >= 0; i--) {
        json_t *e = json_array_get(trace, (size_t)i);
        if (strcmp(ev_name(e), "send") == 0 && ev_int(e, "from") == node &&
            ev_int(e, "to") >= servers)
            return i;
    }
    return -1;
}

/* on reply: the leader crashes right after the acknowledgement it sends,
 * the third one from 1s on; the reply itself left. */
static void test_reply(void **state)
{
    FlScenario *sc = raft3("[{\"kind\":\"trigger\",\"at\":\"1s\",\"node\":\"leader\","
                           "\"on\":\"reply\",\"count\":3,\"restart_after\":\"100ms\"}]");
    json_t *trace = fx_trace(sc);
    ssize_t fire = find_fault(trace, "start trigger node ");
    assert_true(fire > 0);
    json_t *e = json_array_get(trace, (size_t)fire);
    assert_non_null(strstr(ev_text(e), "acknowledged an operation of client "));
    assert_non_null(strstr(ev_text(e), "(3rd match)"));
    /* The event right before the firing is that reply, to a client. */
    json_t *sent = json_array_get(trace, (size_t)fire - 1);
    assert_string_equal(ev_name(sent), "send");
    assert_true(ev_int(sent, "to") >= 3);
    assert_true(ev_int(sent, "t") >= FL_SEC(1));
    assert_crash_follows(trace, (size_t)fire, (uint32_t)ev_int(sent, "from"));
    json_decref(trace);
    fl_scenario_free(sc);
}

/* after_role: armed at 0.9s, the trigger ignores the leader of the moment
 * (its role does not change) and fires on the first acknowledgement of
 * the leader elected after the first one crashes at 1s. */
static void test_reply_after_role(void **state)
{
    FlScenario *sc = raft3("[{\"kind\":\"crash\",\"at\":\"1s\",\"node\":\"leader\","
                           "\"restart_after\":\"2s\"},"
                           "{\"kind\":\"trigger\",\"at\":\"900ms\",\"on\":\"reply\","
                           "\"after_role\":true,\"restart_after\":\"100ms\"}]");
    json_t *trace = fx_trace(sc);
    assert_true(find_fault(trace, "arm trigger crash node * at its 1st reply after a role "
                           "change") > 0);
    ssize_t fire = find_fault(trace, "start trigger node ");
    assert_true(fire > 0);
    json_t *e = json_array_get(trace, (size_t)fire);
    assert_non_null(strstr(ev_text(e), "(1st match since its role changed)"));
    json_t *sent = json_array_get(trace, (size_t)fire - 1);
    uint32_t node = (uint32_t)ev_int(sent, "from");
    assert_true(ev_int(sent, "t") > FL_SEC(1));
    /* It became leader after 1s, and this is its first reply since. */
    ssize_t became = -1;
    for (ssize_t i = 0; i < fire; i++) {
        json_t *r = json_array_get(trace, (size_t)i);
        if (strcmp(ev_name(r), "role") == 0 && ev_int(r, "node") == node &&
            ev_int(r, "t") > FL_SEC(1) && strcmp(ev_text(r), "leader") == 0)
            became = i;
    }
    assert_true(became > 0);
    assert_int_equal(last_reply_before(trace, (size_t)fire, node, 3), fire - 1);
    assert_true(last_reply_before(trace, (size_t)fire - 1, node, 3) < became);
    assert_crash_follows(trace, (size_t)fire, node);
    json_decref(trace);
    fl_scenario_free(sc);

    /* Without a role change while armed, nothing matches. */
    sc = raft3("[{\"kind\":\"trigger\",\"at\":\"1s\",\"for\":\"1s\",\"on\":\"reply\","
               "\"after_role\":true}]");
    trace = fx_trace(sc);
    assert_true(find_fault(trace, "disarm trigger never fired") > 0);
    assert_int_equal(find_fault(trace, "start trigger"), -1);
    json_decref(trace);
    fl_scenario_free(sc);
}

/* returning: the leader is cut off at 1s and its successor at 1.7s.  The
 * trigger fires only where the first leader (or the one before the
 * current) is elected again and acknowledges (seeds 4 and 6), never on a
 * node that leads for the first time (seeds 1 to 3: three leaders, each
 * new), and the node it fires on had led before. */
static void test_reply_returning(void **state)
{
    for (int seed = 1; seed <= 6; seed++) {
        if (seed == 5)
            continue;
        g_autofree char *text = g_strdup_printf(
            "{\"seed\":%d,\"duration\":\"4s\",\"cluster\":{\"protocol\":\"raft\",\"nodes\":3},"
            "\"workload\":{\"model\":\"kv\",\"clients\":3,\"keys\":2,\"rate\":100,"
            "\"until\":\"3.5s\"},\"faults\":[{\"kind\":\"partition\",\"at\":\"1s\",\"for\":\"500ms\","
            "\"isolate\":\"leader\"},{\"kind\":\"partition\",\"at\":\"1700ms\",\"for\":\"1s\","
            "\"isolate\":\"leader\"},{\"kind\":\"trigger\",\"at\":\"900ms\",\"on\":\"reply\","
            "\"after_role\":true,\"returning\":true,\"restart_after\":\"100ms\"}]}", seed);
        FlScenario *sc = load(text);
        json_t *trace = fx_trace(sc);
        assert_true(find_fault(trace, "arm trigger crash node * at its 1st reply after a return "
                               "to a role held before") > 0);
        ssize_t fire = find_fault(trace, "start trigger node ");
        if (seed <= 3) {
            assert_int_equal(fire, -1);
        } else {
            assert_true(fire > 0);
            uint32_t node = (uint32_t)ev_int(json_array_get(trace, (size_t)fire - 1), "from");
            int led = 0;
            for (ssize_t i = 0; i < fire; i++) {
                json_t *r = json_array_get(trace, (size_t)i);
                led += strcmp(ev_name(r), "role") == 0 && ev_int(r, "node") == node &&
                       strcmp(ev_text(r), "leader") == 0;
            }
            assert_true(led >= 2);
            assert_crash_follows(trace, (size_t)fire, node);
        }
        json_decref(trace);
        fl_scenario_free(sc);
    }
}

/* A protocol made for the disk test: every 100ms, node 0 appends eight
 * bytes to "log", syncs them, then tells node 1. */
static void disk_init(FlNode *n, void *state)
{
    if (fl_self(n) == 0)
        fl_timer(n, FL_MS(100), 1);
}

static void disk_tick(FlNode *n, void *state, FlTimerId t, uint64_t tag)
{
    fl_disk_append(n, "log", "abcdefgh", 8);
    fl_disk_sync(n, "log");
    fl_send(n, 1, "x", 1);
    fl_timer(n, FL_MS(100), 1);
}

static void disk_msg(FlNode *n, void *state, uint32_t from, const uint8_t *msg, size_t len) {}

static const FlProtocol disk_proto = {
    .name = "disk-test",
    .summary = "appends and syncs",
    .state_size = 1,
    .init = disk_init,
    .on_message = disk_msg,
    .on_timer = disk_tick,
};

static FlWorld *run_disk(const char *mode, FlScenario **psc)
{
    g_autofree char *text = g_strdup_printf(
        "{\"seed\":1,\"duration\":\"1s\",\"cluster\":{\"protocol\":\"single\",\"nodes\":2},"
        "\"faults\":[{\"kind\":\"trigger\",\"node\":0,\"on\":\"disk-write\",\"file\":\"log\","
        "\"count\":3,\"mode\":\"%s\"}]}", mode);
    FlScenario *sc = load(text);
    sc->protocol = &disk_proto;   /* it asks for no parameters */
    GError *err = NULL;
    FlWorld *w = fl_world_new(sc, NULL, &err);
    assert_non_null(w);
    assert_int_equal(fl_world_run(w, &err), 0);
    *psc = sc;
    return w;
}

/* on disk-write: the third append is never synced (the sync after it in
 * the same handler is lost with the crash), nor is the message after it
 * sent; a torn write keeps part of it. */
static void test_disk_write(void **state)
{
    FlScenario *sc;
    FlWorld *w = run_disk("lose-unsynced", &sc);
    assert_false(fl_world_node_up(w, 0));
    FlDisk *d = fl_world_disk(w, 0);
    guint i;
    assert_true(fl_disk_find(d, "log", &i));
    assert_int_equal(fl_disk_durable(d, i)->len, 16);
    assert_int_equal(fl_disk_unsynced(d), 0);
    /* Two ticks sent their message; the third's was lost. */
    assert_int_equal(fl_world_stats(w)->sent, 2);
    fl_world_free(w);
    fl_scenario_free(sc);

    w = run_disk("torn", &sc);
    d = fl_world_disk(w, 0);
    assert_true(fl_disk_find(d, "log", &i));
    size_t len = fl_disk_durable(d, i)->len;
    assert_true(len >= 16 && len < 24);
    assert_memory_equal(fl_disk_durable(d, i)->data, "abcdefghabcdefghabcdefgh", len);
    fl_world_free(w);
    fl_scenario_free(sc);
}

/* The trace of the disk test, for the order of events. */
static void test_disk_trace(void **state)
{
    FlScenario *sc = load("{\"seed\":1,\"duration\":\"1s\",\"cluster\":{\"protocol\":\"single\","
                          "\"nodes\":2},\"faults\":[{\"kind\":\"trigger\",\"node\":0,"
                          "\"on\":\"disk-write\",\"count\":3}]}");
    sc->protocol = &disk_proto;
    json_t *trace = fx_trace(sc);
    ssize_t fire = find_fault(trace, "start trigger node 0 appended 8 bytes to log (unsynced)");
    assert_true(fire > 0);
    assert_int_equal(ev_int(json_array_get(trace, (size_t)fire), "t"), FL_MS(300));
    size_t crash = assert_crash_follows(trace, (size_t)fire, 0);
    /* sync, send and the next timer: three effects lost. */
    assert_non_null(strstr(ev_text(json_array_get(trace, crash - 1)), ": 3 later effects lost"));
    json_decref(trace);
    fl_scenario_free(sc);
}

/* Same scenario and seed, same trace hash; and a trigger that never
 * matches leaves the run as it was without it. */
static void test_determinism(void **state)
{
    const char *text = TWOPC("[{\"kind\":\"trigger\",\"at\":\"500ms\",\"node\":0,\"on\":\"send\","
                             "\"message\":\"ABORT\",\"restart_after\":\"200ms\"}]");
    uint64_t h[2];
    for (int k = 0; k < 2; k++) {
        FlScenario *sc = load(text);
        GError *err = NULL;
        FlWorld *w = fl_world_new(sc, NULL, &err);
        assert_int_equal(fl_world_run(w, &err), 0);
        h[k] = fl_world_trace_hash(w);
        fl_world_free(w);
        fl_scenario_free(sc);
    }
    assert_true(h[0] == h[1]);
    /* A trigger on a node that sends nothing changes nothing but its own
     * arm line: compare the run's figures with no fault at all. */
    const char *never = TWOPC("[{\"kind\":\"trigger\",\"node\":2,\"on\":\"role\",\"role\":\"nobody\"}]");
    const char *none = TWOPC("[]");
    FlRunStats s[2];
    const char *texts[2] = { never, none };
    for (int k = 0; k < 2; k++) {
        FlScenario *sc = load(texts[k]);
        GError *err = NULL;
        FlWorld *w = fl_world_new(sc, NULL, &err);
        assert_int_equal(fl_world_run(w, &err), 0);
        s[k] = *fl_world_stats(w);
        s[k].latencies = NULL;
        fl_world_free(w);
        fl_scenario_free(sc);
    }
    assert_int_equal(s[0].ok, s[1].ok);
    assert_int_equal(s[0].sent, s[1].sent);
    assert_int_equal(s[0].delivered, s[1].delivered);
}

static void assert_refused(const char *faults, const char *needle)
{
    g_autofree char *text = g_strdup_printf(TWOPC("%s"), faults);
    GError *err = NULL;
    FlScenario *sc = fx_scenario_text(text, &err);
    if (sc)
        fail_msg("accepted: %s", faults);
    if (!strstr(err->message, needle))
        fail_msg("\"%s\" not in: %s", needle, err->message);
    g_error_free(err);
}

static void test_bad_specs(void **state)
{
    assert_refused("[{\"kind\":\"trigger\",\"on\":\"send\",\"message\":\"PROMISE\"}]",
                   "has no message kind \"PROMISE\" (expected one of: PREPARE|");
    assert_refused("[{\"kind\":\"trigger\",\"on\":\"role\"}]", "role");
    assert_refused("[{\"kind\":\"trigger\",\"on\":\"send\",\"role\":\"leader\"}]",
                   "only with \"on\": \"role\"");
    assert_refused("[{\"kind\":\"trigger\",\"on\":\"send\",\"mode\":\"torn\"}]",
                   "\"torn\" needs");
    assert_refused("[{\"kind\":\"trigger\",\"on\":\"gossip\"}]", "on");
    assert_refused("[{\"kind\":\"trigger\",\"on\":\"role\",\"role\":\"x\",\"when\":\"before\"}]",
                   "\"before\" needs");
    assert_refused("[{\"kind\":\"trigger\",\"on\":\"send\",\"count\":0}]", "count");
    assert_refused("[{\"kind\":\"trigger\",\"on\":\"role\",\"role\":\"x\",\"after_role\":true}]",
                   "not with \"on\": \"role\"");
    assert_refused("[{\"kind\":\"trigger\",\"on\":\"reply\",\"message\":\"PREPARE\"}]",
                   "only with \"on\": \"send\"");
    assert_refused("[{\"kind\":\"trigger\",\"on\":\"reply\",\"returning\":true}]",
                   "needs \"after_role\": true");
}

/* Every protocol that names its kinds names only kinds it lists. */
static void test_kinds_listed(void **state)
{
    const FlProtocol *p = fl_protocol_find("2pc");
    assert_non_null(p);
    uint8_t vote[10] = { 2, 0, 0, 0, 0, 0, 0, 0, 7, 1 };
    assert_string_equal(p->msg_kind(vote, sizeof vote), "VOTE-YES");
    vote[9] = 0;
    assert_string_equal(p->msg_kind(vote, sizeof vote), "VOTE-NO");
    assert_null(p->msg_kind(vote, 3));
    assert_null(p->msg_kind(NULL, 0));
    static const char *const names[] = { "raft", "paxos", "pbft", "2pc", "3pc",
                                         "primary-backup", "chain", "mapreduce" };
    for (size_t k = 0; k < G_N_ELEMENTS(names); k++) {
        p = fl_protocol_find(names[k]);
        assert_non_null(p);
        assert_non_null(p->msg_kind);
        assert_non_null(p->kinds);
        g_auto(GStrv) kinds = g_strsplit(p->kinds, "|", -1);
        /* Every first byte (and a decision or vote byte) names a listed kind or none. */
        for (int b = 0; b < 256; b++) {
            for (int x = 0; x < 6; x++) {
                uint8_t msg[16] = { (uint8_t)b };
                msg[9] = (uint8_t)x;
                const char *kind = p->msg_kind(msg, sizeof msg);
                if (kind && !g_strv_contains((const char *const *)kinds, kind))
                    fail_msg("%s names %s, not in %s", names[k], kind, p->kinds);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send),
        cmocka_unit_test(test_send_count),
        cmocka_unit_test(test_send_before),
        cmocka_unit_test(test_role),
        cmocka_unit_test(test_reply),
        cmocka_unit_test(test_reply_after_role),
        cmocka_unit_test(test_reply_returning),
        cmocka_unit_test(test_disk_write),
        cmocka_unit_test(test_disk_trace),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_kinds_listed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
