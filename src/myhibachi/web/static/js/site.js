// The customer site's few enhancements. Every page works without them: the number boxes take typing and arrow
// keys, the server marks the fields in error, and a day's button leads to its times by an anchor.
(function () {
  "use strict";

  // --- − / + buttons beside a count (templates/site/_party.html `count`) ---------------------------------------
  let spoken = null; // a status line, read out after a button press: the new count

  function announce(text) {
    if (!spoken) return;
    spoken.textContent = "";
    window.setTimeout(function () { spoken.textContent = text; }, 50); // the same text twice is read twice
  }

  function step(button) {
    const input = document.getElementById(button.getAttribute("aria-controls"));
    if (!input || input.disabled) return;
    const low = input.min === "" ? 0 : Number(input.min);
    const high = input.max === "" ? Infinity : Number(input.max);
    const delta = Number(button.dataset.step);
    const now = /^\d+$/.test(input.value.trim()) ? Number(input.value) : null;
    const next = now === null ? (delta > 0 ? Math.max(low, 1) : low) : Math.min(high, Math.max(low, now + delta));
    if (String(next) !== input.value) {
      input.value = String(next);
      input.dispatchEvent(new Event("input", { bubbles: true })); // the live quote follows (htmx)
    }
    const label = input.labels && input.labels[0] ? input.labels[0].firstChild.textContent.trim() : input.name;
    announce(label + ": " + next);
  }

  function enhanceSteppers() {
    const buttons = document.querySelectorAll(".stepper button[data-step]");
    if (!buttons.length) return;
    buttons.forEach(function (button) {
      button.hidden = false;
      button.parentElement.classList.add("enhanced");
    });
    spoken = document.createElement("p");
    spoken.className = "visually-hidden";
    spoken.setAttribute("role", "status");
    document.body.appendChild(spoken);
    document.addEventListener("click", function (event) {
      const button = event.target.closest(".stepper button[data-step]");
      if (button) step(button);
    });
  }

  // --- notes swapped in beside the fields as the party is typed (htmx, out of band) ------------------------------
  function markFields() {
    document.querySelectorAll(".note[data-for]").forEach(function (box) {
      const field = document.getElementById(box.dataset.for);
      if (!field) return;
      const note = box.querySelector("p[id]");
      const wrong = Boolean(note && note.classList.contains("error"));
      if (note) field.setAttribute("aria-describedby", note.id);
      else field.removeAttribute("aria-describedby");
      if (field.matches("input, select, textarea")) {
        if (wrong) field.setAttribute("aria-invalid", "true");
        else field.removeAttribute("aria-invalid");
      }
      const wrapper = field.matches("fieldset") ? field : field.closest(".field");
      if (wrapper) wrapper.classList.toggle("invalid", wrong);
      const menu = field.closest("details");
      if (wrong && menu) menu.open = true; // a mistake among the menu choices is shown, not folded away
    });
  }

  // --- the chosen day's start times, in view (the booking flow uses an anchor; other calendars get this) ---------
  function showTimes() {
    const times = document.getElementById("times");
    if (!times || window.location.hash) return;
    const box = times.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) times.scrollIntoView({ block: "start" });
  }

  // --- the chat launcher: loads js/chat.js (and its CSS) on the first press, or now if the chat was left open ---
  function chatLauncher() {
    const button = document.getElementById("chat-launcher");
    if (!button) return;
    let loading = false;
    function load(how) {
      button.dataset.open = how; // for chat.js: "focus" (pressed) or "restore"
      if (loading) return;
      loading = true;
      const style = document.createElement("link");
      style.rel = "stylesheet";
      style.href = button.dataset.style;
      style.onload = style.onerror = function () {
        const script = document.createElement("script");
        script.src = button.dataset.script;
        script.onerror = function () { loading = false; }; // the next press tries again
        document.head.appendChild(script);
      };
      document.head.appendChild(style);
    }
    button.hidden = false;
    button.addEventListener("click", function () { if (!button.dataset.ready) load("focus"); });
    try { if (localStorage.getItem("mh-chat") === "open") load("restore"); } catch (blocked) { /* no storage */ }
  }

  function start() {
    chatLauncher();
    enhanceSteppers();
    showTimes();
    document.addEventListener("htmx:afterSettle", markFields);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
