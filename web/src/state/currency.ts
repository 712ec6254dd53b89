// The shopper's currency (XOF by default: the demo shop sells in West Africa), kept
// with the session; a cart keeps the currency it was opened in.
import { useSyncExternalStore } from "react";
import { session } from "./session";

export const CURRENCIES = ["XOF", "EUR"] as const;

export function useCurrency(): string {
  return useSyncExternalStore(session.subscribe, session.currency, () => "XOF");
}
