// The "try it" phone on the flow pages: plays the draft through the real flow engine (POST .../try).
// The draft is the YAML box's text in the YAML view, or the hidden copy of the draft in the visual editor.
(function () {
  "use strict";
  var box = document.getElementById("tryit");
  if (!box) return;
  var text = document.getElementById("flow-text");

  var post = window.ivrPost;

  // Try it ---------------------------------------------------------------------------
  var log = document.getElementById("tryit-log");
  var callBtn = document.getElementById("tryit-call");
  var hangBtn = document.getElementById("tryit-hangup");
  var keys = document.querySelectorAll("#tryit .key");
  var speech = document.getElementById("tryit-speech");
  var sayBtn = document.getElementById("tryit-say");
  var silenceBtn = document.getElementById("tryit-silence");
  var dialBox = document.getElementById("tryit-dial");
  var recordBox = document.getElementById("tryit-record");
  var hours = document.getElementById("tryit-hours");
  var call = null; // {state, text}
  var callId = 0; // a reply for an earlier call (after Hang up) is dropped

  function line(kind, msg) {
    var li = document.createElement("li");
    li.className = "heard-" + kind;
    li.textContent = msg;
    log.appendChild(li);
    li.scrollIntoView({ block: "nearest" });
  }

  function setWaiting(waiting) {
    var gather = waiting === "gather";
    Array.prototype.forEach.call(keys, function (k) { k.disabled = !gather; });
    speech.disabled = sayBtn.disabled = silenceBtn.disabled = !gather;
    dialBox.hidden = waiting !== "dial";
    recordBox.hidden = waiting !== "record";
    hangBtn.disabled = !waiting || waiting === "ended";
    callBtn.disabled = !!waiting && waiting !== "ended";
    log.dataset.waiting = waiting || "";
  }

  function turn(action, label) {
    if (label) line("caller", label);
    var body = { text: call ? call.text : text.value, state: call ? call.state : null, action: action || {}, hours: hours.value };
    var mine = callId;
    post(box.dataset.tryUrl, body).then(function (data) {
      if (mine !== callId) return;
      if (data.error) {
        line("error", data.error);
        (data.issues || []).slice(0, 3).forEach(function (i) { line("error", (i.line ? "Line " + i.line + ": " : "") + i.message); });
        call = null;
        setWaiting("");
        return;
      }
      data.heard.forEach(function (h) {
        var prefix = h.kind === "say" ? (h.recorded ? "🔊 (recording) " : "🔊 ") : "";
        line(h.kind, prefix + h.text);
      });
      if (data.waiting === "ended") {
        line("end", "Call ended" + (data.outcome ? " (" + data.outcome + ")" : "") + ".");
        call = null;
      } else {
        call = { state: data.state, text: body.text };
      }
      setWaiting(data.waiting);
    }).catch(function () { line("error", "The try-it phone lost its connection."); });
  }

  callBtn.addEventListener("click", function () {
    log.innerHTML = "";
    call = null;
    callId++;
    line("caller", "📞 Calling the draft…");
    turn(null, "");
  });
  hangBtn.addEventListener("click", function () { call = null; callId++; line("end", "You hung up."); setWaiting(""); });
  Array.prototype.forEach.call(keys, function (k) {
    k.addEventListener("click", function () { turn({ kind: "press", digits: k.dataset.key }, "You press " + k.dataset.key); });
  });
  sayBtn.addEventListener("click", function () {
    var words = speech.value.trim();
    if (!words) return;
    speech.value = "";
    turn({ kind: "say", speech: words }, "You say “" + words + "”");
  });
  speech.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); sayBtn.click(); } });
  silenceBtn.addEventListener("click", function () { turn({ kind: "silence" }, "You stay silent"); });
  Array.prototype.forEach.call(dialBox.querySelectorAll("button"), function (b) {
    b.addEventListener("click", function () { turn({ kind: "dial", status: b.dataset.dial }, b.textContent); });
  });
  Array.prototype.forEach.call(recordBox.querySelectorAll("button"), function (b) {
    b.addEventListener("click", function () { turn({ kind: "record", empty: b.dataset.record === "empty" }, b.textContent); });
  });
  setWaiting("");
})();
