/* asterisk.c — Asterisk ARI events as an ARI application or a small relay posts them: one
 * message or an array. The channel a message is about is the call (a Dial's caller channel,
 * whose peer is the leg); ChannelDestroyed's cause is already Q.850. Signed the Standard
 * Webhooks way with webhook_secret, or sent with the integration token. */
#include <curl/curl.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter.h"
#include "common.h"
#include "event.h"
#include "event_check.h"
#include "names.h"
#include "result.h"
#include "stdwh_request.h"

#define AST_MAX_MESSAGES 1000
#define AST_MAX_ID 99    /* a Dial's order key "caller/peer" stays within EVENT_MAX_STR */
#define AST_PARTY_MAX 64 /* a party's number or extension, as the event contract has it */
#define AST_SETTING_MAX 2048

static void join(char *out, size_t size, const char *path, const char *name)
{
    if (*path && *name)
        snprintf(out, size, "%s.%s", path, name);
    else
        snprintf(out, size, "%s", *path ? path : name);
}

/* ---- reading ARI messages ---- */

typedef struct ast_channel {
    const char *id, *state, *caller, *connected, *exten; /* "" when absent */
} ast_channel;

/* One parsed message with where its events go. */
typedef struct ast_msg {
    const json_t *m;
    const char *path; /* "" for a single message, "messages[I]" in an array */
    bool has_ts;
    int64_t ms;
    json_t *events;
    adapter_error *e;
} ast_msg;

/* obj.key as a string: "" when absent or null. */
static int get_str(const json_t *obj, const char *key, const char *path, const char **out,
                   adapter_error *e)
{
    const json_t *v = json_object_get(obj, key);
    *out = "";
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return adapter_fail_at(e, path, key, "must be a string");
    *out = json_string_value(v);
    return 0;
}

/* obj.sub.key as a string ("caller.number"); "" when either is absent. */
static int get_sub_str(const json_t *obj, const char *sub, const char *key, const char *path,
                       const char **out, adapter_error *e)
{
    const json_t *o = json_object_get(obj, sub);
    char p[128];
    *out = "";
    if (!o || json_is_null(o))
        return 0;
    if (!json_is_object(o))
        return adapter_fail_at(e, path, sub, "must be an object");
    join(p, sizeof p, path, sub);
    return get_str(o, key, p, out, e);
}

static int read_channel(const json_t *m, const char *key, const char *path, ast_channel *c,
                        adapter_error *e)
{
    const json_t *ch = json_object_get(m, key);
    char p[128];
    if (!json_is_object(ch))
        return adapter_fail_at(e, path, key, ch ? "must be a Channel object" : "is required");
    join(p, sizeof p, path, key);
    const char *id = json_string_value(json_object_get(ch, "id"));
    if (!id || !*id || strlen(id) > AST_MAX_ID)
        return adapter_fail_at(e, p, "id", "must be a string of 1 to %d characters", AST_MAX_ID);
    c->id = id;
    return get_str(ch, "state", p, &c->state, e) < 0 ||
                   get_sub_str(ch, "caller", "number", p, &c->caller, e) < 0 ||
                   get_sub_str(ch, "connected", "number", p, &c->connected, e) < 0 ||
                   get_sub_str(ch, "dialplan", "exten", p, &c->exten, e) < 0
               ? -1
               : 0;
}

/* A Q.850 cause, 0..127. */
static int read_cause(const ast_msg *x, bool required, int *code)
{
    const json_t *v = json_object_get(x->m, "cause");
    *code = -1;
    if (!v || json_is_null(v))
        return required ? adapter_fail_at(x->e, x->path, "cause", "is required (the Q.850 cause)")
                        : 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 127)
        return adapter_fail_at(x->e, x->path, "cause",
                               "must be a Q.850 cause, an integer from 0 to 127");
    *code = (int)json_integer_value(v);
    return 0;
}

static int take_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return 0;
}

static int take(const char **p, char c) { return **p == c ? ((*p)++, 0) : -1; }

