/* The staff session's end, announced in the page, and typed input kept across a new
   login (issue 13; the server side is web/sitzung.py).

   <body> of a logged-in user carries
     data-sitzung-sekunden   seconds until the session ends if nothing else happens
     data-sitzung-status     the status URL: {"angemeldet": bool, "sekunden": n};
                             asking it does not extend the session
     data-sitzung-anmelden   the login URL
     data-sitzung-benutzer   an opaque mark of the user (typed input is restored only
                             for the same user)
   Every answer to a logged-in user says the seconds left (X-Sitzung-Sekunden); htmx
   answers restart the countdown. When it runs out, the status URL is asked first
   (another tab may have kept the session alive); only when it says the session is
   gone does the page show "Ihre Sitzung ist abgelaufen" with "Erneut anmelden".

   htmx requests of an expired session are answered 401: never swapped into the page,
   they show the same prompt. Other scripts' fetch()/XHR calls do the same on a 401:

       if (response.status === 401) window.lemniscusSession.expired();

   Typed input: when a POST form is sent, its fields are kept in sessionStorage (this
   tab only) under "lemniscus.sitzung.eingaben", with the page and form they belong
   to. The next page drops them, unless it is the login page of an expired session:
   then they wait, and after the login, back on that page, they are filled into the
   form (not sent) with a note. Never kept: passwords, hidden fields (the CSRF token
   among them), files. Logging out drops them. */
