// The console's only script: the "Copiar" buttons put the text of their target on the clipboard,
// and a saved-options line still waiting for the running processes follows until they applied it.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) { return; }
  var target = document.getElementById(button.getAttribute("data-copy"));
  if (!target) { return; }
  var text = target.textContent.trim();
  var done = function () { button.textContent = button.getAttribute("data-copied") || "OK"; };
  // The old way works where the asynchronous clipboard is missing or refuses (an unfocused or
  // headless window, a browser that asks for a permission first): the button never stays silent.
  var copyBySelection = function () {
    var area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
    document.body.removeChild(area);
    if (copied) { done(); } else { button.textContent = button.getAttribute("data-copy-failed") || "!"; }
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, copyBySelection);
  } else {
    copyBySelection();
  }
});

document.addEventListener("DOMContentLoaded", function () {
  var line = document.getElementById("applied-status");
  if (!line || line.getAttribute("data-pending") !== "true") { return; }
  var follow = function () {
    fetch(line.getAttribute("data-follow"), { credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (state) {
        if (!state) { return; }
        line.textContent = state.text;
        if (state.up_to_date) {
          line.setAttribute("data-pending", "false");
        } else {
          window.setTimeout(follow, 1000);
        }
      });
  };
  window.setTimeout(follow, 1000);
});

// The Operação page follows its numbers live: one server-sent event stream per open page carries the
// same keys the page rendered ([data-op] texts, [data-op-html] charts); a changed set of rows (a
// process came or went) reloads the page, and an expired session goes back to the login.
document.addEventListener("DOMContentLoaded", function () {
  var root = document.querySelector("[data-live]");
  if (!root || !window.EventSource) { return; }
  var words = JSON.parse(root.getAttribute("data-words") || "{}");
  var state = document.getElementById("live-state");
  var source = new EventSource(root.getAttribute("data-live"));
  source.onopen = function () { if (state) { state.textContent = state.getAttribute("data-on") || "ao vivo"; } };
  source.onerror = function () { if (state) { state.textContent = state.getAttribute("data-off") || "…"; } };
  source.addEventListener("expired", function () { source.close(); window.location.reload(); });
  source.onmessage = function (event) {
    var data = JSON.parse(event.data);
    if (data.shape !== root.getAttribute("data-shape")) { source.close(); window.location.reload(); return; }
    root.querySelectorAll("[data-op]").forEach(function (el) {
      var value = data.values[el.getAttribute("data-op")];
      if (value === undefined) { return; }
      if (el.hasAttribute("data-word")) {
        el.setAttribute("data-state", value);
        el.textContent = words[value] || value;
      } else if (el.textContent !== value) {
        el.textContent = value;
      }
    });
    root.querySelectorAll("[data-op-html]").forEach(function (el) {
      var svg = data.values[el.getAttribute("data-op-html")];
      if (svg !== undefined && el.innerHTML !== svg) { el.innerHTML = svg; }
    });
    root.setAttribute("data-updates", String(Number(root.getAttribute("data-updates") || "0") + 1));
  };
});
