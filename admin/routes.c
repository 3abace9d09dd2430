/* routes.c - the routes of the admin API: method, path, handler.
 */
#include "admin_int.h"

const struct admin_route admin_routes[] = {
	{ "GET", API "/health", true, admin_get_health },
	{ "GET", API "/openapi.json", true, admin_get_openapi },
	{ "GET", API "/metrics", false, admin_get_metrics },
	{ "GET", API "/nodes", false, admin_list_nodes },
	{ "POST", API "/nodes/{node}/drain", false, admin_drain_node },
	{ "POST", API "/accounts", false, admin_create_account },
	{ "GET", API "/accounts", false, admin_list_accounts },
	{ "GET", API "/accounts/{id}", false, admin_get_account },
	{ "PATCH", API "/accounts/{id}", false, admin_patch_account },
	{ "DELETE", API "/accounts/{id}", false, admin_delete_account },
	{ "POST", API "/accounts/{id}/password", false, admin_new_password },
	{ "POST", API "/accounts/{id}/keys", false, admin_create_key },
	{ "GET", API "/accounts/{id}/keys", false, admin_list_keys },
	{ "GET", API "/accounts/{id}/keys/{key_id}", false, admin_get_key },
	{ "DELETE", API "/accounts/{id}/keys/{key_id}", false, admin_revoke_key },
	{ "GET", API "/uploads", false, admin_list_uploads },
	{ "GET", API "/uploads/{id}", false, admin_get_upload },
	{ "DELETE", API "/uploads/{id}", false, admin_purge_upload },
	{ "POST", API "/uploads/{id}/retry", false, admin_retry_upload },
	{ "GET", API "/events", false, admin_get_events },
	{ "POST", API "/tokens", false, admin_create_token },
	{ "GET", API "/tokens", false, admin_list_tokens },
	{ "GET", API "/tokens/{id}", false, admin_get_token },
	{ "DELETE", API "/tokens/{id}", false, admin_revoke_token },
	{ "GET", API "/bans", false, admin_list_bans },
	{ "DELETE", API "/bans", false, admin_lift_ban },
	{ "GET", API "/audit", false, admin_list_audit },
};

const size_t admin_nroutes = GW_ARRAY_SIZE(admin_routes);