/* Milliseconds of a fraction ".123456" (extra digits dropped); none is 0. */
static int take_ms(const char **p, int *ms)
{
    int n = 0;
    *ms = 0;
    if (take(p, '.') < 0)
        return 0;
    for (; isdigit((unsigned char)**p); (*p)++, n++)
        if (n < 3)
            *ms = *ms * 10 + (**p - '0');
    for (int i = n; i < 3; i++)
        *ms *= 10;
    return n ? 0 : -1;
}

/* "+0000" as ARI writes it; "+00:00" and "Z" too. Seconds east of UTC. */
static int take_offset(const char **p, int *secs)
{
    int h, mi, sign = **p == '-' ? -1 : 1;
    if (take(p, 'Z') == 0) {
        *secs = 0;
        return 0;
    }
    if ((take(p, '+') < 0 && take(p, '-') < 0) || take_digits(p, 2, &h) < 0)
        return -1;
    take(p, ':');
    if (take_digits(p, 2, &mi) < 0 || h > 23 || mi > 59)
        return -1;
    *secs = sign * (h * 3600 + mi * 60);
    return 0;
}

/* ARI's "2026-11-23T15:00:00.012+0000" as Unix milliseconds (from 1970 on). */
static int ari_time_ms(const char *s, int64_t *ms_out)
{
    struct tm tm = {0}, back;
    int y, mo, d, h, mi, sec, ms, off;
    const char *p = s;
    if (take_digits(&p, 4, &y) < 0 || take(&p, '-') < 0 || take_digits(&p, 2, &mo) < 0 ||
        take(&p, '-') < 0 || take_digits(&p, 2, &d) < 0 || take(&p, 'T') < 0 ||
        take_digits(&p, 2, &h) < 0 || take(&p, ':') < 0 || take_digits(&p, 2, &mi) < 0 ||
        take(&p, ':') < 0 || take_digits(&p, 2, &sec) < 0 || take_ms(&p, &ms) < 0 ||
        take_offset(&p, &off) < 0 || *p || y < 1970 || h > 23 || mi > 59 || sec > 60)
        return -1;
    tm = (struct tm){.tm_year = y - 1900,
                     .tm_mon = mo - 1,
                     .tm_mday = d,
                     .tm_hour = h,
                     .tm_min = mi,
                     .tm_sec = sec};
    time_t t = timegm(&tm);
    if (mo < 1 || mo > 12 || !gmtime_r(&t, &back) || back.tm_mday != d)
        return -1; /* 31 April rolls over: refused */
    *ms_out = ((int64_t)t - off) * 1000 + ms;
    /* the offset may carry 9999-12-31 into year 10000, which RFC 3339 cannot write */
    return *ms_out >= 0 && *ms_out <= 253402300799999LL ? 0 : -1;
}

/* ---- building events ---- */

/* Who is on either side; an extension is marked only where the channel shows it. */
typedef struct ast_parties {
    const char *from, *to; /* "" when unknown */
    bool from_ext, to_ext;
} ast_parties;

static int state_rank(const char *state)
{
    return strcmp(state, "appeared") == 0 ? 0 : strcmp(state, "connected") == 0 ? 1 : 2;
}

static int add_party(json_t *call, const char *side, const char *value, bool ext)
{
    if (!*value || strlen(value) > AST_PARTY_MAX)
        return 0;
    return json_object_set_new(call, side, json_pack("{ss}", ext ? "extension" : "number", value));
}

static int add_user(json_t *users, const char *u)
{
    size_t i;
    json_t *v;
    if (!name_extension_valid(u))
        return 0;
    json_array_foreach(users, i, v)
    {
        if (strcmp(json_string_value(v), u) == 0)
            return 0;
    }
    return json_array_append_new(users, json_string(u));
}

/* The extension side first, then the other; names that cannot be users are left out. */
static json_t *users_of(const ast_parties *pt)
{
    json_t *users = json_array();
    bool to_first = pt->to_ext && !pt->from_ext;
    if (!users || add_user(users, to_first ? pt->to : pt->from) < 0 ||
        add_user(users, to_first ? pt->from : pt->to) < 0) {
        json_decref(users);
        return NULL;
    }
    return users;
}

