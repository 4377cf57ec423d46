// The Falhas page follows the index without a reload: every 2 s it fetches the groups of its own
// filters and the last operations (a JSON read of the store; the queue is never touched).
(function () {
  "use strict";
  var table = document.getElementById("falhas-groups");
  if (!table) { return; }
  var words = document.getElementById("falhas-words").dataset;
  var ops = document.getElementById("falhas-operations");
  var total = document.getElementById("falhas-total");

  function cell(row, text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function groups(list) {
    var body = document.createElement("tbody");
    list.forEach(function (g) {
      var tr = document.createElement("tr");
      tr.dataset.fingerprint = g.fingerprint;
      cell(tr, String(g.count), "count");
      cell(tr, g.error_class, "error-class");
      cell(tr, g.consumer);
      cell(tr, g.first_seen);
      cell(tr, g.last_age, "last");
      cell(tr, g.tenants.join(", "));
      var hint = cell(tr, g.hint, "hint");
      hint.appendChild(document.createElement("br"));
      var small = document.createElement("small");
      small.textContent = g.example;
      hint.appendChild(small);
      var link = document.createElement("a");
      link.className = "open-group";
      link.href = "/falhas/group/" + encodeURIComponent(g.fingerprint);
      link.textContent = words.messages;
      cell(tr, "").appendChild(link);
      body.appendChild(tr);
    });
    if (!list.length) {
      var empty = document.createElement("tr");
      empty.className = "empty";
      cell(empty, words.none).colSpan = 8;
      body.appendChild(empty);
    }
    table.replaceChild(body, table.tBodies[0]);
  }

  function operations(list) {
    var body = document.createElement("tbody");
    var states = {running: words.running, done: words.done, failed: words.stateFailed};
    list.forEach(function (op) {
      var tr = document.createElement("tr");
      tr.dataset.operation = op.id;
      cell(tr, String(op.id));
      cell(tr, words[op.kind] || op.kind, "op-kind");
      cell(tr, op.actor);
      cell(tr, op.started_at);
      cell(tr, op.done + "/" + op.total + " " + words.landed + ", " + op.failed + " " + words.failed + ", " +
        op.failed_again + " " + words.failedAgain, "progress");
      cell(tr, states[op.state] || op.state, "op-state");
      body.appendChild(tr);
    });
    ops.replaceChild(body, ops.tBodies[0]);
  }

  function poll() {
    fetch(table.dataset.poll, {credentials: "same-origin", headers: {accept: "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        groups(data.groups);
        operations(data.operations);
        total.textContent = String(data.total);
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 2000);
}());
