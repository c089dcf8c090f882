"""scim2-tester against a live throng SCIM directory: every check of scim2-tester 0.5.2 (its
discovery, CRUD, attribute projection and PATCH add/replace/remove checks on User and Group),
with a bearer token obtained as part C obtains it (an ES256 client assertion, signed with
joserfc). Passes when no check fails; SKIPPED is allowed only for POST /.search, which throng
answers 501 as its ServiceProviderConfig implies.

Run by tests/real_clients.rs with: python scim_conformance.py BASE_URL ADMIN_USER ADMIN_PASSWORD
"""
import sys
import time
import uuid

import requests
from httpx2 import Client
from joserfc import jwt
from joserfc.jwk import ECKey
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

base, admin, password = sys.argv[1], sys.argv[2], sys.argv[3]
auth = (admin, password)

r = requests.post(base + "/rest/admin/1.0/directory/detailed", auth=auth,
                  json={"name": "scim2-tester", "type": "SCIM"})
assert r.status_code == 201, r.text
directory = r.json()
scim_base = directory["scimBaseUrl"]

key = ECKey.generate_key("P-256", parameters={"kid": "tester"}, private=True)
r = requests.post(base + "/rest/service-accounts/latest/service-accounts", auth=auth,
                  json={"displayName": "scim2-tester", "scopes": ["manage:directory"],
                        "expiryDuration": 86400, "jwks": {"keys": [key.as_dict(private=False)]}})
assert r.status_code == 201, r.text
account = r.json()
client_id = account["authMethods"][0]["clientId"]
r = requests.put(f"{base}/rest/service-accounts/latest/service-accounts/{account['id']}/directories",
                 auth=auth, json={"directories": [directory["id"]]})
assert r.status_code == 200, r.text

now = int(time.time())
assertion = jwt.encode({"alg": "ES256", "kid": "tester"},
                       {"iss": client_id, "sub": client_id, "aud": base + "/oauth/token",
                        "exp": now + 300, "jti": str(uuid.uuid4())}, key)
r = requests.post(base + "/oauth/token", json={
    "client_id": client_id, "grant_type": "client_credentials", "scope": "manage:directory",
    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    "client_assertion": assertion})
assert r.status_code == 200, r.text
token = r.json()["access_token"]

client = SyncSCIMClient(Client(base_url=scim_base, headers={"Authorization": f"Bearer {token}"}))
results = check_server(client, raise_exceptions=False)
failed = []
for result in results:
    name = f"{result.title} [{result.resource_type or ''}]"
    print(f"{result.status.name:8} {name}: {result.reason or ''}")
    if result.status == Status.SKIPPED and "search" in (result.title or "").lower():
        continue
    if result.status not in (Status.SUCCESS,):
        failed.append(name)
print(f"{len(results)} checks, {len(failed)} failed")
if failed or not results:
    sys.exit(1)
print("checks passed")
