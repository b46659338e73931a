// Small local script: captcha refresh. Pages work without it.
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
});
