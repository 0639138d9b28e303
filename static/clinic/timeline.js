// Patient timeline: infusions (mg/kg), CRP and ESR against their upper normal limits, MRI active
// lesions, assessments, reactions, and course events (start, regimen changes, stop) as lines.
(function () {
  const source = document.getElementById("timeline-data");
  const canvas = document.getElementById("timeline-chart");
  if (!source || !canvas || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const all = [].concat(data.infusions, data.crp, data.esr, data.mri, data.assessments, data.events);
  if (!all.length) { canvas.replaceWith(Object.assign(document.createElement("p"), {className: "empty", textContent: "Nothing recorded yet."})); return; }
  const xs = all.map(function (p) { return p.x; });
  const minX = Math.min.apply(null, xs) - 7 * 864e5, maxX = Math.max.apply(null, xs) + 7 * 864e5;
  const day = function (ms) { return new Date(ms).toLocaleDateString("en-GB", {day: "2-digit", month: "short", year: "numeric", timeZone: "UTC"}); };
  const uln = function (y) { return [{x: minX, y: y}, {x: maxX, y: y}]; };
  const eventLines = {
    id: "eventLines",
    afterDatasetsDraw: function (chart) {
      const ctx = chart.ctx, area = chart.chartArea, scale = chart.scales.x;
      ctx.save();
      data.events.forEach(function (event) {
        const x = scale.getPixelForValue(event.x);
        ctx.strokeStyle = "rgba(31,95,139,.55)"; ctx.setLineDash([4, 4]);
        ctx.beginPath(); ctx.moveTo(x, area.top); ctx.lineTo(x, area.bottom); ctx.stroke();
        ctx.setLineDash([]); ctx.fillStyle = "#1f5f8b"; ctx.font = "11px system-ui";
        ctx.save(); ctx.translate(x + 3, area.top + 4); ctx.rotate(Math.PI / 2); ctx.fillText(event.label, 0, 0); ctx.restore();
      });
      ctx.restore();
    }
  };
  window.registryTimeline = new Chart(canvas, {
    data: {
      datasets: [
        {type: "bar", label: "Infusion (mg/kg)", data: data.infusions, yAxisID: "dose", backgroundColor: "rgba(31,95,139,.55)", barThickness: 6},
        {type: "line", label: "CRP (mg/L)", data: data.crp, yAxisID: "markers", borderColor: "#b42318", backgroundColor: "#b42318", tension: .2},
        {type: "line", label: "CRP upper normal", data: uln(data.crp_uln), yAxisID: "markers", borderColor: "rgba(180,35,24,.4)", borderDash: [6, 4], pointRadius: 0},
        {type: "line", label: "ESR (mm/h)", data: data.esr, yAxisID: "markers", borderColor: "#b54708", backgroundColor: "#b54708", tension: .2},
        {type: "line", label: "ESR upper normal", data: uln(data.esr_uln), yAxisID: "markers", borderColor: "rgba(181,71,8,.4)", borderDash: [2, 4], pointRadius: 0},
        {type: "scatter", label: "MRI active lesions", data: data.mri, yAxisID: "lesions", pointStyle: "rectRot", pointRadius: 7, backgroundColor: "#7a2e98"},
        {type: "scatter", label: "Physician global (0–10)", data: data.assessments, yAxisID: "lesions", pointStyle: "triangle", pointRadius: 6, backgroundColor: "#067647"},
        {type: "scatter", label: "Reaction", data: data.reactions.map(function (r) { return {x: r.x, y: 0.3, severity: r.severity}; }), yAxisID: "dose", pointStyle: "crossRot", pointRadius: 9, borderColor: "#b42318", borderWidth: 3}
      ]
    },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      interaction: {mode: "nearest", intersect: false},
      scales: {
        x: {type: "linear", min: minX, max: maxX, ticks: {callback: function (v) { return day(v); }, maxTicksLimit: 10}},
        dose: {position: "left", beginAtZero: true, suggestedMax: 12, title: {display: true, text: "mg/kg"}},
        markers: {position: "right", beginAtZero: true, title: {display: true, text: "CRP mg/L · ESR mm/h"}, grid: {drawOnChartArea: false}},
        lesions: {position: "right", beginAtZero: true, suggestedMax: 10, title: {display: true, text: "lesions · global"}, grid: {drawOnChartArea: false}}
      },
      plugins: {
        legend: {position: "bottom"},
        tooltip: {callbacks: {title: function (items) { return items.length ? day(items[0].parsed.x) : ""; },
          label: function (item) {
            const raw = item.raw;
            if (raw.severity) return "Reaction: " + raw.severity;
            if (raw.dose_mg) return "Infusion " + raw.dose_mg + " mg (" + raw.y + " mg/kg)";
            if (raw.new !== undefined) return "MRI: " + raw.y + " active, " + raw.new + " new lesions";
            return item.dataset.label + ": " + item.formattedValue;
          }}}
      }
    },
    plugins: [eventLines]
  });
})();
