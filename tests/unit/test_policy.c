/* Account policy as text: address blocks and file-name patterns checked,
 * made canonical and matched; the defaults from the config merged in. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "check.h"
#include "gw.h"
#include "gw_config.h"

static struct sockaddr_storage v4(const char *ip)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;

	a->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a->sin_addr);
	return ss;
}

static struct sockaddr_storage v6(const char *ip)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

	a->sin6_family = AF_INET6;
	inet_pton(AF_INET6, ip, &a->sin6_addr);
	return ss;
}

static void test_addresses(void)
{
	char out[GW_POLICY_TEXT_MAX + 1], err[160], many[2048];
	struct sockaddr_storage ss;

	CHECK_INT(gw_addresses_canon("127.0.0.1/32, 10.0.0.0/8  2001:DB8:0::/32,::1", out,
				     sizeof(out), err, sizeof(err)), 0);
	CHECK_STR(out, "127.0.0.1,10.0.0.0/8,2001:db8::/32,::1");
	CHECK_INT(gw_addresses_canon("", out, sizeof(out), err, sizeof(err)), 0);
	CHECK_STR(out, "");
	CHECK_INT(gw_addresses_canon("10.0.0.1/8", out, sizeof(out), err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "10.0.0.1/8") != NULL);
	CHECK_INT(gw_addresses_canon("example.com", out, sizeof(out), err, sizeof(err)), -EINVAL);
	CHECK_INT(gw_addresses_canon("10.0.0.0/33", out, sizeof(out), err, sizeof(err)), -EINVAL);
	many[0] = '\0';
	for (int i = 0, used = 0; i < 33; i++)
		used += snprintf(many + used, sizeof(many) - (size_t)used, "10.0.0.%d,", i);
	CHECK_INT(gw_addresses_canon(many, out, sizeof(out), err, sizeof(err)), -E2BIG);
	/* too small an output says so */
	CHECK_INT(gw_addresses_canon("10.0.0.0/8,10.1.0.0/16", out, 12, err, sizeof(err)), -E2BIG);

	CHECK(gw_addresses_allow("", &(struct sockaddr_storage){ 0 }));
	ss = v4("127.0.0.1");
	CHECK(gw_addresses_allow("127.0.0.1", &ss));
	CHECK(!gw_addresses_allow("127.0.0.2", &ss));
	ss = v4("10.200.3.4");
	CHECK(gw_addresses_allow("127.0.0.1,10.0.0.0/8", &ss));
	ss = v6("2001:db8:1::5");
	CHECK(gw_addresses_allow("10.0.0.0/8,2001:db8::/32", &ss));
	CHECK(!gw_addresses_allow("10.0.0.0/8,2001:db9::/32", &ss));
	/* an IPv4 client on a dual-stack socket */
	ss = v6("::ffff:10.1.2.3");
	CHECK(gw_addresses_allow("10.0.0.0/8", &ss));
	/* text that does not parse lets nobody in */
	ss = v4("127.0.0.1");
	CHECK(!gw_addresses_allow("nonsense", &ss));
}

static void test_names(void)
{
	char out[GW_POLICY_TEXT_MAX + 1], err[200], text[GW_POLICY_TEXT_MAX + 64];

	CHECK(gw_name_pattern_is_valid("*.nsf.age", 9));
	CHECK(gw_name_pattern_is_valid("Mail [0-9]?.nsf", 15));
	CHECK(!gw_name_pattern_is_valid("", 0));
	CHECK(!gw_name_pattern_is_valid("a/b", 3));
	CHECK(!gw_name_pattern_is_valid("a\tb", 3));
	CHECK(!gw_name_pattern_is_valid("a\x7f", 2));
	CHECK(!gw_name_pattern_is_valid("\xff\xfe", 2));
	CHECK(!gw_name_pattern_is_valid("abc\\", 4));
	CHECK(gw_name_pattern_is_valid("abc\\\\", 5));

	CHECK_INT(gw_names_canon(" *.nsf.age , *.ntf.age,,Mail [,]x ", out, sizeof(out), err,
				 sizeof(err)), 0);
	CHECK_STR(out, "*.nsf.age/*.ntf.age/Mail [,]x");
	CHECK_INT(gw_names_canon("a\\,b,[]x,]y,[!,]z", out, sizeof(out), err, sizeof(err)), 0);
	CHECK_STR(out, "a\\,b/[]x,]y/[!,]z");
	CHECK(gw_names_allow(out, "a,b"));
	CHECK(gw_names_allow(out, ",y"));
	CHECK(gw_names_allow(out, "qz"));
	CHECK(!gw_names_allow(out, ",z"));
	CHECK_INT(gw_names_canon("", out, sizeof(out), err, sizeof(err)), 0);
	CHECK_STR(out, "");
	CHECK_INT(gw_names_canon("a/b", out, sizeof(out), err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "a/b") != NULL);

	CHECK(gw_names_allow("", "anything"));
	CHECK(gw_names_allow("*.nsf.age/*.ntf.age", "mail.nsf.age"));
	CHECK(gw_names_allow("*.nsf.age/*.ntf.age", "MAIL.NSF.AGE"));
	CHECK(gw_names_allow("*.nsf.age/*.ntf.age", "t.ntf.age"));
	CHECK(!gw_names_allow("*.nsf.age/*.ntf.age", "mail.nsf"));
	CHECK(!gw_names_allow("*.nsf.age/*.ntf.age", "mail.nsf.age.exe"));
	CHECK(gw_names_allow("*.nsf.age", ".hidden.nsf.age"));
	CHECK(gw_names_allow("box-??.age", "box-07.age"));
	CHECK(!gw_names_allow("box-??.age", "box-7.age"));
	CHECK(gw_names_allow("a\\*b", "a*b"));
	CHECK(!gw_names_allow("a\\*b", "axb"));

	gw_names_text("*.nsf.age/*.ntf.age", text, sizeof(text));
	CHECK_STR(text, "*.nsf.age, *.ntf.age");
	gw_names_text("*.nsf.age/*.ntf.age", text, 12);
	CHECK_STR(text, "*.nsf.age"); /* cut at a pattern, not in a separator */
}

