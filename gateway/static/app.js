// Small local script: captcha refresh, and the admin menu folded on a phone. Pages work without it.
document.addEventListener("DOMContentLoaded", function () {
  var link = document.getElementById("captcha-refresh");
  if (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      fetch(link.dataset.url, { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (c) {
          document.getElementById("captcha-image").src = c.image;
          document.getElementById("captcha_id").value = c.id;
          var input = document.getElementById("captcha");
          input.value = "";
          input.focus();
        });
    });
  }

  // The admin menu has some thirty entries: on a narrow screen it starts folded so the page comes first.
  var menu = document.querySelector("details.admin-menu");
  if (menu && window.matchMedia && window.matchMedia("(max-width: 800px)").matches) {
    menu.open = false;
  }
});
