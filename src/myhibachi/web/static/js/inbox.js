// The inbox page: a change to this station's inbox (told by the live socket, else by the change feed) refreshes the
// list and the open thread, a refused reply (Meta's window, an empty body) is shown beside the reply box, and the
// keyboard shortcuts j/k (next/previous conversation), a (assign to me), e (resolve) and r (reply), never while
// typing in a field (Escape leaves the reply box); a canned reply is put into the reply box where the cursor is.
(function () {
  "use strict";
  var inbox = document.querySelector("[data-inbox]");
  if (!inbox) { return; }
  var body = document.body;
  var tag = inbox.dataset.liveTag;

  // The live socket (admin-chat.js, "mh:staff") tells of every message and conversation change of this station: the
  // list and the open thread refresh, a burst of events once. While it is down the change feed does (admin.js turns
  // its events into "mh:changed" with the changed tags; only this inbox's concern us).
  var station = Number(inbox.dataset.stationId);
  var refresh = null;
  function refreshSoon() {
    clearTimeout(refresh);
    refresh = setTimeout(function () { body.dispatchEvent(new CustomEvent("mh:inbox")); }, 150);
  }
  function socketOpen() { return document.querySelector("[data-live-chat][data-connected]") !== null; }
  body.addEventListener("mh:staff", function (event) {
    var detail = event.detail;
    var change = (detail.type === "message" || detail.type === "conversation") && detail.station_id === station;
    if (change || (detail.type === "ready" && detail.again)) { refreshSoon(); }
  });
  body.addEventListener("mh:changed", function (event) {
    if (!socketOpen() && Array.isArray(event.detail) && event.detail.indexOf(tag) !== -1) { refreshSoon(); }
  });

  // A reply the server refuses comes back as the thread with the reason beside the box (409, 422): show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if ((status === 409 || status === 422) && event.detail.target && event.detail.target.id === "conversation") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "messages") {  // a live refresh: the newest in view
      var newest = document.getElementById("latest");
      if (newest) { newest.scrollIntoView({ block: "nearest" }); }
    }
    if (event.detail.target && event.detail.target.id === "conversation") {
      var latest = document.getElementById("latest");
      if (latest) { latest.scrollIntoView({ block: "nearest" }); }
      var reply = document.querySelector("[data-reply]");
      if (reply) { reply.focus(); }
    }
  });

  // A canned reply's link puts its text (already filled in with the station's rules) into the reply box, at the
  // cursor, without leaving the page; without JavaScript the link reloads the thread with it in the box.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-canned]");
    var reply = document.querySelector("[data-reply]");
    if (!link || !reply) { return; }
    event.preventDefault();
    var start = reply.selectionStart || 0, end = reply.selectionEnd || 0, text = link.dataset.canned;
    reply.value = reply.value.slice(0, start) + text + reply.value.slice(end);
    reply.focus();
    reply.setSelectionRange(start + text.length, start + text.length);
  });

  function typing(target) {
    var tagName = target && target.tagName;
    return tagName === "INPUT" || tagName === "TEXTAREA" || tagName === "SELECT" || (target && target.isContentEditable);
  }

  function step(offset) {
    var links = Array.prototype.slice.call(document.querySelectorAll("[data-conversation]"));
    if (!links.length) { return; }
    var current = links.findIndex(function (link) { return link.getAttribute("aria-current") === "true"; });
    var next = current === -1 ? (offset > 0 ? 0 : links.length - 1) : current + offset;
    if (next >= 0 && next < links.length && next !== current) { location.assign(links[next].href); }
  }

  function press(shortcut) {
    var button = document.querySelector('[data-shortcut="' + shortcut + '"]');
    if (button) { button.click(); }
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && event.target.matches && event.target.matches("[data-reply]")) {
      event.target.blur();  // out of the box: the shortcuts work again
      return;
    }
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var actions = {
      j: function () { step(1); },
      k: function () { step(-1); },
      a: function () { press("a"); },
      e: function () { press("e"); },
      r: function () { var reply = document.querySelector("[data-reply]"); if (reply) { reply.focus(); } }
    };
    var action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });
})();
