/* test_notify_rule.c — settings.notify: what is refused (naming the field), what a rule matches,
 * the request it renders (checked with independent decoders: jansson, form_parse, an HMAC made
 * here), and the retry delays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../broker/out/notify_rule.c"
#include "form.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define FINAZ_URL                                                                                  \
    "https://crm/telephony-proxy/atendimentodiscador?pid={crm_contact_id}&num={number}&cid={"      \
    "call_id}&ramal={extension}&empresaId={company_id}"

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (!j)
        print_error("bad test JSON: %s: %s\n", je.text, text);
    assert_non_null(j);
    return j;
}

/* A stored dialer call event as a client receives it. */
static json_t *dialer_event(void)
{
    return J("{\"id\":\"1700000000000-0\",\"kind\":\"call\",\"integration\":\"acme\",\"user\":"
             "\"101\",\"call_id\":\"call-1\",\"ts\":\"2026-11-23T18:00:00.123Z\",\"source\":"
             "\"native\",\"call\":{\"state\":\"connected\",\"direction\":\"outbound\",\"from\":{"
             "\"extension\":\"101\"},\"to\":{\"number\":\"+55 41 98844-5566\"},\"crm_contact_id\":"
             "\"c 1&2\",\"campaign\":\"camp\",\"disconnect\":{\"code\":16,\"text\":\"say "
             "\\\"hi\\\"\\nbye\"}}}");
}

/* The settings with the rules, checked and compiled. */
static notify_rules *compile(const json_t *settings)
{
    field_error e = {{0}, {0}};
    if (notify_rules_check(settings, &e) != 0)
        print_error("refused: %s: %s\n", e.field, e.message);
    assert_int_equal(notify_rules_check(settings, &e), 0);
    bool oom = true;
    notify_rules *rs = notify_rules_compile(settings, &oom);
    assert_false(oom);
    assert_non_null(rs);
    return rs;
}

static void render(const notify_rule *r, const json_t *ev, const json_t *settings,
                   notify_request *q)
{
    field_error e = {{0}, {0}};
    assert_int_equal(notify_render(r, ev, settings, "ntf_1", 1700000000, q, &e), 0);
}

/* The value of header name in q, or NULL. */
static const char *header(const notify_request *q, const char *name)
{
    size_t n = strlen(name);
    for (size_t k = 0; k < q->n_headers; k++)
        if (strncasecmp(q->headers[k], name, n) == 0 && q->headers[k][n] == ':')
            return q->headers[k] + n + 2;
    return NULL;
}

/* One rule given as JSON text, rendered against ev with settings extra. */
static void render_one(const char *settings_text, const json_t *ev, notify_request *q)
{
    json_t *s = J(settings_text);
    notify_rules *rs = compile(s);
    render(rs->v[0], ev, s, q);
    notify_rules_free(rs);
    json_decref(s);
}

static void finaz_get(void **state)
{
    (void)state;
    json_t *ev = dialer_event();
    notify_request q;
    render_one("{\"company_id\":77,\"notify\":[{\"id\":\"finaz\",\"on\":{\"kind\":\"call\","
               "\"state\":\"connected\",\"dialer\":true},\"method\":\"GET\",\"url\":\"" FINAZ_URL
               "\"}]}",
               ev, &q);
    assert_string_equal(q.method, "GET");
    assert_string_equal(q.url, "https://crm/telephony-proxy/atendimentodiscador?pid=c%201%262"
                               "&num=%2B55%2041%2098844-5566&cid=call-1&ramal=101&empresaId=77");
    assert_null(q.body);
    assert_string_equal(q.headers[0], "webhook-id: ntf_1");
    assert_string_equal(header(&q, "User-Agent"), "callrelay");
    assert_null(header(&q, "Content-Type"));
    assert_null(header(&q, "webhook-signature"));
    notify_request_free(&q);
    json_decref(ev);
}

static void finaz_company_id_as_string(void **state)
{
    (void)state;
    json_t *ev = dialer_event();
    notify_request q;
    render_one("{\"company_id\":\"a/b 7\",\"notify\":[{\"id\":\"f\",\"method\":\"GET\",\"url\":"
               "\"https://crm/x?e={company_id}&k={kind}&s={state}\"}]}",
               ev, &q);
    assert_string_equal(q.url, "https://crm/x?e=a%2Fb%207&k=call&s=connected");
    notify_request_free(&q);
    json_decref(ev);
}

