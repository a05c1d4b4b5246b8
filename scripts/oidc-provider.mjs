// A development OpenID Connect provider for the tests and the deployment
// test, in place of DigiD (production) or Keycloak (compose): the certified
// `oidc-provider` package (installed by scripts/install-test-deps.sh into
// .test-tools/npm), with test patients that carry a BSN claim in their ID
// token, as a DigiD broker's do.
//
//   node scripts/oidc-provider.mjs
//
// Environment:
//   OIDC_PORT            where to listen on 127.0.0.1 (0: any free port)
//   OIDC_ISSUER          the issuer URL (default http://<OIDC_HOST_NAME>:<port>)
//   OIDC_HOST_NAME       the host name in the default issuer (127.0.0.1)
//   OIDC_HOST            the address to listen on (127.0.0.1)
//   OIDC_CLIENT_ID       the mesh's client id (default toestemming)
//   OIDC_CLIENT_SECRET   its secret (required)
//   OIDC_REDIRECT_URIS   comma-separated redirect URIs (required)
//   OIDC_ACCOUNTS        JSON: [{"login": "...", "bsn": "...",
//                        "given_name": "...", "family_name": "..."}]; a
//                        login without "bsn" signs in without the claim
//   OIDC_ANY_BSN         `true`: also sign in any login `bsn-<9 digits>` as
//                        that BSN (no names), as a test provider's made-up
//                        citizens; for scripted sign-ins of random BSNs
//
// The issuer may have a path (Keycloak's `/realms/<name>`): requests under
// it are served, with the path taken off, as oidc-provider's docs mount it.
//
// Prints `listening <issuer>` once it serves. Patients sign in on its
// development login page with their `login` (any password); no consent
// page is shown (the grant is made at once, as DigiD asks no consent).

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, '.test-tools/npm/package.json'));
const { default: Provider } = await import(require.resolve('oidc-provider'));

const need = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`oidc-provider: ${name} is required`);
    process.exit(2);
  }
  return value;
};

const port = Number(process.env.OIDC_PORT || 0);
const clientId = process.env.OIDC_CLIENT_ID || 'toestemming';
const clientSecret = need('OIDC_CLIENT_SECRET');
const redirectUris = need('OIDC_REDIRECT_URIS').split(',');
const accounts = new Map(
  JSON.parse(process.env.OIDC_ACCOUNTS || '[]').map((account) => [account.login, account]),
);

const net = await import('node:net');
// Find the port first when asked for any, so the issuer can name it.
const host = process.env.OIDC_HOST || '127.0.0.1';
const freePort = port || await new Promise((resolve) => {
  const probe = net.createServer().listen(0, host, () => {
    const { port: found } = probe.address();
    probe.close(() => resolve(found));
  });
});
const issuer = process.env.OIDC_ISSUER
  || `http://${process.env.OIDC_HOST_NAME || '127.0.0.1'}:${freePort}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  scopes: ['openid', 'profile'],
  claims: {
    openid: ['sub', 'bsn'],
    profile: ['given_name', 'family_name'],
  },
  // The claims go in the ID token itself, where the relying party reads
  // them (a DigiD broker puts the BSN there too).
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['a development provider, not a secret'] },
  async findAccount(ctx, id) {
    const made = process.env.OIDC_ANY_BSN === 'true' && /^bsn-\d{9}$/.test(id)
      ? { login: id, bsn: id.slice(4) }
      : undefined;
    const account = accounts.get(id) || made;
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        const claims = { sub: id };
        for (const name of ['bsn', 'given_name', 'family_name']) {
          if (account[name] !== undefined && account[name] !== null) claims[name] = account[name];
        }
        return claims;
      },
    };
  },
  // No consent page: the grant is made at once.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile');
    grant.addOIDCClaims(['bsn', 'given_name', 'family_name']);
    await grant.save();
    return grant;
  },
});

const prefix = new URL(issuer).pathname.replace(/\/$/, '');
const callback = provider.callback();
const http = await import('node:http');
http.createServer((req, res) => {
  if (prefix && !(req.url === prefix || req.url.startsWith(`${prefix}/`))) {
    res.statusCode = 404;
    res.end();
    return;
  }
  // As express mounts it: oidc-provider tells its mount path from the two.
  req.originalUrl = req.url;
  req.url = req.url.slice(prefix.length) || '/';
  callback(req, res);
}).listen(freePort, host, () => {
  console.log(`listening ${issuer}`);
});
