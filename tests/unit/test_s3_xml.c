/* What the S3 client reads of a store's answers and of its settings:
 * elements and entities, bounds, times, storage URLs, the credentials
 * file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "s3.h"

static int text(const char *xml, const char *tag, char *out, size_t size)
{
	size_t pos = 0;

	return s3_xml_text(xml, strlen(xml), &pos, tag, out, size);
}

static void answers(void)
{
	char out[64];
	const char *start = "<?xml version='1.0' encoding='UTF-8'?>\n"
			    "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			    "<Bucket>b</Bucket><Key>up/1</Key><UploadId>ZTVj+/=</UploadId>"
			    "</InitiateMultipartUploadResult>";
	const char *error = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate &amp;"
			    " try &lt;again&gt; &#x263A; &#65;&quot;&apos;</Message></Error>";
	const char *list = "<ListMultipartUploadsResult><Upload><Key>a</Key><UploadId>1</UploadId>"
			   "<Initiated>2026-12-05T16:45:09.250Z</Initiated></Upload>"
			   "<Upload><Key>b</Key><UploadId>2</UploadId></Upload>"
			   "<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>";
	size_t pos = 0, s, e;
	int n = 0;

	CHECK_INT(text(start, "UploadId", out, sizeof(out)), 0);
	CHECK_STR(out, "ZTVj+/=");
	CHECK_INT(text(start, "Key", out, sizeof(out)), 0);
	CHECK_STR(out, "up/1");
	CHECK_INT(text(start, "Code", out, sizeof(out)), -ENOENT);
	/* a tag that only begins another's name */
	CHECK_INT(text("<UploadIdX>1</UploadIdX><UploadId>2</UploadId>", "UploadId", out, sizeof(out)), 0);
	CHECK_STR(out, "2");
	CHECK_INT(text(error, "Code", out, sizeof(out)), 0);
	CHECK_STR(out, "SlowDown");
	{
		char msg[128];

		CHECK_INT(text(error, "Message", msg, sizeof(msg)), 0);
		CHECK_STR(msg, "Please reduce your request rate & try <again> \xe2\x98\xba A\"'");
	}
	/* too long for out, cut answers, bad entities, an element within */
	CHECK_INT(text(error, "Message", out, 8), -E2BIG);
	CHECK_INT(text("<Code>SlowD", "Code", out, sizeof(out)), -EBADMSG);
	CHECK_INT(text("<Code>a&bogus;</Code>", "Code", out, sizeof(out)), -EBADMSG);
	CHECK_INT(text("<Code>a&#0;</Code>", "Code", out, sizeof(out)), -EBADMSG);
	CHECK_INT(text("<Code>a&#xD800;</Code>", "Code", out, sizeof(out)), -EBADMSG);
	CHECK_INT(text("<Code>a&#99999999;</Code>", "Code", out, sizeof(out)), -EBADMSG);
	CHECK_INT(text("<Code>a&amp</Code>", "Code", out, sizeof(out)), -EBADMSG);
	CHECK_INT(text("<Code><b>x</b></Code>", "Code", out, sizeof(out)), -EBADMSG);
	CHECK_INT(text("<Code/>", "Code", out, sizeof(out)), 0);
	CHECK_STR(out, "");
	/* bounded by len, not by a NUL */
	pos = 0;
	CHECK_INT(s3_xml_text("<Code>ab</Code>", 10, &pos, "Code", out, sizeof(out)), -EBADMSG);
	/* a list, element by element */
	pos = 0;
	while (s3_xml_element(list, strlen(list), &pos, "Upload", &s, &e) == 0) {
		size_t p = 0;

		CHECK_INT(s3_xml_text(list + s, e - s, &p, "UploadId", out, sizeof(out)), 0);
		CHECK_STR(out, n ? "2" : "1");
		n++;
	}
	CHECK_INT(n, 2);
}

