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

// Fingerprint a file in the browser (Web Crypto SHA-256) and look the
// hash up in the signature registry: the file itself is not sent.
(function () {
  "use strict";
  var file = document.getElementById("hash-file");
  var out = document.getElementById("sha256");
  var form = document.getElementById("hash-form");
  if (!file || !out || !form || !window.crypto || !window.crypto.subtle) { return; }
  file.addEventListener("change", function () {
    if (file.files.length === 0) { return; }
    file.files[0].arrayBuffer().then(function (buf) {
      return window.crypto.subtle.digest("SHA-256", buf);
    }).then(function (sum) {
      out.value = Array.from(new Uint8Array(sum)).map(function (b) {
        return b.toString(16).padStart(2, "0");
      }).join("");
      form.submit();
    });
  });
})();
