import { useEffect, useState } from "preact/hooks";
import type { AuthSession } from "../auth/session";

/** The session's current access token, re-rendering when it is renewed. */
export function useAccessToken(session: AuthSession): string {
  const [token, setToken] = useState(() => session.token);
  useEffect(() => {
    setToken(session.token);
    return session.onRenewed(() => setToken(session.token));
  }, [session]);
  return token;
}
