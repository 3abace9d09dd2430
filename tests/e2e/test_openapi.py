"""The OpenAPI document and the API hold each other to account: every
documented operation answers, with bodies that match its schemas, and
nothing undocumented is served."""
import io
import json
import os
import re
import socket
import unittest

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


def validate(value, schema, where="$"):
    """A small JSON Schema check: type, required, properties,
    additionalProperties, items, enum, pattern, minimum/maximum."""
    schema = resolve(schema)
    types = schema.get("type")
    if types is not None:
        types = types if isinstance(types, list) else [types]
        pytype = {"object": dict, "array": list, "string": str, "integer": int,
                  "boolean": bool, "null": type(None), "number": (int, float)}
        ok = any(isinstance(value, pytype[t]) and not (t == "integer" and isinstance(value, bool))
                 for t in types)
        assert ok, "%s: %r is not %s" % (where, value, types)
    if value is None:
        return
    if "enum" in schema:
        assert value in schema["enum"], "%s: %r not in %s" % (where, value, schema["enum"])
    if "pattern" in schema and isinstance(value, str):
        assert re.search(schema["pattern"], value), "%s: %r !~ %s" % (where, value, schema["pattern"])
    if "minimum" in schema:
        assert value >= schema["minimum"], where
    if "maximum" in schema:
        assert value <= schema["maximum"], where
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            assert key in value, "%s: missing %r" % (where, key)
        for key, v in value.items():
            if key in props:
                validate(v, props[key], where + "." + key)
            else:
                assert schema.get("additionalProperties", True) is not False, \
                    "%s: undocumented field %r" % (where, key)
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            validate(v, schema["items"], "%s[%d]" % (where, i))


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
        self.exercised.add(op["operationId"])
        return status, doc

    def test_every_operation_matches_its_schemas(self):
        self.assertEqual(self.call("get", "/health", "/health", auth=False)[0], 200)
        status, acct = self.call("post", "/accounts", "/accounts", {"username": "doc-user"})
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
        ops = {op["operationId"] for p in DOC["paths"].values() for m, op in p.items() if m in METHODS}
        self.assertEqual(self.exercised, ops)

    def test_nothing_undocumented_is_served(self):
        for template, item in DOC["paths"].items():
            path = template.replace("{id}", "1")
            for method in METHODS:
                status, doc, headers = self.gw.api(method.upper(), path, raw=b"{}" if method != "get" else None)
                if method in item:
                    self.assertNotEqual(status, 405, (method, path))
                else:
                    self.assertEqual(status, 405, (method, path, status))
                    allowed = {m.upper() for m in item if m in METHODS}
                    self.assertIn(headers["Allow"], allowed)
        for path in ("/", "/account", "/accounts/1/keys", "/uploads/1/retry", "/openapi"):
            self.assertEqual(self.gw.api("GET", path)[0], 404, path)


if __name__ == "__main__":
    unittest.main()
