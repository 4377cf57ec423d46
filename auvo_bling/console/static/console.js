// The console's only script: the "Copiar" buttons put the text of their target on the clipboard.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) { return; }
  var target = document.getElementById(button.getAttribute("data-copy"));
  if (!target) { return; }
  var text = target.textContent.trim();
  var done = function () { button.textContent = button.getAttribute("data-copied") || "OK"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done);
  } else {
    var area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    document.body.removeChild(area);
    done();
  }
});
