// The website chat (SPEC §7 "Chat"), loaded by site.js on the launcher's first press. A dialog beside the page on a
// desktop, the whole screen on a phone, talking to /ws/chat: the history on every (re)connect, each message shown
// once (by its server id), the visitor's own kept until the server acks them and sent again with the same id after
// a drop (the server stores them once), and whatever is typed while offline sent when the connection is back.
(function () {
  "use strict";

  const launcher = document.getElementById("chat-launcher");
  if (!launcher || launcher.dataset.ready) return;
  launcher.dataset.ready = "1";

  const STORAGE_KEY = "mh-chat"; // "open" while the panel is open: the next page opens it again
  const WHO = { visitor: "You", bot: "Assistant (automated)", staff: "Staff" };
  const TYPING_MS = 6000;
  const TYPING_EVERY_MS = 3000;
  const RETRY_MS = [1000, 2000, 4000, 8000, 15000, 30000]; // waits between reconnects, then the last one on
  const LAUNCHER_TEXT = launcher.textContent;
  const phone = window.matchMedia("(max-width: 600px)");

  // --- the panel -----------------------------------------------------------------------------------------------
  const panel = document.createElement("section");
  panel.id = "chat-panel";
  panel.className = "chat-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-labelledby", "chat-title");
  panel.innerHTML = // fixed markup only: every text from the server goes in through textContent
    '<div class="chat-head"><h2 id="chat-title">Chat with us</h2>' +
    '<button type="button" class="chat-close">Close<span class="visually-hidden"> chat</span></button></div>' +
    '<p class="chat-status" role="status"></p>' +
    '<div class="chat-log" role="log" aria-live="polite" aria-label="Messages" tabindex="0">' +
    '<p class="chat-intro">Ask us about your party. An automated assistant answers first; ' +
    "a person from our team can join.</p></div>" +
    '<p class="chat-typing" aria-live="polite"></p>' +
    '<p class="chat-alert" role="alert"></p>' +
    '<form class="chat-form"><label for="chat-input">Your message</label>' +
    '<div class="chat-compose"><textarea id="chat-input" rows="2" maxlength="2000"></textarea>' +
    '<button type="submit">Send</button></div></form>';
  launcher.after(panel);
  launcher.setAttribute("aria-controls", panel.id);

  const log = panel.querySelector(".chat-log");
  const status = panel.querySelector(".chat-status");
  const typing = panel.querySelector(".chat-typing");
  const alert = panel.querySelector(".chat-alert");
  const form = panel.querySelector(".chat-form");
  const input = panel.querySelector("#chat-input");
  const closeButton = panel.querySelector(".chat-close");

  function remember(open) {
    try {
      if (open) window.localStorage.setItem(STORAGE_KEY, "open");
      else window.localStorage.removeItem(STORAGE_KEY);
    } catch (blocked) { /* no storage: nothing to remember */ }
  }

  let unread = 0; // staff's and the assistant's messages that came while the panel was closed

  function showUnread() {
    launcher.textContent = unread ? LAUNCHER_TEXT + " (" + unread + " new)" : LAUNCHER_TEXT;
  }

  function fitScreen() {
    panel.setAttribute("aria-modal", phone.matches ? "true" : "false"); // a phone's panel hides the page
    document.documentElement.classList.toggle("chat-open", !panel.hidden);
  }

  function openPanel(moveFocus) {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    remember(true);
    unread = 0;
    showUnread();
    fitScreen();
    connect();
    scrollDown();
    if (moveFocus) input.focus();
  }

  function closePanel() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    remember(false);
    fitScreen();
    launcher.focus();
  }

  // Full-screen on a phone, the panel keeps Tab inside it; beside the page on a desktop, Tab goes on to the page.
  function keepFocusInside(event) {
    const stops = Array.from(panel.querySelectorAll("button, textarea, [tabindex='0']"))
      .filter(function (element) { return !element.disabled && element.offsetParent !== null; });
    const first = stops[0];
    const last = stops[stops.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  // --- the messages ------------------------------------------------------------------------------------------------
  const shown = new Map(); // server message id -> its element: each message once, whatever repeats it
  const outbox = []; // the visitor's messages not acked yet, oldest first: {id, body, element, sentOn}
  let awaiting = []; // client ids sent on this connection and not answered yet: the server answers in order

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function clock(at) {
    const time = at ? new Date(at) : new Date();
    return time.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  }

  function messageElement(sender, body, at) {
    const kind = WHO[sender] ? sender : "staff";
    const item = document.createElement("div");
    item.className = "chat-msg chat-" + kind;
    const who = document.createElement("p");
    who.className = "chat-who";
    who.textContent = WHO[kind] + " · ";
    const time = document.createElement("time");
    if (at) time.dateTime = at;
    time.textContent = clock(at);
    who.appendChild(time);
    const text = document.createElement("p");
    text.className = "chat-body";
    text.textContent = body;
    item.append(who, text);
    return item;
  }

  function note(text) {
    const line = document.createElement("p");
    line.className = "chat-note";
    line.textContent = text;
    log.appendChild(line);
    scrollDown();
  }

  // A line under one of the visitor's messages: how its sending goes (none once it is stored).
  function markState(element, text, retry) {
    let line = element.querySelector(".chat-state");
    if (!text) {
      if (line) line.remove();
      element.classList.remove("chat-pending", "chat-failed");
      return;
    }
    if (!line) {
      line = document.createElement("p");
      line.className = "chat-state";
      element.appendChild(line);
    }
    line.textContent = text;
    element.classList.toggle("chat-pending", !retry);
    element.classList.toggle("chat-failed", Boolean(retry));
    if (retry) {
      const again = document.createElement("button");
      again.type = "button";
      again.className = "chat-retry";
      again.textContent = "Send again";
      again.addEventListener("click", retry);
      line.append(" ", again);
    }
  }

  // One of the visitor's own messages came from the server before its ack (the echo, or the history after a drop):
  // it is the one still waiting here with that text, not a new one.
  function claimWaiting(body) {
    const entry = outbox.find(function (waiting) { return !waiting.claimed && waiting.body === body; });
    if (!entry) return null;
    entry.claimed = true;
    return entry.element;
  }

  function receive(message, live) {
    if (shown.has(message.id)) return;
    let element = message.sender === "visitor" ? claimWaiting(message.body) : null;
    if (!element) {
      element = messageElement(message.sender, message.body, message.at);
      log.appendChild(element);
    }
    shown.set(message.id, element);
    if (message.sender !== "visitor") {
      stopTyping();
      if (live && panel.hidden) {
        unread += 1;
        showUnread();
      }
    }
    scrollDown();
  }

  function acked(event) {
    awaiting = awaiting.filter(function (id) { return id !== event.id; });
    const index = outbox.findIndex(function (entry) { return entry.id === event.id; });
    if (index < 0) return;
    const entry = outbox.splice(index, 1)[0];
    if (event.message_id != null && !shown.has(event.message_id)) shown.set(event.message_id, entry.element);
    markState(entry.element, "");
  }

  // The server refused the oldest message still unanswered on this connection (too long, too many): say why, keep
  // it out of the resends, and let the visitor send it again.
  function refused(event) {
    const detail = event.detail || "Something went wrong.";
    const index = outbox.findIndex(function (entry) { return entry.id === awaiting[0]; });
    awaiting.shift();
    if (index < 0) {
      alert.textContent = detail;
      return;
    }
    const entry = outbox.splice(index, 1)[0];
    markState(entry.element, "Not sent: " + detail, function () {
      markState(entry.element, "");
      queue(entry);
    });
  }

  function newClientId() {
    return "w" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
  }

  function queue(entry) {
    entry.sentOn = 0;
    entry.claimed = false;
    outbox.push(entry);
    markState(entry.element, ready ? "Sending…" : "Waiting for the connection…");
    flush();
  }

  function send(body) {
    const element = messageElement("visitor", body, null);
    log.appendChild(element);
    scrollDown();
    queue({ id: newClientId(), body: body, element: element });
  }

  // --- typing ------------------------------------------------------------------------------------------------------
  let typingTimer = 0;

  function showTyping(sender) {
    typing.textContent = sender === "bot" ? "The assistant is writing…" : "Someone from our team is typing…";
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(stopTyping, TYPING_MS);
  }

  function stopTyping() {
    window.clearTimeout(typingTimer);
    typing.textContent = "";
  }

  // --- the connection ----------------------------------------------------------------------------------------------
  const station = launcher.dataset.station;
  let socket = null;
  let connecting = false;
  let ready = false; // the history of this connection is in: messages can go
  let connection = 0; // which connection this is: a message is sent once on each
  let attempt = 0;
  let retryTimer = 0;

  function connect() {
    if (socket || connecting) return;
    window.clearTimeout(retryTimer);
    connecting = true;
    status.textContent = attempt ? "Reconnecting…" : "Connecting…";
    window.fetch("/api/v1/chat/session", { credentials: "same-origin", cache: "no-store",
                                          headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("chat session: " + response.status);
        return response.json();
      })
      .then(function (session) { openSocket(session.socket); })
      .catch(function () {
        connecting = false;
        dropped();
      });
  }

  function openSocket(path) {
    const url = new URL(path, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (station) url.searchParams.set("station", station);
    const opened = new WebSocket(url.href);
    socket = opened;
    connecting = false;
    connection += 1;
    opened.addEventListener("message", function (message) {
      if (socket === opened) handle(JSON.parse(message.data));
    });
    opened.addEventListener("close", function () {
      if (socket !== opened) return;
      socket = null;
      dropped();
    });
  }

  function dropped() {
    ready = false;
    awaiting = [];
    outbox.forEach(function (entry) { markState(entry.element, "Waiting for the connection…"); });
    const wait = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)];
    attempt += 1;
    status.textContent = "Reconnecting…" + (outbox.length ? " Your messages will be sent when we are back." : "");
    window.clearTimeout(retryTimer);
    retryTimer = window.setTimeout(connect, wait * (0.75 + Math.random() / 2)); // spread: not all at once
  }

  // Every message still waiting goes out once on this connection, oldest first, with the id it was given.
  function flush() {
    if (!ready) return;
    outbox.forEach(function (entry) {
      if (entry.sentOn === connection) return;
      entry.sentOn = connection;
      awaiting.push(entry.id);
      socket.send(JSON.stringify({ type: "message", body: entry.body, id: entry.id }));
      markState(entry.element, "Sending…");
    });
  }

  function handle(event) {
    switch (event.type) {
      case "history":
        event.messages.forEach(function (message) { receive(message, false); });
        ready = true;
        attempt = 0;
        status.textContent = "";
        flush();
        break;
      case "message":
        receive(event, true);
        break;
      case "ack":
        acked(event);
        break;
      case "typing":
        showTyping(event.sender);
        break;
      case "handoff":
        stopTyping();
        note("A person from our team has joined the chat.");
        break;
      case "ping":
        socket.send(JSON.stringify({ type: "pong" })); // the server drops a silent client
        break;
      case "error":
        refused(event);
        break;
    }
  }

  window.addEventListener("online", function () { if (!socket && attempt) connect(); });

  // --- the controls --------------------------------------------------------------------------------------------
  launcher.addEventListener("click", function () {
    if (panel.hidden) openPanel(true);
    else closePanel();
  });
  closeButton.addEventListener("click", closePanel);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      closePanel();
    } else if (event.key === "Tab" && phone.matches) {
      keepFocusInside(event);
    }
  });
  phone.addEventListener("change", fitScreen);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const body = input.value.trim();
    if (!body) {
      alert.textContent = "Write something to send.";
      return;
    }
    alert.textContent = "";
    input.value = "";
    send(body);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { // Shift+Enter: a new line
      event.preventDefault();
      form.requestSubmit();
    }
  });
  // Writing tells staff who watch the chat, at most every few seconds (the socket allows 10 frames in 10 s).
  let typedAt = 0;
  input.addEventListener("input", function () {
    const now = Date.now();
    if (!ready || !input.value.trim() || now - typedAt < TYPING_EVERY_MS) return;
    typedAt = now;
    socket.send(JSON.stringify({ type: "typing" }));
  });

  // Pressed: open and move into it. Left open on the last page: open again on a desktop; on a phone (where it would
  // cover the new page) only connect, and count what comes in on the launcher.
  if (launcher.dataset.open !== "restore") openPanel(true);
  else if (!phone.matches) openPanel(false);
  else connect();
})();
