// 志愿信息 pages: the institution and major dialogs, 清空, and the inactivity warning.
// The pages work without this script: select lists, 清空 as a submit button, the server's logout.
(function () {
  "use strict";

  var IDLE_KEY = "zsb-idle-deadline";

  // ---- the 15-minute inactivity logout, announced before it happens ----
  function idleWarning() {
    var box = document.getElementById("idle-warning");
    if (!box) {
      return { touch: function () {}, showing: function () { return false; } };
    }
    var warnAt = parseInt(box.dataset.warnSeconds, 10) || 120;
    var deadline = Date.now() + (parseInt(box.dataset.idleSeconds, 10) || 0) * 1000;
    var countdown = document.getElementById("idle-countdown");
    var live = document.getElementById("idle-live");
    var button = document.getElementById("idle-continue");
    var shown = false;
    var gone = false;
    var lastPing = Date.now();

    function share() {
      // Every tab of this browser shares one session: a later deadline seen in one counts in all.
      try {
        var other = parseInt(localStorage.getItem(IDLE_KEY) || "0", 10);
        if (other > deadline) { deadline = other; } else { localStorage.setItem(IDLE_KEY, String(deadline)); }
      } catch (e) { /* storage may be disabled: this tab keeps its own deadline */ }
    }
    window.addEventListener("storage", function (ev) {
      var d = parseInt(ev.newValue || "0", 10);
      if (ev.key === IDLE_KEY && d > deadline) { deadline = d; tick(); }
    });

    function hide() {
      if (shown) { box.hidden = true; shown = false; live.textContent = ""; }
    }

    function ping() {
      lastPing = Date.now();
      return fetch(box.dataset.keepaliveUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
        .then(function (data) { deadline = Date.now() + data.idle_seconds * 1000; share(); tick(); })
        .catch(function () { /* logged out already: the countdown sends the page to the login */ });
    }

    function tick() {
      if (gone) { return; }
      var left = Math.round((deadline - Date.now()) / 1000);
      if (left <= -2) {  // two seconds' grace: the server's clock decides, not this one
        // Once only: a second request would arrive without the cookie the first one cleared, and
        // the login page would say "please log in" instead of why the candidate was logged out.
        gone = true;
        window.clearInterval(timer);
        window.location.assign(box.dataset.expiredUrl);
        return;
      }
      if (left > warnAt) { hide(); return; }
      var s = Math.max(left, 0);
      countdown.textContent = Math.floor(s / 60) + "分" + (s % 60 < 10 ? "0" : "") + (s % 60) + "秒";
      if (!shown) {
        shown = true;
        var dialog = document.getElementById("pref-dialog");
        if (dialog && dialog.open) { dialog.close(); }
        box.hidden = false;
        live.textContent = "您已较长时间未操作，约" + Math.max(Math.ceil(s / 60), 1) +
          "分钟后将自动退出登录，未确认提交的志愿不会保存。如需继续，请点击“继续填报”。";
        button.focus();
      }
    }

    button.addEventListener("click", function () { ping(); });
    share();
    var timer = window.setInterval(tick, 1000);
    tick();
    return {
      // Working in the page (choosing in the dialogs) is activity: tell the server, at most once a minute.
      touch: function () { if (Date.now() - lastPing > 60000) { ping(); } },
      showing: function () { return shown; }
    };
  }

  // ---- the form: boxes and dialogs over the select lists ----
  function enhanceForm(idle) {
    var form = document.getElementById("pref-form");
    var dialog = document.getElementById("pref-dialog");
    if (!form || !dialog || typeof dialog.showModal !== "function") {
      return;  // no <dialog> support: the select lists stay
    }
    var rowsBody = document.getElementById("pref-dialog-rows");
    var search = document.getElementById("pref-dialog-search");
    var title = document.getElementById("pref-dialog-title");
    var empty = document.getElementById("pref-dialog-empty");
    var count = document.getElementById("pref-dialog-count");
    var live = document.getElementById("idle-live");
    var slots = [];
    var state = { slot: "", kind: "", opener: null, next: null };
    var submitting = false;

    function el(id) { return document.getElementById(id); }
    function parts(slot) {
      return {
        inst: el("inst-" + slot), major: el("major-" + slot),
        instBox: el("inst-" + slot + "-box"), majorBox: el("major-" + slot + "-box")
      };
    }

    function institutions() {
      var out = [];
      Array.prototype.forEach.call(el("inst-A").options, function (o) {
        if (o.value) { out.push({ code: o.value, name: o.dataset.name || "" }); }
      });
      return out;
    }

    function majors(inst) {
      var out = [];
      Array.prototype.forEach.call(el("major-A").querySelectorAll("optgroup"), function (g) {
        if (g.dataset.institution !== inst) { return; }
        Array.prototype.forEach.call(g.querySelectorAll("option"), function (o) {
          out.push({ code: o.dataset.code, name: o.dataset.name || "" });
        });
      });
      return out;
    }

    function chosenInstitution(slot) {
      var select = parts(slot).inst;
      var option = select.options[select.selectedIndex];
      return select.value ? { code: select.value, name: option.dataset.name || "" } : null;
    }

    function chosenMajor(slot) {
      var p = parts(slot);
      var option = p.major.options[p.major.selectedIndex];
      if (!p.major.value || p.major.value.split("|")[0] !== p.inst.value) { return null; }
      return { code: option.dataset.code, name: option.dataset.name || "" };
    }

    function show(slot) {
      var p = parts(slot);
      var label = "平行志愿" + slot;
      var inst = chosenInstitution(slot);
      var major = chosenMajor(slot);
      p.instBox.textContent = inst ? inst.code + " " + inst.name : "请选择院校";
      p.instBox.classList.toggle("empty", !inst);
      p.instBox.setAttribute("aria-label", label + "院校：" + (inst ? inst.code + " " + inst.name : "未选择") + "。点击选择院校");
      p.majorBox.disabled = !inst;
      p.majorBox.textContent = !inst ? "请先选择院校" : (major ? major.code + " " + major.name : "请选择专业");
      p.majorBox.classList.toggle("empty", !major);
      p.majorBox.setAttribute("aria-label", label + "专业：" + (major ? major.code + " " + major.name : "未选择") +
        (inst ? "。点击选择专业" : "。请先选择院校"));
    }

    function visiblePicks() {
      return Array.prototype.filter.call(rowsBody.querySelectorAll("tr"), function (tr) { return !tr.hidden; })
        .map(function (tr) { return tr.querySelector("button"); });
    }

    function filter() {
      var q = search.value.trim().toLowerCase();
      var shownRows = 0;
      Array.prototype.forEach.call(rowsBody.querySelectorAll("tr"), function (tr) {
        tr.hidden = q !== "" && tr.dataset.search.indexOf(q) < 0;
        if (!tr.hidden) { shownRows += 1; }
      });
      empty.hidden = shownRows > 0;
      count.textContent = "共" + shownRows + "项";
    }

    function render(items, current) {
      rowsBody.textContent = "";
      items.forEach(function (item) {
        var tr = document.createElement("tr");
        tr.dataset.search = (item.code + " " + item.name).toLowerCase();
        var code = document.createElement("td");
        code.textContent = item.code;
        var name = document.createElement("td");
        name.textContent = item.name + (item.code === current ? "（已选）" : "");
        var cell = document.createElement("td");
        var pick = document.createElement("button");
        pick.type = "button";
        pick.className = "secondary pref-pick";
        pick.id = "pick-" + item.code;
        pick.dataset.code = item.code;
        pick.textContent = "选择";
        pick.setAttribute("aria-label", "选择 " + item.code + " " + item.name);
        if (item.code === current) { tr.className = "chosen"; pick.setAttribute("aria-current", "true"); }
        cell.appendChild(pick);
        tr.appendChild(code);
        tr.appendChild(name);
        tr.appendChild(cell);
        rowsBody.appendChild(tr);
      });
      search.value = "";
      filter();
    }

    function open(kind, slot, opener) {
      var inst = chosenInstitution(slot);
      var major = chosenMajor(slot);
      state = { slot: slot, kind: kind, opener: opener, next: null };
      dialog.dataset.kind = kind;
      dialog.dataset.slot = slot;
      if (kind === "institution") {
        title.textContent = "平行志愿" + slot + "：选择院校";
        render(institutions(), inst ? inst.code : "");
      } else {
        title.textContent = "平行志愿" + slot + "：选择" + inst.code + " " + inst.name + "的专业";
        render(majors(inst.code), major ? major.code : "");
      }
      dialog.showModal();
      var picks = visiblePicks();
      var current = rowsBody.querySelector("button[aria-current]");
      (current || picks[0] || search).focus();
      idle.touch();
    }

    function choose(code) {
      var p = parts(state.slot);
      if (state.kind === "institution") {
        if (p.inst.value !== code) { p.inst.value = code; p.major.value = ""; }
      } else {
        p.major.value = p.inst.value + "|" + code;
      }
      show(state.slot);
      state.next = p.majorBox;  // after the institution comes its major; after the major, stay there
      dialog.close();
      idle.touch();
    }

    rowsBody.addEventListener("click", function (ev) {
      var pick = ev.target.closest("button.pref-pick");
      if (pick) { choose(pick.dataset.code); }
    });
    search.addEventListener("input", filter);
    dialog.addEventListener("keydown", function (ev) {
      var picks = visiblePicks();
      var i = picks.indexOf(document.activeElement);
      var to = null;
      if (ev.key === "ArrowDown") { to = picks[Math.min(i + 1, picks.length - 1)]; }
      else if (ev.key === "ArrowUp") { to = i <= 0 ? search : picks[i - 1]; }
      else if (ev.key === "Home" && i >= 0) { to = picks[0]; }
      else if (ev.key === "End" && i >= 0) { to = picks[picks.length - 1]; }
      else if (ev.key === "Enter" && document.activeElement === search) { to = picks[0]; }
      if (to) { ev.preventDefault(); to.focus(); }
    });
    dialog.addEventListener("click", function (ev) {
      if (ev.target === dialog) { dialog.close(); }  // a click on the backdrop
    });
    el("pref-dialog-close").addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () {
      var target = state.next && !state.next.disabled ? state.next : state.opener;
      if (target && !idle.showing()) { target.focus(); }
    });

    Array.prototype.forEach.call(form.querySelectorAll("tr[data-slot]"), function (tr) {
      var slot = tr.dataset.slot;
      var p = parts(slot);
      slots.push(slot);
      if (p.major.value && p.major.value.split("|")[0] !== p.inst.value) { p.major.value = ""; }
      p.instBox.hidden = false;
      p.majorBox.hidden = false;
      p.instBox.addEventListener("click", function () { open("institution", slot, p.instBox); });
      p.majorBox.addEventListener("click", function () { if (p.inst.value) { open("major", slot, p.majorBox); } });
      el("clear-" + slot).addEventListener("click", function (ev) {
        ev.preventDefault();  // without the script this button asks the server to empty the row
        p.inst.value = "";
        p.major.value = "";
        show(slot);
        p.instBox.focus();
        live.textContent = "已清空平行志愿" + slot + "（尚未保存）";
        idle.touch();
      });
      show(slot);
    });
    form.classList.add("pref-enhanced");
    form.addEventListener("submit", function (ev) {
      if (submitting) { ev.preventDefault(); return; }  // a second click: the first is on its way
      submitting = true;
    });
    window.addEventListener("pageshow", function () { submitting = false; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhanceForm(idleWarning());
  });
})();
