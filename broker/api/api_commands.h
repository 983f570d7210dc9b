/* api_commands.h — what the Finaz endpoints share with the command API. */
#ifndef CR_API_COMMANDS_H
#define CR_API_COMMANDS_H
#include "command_check.h"
#include "http.h"
#include <jansson.h>
#include <stdbool.h>

/* Answers r instead of the command API's JSON: status and the answer's JSON text. */
typedef void (*api_command_done)(void *ud, http_req *r, int status, const char *json);

/* Runs command (stolen; from command_from_body) for r->integration, idempotent by its
 * command_id, and answers r (through done when given). */
void api_command_start(http_req *r, json_t *command, api_command_done done, void *done_ud);
/* A command_id for a command that came without one. */
bool api_command_fresh_id(char out[COMMAND_ID_MAX + 1]);

#endif
