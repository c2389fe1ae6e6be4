// Groundwork chat widget: add <script src="{{ origin }}/widget.js" async></script> to any page.
(function () {
  if (window.__groundworkWidget) return;
  window.__groundworkWidget = true;
  var origin = "{{ origin|escapejs }}";
  var button = document.createElement("button");
  button.type = "button";
  button.textContent = "Help";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "groundwork-chat");
  button.style.cssText = "position:fixed;right:20px;bottom:20px;z-index:2147483000;padding:12px 18px;border:0;border-radius:24px;background:#1f6feb;color:#fff;font:600 16px system-ui,sans-serif;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)";
  var frame = document.createElement("iframe");
  frame.id = "groundwork-chat";
  frame.title = "Customer support chat";
  frame.src = origin + "/chat/?embed=1";
  frame.style.cssText = "position:fixed;right:20px;bottom:76px;z-index:2147483000;width:min(400px,calc(100vw - 40px));height:min(600px,calc(100vh - 110px));border:1px solid #d9dee3;border-radius:12px;background:#fff;box-shadow:0 8px 30px rgba(0,0,0,.2);display:none";
  button.addEventListener("click", function () {
    var open = frame.style.display === "none";
    frame.style.display = open ? "block" : "none";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.textContent = open ? "Close" : "Help";
  });
  document.body.appendChild(frame);
  document.body.appendChild(button);
})();
