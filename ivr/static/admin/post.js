// JSON POST for the admin pages' scripts (same-origin cookie, CSRF token from the page's meta tag).
// Gives the reply's JSON with its HTTP status as _status.
window.ivrPost = function (url, body) {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": token },
    body: JSON.stringify(body)
  }).then(function (resp) {
    return resp.json().then(function (data) { data._status = resp.status; return data; });
  });
};
