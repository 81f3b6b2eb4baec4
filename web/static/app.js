// calcitrack pages: small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // A pending stage: poll the lesion's status until the assessment saw the latest data, then
  // reload. Stops after a deadline (the page says "pending" honestly either way).
  var poll = document.querySelector("[data-poll-url]");
  if (poll) {
    var url = poll.getAttribute("data-poll-url");
    var deadline = Date.now() + 3 * 60 * 1000;
    var delay = 1500;
    var tick = function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (s && s.status === "current") { window.location.reload(); return; }
          if (Date.now() < deadline) { delay = Math.min(delay * 1.5, 10000); setTimeout(tick, delay); }
        })
        .catch(function () { if (Date.now() < deadline) { setTimeout(tick, 10000); } });
    };
    setTimeout(tick, delay);
  }

  // Observation form: size and morphology only apply to a lesion that was seen.
  // (the treatment form shares the class but has no "seen" choice)
  var form = document.querySelector(".obs-form");
  if (form && form.querySelector("input[name=visible]") && form.querySelector(".when-visible")) {
    var block = form.querySelector(".when-visible");
    var sync = function () {
      var seen = form.querySelector("input[name=visible][value=yes]").checked;
      block.hidden = !seen;
      block.querySelectorAll("input, select").forEach(function (el) { el.disabled = !seen; });
    };
    form.querySelectorAll("input[name=visible]").forEach(function (el) {
      el.addEventListener("change", sync);
    });
    sync();
  }

  // Ultrasound names density and margin as echogenicity and shadowing: the labels follow the
  // modality chosen (the server renders them for the modality it shows first).
  var modality = document.getElementById("f-modality");
  if (modality) {
    var relabel = function () {
      var key = modality.value === "US" ? "data-label-us" : "data-label-default";
      document.querySelectorAll("[data-label-us]").forEach(function (el) {
        var text = el.getAttribute(key);
        if (el.tagName === "LABEL") {
          var extra = el.querySelector(".req");
          el.textContent = text;
          if (extra) { el.appendChild(document.createTextNode(" ")); el.appendChild(extra); }
        } else { el.textContent = text; }
      });
    };
    modality.addEventListener("change", relabel);
  }

  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
  // Worklist: bulk choice and keyboard shortcuts (j/k move, x choose, a acknowledge, s snooze,
  // o open). Off while typing in a field; documented on the page.
  var bulkForm = document.getElementById("bulk");
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input[name=alert][form=bulk]"));
  var count = document.querySelector("[data-bulk-count]");
  var syncCount = function () {
    if (count) { count.textContent = boxes.filter(function (b) { return b.checked; }).length; }
  };
  boxes.forEach(function (b) { b.addEventListener("change", syncCount); });
  var all = document.querySelector("[data-bulk-all]");
  if (all) {
    all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      syncCount();
    });
  }
  var table = document.querySelector("[data-shortcuts]");
  if (table) {
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
    var at = -1;
    var focusRow = function (i) {
      if (!rows.length) { return; }
      at = Math.max(0, Math.min(rows.length - 1, i));
      rows.forEach(function (r) { r.classList.remove("kbd-focus"); });
      rows[at].classList.add("kbd-focus");
      rows[at].setAttribute("tabindex", "-1");
      rows[at].focus();
    };
    document.addEventListener("keydown", function (e) {
      var t = e.target;
      if (e.ctrlKey || e.metaKey || e.altKey) { return; }
      if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) { return; }
      var row = at >= 0 ? rows[at] : null;
      if (e.key === "j") { focusRow(at + 1); e.preventDefault(); }
      else if (e.key === "k") { focusRow(at - 1); e.preventDefault(); }
      else if (row && e.key === "x") {
        var box = row.querySelector("input[name=alert]");
        if (box) { box.checked = !box.checked; syncCount(); }
      } else if (row && e.key === "a") {
        var ack = row.querySelector("form[action$='/acknowledge']");
        if (ack) { ack.requestSubmit(); }  // checks the form: an urgent alert needs a reason
      } else if (row && e.key === "s") {
        var snooze = row.querySelector("details.snooze");
        if (snooze) { snooze.open = true; var d = snooze.querySelector("input[name=until]"); if (d) { d.focus(); } e.preventDefault(); }
      } else if (row && e.key === "o") {
        var link = row.querySelector("a[href*='/lesions/']");
        if (link) { window.location.href = link.href; }
      }
    });
  }
  // An alert action the server refused comes back as this page with an error: what was chosen
  // and typed (the alerts, the reason, the snooze date) is kept for this tab and put back.
  var KEPT = "calcitrack.kept-action";
  var keepable = Array.prototype.slice.call(document.querySelectorAll("form[data-keep]"));
  if (keepable.length) {
    var kept = null;
    try { kept = JSON.parse(sessionStorage.getItem(KEPT) || "null"); } catch (err) { kept = null; }
    sessionStorage.removeItem(KEPT);
    var again = kept && kept.page === location.pathname && document.querySelector(".flash-error")
      ? document.querySelector('form[data-keep="' + kept.form + '"]') : null;
    if (again) {
      (kept.alerts || []).forEach(function (id) {
        boxes.forEach(function (b) { if (b.value === id) { b.checked = true; } });
      });
      Object.keys(kept.fields).forEach(function (name) {
        again.querySelectorAll('[name="' + name + '"]').forEach(function (el) {
          if (el.type === "radio") { el.checked = el.value === kept.fields[name]; }
          else { el.value = kept.fields[name]; }
        });
      });
      var panel = again.closest("details");
      if (panel) { panel.open = true; }
    }
    keepable.forEach(function (form) {
      form.addEventListener("submit", function () {
        var fields = {};
        form.querySelectorAll("input[name=reason], input[name=until_date], select[name=until], input[name=until]:checked")
          .forEach(function (el) { fields[el.name] = el.value; });
        sessionStorage.setItem(KEPT, JSON.stringify({
          form: form.getAttribute("data-keep"), page: location.pathname, fields: fields,
          alerts: form === bulkForm ? boxes.filter(function (b) { return b.checked; })
            .map(function (b) { return b.value; }) : []}));
      });
    });
  }
  if (bulkForm) { syncCount(); }
  // Key images come from the PACS through the server: when one cannot be had (the PACS is
  // down), its place says so instead of showing a broken image.
  document.querySelectorAll("img[data-key-image]").forEach(function (img) {
    var unavailable = function () {
      var note = document.createElement("div");
      note.className = "unavailable";
      note.setAttribute("role", "img");
      note.setAttribute("aria-label", img.alt + ": image unavailable");
      note.textContent = "image unavailable";
      img.replaceWith(note);
    };
    if (img.complete && img.naturalWidth === 0) { unavailable(); }
    else { img.addEventListener("error", unavailable); }
  });
  // Print buttons and selects that apply at once (no inline handlers: the CSP forbids them).
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  document.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });
})();
