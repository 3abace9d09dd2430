/* Configuration: defaults, JSON file, environment, and clear errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "gw.h"
#include "gw_config.h"

static char path[] = "/tmp/ftpsgate-config-XXXXXX";

static void write_config(const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

int main(void)
{
	struct gw_config c;
	char err[512];
	int fd = mkstemp(path);

	close(fd);

	gw_config_defaults(&c);
	CHECK_STR(c.data_dir, "./var");
	CHECK_STR(c.ftps_host, "0.0.0.0");
	CHECK_INT(c.ftps_port, 990);
	CHECK_INT(c.passive_min, 60000);
	CHECK_INT(c.passive_max, 61000);
	CHECK_STR(c.admin_host, "127.0.0.1");
	CHECK_INT(c.admin_port, 8443);

	write_config("{\"data_dir\": \"/srv/ftps\", \"passive_ports\": \"50000-50010\","
		     " \"workers\": 8, \"ftps_listen\": \"127.0.0.1:2990\"}");
	{
		const char *env[] = { "HOME=/root", "FTPSGATE_PASSIVE_ADDRESS=203.0.113.7",
				"FTPSGATE_ADMIN_LISTEN=[::1]:9443", "FTPSGATE_WORKERS=2", NULL };

		gw_config_defaults(&c);
		CHECK_INT(gw_config_load(&c, path, env, err, sizeof(err)), 0);
		CHECK_STR(c.data_dir, "/srv/ftps");
		CHECK_INT(c.passive_min, 50000);
		CHECK_INT(c.passive_max, 50010);
		CHECK_STR(c.passive_address, "203.0.113.7");
		CHECK_STR(c.admin_host, "::1");
		CHECK_INT(c.admin_port, 9443);
		CHECK_INT(c.workers, 2); /* environment wins over the file */
		CHECK_STR(c.ftps_host, "127.0.0.1");
		CHECK_INT(c.ftps_port, 2990);
	}

	/* Each mistake is named in one line. */
	{
		const char *env[] = { "FTPSGATE_PASSIVE_PORTS=61000-60000", NULL };

		gw_config_defaults(&c);
		CHECK_INT(gw_config_load(&c, NULL, env, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "passive_ports") != NULL);
		CHECK(strstr(err, "61000-60000") != NULL);
	}
	{
		const char *env[] = { "FTPSGATE_PASIVE_PORTS=1-2", NULL };

		gw_config_defaults(&c);
		CHECK_INT(gw_config_load(&c, NULL, env, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, "FTPSGATE_PASIVE_PORTS") != NULL);
	}
	write_config("{\"data_dir\": 5}");
	gw_config_defaults(&c);
	CHECK_INT(gw_config_load(&c, path, NULL, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "data_dir") != NULL);
	write_config("{\"no_such\": \"x\"}");
	CHECK_INT(gw_config_load(&c, path, NULL, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "unknown setting 'no_such'") != NULL);
	write_config("{\"workers\": 1, \"workers\": 2}");
	CHECK_INT(gw_config_load(&c, path, NULL, err, sizeof(err)), -EINVAL);
	write_config("{\"workers\": -3}");
	CHECK_INT(gw_config_load(&c, path, NULL, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "workers") != NULL);
	write_config("[1, 2]");
	CHECK_INT(gw_config_load(&c, path, NULL, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "JSON object") != NULL);
	write_config("{\"ftps_listen\": \"nohostport\"}");
	CHECK_INT(gw_config_load(&c, path, NULL, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "ftps_listen") != NULL);
	write_config("{broken");
	CHECK_INT(gw_config_load(&c, path, NULL, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "line 1") != NULL);
	write_config("{\"tls_cert\": \"/a.pem\"}");
	gw_config_defaults(&c);
	CHECK_INT(gw_config_load(&c, path, NULL, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "tls_key") != NULL);
	unlink(path);
	CHECK(gw_config_load(&c, path, NULL, err, sizeof(err)) < 0);
	CHECK(strstr(err, "cannot read config") != NULL);

	return check_report("test_config");
}
