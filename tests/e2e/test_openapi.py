"""The OpenAPI document and the API hold each other to account: every
documented operation answers, with bodies that match its schemas, and
nothing undocumented is served."""
import io
import json
import os
import re
import socket
import unittest

import jsonschema

import ftps
from harness import ROOT, Gateway

DOC = json.load(open(os.path.join(ROOT, "openapi", "openapi.json")))
METHODS = ("get", "post", "put", "patch", "delete")


def resolve(node):
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = DOC
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def validate(value, schema):
    """Validate with python3-jsonschema (Draft 2020-12, as OpenAPI 3.1),
    resolving $refs against the whole document."""
    resolver = jsonschema.RefResolver.from_schema(DOC)
    jsonschema.Draft202012Validator(schema, resolver=resolver,
                                    format_checker=jsonschema.FormatChecker()).validate(value)


class OpenAPITest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway().start()
        cls.exercised = set()

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def call(self, method, path, template, body=None, auth=True):
        status, doc, headers = self.gw.api(method.upper(), path, body, auth=auth)
        op = DOC["paths"][template][method]
        responses = op["responses"]
        self.assertIn(str(status), responses, "%s %s answered %d, not documented" % (method, path, status))
        resp = resolve(responses[str(status)])
        ctype = headers["Content-Type"]
        self.assertIn(ctype, resp["content"], "%s %s: %s" % (method, path, ctype))
        validate(doc, resp["content"][ctype]["schema"])
        for name in resp.get("headers", {}):
            self.assertIn(name, headers, "%s %s: documented header %s missing" % (method, path, name))
        self.exercised.add(op["operationId"])
        return status, doc

    def test_every_operation_matches_its_schemas(self):
        self.assertEqual(self.call("get", "/health", "/health", auth=False)[0], 200)
        status, acct = self.call("post", "/accounts", "/accounts", {"username": "doc-user"})
        self.assertTrue(acct["require_encryption"])  # the default
        self.assertEqual(self.call("patch", "/accounts/%d" % acct["id"], "/accounts/{id}",
                                   {"require_encryption": False})[0], 200)
        self.assertEqual(status, 201)
        self.assertEqual(self.call("post", "/accounts", "/accounts", {"username": "doc-user"})[0], 409)
        self.assertEqual(self.call("post", "/accounts", "/accounts", {"bogus": 1})[0], 400)
        self.assertEqual(self.call("get", "/accounts?limit=1", "/accounts")[0], 200)
        self.assertEqual(self.call("get", "/accounts/%d" % acct["id"], "/accounts/{id}")[0], 200)
        self.assertEqual(self.call("get", "/accounts/424242", "/accounts/{id}")[0], 404)
        status, again = self.call("post", "/accounts/%d/password" % acct["id"], "/accounts/{id}/password")
        self.assertEqual(status, 200)
        ftp = ftps.login("127.0.0.1", self.gw.ftps_port, "doc-user", again["password"])
        ftp.storbinary("STOR doc.bin", io.BytesIO(b"document"))
        conn = ftp.transfercmd("STOR partial.bin")
        conn.sendall(b"p" * 1000)
        # TCP close without TLS close_notify: a partial upload with an error
        socket.socket(fileno=conn.detach()).close()
        try:
            ftp.voidresp()
        except Exception:
            pass
        ftp.close()
        self.gw.wait_upload(lambda u: u["path"] == "/partial.bin" and u["state"] == "partial")
        status, page = self.call("get", "/uploads?account_id=%d" % acct["id"], "/uploads")
        self.assertEqual(len(page["items"]), 2)
        for u in page["items"]:
            self.assertEqual(self.call("get", "/uploads/%d" % u["id"], "/uploads/{id}")[0], 200)
        self.assertEqual(self.call("get", "/uploads?state=nope", "/uploads")[0], 400)
        self.assertEqual(self.call("get", "/uploads/424242", "/uploads/{id}")[0], 404)
        self.assertEqual(self.call("get", "/uploads", "/uploads", auth=False)[0], 401)
        # every other operation
        status, d, _ = self.gw.api("GET", "/openapi.json", auth=False)
        self.assertEqual((status, d), (200, DOC))
        self.exercised.add("getOpenAPI")
        status, d, headers = self.gw.api("GET", "/accounts/%d" % acct["id"])
        etag = headers["ETag"]
        import urllib.request
        self.assertEqual(self.call_with("patch", "/accounts/%d" % acct["id"], "/accounts/{id}",
                                        {"description": "changed"}, {"If-Match": etag})[0], 200)
        self.assertEqual(self.call_with("patch", "/accounts/%d" % acct["id"], "/accounts/{id}",
                                        {"description": "again"}, {"If-Match": etag})[0], 412)
        self.assertEqual(self.call("patch", "/accounts/%d" % acct["id"], "/accounts/{id}",
                                   {"status": "gone"})[0], 400)
        keys = self.call("get", "/accounts/%d/keys" % acct["id"], "/accounts/{id}/keys")[1]["items"]
        self.assertEqual(len(keys), 1)  # require_encryption: a key came with the account
        self.assertEqual(acct["key"]["recipient"], keys[0]["recipient"])
        status, k2 = self.call("post", "/accounts/%d/keys" % acct["id"], "/accounts/{id}/keys")
        self.assertEqual(status, 201)
        self.assertEqual(self.call("get", "/accounts/%d/keys/%d" % (acct["id"], k2["id"]),
                                   "/accounts/{id}/keys/{key_id}")[0], 200)
        self.assertEqual(self.call("delete", "/accounts/%d/keys/%d" % (acct["id"], k2["id"]),
                                   "/accounts/{id}/keys/{key_id}")[1]["id"], k2["id"])
        self.assertEqual(self.call("get", "/accounts/%d/keys/%d" % (acct["id"], 424242),
                                   "/accounts/{id}/keys/{key_id}")[0], 404)
        for u in page["items"]:
            self.assertEqual(self.call("post", "/uploads/%d/retry" % u["id"], "/uploads/{id}/retry")[0], 409)
            self.assertEqual(self.call("delete", "/uploads/%d" % u["id"], "/uploads/{id}")[0], 200)
        status, tok = self.call("post", "/tokens", "/tokens", {"name": "doc-read", "scope": "read"})
        self.assertEqual(status, 201)
        self.assertEqual(self.call("post", "/tokens", "/tokens", {"name": "doc-read"})[0], 409)
        self.assertEqual(self.call("get", "/tokens", "/tokens")[0], 200)
        self.assertEqual(self.call("get", "/tokens/%d" % tok["id"], "/tokens/{id}")[0], 200)
        self.assertEqual(self.call_with("post", "/tokens", "/tokens", {"name": "x"}, token=tok["token"])[0], 403)
        self.assertEqual(self.call("delete", "/tokens/%d" % tok["id"], "/tokens/{id}")[0], 200)
        self.assertEqual(self.call("get", "/audit?limit=5", "/audit")[0], 200)
        self.assertEqual(self.call("get", "/bans", "/bans")[0], 200)
        self.assertEqual(self.call("delete", "/bans?address=192.0.2.9", "/bans")[0], 404)
        self.assertEqual(self.call("delete", "/bans", "/bans")[0], 400)
        status, nodes = self.call("get", "/nodes", "/nodes")
        self.assertEqual([(n["self"], n["status"]) for n in nodes["items"]], [(True, "serving")])
        # (draining a node for real stops it: test_nodes and the cluster tests do)
        self.assertEqual(self.call("post", "/nodes/no-such-node/drain", "/nodes/{node}/drain",
                                   {})[0], 404)
        status, _, headers = self.gw.api("GET", "/metrics")
        self.assertEqual((status, headers["Content-Type"]), (200, "text/plain; version=0.0.4"))
        self.exercised.add("getMetrics")
        resp, conn = self.gw.open_events(last_event_id=0)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("Content-Type"), "text/event-stream")
        schema = DOC["paths"]["/events"]["get"]["responses"]["200"]["content"]["text/event-stream"]["schema"]
        for _ in range(3):
            _, event, data = self.gw.read_event(resp)
            self.assertIn(event, ("upload", "account"))
            validate(data, schema["contentSchema"])
        conn.close()
        self.exercised.add("streamEvents")
        status, stats = self.call("get", "/stats", "/stats")
        self.assertEqual((status, len(stats["received"]["buckets"])), (200, 360))
        status, s = self.call("get", "/session", "/session")  # a bearer token: no CSRF token
        self.assertEqual((status, s["scope"], s["csrf_token"]), (200, "admin", None))
        from harness import TOKEN
        self.assertEqual(self.call("post", "/session", "/session", {"token": TOKEN}, auth=False)[0], 201)
        self.assertEqual(self.call("post", "/session", "/session", {"token": "no"}, auth=False)[0], 401)
        self.assertEqual(self.call("post", "/session", "/session", {"tok": 1}, auth=False)[0], 400)
        self.assertEqual(self.call("delete", "/session", "/session")[0], 400)  # no session to end
        # webhooks (a name the test never resolves: nothing is sent in time)
        status, hook = self.call("post", "/webhooks", "/webhooks",
                                 {"url": "https://receiver.invalid/hook", "events": ["upload.*"]})
        self.assertEqual((status, len(hook["secret"])), (201, 64))
        self.assertEqual(self.call("post", "/webhooks", "/webhooks", {"url": "ftp://x/"})[0], 400)
        self.assertEqual(self.call("get", "/webhooks", "/webhooks")[0], 200)
        self.assertEqual(self.call("get", "/webhooks/%d" % hook["id"], "/webhooks/{id}")[0], 200)
        self.assertEqual(self.call("get", "/webhooks/424242", "/webhooks/{id}")[0], 404)
        self.assertEqual(self.call("get", "/webhooks/%d/deliveries?state=dead" % hook["id"],
                                   "/webhooks/{id}/deliveries")[0], 200)
        self.assertEqual(self.call("post", "/webhooks/%d/deliveries/424242/retry" % hook["id"],
                                   "/webhooks/{id}/deliveries/{n}/retry")[0], 404)
        status, _, headers = self.gw.api("DELETE", "/webhooks/%d" % hook["id"])
        self.assertEqual(status, 204)
        self.exercised.add("deleteWebhook")
        self.assertEqual(self.call("delete", "/accounts/%d" % acct["id"], "/accounts/{id}")[0], 200)
        ops = {op["operationId"] for p in DOC["paths"].values() for m, op in p.items() if m in METHODS}
        self.assertEqual(self.exercised, ops)

    def call_with(self, method, path, template, body, headers=None, token=None):
        """call() with extra request headers or another token."""
        import urllib.request, urllib.error, ssl as _ssl
        req = urllib.request.Request(self.gw.admin_url + path, data=json.dumps(body).encode(),
                                     method=method.upper())
        from harness import TOKEN
        req.add_header("Authorization", "Bearer " + (token or TOKEN))
        req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        ctx = _ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = _ssl.CERT_NONE
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
                status, doc, hdrs = r.status, json.loads(r.read()), r.headers
        except urllib.error.HTTPError as e:
            status, doc, hdrs = e.code, json.loads(e.read()), e.headers
        op = DOC["paths"][template][method]
        self.assertIn(str(status), op["responses"])
        resp = resolve(op["responses"][str(status)])
        validate(doc, resp["content"][hdrs["Content-Type"]]["schema"])
        self.exercised.add(op["operationId"])
        return status, doc

    def test_every_operation_refuses_bad_requests(self):
        status, rtok, _ = self.gw.api("POST", "/tokens", {"name": "matrix-read", "scope": "read"})
        wrong_types = {"/accounts": {"description": 5}, "/accounts/{id}": {"quota_bytes": "lots"},
                       "/tokens": {"name": 5}, "/accounts/{id}/password": {"x": 1},
                       "/webhooks": {"url": 5, "events": ["*"]}}
        for template, item in DOC["paths"].items():
            for method, op in item.items():
                if method not in METHODS or template == "/events" or not op.get("security", True):
                    continue
                path = template.replace("{id}", "1").replace("{key_id}", "1") \
                    .replace("{n}", "1").replace("{node}", "no-such-node")
                where = "%s %s" % (method.upper(), template)
                self.assertEqual(self.gw.api(method.upper(), path, auth=False)[0], 401, where)
                self.assertEqual(self.gw.api(method.upper(), path, token="wrong")[0], 401, where)
                if method != "get" and op["operationId"] != "signOut":  # any scope signs out
                    self.assertEqual(self.gw.api(method.upper(), path, {}, token=rtok["token"])[0],
                                     403, where)
                if "{node}" in template:
                    self.assertEqual(self.gw.api(method.upper(), path, {})[0], 404, where)
                if "{id}" in template:
                    self.assertEqual(self.gw.api(method.upper(), template.replace("{id}", "987654").replace("{key_id}", "987654").replace("{n}", "987654"),
                                                 {} if method != "get" else None)[0], 404, where)
                if method in ("post", "patch"):
                    self.assertEqual(self.gw.api(method.upper(), path, raw=b'{"a": ')[0], 400, where)
                    self.assertEqual(self.gw.api(method.upper(), path, raw=b"[" * 70000)[0], 413, where)
                    self.assertEqual(self.gw.api(method.upper(), path, wrong_types.get(template, {"x": 1}))[0],
                                     400, where)
                # the guesses above must not lock this address out of the rest
                self.gw.stop()
                self.gw.start()

    def test_nothing_undocumented_is_served(self):
        for template, item in DOC["paths"].items():
            path = template.replace("{id}", "999").replace("{key_id}", "999") \
                .replace("{n}", "999").replace("{node}", "no-such-node")
            for method in METHODS:
                if method in item:
                    continue  # exercised above (and GET /events never ends)
                status, doc, headers = self.gw.api(method.upper(), path, raw=b"{}")
                self.assertEqual(status, 405, (method, path, status))
                allowed = {m.upper() for m in item if m in METHODS}
                self.assertEqual(set(headers["Allow"].split(", ")), allowed)
        for path in ("/", "/account", "/accounts/1/keyz", "/openapi", "/events/1", "/audit/1"):
            self.assertEqual(self.gw.api("GET", path)[0], 404, path)


if __name__ == "__main__":
    unittest.main()
