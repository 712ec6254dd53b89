(function () {
  "use strict";
  var fr = (navigator.language || "").toLowerCase().indexOf("fr") === 0;
  var t = fr ? {
    title: "Choisissez un nouveau mot de passe",
    intro: "Saisissez deux fois votre nouveau mot de passe. Il lui faut au moins 10 caractères.",
    password: "Nouveau mot de passe", confirm: "Répétez le nouveau mot de passe",
    hint: "Au moins 10 caractères, pas votre adresse e-mail, pas un mot de passe courant.",
    submit: "Changer mon mot de passe", sending: "Envoi…",
    noToken: "Ce lien est incomplet. Demandez un nouvel e-mail de réinitialisation.",
    short: "Le mot de passe doit avoir au moins 10 caractères.",
    mismatch: "Les deux mots de passe ne sont pas identiques.",
    invalid: "Ce lien n'est plus valable (déjà utilisé ou expiré). Demandez un nouvel e-mail de réinitialisation.",
    failed: "Le changement a échoué. Réessayez dans un instant.",
    done: "Votre mot de passe est changé. Vous pouvez vous connecter avec lui ; vos autres sessions sont fermées."
  } : {
    title: "Choose a new password",
    intro: "Enter your new password twice. It needs at least 10 characters.",
    password: "New password", confirm: "Repeat the new password",
    hint: "At least 10 characters, not your e-mail address, not a common password.",
    submit: "Change my password", sending: "Sending…",
    noToken: "This link is incomplete. Ask for a new password reset e-mail.",
    short: "The password needs at least 10 characters.",
    mismatch: "The two passwords are not the same.",
    invalid: "This link is no longer valid (already used or expired). Ask for a new password reset e-mail.",
    failed: "The change failed. Try again in a moment.",
    done: "Your password is changed. You can sign in with it; your other sessions were signed out."
  };
  function el(id) { return document.getElementById(id); }
  document.documentElement.lang = fr ? "fr" : "en";
  document.title = t.title;
  el("title").textContent = t.title;
  el("intro").textContent = t.intro;
  el("password-label").textContent = t.password;
  el("confirm-label").textContent = t.confirm;
  el("password-hint").textContent = t.hint;
  el("submit").textContent = t.submit;

  var token = new URLSearchParams(window.location.search).get("token") || "";
  // The token leaves the address bar and the history: it is a credential.
  if (window.history && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname);
  }
  var form = el("form"), error = el("error"), status = el("status"), button = el("submit");
  function fail(message, field) {
    error.textContent = message;
    if (field) { field.setAttribute("aria-invalid", "true"); field.focus(); }
  }
  if (!token) {
    form.hidden = true;
    fail(t.noToken);
    return;
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    error.textContent = "";
    status.textContent = "";
    el("password").removeAttribute("aria-invalid");
    el("confirm").removeAttribute("aria-invalid");
    var password = el("password").value, confirm = el("confirm").value;
    if (password.length < 10) { return fail(t.short, el("password")); }
    if (password !== confirm) { return fail(t.mismatch, el("confirm")); }
    button.disabled = true;
    button.textContent = t.sending;
    fetch("/api/v1/auth/password-reset/confirm", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: token, new_password: password }),
      credentials: "omit"
    }).then(function (response) {
      if (response.ok) {
        form.hidden = true;
        status.textContent = t.done;
        el("title").focus();
        return;
      }
      return response.json().catch(function () { return {}; }).then(function (problem) {
        if (problem.code === "invalid_reset_token") { form.hidden = true; fail(t.invalid); }
        else if (response.status === 422 && problem.message) { fail(problem.message, el("password")); }
        else { fail(t.failed); }
      });
    }, function () { fail(t.failed); }).then(function () {
      button.disabled = false;
      button.textContent = t.submit;
    });
  });
})();