static int put_ts(const ast_msg *x, json_t *ev)
{
    char ts[32];
    if (!x->has_ts)
        return 0;
    event_format_ts(x->ms, ts, sizeof ts);
    return json_object_set_new(ev, "ts", json_string(ts));
}

/* A call event; code < 0: no disconnect. No users at all (anonymous on both sides): none.
 * order.seq: ARI's time in ms, then the state, so a late retry of an earlier state is stale. */
static int emit_call(const ast_msg *x, const char *call_id, const char *order_key,
                     const char *state, const ast_parties *pt, int code, const char *text)
{
    json_t *users = users_of(pt);
    if (users && json_array_size(users) == 0) {
        json_decref(users);
        return 0;
    }
    json_t *call = json_object(), *ev = json_object();
    int rc = json_object_set_new(call, "state", json_string(state));
    rc |= add_party(call, "from", pt->from, pt->from_ext);
    rc |= add_party(call, "to", pt->to, pt->to_ext);
    if (code >= 0)
        rc |= json_object_set_new(call, "disconnect",
                                  json_pack("{si ss}", "code", code, "text", text));
    rc |= json_object_set_new(ev, "kind", json_string("call"));
    rc |= json_object_set_new(ev, "users", users);
    rc |= json_object_set_new(ev, "call_id", json_string(call_id));
    rc |= json_object_set_new(ev, "call", call);
    rc |= json_object_set_new(ev, "source", json_string("asterisk"));
    rc |= put_ts(x, ev);
    if (x->has_ts)
        rc |= json_object_set_new(ev, "order",
                                  json_pack("{ss sI}", "key", order_key, "seq",
                                            (json_int_t)(x->ms * 4 + state_rank(state))));
    if (rc == 0 && json_array_append_new(x->events, ev) == 0)
        return 0;
    if (rc != 0)
        json_decref(ev);
    return adapter_fail_at(x->e, x->path, "", "out of memory");
}

/* A channel's end also ends the legs the call has under its id: the extensions a Dial from
 * this channel reached are not its own parties. The broker sends it to the call's users whose
 * leg has not ended yet (no order: an end is final). */
static int emit_call_end(const ast_msg *x, const char *call_id, int code, const char *text)
{
    json_t *ev = json_pack("{ss ss ss s{ss s{si ss}} ss}", "kind", "call", "target", "call_parties",
                           "call_id", call_id, "call", "state", "disconnected", "disconnect",
                           "code", code, "text", text, "source", "asterisk");
    if (!ev || put_ts(x, ev) != 0) {
        json_decref(ev);
        return adapter_fail_at(x->e, x->path, "", "out of memory");
    }
    if (json_array_append_new(x->events, ev) != 0) /* it took ev either way */
        return adapter_fail_at(x->e, x->path, "", "out of memory");
    return 0;
}

/* A channel on its own: a dialled extension leg (its caller is the extension it was dialled
 * as) talks to its connected party; any other channel goes from its caller to its exten. */
static ast_parties channel_parties(const ast_channel *c)
{
    if (*c->caller && strcmp(c->caller, c->exten) == 0)
        return (ast_parties){.from = c->caller, .to = c->connected, .from_ext = true};
    return (ast_parties){.from = c->caller, .to = c->exten};
}

static int emit_channel(const ast_msg *x, const ast_channel *c, const char *state, int code,
                        const char *text)
{
    ast_parties pt = channel_parties(c);
    return emit_call(x, c->id, c->id, state, &pt, code, text);
}

/* ---- Q.850 and the Dial status table (a guess: tests/fixtures/README.md) ---- */

static const struct {
    const char *status, *state;
    int code; /* Q.850, or -1 */
} dial_map[] = {
    {"RINGING", "appeared", -1},        {"PROGRESS", "appeared", -1},
    {"PROCEEDING", "appeared", -1},     {"ANSWER", "connected", -1},
    {"BUSY", "disconnected", 17},       {"NOANSWER", "disconnected", 19},
    {"CANCEL", "disconnected", 16},     {"CHANUNAVAIL", "disconnected", 20},
    {"CONGESTION", "disconnected", 34},
};

/* ---- one handler per mapped ARI type ---- */

