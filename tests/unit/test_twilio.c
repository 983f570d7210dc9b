/* test_twilio.c — the twilio adapter: every recorded fixture, then what they do not cover:
 * settings refused by field, the signed URL's two forms, signature edge cases, types, odd
 * values and the Q.850 mapping. */
#include "fixture_runner.h"

#include "../../adapters/twilio.c"

#define TOKEN "0123456789abcdef0123456789abcdef"
#define URL "https://relay.example.com/v1/hooks/acme/twilio"
#define FORM "application/x-www-form-urlencoded"
#define CALL "CallSid=CA22222222222222222222222200000101&From=%2B14155550100&To=client%3A101"

struct hdr {
    const char *name, *value;
};

static const char *lookup(const adapter_request *req, const char *name)
{
    for (const struct hdr *h = req->header_ctx; h && h->name; h++)
        if (strcasecmp(h->name, name) == 0)
            return h->value;
    return NULL;
}

static adapter_request request(const char *body, const char *ct, const struct hdr *headers)
{
    return (adapter_request){.method = "POST",
                             .subpath = "",
                             .query = "",
                             .content_type = ct,
                             .body = body,
                             .body_len = strlen(body),
                             .header = lookup,
                             .header_ctx = (void *)headers};
}

/* parse alone; *out holds the events (caller frees). */
static enum adapter_status parse_body(const char *body, const char *ct, json_t **out,
                                      adapter_error *err)
{
    adapter_request q = request(body, ct, NULL);
    adapter_ctx ctx = {.integration = "acme", .now = 1795449600};
    *out = json_array();
    enum adapter_status st = adapter_twilio.parse(&ctx, &q, *out, err);
    if (st != ADAPTER_OK)
        assert_int_equal(json_array_size(*out), 0);
    return st;
}

static void assert_refused(const char *body, const char *ct, const char *field)
{
    json_t *out;
    adapter_error err;
    assert_int_equal(parse_body(body, ct, &out, &err), ADAPTER_INVALID);
    assert_string_equal(err.field, field);
    assert_true(err.message[0] != '\0');
    json_decref(out);
}

/* The one event of body, checked against the contract. */
static json_t *one_event(const char *body, const char *ct)
{
    json_t *out;
    adapter_error err = {{0}, {0}};
    if (parse_body(body, ct, &out, &err) != ADAPTER_OK)
        fail_msg("refused: %s: %s", err.field, err.message);
    assert_int_equal(json_array_size(out), 1);
    assert_int_equal(event_check_all(out, &err), 0);
    json_t *ev = json_incref(json_array_get(out, 0));
    json_decref(out);
    return ev;
}

static void fixtures(void **state)
{
    (void)state;
    fixture_totals t = fixture_run_dir(&adapter_twilio, "../fixtures/twilio");
    assert_true(t.accepted >= 19 && t.refused >= 12);
}

/* ---- settings ---- */

static void assert_setting_refused(const char *json, const char *field)
{
    json_error_t je;
    json_t *s = json_loads(json, 0, &je);
    adapter_error err;
    assert_non_null(s);
    assert_int_equal(adapter_twilio.check_settings(s, &err), -1);
    assert_string_equal(err.field, field);
    void *c = NULL;
    assert_int_equal(adapter_twilio.compile(s, &c, &err), -1);
    assert_null(c);
    json_decref(s);
}

