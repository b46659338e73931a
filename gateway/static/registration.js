// Small local script of the registration pages; every page works without it (the server enforces).
document.addEventListener("DOMContentLoaded", function () {
  // 报考须知: the button counts down from the server's remaining reading time.
  var button = document.querySelector("button[data-countdown]");
  if (button) {
    var left = parseInt(button.dataset.countdown, 10) || 0;
    var label = button.dataset.label;
    var tick = function () {
      if (left > 0) {
        button.disabled = true;
        button.textContent = label + "（" + left + "秒）";
        left -= 1;
        window.setTimeout(tick, 1000);
      } else {
        button.disabled = false;
        button.textContent = label;
      }
    };
    tick();
  }

  // 个人简历: add and remove rows in place instead of a round trip.
  var rows = document.getElementById("resume-rows");
  var add = document.getElementById("add-row");
  if (rows && add) {
    var renumber = function () {
      Array.prototype.forEach.call(rows.querySelectorAll("tr.resume-row"), function (tr, i) {
        Array.prototype.forEach.call(tr.querySelectorAll("input"), function (input) {
          input.name = input.name.replace(/^resume-\d+-/, "resume-" + i + "-");
          // Screen readers hear "第N行起始年月": keep N right after rows come and go.
          var label = input.getAttribute("aria-label");
          if (label) { input.setAttribute("aria-label", label.replace(/^第\d+行/, "第" + (i + 1) + "行")); }
        });
        var remove = tr.querySelector(".remove-row");
        if (remove) { remove.value = i; remove.setAttribute("aria-label", "删除第" + (i + 1) + "行"); }
      });
    };
    add.addEventListener("click", function (event) {
      var all = rows.querySelectorAll("tr.resume-row");
      if (all.length === 0 || all.length >= 20) { return; }
      event.preventDefault();
      var copy = all[all.length - 1].cloneNode(true);
      Array.prototype.forEach.call(copy.querySelectorAll("input"), function (input) {
        input.value = "";
        input.removeAttribute("aria-invalid");
        input.removeAttribute("aria-describedby");
      });
      Array.prototype.forEach.call(copy.querySelectorAll(".error"), function (e) { e.remove(); });
      Array.prototype.forEach.call(copy.querySelectorAll(".has-error"), function (e) { e.classList.remove("has-error"); });
      rows.appendChild(copy);
      renumber();
      copy.querySelector("input").focus();
    });
    rows.addEventListener("click", function (event) {
      var target = event.target;
      if (!target.classList.contains("remove-row")) { return; }
      var all = rows.querySelectorAll("tr.resume-row");
      if (all.length <= 1) { return; }
      event.preventDefault();
      target.closest("tr").remove();
      renumber();
      add.focus(); // the focused button is gone: keep the keyboard user in the table's neighbourhood
    });
  }
});