/* Channel states that say the call is ringing or being dialled; Up is connected. */
static const char *const ringing_states[] = {"Ring",     "Ringing", "Dialing", "Dialing Offhook",
                                             "Pre-ring", NULL};

static const char *state_of(const char *ari_state)
{
    if (strcmp(ari_state, "Up") == 0)
        return "connected";
    for (size_t i = 0; ringing_states[i]; i++)
        if (strcmp(ari_state, ringing_states[i]) == 0)
            return "appeared";
    return NULL;
}

static int on_stasis_start(const ast_msg *x)
{
    ast_channel c;
    if (read_channel(x->m, "channel", x->path, &c, x->e) < 0)
        return -1;
    return emit_channel(x, &c, strcmp(c.state, "Up") == 0 ? "connected" : "appeared", -1, NULL);
}

static int on_state_change(const ast_msg *x)
{
    ast_channel c;
    if (read_channel(x->m, "channel", x->path, &c, x->e) < 0)
        return -1;
    const char *state = state_of(c.state);
    return state ? emit_channel(x, &c, state, -1, NULL) : 0;
}

static int on_entered_bridge(const ast_msg *x)
{
    ast_channel c;
    if (read_channel(x->m, "channel", x->path, &c, x->e) < 0)
        return -1;
    return emit_channel(x, &c, "connected", -1, NULL);
}

/* ChannelDestroyed follows with the cause: checked, nothing said. */
static int on_hangup_request(const ast_msg *x)
{
    ast_channel c;
    int code;
    return read_channel(x->m, "channel", x->path, &c, x->e) < 0 || read_cause(x, false, &code) < 0
               ? -1
               : 0;
}

static int on_destroyed(const ast_msg *x)
{
    ast_channel c;
    int code;
    const char *text;
    if (read_channel(x->m, "channel", x->path, &c, x->e) < 0 || read_cause(x, true, &code) < 0 ||
        get_str(x->m, "cause_txt", x->path, &text, x->e) < 0)
        return -1;
    if (!*text || strlen(text) > EVENT_MAX_STR)
        text = adapter_q850_name(code);
    if (emit_channel(x, &c, "disconnected", code, text) < 0)
        return -1;
    return emit_call_end(x, c.id, code, text);
}

/* The caller's channel is the call, the peer the leg. Without a caller (a channel originated
 * over ARI) the peer is the call. */
static int on_dial(const ast_msg *x)
{
    ast_channel peer, caller;
    const char *status;
    const json_t *cv = json_object_get(x->m, "caller");
    bool has_caller = cv && !json_is_null(cv);
    if (read_channel(x->m, "peer", x->path, &peer, x->e) < 0 ||
        (has_caller && read_channel(x->m, "caller", x->path, &caller, x->e) < 0))
        return -1;
    if (!(status = json_string_value(json_object_get(x->m, "dialstatus"))))
        return adapter_fail_at(x->e, x->path, "dialstatus",
                               "is required, a string (\"\" when the dial begins)");
    for (size_t i = 0; i < sizeof dial_map / sizeof dial_map[0]; i++) {
        if (strcmp(status, dial_map[i].status) != 0)
            continue;
        int code = dial_map[i].code;
        const char *text = code >= 0 ? adapter_q850_name(code) : NULL;
        if (!has_caller)
            return emit_channel(x, &peer, dial_map[i].state, code, text);
        ast_parties pt = channel_parties(&caller);
        if (channel_parties(&peer).from_ext)
            pt = (ast_parties){.from = caller.caller, .to = peer.caller, .to_ext = true};
        char key[2 * AST_MAX_ID + 2];
        snprintf(key, sizeof key, "%s/%s", caller.id, peer.id);
        return emit_call(x, caller.id, key, dial_map[i].state, &pt, code, text);
    }
    return 0; /* "" (the dial begins) or a status Asterisk may add later */
}

static char *record_url(const char *name)
{
    char *esc = curl_easy_escape(NULL, name, 0);
    char *url = NULL;
    if (esc && asprintf(&url, "/v1/record?recording_id=%s", esc) < 0)
        url = NULL;
    curl_free(esc);
    return url;
}

