// An API error as a shopper reads it: the problem's message (in French for the codes
// i18n/problems.ts knows) and its hint, announced to screen readers.
import { ApiProblem } from "../api/client";
import { useI18n } from "../i18n";
import { problemText } from "../i18n/problems";

export function useProblemText(): (error: unknown) => string {
  const { locale, t } = useI18n();
  return (error) => {
    if (error instanceof ApiProblem) {
      if (error.status === 0) return t.errors.network;
      // `invalid_field` messages start with the field's JSON path, which is the
      // program's name for it: the shopper sees the sentence, next to the field.
      const { details, message } = error.problem;
      const sentence = error.code === "invalid_field" && details && message.startsWith(`${details}: `) ? message.slice(details.length + 2) : message;
      return problemText(locale, error.code, sentence);
    }
    return error instanceof Error ? error.message : String(error);
  };
}

export function ProblemAlert({ error, id }: { error: unknown; id?: string }) {
  const text = useProblemText();
  const { locale } = useI18n();
  if (!error) return null;
  const hint = error instanceof ApiProblem && locale === "en" ? error.problem.hint : null;
  const code = error instanceof ApiProblem ? error.code : undefined;
  return (
    <div className="alert" role="alert" id={id} data-code={code}>
      <p>{text(error)}</p>
      {hint && <p className="hint">{hint}</p>}
    </div>
  );
}

/**
 * The field a problem names, for showing it next to that field: `invalid_field`'s
 * `details` is the JSON path (`$.shipping_address.postal_code` → `postal_code`);
 * other field problems name their field in their code.
 */
export function problemField(error: unknown): string | null {
  if (!(error instanceof ApiProblem)) return null;
  const details = error.problem.details;
  if (details && details.startsWith("$.")) {
    const parts = details.slice(2).split(".");
    return parts[parts.length - 1] ?? null;
  }
  switch (error.code) {
    case "invalid_email":
    case "app_user_email_key":
      return "email";
    case "weak_password":
      return "password";
    default:
      return null;
  }
}
