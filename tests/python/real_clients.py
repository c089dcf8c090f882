"""Real OAuth 2.0 clients against a running throng.

Run by tests/real_clients.rs with: python real_clients.py BASE_URL ADMIN_USER ADMIN_PASSWORD
Each check prints one line; any failure raises, so the exit status says whether all passed.
The scripts do what an operator's Crowd 7.0 script does, using only public client libraries:
requests for the service-account REST API and authlib's OAuth2Session for the token endpoint.
"""
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client.errors import OAuthError

base, admin, password = sys.argv[1], sys.argv[2], sys.argv[3]
token_url = base + "/rest/oauth2/latest/token"
checks = 0


def check(name, cond, detail=""):
    global checks
    if not cond:
        raise AssertionError(f"{name}: {detail}")
    checks += 1
    print(f"ok {name}")


# The seed script of the Crowd 7.0 docs: create a service account with requests.
r = requests.post(
    base + "/rest/service-accounts/latest/service-accounts",
    auth=(admin, password),
    json={"displayName": "python bot", "scopes": ["APPLICATION"], "expiryDuration": 2592000,
          "description": "made by requests"},
)
check("requests creates a service account", r.status_code == 201, r.text)
method = r.json()["authMethods"][0]
client_id, secret, config_id = method["clientId"], method["clientSecret"], method["id"]

# authlib, client_secret_basic (authlib sends id:secret in Basic without URL-encoding them).
s = OAuth2Session(client_id, secret, scope="APPLICATION", token_endpoint_auth_method="client_secret_basic")
tok = s.fetch_token(token_url, grant_type="client_credentials")
check("authlib client_secret_basic gets a token", tok.get("token_type", "").lower() == "bearer", tok)
check("expires_in is 3600", tok["expires_in"] == 3600, tok)
check("scope is APPLICATION", tok["scope"] == "APPLICATION", tok)

# The token works on the usermanagement API through authlib's session (Bearer header).
r = s.get(base + "/rest/usermanagement/1/user", params={"username": admin},
          headers={"Accept": "application/json"})
check("bearer token reads a user", r.status_code == 200 and r.json()["name"] == admin, r.text)
check("X-Embedded-Crowd-Version present", r.headers.get("X-Embedded-Crowd-Version", "").startswith("Crowd/"))

# authlib, client_secret_post (authlib adds ;charset=UTF-8 to the form content type).
s2 = OAuth2Session(client_id, secret, scope="APPLICATION", token_endpoint_auth_method="client_secret_post")
tok2 = s2.fetch_token(token_url, grant_type="client_credentials")
check("authlib client_secret_post gets a token", tok2["access_token"] != tok["access_token"], tok2)

# Wrong secret: authlib raises OAuthError carrying RFC 6749's error code.
bad = OAuth2Session(client_id, "0" * 64, token_endpoint_auth_method="client_secret_basic")
try:
    bad.fetch_token(token_url, grant_type="client_credentials")
    check("wrong secret is refused", False, "no error raised")
except OAuthError as e:
    check("wrong secret is invalid_client", e.error == "invalid_client", repr(e))

# Introspection and revocation through authlib's RFC 7662 / RFC 7009 helpers.
r = s.introspect_token(base + "/rest/oauth2/latest/introspect", token=tok["access_token"])
check("authlib introspects its live token", r.status_code == 200 and r.json()["active"] is True, r.text)
r = s.revoke_token(base + "/rest/oauth2/latest/revoke", token=tok["access_token"])
check("authlib revokes its token", r.status_code == 200, r.text)
r = s.introspect_token(base + "/rest/oauth2/latest/introspect", token=tok["access_token"])
check("revoked token is inactive", r.json() == {"active": False}, r.text)
r = requests.get(base + "/rest/usermanagement/1/user", params={"username": admin},
                 headers={"Authorization": "Bearer " + tok["access_token"]})
check("revoked token gets 401 invalid_token", r.status_code == 401
      and 'error="invalid_token"' in r.headers.get("WWW-Authenticate", ""), r.headers)

# Rotation as the Crowd docs describe it: rotate, then read the new pair from the client.
r = requests.post(base + f"/rest/oauth2/latest/rotate/{client_id}", auth=(admin, password))
check("rotate answers 200", r.status_code == 200, r.text)
r = requests.get(base + f"/rest/oauth2/latest/client/{config_id}", auth=(admin, password))
c = r.json()
check("client shows the rotated pair", c["rotatedClientId"] == client_id and c["clientId"] != client_id, r.text)
new = OAuth2Session(c["clientId"], c["clientSecret"], token_endpoint_auth_method="client_secret_basic")
check("new pair gets a token", "access_token" in new.fetch_token(token_url, grant_type="client_credentials"))
old = OAuth2Session(client_id, secret, token_endpoint_auth_method="client_secret_basic")
check("old pair still works in the grace period", "access_token" in old.fetch_token(token_url, grant_type="client_credentials"))

print(f"{checks} checks passed")
