import { ApiRequestError, describeError } from "../api/rest";
import { AuthSession } from "../auth/session";
import { createStore } from "../lib/store";
import { Dashboard } from "./dashboard";
import { navigate } from "./navigation";

/**
 * The API key lives in sessionStorage only: it survives a reload of this tab
 * and goes with it. It never reaches localStorage or a cookie.
 */
const KEY_ITEM = "devicebridge.apiKey";

export type SignInState =
  | { phase: "signed-out"; problem: string | null }
  | { phase: "signing-in" }
  | { phase: "signed-in"; dashboard: Dashboard };

export const signInState = createStore<SignInState>({ phase: "signed-out", problem: null });

function problemOf(error: unknown): string {
  if (error instanceof ApiRequestError && error.status === 401) return "That API key is not valid.";
  return `Could not sign in: ${describeError(error)}`;
}

export async function signIn(apiKey: string): Promise<void> {
  signInState.set({ phase: "signing-in" });
  try {
    const session = await AuthSession.signIn(window.location.origin, apiKey.trim());
    sessionStorage.setItem(KEY_ITEM, apiKey.trim());
    session.onEnded((reason) => signOut(reason || null));
    signInState.set({ phase: "signed-in", dashboard: new Dashboard(session, { show: navigate }) });
  } catch (error) {
    sessionStorage.removeItem(KEY_ITEM);
    signInState.set({ phase: "signed-out", problem: problemOf(error) });
  }
}

/** Signs out by hand (no problem to show) or because the key stopped working. */
export function signOut(problem: string | null = null): void {
  sessionStorage.removeItem(KEY_ITEM);
  const state = signInState.get();
  if (state.phase !== "signed-in") return;
  signInState.set({ phase: "signed-out", problem });
  state.dashboard.close();
  // Ending the session calls back here, by then signed out: nothing more happens.
  state.dashboard.session.end();
}

/** After a reload, signs in again with the key this tab kept. */
export function resumeSignIn(): void {
  const apiKey = sessionStorage.getItem(KEY_ITEM);
  if (apiKey) void signIn(apiKey);
}
