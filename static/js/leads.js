// Lead list: "tick all" for bulk assignment, and a count of the ticked leads beside the button.
(() => {
  function boxes() {
    return Array.from(document.querySelectorAll('input[name="leads"][form="lead-bulk-form"]:not(:disabled)'));
  }

  function showCount() {
    const counter = document.querySelector("[data-bulk-count]");
    if (!counter) return;
    const ticked = boxes().filter((box) => box.checked).length;
    counter.textContent = ticked ? `✓ ${ticked}` : "";
  }

  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-select-all]")) {
      boxes().forEach((box) => {
        box.checked = event.target.checked;
      });
    }
    if (event.target.matches("[data-select-all], input[name='leads']")) showCount();
  });

  document.addEventListener("submit", (event) => {
    // Assigning nothing would only show an error after a round trip.
    if (event.target.id === "lead-bulk-form" && !boxes().some((box) => box.checked)) {
      event.preventDefault();
      const counter = document.querySelector("[data-bulk-count]");
      if (counter) counter.textContent = counter.dataset.emptyMessage || "";
    }
  });
})();
