/* Page events between lemniscus and Doctolib's browser plugin "Zipper"
   (zipper-api.md, "Browser page events"): window.postMessage in the same window,
   our own origin as targetOrigin, and only messages from our own window with
   source "zipper" are accepted. */
(function () {
  "use strict";
  const ORIGIN = window.location.origin;

  function post(message) {
    window.postMessage(Object.assign({ source: "lemniscus" }, message), ORIGIN);
  }

  /* Resolves to the plugin's version, or null when it does not answer in 1.5 s. */
  function ping(timeoutMs) {
    return new Promise(function (resolve) {
      const timer = setTimeout(function () { done(null); }, timeoutMs || 1500);
      function onMessage(event) {
        const data = event.data;
        if (event.source !== window || !data || data.source !== "zipper") return;
        if (data.type === "zipper.pong") done(data.version || "");
      }
      function done(result) {
        clearTimeout(timer);
        window.removeEventListener("message", onMessage);
        resolve(result);
      }
      window.addEventListener("message", onMessage);
      post({ type: "zipper.ping" });
    });
  }

  function configure(token, orgaId, baseUrl) {
    post({ type: "zipper.configure", token: token, orga_id: orgaId, base_url: baseUrl });
  }

  function action(type, doctolibPatientId) {
    post({ type: type, doctolib_patient_id: doctolibPatientId });
  }

  /* Buttons with data-zipper-action: enabled once the plugin answers, else disabled
     with the hint in data-zipper-missing shown next to them. */
  function wireActionButtons() {
    const buttons = document.querySelectorAll("[data-zipper-action]");
    if (!buttons.length) return;
    buttons.forEach(function (button) {
      button.disabled = true;
      button.addEventListener("click", function () {
        action(button.dataset.zipperAction, button.dataset.doctolibPatientId);
      });
    });
    ping().then(function (version) {
      buttons.forEach(function (button) {
        button.disabled = version === null;
        const hint = document.getElementById(button.getAttribute("aria-describedby") || "");
        if (hint) hint.hidden = version !== null;
      });
      document.documentElement.dataset.zipper = version === null ? "missing" : "found";
    });
  }

  window.lemniscusZipper = { ping: ping, configure: configure, action: action };
  document.addEventListener("DOMContentLoaded", wireActionButtons);
})();
