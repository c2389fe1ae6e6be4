// Drag and drop onto the upload form: dropped files go into the file input,
// so the form submits exactly as it does without JavaScript.
(function () {
  const zone = document.getElementById("dropzone");
  const input = document.getElementById("id_files");
  const chosen = document.getElementById("chosen");
  if (!zone || !input) return;
  const show = () => {
    const names = Array.from(input.files).map((f) => f.name);
    chosen.textContent = names.length ? names.length + " file(s): " + names.join(", ") : "";
  };
  ["dragenter", "dragover"].forEach((type) =>
    zone.addEventListener(type, (event) => { event.preventDefault(); zone.classList.add("over"); }));
  ["dragleave", "drop"].forEach((type) =>
    zone.addEventListener(type, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    const transfer = new DataTransfer();
    Array.from(input.files).forEach((f) => transfer.items.add(f));
    Array.from(event.dataTransfer.files).forEach((f) => transfer.items.add(f));
    input.files = transfer.files;
    show();
  });
  input.addEventListener("change", show);
})();
