// Infusion form: live mg/kg and vial count, and a warning when the dose does not match the weight.
(function () {
  const helper = document.getElementById("dose-helper");
  const weight = document.getElementById("id_weight_kg");
  const dose = document.getElementById("id_dose_mg");
  if (!helper || !weight || !dose) return;
  const inForce = parseFloat(helper.dataset.mgPerKg);
  const tolerance = parseFloat(helper.dataset.tolerance);
  const vial = parseFloat(helper.dataset.vial);
  const out = document.getElementById("live-mg-per-kg");
  const vials = document.getElementById("live-vials");
  const warning = document.getElementById("dose-warning");
  function update() {
    const kg = parseFloat(weight.value), mg = parseFloat(dose.value);
    if (!(kg > 0) || !(mg > 0)) { out.textContent = "—"; vials.textContent = "—"; warning.hidden = true; return; }
    const perKg = mg / kg, expected = inForce * kg;
    out.textContent = perKg.toFixed(2);
    const count = Math.ceil(mg / vial);
    vials.textContent = count + (count === 1 ? " vial" : " vials");
    const off = Math.abs(mg - expected) / expected * 100;
    if (off > tolerance) {
      warning.textContent = "Does not match " + inForce + " mg/kg × " + kg + " kg = " + expected.toFixed(0) +
        " mg (" + off.toFixed(1) + " % off; tolerance " + tolerance + " %).";
      warning.hidden = false;
    } else { warning.hidden = true; }
  }
  // A weight typed in is measured now: a pre-filled one kept the date it was measured on.
  const measuredOn = document.getElementById("id_weight_measured_on");
  const today = helper.dataset.today;
  weight.addEventListener("input", function () {
    if (measuredOn && today) measuredOn.value = today;
  });
  weight.addEventListener("input", update);
  dose.addEventListener("input", update);
  update();
})();
