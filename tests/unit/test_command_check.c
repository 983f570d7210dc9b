/* test_command_check.c — command requests: each op's fields copied and checked (the field at
 * fault named), a fresh command_id only when none was given, fingerprints that tell two
 * commands apart and ignore key order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../broker/command_check.c"

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        print_error("bad test JSON: %s: %s\n", je.text, text);
    assert_non_null(j);
    return j;
}

static json_t *command(const char *op, const char *body, field_error *err)
{
    json_t *b = J(body);
    json_t *c = command_from_body(op, b, "fresh-1", err);
    json_decref(b);
    return c;
}

static void assert_refused(const char *op, const char *body, const char *field)
{
    field_error err;
    json_t *c = command(op, body, &err);
    if (c)
        print_error("accepted: %s %s\n", op, body);
    assert_null(c);
    assert_string_equal(err.field, field);
    assert_non_null(strstr(err.message, field));
}

static void test_callback_copies_its_fields_only(void **state)
{
    (void)state;
    field_error err;
    json_t *c = command("callback",
                        "{\"extension\":\"101\",\"to_number\":\"5511980121511\",\"line_number\":"
                        "74950000000,\"token\":\"secret\",\"x\":1}",
                        &err);
    assert_non_null(c);
    json_t *want = J("{\"op\":\"callback\",\"extension\":\"101\",\"to_number\":\"5511980121511\","
                     "\"line_number\":\"74950000000\",\"command_id\":\"fresh-1\"}");
    assert_true(json_equal(c, want));
    json_decref(want);
    json_decref(c);
}

static void test_given_command_id_is_kept(void **state)
{
    (void)state;
    field_error err;
    json_t *c = command("hangup", "{\"call_id\":\"c-1\",\"command_id\":\"mine:7\"}", &err);
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "command_id")), "mine:7");
    json_decref(c);
}

static void test_each_op_requires_its_fields(void **state)
{
    (void)state;
    assert_refused("callback", "{\"to_number\":\"1\"}", "extension");
    assert_refused("callback", "{\"extension\":\"101\"}", "to_number");
    assert_refused("callback", "{\"extension\":\"101\",\"to_number\":\"\"}", "to_number");
    assert_refused("callback", "{\"extension\":\"1 01\",\"to_number\":\"1\"}", "extension");
    assert_refused("callback", "{\"extension\":\"101\",\"to_number\":\"1 2\"}", "to_number");
    assert_refused("callback", "{\"extension\":\"101\",\"to_number\":\"1\",\"line_number\":[]}",
                   "line_number");
    assert_refused("route", "{\"to_extension\":\"102\"}", "call_id");
    assert_refused("route", "{\"call_id\":\"c\"}", "to_extension");
    assert_refused("route", "{\"call_id\":\"a/b\",\"to_extension\":\"102\"}", "call_id");
    assert_refused("transfer", "{\"call_id\":\"c\"}", "to_number");
    assert_refused("transfer", "{\"call_id\":\"c\",\"to_number\":\"1\",\"method\":\"warm\"}",
                   "method");
    assert_refused("hangup", "{}", "call_id");
    assert_refused("hangup", "{\"call_id\":\"c\",\"command_id\":\"\"}", "command_id");
    assert_refused("hangup", "{\"call_id\":\"c\",\"command_id\":\"a\\u0001\"}", "command_id");
    assert_refused("record", "{}", "op");
}

static void test_transfer_method_defaults_to_blind(void **state)
{
    (void)state;
    field_error err;
    json_t *c = command("transfer", "{\"call_id\":\"c\",\"to_number\":\"102\"}", &err);
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "method")), "blind");
    json_decref(c);
    c = command("transfer", "{\"call_id\":\"c\",\"to_number\":\"102\",\"method\":\"hold\"}", &err);
    assert_string_equal(json_string_value(json_object_get(c, "method")), "hold");
    json_decref(c);
}

static void test_id_and_number_rules(void **state)
{
    (void)state;
    char long_id[COMMAND_ID_MAX + 2];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    assert_false(command_id_valid(long_id));
    long_id[COMMAND_ID_MAX] = 0;
    assert_true(command_id_valid(long_id));
    assert_true(command_id_valid("звонок-1"));
    assert_false(command_id_valid("\xff\xfe"));
    assert_true(command_number_valid("+5511"));
    assert_true(command_number_valid("sip:101@pbx.example"));
    assert_false(command_number_valid("55 11"));
    assert_false(command_number_valid(""));
}

static void test_fingerprint_orders_keys_and_tells_commands_apart(void **state)
{
    (void)state;
    char a[65], b[65], c[65];
    json_t *x = J("{\"op\":\"hangup\",\"call_id\":\"c\",\"command_id\":\"1\"}");
    json_t *y = J("{\"command_id\":\"1\",\"call_id\":\"c\",\"op\":\"hangup\"}");
    json_t *z = J("{\"op\":\"hangup\",\"call_id\":\"d\",\"command_id\":\"1\"}");
    command_fingerprint(x, a);
    command_fingerprint(y, b);
    command_fingerprint(z, c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(strlen(a), 64);
    json_decref(x);
    json_decref(y);
    json_decref(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_callback_copies_its_fields_only),
        cmocka_unit_test(test_given_command_id_is_kept),
        cmocka_unit_test(test_each_op_requires_its_fields),
        cmocka_unit_test(test_transfer_method_defaults_to_blind),
        cmocka_unit_test(test_id_and_number_rules),
        cmocka_unit_test(test_fingerprint_orders_keys_and_tells_commands_apart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
