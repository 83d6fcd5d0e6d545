/* txn-kv (protocols/txnkv): its messages decode only when whole and well
 * formed, the list-append and rw-register workloads pack and print their
 * transactions, and a tiny run's history, checked by hand below, passes
 * the Elle checker. */
#include "protocols/txnkv/txnkv.h"
#include "sim/check/check.h"
#include "sim/run.h"
#include "sim/scenario.h"
#include "sim/store.h"
#include "sim/workload.h"

#include <glib.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

/* ---- Messages ------------------------------------------------------------ */

static size_t encode(const TxnkvMsg *m, uint8_t *out, size_t cap)
{
    FlWriter w;
    fl_writer_init(&w, NULL, 0);
    txnkv_encode(&w, m);
    assert_true(w.len <= cap);
    memcpy(out, w.data, w.len);
    size_t len = w.len;
    fl_writer_deinit(&w);
    return len;
}

static void test_decode_roundtrip_and_truncation(void **st)
{
    uint8_t raw[3 * 8];
    FlWriter ew;
    fl_writer_init(&ew, raw, sizeof raw);
    fl_put_i64(&ew, 1);
    fl_put_i64(&ew, 3);
    fl_put_i64(&ew, -2);
    fl_writer_deinit(&ew);
    const TxnkvMsg msgs[] = {
        { .type = TXNKV_TS_REQ, .tid = 9 },
        { .type = TXNKV_TS, .tid = 9, .ts = 77 },
        { .type = TXNKV_OP, .tid = 9, .ts = 5, .seq = 3, .kind = FL_OP_TXN_APPEND,
          .mop = fl_mop_pack(FL_MOP_W, 12, 4), .seen = TXNKV_UNSEEN },
        { .type = TXNKV_OP_OK, .tid = 9, .seq = 1, .flag = true, .len = 5, .n_elems = 3,
          .elems = raw },
        { .type = TXNKV_CONFLICT, .tid = 9, .seq = 2 },
        { .type = TXNKV_PREPARE, .tid = 9 },
        { .type = TXNKV_VOTE, .tid = 9, .flag = true },
        { .type = TXNKV_COMMIT, .tid = 9, .ts = 80 },
        { .type = TXNKV_ABORT, .tid = 9 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(msgs); i++) {
        uint8_t buf[128];
        size_t len = encode(&msgs[i], buf, sizeof buf);
        TxnkvMsg d;
        assert_true(txnkv_decode(buf, len, &d));
        assert_int_equal(d.type, msgs[i].type);
        assert_int_equal(d.tid, msgs[i].tid);
        assert_int_equal(d.ts, msgs[i].ts);
        assert_int_equal(d.seq, msgs[i].seq);
        assert_int_equal(d.mop, msgs[i].mop);
        assert_int_equal(d.flag, msgs[i].flag);
        assert_int_equal(d.n_elems, msgs[i].n_elems);
        if (d.type == TXNKV_OP) assert_int_equal(d.seen, TXNKV_UNSEEN);
        if (d.type == TXNKV_OP_OK) {
            assert_int_equal(d.len, 5);
            assert_int_equal(txnkv_elem(&d, 0), 1);
            assert_int_equal(txnkv_elem(&d, 2), -2);
        }
        /* Every truncation is refused, and so is a trailing byte. */
        for (size_t cut = 0; cut < len; cut++)
            assert_false(txnkv_decode(buf, cut, &d));
        buf[len] = 0;
        assert_false(txnkv_decode(buf, len + 1, &d));
    }
}

static void test_decode_rejects_bad_fields(void **st)
{
    uint8_t buf[128];
    TxnkvMsg d;
    TxnkvMsg op = { .type = TXNKV_OP, .tid = 1, .seq = 0, .kind = FL_OP_TXN_RW,
                    .mop = fl_mop_pack(FL_MOP_R, 1, 0) };
    size_t len = encode(&op, buf, sizeof buf);
    assert_true(txnkv_decode(buf, len, &d));
    buf[0] = TXNKV_MSG_MAX;                       /* unknown type */
    assert_false(txnkv_decode(buf, len, &d));
    op.kind = FL_OP_GET;                          /* not a transaction */
    len = encode(&op, buf, sizeof buf);
    assert_false(txnkv_decode(buf, len, &d));
    op.kind = FL_OP_TXN_RW;
    op.mop = fl_mop_pack(FL_MOP_NONE, 1, 0);      /* an empty micro-op */
    len = encode(&op, buf, sizeof buf);
    assert_false(txnkv_decode(buf, len, &d));
    op.mop = fl_mop_pack(FL_MOP_R, 1, 0);
    op.seq = FL_MOPS_MAX;                         /* past the last micro-op */
    len = encode(&op, buf, sizeof buf);
    assert_false(txnkv_decode(buf, len, &d));
    TxnkvMsg vote = { .type = TXNKV_VOTE, .tid = 0, .flag = true };   /* tid 0: none */
    len = encode(&vote, buf, sizeof buf);
    assert_false(txnkv_decode(buf, len, &d));
    vote.tid = 4;
    len = encode(&vote, buf, sizeof buf);
    buf[len - 1] = 2;                             /* a vote is 0 or 1 */
    assert_false(txnkv_decode(buf, len, &d));
    uint8_t raw[16] = { 0 };
    TxnkvMsg ok = { .type = TXNKV_OP_OK, .tid = 4, .len = 1, .n_elems = 2, .elems = raw };
    len = encode(&ok, buf, sizeof buf);           /* more elements than the list */
    assert_false(txnkv_decode(buf, len, &d));
}

/* ---- Workloads ------------------------------------------------------------ */

static void test_mop_packing_and_values(void **st)
{
    FlOp op = { .kind = FL_OP_TXN_APPEND };
    fl_mop_set(&op, 0, fl_mop_pack(FL_MOP_W, 7, 3));
    fl_mop_set(&op, 1, fl_mop_pack(FL_MOP_R, 7, 0));
    fl_mop_set(&op, 2, fl_mop_pack(FL_MOP_R, FL_MAX_KEYS - 1, 0));
    assert_int_equal(fl_mop_key(fl_mop_get(&op, 2)), FL_MAX_KEYS - 1);
    assert_int_equal(fl_mop_value(fl_mop_get(&op, 0)), 3);
    assert_int_equal(fl_mop_f(fl_mop_get(&op, 3)), FL_MOP_NONE);
    const FlWorkloadModel *la = fl_workload_model_find("list-append");
    assert_non_null(la);
    GString *s = g_string_new(NULL);
    la->value(s, &op, NULL);
    assert_string_equal(s->str, "[[\"append\",7,3],[\"r\",7,null],[\"r\",1048575,null]]");
    /* The answer's text: one field per micro-op; junk (a lying node) is
     * skipped, so the value stays JSON. */
    FlResult res = { .status = FL_RESULT_OK, .text = ";1,3;x,2,", .text_len = 9 };
    g_string_truncate(s, 0);
    la->value(s, &op, &res);
    assert_string_equal(s->str, "[[\"append\",7,3],[\"r\",7,[1,3]],[\"r\",1048575,[2]]]");
    const FlWorkloadModel *rw = fl_workload_model_find("rw-register");
    op.kind = FL_OP_TXN_RW;
    FlResult r2 = { .status = FL_RESULT_OK, .text = ";;", .text_len = 2 };
    g_string_truncate(s, 0);
    rw->value(s, &op, &r2);
    assert_string_equal(s->str, "[[\"w\",7,3],[\"r\",7,null],[\"r\",1048575,null]]");
    g_string_free(s, TRUE);
}

/* ---- A tiny run ------------------------------------------------------------ */

/* One client, two nodes, s2pl, a fixed 1ms network: transactions run one
 * after another, so each read must return exactly the appends committed
 * before it, in order.  The completions, read by hand against that rule:
 * T1 reads key 0 before anything was appended to it ([]); T2 appends 2
 * and 3 to key 1 after T1's 1; T3, T4, T5 and T6 read key 1 = [1 2 3];
 * T5 reads key 0 = [1 2 3]: T1's 1, then T3's 2 and 3. */
static const char *const tiny_expected[] = {
    "\"type\":\"ok\",\"f\":\"txn\",\"key\":1,\"value\":[[\"append\",1,1],[\"r\",0,[]],[\"append\",0,1]]",
    "\"type\":\"ok\",\"f\":\"txn\",\"key\":1,\"value\":[[\"append\",1,2],[\"append\",1,3]]",
    "\"type\":\"ok\",\"f\":\"txn\",\"key\":0,\"value\":[[\"append\",0,2],[\"r\",1,[1,2,3]],[\"append\",0,3]]",
    "\"type\":\"ok\",\"f\":\"txn\",\"key\":1,\"value\":[[\"r\",1,[1,2,3]]]",
    "\"type\":\"ok\",\"f\":\"txn\",\"key\":1,\"value\":[[\"r\",1,[1,2,3]],[\"r\",0,[1,2,3]]]",
    "\"type\":\"ok\",\"f\":\"txn\",\"key\":1,\"value\":[[\"r\",1,[1,2,3]]]",
};

static void test_tiny_run_passes_checker(void **st)
{
    const char *text =
        "{\"name\":\"tiny\",\"seed\":3,\"duration\":\"200ms\","
        "\"cluster\":{\"protocol\":\"txn-kv\",\"nodes\":2,\"params\":{\"mode\":\"s2pl\"}},"
        "\"network\":{\"timing\":\"async\",\"delay\":{\"dist\":\"fixed\",\"value\":\"1ms\"}},"
        "\"workload\":{\"model\":\"list-append\",\"clients\":1,\"keys\":2,\"rate\":40,"
        "\"timeout\":\"1s\",\"until\":\"150ms\"},"
        "\"check\":{\"consistency\":\"strict-serializable\"}}";
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    assert_non_null(root);
    GError *err = NULL;
    FlScenario *sc = fl_scenario_from_json(root, "tiny.json", -1, &err);
    if (!sc)
        fail_msg("%s", err->message);
    FlRunOptions opt = { .check = true };
    FlRunResult res;
    if (fl_run(sc, &opt, &res, &err) != 0)
        fail_msg("%s", err->message);
    /* The six transactions complete ok in this order, and nothing else. */
    const char *at = res.history->str;
    for (size_t i = 0; i < G_N_ELEMENTS(tiny_expected); i++) {
        const char *hit = strstr(at, tiny_expected[i]);
        if (!hit)
            fail_msg("missing after offset %td: %s\nhistory:\n%s", at - res.history->str,
                     tiny_expected[i], res.history->str);
        at = hit + 1;
    }
    if (strstr(at, "\"type\":\"ok\""))
        fail_msg("more completions than expected:\n%s", res.history->str);
    assert_null(strstr(res.history->str, "\"type\":\"fail\""));
    assert_null(strstr(res.history->str, "\"type\":\"info\""));
    assert_int_equal(res.verdict, FL_VERDICT_VALID);
    fl_run_result_clear(&res);
    fl_scenario_free(sc);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_roundtrip_and_truncation),
        cmocka_unit_test(test_decode_rejects_bad_fields),
        cmocka_unit_test(test_mop_packing_and_values),
        cmocka_unit_test(test_tiny_run_passes_checker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