static void json_body_stays_json(void **state)
{
    (void)state;
    json_t *ev = dialer_event();
    notify_request q;
    render_one("{\"notify\":[{\"id\":\"j\",\"url\":\"https://crm/in\",\"body\":\"{\\\"text\\\":"
               "\\\"{disconnect_text}\\\",\\\"code\\\":\\\"{disconnect_code}\\\",\\\"who\\\":"
               "\\\"{extension}\\\"}\"}]}",
               ev, &q);
    assert_string_equal(q.method, "POST");
    json_t *got = json_loadb(q.body, q.body_len, 0, NULL);
    assert_non_null(got);
    assert_string_equal(json_string_value(json_object_get(got, "text")), "say \"hi\"\nbye");
    assert_string_equal(json_string_value(json_object_get(got, "code")), "16");
    assert_string_equal(json_string_value(json_object_get(got, "who")), "101");
    assert_string_equal(header(&q, "Content-Type"), "application/json");
    json_decref(got);
    notify_request_free(&q);
    json_decref(ev);
}

static void event_placeholder_in_json_body(void **state)
{
    (void)state;
    json_t *ev = dialer_event();
    notify_request q;
    render_one(
        "{\"notify\":[{\"id\":\"e\",\"url\":\"https://crm/in\",\"headers\":{\"Content-Type\":"
        "\"application/vnd.crm+json\"},\"body\":\"[{\\\"data\\\": {event}, \\\"n\\\": "
        "\\\"{number}\\\"}]\"}]}",
        ev, &q);
    json_t *got = json_loadb(q.body, q.body_len, 0, NULL);
    assert_non_null(got);
    assert_true(json_equal(json_object_get(json_array_get(got, 0), "data"), ev));
    assert_string_equal(json_string_value(json_object_get(json_array_get(got, 0), "n")),
                        "+55 41 98844-5566");
    assert_string_equal(header(&q, "Content-Type"), "application/vnd.crm+json");
    size_t n_ct = 0;
    for (size_t k = 0; k < q.n_headers; k++)
        n_ct += strncasecmp(q.headers[k], "Content-Type:", 13) == 0;
    assert_int_equal(n_ct, 1);
    json_decref(got);
    notify_request_free(&q);
    json_decref(ev);
}

static void form_body(void **state)
{
    (void)state;
    json_t *ev = dialer_event();
    notify_request q;
    render_one(
        "{\"notify\":[{\"id\":\"f\",\"method\":\"PUT\",\"url\":\"https://crm/in\","
        "\"headers\":{\"Content-Type\":\"Application/X-WWW-Form-Urlencoded; charset=UTF-8\"},"
        "\"body\":"
        "\"num={number}&pid={crm_contact_id}&t={disconnect_text}\"}]}",
        ev, &q);
    char err[128];
    json_t *got = form_parse(q.body, q.body_len, err, sizeof err);
    assert_non_null(got);
    assert_string_equal(json_string_value(json_object_get(got, "num")), "+55 41 98844-5566");
    assert_string_equal(json_string_value(json_object_get(got, "pid")), "c 1&2");
    assert_string_equal(json_string_value(json_object_get(got, "t")), "say \"hi\"\nbye");
    assert_int_equal(json_object_size(got), 3);
    json_decref(got);
    notify_request_free(&q);
    json_decref(ev);
}

static void post_without_body_sends_the_event(void **state)
{
    (void)state;
    json_t *ev = dialer_event();
    notify_request q;
    render_one("{\"notify\":[{\"id\":\"p\",\"url\":\"http://crm:8080/in\"}]}", ev, &q);
    assert_string_equal(q.method, "POST");
    json_t *got = json_loadb(q.body, q.body_len, 0, NULL);
    assert_true(json_equal(got, ev));
    assert_string_equal(header(&q, "Content-Type"), "application/json");
    json_decref(got);
    notify_request_free(&q);
    json_decref(ev);
}

