/* commands.h — carrying a command to the PBX (API.md "Commands"): the integration's adapter
 * builds each request and reads each answer (adapter.h), this engine sends them through the
 * process's HTTP client with the integration's deadline, keeps the adapter's session (a login
 * token) per integration in this process, stores the events an answer gives and hands the
 * calls a provider placed to the poller. It does not know any dialect. */
#ifndef CR_COMMANDS_H
#define CR_COMMANDS_H
#include "adapter.h"
#include "config.h"
#include "http_client.h"
#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#define COMMAND_TIMEOUT_MS 10000 /* settings.command_timeout_ms when absent */
#define COMMAND_MAX_REQUESTS 6   /* per command, logins included */

typedef struct command_outcome {
    int status; /* HTTP status for the client */
    int code;   /* result code (result.h) */
    const char *message;
    const json_t *answer; /* fields for the client's answer, or NULL; borrowed during cb */
    const char *field;    /* the field at fault in a 400, or NULL */
    bool reached;         /* a request went out to the PBX */
    bool done;            /* a status poll: the adapter said the call ended */
    long retry_ms;        /* a status poll that failed: the adapter's retry_ms, else 0 */
} command_outcome;

typedef void (*command_cb)(void *ud, const command_outcome *o);

/* Where a command's "poll" goes (the poller): persists the call and calls cb(ud, ok) once. */
typedef int (*command_poll_fn)(const char *integration, const char *call_id, const char *user,
                               const char *number, void (*cb)(void *ud, bool ok), void *ud);

int commands_init(uv_loop_t *loop, http_client *client);
/* Set by main once the poller runs; without it a command that places a polled call fails. */
void commands_on_poll(command_poll_fn fn);
void commands_stop(void);
http_client *commands_http(void);

/* Runs command (stolen) for the integration: build_command, send, parse_command_answer, again
 * for every "next", then stores the result's "events" and registers its "poll" (waiting for
 * Redis), then calls cb once, never before commands_run returned. Returns 0, or -1 (out of
 * memory; cb will not be called). */
int commands_run(const char *integration, json_t *command, command_cb cb, void *ud);
/* The integration's deadline for one PBX request. */
long commands_timeout_ms(const json_t *settings);
/* build_command alone, with the integration's session, for a request the caller sends itself
 * (a recording it streams). Returns ADAPTER_OK, or another status with o filled for the
 * client (400, 404, 501). */
enum adapter_status commands_build(const char *integration, json_t *command, adapter_http *rq,
                                   command_outcome *o);
/* parse_command_answer alone, for such a request's answer; cb as commands_run's (its events
 * and polls are not acted on). */
void commands_read(const char *integration, const json_t *command, const adapter_reply *reply,
                   command_cb cb, void *ud);

#endif
