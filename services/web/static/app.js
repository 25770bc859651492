// dondoc web portal: the only script. A form with files says it is sending and cannot be sent twice; an
// outcome or an error is read out and gets the focus.
document.querySelectorAll("form[data-uploading]").forEach(function (form) {
  form.addEventListener("submit", function () {
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; button.textContent = form.getAttribute("data-uploading"); }
  });
});
var outcome = document.getElementById("ket-qua");
if (outcome) { outcome.focus(); }