static void header_values_lose_crlf(void **state)
{
    (void)state;
    json_t *ev = dialer_event();
    notify_request q;
    render_one("{\"notify\":[{\"id\":\"h\",\"method\":\"DELETE\",\"url\":\"https://crm/c/"
               "{call_id}\",\"headers\":{\"X-Text\":\"t={disconnect_text}\",\"Authorization\":"
               "\"Bearer abc\"}}]}",
               ev, &q);
    assert_string_equal(header(&q, "X-Text"), "t=say \"hi\" bye");
    assert_string_equal(header(&q, "Authorization"), "Bearer abc");
    assert_null(q.body);
    /* webhook-id, User-Agent, then the rule's in their order */
    assert_int_equal(q.n_headers, 4);
    assert_string_equal(q.headers[1], "User-Agent: callrelay");
    for (size_t k = 0; k < q.n_headers; k++)
        assert_null(strpbrk(q.headers[k], "\r\n"));
    notify_request_free(&q);
    json_decref(ev);
}

/* "v1," + base64(HMAC-SHA256(key, id.ts.body)) made here from the secret's key. */
static void expected_signature(const char *content, char *out)
{
    unsigned char key[64], mac[32];
    const char *b64 = SECRET + 6;
    int klen = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)strlen(b64));
    assert_int_equal(klen, 24); /* 32 base64 characters, no padding */
    unsigned int mlen = 0;
    HMAC(EVP_sha256(), key, klen, (const unsigned char *)content, strlen(content), mac, &mlen);
    assert_int_equal(mlen, 32);
    strcpy(out, "v1,");
    EVP_EncodeBlock((unsigned char *)out + 3, mac, 32);
}

static void signed_post(void **state)
{
    (void)state;
    json_t *ev = dialer_event();
    notify_request q;
    render_one("{\"notify_secret\":\"" SECRET "\",\"notify\":[{\"id\":\"s\",\"url\":"
               "\"https://crm/in\",\"sign\":true}]}",
               ev, &q);
    assert_string_equal(header(&q, "webhook-timestamp"), "1700000000");
    const char *sig = header(&q, "webhook-signature");
    assert_non_null(sig);
    assert_int_equal(stdwh_verify(SECRET, header(&q, "webhook-id"), "1700000000", sig, q.body,
                                  q.body_len, 1700000000),
                     STDWH_OK);
    char *content;
    assert_true(asprintf(&content, "ntf_1.1700000000.%s", q.body) > 0);
    char want[128];
    expected_signature(content, want);
    assert_string_equal(sig, want);
    free(content);
    /* the signature is over this body: another one does not verify */
    assert_int_equal(stdwh_verify(SECRET, "ntf_1", "1700000000", sig, "{}", 2, 1700000000),
                     STDWH_MISMATCH);
    notify_request_free(&q);
    json_decref(ev);
}

static void signed_get_signs_the_empty_body(void **state)
{
    (void)state;
    json_t *ev = dialer_event();
    notify_request q;
    render_one("{\"notify_secret\":\"" SECRET "\",\"notify\":[{\"id\":\"s\",\"method\":\"GET\","
               "\"url\":\"https://crm/in?c={call_id}\",\"sign\":true}]}",
               ev, &q);
    char want[128];
    expected_signature("ntf_1.1700000000.", want);
    assert_string_equal(header(&q, "webhook-signature"), want);
    assert_int_equal(strncmp(q.headers[q.n_headers - 1], "webhook-signature: ", 19), 0);
    notify_request_free(&q);
    json_decref(ev);
}

/* {number} for an event copy of user, on a call between from and to. */
static void expect_number(const char *user, const char *direction, const char *want)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"id\":\"1-0\",\"kind\":\"call\",\"user\":\"%s\",\"call\":{\"state\":"
             "\"connected\",\"direction\":\"%s\",\"from\":{\"number\":\"111\",\"extension\":"
             "\"201\"},\"to\":{\"number\":\"222\",\"extension\":\"202\"}}}",
             user, direction);
    json_t *ev = J(text);
    notify_request q;
    render_one("{\"notify\":[{\"id\":\"n\",\"method\":\"GET\",\"url\":\"https://h/?n={number}&f={"
               "from_number}&t={to_number}&d={direction}\"}]}",
               ev, &q);
    char url[256];
    snprintf(url, sizeof url, "https://h/?n=%s&f=111&t=222&d=%s", want, direction);
    assert_string_equal(q.url, url);
    notify_request_free(&q);
    json_decref(ev);
}

static void number_is_the_other_party(void **state)
{
    (void)state;
    expect_number("202", "inbound", "111");  /* the user answers: the caller */
    expect_number("202", "outbound", "111"); /* the user is to, whatever the direction */
    expect_number("201", "outbound", "222"); /* the user calls: the callee */
    expect_number("201", "inbound", "222");
    expect_number("999", "outbound", "222"); /* neither: by direction */
    expect_number("999", "inbound", "111");
    expect_number("999", "internal", "111");
}

