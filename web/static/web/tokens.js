/* Token management: the grey Doctolib dot (operations.md, "Token management").
   Click: look for the plugin (zipper.ping); none → an error and nothing is made.
   Found → the server makes the token, the page hands it to the plugin
   (zipper.configure), the dot turns green and the token is shown this once. */
(function () {
  "use strict";

  function activate(button) {
    const state = document.getElementById("doctolib-state");
    const error = document.getElementById("doctolib-error");
    const shown = document.getElementById("doctolib-new");
    const idle = state.textContent;

    function fail(text) {
      state.textContent = idle;
      error.textContent = text;
      error.hidden = false;
      button.disabled = false;
    }

    button.disabled = true;
    error.hidden = true;
    state.textContent = button.dataset.searching;
    window.lemniscusZipper.ping().then(function (version) {
      if (version === null) return fail(button.dataset.missing);
      return fetch(button.dataset.url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": button.dataset.csrf, "Accept": "application/json" },
      }).then(function (response) {
        if (response.status === 401 && window.lemniscusSession) {
          window.lemniscusSession.expired();
          return fail(button.dataset.failed);
        }
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok || !body.token) return fail(body.detail || button.dataset.failed);
          window.lemniscusZipper.configure(body.token, body.orga_id, body.base_url);
          const dot = document.createElement("a");
          dot.className = "dot on";
          dot.href = button.dataset.deactivateUrl;
          dot.title = "Deaktivieren";
          dot.setAttribute("aria-label", "Doctolib-Integration deaktivieren");
          button.replaceWith(dot);
          state.textContent = "aktiv · Orga-ID " + body.orga_id;
          shown.querySelector("[data-token]").textContent = body.token;
          shown.querySelector("[data-orga-id]").textContent = body.orga_id;
          shown.hidden = false;
          shown.focus();
        });
      }, function () { fail(button.dataset.failed); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const button = document.querySelector("[data-doctolib-activate]");
    if (button) button.addEventListener("click", function () { activate(button); });
  });
})();
