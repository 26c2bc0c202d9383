// Kanban pipeline: drag a card to another stage (SortableJS), which submits the card's own
// "move to" form through htmx; the server answers with the refreshed board. Without JavaScript
// the same forms post normally. Dropping on a lost stage first asks for the reason.
(function () {
  "use strict";

  let pending = null; // {form, item, from, oldIndex} while the lost-reason dialog is open

  function putBack(state) {
    const ref = state.from.children[state.oldIndex] || null;
    state.from.insertBefore(state.item, ref);
  }

  function lostModal() {
    const element = document.getElementById("lost-reason-modal");
    return element && window.bootstrap ? window.bootstrap.Modal.getOrCreateInstance(element) : null;
  }

  function askLostReason(state) {
    const modal = lostModal();
    if (!modal) {
      // No dialog available: submit without a reason and let the server ask for it.
      state.form.requestSubmit();
      return;
    }
    pending = state;
    document.getElementById("lost-reason-input").value = "";
    modal.show();
  }

  function initBoard(root) {
    if (!window.Sortable) return;
    root.querySelectorAll(".pipeline-cards").forEach((list) => {
      if (list.dataset.sortable) return;
      list.dataset.sortable = "1";
      window.Sortable.create(list, {
        group: "pipeline",
        draggable: ".pipeline-card[data-editable]",
        handle: ".pipeline-card",
        filter: "a, select, button, input, label",
        preventOnFilter: false,
        animation: 150,
        delay: 150,
        delayOnTouchOnly: true,
        onEnd(event) {
          if (event.from === event.to) return;
          const form = event.item.querySelector(".card-move-form");
          if (!form) return;
          const column = event.to.closest(".pipeline-column");
          form.elements.stage.value = event.to.dataset.stage;
          const state = { form, item: event.item, from: event.from, oldIndex: event.oldIndex };
          if (column && column.dataset.lost) {
            askLostReason(state);
          } else {
            form.requestSubmit();
          }
        },
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (window.htmx) {
      window.htmx.onLoad(initBoard);
    } else {
      initBoard(document);
    }

    const modalElement = document.getElementById("lost-reason-modal");
    const reasonForm = document.getElementById("lost-reason-form");
    if (modalElement && reasonForm) {
      reasonForm.addEventListener("submit", (event) => {
        event.preventDefault();
        const reason = document.getElementById("lost-reason-input").value.trim();
        if (!reason || !pending) return;
        const state = pending;
        pending = null;
        state.form.elements.lost_reason.value = reason;
        lostModal().hide();
        state.form.requestSubmit();
      });
      modalElement.addEventListener("hide.bs.modal", () => {
        // Closed without a reason: the card goes back where it was.
        if (pending) {
          const state = pending;
          pending = null;
          state.form.elements.stage.value = state.from.dataset.stage;
          putBack(state);
        }
      });
    }
  });

  // A card's "move to" select set to a lost stage asks for the reason before posting.
  document.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      if (!form.matches || !form.matches(".card-move-form")) return;
      const option = form.elements.stage.selectedOptions[0];
      if (option && option.dataset.lost && !form.elements.lost_reason.value && lostModal()) {
        event.preventDefault();
        event.stopImmediatePropagation();
        const card = form.closest(".pipeline-card");
        const list = card.parentElement;
        askLostReason({ form, item: card, from: list, oldIndex: Array.prototype.indexOf.call(list.children, card) });
      }
    },
    true,
  );

  // Forms marked data-confirm ask before posting (mark won on the opportunity page).
  document.addEventListener("submit", (event) => {
    const message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