static void absent_values_are_empty(void **state)
{
    (void)state;
    json_t *ev = J("{\"id\":\"5-1\",\"kind\":\"record\",\"user\":\"7\",\"call_id\":\"c\","
                   "\"record\":{\"status\":\"available\",\"recording_id\":\"r1\",\"url\":"
                   "\"https://rec/1.mp3\"}}");
    notify_request q;
    render_one("{\"notify\":[{\"id\":\"r\",\"method\":\"GET\",\"url\":\"https://h/?s={state}&r={"
               "recording_id}&u={recording_url}&n={number}&c={company_id}&x={disconnect_code}&i={"
               "id}&{literal&{}\"}]}",
               ev, &q);
    assert_string_equal(q.url, "https://h/?s=available&r=r1&u=https%3A%2F%2Frec%2F1.mp3&n=&c=&x="
                               "&i=5-1&{literal&{}");
    notify_request_free(&q);
    json_decref(ev);
}

/* ---- matching ---- */

static bool match(const char *on, const char *ev_text)
{
    char text[512];
    snprintf(text, sizeof text, "{\"notify\":[{\"id\":\"m\",\"url\":\"https://h/\",\"on\":%s}]}",
             on);
    json_t *s = J(text), *ev = J(ev_text);
    notify_rules *rs = compile(s);
    bool m = notify_rule_matches(rs->v[0], ev);
    notify_rules_free(rs);
    json_decref(s);
    json_decref(ev);
    return m;
}

#define CALL_DIALER "{\"kind\":\"call\",\"call\":{\"state\":\"connected\",\"campaign\":\"c\"}}"
#define CALL_CRM "{\"kind\":\"call\",\"call\":{\"state\":\"connected\",\"crm_contact_id\":\"9\"}}"
#define CALL_PLAIN "{\"kind\":\"call\",\"call\":{\"state\":\"appeared\"}}"
#define RECORD "{\"kind\":\"record\",\"record\":{\"status\":\"failed\"}}"
#define ROUTE "{\"kind\":\"route_result\",\"route_result\":{\"command_id\":\"x\",\"result\":0}}"

static void matches_kind_state_dialer(void **state)
{
    (void)state;
    assert_true(match("{}", ROUTE));
    assert_true(match("{\"kind\":\"call\"}", CALL_PLAIN));
    assert_false(match("{\"kind\":\"call\"}", RECORD));
    assert_true(match("{\"kind\":[\"ivr\",\"record\"]}", RECORD));
    assert_false(match("{\"kind\":[\"ivr\",\"record\"]}", CALL_PLAIN));
    assert_true(match("{\"state\":\"connected\"}", CALL_DIALER));
    assert_false(match("{\"state\":\"connected\"}", CALL_PLAIN));
    assert_true(match("{\"state\":[\"appeared\",\"failed\"]}", CALL_PLAIN));
    assert_true(match("{\"state\":[\"appeared\",\"failed\"]}", RECORD)); /* record.status */
    assert_false(match("{\"state\":\"connected\"}", ROUTE));
    assert_true(match("{\"dialer\":true}", CALL_DIALER));
    assert_true(match("{\"dialer\":true}", CALL_CRM));
    assert_false(match("{\"dialer\":true}", CALL_PLAIN));
    assert_false(match("{\"dialer\":true}", RECORD));
    assert_true(match("{\"dialer\":false}", CALL_PLAIN));
    assert_false(match("{\"dialer\":false}", CALL_CRM));
    assert_true(match("{\"kind\":\"call\",\"state\":\"connected\",\"dialer\":true}", CALL_CRM));
    assert_false(match("{\"kind\":\"call\",\"state\":\"appeared\",\"dialer\":true}", CALL_CRM));
}

/* ---- refusals ---- */

/* why: a part of the message, or NULL */
static void refused_why(const char *settings_text, const char *field, const char *why)
{
    json_t *s = J(settings_text);
    field_error e = {{0}, {0}};
    assert_int_equal(notify_rules_check(s, &e), -1);
    if (strcmp(e.field, field) != 0)
        print_error("%s: got %s: %s\n", settings_text, e.field, e.message);
    assert_string_equal(e.field, field);
    assert_true(strlen(e.message) > 5);
    if (why && !strstr(e.message, why))
        print_error("%s: message \"%s\" lacks \"%s\"\n", field, e.message, why);
    assert_true(!why || strstr(e.message, why));
    json_decref(s);
}

