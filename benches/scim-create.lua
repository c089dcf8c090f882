-- wrk script for benches/scim.sh: POST /Users with a new userName each request
-- ($SCIM_PREFIX-<n>), a bearer token from $SCIM_TOKEN. A taken name would be a 409 (non-2xx).
local n = 0
local prefix = os.getenv("SCIM_PREFIX") or "w"
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIM_TOKEN")
wrk.headers["Content-Type"] = "application/scim+json"

request = function()
    n = n + 1
    local name = prefix .. "-" .. n
    local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. name ..
        '","name":{"givenName":"First","familyName":"' .. name .. '"},"emails":[{"value":"' ..
        name .. '@example.com","type":"work","primary":true}]}'
    return wrk.format(nil, nil, nil, body)
end
