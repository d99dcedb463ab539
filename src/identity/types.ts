// GoTrue's wire shapes (GOTRUE.md §3), shared by both IdentityProvider adapters.

export interface AmrEntry {
  method: string;
  timestamp: number;
  provider?: string;
}

export interface Identity {
  identity_id: string;
  id: string;
  user_id: string;
  identity_data: Record<string, unknown>;
  provider: string;
  last_sign_in_at?: string;
  created_at: string;
  updated_at: string;
  email?: string;
}

export interface Factor {
  id: string;
  created_at: string;
  updated_at: string;
  status: 'unverified' | 'verified';
  friendly_name?: string;
  factor_type: 'totp' | 'phone' | 'webauthn';
  phone: string;
  last_challenged_at: string | null;
}

export interface User {
  id: string;
  aud: string;
  role: string;
  email: string;
  email_confirmed_at?: string;
  invited_at?: string;
  phone: string;
  phone_confirmed_at?: string;
  confirmation_sent_at?: string;
  confirmed_at?: string;
  recovery_sent_at?: string;
  new_email?: string;
  email_change_sent_at?: string;
  new_phone?: string;
  phone_change_sent_at?: string;
  reauthentication_sent_at?: string;
  last_sign_in_at?: string;
  app_metadata: { provider?: string; providers?: string[]; [key: string]: unknown };
  user_metadata: Record<string, unknown>;
  factors?: Factor[];
  identities: Identity[];
  created_at: string;
  updated_at: string;
  banned_until?: string;
  deleted_at?: string;
  is_anonymous: boolean;
}

export interface AccessTokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  expires_at: number;
  refresh_token: string;
  user: User;
  weak_password?: { message: string; reasons: string[] } | null;
}

/** The claims of an access token minted by the engine (GOTRUE.md §4, plus jti and idgraph's tenant claims). */
export interface AccessTokenClaims {
  iss?: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  jti?: string;
  email: string;
  phone: string;
  app_metadata: Record<string, unknown>;
  user_metadata: Record<string, unknown>;
  role: string;
  aal: 'aal1' | 'aal2';
  amr: AmrEntry[];
  session_id?: string;
  is_anonymous: boolean;
  tenant_id?: string;
  tenant_role?: string;
  mfa_at?: number;
}

export type OtpType = 'signup' | 'invite' | 'magiclink' | 'recovery' | 'email_change' | 'email' | 'sms' | 'phone_change';

export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
  requestId?: string;
}

export interface Settings {
  external: Record<string, boolean>;
  disable_signup: boolean;
  mailer_autoconfirm: boolean;
  phone_autoconfirm: boolean;
  sms_provider: string;
  saml_enabled: boolean;
  mfa_enabled?: boolean;
}
