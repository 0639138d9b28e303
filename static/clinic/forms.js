// Data-entry forms: a group marked data-shown-if="<field name>" applies only when that field has a
// value (or one of data-shown-values); otherwise it is hidden and disabled, so it is not sent.
// Without this script every group shows, and the server validates whatever is sent either way.
(function () {
  document.querySelectorAll("form.entry-form, form.confirm-form").forEach(function (form) {
    const groups = form.parentElement.querySelectorAll("[data-shown-if]");
    if (!groups.length) return;
    function valueOf(name) {
      const control = form.elements.namedItem(name);
      if (!control) return "";
      if (control.type === "checkbox") return control.checked ? "on" : "";
      return control.value || "";  // a select, an input, or a RadioNodeList (the checked radio)
    }
    function update() {
      groups.forEach(function (group) {
        const value = valueOf(group.dataset.shownIf);
        const wanted = (group.dataset.shownValues || "").split(" ").filter(Boolean);
        // A group holding an error stays in view: the person must see what to correct.
        const applies = value !== "" && (!wanted.length || wanted.includes(value)) ||
          group.querySelector(".has-error") !== null;
        group.hidden = !applies;
        if (group.tagName === "FIELDSET") group.disabled = !applies;
      });
    }
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  });
})();
