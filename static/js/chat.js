// Chat page: Enter sends (Shift+Enter for a new line), the box clears after a
// send, and the newest message scrolls into view.
(function () {
  const form = document.getElementById("ask");
  const box = document.getElementById("question");
  const transcript = document.getElementById("transcript");
  if (!form || !box) return;
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      const send = form.querySelector("button[type=submit]");
      if (box.value.trim() && !send.disabled) form.requestSubmit();
    }
  });
  form.addEventListener("htmx:beforeRequest", () => {
    const list = transcript.querySelector(".messages-list");
    if (list && box.value.trim()) {
      const pending = document.createElement("li");
      pending.className = "msg customer pending";
      pending.textContent = box.value;
      list.appendChild(pending);
      pending.scrollIntoView({block: "end"});
    }
  });
  // A refused message (rate limit, too long) stays in the box; over the rate limit the
  // Send button waits until the server will take it, counting down.
  const send = form.querySelector("button[type=submit]");
  let countdown = null;
  const waitToSend = (notice) => {
    const seconds = parseInt(notice.dataset.retryAfter, 10);
    if (!seconds) return;
    const until = Date.now() + seconds * 1000;
    const at = new Date(until).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit"});
    const atSpan = notice.querySelector(".retry-at");
    const inSpan = notice.querySelector(".retry-in");
    if (atSpan) atSpan.textContent = " (at " + at + ")";
    clearInterval(countdown);
    const tick = () => {
      const left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(countdown);
        send.disabled = false;
        if (inSpan) inSpan.textContent = "now";
        if (atSpan) atSpan.textContent = "";
        return;
      }
      send.disabled = true;
      if (inSpan) inSpan.textContent = left + (left === 1 ? " second" : " seconds");
    };
    tick();
    countdown = setInterval(tick, 1000);
  };
  form.addEventListener("htmx:afterRequest", (event) => {
    const notice = transcript.querySelector(".msg.error[data-keep-text]");
    if (event.detail.successful && !notice) { box.value = ""; }
    if (notice) waitToSend(notice);
    box.focus();
  });
  // Inside the widget's frame: the page that embeds us asks for the focus when the chat opens,
  // and Escape asks it to close the chat.
  if (window.parent !== window) {
    // Replies that arrive (the page polls while a person owns the conversation) are counted for the
    // launcher's unread badge; the embedding page shows it only while the chat is closed.
    const lastId = () => parseInt((transcript.querySelector(".messages-list") || {dataset: {}}).dataset.lastId || "0", 10);
    let seen = lastId();
    // A short tone on the closed launcher for a new reply: off unless the customer turns it on
    // (remembered in this browser). The page that embeds us plays it (Web Audio, no sound file).
    const sound = document.querySelector("[data-sound-toggle]");
    const soundOn = () => Boolean(sound && sound.checked);
    if (sound) {
      try { sound.checked = localStorage.getItem("groundwork-sound") === "on"; } catch (e) { sound.checked = false; }
      sound.addEventListener("change", () => {
        try { localStorage.setItem("groundwork-sound", sound.checked ? "on" : "off"); } catch (e) { /* private mode */ }
        window.parent.postMessage({groundwork: "sound", on: sound.checked}, "*");
      });
    }
    document.body.addEventListener("htmx:afterSwap", () => {
      const now = lastId();
      if (now > seen) {
        const fresh = [...transcript.querySelectorAll(".msg.agent[id^='msg-'], .msg.bot[id^='msg-']")]
          .filter((el) => parseInt(el.id.slice(4), 10) > seen).length;
        if (fresh) window.parent.postMessage({groundwork: "unread", count: fresh, sound: soundOn()}, "*");
      }
      seen = Math.max(seen, now);
    });
    document.querySelectorAll("[data-close-chat]").forEach((b) => b.addEventListener("click", () => {
      window.parent.postMessage({groundwork: "close"}, "*");
    }));
    window.addEventListener("message", (event) => {
      if (event.source === window.parent && event.data && event.data.groundwork === "focus") box.focus();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") window.parent.postMessage({groundwork: "close"}, "*");
    });
  }
  const scroll = () => {
    const last = transcript.querySelector(".messages-list > li:last-child");
    if (last) last.scrollIntoView({block: "end"});
  };
  document.body.addEventListener("htmx:afterSwap", scroll);
  scroll();
})();