static void refused(const char *settings_text, const char *field)
{
    refused_why(settings_text, field, NULL);
}

/* One rule as the third of three (two good ones first), refused naming settings.notify[2]. */
static void refused_rule_why(const char *rule, const char *field_in_rule, const char *why)
{
    char text[4096], field[128];
    snprintf(text, sizeof text,
             "{\"notify\":[{\"id\":\"a\",\"url\":\"https://h/\"},{\"id\":\"b\",\"url\":"
             "\"https://h/\"},%s]}",
             rule);
    snprintf(field, sizeof field, "settings.notify[2].%s", field_in_rule);
    refused_why(text, field, why);
}

static void refused_rule(const char *rule, const char *field_in_rule)
{
    refused_rule_why(rule, field_in_rule, NULL);
}

static void refuses_naming_the_field(void **state)
{
    (void)state;
    refused_rule_why("{\"id\":\"c\",\"url\":\"https://h/?x={nope}\"}", "url", "{nope}");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"body\":\"x={Call_id}{callid}\"}", "body");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"headers\":{\"X-A\":\"{who}\"}}",
                 "headers.X-A");
    refused_rule_why("{\"id\":\"c\",\"url\":\"not a url\"}", "url", "not an absolute URL");
    refused_rule("{\"id\":\"c\",\"url\":\"/relative/{call_id}\"}", "url");
    refused_rule_why("{\"id\":\"c\",\"url\":\"https://{company_id}.crm/x\"}", "url", "host");
    refused_rule("{\"id\":\"c\",\"url\":\"https://crm{call_id}/x\"}", "url");
    refused_rule_why("{\"id\":\"c\",\"url\":\"https://crm:80{line}/x\"}", "url", "port");
    refused_rule("{\"id\":\"c\",\"url\":\"http{kind}://crm/x\"}", "url");
    refused_rule_why("{\"id\":\"c\",\"url\":\"ftp://crm/x\"}", "url", "http or https");
    refused_rule("{\"id\":\"c\",\"url\":7}", "url");
    refused_rule("{\"id\":\"c\"}", "url");
    refused_rule_why("{\"id\":\"c\",\"method\":\"GET\",\"url\":\"https://h/\",\"body\":\"x\"}",
                     "body", "no body");
    refused_rule("{\"id\":\"c\",\"method\":\"DELETE\",\"url\":\"https://h/\",\"body\":\"x\"}",
                 "body");
    refused_rule("{\"id\":\"c\",\"method\":\"get\",\"url\":\"https://h/\"}", "method");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"headers\":{\"X A\":\"1\"}}",
                 "headers.X A");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"headers\":{\"X:A\":\"1\"}}",
                 "headers.X:A");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"headers\":{\"host\":\"e\"}}",
                 "headers.host");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"headers\":{\"Content-Length\":\"1\"}}",
                 "headers.Content-Length");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"headers\":{\"Webhook-Id\":\"1\"}}",
                 "headers.Webhook-Id");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"headers\":{\"X-N\":1}}", "headers.X-N");
    refused_rule_why("{\"id\":\"c\",\"url\":\"https://h/\",\"sign\":true}", "sign",
                     "notify_secret");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"sign\":\"yes\"}", "sign");
    refused_rule_why("{\"id\":\"a\",\"url\":\"https://h/\"}", "id", "earlier rule");
    refused_rule("{\"id\":\"a b\",\"url\":\"https://h/\"}", "id");
    refused_rule("{\"url\":\"https://h/\"}", "id");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"colour\":1}", "colour");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"on\":{\"kinds\":\"call\"}}", "on.kinds");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"on\":{\"kind\":\"calls\"}}", "on.kind");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"on\":{\"kind\":[]}}", "on.kind");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"on\":{\"state\":[\"connected\",1]}}",
                 "on.state");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"on\":{\"dialer\":1}}", "on.dialer");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"on\":[]}", "on");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"body\":\"{\\\"a\\\": {call_id}}\"}",
                 "body");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"body\":\"{\\\"a\\\": \\\"x\\\"\"}",
                 "body");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"body\":\"{\\\"a\\\":\\\"{event}\\\"}\"}",
                 "body");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"headers\":{\"Content-Type\":\"text/"
                 "{kind}\"},\"body\":\"x\"}",
                 "headers.Content-Type");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"headers\":{\"content-type\":\"text/"
                 "plain\"}}",
                 "headers.content-type");
    refused_rule("{\"id\":\"c\",\"url\":\"https://h/\",\"headers\":{\"Content-Type\":\"text/"
                 "json\"},\"body\":\"x={call_id}\"}",
                 "body");
}

