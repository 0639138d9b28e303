// The body map of the imaging and assessment forms (templates/clinic/_body_map.html): each bone is
// a button (Enter, Space or a click) that puts the bone and its side in the next empty site row of
// the form, or clears the row that holds it. A spine segment adds a vertebra and moves the focus
// to the row's level, which the person chooses. The map follows the rows: a site chosen in a row's
// selects presses its bone. Without this script the map stays hidden and the rows are the form.
(function () {
  const map = document.querySelector("[data-body-map]");
  const form = document.querySelector("form.entry-form");
  if (!map || !form) return;
  const status = map.querySelector("[data-body-map-status]");
  const regions = Array.from(map.querySelectorAll(".bone[role=button]"));
  const rows = [];
  for (let n = 0; form.elements.namedItem("site_" + n + "_bone"); n++) rows.push(n);

  function control(row, name) { return form.elements.namedItem("site_" + row + "_" + name); }
  function boneOf(row) { return control(row, "bone").value; }

  // The region a row's site is on ("tibia:left", "vertebra:T"); a vertebra without its level yet
  // is on the segment that added it.
  function keyOf(row) {
    const bone = boneOf(row);
    if (!bone) return "";
    if (bone === "vertebra") {
      const level = control(row, "level").value;
      const segment = level ? level.charAt(0) : control(row, "bone").dataset.segment || "";
      return segment ? "vertebra:" + segment : "";
    }
    return bone + ":" + control(row, "laterality").value;
  }

  function sync() {
    const keys = new Set(rows.map(keyOf));
    regions.forEach(function (region) {
      region.setAttribute("aria-pressed", keys.has(region.dataset.key) ? "true" : "false");
    });
  }

  function clear(row) {
    ["bone", "level", "laterality", "state"].forEach(function (name) {
      const field = control(row, name);
      if (field) field.value = "";
    });
    const fracture = control(row, "fracture");
    if (fracture) fracture.checked = false;
    delete control(row, "bone").dataset.segment;
  }

  function open(row) {
    const details = document.getElementById("group-site-" + row);
    if (details) details.open = true;
  }

  function say(message) { status.textContent = message; }

  function toggle(region) {
    const key = region.dataset.key;
    const label = region.getAttribute("aria-label");
    const held = rows.filter(function (row) { return keyOf(row) === key; });
    if (held.length) {
      held.forEach(clear);
      say(label + ": cleared from site row" + (held.length > 1 ? "s " : " ") +
        held.map(function (row) { return row + 1; }).join(", ") + ".");
      sync();
      return;
    }
    const row = rows.find(function (r) { return !boneOf(r); });
    if (row === undefined) {
      say("All " + rows.length + " site rows are used: clear one first, or record more sites in the admin.");
      return;
    }
    control(row, "bone").value = region.dataset.bone;
    control(row, "laterality").value = region.dataset.side;
    open(row);
    if (region.dataset.segment) {
      control(row, "bone").dataset.segment = region.dataset.segment;
      sync();
      say(label + ": added to site row " + (row + 1) + ". Choose its level.");
      control(row, "level").focus();
      return;
    }
    sync();
    say(label + ": added to site row " + (row + 1) + ".");
  }

  regions.forEach(function (region) {
    region.addEventListener("click", function () { toggle(region); });
    region.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();  // Space would scroll the page
        toggle(region);
      }
    });
  });
  form.addEventListener("change", sync);
  map.hidden = false;
  sync();
})();
