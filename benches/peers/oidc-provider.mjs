// oidc-provider (npm) as a peer for benches/peers.sh: in memory, on loopback, one confidential
// client allowed the client-credentials grant with client_secret_basic. Opaque access tokens.
//
//   node oidc-provider.mjs PORT [CLIENT_ID [CLIENT_SECRET]]
//
// Prints `listening on http://127.0.0.1:PORT` once it accepts connections. Token endpoint: /token.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? 18401);
const clientId = process.argv[3] ?? 'bench-client';
const clientSecret = process.argv[4] ?? 'bench-secret-0123456789abcdef0123456789abcdef';
const issuer = `http://127.0.0.1:${port}`;

// A real signing key (oidc-provider otherwise falls back to a development-only key and warns);
// client-credentials access tokens are opaque, so it is never used on the measured path.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'APPLICATION',
    },
  ],
  // Scopes the provider knows; a client_credentials request may ask for a subset of the
  // client's `scope`. Without a `scope` parameter the token simply carries none.
  scopes: ['APPLICATION'],
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
    // Resource indicators stay at their default (enabled, no default resource), so a request
    // without `resource` gets an opaque ClientCredentials token from the in-memory adapter.
  },
  // Same lifetime as throng's default (1 h); also stops the "default ttl" notice.
  ttl: { ClientCredentials: 3600 },
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
});

const server = createServer(provider.callback());
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${issuer}`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
