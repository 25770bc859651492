// dondoc web portal: the only script. The chosen files are named in Vietnamese; a form with files says it is
// sending and cannot be sent twice; an outcome or an error is read out and gets the focus.
document.querySelectorAll("form[data-uploading]").forEach(function (form) {
  form.addEventListener("submit", function () {
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; button.textContent = form.getAttribute("data-uploading"); }
  });
});
document.querySelectorAll(".file-pick input[type=file]").forEach(function (input) {
  input.addEventListener("change", function () {
    var names = Array.prototype.map.call(input.files, function (f) { return f.name; });
    input.parentNode.querySelector(".file-names").textContent =
      names.length ? "Đã chọn " + names.length + " tệp: " + names.join("; ") : "";
  });
});
var outcome = document.getElementById("ket-qua");
if (outcome) { outcome.focus(); }