static void settings_refused(void **state)
{
    (void)state;
    assert_setting_refused("{}", "twilio");
    assert_setting_refused("{\"twilio\":\"x\"}", "twilio");
    assert_setting_refused("{\"twilio\":{\"public_url\":\"" URL "\"}}", "twilio.auth_token");
    assert_setting_refused("{\"twilio\":{\"auth_token\":\"t\"}}", "twilio.public_url");
    assert_setting_refused("{\"twilio\":{\"auth_token\":\"\",\"public_url\":\"" URL "\"}}",
                           "twilio.auth_token");
    assert_setting_refused("{\"twilio\":{\"auth_token\":5,\"public_url\":\"" URL "\"}}",
                           "twilio.auth_token");
    static const char *const bad_urls[] = {
        "/v1/hooks/acme/twilio",  "ftp://h/x",           "https://",
        "https:///v1/hooks/acme", "https://h/x?a=b",     "https://h/x#f",
        "https://h/a b",          "relay.example.com/x", "http//h/x",
    };
    for (size_t i = 0; i < sizeof bad_urls / sizeof *bad_urls; i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"twilio\":{\"auth_token\":\"t\",\"public_url\":\"%s\"}}",
                 bad_urls[i]);
        assert_setting_refused(json, "twilio.public_url");
    }
    assert_setting_refused("{\"twilio\":{\"auth_token\":\"t\",\"public_url\":\"" URL
                           "\",\"api_base_url\":\"x\"}}",
                           "twilio.api_base_url");
    assert_setting_refused("{\"twilio\":{\"auth_token\":\"t\",\"public_url\":\"" URL
                           "\",\"shared_secret\":\"k\"}}",
                           "twilio.shared_secret");
    assert_setting_refused("{\"twilio\":{\"auth_token\":\"t\",\"public_url\":\"" URL
                           "\",\"caller_id\":null}}",
                           "twilio.caller_id");
}

static void settings_accepted(void **state)
{
    (void)state;
    json_t *s = json_pack("{s{ss,ss,ss,ss,ss,ss}}", "twilio", "auth_token", TOKEN, "public_url",
                          "HTTP://relay.example.com:8080/v1/hooks/acme/twilio/", "account_sid",
                          "AC000000000000000000000000c0ffee01", "api_base_url",
                          "https://api.twilio.com", "caller_id", "+14155550100", "shared_key", "k");
    adapter_error err;
    void *c = NULL;
    assert_int_equal(adapter_twilio.check_settings(s, &err), 0);
    assert_int_equal(adapter_twilio.compile(s, &c, &err), 0);
    const tw_compiled *tc = c;
    assert_string_equal(tc->url[0], "HTTP://relay.example.com/v1/hooks/acme/twilio");
    assert_string_equal(tc->url[1], "HTTP://relay.example.com:8080/v1/hooks/acme/twilio");
    assert_string_equal(tc->shared_key, "k");
    adapter_twilio.free_compiled(c);
    json_decref(s);
}

static void url_forms_like_twilio_node(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        {"https://h/x", "https://h/x", "https://h:443/x"},
        {"http://h/x//", "http://h/x", "http://h:80/x"},
        {"https://h:443/x", "https://h/x", "https://h:443/x"},
        {"http://u:p@[::1]:8080/x", "http://u:p@[::1]/x", "http://u:p@[::1]:8080/x"},
        {"https://[::1]/x", "https://[::1]/x", "https://[::1]:443/x"},
        {"https://h", "https://h", "https://h:443"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out[2] = {NULL, NULL};
        assert_int_equal(url_forms(cases[i][0], out), 0);
        assert_string_equal(out[0], cases[i][1]);
        assert_string_equal(out[1], cases[i][2]);
        free(out[0]);
        free(out[1]);
    }
}

/* ---- signatures ---- */

static void *compiled_settings(const char *shared_key)
{
    json_t *s = json_pack("{s{ss,ss}}", "twilio", "auth_token", TOKEN, "public_url", URL);
    if (shared_key)
        json_object_set_new(json_object_get(s, "twilio"), "shared_key", json_string(shared_key));
    void *c = NULL;
    adapter_error err;
    assert_int_equal(adapter_twilio.compile(s, &c, &err), 0);
    json_decref(s);
    return c;
}

static enum adapter_status verify_with(void *c, const char *body, const char *query,
                                       const struct hdr *h, adapter_error *err)
{
    adapter_request q = request(body, FORM, h);
    q.query = query;
    adapter_ctx ctx = {.integration = "acme", .compiled = c, .now = 1795449600};
    return adapter_twilio.verify(&ctx, &q, err);
}

/* base64 HMAC of text with key, for the edge cases below (the fixtures' signatures come from
 * Python's hmac and are cross-checked with the npm twilio package). */
static void sign(const EVP_MD *md, const char *key, const char *text, char out[100])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(md, key, (int)strlen(key), (const unsigned char *)text, strlen(text), mac, &n);
    EVP_EncodeBlock((unsigned char *)out, mac, (int)n);
}

