// Buttons that cannot be undone ask first: a button with data-confirm="question" submits its form
// only if the admin says yes. (A file, not inline: the pages' Content-Security-Policy allows no inline script.)
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("button[data-confirm]") : null;
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});
