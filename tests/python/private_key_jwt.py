"""authlib's private_key_jwt (RFC 7523) against a running throng, as an identity provider's
SCIM connector authenticates: RS256 with a kid against a registered JWK set, ES256 against a
JWKS URL the client serves itself, and Atlassian's part C request (a JSON body) signed with
joserfc. Tokens are then used and introspected with the same client authentication.

Run by tests/real_clients.rs with: python private_key_jwt.py BASE_URL ADMIN_USER ADMIN_PASSWORD
Each check prints one line; any failure raises, so the exit status says whether all passed.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

base, admin, password = sys.argv[1], sys.argv[2], sys.argv[3]
token_url = base + "/rest/oauth2/latest/token"
accounts = base + "/rest/service-accounts/latest/service-accounts"
checks = 0


def check(name, cond, detail=""):
    global checks
    if not cond:
        raise AssertionError(f"{name}: {detail}")
    checks += 1
    print(f"ok {name}")


def create(keys, scopes):
    body = {"displayName": "idp", "scopes": scopes, "expiryDuration": 86400, **keys}
    r = requests.post(accounts, auth=(admin, password), json=body)
    check("create a key account", r.status_code == 201, r.text)
    m = r.json()["authMethods"][0]
    check("it has no secret", "clientSecret" not in m and m["tokenEndpointAuthMethod"] == "private_key_jwt", m)
    grant(r.json()["id"])
    return m["clientId"]


r = requests.post(base + "/rest/admin/1.0/directory/detailed", auth=(admin, password),
                  json={"name": "authlib", "type": "SCIM"})
check("a SCIM directory", r.status_code == 201, r.text)
directory = r.json()
scim = directory["scimBaseUrl"]
SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def grant(account_id):
    r = requests.put(f"{accounts}/{account_id}/directories", auth=(admin, password),
                     json={"directories": [directory["id"]]})
    check("the directory is granted", r.status_code == 200, r.text)


def provision(s, name):
    """Creates and reads a SCIM user through authlib's session (its Bearer header)."""
    r = s.post(scim + "/Users", json={"schemas": [SCIM_USER], "userName": name},
               headers={"Content-Type": "application/scim+json"})
    check(f"SCIM create of {name} with the token", r.status_code == 201, r.text)
    r = s.get(scim + "/Users", params={"filter": f'userName eq "{name}"'})
    check(f"SCIM filter finds {name}", r.status_code == 200 and r.json()["totalResults"] == 1, r.text)


def session(client_id, key, kid, alg, scope):
    s = OAuth2Session(client_id, key, scope=scope, token_endpoint_auth_method="private_key_jwt")
    # authlib puts the kid in the header only when told to, through `headers`.
    s.register_client_auth_method(PrivateKeyJWT(token_url, headers={"kid": kid}, alg=alg))
    return s


# RS256 + kid, against a JWK set registered with the account.
rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)
rsa_client = create({"jwks": {"keys": [rsa.as_dict(private=False)]}}, ["manage:directory", "APPLICATION"])
s = session(rsa_client, rsa, "rsa-1", "RS256", "APPLICATION manage:directory")
tok = s.fetch_token(token_url, grant_type="client_credentials")
check("authlib RS256 private_key_jwt gets a token", tok["token_type"].lower() == "bearer", tok)
check("with both scopes", set(tok["scope"].split()) == {"APPLICATION", "manage:directory"}, tok)
r = s.get(base + "/rest/usermanagement/1/user", params={"username": admin},
          headers={"Accept": "application/json"})
check("the token reads a user", r.status_code == 200 and r.json()["name"] == admin, r.text)
tok2 = s.fetch_token(token_url, grant_type="client_credentials")
check("a second request (a fresh jti) gets another token", tok2["access_token"] != tok["access_token"], tok2)
r = s.introspect_token(base + "/rest/oauth2/latest/introspect", token=tok["access_token"])
check("introspection authenticated by assertion", r.status_code == 200 and r.json()["active"] is True, r.text)
check("introspection names the client", r.json()["client_id"] == rsa_client, r.text)
provision(s, "rs256-user")

# A key that is not the registered one, under the same kid.
impostor = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)
try:
    session(rsa_client, impostor, "rsa-1", "RS256", "manage:directory").fetch_token(
        token_url, grant_type="client_credentials")
    check("an impostor's key is refused", False, "no error raised")
except OAuthError as e:
    check("an impostor's key is invalid_client", e.error == "invalid_client", repr(e))
    check("naming the rule", "signature" in (e.description or ""), repr(e))

# ES256 against a JWKS URL the client serves itself.
ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1"}, private=True)
published = json.dumps({"keys": [ec.as_dict(private=False)]}).encode()


class Jwks(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(published)))
        self.end_headers()
        self.wfile.write(published)

    def log_message(self, *args):
        pass


jwks_server = HTTPServer(("127.0.0.1", 0), Jwks)
threading.Thread(target=jwks_server.serve_forever, daemon=True).start()
jwks_uri = f"http://127.0.0.1:{jwks_server.server_port}/.well-known/jwks.json"
ec_client = create({"jwksUri": jwks_uri}, ["manage:directory"])
s = session(ec_client, ec, "ec-1", "ES256", "manage:directory")
tok = s.fetch_token(token_url, grant_type="client_credentials")
check("authlib ES256 private_key_jwt with a JWKS URL gets a token", tok["scope"] == "manage:directory", tok)
provision(s, "es256-user")

# A Crowd-style account (a secret, APPLICATION only, as Crowd 7.0 offers) gets its tokens
# with client_secret_basic and client_secret_post; SCIM refuses them for want of the scope.
r = requests.post(accounts, auth=(admin, password),
                  json={"displayName": "crowd bot", "scopes": ["APPLICATION"], "expiryDuration": 86400})
m = r.json()["authMethods"][0]
for method in ("client_secret_basic", "client_secret_post"):
    s2 = OAuth2Session(m["clientId"], m["clientSecret"], token_endpoint_auth_method=method)
    s2.fetch_token(token_url, grant_type="client_credentials")
    r = s2.get(scim + "/Users")
    check(f"a {method} token is 403 insufficient_scope at SCIM", r.status_code == 403
          and "insufficient_scope" in r.headers.get("WWW-Authenticate", ""), r.text)

# Atlassian's part C request: a JSON body with client_id, at /oauth/token; the assertion
# carries exp, aud, iss and sub only.
now = int(time.time())
claims = {"exp": now + 300, "aud": base + "/oauth/token", "iss": ec_client, "sub": ec_client}
assertion = jwt.encode({"alg": "ES256", "kid": "ec-1"}, claims, ec)
body = {"client_id": ec_client, "grant_type": "client_credentials", "scope": "manage:directory",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion}
r = requests.post(base + "/oauth/token", json=body)
check("part C's JSON request gets a token", r.status_code == 200, r.text)
check("answered as part C shows it", r.json()["token_type"] == "Bearer"
      and r.json()["scope"] == "manage:directory" and r.json()["expires_in"] == 3600, r.text)
check("with no-store", r.headers.get("Cache-Control") == "no-store", r.headers)
r = requests.post(base + "/oauth/token", json=body)
check("the same assertion again is invalid_client", r.status_code == 401
      and r.json()["error"] == "invalid_client", r.text)
print(f"{checks} checks passed")
