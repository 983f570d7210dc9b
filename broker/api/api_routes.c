/* api_routes.c — what the API serves, handed to http.c by main. */
#include "api.h"

static const http_route routes[] = {
    {HTTP_POST, "/v1/integration/create", false, api_integration_create},
    {HTTP_POST, "/v1/integration/update", false, api_integration_update},
    {HTTP_POST, "/v1/integration/delete", false, api_integration_delete},
    {HTTP_GET, "/v1/integration/list", false, api_integration_list},
    {HTTP_POST, "/v1/users/create", false, api_users_create},
    {HTTP_POST, "/v1/users/delete", false, api_users_delete},
    {HTTP_GET, "/v1/users", false, api_users_list},
    {HTTP_POST, "/v1/channel", false, api_channel},
    {HTTP_POST, "/v1/hooks/", true, api_hook},
    {HTTP_POST, "/v1/callback", false, api_callback},
    {HTTP_POST, "/v1/route/async", false, api_route_async},
    {HTTP_POST, "/v1/transfer", false, api_transfer},
    {HTTP_POST, "/v1/hangup", false, api_hangup},
    {HTTP_GET, "/v1/record", false, api_record},
    {HTTP_POST, "/finaz/", true, api_finaz_post},
    {HTTP_GET, "/finaz/", true, api_finaz_get},
    {HTTP_GET, "/v1/calls/", true, api_call_get},
    {HTTP_POST, "/v1/session/ping", false, api_session_ping},
    {HTTP_GET, "/v1/notifications", false, api_notifications_list},
    {HTTP_POST, "/v1/notifications/retry", false, api_notifications_retry},
    {HTTP_GET, "/v1/notifications/", true, api_notification_get},
    {HTTP_GET, "/healthz", false, api_healthz},
    {HTTP_GET, "/readyz", false, api_readyz},
    {HTTP_GET, "/metrics", false, api_metrics},
    {HTTP_GET, "/client/callrelay.js", false, api_client_js},
    {HTTP_GET, "/client/callrelay.d.ts", false, api_client_dts},
    {HTTP_GET, "/demo", false, api_demo_page},
    {HTTP_GET, "/demo/", true, api_demo_asset},
    {HTTP_OTHER, NULL, false, NULL},
};

const http_api api_http = {routes, api_head_check};
