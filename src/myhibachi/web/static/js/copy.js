// "Copy" buttons beside the payment handles: shown only where the browser can copy. Without script (or without the
// Clipboard API) the read-only field is still there to select and copy by hand.
(function () {
  "use strict";
  if (!navigator.clipboard || !window.isSecureContext) { return; }
  var status = document.querySelector("[data-copy-status]");
  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        if (status) { status.textContent = "Copied " + field.value; }
      }, function () {
        field.focus();
        field.select();
        if (status) { status.textContent = "Press Ctrl+C or Command+C to copy " + field.value; }
      });
    });
  });
})();
