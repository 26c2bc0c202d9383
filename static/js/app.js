// Small behaviours that progressive enhancement adds on top of plain forms.
document.addEventListener("change", (event) => {
  // Selects marked .auto-submit submit their form when changed (a button is offered without JS).
  if (event.target.matches("select.auto-submit")) {
    event.target.form.submit();
  }
});

document.addEventListener("keydown", (event) => {
  // Escape closes the live search results of the top bar.
  if (event.key === "Escape") {
    const results = document.getElementById("global-search-results");
    if (results) results.innerHTML = "";
  }
});

document.addEventListener("click", (event) => {
  const results = document.getElementById("global-search-results");
  if (results && !event.target.closest(".global-search")) results.innerHTML = "";
});
