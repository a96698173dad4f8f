// The visual flow editor's picture: bring the selected step's box into view, and let an arrow be dragged
// onto another step to send that way out there (the step forms do the same with the keyboard).
// A choice just added (or a new prompt refused): its first field has the focus, in view, so the
// keyboard goes on where the manager is.
(function () {
  "use strict";
  var target = document.querySelector("fieldset.choice[data-opened]") ||
    document.querySelector("#new-prompt[open] [aria-invalid]");
  if (!target) return;
  var field = target.matches("select, input, textarea") ? target : target.querySelector("select, input, textarea");
  if (!field) return;
  // After the page's own scroll to its #fragment, which would leave the focus on the page itself.
  window.addEventListener("load", function () {
    setTimeout(function () { field.focus(); field.scrollIntoView({block: "center"}); }, 0);
  });
})();

(function () {
  "use strict";
  var box = document.getElementById("picture");
  if (!box) return;

  // The selected step, centred in the picture's scroll region.
  if (box.dataset.selected) {
    var boxes = box.querySelectorAll("g.node[data-node]");
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].getAttribute("data-node") !== box.dataset.selected) continue;
      var r = boxes[i].getBoundingClientRect(), b = box.getBoundingClientRect();
      box.scrollLeft += r.left - b.left - (box.clientWidth - r.width) / 2;
      box.scrollTop += r.top - b.top - (box.clientHeight - r.height) / 2;
      break;
    }
  }

  // Drag an arrow onto a step: a real form POST (CSRF token, the draft's version), so the page reloads
  // with the change saved in the draft and the validator's word on it.
  var url = box.dataset.reconnectUrl, base = box.dataset.base;
  var svg = box.querySelector("svg.flow-picture");
  if (!url || !svg) return;
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var dragging = null, line = null, over = null;

  function point(e) {
    var p = svg.createSVGPoint();
    p.x = e.clientX; p.y = e.clientY;
    return p.matrixTransform(svg.querySelector("g.graph").getScreenCTM().inverse());
  }
  function nodeAt(e) {
    var el = document.elementFromPoint(e.clientX, e.clientY);
    return el && el.closest ? el.closest("g.node[data-node]") : null;
  }
  function mark(node) {
    if (over) over.classList.remove("drop-target");
    over = node && node.getAttribute("data-node") !== dragging.getAttribute("data-from") ? node : null;
    if (over) over.classList.add("drop-target");
  }
  function submit(edge, target) {
    var form = document.createElement("form");
    form.method = "post";
    form.action = url.replace("__NODE__", encodeURIComponent(edge.getAttribute("data-from")));
    var fields = { csrf_token: token, base: base, field: edge.getAttribute("data-field"), target: target };
    Object.keys(fields).forEach(function (k) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = k; input.value = fields[k];
      form.appendChild(input);
    });
    document.body.appendChild(form);
    form.submit();
  }

  Array.prototype.forEach.call(svg.querySelectorAll("g.edge[data-field]"), function (edge) {
    edge.classList.add("draggable");
    edge.addEventListener("pointerdown", function (e) {
      if (e.button !== 0) return;
      e.preventDefault();
      dragging = edge;
      var at = point(e);
      line = document.createElementNS("http://www.w3.org/2000/svg", "line");
      line.setAttribute("class", "drag-line");
      line.setAttribute("x1", at.x); line.setAttribute("y1", at.y);
      line.setAttribute("x2", at.x); line.setAttribute("y2", at.y);
      svg.querySelector("g.graph").appendChild(line);
      edge.classList.add("dragging");
    });
  });
  document.addEventListener("pointermove", function (e) {
    if (!dragging) return;
    var at = point(e);
    line.setAttribute("x2", at.x); line.setAttribute("y2", at.y);
    mark(nodeAt(e));
  });
  document.addEventListener("pointerup", function (e) {
    if (!dragging) return;
    var edge = dragging, target = nodeAt(e);
    dragging = null;
    if (line) line.remove();
    edge.classList.remove("dragging");
    if (over) over.classList.remove("drop-target");
    over = null;
    if (!target) return;
    var name = target.getAttribute("data-node");
    if (name === edge.getAttribute("data-to") || target.classList.contains("kind-missing")) return;
    submit(edge, name);
  });
})();
