// The flow's YAML view: line numbers with error markers, validation as you type (debounced),
// and the picture updated from the same check. Plain JS, no build step. The phone is tryit.js.
(function () {
  "use strict";
  var form = document.getElementById("flow-form");
  if (!form) return;
  var text = document.getElementById("flow-text");
  var gutter = document.getElementById("gutter");
  var issuesList = document.getElementById("issues");
  var state = document.getElementById("check-state");
  var picture = document.getElementById("picture");
  var errorLines = {};

  var post = window.ivrPost;

  // Line numbers and error markers -------------------------------------------------
  function drawGutter() {
    var count = text.value.split("\n").length;
    var parts = [];
    for (var i = 1; i <= count; i++) {
      var msg = errorLines[i];
      parts.push('<div class="ln' + (msg ? ' has-error' : '') + '" data-line="' + i + '"' +
        (msg ? ' title="' + escapeHtml(msg) + '"' : '') + '>' + (msg ? '● ' : '') + i + '</div>');
    }
    gutter.innerHTML = parts.join("");
    gutter.scrollTop = text.scrollTop;
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function showIssues(issues) {
    errorLines = {};
    issuesList.innerHTML = "";
    issues.forEach(function (i) {
      var li = document.createElement("li");
      li.dataset.line = i.line || "";
      if (i.line) {
        var go = document.createElement("button");
        go.type = "button";
        go.className = "go-line";
        go.textContent = "Line " + i.line;
        li.appendChild(go);
        li.appendChild(document.createTextNode(": "));
      }
      li.appendChild(document.createTextNode((i.node ? "node '" + i.node + "': " : "") + i.message));
      issuesList.appendChild(li);
      if (i.line) errorLines[i.line] = (errorLines[i.line] ? errorLines[i.line] + "; " : "") + i.message;
    });
    state.textContent = issues.length
      ? issues.length + " problem" + (issues.length === 1 ? "" : "s") + ": it cannot be published yet."
      : "Valid.";
    state.classList.toggle("bad", issues.length > 0);
    drawGutter();
  }

  function goToLine(n) {
    var lines = text.value.split("\n");
    var start = 0;
    for (var i = 0; i < n - 1 && i < lines.length; i++) start += lines[i].length + 1;
    text.focus();
    text.setSelectionRange(start, start + (lines[n - 1] || "").length);
  }

  // Initial markers from the server-rendered list.
  Array.prototype.forEach.call(issuesList.querySelectorAll("li"), function (li) {
    var n = parseInt(li.dataset.line, 10);
    if (n) {
      errorLines[n] = (errorLines[n] ? errorLines[n] + "; " : "") + li.textContent;
      li.addEventListener("click", function () { goToLine(n); });
    }
  });
  drawGutter();

  var timer = null, seq = 0;
  function check() {
    var mine = ++seq;
    state.textContent = "Checking…";
    post(form.dataset.checkUrl, { text: text.value }).then(function (data) {
      if (mine !== seq) return; // a newer check is on its way
      showIssues(data.issues || []);
      if (data.svg) picture.innerHTML = data.svg;
    }).catch(function () {
      if (mine === seq) state.textContent = "Could not check the flow (connection lost?)";
    });
  }
  text.addEventListener("input", function () {
    drawGutter();
    clearTimeout(timer);
    timer = setTimeout(check, 400);
  });
  text.addEventListener("scroll", function () { gutter.scrollTop = text.scrollTop; });
  // An issue's "Line N" button (also those drawn by the server) puts the cursor on that line.
  issuesList.addEventListener("click", function (e) {
    var go = e.target.closest ? e.target.closest("button.go-line") : null;
    var li = go && go.closest("li[data-line]");
    if (li && li.dataset.line) goToLine(parseInt(li.dataset.line, 10));
  });
  // Tab indents (two spaces, as YAML wants), except right after Esc: then Tab leaves the editor,
  // so the keyboard is never trapped in it (WCAG 2.1.2). The hint under the box says so.
  var released = false;
  text.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { released = true; return; }
    if (e.key === "Tab" && released) { released = false; return; }
    released = false;
    if (e.key === "Tab" && !e.shiftKey) {
      e.preventDefault();
      var s = text.selectionStart;
      text.setRangeText("  ", s, text.selectionEnd, "end");
      text.dispatchEvent(new Event("input"));
    }
  });
  // Text typed (or pasted) before this script ran, on a slow connection, is checked now.
  if (text.value !== text.defaultValue) check();
})();
