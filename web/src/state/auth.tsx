// The signed-in customer: tokens live in session.ts; this hook re-renders on sign-in
// and sign-out (in this tab or another) and loads the profile.
import { useCallback, useEffect, useState, useSyncExternalStore } from "react";
import { api, unwrap, type Schemas } from "../api/client";
import { session } from "./session";

export type Profile = Schemas["Profile"];

// How the typed client trades a refresh token (session.ts calls it on a 401).
session.setRefresher(async (refreshToken) => {
  const { data } = await api.POST("/api/v1/auth/refresh", { body: { refresh_token: refreshToken } });
  return data ? { access_token: data.access_token, refresh_token: data.refresh_token } : null;
});

/** Whether a customer is signed in, kept current across tabs. */
export function useSignedIn(): boolean {
  return useSyncExternalStore(session.subscribe, session.signedIn, () => false);
}

/** The signed-in customer's profile (null while loading or signed out). */
export function useProfile(): { profile: Profile | null; reload: () => void } {
  const signedIn = useSignedIn();
  const [profile, setProfile] = useState<Profile | null>(null);
  const reload = useCallback(() => {
    if (!session.signedIn()) {
      setProfile(null);
      return;
    }
    unwrap(() => api.GET("/api/v1/users/me"))
      .then(setProfile)
      .catch(() => setProfile(null));
  }, []);
  useEffect(reload, [reload, signedIn]);
  return { profile, reload };
}

/** Signs in with e-mail and password; throws the API's problem on refusal. */
export async function signIn(email: string, password: string): Promise<void> {
  const tokens = await unwrap(() => api.POST("/api/v1/auth/login", { body: { email, password } }));
  session.setTokens(tokens.access_token, tokens.refresh_token);
}

/** Revokes the refresh token (best effort) and forgets the session. */
export async function signOut(): Promise<void> {
  const refresh = session.refreshToken();
  if (refresh) {
    await api.POST("/api/v1/auth/logout", { body: { refresh_token: refresh } }).catch(() => undefined);
  }
  session.signOutLocally();
  session.setCartSession(null);
}
