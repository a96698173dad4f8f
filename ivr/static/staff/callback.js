/* The callback page: keep the outcome and note as they are typed (a draft on the server), and follow
   a "Call patient" call in words while it is under way (asking every 2 seconds).

   Both kinds of request are the person's work, so each answer tells idle.js ("ivr:activity"): a long
   call with no clicks does not log her out. A 401 means the session has ended: go to the login page. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";

  function activity(secondsLeft) {
    document.dispatchEvent(new CustomEvent("ivr:activity", { detail: { secondsLeft: secondsLeft } }));
  }

  // Draft ------------------------------------------------------------------------------------
  var form = document.querySelector("form.outcome-form[data-draft-url]");
  if (form) {
    var url = form.getAttribute("data-draft-url");
    var note = form.querySelector("#note");
    var state = document.getElementById("draft-state");
    var timer = null;
    var lastSent = null;

    var current = function () {
      var checked = form.querySelector('input[name="outcome"]:checked');
      return JSON.stringify({ outcome: checked ? checked.value : "", note: note ? note.value : "" });
    };

    var send = function (keepalive) {
      timer = null;
      var body = current();
      if (body === lastSent) return;
      lastSent = body;
      if (state) state.textContent = "Keeping your draft…";
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        keepalive: !!keepalive,
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
        body: body
      })
        .then(function (r) {
          if (r.status === 401) { lastSent = null; document.dispatchEvent(new CustomEvent("ivr:logged-out")); return null; }
          return r.json();
        })
        .then(function (j) {
          if (!j) return;
          if (j.saved) {
            if (state) state.textContent = "Draft kept at " + j.at + ", until you save.";
            activity(j.seconds_left);
          } else if (state) {
            state.textContent = "Your draft could not be kept: save the outcome soon.";
          }
        })
        .catch(function () {
          lastSent = null;
          if (state) state.textContent = "Your draft could not be kept (no connection): save the outcome soon.";
        });
    };

    var later = function () {
      if (timer) clearTimeout(timer);
      timer = setTimeout(send, 800);
    };

    form.addEventListener("input", later);
    form.addEventListener("change", later);
    form.addEventListener("submit", function () { if (timer) clearTimeout(timer); timer = null; });
    document.addEventListener("ivr:before-logout", function () { if (timer) clearTimeout(timer); send(true); });
    window.addEventListener("pagehide", function () { if (timer) { clearTimeout(timer); send(true); } });
    lastSent = current();  // what the page came with is already kept (or empty)
  }

  // Call status ------------------------------------------------------------------------------
  var box = document.getElementById("call-status");
  if (box) {
    var statusUrl = box.getAttribute("data-status-url");
    var text = document.getElementById("call-text");
    var next = document.getElementById("call-next");
    var polling = false;

    var show = function (status) {
      if (!status) return;
      box.hidden = false;
      box.className = "call-status tone-" + status.tone;
      box.setAttribute("data-state", status.state);
      if (text.textContent !== status.text) text.textContent = status.text;
      if (next.textContent !== status.next) next.textContent = status.next;
    };

    var poll = function () {
      fetch(statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          if (r.status === 401) { polling = false; document.dispatchEvent(new CustomEvent("ivr:logged-out")); return null; }
          return r.json();
        })
        .then(function (j) {
          if (!j) return;
          show(j.status);
          if (j.status && j.status.active) {
            activity(j.seconds_left);  // on a call: that is work, not idleness
            setTimeout(poll, 2000);
          } else {
            polling = false;
            box.setAttribute("data-active", "");
          }
        })
        .catch(function () { setTimeout(poll, 5000); });
    };

    if (box.getAttribute("data-active") === "1") {
      polling = true;
      setTimeout(poll, 2000);
    }
  }
})();
