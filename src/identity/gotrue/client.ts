import type { AccessTokenResponse, Factor, RequestMeta, Settings, User } from '../types.js';
import type { GotrueTransport, JsonAnswer, JsonCall, Method } from './transport.js';

// Typed requests of GOTRUE.md §5. GoTrue ignores unknown fields, so each type
// lists what idgraph sends and leaves room for the rest.
type Open = Record<string, unknown>;
export type Contact = { email: string; phone?: never } | { phone: string; email?: never };
export type Pkce = { code_challenge?: string | null; code_challenge_method?: 's256' | 'plain' | null };
export type SignUpRequest = Partial<Contact> & Pkce & { password?: string; data?: Open; channel?: 'sms' | 'whatsapp' } & Open;
export type PasswordGrant = Contact & { password: string } & Open;
export type IdTokenGrant = { id_token: string; provider?: string; access_token?: string; nonce?: string; client_id?: string; issuer?: string; link_identity?: boolean } & Open;
export type OtpRequest = Contact & Pkce & { create_user?: boolean; data?: Open; channel?: 'sms' | 'whatsapp' } & Open;
export type RecoverRequest = { email: string } & Pkce & Open;
export type ResendRequest = Contact & Pkce & { type: 'signup' | 'email_change' | 'sms' | 'phone_change' } & Open;
export type VerifyRequest = ({ type: string; token: string } & Partial<Contact>) | ({ type: string; token_hash: string } & Open);
export type UpdateUserRequest = { email?: string; phone?: string; password?: string; current_password?: string; nonce?: string; data?: Open; app_metadata?: Open } & Pkce & Open;
export type EnrollRequest = { factor_type: 'totp' | 'phone' | 'webauthn'; friendly_name?: string; issuer?: string; phone?: string } & Open;
export type EnrollAnswer = { id: string; type: string; friendly_name?: string; totp?: { qr_code: string; secret: string; uri: string }; phone?: string };
export type ChallengeAnswer = { id: string; type: string; expires_at: number; webauthn?: Open };
export type AuthorizeParams = { provider: string; redirect_to?: string; scopes?: string; code_challenge?: string; code_challenge_method?: string };
export type SsoRequest = ({ provider_id: string } | { domain: string }) & Pkce & { redirect_to?: string; skip_http_redirect?: boolean } & Open;
export type AdminUserRequest = {
  email?: string;
  phone?: string;
  password?: string;
  email_confirm?: boolean;
  phone_confirm?: boolean;
  user_metadata?: Open;
  app_metadata?: Open;
  role?: string;
  ban_duration?: string;
} & Open;
export type GenerateLinkRequest = {
  type: 'signup' | 'invite' | 'magiclink' | 'recovery' | 'email_change_current' | 'email_change_new';
  email: string;
  new_email?: string;
  password?: string;
  data?: Open;
} & Open;
export type GeneratedLink = User & Open & { action_link: string; email_otp: string; hashed_token: string; verification_type: string; redirect_to: string };
export type UserPage = { users: User[]; aud: string; total: number; nextPage: number | null };
/** Where GoTrue sent the browser (authorize, callback, GET /verify, SSO, SAML ACS). */
export type Redirect = { status: number; location: string };

export interface ClientKeys {
  anon: string;
  serviceRole: string;
}

const API_VERSION = '2024-01-01';
const NO_META: RequestMeta = { ip: null, userAgent: null };

/**
 * One method per GoTrue route. Public routes carry the anon key (apikey and
 * Bearer, as supabase-js sends them), user routes the caller's access token,
 * admin routes the service-role key. Each call forwards the request id and
 * the end user's IP (X-Forwarded-For), which GoTrue's per-IP limits read.
 */
