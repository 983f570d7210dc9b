/* command_check.h — what a command request must hold (API.md "Commands"), read into the JSON
 * command an adapter's build_command gets (adapter.h). Pure. */
#ifndef CR_COMMAND_CHECK_H
#define CR_COMMAND_CHECK_H
#include "field_error.h"
#include <jansson.h>
#include <stdbool.h>

#define COMMAND_ID_MAX 200

/* op: "callback", "route", "transfer" or "hangup". Checks body's fields for op (the body may
 * hold others, such as token, which are not copied) and returns the command: "op", its
 * fields, "command_id" (the body's, else fresh_id). NULL with err set when a field is missing
 * or bad. */
json_t *command_from_body(const char *op, const json_t *body, const char *fresh_id,
                          field_error *err);
/* A call, recording or command id: 1-200 characters of UTF-8, no controls, no '/'. */
bool command_id_valid(const char *s);
/* A phone number or dial string: 1-64 of [0-9A-Za-z+*#._@:-]. */
bool command_number_valid(const char *s);
/* Lowercase hex SHA-256 of the command's canonical JSON (keys sorted): two requests with one
 * command_id are the same command when these match. */
void command_fingerprint(const json_t *command, char out[65]);

#endif
