-- wrk script for benches/jwt.sh: POSTs the token requests of the file $FORMS, one per line,
-- each once, in order. Each is a form carrying a single-use client assertion.
local forms = {}
for line in io.lines(os.getenv("FORMS")) do
    forms[#forms + 1] = line
end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

request = function()
    i = i + 1
    -- Past the end, the first ones again: replays, which the server refuses (non-2xx), so a
    -- pool too small for the run fails the script rather than flattering it.
    return wrk.format(nil, nil, nil, forms[(i - 1) % #forms + 1])
end
