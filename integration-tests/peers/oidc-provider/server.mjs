// An OpenID provider for the integration tests, built on oidc-provider (a certified
// implementation). Its interaction step logs in the account named by `login_hint` without a
// page, so tests drive it with plain HTTP. Configuration comes from the environment.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const LOA2 = 'http://ftn.ficora.fi/2017/loa2';
const LOA1 = 'http://ftn.ficora.fi/2017/loa1';

// Test people: a Suomi.fi identity, a Virtu user, and one who only reaches a weak level.
const accounts = {
  tessa: { sub: 'tessa', name: 'Tessa Testilä', given_name: 'Tessa', family_name: 'Testilä', 'urn:oid:1.2.246.21': '010280-952L' },
  maija: { sub: 'maija', name: 'Maija Pääkäyttäjä', virtuLocalID: 'maija.paakayttaja', virtuHomeOrganization: 'demo.ohjaus.invalid' },
  weak: { sub: 'weak', name: 'Heikko Tunnistus', 'urn:oid:1.2.246.21': '010675-9981' },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    post_logout_redirect_uris: [process.env.POST_LOGOUT_REDIRECT_URI],
    response_types: ['code'],
    grant_types: ['authorization_code'],
  }],
  scopes: ['openid', 'profile', 'suomifi', 'virtu'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name'],
    suomifi: ['urn:oid:1.2.246.21'],
    virtu: ['virtuLocalID', 'virtuHomeOrganization'],
  },
  acrValues: [LOA2, LOA1],
  // Put the claims in the ID token, as Suomi.fi's OIDC interface does.
  conformIdTokenClaims: false,
  findAccount: async (ctx, id) => (accounts[id] ? { accountId: id, claims: async () => accounts[id] } : undefined),
  features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
  pkce: { required: () => true },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['ohjaus-test-peer-cookie-key'] },
});
provider.proxy = false;

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const accountId = details.params.login_hint;
  let result;
  if (!accounts[accountId]) {
    result = { error: 'access_denied', error_description: 'unknown test account' };
  } else {
    const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    grant.addOIDCClaims(['name', 'given_name', 'family_name', 'urn:oid:1.2.246.21', 'virtuLocalID', 'virtuHomeOrganization']);
    const grantId = await grant.save();
    result = { login: { accountId, acr: accountId === 'weak' ? LOA1 : LOA2 }, consent: { grantId } };
  }
  return provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
});

provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