/* Only a recording of a channel names its call; a bridge's would need the broker's state. */
static int on_recording_finished(const ast_msg *x)
{
    const json_t *r = json_object_get(x->m, "recording");
    char p[128];
    const char *name, *state, *target;
    if (!json_is_object(r))
        return adapter_fail_at(x->e, x->path, "recording", r ? "must be an object" : "is required");
    join(p, sizeof p, x->path, "recording");
    if (get_str(r, "name", p, &name, x->e) < 0 || get_str(r, "state", p, &state, x->e) < 0 ||
        get_str(r, "target_uri", p, &target, x->e) < 0)
        return -1;
    if (!*name || strlen(name) > EVENT_MAX_STR)
        return adapter_fail_at(x->e, p, "name", "must be a string of 1 to %d characters",
                               EVENT_MAX_STR);
    const json_t *dur = json_object_get(r, "duration");
    if (dur && !json_is_null(dur) && !(json_is_number(dur) && json_number_value(dur) >= 0))
        return adapter_fail_at(x->e, p, "duration", "must be a number of seconds >= 0");
    const char *id = strncmp(target, "channel:", 8) == 0 ? target + 8 : "";
    if (!*id || strlen(id) > AST_MAX_ID)
        return 0;
    char *url = record_url(name);
    if (!url)
        return adapter_fail_at(x->e, x->path, "", "out of memory");
    json_t *ev = json_pack("{ss ss ss ss s{ss ss ss}}", "kind", "record", "target", "call_parties",
                           "call_id", id, "source", "asterisk", "record", "status",
                           !*state || strcmp(state, "done") == 0 ? "available" : "failed",
                           "recording_id", name, "url", url);
    free(url);
    int rc = ev ? 0 : -1;
    if (rc == 0 && json_is_number(dur))
        rc = json_object_set(json_object_get(ev, "record"), "duration_s", (json_t *)dur);
    if (rc == 0)
        rc = put_ts(x, ev);
    if (rc == 0)
        return json_array_append_new(x->events, ev) < 0
                   ? adapter_fail_at(x->e, x->path, "", "out of memory")
                   : 0;
    json_decref(ev);
    return adapter_fail_at(x->e, x->path, "", "out of memory");
}

static const struct {
    const char *type;
    int (*fn)(const ast_msg *x);
} handlers[] = {
    {"StasisStart", on_stasis_start},
    {"ChannelStateChange", on_state_change},
    {"ChannelEnteredBridge", on_entered_bridge},
    {"ChannelHangupRequest", on_hangup_request},
    {"ChannelDestroyed", on_destroyed},
    {"Dial", on_dial},
    {"RecordingFinished", on_recording_finished},
};

static int parse_message(const json_t *m, const char *path, json_t *events, adapter_error *e)
{
    ast_msg x = {.m = m, .path = path, .events = events, .e = e};
    if (!json_is_object(m))
        return adapter_fail_at(e, path, "", "must be an ARI event object");
    const json_t *type = json_object_get(m, "type");
    if (!json_is_string(type))
        return adapter_fail_at(e, path, "type", type ? "must be a string" : "is required");
    const json_t *ts = json_object_get(m, "timestamp");
    if (ts && !json_is_null(ts)) {
        if (!json_is_string(ts) || ari_time_ms(json_string_value(ts), &x.ms) < 0)
            return adapter_fail_at(e, path, "timestamp",
                                   "must be a time such as 2026-11-23T15:00:00.012+0000");
        x.has_ts = true;
    }
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (strcmp(json_string_value(type), handlers[i].type) == 0)
            return handlers[i].fn(&x);
    return 0; /* not mapped: accepted, no event */
}

static int parse_body(const json_t *body, json_t *events, adapter_error *e)
{
    if (json_is_object(body))
        return parse_message(body, "", events, e);
    size_t n = json_array_size(body);
    if (!json_is_array(body) || n < 1 || n > AST_MAX_MESSAGES)
        return adapter_fail_at(e, "", "",
                               "the body must be an ARI event or an array of 1 to %d events",
                               AST_MAX_MESSAGES);
    for (size_t i = 0; i < n; i++) {
        char path[32];
        snprintf(path, sizeof path, "messages[%zu]", i);
        if (parse_message(json_array_get(body, i), path, events, e) < 0)
            return -1;
    }
    return 0;
}