static void signature_edges(void **state)
{
    (void)state;
    void *c = compiled_settings(NULL);
    adapter_error err;
    char sig[100];
    sign(EVP_sha1(), TOKEN, URL "A1B2B3Bx", sig);
    struct hdr ok[] = {{TW_SIG_HDR, sig}, {NULL, NULL}};
    /* repeated values: each distinct value once, sorted */
    assert_int_equal(verify_with(c, "B=x&A=1&B=3&B=2&B=3", "", ok, &err), ADAPTER_OK);
    assert_int_equal(verify_with(c, "B=x&A=1&B=3&B=2", "", ok, &err), ADAPTER_OK);
    assert_int_equal(verify_with(c, "B=x&A=1&B=3", "", ok, &err), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(err.field, TW_SIG_HDR);
    /* the signature itself: one byte more, one byte less, empty */
    char longer[110], shorter[100];
    snprintf(longer, sizeof longer, "%s=", sig);
    snprintf(shorter, sizeof shorter, "%.*s", (int)strlen(sig) - 1, sig);
    struct hdr l[] = {{TW_SIG_HDR, longer}, {NULL, NULL}}, s[] = {{TW_SIG_HDR, shorter}, {0}};
    assert_int_equal(verify_with(c, "B=x&A=1&B=3&B=2", "", l, &err), ADAPTER_BAD_SIGNATURE);
    assert_int_equal(verify_with(c, "B=x&A=1&B=3&B=2", "", s, &err), ADAPTER_BAD_SIGNATURE);
    assert_int_equal(verify_with(c, "A=1", "", NULL, &err), ADAPTER_NO_SIGNATURE);
    /* a body that is no form cannot be checked */
    assert_int_equal(verify_with(c, "%zz", "", ok, &err), ADAPTER_BAD_SIGNATURE);
    /* shared key named by the header, but none configured; an unknown algorithm */
    struct hdr sk[] = {{TW_SIG_HDR, sig}, {TW_SETTINGS_HDR, "key=k1,algorithm=HMAC_SHA256"}, {0}};
    assert_int_equal(verify_with(c, "A=1", "", sk, &err), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(err.field, TW_SETTINGS_HDR);
    tw_free_compiled(c);
    c = compiled_settings("shared");
    struct hdr md5[] = {{TW_SIG_HDR, sig}, {TW_SETTINGS_HDR, "algorithm=HMAC_MD5"}, {0}};
    assert_int_equal(verify_with(c, "A=1", "", md5, &err), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(err.field, TW_SETTINGS_HDR);
    /* the header without algorithm=: the shared key with SHA1, as twilio-node does */
    sign(EVP_sha1(), "shared", URL "/s?x=1A1", sig);
    struct hdr k1[] = {{TW_SIG_HDR, sig}, {TW_SETTINGS_HDR, " key=k1 , other"}, {0}};
    adapter_request q = request("A=1", FORM, k1);
    q.subpath = "/s";
    q.query = "x=1";
    adapter_ctx ctx = {.integration = "acme", .compiled = c};
    assert_int_equal(adapter_twilio.verify(&ctx, &q, &err), ADAPTER_OK);
    sign(EVP_sha256(), "shared", "https://relay.example.com:443/v1/hooks/acme/twilio/s?x=1A1", sig);
    struct hdr k2[] = {{TW_SIG_HDR, sig}, {TW_SETTINGS_HDR, "algorithm = hmac_sha256"}, {0}};
    q.header_ctx = k2;
    assert_int_equal(adapter_twilio.verify(&ctx, &q, &err), ADAPTER_OK);
    tw_free_compiled(c);
}

static void body_sha256(void **state)
{
    (void)state;
    void *c = compiled_settings(NULL);
    adapter_error err;
    const char *body = "{\"CallSid\":\"x\"}";
    char hex[DIGEST_HEX_LEN + 1], query[128], text[256], sig[100];
    digest_sha256_hex(body, strlen(body), hex);
    snprintf(query, sizeof query, "bodySHA256=%s", hex);
    snprintf(text, sizeof text, URL "?%s", query);
    sign(EVP_sha1(), TOKEN, text, sig);
    struct hdr h[] = {{TW_SIG_HDR, sig}, {NULL, NULL}};
    assert_int_equal(verify_with(c, body, query, h, &err), ADAPTER_OK);
    assert_int_equal(verify_with(c, "{\"CallSid\":\"y\"}", query, h, &err), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(err.field, "bodySHA256");
    assert_int_equal(verify_with(c, body, "bodySHA256=abc", h, &err), ADAPTER_BAD_SIGNATURE);
    assert_int_equal(verify_with(c, body, "bodySHA256=a&bodySHA256=b", h, &err),
                     ADAPTER_BAD_SIGNATURE);
    /* a JSON body signed as if it were a form (its text one parameter name): parse would read
     * fields nothing signed, so only bodySHA256 can cover JSON */
    snprintf(text, sizeof text, URL "%s", body);
    sign(EVP_sha1(), TOKEN, text, sig);
    struct hdr as_form[] = {{TW_SIG_HDR, sig}, {NULL, NULL}};
    adapter_request q = request(body, "application/json", as_form);
    adapter_ctx ctx = {.integration = "acme", .compiled = c};
    assert_int_equal(adapter_twilio.verify(&ctx, &q, &err), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(err.field, "bodySHA256");
    tw_free_compiled(c);
}

static void verify_without_compiled(void **state)
{
    (void)state;
    adapter_error err;
    struct hdr h[] = {{TW_SIG_HDR, "AAAA"}, {NULL, NULL}};
    assert_int_equal(verify_with(NULL, "A=1", "", h, &err), ADAPTER_BAD_SIGNATURE);
}

/* ---- parse ---- */

static void statuses_and_causes(void **state)
{
    (void)state;
    static const struct {
        const char *status, *state;
        int code;
    } cases[] = {
        {"ringing", "appeared", 0},       {"RINGING", "appeared", 0},
        {"In-Progress", "connected", 0},  {"completed", "disconnected", 16},
        {"busy", "disconnected", 17},     {"no-answer", "disconnected", 19},
        {"canceled", "disconnected", 16}, {"failed", "disconnected", 41},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char body[256];
        snprintf(body, sizeof body, "%s&CallStatus=%s", CALL, cases[i].status);
        json_t *ev = one_event(body, FORM);
        json_t *call = json_object_get(ev, "call");
        assert_string_equal(json_string_value(json_object_get(call, "state")), cases[i].state);
        json_t *d = json_object_get(call, "disconnect");
        assert_int_equal(json_integer_value(json_object_get(d, "code")), cases[i].code);
        assert_true(!cases[i].code || json_string_length(json_object_get(d, "text")) > 0);
        json_decref(ev);
    }
    json_t *out;
    adapter_error err;
    assert_int_equal(parse_body(CALL "&CallStatus=queued", FORM, &out, &err), ADAPTER_OK);
    assert_int_equal(json_array_size(out), 0);
    json_decref(out);
    assert_int_equal(parse_body(CALL "&CallStatus=initiated", FORM, &out, &err), ADAPTER_OK);
    assert_int_equal(json_array_size(out), 0);
    json_decref(out);
}

static void failed_with_sip_code(void **state)
{
    (void)state;
    static const int cases[][2] = {{486, 17}, {404, 1}, {480, 18}, {503, 34}, {699, 41}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char body[256];
        snprintf(body, sizeof body, "%s&CallStatus=failed&SipResponseCode=%d", CALL, cases[i][0]);
        json_t *ev = one_event(body, FORM);
        json_t *d = json_object_get(json_object_get(ev, "call"), "disconnect");
        assert_int_equal(json_integer_value(json_object_get(d, "code")), cases[i][1]);
        json_decref(ev);
    }
    /* busy stays busy whatever the SIP code */
    json_t *ev = one_event(CALL "&CallStatus=busy&SipResponseCode=404", FORM);
    json_t *d = json_object_get(json_object_get(ev, "call"), "disconnect");
    assert_int_equal(json_integer_value(json_object_get(d, "code")), 17);
    json_decref(ev);
    assert_refused(CALL "&CallStatus=failed&SipResponseCode=700", FORM, "SipResponseCode");
}

static void parties_and_direction(void **state)
{
    (void)state;
    static const struct {
        const char *body, *dir, *from_kind, *to_kind, *users;
    } cases[] = {
        {"From=client%3A101&To=client%3A102", "internal", "extension", "extension",
         "[\"101\",\"102\"]"},
        {"From=sip%3A101%40x.sip.twilio.com&To=%2B1555", "outbound", "extension", "number",
         "[\"101\",\"+1555\"]"},
        {"Caller=%2B1555&Called=sip%3A%2B1666%40h&Direction=inbound", "inbound", "number", "number",
         "[\"+1555\",\"+1666\"]"},
        {"From=&Caller=%2B1555&To=%2B1555&Direction=outbound-api", "outbound", "number", "number",
         "[\"+1555\"]"},
        {"From=client%3AAnn+Smith&To=%2B1555", "outbound", "extension", "number", "[\"+1555\"]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "CallSid=CA22222222222222222222222200000101&CallStatus="
                 "ringing&%s",
                 cases[i].body);
        json_t *ev = one_event(body, FORM), *call = json_object_get(ev, "call");
        assert_string_equal(json_string_value(json_object_get(call, "direction")), cases[i].dir);
        assert_non_null(json_object_get(json_object_get(call, "from"), cases[i].from_kind));
        assert_non_null(json_object_get(json_object_get(call, "to"), cases[i].to_kind));
        json_t *want = json_loads(cases[i].users, 0, NULL);
        assert_true(json_equal(want, json_object_get(ev, "users")));
        json_decref(want);
        json_decref(ev);
    }
    /* no Direction and no marked party: no direction */
    json_t *ev = one_event(
        "CallSid=CA22222222222222222222222200000101&CallStatus=ringing&From=1&To=2", FORM);
    assert_null(json_object_get(json_object_get(ev, "call"), "direction"));
    json_decref(ev);
}

static void wrong_types_and_values(void **state)
{
    (void)state;
    char long_party[200];
    snprintf(
        long_party, sizeof long_party,
        "CallSid=CA22222222222222222222222200000101&To=1&CallStatus=ringing&From=client%%3A%065d",
        1);
    assert_refused(long_party, FORM, "From");
    assert_refused(CALL "&CallStatus=ringing&From=a&From=b", FORM, "From");
    assert_refused("CallSid=CA1&CallStatus=ringing&To=1", FORM, "CallSid");
    assert_refused(CALL "&CallStatus=ringing&ParentCallSid=CA12", FORM, "ParentCallSid");
    assert_refused("CallSid=CA22222222222222222222222200000101&CallStatus=ringing", FORM, "To");
    assert_refused(CALL "&CallStatus=ringing&SequenceNumber=-1", FORM, "SequenceNumber");
    assert_refused(CALL "&CallStatus=ringing&SequenceNumber=9007199254740992", FORM,
                   "SequenceNumber");
    assert_refused(CALL "&CallStatus=ringing&SequenceNumber=99999999999999999999999", FORM,
                   "SequenceNumber");
    assert_refused(CALL "&CallStatus=ringing&SequenceNumber=", FORM, "SequenceNumber");
    assert_refused(CALL "&CallStatus=ringing&Timestamp=yesterday", FORM, "Timestamp");
    assert_refused(CALL "&CallStatus=ringing&Timestamp=Mon%2C+30+Feb+2026+15%3A00%3A00+%2B0000",
                   FORM, "Timestamp");
    assert_refused(CALL "&CallStatus=ringing&Timestamp=Mon%2C+1+Jan+1969+15%3A00%3A00+%2B0000",
                   FORM, "Timestamp");
    /* a zone that carries the last second of 9999 into year 10000 */
    assert_refused(CALL "&CallStatus=ringing&Timestamp=Fri%2C+31+Dec+9999+23%3A59%3A59+-2359", FORM,
                   "Timestamp");
    assert_refused(CALL "&CallStatus=ringing&Timestamp=1+Jan+2026+15%3A00%3A00+%2B0000+x", FORM,
                   "Timestamp");
    assert_refused("%zz", FORM, "");
    assert_refused("[]", "application/json", "");
    assert_refused("{\"CallSid\":", "application/json", "");
    assert_refused("{\"CallSid\":\"CA22222222222222222222222200000101\",\"CallStatus\":7}",
                   "application/json", "CallStatus");
    assert_refused("{\"CallSid\":\"CA22222222222222222222222200000101\",\"CallStatus\":"
                   "\"ringing\",\"To\":\"1\",\"SequenceNumber\":1.5}",
                   "application/json", "SequenceNumber");
    assert_refused("{\"CallSid\":\"CA22222222222222222222222200000101\",\"CallStatus\":"
                   "\"ringing\",\"To\":\"1\",\"SequenceNumber\":-3}",
                   "application/json", "SequenceNumber");
}

static void json_numbers_and_timestamps(void **state)
{
    (void)state;
    json_t *ev = one_event("{\"CallSid\":\"CA22222222222222222222222200000101\",\"CallStatus\":"
                           "\"ringing\",\"To\":\"client:101\",\"SequenceNumber\":9007199254740991,"
                           "\"Timestamp\":\"23 Nov 2026 12:00 -0300\"}",
                           " Application/JSON; charset=utf-8");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ev, "order"), "seq")),
                     9007199254740991LL);
    assert_string_equal(json_string_value(json_object_get(ev, "ts")), "2026-11-23T15:00:00.000Z");
    json_decref(ev);
    static const char *const stamps[][2] = {
        {"Tue, 29 Feb 2028 23:59:59 GMT", "2028-02-29T23:59:59.000Z"},
        {"Thu, 1 Jan 2026 00:30:00 +0100", "2025-12-31T23:30:00.000Z"},
        {"  1 jan 2026 00:00:00 UT ", "2026-01-01T00:00:00.000Z"},
    };
    for (size_t i = 0; i < sizeof stamps / sizeof *stamps; i++) {
        json_t *body = json_pack("{ss,ss,ss,ss}", "CallSid", "CA22222222222222222222222200000101",
                                 "CallStatus", "ringing", "To", "1", "Timestamp", stamps[i][0]);
        char *text = json_dumps(body, 0);
        ev = one_event(text, "application/json");
        assert_string_equal(json_string_value(json_object_get(ev, "ts")), stamps[i][1]);
        json_decref(ev);
        free(text);
        json_decref(body);
    }
}

static void recordings(void **state)
{
    (void)state;
#define REC                                                                                        \
    "RecordingSid=RE66666666666666666666666600000001&CallSid=CA11111111111111111111111100000001"
    json_t *out;
    adapter_error err;
    assert_int_equal(parse_body(REC "&RecordingStatus=in-progress", FORM, &out, &err), ADAPTER_OK);
    assert_int_equal(json_array_size(out), 0);
    json_decref(out);
    json_t *ev = one_event(REC "&RecordingStatus=completed&ParentCallSid="
                               "CA11111111111111111111111100000009",
                           FORM);
    assert_string_equal(json_string_value(json_object_get(ev, "call_id")),
                        "CA11111111111111111111111100000009");
    assert_null(json_object_get(json_object_get(ev, "record"), "duration_s"));
    json_decref(ev);
    assert_refused(REC "&RecordingStatus=lost", FORM, "RecordingStatus");
    assert_refused(REC, FORM, "RecordingStatus");
    assert_refused("RecordingSid=RE66666666666666666666666600000001&RecordingStatus=completed",
                   FORM, "CallSid");
    assert_refused("RecordingSid=x&CallSid=CA11111111111111111111111100000001", FORM,
                   "RecordingSid");
    assert_refused(REC "&RecordingStatus=completed&RecordingDuration=-1", FORM,
                   "RecordingDuration");
#undef REC
}

static void answer_is_empty_twiml(void **state)
{
    (void)state;
    adapter_answer a = {0};
    adapter_counts c = {.accepted = 0};
    adapter_ctx ctx = {.integration = "acme"};
    assert_int_equal(adapter_twilio.answer(&ctx, &c, &a), 0);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.content_type, "text/xml");
    assert_int_equal(a.body_len, strlen("<Response/>"));
    assert_memory_equal(a.body, "<Response/>", a.body_len);
    free(a.body);
    assert_ptr_equal(adapter_find("twilio"), &adapter_twilio);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixtures),
        cmocka_unit_test(settings_refused),
        cmocka_unit_test(settings_accepted),
        cmocka_unit_test(url_forms_like_twilio_node),
        cmocka_unit_test(signature_edges),
        cmocka_unit_test(body_sha256),
        cmocka_unit_test(verify_without_compiled),
        cmocka_unit_test(statuses_and_causes),
        cmocka_unit_test(failed_with_sip_code),
        cmocka_unit_test(parties_and_direction),
        cmocka_unit_test(wrong_types_and_values),
        cmocka_unit_test(json_numbers_and_timestamps),
        cmocka_unit_test(recordings),
        cmocka_unit_test(answer_is_empty_twiml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
