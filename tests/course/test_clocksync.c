/* The clocksync protocol (protocols/clocksync.c) and the engine's
 * measurement of its error (fl_clock_report).
 *
 * The codec: a round trip, and every way a message fails to decode (the
 * protocol drops those).  The arithmetic of notes 3 to 5 on worked
 * exchanges: NTP off by exactly half the asymmetry and within its bound,
 * Cristian off by half the server's holding time, Berkeley's average
 * leaving out a wild clock.  Then the scenarios of 08-time-and-clocks,
 * whose errors the engine measured against true time. */
#include "protocols/clocksync.h"
#include "tests/storage/helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define MS 1000000LL

static void test_codec(void **state)
{
    CsMsg m = { .type = CS_RESP, .seq = 9, .t1 = -25 * MS, .t2 = 1234567, .t3 = 4 * MS };
    uint8_t buf[CS_MSG_LEN + 1];
    size_t len = cs_encode(&m, buf, sizeof buf);
    assert_int_equal(len, CS_MSG_LEN);
    CsMsg d;
    assert_true(cs_decode(buf, len, &d));
    assert_int_equal(d.type, CS_RESP);
    assert_int_equal(d.seq, 9);
    assert_int_equal(d.t1, -25 * MS);
    assert_int_equal(d.t2, 1234567);
    assert_int_equal(d.t3, 4 * MS);
    for (size_t k = 0; k < len; k++)
        assert_false(cs_decode(buf, k, &d));
    buf[len] = 0;
    assert_false(cs_decode(buf, len + 1, &d));
    CsMsg bad = m;
    bad.type = 0x80;
    len = cs_encode(&bad, buf, sizeof buf);
    assert_false(cs_decode(buf, len, &d));
    bad = m;
    bad.t3 = INT64_MAX;   /* would overflow the arithmetic */
    len = cs_encode(&bad, buf, sizeof buf);
    assert_false(cs_decode(buf, len, &d));
    bad = m;
    bad.t2 = INT64_MIN;
    len = cs_encode(&bad, buf, sizeof buf);
    assert_false(cs_decode(buf, len, &d));
}

/* A client 30ms behind the server; the request takes 5ms, the answer
 * 15ms, the server holds it @hold.  Returns the client's error after
 * setting its clock with @ntp or Cristian, and the bound it computed. */
static int64_t exchange(bool ntp, int64_t hold, int64_t *bound)
{
    const int64_t behind = 30 * MS, out = 5 * MS, back = 15 * MS;
    int64_t t = 1000 * MS;                 /* true time of the request */
    int64_t t1 = t - behind;               /* client's clock */
    int64_t t2 = t + out;                  /* server's (true) clock */
    int64_t t3 = t2 + hold;
    int64_t t4 = t + out + hold + back - behind;
    int64_t adj = ntp ? cs_ntp_offset(t1, t2, t3, t4, bound) : cs_cristian_offset(t1, t3, t4, bound);
    return (t4 + adj) - (t + out + hold + back);   /* synchronised minus true */
}

static void test_arithmetic(void **state)
{
    int64_t bound;
    /* NTP: off by (out - back) / 2 = -5ms, whatever the holding time; the
     * bound is half the round trip less the holding time, 10ms. */
    assert_int_equal(exchange(true, 0, &bound), -5 * MS);
    assert_int_equal(bound, 10 * MS);
    assert_int_equal(exchange(true, 20 * MS, &bound), -5 * MS);
    assert_int_equal(bound, 10 * MS);
    assert_true(llabs(exchange(true, 20 * MS, NULL)) <= bound);
    /* Cristian: the same without holding; with it, half the holding time
     * more, and a bound of half the whole round trip. */
    assert_int_equal(exchange(false, 0, &bound), -5 * MS);
    assert_int_equal(bound, 10 * MS);
    assert_int_equal(exchange(false, 20 * MS, &bound), 5 * MS);
    assert_int_equal(bound, 20 * MS);
    /* Berkeley: the median is 10ms; 600ms is left out with a 100ms
     * threshold, and the average of the rest is (0 + 40 - 25 + 10) / 4. */
    int64_t off[] = { 0, 40 * MS, -25 * MS, 10 * MS, 600 * MS };
    assert_int_equal(cs_berkeley_average(off, 5, 100 * MS), 25 * MS / 4);
    int64_t all[] = { 0, 40 * MS, -25 * MS, 10 * MS, 600 * MS };
    assert_int_equal(cs_berkeley_average(all, 5, 1000 * MS), 625 * MS / 5);
    int64_t one[] = { 7 };
    assert_int_equal(cs_berkeley_average(one, 1, 0), 7);
}

static void test_scenarios(void **state)
{
    static const struct { const char *file; double err_lo, err_hi; } runs[] = {
        { "scenarios/08-time-and-clocks/ntp-asymmetric.json", 4990, 5010 },
        { "scenarios/08-time-and-clocks/cristian-server-delay.json", 9990, 10010 },
        { "scenarios/08-time-and-clocks/ntp-server-delay.json", 0, 2 },
        { "scenarios/08-time-and-clocks/berkeley.json", 6200, 6400 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(runs); i++) {
        for (int64_t seed = 1; seed <= 2; seed++) {
            FlRunResult res;
            sx_run_file(runs[i].file, seed, &res);
            if (!res.met)
                fail_msg("%s seed %d: %s", runs[i].file, (int)seed, (char *)g_ptr_array_index(res.unmet, 0));
            double err = sx_counter(&res, "clocksync.error_max_us");
            if (err < runs[i].err_lo || err > runs[i].err_hi)
                fail_msg("%s seed %d: error %.1fus", runs[i].file, (int)seed, err);
            assert_true(sx_counter(&res, "clocksync.syncs") >= 20);
            fl_run_result_clear(&res);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec),
        cmocka_unit_test(test_arithmetic),
        cmocka_unit_test(test_scenarios),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