static void test_defaults(void)
{
	struct gw_config c;
	struct gw_policy own = { 0 }, eff;
	char err[300];
	const char *env[] = { "FTPSGATE_DEFAULT_ALLOWED_ADDRESSES=10.0.0.0/8 192.168.1.7",
			      "FTPSGATE_DEFAULT_ALLOWED_NAMES=*.age, *.nsf",
			      "FTPSGATE_DEFAULT_MAX_FILE_BYTES=21474836480",
			      "FTPSGATE_DEFAULT_RATE_LIMIT_BYTES_PER_S=1000",
			      "FTPSGATE_MAX_SESSIONS_PER_ACCOUNT=5", "FTPSGATE_TLS_MAX_VERSION=1.2",
			      NULL };
	const char *bad[][2] = {
		{ "FTPSGATE_DEFAULT_ALLOWED_ADDRESSES=10.0.0.1/8", "default_allowed_addresses" },
		{ "FTPSGATE_DEFAULT_ALLOWED_NAMES=a/b", "default_allowed_names" },
		{ "FTPSGATE_DEFAULT_MAX_FILE_BYTES=-1", "default_max_file_bytes" },
		{ "FTPSGATE_TLS_MAX_VERSION=1.1", "tls_max_version" },
	};

	gw_config_defaults(&c);
	CHECK_STR(c.tls_max_version, "1.3");
	CHECK_INT(gw_config_load(&c, NULL, env, err, sizeof(err)), 0);
	CHECK_STR(c.policy.addresses, "10.0.0.0/8,192.168.1.7");
	CHECK_STR(c.policy.names, "*.age/*.nsf");
	CHECK_INT(c.policy.max_file_bytes, 21474836480LL);
	CHECK_INT(c.policy.rate_bytes_per_s, 1000);
	CHECK_INT(c.policy.max_sessions, 5);
	CHECK_STR(c.tls_max_version, "1.2");
	CHECK_INT(gw_live_set(&c), 0);

	/* nothing of its own: all the defaults */
	gw_policy_effective(&own, &eff);
	CHECK_STR(eff.addresses, "10.0.0.0/8,192.168.1.7");
	CHECK_STR(eff.names, "*.age/*.nsf");
	CHECK_INT(eff.max_file_bytes, 21474836480LL);
	CHECK_INT(eff.max_sessions, 5);
	/* its own, "none" included, win */
	own.has_addresses = true;
	own.has_names = true;
	gw_strlcpy(own.names, "*.zip", sizeof(own.names));
	own.has_max_file = true;
	own.has_sessions = true;
	own.max_sessions = 2;
	gw_policy_effective(&own, &eff);
	CHECK_STR(eff.addresses, "");
	CHECK_STR(eff.names, "*.zip");
	CHECK_INT(eff.max_file_bytes, 0);
	CHECK_INT(eff.rate_bytes_per_s, 1000);
	CHECK_INT(eff.max_sessions, 2);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *one[] = { bad[i][0], NULL };

		gw_config_defaults(&c);
		CHECK_INT(gw_config_load(&c, NULL, one, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, bad[i][1]) != NULL);
	}
	/* the highest version below the lowest */
	{
		const char *one[] = { "FTPSGATE_TLS_MIN_VERSION=1.3", "FTPSGATE_TLS_MAX_VERSION=1.2", NULL };

		gw_config_defaults(&c);
		CHECK_INT(gw_config_load(&c, NULL, one, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "below tls_min_version") != NULL);
	}
}

int main(void)
{
	test_addresses();
	test_names();
	test_defaults();
	return check_report("test_policy");
}
