import { ApiRequestError, callApi, type RequestOptions } from "../api/rest";
import type { IssuedToken, Scope } from "../api/types";
import { issuingKeyOf } from "./claims";
import { type Grant, allows } from "./grant";
import { TOKEN_TTL_SECS, renewalDelay } from "./renewal";

/** The token's subject, as the daemon's logs and `session` events show it. */
const SUBJECT = "dashboard";

/** A token this close to its end is renewed before use rather than sent. */
const MIN_REMAINING_MS = 5_000;

interface HeldToken {
  token: string;
  issuedAt: number;
  expiresAt: number;
}

/**
 * Mints a token with all of the key's own rights: the daemon fills in the
 * devices and scopes a request leaves out with the asking key's, and says in
 * its answer what it granted. A wrong key fails with 401, which is passed on.
 */
async function issue(origin: string, apiKey: string): Promise<{ grant: Grant; held: HeldToken }> {
  const issuedAt = Date.now();
  const issued = await callApi<IssuedToken>(origin, "/tokens", { apiKey }, {
    method: "POST",
    body: { sub: SUBJECT, ttlSecs: TOKEN_TTL_SECS },
  });
  return {
    grant: { devices: issued.devices, scopes: issued.scopes },
    held: { token: issued.token, issuedAt, expiresAt: Date.parse(issued.expiresAt) },
  };
}

/**
 * A signed-in dashboard: the API key (in sessionStorage, never anywhere
 * else) and the short-lived access token minted from it, which every request
 * and socket uses. The token is renewed ahead of its end; listeners then move
 * their sockets over to it. If the key stops working (revoked), the session
 * ends and the dashboard asks to sign in again.
 */
export class AuthSession {
  #held: HeldToken;
  #grant: Grant;
  #renewing: Promise<void> | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #renewed = new Set<() => void>();
  #ended = new Set<(reason: string) => void>();
  #closed = false;

  private constructor(
    readonly origin: string,
    readonly apiKey: string,
    grant: Grant,
    held: HeldToken,
  ) {
    this.#grant = grant;
    this.#held = held;
    this.#schedule();
  }

  /** Signs in with an API key; rejects with a 401 ApiRequestError for a wrong key. */
  static async signIn(origin: string, apiKey: string): Promise<AuthSession> {
    const { grant, held } = await issue(origin, apiKey);
    return new AuthSession(origin, apiKey, grant, held);
  }

  get scopes(): readonly Scope[] {
    return this.#grant.scopes;
  }

  /** The devices the key reaches: ids, or `*` for all. */
  get devices(): readonly string[] {
    return this.#grant.devices;
  }

  can(scope: Scope): boolean {
    return allows(this.#grant.scopes, scope);
  }

  /** The id of the API key signed in with, as its tokens name it (null if unreadable). */
  get keyId(): string | null {
    return issuingKeyOf(this.#held.token);
  }

  /** The current token, for a socket handshake made right now. */
  get token(): string {
    return this.#held.token;
  }

  /** A token that is good for a while yet, renewing first if needed. */
  async freshToken(): Promise<string> {
    if (this.#held.expiresAt - Date.now() < MIN_REMAINING_MS) await this.renew();
    return this.#held.token;
  }

  /** Mints a new token (one at a time, however many callers ask). */
  renew(): Promise<void> {
    this.#renewing ??= this.#mint().finally(() => {
      this.#renewing = null;
    });
    return this.#renewing;
  }

  async #mint(): Promise<void> {
    try {
      // The key's rights may have changed since sign-in: the new token says.
      const issued = await issue(this.origin, this.apiKey);
      this.#grant = issued.grant;
      this.#held = issued.held;
    } catch (error) {
      if (error instanceof ApiRequestError && (error.status === 401 || error.status === 403)) {
        this.end("The API key no longer works. Sign in again.");
      } else {
        // The daemon is unreachable: try again soon; sockets wait meanwhile.
        this.#schedule(5_000);
      }
      throw error;
    }
    if (this.#closed) return;
    this.#schedule();
    for (const listener of [...this.#renewed]) listener();
  }

  #schedule(delay?: number): void {
    clearTimeout(this.#timer);
    if (this.#closed) return;
    const wait = delay ?? renewalDelay(this.#held.issuedAt, this.#held.expiresAt, Date.now());
    this.#timer = setTimeout(() => void this.renew().catch(() => {}), wait);
  }

  /** A REST call with the token; a 401 (the token ended meanwhile) renews and retries once. */
  async request<T>(path: string, options?: RequestOptions): Promise<T> {
    try {
      return await callApi<T>(this.origin, path, { token: await this.freshToken() }, options);
    } catch (error) {
      if (!(error instanceof ApiRequestError && error.status === 401)) throw error;
      await this.renew();
      return callApi<T>(this.origin, path, { token: this.#held.token }, options);
    }
  }

  /**
   * A REST call with the API key itself, for the little only a key may do:
   * create API keys (a key made by a token would outlive it), and issue tokens
   * for others (a token asked for with a token ends no later than it).
   */
  requestWithKey<T>(path: string, options?: RequestOptions): Promise<T> {
    return callApi<T>(this.origin, path, { apiKey: this.apiKey }, options);
  }

  onRenewed(listener: () => void): () => void {
    this.#renewed.add(listener);
    return () => this.#renewed.delete(listener);
  }

  onEnded(listener: (reason: string) => void): () => void {
    this.#ended.add(listener);
    return () => this.#ended.delete(listener);
  }

  /** Ends the session (signing out, or the key was revoked). */
  end(reason = ""): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const listener of [...this.#ended]) listener(reason);
  }
}
