// 网上支付: hand the browser to the provider once, then poll our status until the payment is verified.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("provider-form");
  if (form && form.dataset.auto === "1") {
    form.submit();
    return;
  }
  var link = document.getElementById("provider-link");
  if (link && link.dataset.auto === "1") {
    window.location.assign(link.href);
    return;
  }
  var box = document.getElementById("payment-status");
  if (!box || !window.fetch) { return; }
  var started = Date.now();
  var limit = 30 * 60 * 1000;
  function show(text) { box.textContent = "当前状态：" + text; }
  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (s && s.paid) {
          show(s.state_label + "，正在返回…");
          setTimeout(function () { window.location.assign(box.dataset.doneUrl); }, 1500);
          return;
        }
        if (s && !s.open) { show(s.state_label + "，请返回重新发起支付"); return; }
        if (s) { show(s.state_label); }
        if (Date.now() - started < limit) { setTimeout(poll, 3000); }
      })
      .catch(function () { if (Date.now() - started < limit) { setTimeout(poll, 5000); } });
  }
  setTimeout(poll, 3000);
});
