// 身份认证: while a verification runs, poll the status endpoint and reload when it is over.
// Without script the page refreshes itself (<noscript> meta refresh); the server decides everything.
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("identity-status");
  if (!box || !box.dataset.statusUrl) { return; }
  var url = box.dataset.statusUrl;
  var field = function (name) { return box.querySelector('[data-field="' + name + '"]'); };
  var delay = 1500;
  var poll = function () {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (s) {
        // Over: show the result without the "已开始认证" note of the ?done=started address.
        if (!s.verifying) { window.location.replace(window.location.pathname); return; }
        var progress = field("progress");
        if (progress) {
          progress.textContent = s.state === "running" ? "正在比对照片…"
            : (s.queue_position ? "排队中，前面还有" + s.queue_position + "位考生" : "即将开始比对…");
        }
        window.setTimeout(poll, delay);
      })
      .catch(function () { delay = Math.min(delay * 2, 15000); window.setTimeout(poll, delay); });
  };
  window.setTimeout(poll, delay);
});
