/* store_commands.h — a command's record under its command_id (docs/redis-layout.md,
 * "Commands"): what makes a repeated command_id get the first answer. */
#ifndef CR_STORE_COMMANDS_H
#define CR_STORE_COMMANDS_H
#include "store_outcome.h"

enum command_record { CMD_NEW, CMD_DONE, CMD_PENDING, CMD_CONFLICT };

/* NEW: recorded now, send it. DONE: status and answer (JSON) of the first attempt. PENDING:
 * the first attempt may still be running for ms. CONFLICT: the id was used for op. */
typedef struct command_seen {
    enum command_record kind;
    int status;
    const char *answer;
    long long ms;
    const char *op;
} command_seen;

typedef void (*store_command_begin_cb)(store_outcome o, const command_seen *seen, void *ud);

/* user "" : the user of call_id's call (who answered it, else one with a leg in it). */
int store_command_begin(const char *integration, const char *command_id, const char *op,
                        const char *fingerprint, const char *user, const char *call_id,
                        long lease_ms, store_command_begin_cb cb, void *ud);
/* Records the answer (reached: the PBX was asked), or forgets the command (it never was). */
int store_command_end(const char *integration, const char *command_id, bool reached, int status,
                      const char *answer, const char *call_id, store_done_cb cb, void *ud);

#endif
