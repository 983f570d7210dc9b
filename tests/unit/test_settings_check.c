/* test_settings_check.c — the common settings, and the dialect's own through its adapter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "../../broker/api/settings_check.c"

extern const adapter adapter_native;

static void expect(const char *json, const char *field)
{
    json_error_t je;
    json_t *s = json_loads(json, JSON_DECODE_ANY, &je);
    char f[128] = "", msg[256] = "";
    assert_non_null(s);
    int rc = settings_check(&adapter_native, s, f, sizeof f, msg, sizeof msg);
    if (!field) {
        if (rc)
            print_error("refused: %s: %s\n", f, msg);
        assert_int_equal(rc, 0);
    } else {
        assert_int_equal(rc, -1);
        assert_string_equal(f, field);
        assert_non_null(strstr(msg, field)); /* the message names the field too */
    }
    json_decref(s);
}

static void accepts_what_api_md_lists(void **state)
{
    (void)state;
    expect("{}", NULL);
    expect("{\"allowed_networks\":[\"10.0.0.0/8\",\"2001:db8::/32\"],\"fallback_extension\":"
           "\"100\",\"company_id\":42,\"notify\":[],\"finaz\":{\"chave\":\"k\"},"
           "\"notify_secret\":\"whsec_YWJj\",\"webhook_secret\":\"whsec_YWJj\"}",
           NULL);
    /* the Finaz rule of API.md, and a signed one */
    expect("{\"company_id\":\"77\",\"notify_secret\":\"whsec_YWJj\",\"notify\":[{\"id\":"
           "\"finaz\",\"on\":{\"kind\":\"call\",\"state\":\"connected\",\"dialer\":true},"
           "\"method\":\"GET\",\"url\":\"https://crm/telephony-proxy/"
           "atendimentodiscador?pid={crm_contact_id}&num={number}&cid={call_id}&ramal={extension}"
           "&empresaId={company_id}\"},{\"id\":\"crm\",\"url\":\"https://crm.example/hook\","
           "\"sign\":true}]}",
           NULL);
}

static void names_the_wrong_setting(void **state)
{
    (void)state;
    expect("[]", "settings");
    expect("{\"allowed_networks\":\"10.0.0.0/8\"}", "settings.allowed_networks");
    expect("{\"allowed_networks\":[\"10.0.0.0/33\"]}", "settings.allowed_networks");
    expect("{\"fallback_extension\":\"1 0\"}", "settings.fallback_extension");
    expect("{\"notify_secret\":\"secret\"}", "settings.notify_secret");
    expect("{\"finaz\":[]}", "settings.finaz");
    expect("{\"finaz\":{\"chave\":\"\"}}", "settings.finaz.chave");
    expect("{\"finaz\":{\"allowed_networks\":[\"x\"]}}", "settings.finaz.allowed_networks");
    expect("{\"command_timeout_ms\":50}", "settings.command_timeout_ms");
    expect("{\"notify\":{}}", "settings.notify");
    expect("{\"notify\":[{\"id\":\"a\",\"url\":\"https://crm/{nope}\"}]}",
           "settings.notify[0].url");
    expect("{\"notify\":[{\"id\":\"a\",\"url\":\"https://crm/\"},{\"id\":\"b\",\"url\":"
           "\"https://crm/\",\"on\":{\"kind\":\"calls\"}}]}",
           "settings.notify[1].on.kind");
    expect("{\"webhook_secret\":\"plain\"}", "settings.webhook_secret"); /* native's own */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_what_api_md_lists),
        cmocka_unit_test(names_the_wrong_setting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
