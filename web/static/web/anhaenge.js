/* Anhänge on the record: drop files on the field (or choose them) and they are
   uploaded one after the other with a progress bar; "Vorschau" shows an image or a
   PDF in a dialog. Without JavaScript the form posts one file and the page reloads. */
(function () {
  "use strict";

  function upload(form, file, description, onProgress) {
    return new Promise(function (resolve) {
      const data = new FormData();
      data.append("file", file);
      data.append("description", description);
      data.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
      const request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("Accept", "application/json");
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      });
      request.addEventListener("load", function () {
        let body = null;
        try { body = JSON.parse(request.responseText); } catch (error) { body = null; }
        if (request.status === 201 && body) {
          resolve({ ok: true, message: body.message });
        } else if (body && body.message) {
          resolve({ ok: false, message: body.message });
        } else if (request.status === 413) {
          resolve({ ok: false, message: "„" + file.name + "“ ist größer als 20 MB." });
        } else if (request.status === 401) {
          if (window.lemniscusSession) window.lemniscusSession.expired();
          resolve({ ok: false, message: "Ihre Sitzung ist abgelaufen; bitte neu anmelden." });
        } else if (request.status === 403) { // the CSRF token changed with a login elsewhere
          resolve({ ok: false, message: "Ihre Sitzung ist abgelaufen; bitte neu anmelden." });
        } else {
          resolve({ ok: false, message: "„" + file.name + "“ konnte nicht hochgeladen werden." });
        }
      });
      request.addEventListener("error", function () {
        resolve({ ok: false, message: "Keine Verbindung zum Server; bitte noch einmal versuchen." });
      });
      request.send(data);
    });
  }

  function setUp(form) {
    const zone = form.querySelector("[data-dropzone]");
    const input = form.querySelector("input[type=file]");
    const description = form.querySelector("[name=description]");
    const progress = form.querySelector("[data-progress]");
    const bar = progress.querySelector("progress");
    const label = progress.querySelector("[data-progress-label]");
    const status = form.querySelector("[data-status]");
    let busy = false;

    async function send(files) {
      if (busy || !files.length) return;
      busy = true;
      const results = [];
      progress.hidden = false;
      status.textContent = "";
      for (let index = 0; index < files.length; index += 1) {
        const file = files[index];
        label.textContent = "„" + file.name + "“ wird hochgeladen (" + (index + 1) + " von " + files.length + ") …";
        bar.value = 0;
        const result = await upload(form, file, description.value, function (share) {
          bar.value = Math.round(share * 100);
        });
        results.push(result);
      }
      progress.hidden = true;
      busy = false;
      const failed = results.filter(function (r) { return !r.ok; });
      if (failed.length === 0) {
        window.location.hash = "anhaenge";
        window.location.reload();
        return;
      }
      status.classList.add("error");
      status.textContent = results.map(function (r) { return r.message; }).join(" ");
      if (failed.length < results.length) {
        status.textContent += " Die Liste wird beim Neuladen der Seite aktualisiert.";
      }
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!input.files.length) {
        status.classList.add("error");
        status.textContent = "Bitte eine Datei wählen.";
        return;
      }
      send(Array.from(input.files));
    });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.remove("over");
      });
    });
    zone.addEventListener("drop", function (event) {
      send(Array.from(event.dataTransfer.files));
    });
  }

  function setUpPreview() {
    const dialog = document.querySelector("[data-preview-dialog]");
    if (!dialog) return;
    const body = dialog.querySelector("[data-preview-body]");
    const title = dialog.querySelector("[data-preview-title]");
    document.querySelectorAll("[data-preview]").forEach(function (button) {
      button.addEventListener("click", function () {
        body.replaceChildren();
        let view;
        if (button.dataset.previewKind === "pdf") {
          view = document.createElement("iframe");
          view.title = button.dataset.previewName;
        } else {
          view = document.createElement("img");
          view.alt = button.dataset.previewName;
        }
        view.src = button.dataset.preview;
        view.className = "preview-view";
        body.appendChild(view);
        title.textContent = button.dataset.previewName;
        dialog.showModal();
      });
    });
    dialog.querySelector("[data-preview-close]").addEventListener("click", function () {
      dialog.close();
    });
    dialog.addEventListener("close", function () { body.replaceChildren(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-upload]").forEach(setUp);
    setUpPreview();
  });
})();
