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

/* The whole EDN grammar, as real Jepsen histories use it (reader.c note
 * 6): symbols are strings of their names; tagged literals are their
 * forms, so a record is its map and #inst, #uuid their strings; character
 * literals are one-character strings; ##Inf and friends and ratios
 * strings. */
static void test_edn_full(void **state)
{
    /* A crashed operation with a Java exception, as Jepsen 0.2 writes it. */
    expect("{:type :info, :f :write, :value 3, :process 1, :time 35, :index 3, "
           ":error :timeout, :exception {:via [{:type java.net.SocketTimeoutException, "
           ":message \"Read timed out\", :at [java.net.SocketInputStream socketRead0 "
           "\"SocketInputStream.java\" -2]}], :trace [[clojure.core$fn invoke \"core.clj\" 1]], "
           ":cause \"Read timed out\"}}",
           FL_FORMAT_EDN,
           "{\"type\":\"info\",\"f\":\"write\",\"value\":3,\"process\":1,\"time\":35,"
           "\"index\":3,\"error\":\"timeout\",\"exception\":{\"via\":[{\"type\":"
           "\"java.net.SocketTimeoutException\",\"message\":\"Read timed out\",\"at\":"
           "[\"java.net.SocketInputStream\",\"socketRead0\",\"SocketInputStream.java\",-2]}],"
           "\"trace\":[[\"clojure.core$fn\",\"invoke\",\"core.clj\",1]],"
           "\"cause\":\"Read timed out\"}}\n");
    /* Records (Jepsen 0.3), one per line, and tags inside. */
    expect("#jepsen.history.Op{:index 0, :time 5, :type :invoke, :process 0, :f :read, :value nil}\n"
           "#jepsen.history.Op{:index 1, :time 9, :type :ok, :process 0, :f :read, :value 2, "
           ":at #inst \"2024-01-02T03:04:05.678-00:00\", :id #uuid \"f81d4fae-7dec-11d0-a765-00a0c91e6bf6\", "
           ":x #my/tag [1 2], :y #my/nested #other/tag 3}\n",
           FL_FORMAT_EDN,
           "{\"index\":0,\"time\":5,\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":null}\n"
           "{\"index\":1,\"time\":9,\"type\":\"ok\",\"process\":0,\"f\":\"read\",\"value\":2,"
           "\"at\":\"2024-01-02T03:04:05.678-00:00\",\"id\":\"f81d4fae-7dec-11d0-a765-00a0c91e6bf6\","
           "\"x\":[1,2],\"y\":3}\n");
    /* In a vector, with a discarded record between two. */
    expect("[#jepsen.history.Op{:a 1} #_ #jepsen.history.Op{:b 2} #jepsen.history.Op{:c 3}]",
           FL_FORMAT_EDN, "{\"a\":1}\n{\"c\":3}\n");
    /* Characters, namespaced keywords and symbols, odd numbers. */
    expect("{:c [\\a \\newline \\space \\tab \\return \\u00e9 \\( \\\\ \\\xc3\xa9], "
           ":jepsen.generator/k my.ns/sym, :s [+ - ... a->b <=], "
           ":n [1/3 ##Inf ##-Inf ##NaN 2.5M 3N]}",
           FL_FORMAT_EDN,
           "{\"c\":[\"a\",\"\\n\",\" \",\"\\t\",\"\\r\",\"\xc3\xa9\",\"(\",\"\\\\\",\"\xc3\xa9\"],"
           "\"jepsen.generator/k\":\"my.ns/sym\",\"s\":[\"+\",\"-\",\"...\",\"a->b\",\"<=\"],"
           "\"n\":[\"1/3\",\"##Inf\",\"##-Inf\",\"##NaN\",2.5,3]}\n");
}

static void test_edn_errors(void **state)
{
    expect("[{:a 1}\n {:b 2}", FL_FORMAT_EDN, "t:2:8: expected ']' to close the history, got end of input");
    expect("[{:a 1}] {:b 2}", FL_FORMAT_EDN, "t:1:10: expected end of input after the history's closing bracket, got '{'");
    expect("{:a 1 :b}", FL_FORMAT_EDN, "t:1:1: expected a map with an even number of forms (key value pairs)");
    /* A tag needs a value; `#` needs a tag, a set or a discard. */
    expect("{:a #inst}", FL_FORMAT_EDN, "t:1:10: expected a value after the tag, got '}'");
    expect("{:a #1}", FL_FORMAT_EDN, "t:1:6: expected '{', '_', '#' or a tag after '#', got '1'");
    expect("{:a ##Infinity}", FL_FORMAT_EDN, "t:1:5: expected ##Inf, ##-Inf or ##NaN");
    /* A character literal is one character or a name EDN knows. */
    expect("{:a \\abc}", FL_FORMAT_EDN,
           "t:1:5: expected a character literal: \\c, \\newline, \\return, \\space, "
           "\\tab, \\formfeed, \\backspace or \\uXXXX");
    expect("{:a \\ }", FL_FORMAT_EDN, "t:1:6: expected a character after '\\', got ' '");
    /* A tagged value that is not a map is not an event. */
    expect("[#inst \"2020\"]", FL_FORMAT_EDN,
           "t:1:2: expected an event map, got a tagged value that is not a map");
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
        cmocka_unit_test(test_edn_full),
        cmocka_unit_test(test_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
