// oauth2-mock-server (npm) as a peer for benches/peers.sh: on loopback with a freshly generated
// RSA key. Its /token endpoint accepts any client and answers with an RS256-signed JWT.
//
//   node oauth2-mock-server.mjs PORT
//
// Prints `listening on http://127.0.0.1:PORT` once it accepts connections.
import { OAuth2Server } from 'oauth2-mock-server';

const port = Number(process.argv[2] ?? 18402);

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
await server.start(port, '127.0.0.1');
// server.issuer.url says `localhost`; print the address it is bound to.
console.log(`listening on http://127.0.0.1:${port}`);

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, async () => {
    await server.stop().catch(() => {});
    process.exit(0);
  });
}
