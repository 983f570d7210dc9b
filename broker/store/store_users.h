/* store_users.h — a user's stream, cursor and existence in Redis, in domain terms: callers get
 * parsed entries and outcomes, never a Redis reply (store_outcome.h says how calls answer). */
#ifndef CR_STORE_USERS_H
#define CR_STORE_USERS_H
#include "call_state.h"
#include "store_outcome.h"
#include "streamid.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct store_entry {
    streamid id;
    const char *id_text;
    const char *json; /* the stored event, without its id */
    size_t json_len;
} store_entry;

/* Entries after a position; malformed ones are left out but counted in `read`. */
typedef struct store_entries {
    store_outcome outcome;
    const store_entry *v;
    size_t n;
    size_t read;
} store_entries;

typedef struct store_page {
    store_outcome outcome;
    bool beyond;  /* `from` is after the stream's last id: nothing read or changed */
    streamid top; /* the stream's last id (or a position before the clock when empty) */
    const char *top_text;
    const store_entry *v;
    size_t n;
    bool gap;                 /* retention removed events after the position read from */
    const call_fields *calls; /* the user's open calls, latest first, when asked for */
    size_t n_calls;
} store_page;

typedef enum store_ack_result { STORE_ACK_DONE, STORE_ACK_BEYOND } store_ack_result;
typedef enum store_session_result {
    STORE_SESSION_OPEN,
    STORE_SESSION_NO_USER,
    STORE_SESSION_TICKET_USED
} store_session_result;

typedef void (*store_entries_cb)(const store_entries *e, void *ud);
typedef void (*store_page_cb)(const store_page *p, void *ud);
typedef void (*store_ack_cb)(store_outcome o, store_ack_result r, void *ud);
typedef void (*store_session_cb)(store_outcome o, store_session_result r, void *ud);

/* At most count entries of the user's stream after `after`. */
int store_stream_read_after(const char *integration, const char *ext, streamid after, int count,
                            store_entries_cb cb, void *ud);
/* One page of missed events (page.lua): commit is the id the previous page ended with ("" for
 * none), from the id to read after ("" = after the acknowledged cursor); with_calls: the
 * user's open calls come with it, read in the same atomic step. */
int store_page_read(const char *integration, const char *ext, const char *commit, const char *from,
                    int limit, bool with_calls, store_page_cb cb, void *ud);
/* Moves the user's acknowledged cursor forward to id (ack.lua). */
int store_ack(const char *integration, const char *ext, streamid id, store_ack_cb cb, void *ud);
/* A websocket is let in (session_open.lua): the user exists, and a ticket (its signature, or
 * "" for a token connection) opens one connection only. */
int store_session_open(const char *integration, const char *ext, const char *ticket_sig,
                       long long ticket_expires, store_session_cb cb, void *ud);

typedef struct store_user {
    const char *extension;
    const char *name; /* "" when none was given */
} store_user;

/* users sorted by extension */
typedef void (*store_users_cb)(store_outcome o, const store_user *users, size_t n, void *ud);

/* Creates the user, or renames it when it exists. */
int store_user_put(const char *integration, const char *ext, const char *name, store_done_cb cb,
                   void *ud);
/* Deletes the user with its stream and cursor (user_delete.lua). */
int store_user_delete(const char *integration, const char *ext, store_found_cb cb, void *ud);
int store_user_exists(const char *integration, const char *ext, store_found_cb cb, void *ud);
int store_users_list(const char *integration, store_users_cb cb, void *ud);

#endif
