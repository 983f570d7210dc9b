/* common.h — what the dialects share: the error they report, a header by name, and the answer
 * most PBXs get (the broker's JSON summary; they read only its status). */
#ifndef CR_ADAPTERS_COMMON_H
#define CR_ADAPTERS_COMMON_H
#include "adapter.h"

/* Fills e (field as given) and returns -1. */
int adapter_fail(adapter_error *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with the field "path.name" (either may be empty). */
int adapter_fail_at(adapter_error *e, const char *path, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Any request header by name, case-insensitive; NULL when absent. */
const char *adapter_header(const adapter_request *req, const char *name);
/* 200, application/json: {"result":{"code":0,"message":"ok"},"accepted":N,"duplicates":N,
 * "ignored":N,"stale":N}. */
int adapter_answer_summary(const adapter_counts *c, adapter_answer *out);
/* The success of a PBX that names the call it placed in its JSON answer (id_key) and knows a
 * route's outcome at once (Twilio, ARI): "answer" {"call_id"} for a callback, a route_result
 * event for a route, nothing else for the other ops. */
int adapter_call_placed_or_routed(const json_t *command, const adapter_reply *reply,
                                  const char *id_key, const char *source, json_t *result,
                                  adapter_error *err);
/* The name of a Q.850 cause ("normal call clearing"); "unspecified cause" for one not known. */
const char *adapter_q850_name(int code);
/* Frees what an adapter_http holds and zeroes it. */
void adapter_http_clear(adapter_http *h);

/* ---- building commands (build_command, parse_command_answer) ---- */

/* The command's string field name: 1 to 256 bytes without control characters. Absent (or
 * null) gives "" when optional; otherwise NULL with err naming the field. */
const char *adapter_command_str(const json_t *command, const char *name, bool required,
                                adapter_error *err);
/* The same for an extension (names.h: 1 to 64 of A-Z a-z 0-9 _ . + -). */
const char *adapter_command_ext(const json_t *command, const char *name, bool required,
                                adapter_error *err);
/* A setting a command needs, settings.DIALECT.NAME as a non-empty string; its default when
 * absent (dflt may be NULL: then err says commands need it and NULL is returned). */
const char *adapter_command_setting(const json_t *settings, const char *dialect, const char *name,
                                    const char *dflt, adapter_error *err);
/* s percent-encoded: every byte but A-Z a-z 0-9 - . _ ~ as %XX. For a URL path segment, a query
 * value or a form value. malloc'd, NULL when out of memory. */
char *adapter_url_escape(const char *s);
/* base and path joined by exactly one '/'. malloc'd. */
char *adapter_url_join(const char *base, const char *path);
/* A printf-like URL whose every %s argument is percent-encoded first (adapter_url_escape); only
 * %s conversions. malloc'd, NULL when out of memory. */
char *adapter_url_fmt(const char *fmt, ...);
/* Appends "&name=value" (no '&' first) to a form or query in *buf, both percent-encoded.
 * Returns 0, or -1 when out of memory (*buf then freed and NULL). */
int adapter_form_add(char **buf, const char *name, const char *value);
/* tmpl with every "{extension}" replaced by extension. malloc'd. */
char *adapter_template(const char *tmpl, const char *extension);
/* "Authorization: Basic base64(user:password)\r\n" plus extra (may be NULL). malloc'd. */
char *adapter_basic_auth(const char *user, const char *password, const char *extra);
/* Sets result's "status", "code", "message" (printf) and, when pbx_code is given (stolen),
 * "answer": {"pbx_code": pbx_code}. Returns 0, or -1 when out of memory. */
int adapter_command_fail(json_t *result, int status, int code, json_t *pbx_code, const char *fmt,
                         ...) __attribute__((format(printf, 5, 6)));
/* A route outcome known at once, as an event for "events": kind route_result to the user who
 * sent the command. result is 0 or a result code. NULL when out of memory. */
json_t *adapter_route_result(const char *command_id, int result, const char *to_extension,
                             const char *source);
/* The answer's body as a JSON object, or NULL when it is not one. */
json_t *adapter_reply_json(const adapter_reply *reply);

#endif
