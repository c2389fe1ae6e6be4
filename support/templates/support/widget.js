// Groundwork chat widget: add <script src="{{ origin }}/widget.js" async></script> to any page.
// The launcher comes before the frame in the tab order; opening it moves the focus into the chat,
// and Escape (on the page or inside the chat) closes it and gives the focus back to the launcher.
(function () {
  if (window.__groundworkWidget) return;
  window.__groundworkWidget = true;
  var origin = "{{ origin|escapejs }}";
  var title = "{{ title|escapejs }}";
  var button = document.createElement("button");
  button.type = "button";
  button.id = "groundwork-launcher";
  button.textContent = "Help";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "groundwork-chat");
  button.style.cssText = "position:fixed;right:20px;bottom:20px;z-index:2147483000;padding:12px 18px;border:0;border-radius:24px;background:#0a58ca;color:#fff;font:600 16px system-ui,sans-serif;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);outline-offset:3px";
  var frame = document.createElement("iframe");
  frame.id = "groundwork-chat";
  frame.name = "groundwork-chat";
  frame.title = title;
  frame.src = origin + "/chat/?embed=1";
  frame.style.cssText = "position:fixed;right:20px;bottom:76px;z-index:2147483000;width:min(400px,calc(100vw - 40px));height:min(600px,calc(100vh - 110px));border:1px solid #d9dee3;border-radius:12px;background:#fff;box-shadow:0 8px 30px rgba(0,0,0,.2);display:none";

  function isOpen() { return frame.style.display !== "none"; }
  function focusChat() {
    frame.focus();
    if (frame.contentWindow) frame.contentWindow.postMessage({groundwork: "focus"}, origin);
  }
  function setOpen(open) {
    frame.style.display = open ? "block" : "none";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.textContent = open ? "Close" : "Help";
    if (open) { focusChat(); } else { button.focus(); }
  }
  button.addEventListener("click", function () { setOpen(!isOpen()); });
  frame.addEventListener("load", function () { if (isOpen()) focusChat(); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && isOpen()) setOpen(false);
  });
  window.addEventListener("message", function (event) {
    // Only the chat frame may close itself (Escape pressed inside it).
    if (event.source !== frame.contentWindow || event.origin !== origin) return;
    if (event.data && event.data.groundwork === "close" && isOpen()) setOpen(false);
  });
  document.body.appendChild(button);
  document.body.appendChild(frame);
})();