static enum adapter_status asterisk_parse(const adapter_ctx *ctx, const adapter_request *req,
                                          json_t *out, adapter_error *err)
{
    (void)ctx;
    memset(err, 0, sizeof *err);
    if (req->subpath && *req->subpath && strcmp(req->subpath, "/") != 0) {
        adapter_fail_at(err, "", "", "Asterisk events go to POST /v1/hooks/INTEGRATION/asterisk");
        return ADAPTER_NOT_FOUND;
    }
    json_error_t jerr;
    json_t *body = json_loadb(req->body ? req->body : "", req->body_len, JSON_DECODE_ANY, &jerr);
    if (!body) {
        adapter_fail_at(err, "", "", "malformed JSON: %s (line %d, column %d)", jerr.text,
                        jerr.line, jerr.column);
        return ADAPTER_INVALID;
    }
    json_t *events = json_array();
    int rc = events ? parse_body(body, events, err) : adapter_fail_at(err, "", "", "out of memory");
    if (rc == 0 && json_array_extend(out, events) < 0)
        rc = adapter_fail_at(err, "", "", "out of memory");
    json_decref(events);
    json_decref(body);
    return rc == 0 ? ADAPTER_OK : ADAPTER_INVALID;
}

/* ---- settings ---- */

static int check_url(const char *s, adapter_error *e)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) && *host;
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok ? 0
              : adapter_fail_at(e, "asterisk", "ari_url",
                                "must be an http:// or https:// URL such as http://pbx:8088/ari");
}

static const char *const ari_keys[] = {"ari_url", "ari_user", "ari_password", "app", "endpoint",
                                       "context", NULL};

static int check_ari_value(const char *key, const json_t *v, adapter_error *e)
{
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > AST_SETTING_MAX)
        return adapter_fail_at(e, "asterisk", key, "must be a string of 1 to %d characters",
                               AST_SETTING_MAX);
    if (strcmp(key, "ari_url") == 0)
        return check_url(s, e);
    if (strcmp(key, "endpoint") == 0 && !strstr(s, "{extension}"))
        return adapter_fail_at(e, "asterisk", key,
                               "must contain {extension}, e.g. PJSIP/{extension}");
    if (strcmp(key, "context") == 0 && strpbrk(s, " \t\r\n/?#&,"))
        return adapter_fail_at(e, "asterisk", key,
                               "must be a dialplan context name (no spaces, / ? # & ,)");
    if (strcmp(key, "app") == 0 && strpbrk(s, " \t\r\n/?#&"))
        return adapter_fail_at(e, "asterisk", key,
                               "must be an ARI application name (no spaces, / ? # &)");
    return 0;
}

static int check_ari(const json_t *ari, adapter_error *e)
{
    const char *k;
    const json_t *v;
    if (!json_is_object(ari))
        return adapter_fail_at(
            e, "", "asterisk",
            "must be an object {ari_url, ari_user, ari_password, app, endpoint}");
    json_object_foreach((json_t *)ari, k, v)
    {
        size_t i = 0;
        while (ari_keys[i] && strcmp(ari_keys[i], k) != 0)
            i++;
        if (!ari_keys[i])
            return adapter_fail_at(e, "asterisk", k,
                                   "unknown setting (known: ari_url, ari_user, ari_password, app, "
                                   "endpoint, context)");
        if (check_ari_value(k, v, e) < 0)
            return -1;
    }
    return 0;
}

static int asterisk_check_settings(const json_t *settings, adapter_error *err)
{
    const json_t *secret = json_object_get(settings, "webhook_secret");
    const json_t *ari = json_object_get(settings, "asterisk");
    char sig[128];
    memset(err, 0, sizeof *err);
    if (secret && (!json_is_string(secret) ||
                   stdwh_sign(json_string_value(secret), "check", 0, "", 0, sig, sizeof sig) < 0))
        return adapter_fail_at(err, "", "webhook_secret", "must be \"whsec_\" + base64");
    return ari ? check_ari(ari, err) : 0;
}

