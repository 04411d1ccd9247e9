// The admin pages' few lines of script: browser errors go to the server (with the page's request id) instead of
// the console, and server-sent events tell live parts of a page (data-live, hx-trigger "mh:changed") to refresh.
(function () {
  "use strict";
  var body = document.body;
  var csrf = (JSON.parse(body.getAttribute("hx-headers") || "{}"))["X-CSRF-Token"] || "";

  function report(details) {
    try {
      var payload = Object.assign({ url: location.href, request_id: body.dataset.requestId || null }, details);
      fetch("/admin/client-errors", {
        method: "POST", keepalive: true, credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(payload)
      }).catch(function () { /* offline: nowhere to report to */ });
    } catch (ignored) { /* reporting must never throw in turn */ }
  }

  window.addEventListener("error", function (event) {
    report({ message: String(event.message).slice(0, 2000), source: event.filename || null,
             line: event.lineno || null, column: event.colno || null,
             stack: event.error && event.error.stack ? String(event.error.stack).slice(0, 8000) : null });
  });
  window.addEventListener("unhandledrejection", function (event) {
    report({ message: ("Unhandled promise rejection: " + String(event.reason)).slice(0, 2000) });
  });
  document.addEventListener("htmx:responseError", function (event) {
    report({ message: "HTTP " + event.detail.xhr.status + " from " + event.detail.pathInfo.requestPath });
  });

  if (document.querySelector("[data-live]") && window.EventSource) {
    var source = new EventSource("/admin/events");
    source.addEventListener("change", function (event) {
      body.dispatchEvent(new CustomEvent("mh:changed", { detail: JSON.parse(event.data) }));
      var status = document.getElementById("live-status");
      if (status) { status.textContent = "Updated at " + new Date().toLocaleTimeString(); }
    });
  }
})();

// Sortable tables: a table marked data-sortable gets a button in each column heading (keyboard-friendly);
// numbers, money and dates sort by value. Rows stay as the server sent them until a heading is pressed.
(function () {
  "use strict";
  function value(cell) {
    var text = (cell.dataset.sort || cell.textContent).trim();
    var number = Number(text.replace(/[$,%\s]/g, ""));
    return text !== "" && !isNaN(number) ? number : text.toLowerCase();
  }
  function sortBy(table, index, button) {
    var ascending = button.getAttribute("aria-sort-next") !== "descending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a.cells[index]), y = value(b.cells[index]);
      return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) { th.removeAttribute("aria-sort"); });
    button.parentNode.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    button.setAttribute("aria-sort-next", ascending ? "descending" : "ascending");
  }
  function enhance(root) {
    Array.prototype.forEach.call(root.querySelectorAll("table[data-sortable]:not([data-sorted])"), function (table) {
      table.setAttribute("data-sorted", "");
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "sort";
        button.textContent = th.textContent;
        th.textContent = "";
        th.appendChild(button);
        button.addEventListener("click", function () { sortBy(table, index, button); });
      });
    });
  }
  enhance(document);
  document.addEventListener("htmx:afterSettle", function (event) { enhance(event.target); });
})();

// The menu button (shown on narrow screens): opens and closes the side menu it controls; Escape closes it again.
(function () {
  "use strict";
  var button = document.querySelector(".menu-button");
  var menu = button && document.getElementById(button.getAttribute("aria-controls"));
  if (!menu) { return; }
  function show(open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    menu.classList.toggle("open", open);
  }
  button.addEventListener("click", function () { show(button.getAttribute("aria-expanded") !== "true"); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") { show(false); button.focus(); }
  });
})();
