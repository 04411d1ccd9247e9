// The staff's live side, on every admin page of someone who works the inbox (the server adds this script only for
// them): one /ws/staff socket per page, opened again after a pause that grows when it drops; each of its events is
// dispatched on the body as "mh:staff" (inbox.js refreshes the inbox with them), and typing in a website chat's reply
// box sends {"type": "typing"} at most every few seconds (never for a private note). Then the live chat widget: a
// launcher with the unread count of the viewer's website chats, their list, and a short thread with a reply box:
// fragments from /admin/live-chat, fetched again when the socket tells of a change.
(function () {
  "use strict";
  var root = document.querySelector("[data-live-chat]");
  if (!root || !window.WebSocket || !window.fetch) { return; }
  var body = document.body;
  var csrf = (JSON.parse(body.getAttribute("hx-headers") || "{}"))["X-CSRF-Token"] || "";
  var TYPING_EVERY = 3000;  // ms between typing frames: the socket allows 10 frames in 10 s
  var TYPING_SHOWN = 6000;  // ms a visitor's typing stays said after their last typing frame
  var SIGNED_OUT = 1008;

  // --- the socket ----------------------------------------------------------------------------------------------
  var socket = null, pause = 1000, readies = 0;

  function send(frame) {
    if (!socket || socket.readyState !== WebSocket.OPEN) { return false; }
    socket.send(JSON.stringify(frame));
    return true;
  }

  function connect() {
    socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/staff");
    socket.addEventListener("message", function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (ignored) { return; }
      if (event.type === "ping") { send({ type: "pong" }); return; }
      if (event.type === "ready") {
        pause = 1000;
        readies += 1;
        event.again = readies > 1;  // events may have been missed while it was down: listeners refresh
        root.setAttribute("data-connected", "");
      }
      body.dispatchEvent(new CustomEvent("mh:staff", { detail: event }));
    });
    socket.addEventListener("close", function (closed) {
      socket = null;
      root.removeAttribute("data-connected");
      if (closed.code === SIGNED_OUT) { return; }  // signed out, or no inbox any more: the next page says so
      setTimeout(connect, pause);
      pause = Math.min(pause * 2, 30000);
    });
  }

  var typedAt = {};
  document.addEventListener("input", function (event) {
    var box = event.target.closest && event.target.closest("[data-typing-for]");
    if (!box || (box.form && box.form.querySelector("[name=private]:checked"))) { return; }
    var id = Number(box.getAttribute("data-typing-for")), now = Date.now();
    if (id && now - (typedAt[id] || 0) >= TYPING_EVERY && send({ type: "typing", conversation_id: id })) {
      typedAt[id] = now;
    }
  });

  // The visitor writing: said beside the thread's reply box (the inbox's and the widget's) for a few seconds.
  var typingTimers = {};
  body.addEventListener("mh:staff", function (event) {
    var detail = event.detail;
    if (detail.type !== "typing" || detail.sender !== "visitor") { return; }
    var notes = document.querySelectorAll('[data-typing-note="' + Number(detail.conversation_id) + '"]');
    notes.forEach(function (note) { note.textContent = "The visitor is typing…"; });
    clearTimeout(typingTimers[detail.conversation_id]);
    typingTimers[detail.conversation_id] = setTimeout(function () {
      notes.forEach(function (note) { note.textContent = ""; });
    }, TYPING_SHOWN);
  });

  // --- the widget ----------------------------------------------------------------------------------------------
  var launcher = root.querySelector("[data-live-chat-launcher]");
  var panel = root.querySelector("#live-chat-panel");
  var content = root.querySelector("[data-live-chat-body]");
  var badge = root.querySelector("[data-live-chat-unread]");
  var status = document.getElementById("live-status");
  var openId = null;  // the chat the panel shows, or null: the list
  var unread = null;

  function fetched(url, options) {
    var init = Object.assign({ credentials: "same-origin", headers: { "X-CSRF-Token": csrf } }, options || {});
    return fetch(url, init).then(function (response) {
      return response.text().then(function (html) {
        var template = document.createElement("template");
        template.innerHTML = html;
        return template.content;
      });
    });
  }

  function showUnread(count) {
    if (unread !== null && count > unread && status) { status.textContent = "A new message in your live chats"; }
    unread = count;
    badge.hidden = !count;
    badge.textContent = count ? count + " unread" : "";
  }

  function loadList(focusId) {
    return fetched("/admin/live-chat").then(function (fragment) {
      var list = fragment.querySelector("[data-live-chat-list]");
      if (!list) { return; }  // signed out: the sign-in page came back
      showUnread(Number(list.getAttribute("data-unread")) || 0);
      if (openId !== null) { return; }
      var focused = document.activeElement && document.activeElement.closest("[data-live-chat-open]");
      focusId = focusId || (focused && content.contains(focused) ? focused.getAttribute("data-live-chat-open") : null);
      content.replaceChildren(list);
      var chosen = focusId && content.querySelector('[data-live-chat-open="' + focusId + '"]');
      if (chosen) { chosen.focus(); }
    });
  }

  function toLatest(thread) {
    var log = thread.querySelector("[data-live-chat-log]");
    if (log) { log.scrollTop = log.scrollHeight; }
  }

  // New messages are appended (the log announces them), a message whose delivery changed is updated in place, and
  // the reply box keeps what is being typed.
  function merge(current, fresh) {
    var list = current.querySelector("[data-live-chat-messages]");
    Array.prototype.forEach.call(fresh.querySelectorAll("[data-live-chat-messages] > li"), function (item) {
      var old = list.querySelector('[data-message-id="' + item.getAttribute("data-message-id") + '"]');
      if (!old) { list.appendChild(item); return; }
      var was = old.querySelector(".delivery"), now = item.querySelector(".delivery");
      if (now && (!was || was.textContent !== now.textContent)) {
        if (was) { was.replaceWith(now); } else { old.appendChild(now); }
      }
    });
    current.querySelector("[data-live-chat-handling]").replaceWith(fresh.querySelector("[data-live-chat-handling]"));
    toLatest(current);
  }

  function markRead(id) {
    fetch("/admin/inbox/" + id + "/read", { method: "POST", credentials: "same-origin",
                                            headers: { "X-CSRF-Token": csrf } });
  }

  function showThread(thread, focusBox) {
    content.replaceChildren(thread);
    toLatest(thread);
    if (focusBox) { thread.querySelector("textarea").focus(); }
  }

  function loadThread(id, focusBox) {
    return fetched("/admin/live-chat/" + id).then(function (fragment) {
      if (openId !== id) { return; }
      var thread = fragment.querySelector("[data-live-chat-thread]");
      if (!thread) { openId = null; loadList(); return; }  // no longer one to see (another station's, signed out)
      var current = content.querySelector("[data-live-chat-thread]");
      if (current && current.getAttribute("data-live-chat-thread") === String(id)) { merge(current, thread); }
      else { showThread(thread, focusBox); }
      if (Number(thread.getAttribute("data-unread")) > 0 && !panel.hidden) { markRead(id); }
    });
  }

  function setOpen(open) {
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    panel.hidden = !open;
    if (!open) { return; }
    document.getElementById("live-chat-title").focus();
    if (openId === null) { loadList(); } else { loadThread(openId); }
  }

  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  root.querySelector("[data-live-chat-close]").addEventListener("click", function () {
    setOpen(false);
    launcher.focus();
  });
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) {
      setOpen(false);
      launcher.focus();
    } else if (event.key === "Enter" && !event.shiftKey && event.target.matches("[data-live-chat-reply] textarea")) {
      event.preventDefault();  // Enter sends, Shift+Enter starts a new line
      event.target.form.requestSubmit();
    }
  });
  content.addEventListener("click", function (event) {
    var chosen = event.target.closest("[data-live-chat-open]");
    if (chosen) {
      openId = Number(chosen.getAttribute("data-live-chat-open"));
      loadThread(openId, true);
    } else if (event.target.closest("[data-live-chat-back]")) {
      var was = openId;
      openId = null;
      loadList(was);
    }
  });
  content.addEventListener("submit", function (event) {
    var form = event.target.closest("[data-live-chat-reply]");
    if (!form) { return; }
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    fetched(form.action, { method: "POST", body: new URLSearchParams(new FormData(form)) }).then(function (fragment) {
      var thread = fragment.querySelector("[data-live-chat-thread]");
      if (thread) { showThread(thread, true); } else { openId = null; loadList(); }
    }).finally(function () { button.disabled = false; });
  });

  // Events of website chats refresh the list (its unread count) and the open thread, a burst of them once.
  var timer = null, threadDue = false;
  body.addEventListener("mh:staff", function (event) {
    var detail = event.detail;
    var change = detail.type === "message" || detail.type === "conversation";
    if (!(change && detail.channel === "web_chat") && !(detail.type === "ready" && detail.again)) { return; }
    threadDue = threadDue || !change || detail.conversation_id === openId;
    clearTimeout(timer);
    timer = setTimeout(function () {
      loadList();
      if (threadDue && openId !== null && !panel.hidden) { loadThread(openId); }
      threadDue = false;
    }, 150);
  });

  root.hidden = false;
  loadList();
  connect();
})();
