/* test_wakeup.c — wake-up messages: lines in order, bad lines skipped, ids made canonical. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../broker/hub/wakeup.c"

typedef struct seen {
    char text[8][200];
    int n;
} seen;

static void collect(const wakeup_line *w, void *ud)
{
    seen *s = ud;
    snprintf(s->text[s->n++], sizeof s->text[0], "%s|%s|%s|%.*s", w->integration, w->extension,
             w->id_text, (int)w->json_len, w->json);
}

static size_t run(const char *payload, seen *s)
{
    memset(s, 0, sizeof *s);
    return wakeup_each(payload, strlen(payload), collect, s);
}

static void lines_in_order(void **state)
{
    (void)state;
    seen s;
    assert_int_equal(run("acme\t101\t17-0\t{\"a\":1}\nacme\t102\t0017-01\t{\"b\":\"\\t\"}\n", &s),
                     0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.text[0], "acme|101|17-0|{\"a\":1}");
    assert_string_equal(s.text[1], "acme|102|17-1|{\"b\":\"\\t\"}");
    assert_int_equal(run("acme\t101\t17-0\t{}", &s), 0); /* no final newline */
    assert_int_equal(s.n, 1);
}

static void bad_lines_skipped(void **state)
{
    (void)state;
    seen s;
    const char *payload = "\n"
                          "acme\t101\t17-0\n"
                          "acme\t101\t17-0\tx\n"
                          "acme\t101\tnope\t{}\n"
                          "Acme\t101\t17-0\t{}\n"
                          "acme\t1 1\t17-0\t{}\n"
                          "acme\t101\t99999999999999999999-0\t{}\n"
                          "acme\t101\t18-0\t{\n"
                          "acme\t101\t19-0\t{}\n";
    assert_int_equal(run(payload, &s), 7);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.text[0], "acme|101|19-0|{}");
}

static void long_fields_skipped(void **state)
{
    (void)state;
    seen s;
    char payload[400];
    char name[NAME_MAX_LEN + 2];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = 0;
    snprintf(payload, sizeof payload, "%s\t101\t1-0\t{}\nacme\t%s\t1-0\t{}\n", name, name);
    assert_int_equal(run(payload, &s), 2);
    assert_int_equal(s.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_in_order),
        cmocka_unit_test(bad_lines_skipped),
        cmocka_unit_test(long_fields_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
