import type { Logger } from 'pino';

/** The three token audiences: users, services, admins (DESIGN.md §7). */
export const audiences = ['arrakis-api', 'arrakis-internal', 'arrakis-admin'] as const;

/** One of {@link audiences}. */
export type Audience = (typeof audiences)[number];

/** Who a verified bearer token says the caller is. */
export interface Principal {
  /** `sub` claim. */
  sub: string;
  /** The one audience the token was issued for. */
  audience: Audience;
  /** `scope` claim, split on spaces (admins carry scopes; others usually none). */
  scopes: string[];
  /** `iss` claim. */
  issuer: string;
  /** `exp` claim in epoch ms. */
  expiresAtMs: number;
  /** `jti` claim when present. */
  tokenId: string | undefined;
}

/** Typed context variables of every request. */
export interface AppVariables {
  /** The request id (accepted from `X-Request-Id` or generated), echoed in the response header. */
  requestId: string;
  /** A pino child logger carrying `requestId`. */
  logger: Logger;
  /** Set by the auth middleware on authenticated routes. */
  principal?: Principal;
}

/** The Hono environment of the gateway app. */
export interface AppEnv {
  Variables: AppVariables;
}

/** The environment after the auth middleware: `principal` is set. */
export interface AuthedEnv {
  Variables: { principal: Principal };
}
