// Live updates for any element with data-live-key and hx-trigger="live": the element is fetched
// again (htmx) as soon as the server pushes an event on its stream (data-live-src, Server-Sent
// Events), and every data-live-poll milliseconds while the stream is not open (refused, failed,
// reconnecting, or no stream at all). The browser's EventSource reconnects by itself with
// Last-Event-ID; a stream the server refused is tried again later with the page's newest ticket.
// <html data-live> says which mode the page is in ("open" or "polling"), for people and tests.
(function () {
  const RETRY_REFUSED_MS = 30000; // after a refusal (403/429/503, no endpoint), try a stream again
  const OPEN_WITHIN_MS = 4000; // poll meanwhile when a stream takes longer than this to open
  const channels = new Map(); // key -> {source, pollTimer, refreshTimer, retryTimer, ...}

  const element = (key) => document.querySelector('[data-live-key="' + key + '"]');
  const setMode = () => {
    const modes = [...channels.values()].map((c) => (c.open ? "open" : "polling"));
    document.documentElement.dataset.live = modes.length ? (modes.includes("polling") ? "polling" : "open") : "";
  };

  function fetchNow(key) {
    const el = element(key);
    if (el && window.htmx) window.htmx.trigger(el, "live");
  }

  function schedule(key, delay) {
    // Events that come together (a reply and the end of typing) cause one fetch.
    const channel = channels.get(key);
    if (!channel || channel.pending) return;
    channel.pending = setTimeout(() => { channel.pending = null; fetchNow(key); }, delay || 30);
  }

  function startPolling(channel) {
    if (channel.pollTimer || !channel.poll) return;
    channel.pollTimer = setInterval(() => fetchNow(channel.key), channel.poll);
  }

  function stopPolling(channel) {
    clearInterval(channel.pollTimer);
    channel.pollTimer = null;
  }

  function connect(channel) {
    const el = element(channel.key);
    const src = el && el.dataset.liveSrc;
    if (!src || !window.EventSource) { channel.open = false; startPolling(channel); setMode(); return; }
    const source = new EventSource(src);
    channel.source = source;
    const slow = setTimeout(() => { if (!channel.open) { startPolling(channel); setMode(); } }, OPEN_WITHIN_MS);
    source.onopen = () => {
      clearTimeout(slow);
      channel.open = true;
      stopPolling(channel);
      if (channel.refresh && !channel.refreshTimer) {
        channel.refreshTimer = setInterval(() => fetchNow(channel.key), channel.refresh);
      }
      setMode();
    };
    source.onerror = () => {
      channel.open = false;
      clearInterval(channel.refreshTimer);
      channel.refreshTimer = null;
      startPolling(channel);
      if (source.readyState === EventSource.CLOSED) {
        // Refused or gone: poll, and try a stream again later (with the page's newest ticket).
        clearTimeout(slow);
        channel.source = null;
        clearTimeout(channel.retryTimer);
        channel.retryTimer = setTimeout(() => { if (channels.get(channel.key) === channel) connect(channel); }, RETRY_REFUSED_MS);
      }
      setMode();
    };
    const onEvent = (event) => {
      channel.lastEvent = performance.now();
      let data = {};
      try { data = JSON.parse(event.data || "{}"); } catch (e) { data = {}; }
      schedule(channel.key);
      if (data.event === "typing" && data.seconds) {
        // "… is typing" ends by itself: fetch again when it should be gone.
        clearTimeout(channel.typingTimer);
        channel.typingTimer = setTimeout(() => fetchNow(channel.key), data.seconds * 1000 + 250);
      }
    };
    ["message", "typing", "queue", "sync", "status"].forEach((name) => source.addEventListener(name, onEvent));
  }

  function close(channel) {
    if (channel.source) channel.source.close();
    [channel.pending, channel.retryTimer, channel.typingTimer].forEach(clearTimeout);
    stopPolling(channel);
    clearInterval(channel.refreshTimer);
  }

  function scan() {
    // Streams follow the elements that ask for them: one per key, closed when its element goes
    // (a conversation no longer with a person), opened when one appears.
    const present = new Set();
    document.querySelectorAll("[data-live-key]").forEach((el) => {
      const key = el.dataset.liveKey;
      present.add(key);
      if (channels.has(key)) return;
      const channel = {
        key,
        poll: parseInt(el.dataset.livePoll || "3000", 10),
        refresh: parseInt(el.dataset.liveRefresh || "0", 10),
        open: false,
      };
      channels.set(key, channel);
      connect(channel);
    });
    for (const [key, channel] of channels) {
      if (!present.has(key)) { close(channel); channels.delete(key); }
    }
    setMode();
  }

  // A fetch that was already under way when an event came (htmx drops a second request from the
  // same element), or an older response that lands after a newer one (the customer's own send
  // redraws the same transcript), would leave the page behind: every request is stamped when it
  // starts, and once it has settled or failed, a channel told of something later fetches again.
  const recheck = (xhr, delay) => {
    if (!xhr || xhr.liveStart === undefined) return;
    channels.forEach((channel) => { if (channel.lastEvent > xhr.liveStart) schedule(channel.key, delay); });
  };
  document.addEventListener("htmx:beforeRequest", (e) => { if (e.detail.xhr) e.detail.xhr.liveStart = performance.now(); });
  document.addEventListener("htmx:afterSettle", (e) => { scan(); recheck(e.detail.xhr); });
  ["htmx:sendError", "htmx:responseError"].forEach((name) => document.addEventListener(name, (e) => recheck(e.detail.xhr, 1000)));
  document.addEventListener("DOMContentLoaded", scan);
  window.addEventListener("pagehide", () => channels.forEach(close));
  if (document.readyState !== "loading") scan();
})();