static void times(void)
{
	int64_t ms = 0;

	CHECK_INT(s3_xml_time("2026-12-05T16:45:09.250Z", &ms), 0);
	CHECK_INT(ms, 1796489109250LL);
	CHECK_INT(s3_xml_time("1970-01-01T00:00:00Z", &ms), 0);
	CHECK_INT(ms, 0);
	CHECK_INT(s3_xml_time("2026-12-05T16:45:09", &ms), -EBADMSG);
	CHECK_INT(s3_xml_time("2026-13-05T16:45:09Z", &ms), -EBADMSG);
	CHECK_INT(s3_xml_time("2026-12-05 16:45:09Z", &ms), -EBADMSG);
	CHECK_INT(s3_xml_time("2026-12-05T16:45:09Zjunk", &ms), -EBADMSG);
	CHECK_INT(s3_xml_time("", &ms), -EBADMSG);
}

static void urls(void)
{
	struct s3_config c;
	char err[256];

	memset(&c, 0, sizeof(c));
	CHECK_INT(s3_config_parse_url("s3://my-bucket/up/loads/", &c, err, sizeof(err)), 0);
	CHECK_STR(c.bucket, "my-bucket");
	CHECK_STR(c.prefix, "up/loads");
	CHECK_INT(s3_config_parse_url("s3://bucket", &c, err, sizeof(err)), 0);
	CHECK_STR(c.prefix, "");
	CHECK_INT(s3_config_parse_url("s3://bu", &c, err, sizeof(err)), -EINVAL);
	CHECK_INT(s3_config_parse_url("s3://Bucket/x", &c, err, sizeof(err)), -EINVAL);
	CHECK_INT(s3_config_parse_url("file:/x", &c, err, sizeof(err)), -EINVAL);
	CHECK_INT(s3_config_parse_url("s3://bucket//x", &c, err, sizeof(err)), -EINVAL);
	CHECK_INT(s3_config_parse_url("s3://bucket/a//b", &c, err, sizeof(err)), -EINVAL);
	CHECK_INT(s3_config_parse_url("s3://bucket/a\nb", &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "printable") != NULL);
}

static void credentials(void)
{
	char path[] = "/tmp/ftpsgate-s3-cred-XXXXXX", err[256];
	struct s3_config c;
	FILE *f;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	f = fdopen(fd, "w");
	fputs("[default]\naws_access_key_id = AKIDEFAULT\naws_secret_access_key=sd\n\n"
	      "[gw]\n  aws_access_key_id\t= AKIDGW \naws_secret_access_key = s e\n"
	      "aws_session_token = tok\n# aws_access_key_id = no\n", f);
	fclose(f);
	unsetenv("AWS_ACCESS_KEY_ID");
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_PROFILE", "gw", 1);
	memset(&c, 0, sizeof(c));
	CHECK_INT(s3_config_credentials(&c, err, sizeof(err)), 0);
	CHECK_STR(c.access_key, "AKIDGW");
	CHECK_STR(c.secret_key, "s e");
	CHECK_STR(c.session_token, "tok");
	unsetenv("AWS_PROFILE");
	memset(&c, 0, sizeof(c));
	CHECK_INT(s3_config_credentials(&c, err, sizeof(err)), 0);
	CHECK_STR(c.access_key, "AKIDEFAULT");
	CHECK_STR(c.session_token, "");
	setenv("AWS_PROFILE", "none", 1);
	CHECK_INT(s3_config_credentials(&c, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "profile 'none'") != NULL);
	/* the environment first */
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	unsetenv("AWS_SECRET_ACCESS_KEY");
	CHECK_INT(s3_config_credentials(&c, err, sizeof(err)), -EINVAL);
	setenv("AWS_SECRET_ACCESS_KEY", "se", 1);
	CHECK_INT(s3_config_credentials(&c, err, sizeof(err)), 0);
	CHECK_STR(c.access_key, "AKIDENV");
	unlink(path);
	unsetenv("AWS_ACCESS_KEY_ID");
	CHECK_INT(s3_config_credentials(&c, err, sizeof(err)), -ENOENT);
}

int main(void)
{
	answers();
	times();
	urls();
	credentials();
	return check_report("test_s3_xml");
}
