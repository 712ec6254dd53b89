// Create an account (`POST /api/v1/auth/register`, with the shopper's language),
// then sign in and merge the guest cart. The API's refusals (e-mail taken, weak
// password) are shown next to their field.
import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { Field } from "../components/Field";
import { problemField, ProblemAlert, useProblemText } from "../components/ProblemAlert";
import { useI18n } from "../i18n";
import { signIn } from "../state/auth";
import { useCart } from "../state/cart";

export default function Register() {
  const { t, locale } = useI18n();
  const cart = useCart();
  const navigate = useNavigate();
  const problemText = useProblemText();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [state, setState] = useState<{ busy: boolean; error: unknown }>({ busy: false, error: null });

  async function submit(event: FormEvent) {
    event.preventDefault();
    setState({ busy: true, error: null });
    try {
      await unwrap(() => api.POST("/api/v1/auth/register", { body: { email: email.trim(), password, locale } }));
      await signIn(email.trim(), password);
      await cart.mergeAfterSignIn();
      navigate("/account", { replace: true });
    } catch (error) {
      setState({ busy: false, error });
    }
  }

  const field = problemField(state.error);
  const errorFor = (name: string) => (field === name ? problemText(state.error) : null);
  return (
    <section className="narrow" aria-labelledby="register-title">
      <h1 id="register-title">{t.account.register}</h1>
      <form onSubmit={submit} noValidate>
        <Field
          label={t.account.email}
          type="email"
          name="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={errorFor("email")}
        />
        <Field
          label={t.account.password}
          type="password"
          name="password"
          autoComplete="new-password"
          required
          minLength={10}
          value={password}
          help={t.account.passwordHelp}
          onChange={(e) => setPassword(e.target.value)}
          error={errorFor("password")}
        />
        {state.error !== null && field === null && <ProblemAlert error={state.error} />}
        <button type="submit" className="primary" disabled={state.busy}>
          {state.busy ? t.account.registering : t.account.register}
        </button>
      </form>
      <p>
        {t.account.haveAccount} <Link to="/login">{t.account.signIn}</Link>
      </p>
    </section>
  );
}
