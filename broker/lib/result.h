/* result.h — the result codes every JSON answer and error frame carries. */
#ifndef CR_RESULT_H
#define CR_RESULT_H

enum cr_result_code {
    RC_OK = 0,
    RC_NO_MORE_EVENTS = 109,          /* Mango: no more missed events */
    RC_BAD_REQUEST = 3100,            /* malformed JSON or request */
    RC_INVALID_FIELD = 3101,          /* a field is missing or has a bad value */
    RC_BAD_SIGNATURE = 3102,          /* signature missing, wrong, or stale */
    RC_UNAUTHORIZED = 3103,           /* no or wrong token / ticket */
    RC_NOT_FOUND = 3104,              /* integration, user or path unknown */
    RC_EXISTS = 3105,                 /* integration already exists */
    RC_TOO_LARGE = 3106,              /* body over CALLRELAY_MAX_BODY */
    RC_LENGTH_REQUIRED = 3107,        /* POST without Content-Length */
    RC_FORBIDDEN = 3108,              /* source address not in allowed_networks */
    RC_UNKNOWN_OP = 3109,             /* websocket frame with an unknown op */
    RC_NOT_REGISTERED = 3110,         /* websocket op that needs register first */
    RC_COMMAND_CONFLICT = 3111,       /* a command_id reused for a different command */
    RC_TOO_MANY_REQUESTS = 3112,      /* over a limit: CALLRELAY_RATE_LIMIT, websockets per user */
    RC_CALL_NOT_FOUND = 3310,         /* Mango: no such call */
    RC_RECORDING_NOT_FOUND = 3320,    /* Mango: no such recording */
    RC_RECORDING_FORMAT = 3321,       /* the recording exists only in another format */
    RC_NOTIFICATION_NOT_FOUND = 3330, /* GET /v1/notifications/ID: no such notification */
    RC_IMPOSSIBLE_NOW = 4100,         /* Mango: the PBX cannot do it now */
    RC_CALL_GONE = 4101,              /* Mango: the call ended meanwhile */
    RC_ENDPOINT_OFFLINE = 4102,       /* the operator's phone is not registered (ZaaS) */
    RC_INTERNAL = 5000,               /* a fault of the broker */
    RC_NOT_IMPLEMENTED = 5001,        /* the dialect has no API for this command */
    RC_PBX_ERROR = 5002,              /* the PBX refused or failed, or its answer is unreadable */
    RC_UNAVAILABLE = 5003,            /* Redis unreachable or draining */
    RC_PBX_TIMEOUT = 5004,            /* the PBX did not answer in time */
    RC_COMMAND_UNKNOWN = 5005,        /* a repeated command_id whose first outcome is unknown */
};

#endif