static void refuses_bad_ranges(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"\"retry\":{\"max_attempts\":0}", "retry.max_attempts"},
        {"\"retry\":{\"max_attempts\":101}", "retry.max_attempts"},
        {"\"retry\":{\"max_attempts\":2.5}", "retry.max_attempts"},
        {"\"retry\":{\"max_age_s\":0}", "retry.max_age_s"},
        {"\"retry\":{\"max_age_s\":604801}", "retry.max_age_s"},
        {"\"retry\":{\"base_ms\":9}", "retry.base_ms"},
        {"\"retry\":{\"base_ms\":3600001}", "retry.base_ms"},
        {"\"retry\":{\"base_ms\":2000,\"max_delay_ms\":1999}", "retry.max_delay_ms"},
        {"\"retry\":{\"max_delay_ms\":86400001}", "retry.max_delay_ms"},
        {"\"retry\":{\"base_ms\":700000}", "retry.max_delay_ms"}, /* above the default cap */
        {"\"retry\":{\"tries\":3}", "retry.tries"},
        {"\"retry\":3", "retry"},
        {"\"timeout_ms\":99", "timeout_ms"},
        {"\"timeout_ms\":120001", "timeout_ms"},
        {"\"rate_per_s\":0", "rate_per_s"},
        {"\"rate_per_s\":-1", "rate_per_s"},
        {"\"rate_per_s\":10000.5", "rate_per_s"},
        {"\"rate_per_s\":\"5\"", "rate_per_s"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char rule[256];
        snprintf(rule, sizeof rule, "{\"id\":\"c\",\"url\":\"https://h/\",%s}", cases[k][0]);
        refused_rule(rule, cases[k][1]);
    }
}

static void refuses_the_list(void **state)
{
    (void)state;
    refused("{\"notify\":{}}", "settings.notify");
    refused("{\"notify\":[1]}", "settings.notify[0]");
    char text[8192] = "{\"notify\":[";
    for (int k = 0; k <= NOTIFY_RULES_MAX; k++)
        snprintf(text + strlen(text), sizeof text - strlen(text),
                 "%s{\"id\":\"r%d\",\"url\":\"https://h/\"}", k ? "," : "", k);
    strcat(text, "]}");
    refused(text, "settings.notify");
    refused("{\"notify_secret\":\"whsec_!!\",\"notify\":[{\"id\":\"s\",\"url\":\"https://h/\","
            "\"sign\":true}]}",
            "settings.notify_secret");
}

