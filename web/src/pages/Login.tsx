// Sign in (`POST /api/v1/auth/login`); the guest cart is then merged into the
// customer's. "Forgot your password?" asks for a reset link (the e-mail points at
// the API's reset page). After sign-in, back to where the shopper came from.
import { useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { Field } from "../components/Field";
import { problemField, ProblemAlert, useProblemText } from "../components/ProblemAlert";
import { useI18n } from "../i18n";
import { signIn } from "../state/auth";
import { useCart } from "../state/cart";

export default function Login() {
  const { t } = useI18n();
  const cart = useCart();
  const navigate = useNavigate();
  const location = useLocation();
  const problemText = useProblemText();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [state, setState] = useState<{ busy: boolean; error: unknown; resetSent: boolean }>({
    busy: false,
    error: null,
    resetSent: false,
  });
  const back = (location.state as { from?: string } | null)?.from ?? "/account";

  async function submit(event: FormEvent) {
    event.preventDefault();
    setState({ busy: true, error: null, resetSent: false });
    try {
      await signIn(email.trim(), password);
      await cart.mergeAfterSignIn();
      navigate(back, { replace: true });
    } catch (error) {
      setState({ busy: false, error, resetSent: false });
    }
  }

  async function forgot() {
    setState({ busy: true, error: null, resetSent: false });
    try {
      await unwrap(() => api.POST("/api/v1/auth/password-reset", { body: { email: email.trim() } }));
      setState({ busy: false, error: null, resetSent: true });
    } catch (error) {
      setState({ busy: false, error, resetSent: false });
    }
  }

  const field = problemField(state.error);
  return (
    <section className="narrow" aria-labelledby="login-title">
      <h1 id="login-title">{t.account.signIn}</h1>
      <form onSubmit={submit} noValidate>
        <Field
          label={t.account.email}
          type="email"
          name="email"
          autoComplete="username"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={field === "email" ? problemText(state.error) : null}
        />
        <Field
          label={t.account.password}
          type="password"
          name="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {state.error !== null && field === null && <ProblemAlert error={state.error} />}
        {state.resetSent && (
          <p className="success" role="status">
            {t.account.resetSent}
          </p>
        )}
        <button type="submit" className="primary" disabled={state.busy}>
          {state.busy ? t.account.signingIn : t.account.signIn}
        </button>
        <button type="button" className="link-button" onClick={forgot} disabled={state.busy || !email.trim()}>
          {t.account.forgot}
        </button>
      </form>
      <p>
        {t.account.noAccount} <Link to="/register">{t.account.register}</Link>
      </p>
    </section>
  );
}
