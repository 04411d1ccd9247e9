// The leads board: a card dragged to another column posts the same form as its "Move to …" button (the server
// decides whether the move is allowed and says why not); a card dropped on "Lost" opens the form that asks why.
(function () {
  "use strict";
  var board = document.querySelector("[data-board]");
  if (!board) { return; }
  var csrf = (JSON.parse(document.body.getAttribute("hx-headers") || "{}"))["X-CSRF-Token"] || "";
  var dragged = null;

  function field(form, name, value) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }

  function move(card, status) {
    var id = card.dataset.leadId;
    if (status === "lost") {
      location.assign("/admin/leads/" + encodeURIComponent(id) + "/lost?back=board");
      return;
    }
    var form = document.createElement("form");
    form.method = "post";
    form.action = "/admin/leads/" + encodeURIComponent(id) + "/move?station=" + encodeURIComponent(board.dataset.station);
    field(form, board.dataset.csrfField, csrf);
    field(form, "status", status);
    field(form, "back", "board");
    document.body.appendChild(form);
    form.submit();
  }

  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest("[data-lead-id]");
    if (!card) { return; }
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.leadId);
  });
  board.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    Array.prototype.forEach.call(board.querySelectorAll(".drop-target"), function (c) { c.classList.remove("drop-target"); });
  });
  board.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest("[data-drop-status]");
    if (!column || !dragged) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("drop-target");
  });
  board.addEventListener("dragleave", function (event) {
    var column = event.target.closest && event.target.closest("[data-drop-status]");
    if (column && !column.contains(event.relatedTarget)) { column.classList.remove("drop-target"); }
  });
  board.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest("[data-drop-status]");
    if (!column || !dragged) { return; }
    event.preventDefault();
    var status = column.dataset.dropStatus;
    if (status !== dragged.dataset.status) { move(dragged, status); }
  });
})();
