// The visual flow editor: bring the selected step's box into view inside the picture's scroll region.
(function () {
  "use strict";
  var box = document.getElementById("picture");
  if (!box || !box.dataset.selected) return;
  var boxes = box.querySelectorAll("g.node[data-node]");
  for (var i = 0; i < boxes.length; i++) {
    if (boxes[i].getAttribute("data-node") !== box.dataset.selected) continue;
    var r = boxes[i].getBoundingClientRect(), b = box.getBoundingClientRect();
    box.scrollLeft += r.left - b.left - (box.clientWidth - r.width) / 2;
    box.scrollTop += r.top - b.top - (box.clientHeight - r.height) / 2;
    return;
  }
})();
