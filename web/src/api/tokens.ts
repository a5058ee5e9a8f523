/**
 * Where the tokens live. The refresh token survives a reload (localStorage); the access token
 * lives for the tab (sessionStorage) and is replaced by a refresh whenever it is missing,
 * expiring or refused.
 */
import type { TokenResponse, User } from "./types";

const REFRESH_KEY = "sparring.refresh_token";
const ACCESS_KEY = "sparring.access_token";

export interface Tokens {
  access: string | null;
  refresh: string | null;
}

export function loadTokens(): Tokens {
  return { access: sessionStorage.getItem(ACCESS_KEY), refresh: localStorage.getItem(REFRESH_KEY) };
}

export function saveTokens(response: TokenResponse): User {
  sessionStorage.setItem(ACCESS_KEY, response.access_token);
  localStorage.setItem(REFRESH_KEY, response.refresh_token);
  return response.user;
}

export function clearTokens(): void {
  sessionStorage.removeItem(ACCESS_KEY);
  localStorage.removeItem(REFRESH_KEY);
}

/** Seconds until the JWT's `exp`, or -1 when it cannot be read. */
export function secondsLeft(token: string, now = Date.now()): number {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as { exp?: number };
    return typeof json.exp === "number" ? json.exp - now / 1000 : -1;
  } catch {
    return -1;
  }
}
