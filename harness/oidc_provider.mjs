// A real OpenID provider for the test tier (harness/oidc.py): oidc-provider, the OpenID-certified
// package, on 127.0.0.1, issuing JWT access tokens by the client credentials grant.
//
//   node oidc_provider.mjs <config.json>
//
// config.json: { "port": 0, "audience": "...", "scopes": ["notes:read", ...],
//                "clients": [{ "id": "...", "secret": "...", "scope": "notes:read ..." }],
//                "jwks": { "keys": [<private RSA JWK with kid and alg RS256>] } }
// Prints one line `{"issuer": "http://127.0.0.1:<port>"}` once it listens; stops on SIGTERM.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const server = createServer();
await new Promise((resolve) => server.listen(config.port ?? 0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: config.clients.map((client) => ({
    client_id: client.id,
    client_secret: client.secret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_post',
    scope: client.scope,
  })),
  jwks: config.jwks,
  scopes: config.scopes,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // RFC 8707: a token for one resource (the API's audience) is a JWT whose `aud` names it.
    resourceIndicators: {
      enabled: true,
      defaultResource: () => config.audience,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: config.scopes.join(' '),
        audience: config.audience,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});
provider.on('server_error', (_ctx, error) => console.error('oidc-provider error:', error));
server.on('request', provider.callback());

process.on('SIGTERM', () => server.close(() => process.exit(0)));
console.log(JSON.stringify({ issuer }));
