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

/* Neue Rechnung: "Alle auswählen" ticks every billable appointment, and the sum of
   the ticked ones (net, in cents to stay exact) is shown before "Rechnung
   erstellen". Without JavaScript both stay hidden; each row shows its amount. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    const boxes = Array.from(document.querySelectorAll('input[name="appointments"][data-amount]'));
    const all = document.querySelector("[data-select-all]");
    const total = document.querySelector("[data-running-total]");
    const value = document.querySelector("[data-running-total-value]");
    if (!boxes.length || !all || !total || !value) return;
    const euro = new Intl.NumberFormat("de-DE", { style: "currency", currency: "EUR" });
    const cents = function (box) {
      const [whole, part = "0"] = box.dataset.amount.split(".");
      return Number(whole) * 100 + Number((part + "00").slice(0, 2)) * (whole.startsWith("-") ? -1 : 1);
    };
    const update = function () {
      const ticked = boxes.filter(function (box) { return box.checked; });
      const sum = ticked.reduce(function (acc, box) { return acc + cents(box); }, 0);
      value.textContent = euro.format(sum / 100);
      all.checked = ticked.length === boxes.length;
      all.indeterminate = ticked.length > 0 && ticked.length < boxes.length;
    };
    all.hidden = false;
    document.querySelector("[data-select-all-label]").hidden = false;
    const fallback = document.querySelector("[data-select-all-fallback]");
    if (fallback) fallback.remove();
    total.hidden = false;
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
      update();
    });
    boxes.forEach(function (box) { box.addEventListener("change", update); });
    update();
  });
})();