export function createGotrueClient({ transport, keys }: { transport: GotrueTransport; keys: ClientKeys }) {
  function headersFor(bearer: string, meta: RequestMeta, hasBody: boolean): Record<string, string> {
    return {
      apikey: keys.anon,
      authorization: `Bearer ${bearer}`,
      'x-supabase-api-version': API_VERSION,
      accept: 'application/json',
      ...(hasBody ? { 'content-type': 'application/json' } : {}),
      ...(meta.requestId ? { 'x-request-id': meta.requestId } : {}),
      ...(meta.ip ? { 'x-forwarded-for': meta.ip } : {}),
    };
  }

  type Options = { query?: JsonCall['query']; body?: unknown; meta?: RequestMeta; bearer?: string | null; answer?: 'json' | 'text' };
  async function send(method: Method, path: string, o: Options = {}): Promise<JsonAnswer> {
    return transport.json({
      method,
      path,
      query: o.query,
      body: o.body,
      headers: headersFor(o.bearer ?? keys.anon, o.meta ?? NO_META, o.body !== undefined),
      // GET and DELETE are safe to repeat; nothing else is retried.
      idempotent: method === 'GET' || method === 'DELETE',
      answer: o.answer,
    });
  }
  const call = async <T>(method: Method, path: string, o: Options = {}) => (await send(method, path, o)).body as T;
  const redirect = async (method: Method, path: string, o: Options = {}): Promise<Redirect> => {
    const answer = await send(method, path, o);
    return { status: answer.status, location: String(answer.headers.location ?? '') };
  };
  const user = (accessToken: string) => ({ bearer: accessToken });
  const admin = { bearer: keys.serviceRole };
  const token = <T extends Open>(grantType: string) => (body: T, meta?: RequestMeta, bearer?: string | null) =>
    call<AccessTokenResponse>('POST', '/token', { query: { grant_type: grantType }, body, meta, bearer });

  return {
    // POST /token?grant_type=…
    tokenPassword: token<PasswordGrant>('password'),
    tokenRefresh: token<{ refresh_token: string }>('refresh_token'),
    tokenPkce: token<{ auth_code: string; code_verifier: string }>('pkce'),
    /** With a Bearer and link_identity:true, links the issuer's identity to that user. */
    tokenIdToken: token<IdTokenGrant>('id_token'),
    /** Any other grant (web3, or one a newer GoTrue adds). */
    token: (grantType: string, body: Open, meta?: RequestMeta, bearer?: string | null) => token(grantType)(body, meta, bearer),
    logout: async (accessToken: string, scope: 'global' | 'local' | 'others' = 'global') => {
      await send('POST', '/logout', { query: { scope }, ...user(accessToken) });
    },

    signup: (body: SignUpRequest, meta?: RequestMeta, redirectTo?: string) =>
      call<User | AccessTokenResponse>('POST', '/signup', { body, meta, query: { redirect_to: redirectTo } }),
    recover: (body: RecoverRequest, meta?: RequestMeta, redirectTo?: string) =>
      call<Record<string, never>>('POST', '/recover', { body, meta, query: { redirect_to: redirectTo } }),
    resend: (body: ResendRequest, meta?: RequestMeta, redirectTo?: string) =>
      call<{ message_id?: string }>('POST', '/resend', { body, meta, query: { redirect_to: redirectTo } }),
    /** The legacy route: a magic link to an email (GoTrue treats it as /otp). */
    magiclink: (body: { email: string } & Open, meta?: RequestMeta, redirectTo?: string) =>
      call<Record<string, never>>('POST', '/magiclink', { body, meta, query: { redirect_to: redirectTo } }),
    otp: (body: OtpRequest, meta?: RequestMeta, redirectTo?: string) =>
      call<{ message_id?: string }>('POST', '/otp', { body, meta, query: { redirect_to: redirectTo } }),
    verify: (body: VerifyRequest, meta?: RequestMeta, redirectTo?: string) =>
      call<AccessTokenResponse>('POST', '/verify', { body, meta, query: { redirect_to: redirectTo } }),
    /** GET /verify as an emailed link does: a 303 whose Location holds tokens, a code or an error. */
    verifyLink: (params: { token: string; type: string; redirect_to?: string }, meta?: RequestMeta) =>
      redirect('GET', '/verify', { query: params, meta }),

    getUser: (accessToken: string) => call<User>('GET', '/user', user(accessToken)),
    updateUser: (accessToken: string, body: UpdateUserRequest, meta?: RequestMeta, redirectTo?: string) =>
      call<User>('PUT', '/user', { ...user(accessToken), body, meta, query: { redirect_to: redirectTo } }),
    reauthenticate: (accessToken: string, meta?: RequestMeta) => call<{ message_id?: string }>('GET', '/reauthenticate', { ...user(accessToken), meta }),

    enrollFactor: (accessToken: string, body: EnrollRequest) => call<EnrollAnswer>('POST', '/factors', { ...user(accessToken), body }),
    challengeFactor: (accessToken: string, factorId: string, body: Open = {}, meta?: RequestMeta) =>
      call<ChallengeAnswer>('POST', `/factors/${encodeURIComponent(factorId)}/challenge`, { ...user(accessToken), body, meta }),
    verifyFactor: (accessToken: string, factorId: string, body: { challenge_id: string; code?: string } & Open, meta?: RequestMeta) =>
      call<AccessTokenResponse>('POST', `/factors/${encodeURIComponent(factorId)}/verify`, { ...user(accessToken), body, meta }),
    unenrollFactor: (accessToken: string, factorId: string) =>
      call<{ id: string }>('DELETE', `/factors/${encodeURIComponent(factorId)}`, user(accessToken)),

    /** The IdP URL to link another identity (manual linking must be enabled). */
    authorizeIdentity: (accessToken: string, params: Omit<AuthorizeParams, 'provider'> & { provider: string }) =>
      call<{ url: string }>('GET', '/user/identities/authorize', { ...user(accessToken), query: { ...params, skip_http_redirect: true } }),
    deleteIdentity: (accessToken: string, identityId: string) =>
      call<Record<string, never>>('DELETE', `/user/identities/${encodeURIComponent(identityId)}`, user(accessToken)),

    /** OAuth start: GoTrue answers 302 to the IdP. */
    authorize: (params: AuthorizeParams, meta?: RequestMeta) => redirect('GET', '/authorize', { query: params, meta }),
    /** OAuth return: the IdP's query, forwarded; GoTrue answers with a redirect to the site. */
    callback: (query: Record<string, string>, meta?: RequestMeta) => redirect('GET', '/callback', { query, meta }),
    sso: (body: SsoRequest, meta?: RequestMeta) => call<{ url: string }>('POST', '/sso', { body: { skip_http_redirect: true, ...body }, meta }),
    samlMetadata: (download = false) => call<string>('GET', '/sso/saml/metadata', { query: { download: download || undefined }, answer: 'text' }),
    /** The IdP's form post, passed through as it came. */
    samlAcs: async (form: { SAMLResponse: string; RelayState?: string }, meta?: RequestMeta): Promise<Redirect> => {
      const answer = await transport.json({
        method: 'POST',
        path: '/sso/saml/acs',
        rawBody: new URLSearchParams(form).toString(),
        headers: { ...headersFor(keys.anon, meta ?? NO_META, false), 'content-type': 'application/x-www-form-urlencoded' },
        idempotent: false,
      });
      return { status: answer.status, location: String(answer.headers.location ?? '') };
    },

    settings: () => call<Settings & Open>('GET', '/settings'),
    jwks: () => call<{ keys: Open[] }>('GET', '/.well-known/jwks.json'),
    openidConfiguration: () => call<Open>('GET', '/.well-known/openid-configuration'),
    health: () => call<{ version: string; name: string; description: string }>('GET', '/health'),

    admin: {
      /** One page; the total comes from X-Total-Count and the next page from the Link header. */
      async listUsers(page = 1, perPage = 50): Promise<UserPage> {
        const answer = await send('GET', '/admin/users', { ...admin, query: { page, per_page: perPage } });
        const { users, aud } = answer.body as { users: User[]; aud: string };
        const next = /<[^>]*[?&]page=(\d+)[^>]*>;\s*rel="next"/.exec(String(answer.headers.link ?? ''));
        return { users, aud, total: Number(answer.headers['x-total-count'] ?? users.length), nextPage: next ? Number(next[1]) : null };
      },
      createUser: (body: AdminUserRequest) => call<User>('POST', '/admin/users', { ...admin, body }),
      getUser: (id: string) => call<User>('GET', `/admin/users/${encodeURIComponent(id)}`, admin),
      updateUser: (id: string, body: AdminUserRequest) => call<User>('PUT', `/admin/users/${encodeURIComponent(id)}`, { ...admin, body }),
      deleteUser: (id: string, softDelete = false) =>
        call<Record<string, never>>('DELETE', `/admin/users/${encodeURIComponent(id)}`, { ...admin, body: { should_soft_delete: softDelete } }),
      generateLink: (body: GenerateLinkRequest, redirectTo?: string) =>
        call<GeneratedLink>('POST', '/admin/generate_link', { ...admin, body, query: { redirect_to: redirectTo } }),
      invite: (body: { email: string; data?: Open }, redirectTo?: string) =>
        call<User>('POST', '/invite', { ...admin, body, query: { redirect_to: redirectTo } }),
      listFactors: (userId: string) => call<Factor[]>('GET', `/admin/users/${encodeURIComponent(userId)}/factors`, admin),
      updateFactor: (userId: string, factorId: string, body: { friendly_name?: string; phone?: string }) =>
        call<Factor>('PUT', `/admin/users/${encodeURIComponent(userId)}/factors/${encodeURIComponent(factorId)}`, { ...admin, body }),
      deleteFactor: (userId: string, factorId: string) =>
        call<Factor>('DELETE', `/admin/users/${encodeURIComponent(userId)}/factors/${encodeURIComponent(factorId)}`, admin),
      /** Whether a token is accepted on admin routes (the cheapest admin read answers). */
      authorize: (accessToken: string) => send('GET', '/admin/users', { bearer: accessToken, query: { page: 1, per_page: 1 } }).then(() => undefined),
    },
  };
}

export type GotrueClient = ReturnType<typeof createGotrueClient>;
