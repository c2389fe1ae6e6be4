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
      if (box.value.trim()) form.requestSubmit();
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
  form.addEventListener("htmx:afterRequest", (event) => {
    if (event.detail.successful) { box.value = ""; }
    box.focus();
  });
  const scroll = () => {
    const last = transcript.querySelector(".messages-list > li:last-child");
    if (last) last.scrollIntoView({block: "end"});
  };
  document.body.addEventListener("htmx:afterSwap", scroll);
  scroll();
})();
