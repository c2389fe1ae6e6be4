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
  frame.src = origin + "/chat/?embed=1&page=" + encodeURIComponent(location.href);
  frame.style.cssText = "position:fixed;right:20px;bottom:76px;z-index:2147483000;width:min(400px,calc(100vw - 40px));height:min(600px,calc(100vh - 110px));border:1px solid #d9dee3;border-radius:12px;background:#fff;box-shadow:0 8px 30px rgba(0,0,0,.2);display:none";

  var phone = window.matchMedia("(max-width: 520px)");
  var desk = frame.style.cssText;
  var unread = 0;
  function isOpen() { return frame.style.display !== "none"; }
  function label() {
    // The launcher's name, with the replies that came while the chat was closed (a badge, as in Intercom).
    var open = isOpen();
    button.textContent = open ? "Close" : "Help";
    button.setAttribute("aria-label", open ? "Close chat" : unread ? "Help (" + unread + " new message" + (unread > 1 ? "s" : "") + ")" : "Help");
    if (!open && unread) {
      var badge = document.createElement("span");
      badge.className = "groundwork-unread";
      badge.textContent = String(unread);
      badge.setAttribute("aria-hidden", "true");
      badge.style.cssText = "display:inline-block;min-width:20px;margin-left:8px;padding:0 6px;border-radius:10px;background:#fff;color:#a40e26;font:700 13px/20px system-ui,sans-serif;text-align:center";
      button.appendChild(badge);
    }
  }
  // The unread tone (when the customer turned it on in the chat): two short notes made with the
  // Web Audio API, no sound file. The audio context is made on a click, as browsers require.
  var audio = null;
  function prepareAudio() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) { try { audio = new Context(); } catch (e) { audio = null; } }
    if (audio && audio.state === "suspended") audio.resume();
  }
  function tone() {
    if (!audio) return;
    var t = audio.currentTime, osc = audio.createOscillator(), gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.setValueAtTime(880, t);
    osc.frequency.setValueAtTime(660, t + 0.12);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.12, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.32);
    button.setAttribute("data-tones", String((parseInt(button.getAttribute("data-tones"), 10) || 0) + 1));
  }
  function focusChat() {
    frame.focus();
    if (frame.contentWindow) frame.contentWindow.postMessage({groundwork: "focus"}, origin);
  }
  function setOpen(open) {
    // On a phone the chat takes the whole screen (it closes from its own Close button or Escape).
    frame.style.cssText = open && phone.matches
      ? desk + ";inset:0;right:0;bottom:0;width:100%;height:100%;border:0;border-radius:0;box-shadow:none"
      : desk;
    frame.style.display = open ? "block" : "none";
    button.style.display = open && phone.matches ? "none" : "";
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) unread = 0;
    label();
    if (open) { focusChat(); } else { button.focus(); }
  }
  button.addEventListener("click", function () { prepareAudio(); setOpen(!isOpen()); });
  frame.addEventListener("load", function () { if (isOpen()) focusChat(); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && isOpen()) setOpen(false);
  });
  window.addEventListener("message", function (event) {
    // Only the chat frame may close itself (Escape pressed inside it).
    if (event.source !== frame.contentWindow || event.origin !== origin) return;
    if (event.data && event.data.groundwork === "close" && isOpen()) setOpen(false);
    if (event.data && event.data.groundwork === "sound" && event.data.on) prepareAudio();
    if (event.data && event.data.groundwork === "unread" && !isOpen()) {
      unread += Math.max(1, parseInt(event.data.count, 10) || 1);
      label();
      if (event.data.sound === true) tone();
    }
  });
  document.body.appendChild(button);
  document.body.appendChild(frame);
})();
