/* routes.c - the routes of the admin API: method, path, handler.
 */
#include "admin_int.h"

const struct admin_route admin_routes[] = {
	{ "GET", API "/health", admin_get_health, true, false },
	{ "GET", API "/openapi.json", admin_get_openapi, true, false },
	{ "GET", API "/metrics", admin_get_metrics, false, false },
	{ "GET", API "/nodes", admin_list_nodes, false, false },
	{ "POST", API "/nodes/{node}/drain", admin_drain_node, false, false },
	{ "POST", API "/accounts", admin_create_account, false, false },
	{ "GET", API "/accounts", admin_list_accounts, false, false },
	{ "GET", API "/accounts/{id}", admin_get_account, false, false },
	{ "PATCH", API "/accounts/{id}", admin_patch_account, false, false },
	{ "DELETE", API "/accounts/{id}", admin_delete_account, false, false },
	{ "POST", API "/accounts/{id}/password", admin_new_password, false, false },
	{ "POST", API "/accounts/{id}/keys", admin_create_key, false, false },
	{ "GET", API "/accounts/{id}/keys", admin_list_keys, false, false },
	{ "GET", API "/accounts/{id}/keys/{key_id}", admin_get_key, false, false },
	{ "DELETE", API "/accounts/{id}/keys/{key_id}", admin_revoke_key, false, false },
	{ "GET", API "/uploads", admin_list_uploads, false, false },
	{ "GET", API "/uploads/{id}", admin_get_upload, false, false },
	{ "DELETE", API "/uploads/{id}", admin_purge_upload, false, false },
	{ "POST", API "/uploads/{id}/retry", admin_retry_upload, false, false },
	{ "GET", API "/events", admin_get_events, false, false },
	{ "POST", API "/tokens", admin_create_token, false, false },
	{ "GET", API "/tokens", admin_list_tokens, false, false },
	{ "GET", API "/tokens/{id}", admin_get_token, false, false },
	{ "DELETE", API "/tokens/{id}", admin_revoke_token, false, false },
	{ "GET", API "/bans", admin_list_bans, false, false },
	{ "DELETE", API "/bans", admin_lift_ban, false, false },
	{ "GET", API "/audit", admin_list_audit, false, false },
	{ "GET", API "/stats", admin_get_stats, false, false },
	{ "POST", API "/session", admin_sign_in, true, false },
	{ "GET", API "/session", admin_get_session, false, false },
	{ "DELETE", API "/session", admin_sign_out, false, true },
};

const size_t admin_nroutes = GW_ARRAY_SIZE(admin_routes);
