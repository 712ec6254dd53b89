import { Link } from "react-router-dom";
import { useI18n } from "../i18n";

export default function NotFound() {
  const { t } = useI18n();
  return (
    <section>
      <h1>{t.errors.notFound}</h1>
      <Link to="/">{t.nav.home}</Link>
    </section>
  );
}
