// Saved replies in the console: typing "/" and a shortcut in the reply box lists the matching
// replies; Tab or Enter (or a click) puts the chosen reply's text in place of the shortcut.
(function () {
  const box = document.getElementById("reply-text");
  const list = document.getElementById("canned-list");
  const data = document.getElementById("canned-replies");
  if (!box || !list || !data) return;
  const replies = JSON.parse(data.textContent);
  let matches = [];
  let active = 0;
  const typed = () => {
    const m = box.value.slice(0, box.selectionStart).match(/(^|\s)\/([\w-]*)$/);
    return m ? {start: box.selectionStart - m[2].length - 1, word: m[2].toLowerCase()} : null;
  };
  const close = () => { list.hidden = true; matches = []; box.removeAttribute("aria-activedescendant"); };
  const render = () => {
    list.replaceChildren(...matches.map((r, i) => {
      const li = document.createElement("li");
      li.id = "canned-" + r.shortcut;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", i === active ? "true" : "false");
      li.textContent = "/" + r.shortcut + " — " + r.text.slice(0, 80);
      li.addEventListener("mousedown", (e) => { e.preventDefault(); insert(r); });
      return li;
    }));
    list.hidden = matches.length === 0;
    if (matches.length) box.setAttribute("aria-activedescendant", "canned-" + matches[active].shortcut);
  };
  const insert = (reply) => {
    const at = typed();
    if (!at) return close();
    const end = box.selectionStart;
    box.value = box.value.slice(0, at.start) + reply.text + box.value.slice(end);
    const caret = at.start + reply.text.length;
    box.setSelectionRange(caret, caret);
    close();
    box.focus();
  };
  box.addEventListener("input", () => {
    const at = typed();
    matches = at ? replies.filter((r) => r.shortcut.startsWith(at.word)) : [];
    active = 0;
    render();
  });
  box.addEventListener("keydown", (e) => {
    if (list.hidden || !matches.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      active = (active + (e.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
      render();
    } else if (e.key === "Tab" || e.key === "Enter") {
      e.preventDefault();
      insert(matches[active]);
    } else if (e.key === "Escape") {
      close();
    }
  });
  box.addEventListener("blur", close);
})();
