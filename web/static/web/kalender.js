/* Kalender pages: small conveniences on top of pages that work without JavaScript. */
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    /* The calendar's date, column and view: show the choice at once. */
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      form.addEventListener("change", function () { form.requestSubmit(); });
    });

    /* The record search fills the list as you type (htmx); Enter there only searches
       instead of submitting the appointment form. */
    const search = document.getElementById("akte-suche");
    if (search) {
      search.addEventListener("keydown", function (event) {
        if (event.key !== "Enter") return;
        event.preventDefault();
        if (window.htmx) window.htmx.trigger(search, "search");
      });
    }

    /* The transfer dialog's X: close the window the plugin opened; a tab that cannot
       be closed by script goes to the start page instead. */
    document.querySelectorAll("[data-close-dialog]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        window.close();
        setTimeout(function () { window.location.href = link.href; }, 150);
      });
    });
  });
})();
