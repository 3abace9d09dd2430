/* Fuzz what the admin API makes of a request body: jansson's parser as
 * the API calls it, then the account fields (names, types, user name,
 * description, RFC 3339 times, quota, the policy fields). Whatever the
 * input, the answer is a spec within the limits or a 400 problem that
 * says why; a policy set is one ftpd can use as it is. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../admin/admin_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_time(const uint8_t *data, size_t size)
{
	char s[64];
	int64_t ms = 0;

	if (size >= sizeof(s))
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (admin_parse_time(s, &ms) == 0 && !strchr("0123456789", s[0]))
		abort(); /* a time starts with its year */
}

/* Addresses canonical (they parse again to themselves), patterns each
 * valid, limits in range. */
static void check_policy(const struct store_account_spec *spec)
{
	const struct gw_policy *p = &spec->policy;
	char again[GW_POLICY_TEXT_MAX + 1], why[160];

	if ((spec->set_policy & STORE_POLICY_ADDRESSES) && p->has_addresses &&
	    (gw_addresses_canon(p->addresses, again, sizeof(again), why, sizeof(why)) < 0 ||
	     strcmp(again, p->addresses)))
		abort();
	if ((spec->set_policy & STORE_POLICY_NAMES) && p->has_names) {
		for (const char *n = p->names; *n;) {
			size_t len = strcspn(n, "/");

			if (!gw_name_pattern_is_valid(n, len))
				abort();
			n += len;
			if (*n)
				n++;
		}
	}
	if ((spec->set_policy & STORE_POLICY_MAX_FILE) && p->max_file_bytes > INT64_MAX)
		abort();
	if ((spec->set_policy & STORE_POLICY_SESSIONS) && p->max_sessions > 1000000)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_account_spec spec;
	struct reply err;
	json_error_t jerr;
	json_t *body;

	if (size < 1 || size > 65536)
		return 0;
	check_time(data + 1, size - 1);
	body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &jerr);
	if (!body)
		return 0;
	if (!json_is_object(body)) {
		json_decref(body);
		return 0;
	}
	memset(&err, 0, sizeof(err));
	if (admin_account_body(body, data[0] & 1, &spec, &err) == 0) {
		if (spec.username && !store_username_is_valid(spec.username))
			abort();
		if (spec.description && strlen(spec.description) > GW_DESCRIPTION_MAX)
			abort();
		if (spec.set_quota && spec.quota_bytes < -1)
			abort();
		if (spec.status && strcmp(spec.status, "active") && strcmp(spec.status, "disabled"))
			abort();
		if (err.json)
			abort();
		check_policy(&spec);
	} else {
		if (err.status != 400 || !json_is_string(json_object_get(err.json, "detail")))
			abort();
		json_decref(err.json);
	}
	json_decref(body);
	return 0;
}
