/* Idle logout, announced: a warning with a countdown before the server's idle time-out
   (STAFF_IDLE_MINUTES, in <body data-idle-seconds>), and "Stay logged in" to keep working.

   The server ends a session after that long without a request; this page only warns and, at the end,
   goes to the login page (which comes back here after logging in). Requests this page makes for the
   person (saving a draft, following a call in progress) count as activity: other scripts tell us with
   a "ivr:activity" event on document. Before warning, the server is asked how long is really left
   (another tab may have been busy), without that question counting as activity.
   At the end an "ivr:before-logout" event lets other scripts keep what is typed. */
(function () {
  "use strict";
  var body = document.body;
  var idleSeconds = parseFloat(body.getAttribute("data-idle-seconds") || "");
  if (!(idleSeconds > 0)) return;
  var warnSeconds = Math.min(120, Math.max(idleSeconds / 4, 1));
  var keepAliveUrl = body.getAttribute("data-keepalive-url");
  var sessionUrl = body.getAttribute("data-session-url");
  var loginUrl = body.getAttribute("data-login-url");
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";

  var box = document.getElementById("idle-warning");
  var countdown = document.getElementById("idle-countdown");
  var stay = document.getElementById("idle-stay");
  var deadline = Date.now() + idleSeconds * 1000;
  var asking = false;
  var leaving = false;
  var lastFocus = null;

  function format(seconds) {
    seconds = Math.max(0, Math.ceil(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function show() {
    if (!box || !box.hidden) return;
    lastFocus = document.activeElement;
    box.hidden = false;
    if (stay) stay.focus();
  }

  function hide() {
    if (!box || box.hidden) return;
    box.hidden = true;
    if (lastFocus && lastFocus.focus && document.contains(lastFocus)) lastFocus.focus();
  }

  function activity(secondsLeft) {
    var left = typeof secondsLeft === "number" && secondsLeft > 0 ? Math.min(secondsLeft, idleSeconds) : idleSeconds;
    deadline = Date.now() + left * 1000;
    hide();
  }

  function goToLogin() {
    if (leaving) return;
    leaving = true;
    document.dispatchEvent(new CustomEvent("ivr:before-logout"));
    var here = location.pathname + location.search;
    // A moment for the draft to be sent; the login page ends the session and says why.
    setTimeout(function () {
      location.assign(loginUrl + "?next=" + encodeURIComponent(here));
    }, 300);
  }

  function askServer(then) {
    if (asking) return;
    asking = true;
    fetch(sessionUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (res) {
        asking = false;
        then(res.ok ? res.body.seconds_left : 0);
      })
      .catch(function () { asking = false; then(null); });
  }

  function tick() {
    if (leaving) return;
    var left = (deadline - Date.now()) / 1000;
    if (countdown) countdown.textContent = format(left);
    if (left <= 0) {
      askServer(function (serverLeft) {
        if (serverLeft !== null && serverLeft > 1) { deadline = Date.now() + serverLeft * 1000; hide(); }
        else goToLogin();
      });
    } else if (left <= warnSeconds && box && box.hidden) {
      askServer(function (serverLeft) {
        if (serverLeft !== null && serverLeft > warnSeconds + 1) { deadline = Date.now() + serverLeft * 1000; return; }
        if (serverLeft !== null) deadline = Date.now() + serverLeft * 1000;
        if (countdown) countdown.textContent = format((deadline - Date.now()) / 1000);
        show();
      });
    }
  }

  if (stay) {
    stay.addEventListener("click", function () {
      stay.disabled = true;
      fetch(keepAliveUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, Accept: "application/json" }
      })
        .then(function (r) {
          if (r.status === 401) { goToLogin(); return null; }
          return r.json();
        })
        .then(function (j) { if (j) activity(j.seconds_left); })
        .catch(function () { /* the countdown goes on; the next tick asks again */ })
        .then(function () { stay.disabled = false; });
    });
  }
  if (box) {
    box.addEventListener("keydown", function (e) { if (e.key === "Escape" && stay) stay.click(); });
  }
  document.addEventListener("ivr:activity", function (e) {
    activity(e.detail && typeof e.detail.secondsLeft === "number" ? e.detail.secondsLeft : undefined);
  });
  document.addEventListener("ivr:logged-out", goToLogin);

  window.ivrIdle = { activity: activity, deadline: function () { return deadline; }, warnSeconds: warnSeconds };
  setInterval(tick, 1000);
})();
