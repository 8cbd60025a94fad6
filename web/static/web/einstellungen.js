/* Kalenderspalten: choosing a colour in the picker unticks "Standardfarbe", and
   ticking it again shows the standard colour in the picker. Without JavaScript the
   box is unticked by hand; the server takes the picked colour only then. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    const picker = document.querySelector("[data-colour]");
    const standard = document.querySelector("[data-default-colour]");
    if (!picker || !standard) return;
    picker.addEventListener("input", function () {
      standard.checked = false;
    });
    standard.addEventListener("change", function () {
      if (standard.checked) picker.value = picker.dataset.colour;
    });
  });
})();
