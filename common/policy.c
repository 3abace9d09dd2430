/* policy.c - an account's policy as text: the address blocks it may log in
 * from and the file names it may store, checked, kept in one canonical
 * form, and matched; its limits merged with the server's defaults.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "gw_config.h"

/* ---------------------------------------------------------------- addresses */

static size_t cidr_text(const struct gw_cidr *b, char *out, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned max = b->family == AF_INET ? 32 : 128;
	int n;

	inet_ntop(b->family, b->addr, ip, sizeof(ip));
	n = b->bits == max ? snprintf(out, size, "%s", ip)
			   : snprintf(out, size, "%s/%u", ip, (unsigned)b->bits);
	return n < 0 ? 0 : (size_t)n;
}

int gw_addresses_canon(const char *in, char *out, size_t size, char *err, size_t err_size)
{
	struct gw_cidr list[GW_POLICY_ADDRESSES_MAX];
	size_t n = 0, used = 0;
	int r;

	r = gw_cidr_list_parse(in, list, GW_ARRAY_SIZE(list), &n, err, err_size);
	if (r < 0)
		return r;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char one[INET6_ADDRSTRLEN + 8];
		size_t len = cidr_text(&list[i], one, sizeof(one));

		if (used + len + 2 > size) {
			snprintf(err, err_size, "longer than %zu bytes as text", size - 1);
			return -E2BIG;
		}
		if (i)
			out[used++] = ',';
		memcpy(out + used, one, len + 1);
		used += len;
	}
	return 0;
}

bool gw_addresses_allow(const char *canon, const struct sockaddr_storage *ss)
{
	struct gw_cidr list[GW_POLICY_ADDRESSES_MAX];
	size_t n = 0;
	char why[8];

	if (!canon[0])
		return true;
	/* canonical text parses; should it not, nobody is let in */
	if (gw_cidr_list_parse(canon, list, GW_ARRAY_SIZE(list), &n, why, sizeof(why)) < 0)
		return false;
	return gw_cidr_match(list, n, ss);
}

/* ---------------------------------------------------------------- names */

bool gw_name_pattern_is_valid(const char *pattern, size_t len)
{
	char p[GW_NAME_PATTERN_MAX + 1];

	if (len == 0 || len > GW_NAME_PATTERN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pattern[i];

		if (c < 0x20 || c == 0x7f || c == '/')
			return false;
	}
	memcpy(p, pattern, len);
	p[len] = '\0';
	if (!gw_is_utf8(p))
		return false;
	/* a trailing lone backslash escapes nothing: fnmatch never matches */
	{
		size_t slashes = 0;

		while (slashes < len && p[len - 1 - slashes] == '\\')
			slashes++;
		if (slashes % 2)
			return false;
	}
	return true;
}

/* The length of the pattern at s: up to a comma that is neither escaped
 * ("\\,") nor in a bracket expression ("[,;]"). */
static size_t pattern_len(const char *s)
{
	bool bracket = false;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (s[i] == '\\' && s[i + 1]) {
			i++;
		} else if (bracket) {
			bracket = s[i] != ']';
		} else if (s[i] == '[') {
			bracket = true;
			if (s[i + 1] == '!' || s[i + 1] == '^')
				i++;
			if (s[i + 1] == ']')
				i++; /* "[]...]": the first ']' is one of the set */
		} else if (s[i] == ',') {
			break;
		}
	}
	return i;
}

int gw_names_canon(const char *in, char *out, size_t size, char *err, size_t err_size)
{
	size_t used = 0, count = 0;

	out[0] = '\0';
	while (*in) {
		size_t len;

		in += strspn(in, " ,");
		len = pattern_len(in);
		while (len && in[len - 1] == ' ')
			len--;
		if (len == 0)
			break;
		if (!gw_name_pattern_is_valid(in, len)) {
			snprintf(err, err_size, "'%.*s' is not a file-name pattern (1 to %d bytes of UTF-8,"
				 " no '/' or control character)", (int)(len > 64 ? 64 : len), in,
				 GW_NAME_PATTERN_MAX);
			return -EINVAL;
		}
		if (++count > GW_POLICY_NAMES_MAX) {
			snprintf(err, err_size, "more than %d patterns", GW_POLICY_NAMES_MAX);
			return -E2BIG;
		}
		if (used + len + 2 > size) {
			snprintf(err, err_size, "longer than %zu bytes as text", size - 1);
			return -E2BIG;
		}
		if (used)
			out[used++] = '/';
		memcpy(out + used, in, len);
		used += len;
		out[used] = '\0';
		in += len;
	}
	return 0;
}

bool gw_names_allow(const char *stored, const char *name)
{
	const char *p = stored;

	if (!stored[0])
		return true;
	while (*p) {
		char pattern[GW_NAME_PATTERN_MAX + 1];
		size_t len = strcspn(p, "/");

		if (len && len <= GW_NAME_PATTERN_MAX) {
			memcpy(pattern, p, len);
			pattern[len] = '\0';
			if (fnmatch(pattern, name, FNM_CASEFOLD) == 0)
				return true;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	return false;
}

void gw_names_text(const char *stored, char *out, size_t size)
{
	size_t used = 0;

	if (size == 0)
		return;
	out[0] = '\0';
	for (const char *p = stored; *p && used + 1 < size; p++) {
		if (*p == '/') {
			if (used + 3 >= size)
				break;
			out[used++] = ',';
			out[used++] = ' ';
		} else {
			out[used++] = *p;
		}
	}
	out[used] = '\0';
}

/* ---------------------------------------------------------------- merged */

void gw_policy_effective(const struct gw_policy *own, struct gw_policy *out)
{
	const struct gw_live *live = gw_live();
	const struct gw_policy *def = &live->policy;

	*out = *def;
	if (own->has_addresses)
		memcpy(out->addresses, own->addresses, sizeof(out->addresses));
	if (own->has_names)
		memcpy(out->names, own->names, sizeof(out->names));
	if (own->has_max_file)
		out->max_file_bytes = own->max_file_bytes;
	if (own->has_rate)
		out->rate_bytes_per_s = own->rate_bytes_per_s;
	if (own->has_sessions)
		out->max_sessions = own->max_sessions;
	out->has_addresses = out->has_names = out->has_max_file = out->has_rate =
		out->has_sessions = true;
}
