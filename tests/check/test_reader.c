/* tests/check/test_reader.c: the JSON Lines and EDN reader. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/check/reader.h"

#include <string.h>

/* Reads every event of @text and returns them as JSON, one per line; or
 * the error message. */
static char *read_all(const char *text, FlFormat fmt)
{
    FlReader *r = fl_reader_new("t", text, strlen(text), fmt);
    GString *out = g_string_new(NULL);
    GError *err = NULL;
    const FlVal *v;
    int rc;
    while ((rc = fl_reader_next(r, &v, NULL, &err)) > 0) {
        fl_val_to_json(v, out);
        g_string_append_c(out, '\n');
    }
    if (rc < 0) {
        g_string_assign(out, err->message);
        g_error_free(err);
    }
    fl_reader_free(r);
    return g_string_free(out, FALSE);
}

static void expect(const char *text, FlFormat fmt, const char *want)
{
    char *got = read_all(text, fmt);
    assert_string_equal(got, want);
    g_free(got);
}

static void test_jsonl(void **state)
{
    expect("{\"a\":1,\"b\":[1,-2,3.5,\"x\\ny\\u00e9\"],\"c\":null,\"d\":true}\n\n  {}\n",
           FL_FORMAT_JSONL,
           "{\"a\":1,\"b\":[1,-2,3.5,\"x\\ny\xc3\xa9\"],\"c\":null,\"d\":true}\n{}\n");
    expect("", FL_FORMAT_JSONL, "");
    /* An integer beyond int64 stays a number (text), not an error. */
    expect("{\"t\":123456789012345678901234567890}", FL_FORMAT_JSONL,
           "{\"t\":123456789012345678901234567890}\n");
    /* The edges of int64 (the fast path stops at 18 digits), and -0. */
    expect("{\"a\":[123456789012345678,1234567890123456789,9223372036854775807,"
           "9223372036854775808,-9223372036854775808,-9223372036854775809,-0,0]}",
           FL_FORMAT_JSONL,
           "{\"a\":[123456789012345678,1234567890123456789,9223372036854775807,"
           "9223372036854775808,-9223372036854775808,-9223372036854775809,0,0]}\n");
    /* Strings with and without escapes, bytes above 0x7f as they are. */
    expect("{\"a\":\"plain\",\"b\":\"\xc3\xa9\",\"c\":\"q\\\"\",\"\":\"\"}", FL_FORMAT_JSONL,
           "{\"a\":\"plain\",\"b\":\"\xc3\xa9\",\"c\":\"q\\\"\",\"\":\"\"}\n");
}

static void test_jsonl_errors(void **state)
{
    expect("{\"a\":1}\n{\"a\":1,}\n", FL_FORMAT_JSONL, "t:2:8: expected a string field name, got '}'");
    expect("{\"a\":1} {\"b\":2}\n", FL_FORMAT_JSONL, "t:1:9: expected end of line after the event object, got '{'");
    expect("[1]\n", FL_FORMAT_JSONL, "t:1:1: expected '{' to start an event object, got '['");
    expect("{\"a\":\"x\n", FL_FORMAT_JSONL, "t:1:8: expected '\"' to close the string, got end of line");
    expect("{\"a\":tru}", FL_FORMAT_JSONL, "t:1:6: expected a JSON value, got 't'");
    expect("{\"a\" 1}", FL_FORMAT_JSONL, "t:1:6: expected ':' after the field name, got '1'");
    /* Numbers the fast path leaves to the general code. */
    expect("{\"a\":01}", FL_FORMAT_JSONL, "t:1:7: expected ',' or '}', got '1'");
    expect("{\"a\":-x}", FL_FORMAT_JSONL, "t:1:7: expected a digit, got 'x'");
    expect("{\"a\":1.}", FL_FORMAT_JSONL, "t:1:8: expected a digit, got '}'");
    expect("{\"a\":1e+}", FL_FORMAT_JSONL, "t:1:9: expected a digit, got '}'");
    expect("{\"a\":\"x\ty\"}", FL_FORMAT_JSONL,
           "t:1:8: expected an escaped control character, got byte 0x09");
}

static void test_edn(void **state)
{
    /* One vector over several lines, comments, commas, nil, sets, lists,
     * keywords with namespaces, discarded forms. */
    expect("; a history\n[{:process 0, :type :invoke, :f :write, :value 3}\n"
           " {:process :nemesis :value #{1 2} :x (1 -2 +3) :y nil :z true}\n"
           " #_{:ignored 1} {:k :a/b :s \"q\\\"\" :n 7N}] ; done\n",
           FL_FORMAT_EDN,
           "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":3}\n"
           "{\"process\":\"nemesis\",\"value\":[1,2],\"x\":[1,-2,3],\"y\":null,\"z\":true}\n"
           "{\"k\":\"a/b\",\"s\":\"q\\\"\",\"n\":7}\n");
    /* One map per line; a list as the whole history. */
    expect("{:a 1}\n{:b 2}\n", FL_FORMAT_EDN, "{\"a\":1}\n{\"b\":2}\n");
    expect("({:a 1}\n {:b 2})", FL_FORMAT_EDN, "{\"a\":1}\n{\"b\":2}\n");
    expect("[]", FL_FORMAT_EDN, "");
    expect("", FL_FORMAT_EDN, "");
}

static void test_edn_errors(void **state)
{
    expect("[{:a 1}\n {:b 2}", FL_FORMAT_EDN, "t:2:8: expected ']' to close the history, got end of input");
    expect("[{:a 1}] {:b 2}", FL_FORMAT_EDN, "t:1:10: expected end of input after the history's closing bracket, got '{'");
    expect("{:a 1 :b}", FL_FORMAT_EDN, "t:1:1: expected a map with an even number of forms (key value pairs)");
    expect("{:a foo}", FL_FORMAT_EDN,
           "t:1:5: expected nil, true, false, a keyword, a string, a number or a collection, got the symbol 'foo'");
    expect("{:a #inst \"2020\"}", FL_FORMAT_EDN,
           "t:1:6: expected '{' or '_' after '#' (tagged literals are not supported), got 'i'");
    expect("{:a [1 2}", FL_FORMAT_EDN, "t:1:9: expected ']', got '}'");
    expect("{:a \"x", FL_FORMAT_EDN, "t:1:7: expected '\"' to close the string, got end of input");
    expect("[:a]", FL_FORMAT_EDN, "t:1:2: expected '{' to start an event map, got ':'");
}

static void test_get(void **state)
{
    const char *text = "{:process 1 \"type\" :ok}";
    FlReader *r = fl_reader_new("t", text, strlen(text), FL_FORMAT_EDN);
    const FlVal *v;
    gsize off;
    assert_int_equal(fl_reader_next(r, &v, &off, NULL), 1);
    assert_int_equal(off, 0);
    assert_int_equal(fl_val_get(v, "process")->i, 1);
    assert_int_equal(fl_val_get(v, "type")->kind, FL_VAL_KEYWORD);
    assert_null(fl_val_get(v, "f"));
    const FlVal *again = fl_reader_event_at(r, 0, 1);
    assert_non_null(again);
    assert_int_equal(fl_val_get(again, "process")->i, 1);
    fl_reader_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_jsonl_errors),
        cmocka_unit_test(test_edn),
        cmocka_unit_test(test_edn_errors),
        cmocka_unit_test(test_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
