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
  var form = document.querySelector(".obs-form");
  if (form) {
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

  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.getAttribute("data-confirm"))) { e.preventDefault(); }
    });
  });
})();
