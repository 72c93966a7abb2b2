// Drag and drop a PDF on the verification form: the dropped file goes
// into the form's file input and the form is sent. Without script the
// file input works alone.
(function () {
  "use strict";
  var drop = document.getElementById("drop");
  var input = document.getElementById("file");
  var form = document.getElementById("upload");
  if (!drop || !input || !form) { return; }
  ["dragenter", "dragover"].forEach(function (ev) {
    drop.addEventListener(ev, function (e) { e.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (ev) {
    drop.addEventListener(ev, function (e) { e.preventDefault(); drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (e) {
    if (!e.dataTransfer || e.dataTransfer.files.length === 0) { return; }
    input.files = e.dataTransfer.files;
    form.submit();
  });
  input.addEventListener("change", function () { if (input.files.length > 0) { form.submit(); } });
})();