static void accepts_and_compiles(void **state)
{
    (void)state;
    field_error e = {{0}, {0}};
    assert_int_equal(notify_rules_check(NULL, &e), 0);
    json_t *s = J("{\"notify\":[]}");
    assert_int_equal(notify_rules_check(s, &e), 0);
    bool oom = true;
    assert_null(notify_rules_compile(s, &oom));
    assert_false(oom);
    json_decref(s);

    char text[8192] = "{\"notify\":[";
    for (int k = 0; k < NOTIFY_RULES_MAX; k++)
        snprintf(text + strlen(text), sizeof text - strlen(text),
                 "%s{\"id\":\"r%d\",\"url\":\"HTTP://CRM.Example:8080/x\"}", k ? "," : "", k);
    strcat(text, "]}");
    s = J(text);
    notify_rules *rs = compile(s);
    assert_int_equal(rs->n, NOTIFY_RULES_MAX);
    notify_rule_info info = notify_rule_get_info(notify_rules_find(rs, "r31"));
    assert_string_equal(info.id, "r31");
    assert_string_equal(info.endpoint, "http://crm.example:8080");
    assert_int_equal(info.max_attempts, NOTIFY_DEFAULT_MAX_ATTEMPTS);
    assert_int_equal(info.max_age_ms, (int64_t)NOTIFY_DEFAULT_MAX_AGE_S * 1000);
    assert_int_equal(info.base_ms, NOTIFY_DEFAULT_BASE_MS);
    assert_int_equal(info.max_delay_ms, NOTIFY_DEFAULT_MAX_DELAY_MS);
    assert_int_equal(info.timeout_ms, NOTIFY_DEFAULT_TIMEOUT_MS);
    assert_true(info.rate_per_s == 0);
    assert_null(notify_rules_find(rs, "r32"));
    notify_rules_free(rs);
    json_decref(s);

    s = J("{\"notify\":[{\"id\":\"x.Y-1_\",\"url\":\"https://[::1]/p\",\"retry\":{"
          "\"max_attempts\":3,\"max_age_s\":60,\"base_ms\":10,\"max_delay_ms\":10},"
          "\"timeout_ms\":100,\"rate_per_s\":0.5,\"sign\":false,\"on\":{}},{\"id\":\"d\",\"url\":"
          "\"https://crm.example/\"}]}");
    rs = compile(s);
    info = notify_rule_get_info(notify_rules_find(rs, "x.Y-1_"));
    assert_string_equal(info.endpoint, "https://[::1]:443");
    assert_int_equal(info.max_attempts, 3);
    assert_int_equal(info.max_age_ms, 60000);
    assert_int_equal(info.base_ms, 10);
    assert_int_equal(info.max_delay_ms, 10);
    assert_int_equal(info.timeout_ms, 100);
    assert_true(info.rate_per_s == 0.5);
    assert_string_equal(notify_rule_get_info(notify_rules_find(rs, "d")).endpoint,
                        "https://crm.example:443");
    notify_rules_free(rs);
    json_decref(s);
}

/* ---- retries ---- */

static void retry_delay_bounds(void **state)
{
    (void)state;
    notify_rule_info info = {.base_ms = 1000, .max_delay_ms = 600000};
    uint64_t x = 88172645463325252ull; /* xorshift64 */
    for (unsigned attempts = 1; attempts <= 100; attempts++) {
        int64_t cap = attempts >= 11 ? 600000 : 1000ll << (attempts - 1);
        int64_t top = 0;
        for (int k = 0; k < 2000; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            int64_t d = notify_retry_delay_ms(&info, attempts, x);
            assert_true(d >= 0 && d <= cap);
            top = d > top ? d : top;
        }
        assert_true(top > cap / 2); /* it does reach up towards the cap */
        assert_int_equal(notify_retry_delay_ms(&info, attempts, (uint64_t)cap), cap);
        assert_int_equal(notify_retry_delay_ms(&info, attempts, (uint64_t)cap + 1), 0);
        assert_true(notify_retry_delay_ms(&info, attempts, UINT64_MAX) <= cap);
    }
    assert_int_equal(notify_retry_delay_ms(&info, 1, 1000), 1000);
    assert_int_equal(notify_retry_delay_ms(&info, 2, 2000), 2000);
    assert_int_equal(notify_retry_delay_ms(&info, 10, 512000), 512000);
    assert_int_equal(notify_retry_delay_ms(&info, 11, 999999), 999999 % 600001);
    info = (notify_rule_info){.base_ms = 3600000, .max_delay_ms = 86400000};
    assert_int_equal(notify_retry_delay_ms(&info, 100, 86400000), 86400000);
    assert_int_equal(notify_retry_delay_ms(&info, UINT32_MAX, UINT64_MAX),
                     (int64_t)(UINT64_MAX % 86400001));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finaz_get),
        cmocka_unit_test(finaz_company_id_as_string),
        cmocka_unit_test(json_body_stays_json),
        cmocka_unit_test(event_placeholder_in_json_body),
        cmocka_unit_test(form_body),
        cmocka_unit_test(post_without_body_sends_the_event),
        cmocka_unit_test(header_values_lose_crlf),
        cmocka_unit_test(signed_post),
        cmocka_unit_test(signed_get_signs_the_empty_body),
        cmocka_unit_test(number_is_the_other_party),
        cmocka_unit_test(absent_values_are_empty),
        cmocka_unit_test(matches_kind_state_dialer),
        cmocka_unit_test(refuses_naming_the_field),
        cmocka_unit_test(refuses_bad_ranges),
        cmocka_unit_test(refuses_the_list),
        cmocka_unit_test(accepts_and_compiles),
        cmocka_unit_test(retry_delay_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
