-- wrk script for benches/scim.sh: GET /Users?filter=userName eq "b-<n>" for random n of the
-- $SCIM_USERS (b-1 … b-N) the fill run created, with the bearer token of $SCIM_TOKEN.
local users = tonumber(os.getenv("SCIM_USERS")) or 1
local base = os.getenv("SCIM_BASE")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIM_TOKEN")
math.randomseed(7)

request = function()
    local name = "b-" .. math.random(1, users)
    return wrk.format("GET", base .. "/Users?filter=userName%20eq%20%22" .. name .. "%22")
end
