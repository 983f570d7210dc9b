/* field_error.h — what was wrong with an input, and where: the field (a path such as
 * "events[2].call.state") and a message. Shared by the event contract and the adapters. */
#ifndef CR_FIELD_ERROR_H
#define CR_FIELD_ERROR_H

typedef struct field_error {
    char field[128];
    char message[256];
} field_error;

#endif
