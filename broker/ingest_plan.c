/* ingest_plan.c — the bounds of one webhook's work and of one script call. */
#include "ingest_plan.h"

static size_t event_users(const json_t *ev)
{
    const json_t *users = json_object_get(ev, "users");
    if (json_is_array(users))
        return json_array_size(users);
    /* a target is resolved by the script: one user, or the call's parties, counted as one */
    return json_is_string(json_object_get(ev, "user")) || json_object_get(ev, "target") ? 1 : 0;
}

static size_t event_bytes(const json_t *ev)
{
    return json_dumpb(ev, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

static size_t cost_bytes(const json_t *events)
{
    size_t total = 0, i;
    const json_t *ev;
    json_array_foreach(events, i, ev)
    {
        total += event_users(ev) * event_bytes(ev);
        if (total > INGEST_REQUEST_MAX_BYTES)
            break; /* enough to refuse; the rest need not be serialized */
    }
    return total;
}

enum ingest_verdict ingest_plan_check(const json_t *events, size_t body_len, size_t max_deliveries,
                                      ingest_cost *cost)
{
    size_t i;
    const json_t *ev;
    cost->deliveries = cost->bytes = 0;
    json_array_foreach(events, i, ev) cost->deliveries += event_users(ev);
    if (cost->deliveries > max_deliveries)
        return INGEST_TOO_MANY_DELIVERIES;
    /* An event holds at most its body twice (normalized fields and raw) and a few fields the
     * broker adds: small requests skip serializing every event just to be counted. */
    if (cost->deliveries * 2 * (body_len + 1024) <= INGEST_REQUEST_MAX_BYTES)
        return INGEST_FITS;
    cost->bytes = cost_bytes(events);
    return cost->bytes > INGEST_REQUEST_MAX_BYTES ? INGEST_TOO_MANY_BYTES : INGEST_FITS;
}

bool ingest_plan_fits(unsigned events, unsigned have_appends, size_t have_bytes, unsigned appends,
                      size_t bytes)
{
    return events == 0 || (have_appends + appends <= INGEST_CALL_MAX_APPENDS &&
                           have_bytes + bytes <= INGEST_CALL_MAX_BYTES);
}
