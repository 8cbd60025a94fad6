/* Leistungsketten: "Leistung hinzufügen" adds an empty service row in the page
   (the formset's empty form, numbered on). Without JavaScript the button submits
   and the server answers with one more row. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    const button = document.querySelector("[data-add-service]");
    const rows = document.querySelector("[data-service-rows]");
    const template = document.querySelector("[data-service-template]");
    const total = document.getElementById("id_services-TOTAL_FORMS");
    if (!button || !rows || !template || !total) return;
    button.addEventListener("click", function (event) {
      event.preventDefault();
      const index = Number(total.value);
      const html = template.innerHTML.replace(/__prefix__/g, String(index));
      rows.insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
      rows.lastElementChild.querySelector("input").focus();
    });
  });
})();
