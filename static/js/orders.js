// Order form: add and remove lines, fill a line's price and cost from the chosen product, and show
// line amounts and the order's total and gross profit as the rep types. Without JavaScript the form
// still works: blank prices take the product's price on the server and "Remove" is a checkbox.
(function () {
  "use strict";

  const form = document.querySelector("form.order-form");
  if (!form) return;
  const editor = form.querySelector(".order-lines-editor");
  const template = document.getElementById("order-line-template");
  const prefix = editor.dataset.prefix;
  const totalForms = form.querySelector(`input[name="${prefix}-TOTAL_FORMS"]`);
  const lang = document.documentElement.lang || undefined;
  const money = new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function number(text) {
    const value = parseFloat(String(text).replace(/,/g, ""));
    return Number.isFinite(value) ? value : null;
  }

  function chosenProduct(line) {
    const select = line.querySelector("select.line-product");
    return select && select.value ? select.selectedOptions[0] : null;
  }

  // The line's amount and cost as the server will compute them (blank price: the product's).
  function lineFigures(line) {
    if (line.classList.contains("d-none")) return null;
    const option = chosenProduct(line);
    const quantity = number(line.querySelector(".line-quantity").value);
    const typed = number(line.querySelector(".line-price").value);
    const price = typed !== null ? typed : option ? number(option.dataset.price) : null;
    if (quantity === null || price === null) return null;
    const unitCost = line.dataset.keptCost !== undefined && line.dataset.keptProduct === (option && option.value)
      ? number(line.dataset.keptCost)
      : option ? number(option.dataset.cost) : 0;
    return { amount: quantity * price, cost: quantity * (unitCost || 0) };
  }

  function refresh() {
    let amount = 0;
    let profit = 0;
    editor.querySelectorAll(".order-line").forEach((line) => {
      const figures = lineFigures(line);
      line.querySelector(".line-amount").textContent = figures ? money.format(figures.amount) : "—";
      line.querySelector(".line-cost").textContent = figures ? money.format(figures.cost) : "—";
      if (figures) {
        amount += figures.amount;
        profit += figures.amount - figures.cost;
      }
    });
    form.querySelector(".order-total-amount").textContent = money.format(amount);
    form.querySelector(".order-total-profit").textContent = money.format(profit);
  }

  function enhance(line) {
    // With JavaScript, a button replaces the "Remove" checkbox (which it ticks).
    line.querySelector(".line-delete").classList.add("d-none");
    line.querySelector(".remove-line").classList.remove("d-none");
    const price = line.querySelector(".line-price");
    const option = chosenProduct(line);
    // Remember the product the price was filled from, so that a later change of product refills it.
    price.dataset.filledFrom = option && price.value && number(price.value) === number(option.dataset.price) ? option.value : "";
  }

  editor.addEventListener("change", (event) => {
    const select = event.target.closest("select.line-product");
    if (!select) return;
    const line = select.closest(".order-line");
    const price = line.querySelector(".line-price");
    const option = chosenProduct(line);
    // Fill the price from the product unless the rep typed their own.
    if (option && (!price.value || price.dataset.filledFrom)) {
      price.value = option.dataset.price;
      price.dataset.filledFrom = option.value;
    }
    refresh();
  });

  editor.addEventListener("input", (event) => {
    if (event.target.matches(".line-price")) event.target.dataset.filledFrom = "";
    refresh();
  });

  editor.addEventListener("click", (event) => {
    const button = event.target.closest(".remove-line");
    if (!button) return;
    const line = button.closest(".order-line");
    line.querySelector('input[type="checkbox"][name$="-DELETE"]').checked = true;
    line.classList.add("d-none");
    refresh();
  });

  const addButton = form.querySelector(".add-line");
  addButton.classList.remove("d-none");
  addButton.addEventListener("click", () => {
    const index = Number(totalForms.value);
    const html = template.innerHTML.replace(/__prefix__/g, String(index));
    editor.insertAdjacentHTML("beforeend", html);
    totalForms.value = String(index + 1);
    const line = editor.lastElementChild;
    enhance(line);
    line.querySelector("select.line-product").focus();
    refresh();
  });

  editor.querySelectorAll(".order-line").forEach(enhance);
  refresh();
})();
