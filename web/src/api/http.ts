/**
 * The one way the app talks to the REST API: JSON in and out, errors as `ApiError` (the server's
 * `{"error": {code, message, details}}` shape), and transparent access-token refresh. Only one
 * refresh is ever in flight: refresh tokens rotate and a reused one revokes the whole family, so
 * two parallel refreshes would sign the user out.
 */
import { clearTokens, loadTokens, saveTokens, secondsLeft } from "./tokens";
import type { TokenResponse, User } from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
  }
}

type Listener = (user: User | null) => void;
const listeners = new Set<Listener>();
let refreshing: Promise<string> | null = null;

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function signedOut(): void {
  clearTokens();
  listeners.forEach((l) => l(null));
}

export async function errorFrom(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string; details?: unknown } };
    if (body.error) {
      return new ApiError(response.status, body.error.code ?? "error", body.error.message ?? response.statusText,
        body.error.details ?? null);
    }
  } catch {
    // not JSON: fall through to a generic message
  }
  return new ApiError(response.status, "http_" + response.status, `The server answered ${response.status}.`);
}

/** Exchanges the refresh token for new tokens; concurrent callers share one request. */
export function refreshAccessToken(): Promise<string> {
  refreshing ??= (async () => {
    try {
      const { refresh } = loadTokens();
      if (!refresh) throw new ApiError(401, "not_signed_in", "Please sign in.");
      const response = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: refresh }),
      });
      if (!response.ok) {
        const error = await errorFrom(response);
        if (response.status === 401) signedOut();
        throw error;
      }
      const tokens = (await response.json()) as TokenResponse;
      const user = saveTokens(tokens);
      listeners.forEach((l) => l(user));
      return tokens.access_token;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** A usable access token: the stored one, or a fresh one when it is missing or about to expire. */
export async function accessToken(): Promise<string> {
  const { access } = loadTokens();
  if (access && secondsLeft(access) > 20) return access;
  return refreshAccessToken();
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | null | undefined>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  auth?: boolean;
}

/** Sends a request and returns the raw response (after at most one refresh-and-retry). */
export async function send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
  }
  const isForm = options.body instanceof FormData;
  const attempt = async (token: string | null): Promise<Response> =>
    fetch(url, {
      method,
      signal: options.signal ?? null,
      headers: {
        ...(options.body !== undefined && !isForm ? { "content-type": "application/json" } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...options.headers,
      },
      body: options.body === undefined ? null : isForm ? (options.body as FormData) : JSON.stringify(options.body),
    });
  if (options.auth === false) return attempt(null);
  let response = await attempt(await accessToken());
  if (response.status === 401) response = await attempt(await refreshAccessToken());
  if (response.status === 401) signedOut();
  return response;
}

export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const response = await send(method, path, options);
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export async function login(email: string, password: string): Promise<User> {
  const response = await send("POST", "/api/v1/auth/login", { body: { email, password }, auth: false });
  if (!response.ok) throw await errorFrom(response);
  const user = saveTokens((await response.json()) as TokenResponse);
  listeners.forEach((l) => l(user));
  return user;
}

/**
 * Redeems an emailed single-use link (an invite, a password reset): sets the password and signs
 * in with the tokens the server answers.
 */
export async function redeemLink(kind: "invite" | "reset", token: string, password: string): Promise<User> {
  const path = kind === "invite" ? "/api/v1/auth/invite/accept" : "/api/v1/auth/password-reset/confirm";
  const response = await send("POST", path, { body: { token, password }, auth: false });
  if (!response.ok) throw await errorFrom(response);
  const user = saveTokens((await response.json()) as TokenResponse);
  listeners.forEach((l) => l(user));
  return user;
}

/** Revokes the refresh token's family on the server, then forgets the tokens here. */
export async function logout(): Promise<void> {
  const { refresh } = loadTokens();
  try {
    if (refresh) await send("POST", "/api/v1/auth/logout", { body: { refresh_token: refresh }, auth: false });
  } finally {
    signedOut();
  }
}