(function () {
  "use strict";
  const STORE = "lemniscus.sitzung.eingaben";
  const MAX_AGE_MS = 12 * 60 * 60 * 1000; // older kept input is dropped unseen
  const SKIPPED = ["password", "hidden", "file", "submit", "button", "reset", "image"];
  const body = document.body;
  const state = { expired: false, timer: null, deadline: null, dialog: null };

  /* ---- kept input ---- */

  function pageKey() {
    return window.location.pathname + window.location.search;
  }

  function postForms() {
    return Array.prototype.filter.call(document.forms, function (form) {
      return (form.getAttribute("method") || "").toLowerCase() === "post" &&
        !form.hasAttribute("data-sitzung-abmelden") &&
        !form.hasAttribute("data-sitzung-anmeldung");
    });
  }

  function formKey(form) {
    return (form.getAttribute("action") || "") + "#" + postForms().indexOf(form);
  }

  function kept(element) {
    return element.name && !element.disabled && element.name !== "csrfmiddlewaretoken" &&
      SKIPPED.indexOf(element.type) === -1;
  }

  function fields(form) {
    const result = [];
    Array.prototype.forEach.call(form.elements, function (element) {
      if (!kept(element)) return;
      if (element.type === "checkbox" || element.type === "radio") {
        result.push({ name: element.name, value: element.value, checked: element.checked });
      } else if (element.type === "select-multiple") {
        const values = Array.prototype.filter.call(element.options, function (o) {
          return o.selected;
        }).map(function (o) { return o.value; });
        result.push({ name: element.name, values: values });
      } else {
        result.push({ name: element.name, value: element.value });
      }
    });
    return result;
  }

  function changed(form) {
    return Array.prototype.some.call(form.elements, function (element) {
      if (!kept(element)) return false;
      if (element.type === "checkbox" || element.type === "radio") {
        return element.checked !== element.defaultChecked;
      }
      if (element.options) {
        return Array.prototype.some.call(element.options, function (o) {
          return o.selected !== o.defaultSelected;
        });
      }
      return element.value !== element.defaultValue;
    });
  }

  function load() {
    try {
      const entry = JSON.parse(window.sessionStorage.getItem(STORE));
      if (entry && Date.now() - entry.zeit < MAX_AGE_MS) return entry;
    } catch (error) { /* unreadable: as if none */ }
    drop();
    return null;
  }

  function save(forms, target, waiting) {
    if (!forms.length) return;
    const entry = {
      seite: pageKey(),
      ziel: target,
      benutzer: body.dataset.sitzungBenutzer || "",
      wartet: waiting,
      zeit: Date.now(),
      formulare: forms.map(function (form) { return { form: formKey(form), felder: fields(form) }; }),
    };
    try {
      window.sessionStorage.setItem(STORE, JSON.stringify(entry));
    } catch (error) { /* storage full or off: the input cannot be kept */ }
  }

  function drop() {
    try { window.sessionStorage.removeItem(STORE); } catch (error) { /* nothing kept */ }
  }

  function pathOf(url) {
    const parsed = new URL(url, window.location.href);
    return parsed.pathname + parsed.search;
  }

  function fill(form, saved) {
    saved.forEach(function (field) {
      Array.prototype.forEach.call(form.elements, function (element) {
        if (element.name !== field.name || !kept(element)) return;
        if (element.type === "checkbox" || element.type === "radio") {
          if (element.value === field.value) element.checked = field.checked;
        } else if (field.values) {
          Array.prototype.forEach.call(element.options, function (o) {
            o.selected = field.values.indexOf(o.value) !== -1;
          });
        } else {
          element.value = field.value;
        }
      });
    });
    Array.prototype.forEach.call(form.elements, function (element) {
      if (!kept(element)) return;
      element.dispatchEvent(new Event("change", { bubbles: true }));
    });
  }

  function restore(entry) {
    const forms = postForms();
    let first = null;
    entry.formulare.forEach(function (saved) {
      let form = forms.find(function (f) { return formKey(f) === saved.form; });
      if (!form && entry.formulare.length === 1 && forms.length === 1) form = forms[0];
      if (!form) return;
      fill(form, saved.felder);
      const note = document.createElement("p");
      note.className = "message info sitzung-hinweis";
      note.setAttribute("role", "status");
      note.textContent = "Ihre Eingaben von vor der erneuten Anmeldung sind wieder " +
        "eingetragen. Sie sind noch nicht gespeichert: Bitte prüfen Sie sie und " +
        "speichern Sie dann.";
      form.insertBefore(note, form.firstChild);
      if (!first) first = note;
    });
    if (first) first.scrollIntoView({ block: "center" });
  }

  function onLoginPage(loginForm) {
    const entry = load();
    if (!entry) return;
    const next = loginForm.querySelector("[name=next]");
    const target = next ? next.value : "";
    if (entry.wartet || (target && (target === entry.ziel || target === entry.seite))) {
      // the form was sent into an expired session: back to its page after the login
      entry.wartet = true;
      try { window.sessionStorage.setItem(STORE, JSON.stringify(entry)); } catch (e) { /* */ }
      if (next) next.value = entry.seite;
    } else {
      drop();
    }
  }

  function onPage() {
    const entry = load();
    if (!entry) return;
    drop(); // used once, or not at all
    if (entry.wartet && entry.seite === pageKey() &&
        entry.benutzer && entry.benutzer === body.dataset.sitzungBenutzer) {
      restore(entry);
    }
  }

  /* ---- the session's end ---- */

  function loginUrl() {
    const base = body.dataset.sitzungAnmelden || "/anmelden/";
    return base + "?abgelaufen=1&next=" + encodeURIComponent(pageKey());
  }

  function reLogin() {
    save(postForms().filter(changed), null, true);
    window.location.assign(loginUrl());
  }

  function showDialog() {
    if (state.dialog) {
      if (!state.dialog.open) state.dialog.showModal();
      return;
    }
    const dialog = document.createElement("dialog");
    dialog.className = "sitzung-dialog";
    dialog.setAttribute("role", "alertdialog");
    dialog.setAttribute("aria-labelledby", "sitzung-titel");
    dialog.setAttribute("aria-describedby", "sitzung-text");
    const title = document.createElement("h2");
    title.id = "sitzung-titel";
    title.textContent = "Ihre Sitzung ist abgelaufen";
    const text = document.createElement("p");
    text.id = "sitzung-text";
    text.textContent = "Sie wurden nach längerer Pause abgemeldet. Nach der erneuten " +
      "Anmeldung kommen Sie auf diese Seite zurück; Ihre Eingaben bleiben erhalten.";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "primary";
    button.textContent = "Erneut anmelden";
    button.addEventListener("click", reLogin);
    dialog.append(title, text, button);
    body.appendChild(dialog);
    state.dialog = dialog;
    dialog.showModal();
    button.focus();
  }

  /* The session is gone (a 401, or the status URL said so): say so, once. */
  function expired() {
    state.expired = true;
    clearTimeout(state.timer);
    showDialog();
  }

  function schedule(seconds) {
    if (state.expired || !body.dataset.sitzungStatus || isNaN(seconds)) return;
    clearTimeout(state.timer);
    state.deadline = Date.now() + seconds * 1000;
    state.timer = setTimeout(check, seconds * 1000 + 500);
  }

  /* Asks the server (without extending the session) whether it is still there. */
  function check() {
    if (state.expired) return Promise.resolve(false);
    return fetch(body.dataset.sitzungStatus, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
    }).then(function (response) { return response.json(); }).then(function (answer) {
      if (answer.angemeldet) {
        schedule(answer.sekunden);
        return true;
      }
      expired();
      return false;
    }, function () {
      schedule(30); // the server did not answer: ask again later
      return null;
    });
  }

  window.lemniscusSession = {
    /* Call on a 401 of our server: shows the login prompt. */
    expired: expired,
    /* Asks the server now; resolves true (still logged in), false (expired: the
       prompt is shown) or null (no answer). */
    check: check,
  };

  /* ---- wiring ---- */

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.hasAttribute("data-sitzung-abmelden")) { drop(); return; }
    if ((form.getAttribute("method") || "").toLowerCase() !== "post") return;
    if (form.hasAttribute("data-sitzung-anmeldung")) return;
    if (state.expired) {
      // known to be gone: keep the input and go to the login without losing it
      event.preventDefault();
      save([form], pathOf(form.action), true);
      window.location.assign(loginUrl());
      return;
    }
    save([form], pathOf(form.action), false);
  }, true);

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status !== 401) return;
    event.detail.shouldSwap = false; // never the answer of an expired session in the page
    event.detail.isError = false;
    expired();
  });
  document.addEventListener("htmx:historyCacheMissLoadError", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 401) expired();
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    const xhr = event.detail.xhr;
    const left = xhr && xhr.getResponseHeader("X-Sitzung-Sekunden");
    if (left !== null && left !== undefined) schedule(parseInt(left, 10));
  });
  document.addEventListener("visibilitychange", function () {
    // timers sleep with the computer: on return, ask at once if the time is up
    if (!document.hidden && state.deadline && Date.now() >= state.deadline) check();
  });

  function start() {
    const loginForm = document.querySelector("form[data-sitzung-anmeldung]");
    if (loginForm) onLoginPage(loginForm);
    else if (body.dataset.sitzungBenutzer) onPage();
    if (body.dataset.sitzungSekunden) schedule(parseInt(body.dataset.sitzungSekunden, 10));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