static int asterisk_answer(const adapter_ctx *ctx, const adapter_counts *c, adapter_answer *out)
{
    (void)ctx;
    return adapter_answer_summary(c, out);
}

/* ---- commands: ARI's REST interface ---- */

typedef struct ari_req {
    const adapter_ctx *ctx;
    const json_t *command;
    adapter_http *out;
    adapter_error *err;
} ari_req;

static const char *ari_setting(const ari_req *r, const char *name, const char *dflt)
{
    return adapter_command_setting(r->ctx->settings, "asterisk", name, dflt, r->err);
}

/* ari_url + "/ari" + path; an ari_url that already ends in /ari (README's example) keeps it. */
static char *ari_url_of(const char *base, const char *path)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    bool has_ari = n >= 4 && strncmp(base + n - 4, "/ari", 4) == 0;
    char *out = NULL;
    return asprintf(&out, "%.*s%s%s", (int)n, base, has_ari ? "" : "/ari", path) < 0 ? NULL : out;
}

/* Sends method to ARI's path (already encoded) with Basic auth; query stolen (may be NULL). */
static enum adapter_status ari_request(const ari_req *r, const char *method, char *path,
                                       char *query)
{
    const char *url = ari_setting(r, "ari_url", NULL);
    const char *user = url ? ari_setting(r, "ari_user", NULL) : NULL;
    const char *password = user ? ari_setting(r, "ari_password", NULL) : NULL;
    char *full = NULL;
    if (query && asprintf(&full, "%s?%s", path ? path : "", query) < 0)
        full = NULL;
    if (password && path && (!query || full)) {
        r->out->method = method;
        r->out->url = ari_url_of(url, full ? full : path);
        r->out->headers = adapter_basic_auth(user, password, NULL);
    }
    free(full);
    free(path);
    free(query);
    if (!password)
        return ADAPTER_INVALID;
    if (!r->out->url || !r->out->headers) {
        adapter_http_clear(r->out);
        adapter_fail(r->err, "", "out of memory");
        return ADAPTER_INVALID;
    }
    return ADAPTER_OK;
}

static const char *ari_str(const ari_req *r, const char *name, bool required)
{
    return adapter_command_str(r->command, name, required, r->err);
}

static char *endpoint_of(const ari_req *r, const char *who)
{
    return adapter_template(ari_setting(r, "endpoint", "PJSIP/{extension}"), who);
}

/* POST /channels: the operator's endpoint rings first, then the dialplan dials to_number. */
static enum adapter_status ari_callback(const ari_req *r)
{
    const char *ext = ari_str(r, "extension", true),
               *to = ext ? ari_str(r, "to_number", true) : NULL;
    const char *line = to ? ari_str(r, "line_number", false) : NULL;
    if (!line)
        return ADAPTER_INVALID;
    char *endpoint = endpoint_of(r, ext), *q = NULL;
    int rc = endpoint ? adapter_form_add(&q, "endpoint", endpoint) : -1;
    rc = rc ? rc : adapter_form_add(&q, "extension", to);
    rc = rc ? rc : adapter_form_add(&q, "context", ari_setting(r, "context", "default"));
    rc = rc ? rc : adapter_form_add(&q, "priority", "1");
    if (rc == 0 && *line)
        rc = adapter_form_add(&q, "callerId", line);
    free(endpoint);
    if (rc < 0) {
        free(q);
        adapter_fail(r->err, "", "out of memory");
        return ADAPTER_INVALID;
    }
    return ari_request(r, "POST", strdup("/channels"), q);
}

/* POST /channels/{id}/redirect to the endpoint of who. */
static enum adapter_status ari_redirect(const ari_req *r, const char *who_field)
{
    const char *id = ari_str(r, "call_id", true);
    const char *who = !id ? NULL
                      : strcmp(who_field, "to_extension") == 0
                          ? adapter_command_ext(r->command, who_field, true, r->err)
                          : ari_str(r, who_field, true);
    if (!who)
        return ADAPTER_INVALID;
    char *endpoint = endpoint_of(r, who), *q = NULL;
    if (!endpoint || adapter_form_add(&q, "endpoint", endpoint) < 0) {
        free(endpoint);
        adapter_fail(r->err, "", "out of memory");
        return ADAPTER_INVALID;
    }
    free(endpoint);
    return ari_request(r, "POST", adapter_url_fmt("/channels/%s/redirect", id), q);
}

