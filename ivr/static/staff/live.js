/* The live console (see ivr/staff/live.py).
 *
 * A server-sent event stream says *that* a queue changed ("changed": department, kind, id) and
 * then sends the queues as the server renders them, with its masking and roles ("queues": the
 * HTML fragment, the same for everyone; its forms get this page's own token here), after the
 * user's own callbacks when they may have changed ("mine"); the page puts them in place. When the stream cannot be had (refused, broken,
 * not supported) the fragment is fetched every 10 seconds until it comes back.
 *
 * A new urgent callback in the user's queues: a sound, "(n) Urgent — ..." in the tab title, a
 * browser notification (after "Turn on urgent alerts") that names only the department, and a
 * polite announcement for screen readers. No inline script: the page's CSP allows 'self' only.
 */
(function () {
  "use strict";

  var root = document.getElementById("live");
  var region = document.getElementById("live-queues");
  if (!root || !region || !window.fetch) return;

  var stateEl = document.getElementById("live-state");
  var announceEl = document.getElementById("live-announce");
  var alertsButton = document.getElementById("live-alerts");

  var POLL_MS = 10000;        // fragment fetches while there is no stream
  var STREAM_RETRY_MS = 60000; // a refused stream is tried again after this
  var RELOAD_GUARD_MS = 60000; // never reload for an ended session more than once a minute
  var MIN_FETCH_MS = 1000;     // changes in a burst are fetched together: at most one fetch a second

  var baseTitle = document.title;
  var version = parseInt(root.getAttribute("data-since") || "", 10);
  var source = null;
  var pollTimer = null, graceTimer = null, retryTimer = null;
  var fetching = false, fetchAgain = false, lastFetch = 0, fetchTimer = null;
  var PUSH_WAIT_MS = 5000;     // a "changed" whose queues do not follow this soon is fetched instead
  var pushTimer = null;
  var mineHtml = null;         // the user's own callbacks, as the stream last sent them ("mine")
  var known = {};   // urgent callback ids the user has already been shown or alerted to
  var sound = null;

  function setState(state, text) {
    stateEl.setAttribute("data-state", state);
    stateEl.textContent = text;
  }

  function announce(text) {
    announceEl.textContent = "";
    window.setTimeout(function () { announceEl.textContent = text; }, 50);
  }

  function urgentRows() {
    return region.querySelectorAll("section.queue tr.urgent[data-callback]");
  }

  function updateTitle() {
    var count = urgentRows().length;
    document.title = count ? "(" + count + ") Urgent \u2014 " + baseTitle : baseTitle;
    root.setAttribute("data-urgent", String(count));
  }

  function departmentName(row) {
    var section = row.closest("section.queue");
    var heading = section && section.querySelector("h2");
    if (!heading) return "your queues";
    var count = heading.querySelector(".count");
    var text = heading.textContent;
    if (count) text = text.replace(count.textContent, "");
    return text.trim();
  }

  function alertUrgent(rows) {
    var names = [];
    var ids = [];
    rows.forEach(function (row) {
      ids.push(row.getAttribute("data-callback"));
      var name = departmentName(row);
      if (names.indexOf(name) < 0) names.push(name);
    });
    var text = (rows.length === 1 ? "New urgent callback" : rows.length + " new urgent callbacks") + " in " + names.join(", ") + ".";
    root.setAttribute("data-last-alert", ids.join(" "));
    root.setAttribute("data-alerts", String(parseInt(root.getAttribute("data-alerts") || "0", 10) + 1));
    announce(text);
    try {
      if (!sound) sound = new Audio(root.getAttribute("data-sound"));
      sound.currentTime = 0;
      var played = sound.play();
      if (played && played.catch) played.catch(function () { /* no sound before the user has clicked on the site */ });
    } catch (e) { /* no audio here */ }
    if ("Notification" in window && Notification.permission === "granted") {
      try {
        // Only the department: notifications show on lock screens and in notification centres.
        var note = new Notification("Urgent callback", { body: text, tag: "urgent-callback" });
        note.onclick = function () { window.focus(); note.close(); };
      } catch (e) { /* some browsers allow notifications from service workers only */ }
    }
  }

  function checkUrgent(alert) {
    var fresh = [];
    Array.prototype.forEach.call(urgentRows(), function (row) {
      var id = row.getAttribute("data-callback");
      if (!known[id]) {
        known[id] = true;
        fresh.push(row);
      }
    });
    if (alert && fresh.length) alertUrgent(fresh);
    updateTitle();
    return fresh.length;
  }

  function focusedKey() {
    var el = document.activeElement;
    if (!el || el === document.body || !region.contains(el)) return null;
    if (el.id) return "#" + CSS.escape(el.id);
    if (el.getAttribute("data-callback")) return el.tagName.toLowerCase() + '[data-callback="' + CSS.escape(el.getAttribute("data-callback")) + '"]';
    return null;
  }

  function apply(html) {
    var key = focusedKey();
    var before = {};
    Array.prototype.forEach.call(region.querySelectorAll("section.queue tr[data-callback]"), function (row) {
      before[row.getAttribute("data-callback")] = true;
    });
    region.innerHTML = html;
    // The queues pushed by the stream are the same for everyone: the forms get this page's own token.
    var token = document.querySelector('meta[name="csrf-token"]');
    if (token) {
      Array.prototype.forEach.call(region.querySelectorAll('input[name="csrf_token"]'), function (input) {
        input.value = token.getAttribute("content");
      });
    }
    if (key) {
      var again = region.querySelector(key);
      if (again) again.focus();
    }
    var added = 0;
    Array.prototype.forEach.call(region.querySelectorAll("section.queue tr[data-callback]"), function (row) {
      if (!before[row.getAttribute("data-callback")]) {
        row.classList.add("is-new");
        added += 1;
      }
    });
    if (!checkUrgent(true) && added) {
      announce(added === 1 ? "A new callback is waiting." : added + " new callbacks are waiting.");
    }
    root.setAttribute("data-version", isNaN(version) ? "" : String(version));
    root.setAttribute("data-refreshes", String(parseInt(root.getAttribute("data-refreshes") || "0", 10) + 1));
  }

  function ended() {
    if (source) { source.close(); source = null; }
    if (leaving) return; // a form was sent (Log out, say): the page it leads to is on its way
    stopPolling();
    var last = 0;
    try { last = parseInt(window.sessionStorage.getItem("live-reloaded-at") || "0", 10); } catch (e) { /* private mode */ }
    if (Date.now() - last > RELOAD_GUARD_MS) {
      try { window.sessionStorage.setItem("live-reloaded-at", String(Date.now())); } catch (e) { /* private mode */ }
      window.location.reload(); // the login page says why the session ended
      return;
    }
    setState("ended", "Your session has ended: reload the page to log in again.");
  }

  function refresh() {
    if (fetching) { fetchAgain = true; return; }
    var wait = lastFetch + MIN_FETCH_MS - Date.now();
    if (wait > 0) {
      if (!fetchTimer) fetchTimer = window.setTimeout(function () { fetchTimer = null; refresh(); }, wait);
      return;
    }
    fetching = true;
    lastFetch = Date.now();
    fetch(root.getAttribute("data-fragment"), { credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" } })
      .then(function (resp) {
        if (resp.status === 401) { ended(); return null; }
        if (!resp.ok) throw new Error("HTTP " + resp.status);
        var number = parseInt(resp.headers.get("X-Live-Version") || "", 10);
        return resp.text().then(function (html) {
          if (!isNaN(number)) version = number;
          apply(html);
        });
      })
      .catch(function () {
        if (!source || source.readyState !== 1) setState("error", "Cannot reach the server: trying again every 10 seconds.");
      })
      .then(function () {
        fetching = false;
        if (fetchAgain) { fetchAgain = false; refresh(); }
      });
  }

  function startPolling() {
    window.clearTimeout(graceTimer);
    graceTimer = null;
    if (pollTimer) return;
    setState("polling", "Live updates paused: the queue is fetched every 10 seconds.");
    refresh();
    pollTimer = window.setInterval(refresh, POLL_MS);
  }

  function stopPolling() {
    window.clearTimeout(graceTimer);
    graceTimer = null;
    if (pollTimer) { window.clearInterval(pollTimer); pollTimer = null; }
  }

  function connect() {
    window.clearTimeout(retryTimer);
    if (!window.EventSource) { startPolling(); return; }
    var url = root.getAttribute("data-stream");
    if (!isNaN(version)) url += "?since=" + version;
    source = new EventSource(url);
    source.addEventListener("open", function () {
      var wasPolling = !!pollTimer;
      stopPolling();
      setState("live", "Live: the queue updates by itself.");
      if (wasPolling) refresh();
    });
    source.addEventListener("changed", function () {
      if (!pushTimer) pushTimer = window.setTimeout(function () { pushTimer = null; refresh(); }, PUSH_WAIT_MS);
    });
    source.addEventListener("hello", function (e) {
      try {
        var token = JSON.parse(e.data).csrf, meta = document.querySelector('meta[name="csrf-token"]');
        if (token && meta) meta.setAttribute("content", token); // a fresh one with each stream
      } catch (err) { /* keep the page's own */ }
    });
    source.addEventListener("mine", function (e) {
      try { mineHtml = JSON.parse(e.data).html; } catch (err) { mineHtml = null; }
    });
    source.addEventListener("queues", function (e) {
      window.clearTimeout(pushTimer);
      pushTimer = null;
      var data;
      try { data = JSON.parse(e.data); } catch (err) { refresh(); return; }
      if (mineHtml === null) { refresh(); return; } // the stream always sends "mine" first; without it, fetch
      if (typeof data.v === "number") version = data.v;
      apply(mineHtml + "\n" + data.html);
    });
    source.addEventListener("ended", function () { ended(); });
    source.onerror = function () {
      if (!source) return;
      if (source.readyState === 2) { // closed: refused (401, 503) or not a stream
        source = null;
        startPolling();
        retryTimer = window.setTimeout(connect, STREAM_RETRY_MS + Math.random() * 10000);
      } else if (!pollTimer && !graceTimer) { // reconnecting by itself (a stream's life ends every few minutes)
        setState("reconnecting", "Reconnecting\u2026");
        graceTimer = window.setTimeout(function () {
          graceTimer = null;
          if (!source || source.readyState !== 1) startPolling();
        }, POLL_MS);
      }
    };
  }

  function setUpAlertsButton() {
    if (!alertsButton || !("Notification" in window)) return;
    function show() { alertsButton.hidden = Notification.permission !== "default"; }
    alertsButton.addEventListener("click", function () {
      if (!sound) sound = new Audio(root.getAttribute("data-sound"));
      var asked = Notification.requestPermission(function () { show(); });
      if (asked && asked.then) asked.then(show);
    });
    show();
  }

  // A form sent from this page navigates away; a session ended by it (Log out) must not reload this page over
  // the one the form leads to.
  var leaving = false;
  document.addEventListener("submit", function () { leaving = true; });
  window.addEventListener("pagehide", function () { if (source) { source.close(); source = null; } });
  window.addEventListener("pageshow", function (e) { if (e.persisted) leaving = false; if (e.persisted && !source) { refresh(); connect(); } });

  checkUrgent(false); // what is on the page already is seen; the title shows how many are urgent
  setUpAlertsButton();
  setState("connecting", "Connecting\u2026");
  connect();
})();
