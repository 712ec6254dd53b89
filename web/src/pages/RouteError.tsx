// Shown when a page fails to render or its chunk cannot be loaded (a deploy replaced
// it while the tab was open): a reload fetches the new build.
import { useRouteError } from "react-router-dom";
import { useI18n } from "../i18n";

export function RouteError() {
  const { t } = useI18n();
  const error = useRouteError();
  return (
    <main id="main" className="narrow">
      <h1>{t.errors.title}</h1>
      <p role="alert">{error instanceof Error ? error.message : String(error)}</p>
      <button type="button" onClick={() => window.location.reload()}>
        {t.errors.retry}
      </button>
    </main>
  );
}