static enum adapter_status ari_hangup(const ari_req *r)
{
    const char *id = ari_str(r, "call_id", true);
    return id ? ari_request(r, "DELETE", adapter_url_fmt("/channels/%s", id), NULL)
              : ADAPTER_INVALID;
}

static enum adapter_status ari_record(const ari_req *r)
{
    const char *id = ari_str(r, "recording_id", true);
    enum adapter_status st =
        id ? ari_request(r, "GET", adapter_url_fmt("/recordings/stored/%s/file", id), NULL)
           : ADAPTER_INVALID;
    r->out->stream = st == ADAPTER_OK;
    return st;
}

static enum adapter_status asterisk_build_command(const adapter_ctx *ctx, const json_t *command,
                                                  adapter_http *out, adapter_error *err)
{
    memset(err, 0, sizeof *err);
    *out = (adapter_http){0};
    ari_req r = {.ctx = ctx, .command = command, .out = out, .err = err};
    const char *op = json_string_value(json_object_get(command, "op"));
    if (!adapter_command_str(command, "command_id", true, err))
        return ADAPTER_INVALID;
    if (op && strcmp(op, "callback") == 0)
        return ari_callback(&r);
    if (op && strcmp(op, "route") == 0)
        return ari_redirect(&r, "to_extension");
    if (op && strcmp(op, "transfer") == 0)
        return ari_redirect(&r, "to_number");
    if (op && strcmp(op, "hangup") == 0)
        return ari_hangup(&r);
    if (op && strcmp(op, "record") == 0)
        return ari_record(&r);
    adapter_fail(err, "op", "ARI has no command %s here", op ? op : "(none)");
    return ADAPTER_UNSUPPORTED;
}

static int asterisk_parse_command_answer(const adapter_ctx *ctx, const json_t *command,
                                         const adapter_reply *reply, json_t *result,
                                         adapter_error *err)
{
    (void)ctx;
    memset(err, 0, sizeof *err);
    const char *op = json_string_value(json_object_get(command, "op"));
    int st = reply->status;
    if (!op)
        return adapter_fail(err, "op", "is required");
    if (st == 0)
        return adapter_command_fail(result, 502, RC_PBX_ERROR, NULL, "ARI did not answer");
    if (st / 100 == 2)
        return adapter_call_placed_or_routed(command, reply, "id", "asterisk", result, err);
    json_t *doc = adapter_reply_json(reply);
    const char *msg = json_string_value(json_object_get(doc, "message"));
    char what[300];
    snprintf(what, sizeof what, "ARI %s: HTTP %d %.250s", op, st, msg ? msg : "(no message)");
    int rc;
    if (st == 404)
        rc = adapter_command_fail(
            result, 404, strcmp(op, "record") == 0 ? RC_RECORDING_NOT_FOUND : RC_CALL_NOT_FOUND,
            json_integer(st), "%s", what);
    else if (st == 409)
        rc = adapter_command_fail(result, 409, RC_CALL_GONE, json_integer(st), "%s", what);
    else if (st == 401 || st == 403)
        rc = adapter_command_fail(result, 502, RC_PBX_ERROR, json_integer(st),
                                  "%s: ARI refused the credentials (settings.asterisk.ari_user "
                                  "and ari_password)",
                                  what);
    else
        rc = adapter_command_fail(result, 502, RC_PBX_ERROR, json_integer(st), "%s", what);
    json_decref(doc);
    return rc;
}

const adapter adapter_asterisk = {
    .name = "asterisk",
    .standard_webhooks = true,
    .check_settings = asterisk_check_settings,
    .parse = asterisk_parse,
    .verify = stdwh_verify_request,
    .answer = asterisk_answer,
    .build_command = asterisk_build_command,
    .parse_command_answer = asterisk_parse_command_answer,
};
