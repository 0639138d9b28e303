// A Print button for pages made to be printed; without JavaScript the browser's own Print does it.
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
