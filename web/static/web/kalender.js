/* Kalender pages: conveniences on top of pages that work without JavaScript.
   - the calendar: click a free slot to book there; drag an appointment to move it,
     or its lower edge to change its duration, then "Rückgängig" in the toast
     (the server checks every move: AppointmentMoveView);
   - the appointment form: the record search in one field, the duration from the
     chosen service chain, the series fields shown when asked for;
   - the day list: "Drucken". */
(function () {
  "use strict";

  const SNAP_MINUTES = 5;
  const BOOK_SNAP_MINUTES = 15;
  const DRAG_THRESHOLD_PX = 5;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  /* Toasts: a line of text, optionally with one action button. */
  function toast(text, options) {
    const box = document.getElementById("toasts");
    if (!box) return null;
    const opts = options || {};
    const item = document.createElement("div");
    item.className = "toast" + (opts.error ? " error" : "");
    const span = document.createElement("span");
    span.textContent = text;
    item.appendChild(span);
    if (opts.action) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = opts.action.label;
      button.addEventListener("click", function () {
        item.remove();
        opts.action.run();
      });
      item.appendChild(button);
    }
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, opts.action ? 12000 : 7000);
    return item;
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  function hhmm(minutes) { return pad(Math.floor(minutes / 60)) + ":" + pad(minutes % 60); }

  /* The grid's scale, from its CSS variables (web/views/kalender_grid.py). */
  function scale(grid) {
    const style = getComputedStyle(grid);
    return {
      from: parseInt(style.getPropertyValue("--from"), 10) || 0,
      pxPerMinute: parseFloat(style.getPropertyValue("--px-per-minute")) || 1.2,
    };
  }

  /* Reload the grid in place (after a move or its undo); the page keeps its scroll. */
  function refreshGrid() {
    const wrap = document.getElementById("kalender-raster");
    if (!wrap) return Promise.resolve();
    const scrollTop = wrap.scrollTop;
    const scrollLeft = wrap.scrollLeft;
    return fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401 || response.redirected) {
          sessionExpired();
          throw new Error("session");
        }
        return response.text();
      })
      .then(function (html) {
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("kalender-raster");
        if (fresh) {
          wrap.innerHTML = fresh.innerHTML;
          wrap.scrollTop = scrollTop;
          wrap.scrollLeft = scrollLeft;
        }
      })
      .catch(function () {});
  }

  function sessionExpired() {
    if (window.lemniscusSession && window.lemniscusSession.expired) {
      window.lemniscusSession.expired();
    } else {
      toast("Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.", { error: true });
    }
  }

  function postMove(url, values) {
    const body = new URLSearchParams(values);
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      body: body,
    }).then(function (response) {
      if (response.status === 401) {
        sessionExpired();
        throw new Error("session");
      }
      return response.json().catch(function () {
        return { detail: "Der Termin konnte nicht verschoben werden." };
      }).then(function (data) {
        return { ok: response.ok, data: data };
      });
    });
  }

  function move(url, values, isUndo) {
    return postMove(url, values).then(function (result) {
      return refreshGrid().then(function () {
        if (!result.ok) {
          toast(result.data.detail || "Der Termin konnte nicht verschoben werden.", { error: true });
          return;
        }
        const warnings = (result.data.warnings || []).join(" ");
        const text = (isUndo ? "Zurückgenommen: " : "Verschoben: ") + result.data.detail +
          (warnings ? " Achtung: " + warnings : "");
        toast(text, isUndo ? null : {
          action: { label: "Rückgängig", run: function () { move(url, result.data.undo, true); } },
        });
      });
    }).catch(function () {});
  }

  /* Drag and drop in the grid: pointer events, so mouse, pen and touch all work. */
  function setupGrid() {
    let drag = null;
    let suppressClick = false;

    document.addEventListener("pointerdown", function (event) {
      const block = event.target.closest(".kal-appt");
      if (!block || event.button !== 0) return;
      const grid = block.closest(".kal");
      drag = {
        block: block,
        grid: grid,
        lane: block.closest(".kal-lane"),
        resize: Boolean(event.target.closest(".kal-resize")),
        x: event.clientX,
        y: event.clientY,
        top: block.offsetTop,
        height: block.offsetHeight,
        style: block.getAttribute("style"),
        active: false,
        pointerId: event.pointerId,
      };
    });

    document.addEventListener("pointermove", function (event) {
      if (!drag) return;
      const dx = event.clientX - drag.x;
      const dy = event.clientY - drag.y;
      if (!drag.active) {
        if (Math.abs(dx) < DRAG_THRESHOLD_PX && Math.abs(dy) < DRAG_THRESHOLD_PX) return;
        if (drag.block.dataset.fixed) {
          toast(drag.block.dataset.fixed, { error: true });
          drag = null;
          suppressClick = true;  // the click that ends this gesture opens nothing
          return;
        }
        if (!drag.block.dataset.move) { drag = null; return; }
        drag.active = true;
        drag.block.classList.add("kal-dragging");
        try { drag.block.setPointerCapture(drag.pointerId); } catch (error) { /* ignore */ }
      }
      event.preventDefault();
      const s = scale(drag.grid);
      const step = SNAP_MINUTES * s.pxPerMinute;
      if (drag.resize) {
        const height = Math.max(step, Math.round((drag.height + dy) / step) * step);
        drag.block.style.height = height + "px";
        return;
      }
      const top = Math.max(0, Math.round((drag.top + dy) / step) * step);
      drag.block.style.top = top + "px";
      const under = document.elementsFromPoint(event.clientX, event.clientY)
        .find(function (el) { return el.classList && el.classList.contains("kal-lane"); });
      if (under && under !== drag.block.closest(".kal-lane")) {
        under.querySelector("ol").appendChild(drag.block);
      }
      if (under) {
        drag.block.style.left = "0%";
        drag.block.style.width = "100%";
      }
    });

    function finish(event) {
      if (!drag) return;
      const current = drag;
      drag = null;
      if (!current.active) return;
      suppressClick = true;
      event.preventDefault();
      current.block.classList.remove("kal-dragging");
      current.block.classList.add("kal-saving");
      const s = scale(current.grid);
      const lane = current.block.closest(".kal-lane");
      const startMinutes = s.from * 60 + Math.round(current.block.offsetTop / s.pxPerMinute / SNAP_MINUTES) * SNAP_MINUTES;
      const minutes = Math.max(SNAP_MINUTES, Math.round(current.block.offsetHeight / s.pxPerMinute / SNAP_MINUTES) * SNAP_MINUTES);
      const sameLane = lane === current.lane;
      const values = {
        start: lane.dataset.day + "T" + hhmm(Math.min(startMinutes, 24 * 60 - SNAP_MINUTES)),
        duration_minutes: current.resize ? String(minutes) : current.block.dataset.minutes,
        calendar_column: sameLane ? current.block.dataset.column : lane.dataset.column,
      };
      move(current.block.dataset.move, values, false);
    }

    /* The browser's own dragging of links and text would cancel ours. */
    document.addEventListener("dragstart", function (event) {
      if (event.target.closest && event.target.closest(".kal-appt")) event.preventDefault();
    });
    document.addEventListener("pointerup", finish);
    document.addEventListener("pointercancel", function () {
      if (drag && drag.active) refreshGrid();
      drag = null;
    });

    /* A drag ends with a click on the link: that click must not open the appointment. */
    document.addEventListener("click", function (event) {
      if (suppressClick && event.target.closest("#kalender-raster")) {
        event.preventDefault();
        event.stopPropagation();
      }
      suppressClick = false;
    }, true);

    /* Click a free slot: the new-appointment form with column, day and time set. */
    document.addEventListener("click", function (event) {
      const wrap = event.target.closest("#kalender-raster");
      if (!wrap || !wrap.dataset.bookUrl || event.target.closest(".kal-appt")) return;
      const lane = event.target.closest(".kal-lane");
      if (!lane) return;
      const grid = lane.closest(".kal");
      const s = scale(grid);
      const y = event.clientY - lane.getBoundingClientRect().top;
      const minutes = s.from * 60 + Math.floor(y / s.pxPerMinute / BOOK_SNAP_MINUTES) * BOOK_SNAP_MINUTES;
      const query = new URLSearchParams({
        datum: lane.dataset.day,
        zeit: hhmm(Math.min(Math.max(minutes, 0), 24 * 60 - BOOK_SNAP_MINUTES)),
        spalte: lane.dataset.column,
        zurueck: wrap.dataset.here || "",
      });
      window.location.href = wrap.dataset.bookUrl + "?" + query.toString();
    });

    /* Where a click would book: a dashed hint with the time. */
    document.addEventListener("mousemove", function (event) {
      const lane = event.target.closest && event.target.closest(".kal-lane");
      const wrap = lane && lane.closest("#kalender-raster");
      document.querySelectorAll(".kal-slot-hint").forEach(function (hint) {
        if (!lane || hint.parentElement !== lane || event.target.closest(".kal-appt")) hint.remove();
      });
      if (!lane || !wrap || !wrap.dataset.bookUrl || event.target.closest(".kal-appt") || drag) return;
      const s = scale(lane.closest(".kal"));
      const y = event.clientY - lane.getBoundingClientRect().top;
      const slot = Math.floor(y / s.pxPerMinute / BOOK_SNAP_MINUTES) * BOOK_SNAP_MINUTES;
      let hint = lane.querySelector(".kal-slot-hint");
      if (!hint) {
        hint = document.createElement("div");
        hint.className = "kal-slot-hint";
        hint.setAttribute("aria-hidden", "true");
        lane.appendChild(hint);
      }
      hint.style.top = (slot * s.pxPerMinute) + "px";
      hint.textContent = "+ " + hhmm(s.from * 60 + slot);
    });
  }

  /* The record search in one field: the results (filled by htmx into the hidden
     list) appear under the field; choosing one sets the form's "Akte". */
  function setupPatientSearch() {
    const search = document.getElementById("akte-suche");
    const select = document.getElementById("id_patient");
    if (!search || !select) return;
    const field = select.closest(".field");
    if (field) field.classList.add("js-hidden");
    const list = document.createElement("ul");
    list.id = "akte-treffer";
    list.className = "combo-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Gefundene Akten");
    search.parentElement.after(list);
    const chosen = document.createElement("p");
    chosen.className = "combo-chosen";
    chosen.setAttribute("aria-live", "polite");
    list.after(chosen);
    search.setAttribute("role", "combobox");
    search.setAttribute("aria-autocomplete", "list");
    search.setAttribute("aria-controls", "akte-treffer");
    search.setAttribute("aria-expanded", "false");
    let active = -1;

    function showChosen() {
      const option = select.options[select.selectedIndex];
      chosen.textContent = option && option.value ? "Gewählt: " + option.textContent : "Noch keine Akte gewählt.";
      chosen.classList.toggle("missing", !(option && option.value));
    }

    function render() {
      list.innerHTML = "";
      active = -1;
      Array.from(select.options).forEach(function (option, index) {
        if (!option.value) {
          const empty = document.createElement("li");
          empty.className = "combo-empty";
          empty.textContent = option.textContent;
          list.appendChild(empty);
          return;
        }
        const item = document.createElement("li");
        item.id = "akte-treffer-" + index;
        item.setAttribute("role", "option");
        item.dataset.value = option.value;
        item.textContent = option.textContent;
        item.setAttribute("aria-selected", option.selected ? "true" : "false");
        item.addEventListener("mousedown", function (event) { event.preventDefault(); choose(option.value); });
        list.appendChild(item);
      });
      const open = list.children.length > 0 && search.value.trim() !== "";
      list.hidden = !open;
      search.setAttribute("aria-expanded", open ? "true" : "false");
      if (select.options.length === 1 && select.options[0].value && open) highlight(0);
      showChosen();
    }

    function highlight(index) {
      const items = list.querySelectorAll("[role=option]");
      if (!items.length) return;
      active = (index + items.length) % items.length;
      items.forEach(function (item, i) { item.classList.toggle("active", i === active); });
      search.setAttribute("aria-activedescendant", items[active].id);
    }

    function choose(value) {
      select.value = value;
      select.dispatchEvent(new Event("change", { bubbles: true }));
      const option = select.options[select.selectedIndex];
      if (option) search.value = option.textContent.replace(/ \(geb\..*$/, "");
      list.hidden = true;
      search.setAttribute("aria-expanded", "false");
      search.removeAttribute("aria-activedescendant");
      showChosen();
    }

    search.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") { event.preventDefault(); highlight(active + 1); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
      else if (event.key === "Escape") { list.hidden = true; search.setAttribute("aria-expanded", "false"); }
      else if (event.key === "Enter") {
        event.preventDefault();
        const items = list.querySelectorAll("[role=option]");
        if (active >= 0 && items[active]) choose(items[active].dataset.value);
        else if (window.htmx) window.htmx.trigger(search, "search");
      }
    });
    search.addEventListener("blur", function () { setTimeout(function () { list.hidden = true; }, 150); });
    select.addEventListener("htmx:afterSwap", render);
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.target === select) render();
    });
    list.hidden = true;
    showChosen();
  }

  /* The duration follows the chosen chain's minutes, unless typed by hand. */
  function setupChainMinutes() {
    const chain = document.getElementById("id_service_chain");
    const duration = document.getElementById("id_duration_minutes");
    if (!chain || !duration) return;
    let typed = false;
    duration.addEventListener("input", function () { typed = true; });
    chain.addEventListener("change", function () {
      const option = chain.options[chain.selectedIndex];
      const minutes = option && option.dataset.minutes;
      if (minutes && !typed) duration.value = minutes;
    });
  }

  function setupSeries() {
    const repeat = document.getElementById("id_repeat");
    const fields = document.querySelector(".serie-fields");
    if (!repeat || !fields) return;
    function sync() { fields.hidden = !repeat.checked; }
    repeat.addEventListener("change", sync);
    sync();
  }

  document.addEventListener("DOMContentLoaded", function () {
    /* The calendar's date, column and view: show the choice at once. */
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      form.addEventListener("change", function () { form.requestSubmit(); });
    });

    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });

    if (document.getElementById("kalender-raster")) setupGrid();
    setupPatientSearch();
    setupChainMinutes();
    setupSeries();

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
