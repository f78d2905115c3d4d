// Shrink photos in the browser before upload: a 4 MB phone photo becomes ~400 KB, which
// matters on weak market Wi-Fi. Progressive enhancement only: any failure sends the originals.
(function () {
  "use strict";
  var LONG_SIDE = 2048, QUALITY = 0.85, SMALL_ENOUGH = 600 * 1024;

  function shrink(file) {
    if (!/^image\/(jpeg|png|webp)$/.test(file.type) || file.size <= SMALL_ENOUGH) {
      return Promise.resolve(file);
    }
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      var scale = Math.min(1, LONG_SIDE / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      var context = canvas.getContext("2d");
      context.fillStyle = "#fff";
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          var name = file.name.replace(/\.[^.]*$/, "") + ".jpg";
          resolve(blob && blob.size < file.size ? new File([blob], name, { type: "image/jpeg" }) : file);
        }, "image/jpeg", QUALITY);
      });
    });
  }

  function enhance(form) {
    var input = form.querySelector("input[type=file]");
    if (!input || !window.createImageBitmap || !window.DataTransfer) return;
    form.addEventListener("submit", function (event) {
      if (form.dataset.shrunk || !input.files.length) return;
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      Promise.all(Array.prototype.map.call(input.files, shrink)).then(function (files) {
        var list = new DataTransfer();
        files.forEach(function (file) { list.items.add(file); });
        input.files = list.files;
      }).catch(function () { /* send the originals */ }).then(function () {
        form.dataset.shrunk = "1";
        if (button) button.disabled = false;
        form.submit();
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[enctype='multipart/form-data']"), enhance);
})();
