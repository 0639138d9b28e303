// Patient timeline: one time axis in dates and two y-axes. Left: infusions in mg/kg, above a band
// of lanes below zero for what has no scale of its own (course events and product switches,
// reactions, antibody results, MRI, assessments, other medications as bars from start to stop,
// adverse events, screening and vaccines), named by the axis' own tick labels so no label sits
// on the data.
// Right: CRP, ESR and infliximab trough against their limits, with its zero on the same line.
// "Today" and the next due dose are vertical lines (an overdue gap is shaded); their labels sit in
// the padding above the plot. The page's "Timeline data" table carries the same points.
(function () {
  const source = document.getElementById("timeline-data");
  const canvas = document.getElementById("timeline-chart");
  if (!source || !canvas || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const DAY = 864e5;
  const LANE_STEP = 0.9;
  const lanes = ["Course", "Reactions", "Antibodies", "MRI", "Assessment", "Medications", "Adverse events", "Screening · vaccines"];
  const laneY = function (name) { return -LANE_STEP * (lanes.indexOf(name) + 1); };
  const dates = [].concat(data.infusions, data.crp, data.esr, data.trough, data.antibodies, data.mri,
    data.assessments, data.events, data.reactions, data.medications, data.adverse_events, data.screening, data.vaccinations, [{x: data.today}], data.next_due ? [data.next_due] : [])
    .map(function (p) { return p.x; });
  const minX = Math.min.apply(null, dates) - 10 * DAY, maxX = Math.max.apply(null, dates) + 10 * DAY;
  const day = function (ms, long) {
    const format = long ? {day: "2-digit", month: "short", year: "numeric"} : {month: "short", year: "numeric"};
    return new Date(ms).toLocaleDateString("en-GB", Object.assign(format, {timeZone: "UTC"}));
  };
  const values = function (series) { return series.map(function (p) { return p.y; }); };

  // Both zeros on one line: the lanes take the same share of each axis.
  const doseMax = Math.max(12, Math.ceil(Math.max.apply(null, [0].concat(values(data.infusions))) * 1.15));
  const markerMax = Math.ceil(1.1 * Math.max.apply(null, [10, data.crp_uln, data.esr_uln, data.trough_min || 0]
    .concat(values(data.crp), values(data.esr), values(data.trough))));
  const doseMin = laneY(lanes[lanes.length - 1]) - LANE_STEP / 2;
  const markerMin = doseMin * markerMax / doseMax;
  const across = function (y) { return [{x: minX, y: y}, {x: maxX, y: y}]; };
  const lane = function (name, points, extra) {
    return points.map(function (p) { return Object.assign({}, p, {value: p.y, y: laneY(name)}, extra ? extra(p) : {}); });
  };
  const stateColour = {active: "#b42318", inactive: "#067647"};
  // Each medication a bar along its lane, from its start to its stop (or today); a gap between.
  const medicationBars = [];
  data.medications.forEach(function (m) {
    const y = laneY("Medications"), point = {y: y, label: m.label, current: m.current};
    medicationBars.push(Object.assign({x: m.x}, point), Object.assign({x: m.until}, point), {x: m.until, y: null});
  });

  // Vertical lines: course events (dashed), the next due dose and today; the overdue gap shaded.
  const markers = {
    id: "timelineMarkers",
    beforeDatasetsDraw: function (chart) {
      const ctx = chart.ctx, area = chart.chartArea, x = chart.scales.x;
      ctx.save();
      if (data.next_due && data.next_due.days_overdue > 0) {
        const from = x.getPixelForValue(data.next_due.x), to = x.getPixelForValue(data.today);
        ctx.fillStyle = "rgba(180,35,24,.10)";
        ctx.fillRect(from, area.top, to - from, area.bottom - area.top);
      }
      ctx.strokeStyle = "rgba(31,95,139,.45)"; ctx.setLineDash([4, 4]);
      data.events.forEach(function (event) {
        const px = x.getPixelForValue(event.x);
        ctx.beginPath(); ctx.moveTo(px, area.top); ctx.lineTo(px, area.bottom); ctx.stroke();
      });
      ctx.restore();
    },
    afterDatasetsDraw: function (chart) {
      const ctx = chart.ctx, area = chart.chartArea, x = chart.scales.x;
      const lines = [{x: data.today, text: "Today", colour: "#1d2733", dash: []}];
      if (data.next_due) lines.push({x: data.next_due.x, text: "Due " + day(data.next_due.x, true), colour: "#b42318", dash: [6, 3]});
      lines.sort(function (a, b) { return a.x - b.x; });
      ctx.save(); ctx.font = "12px system-ui, sans-serif"; ctx.textBaseline = "bottom";
      // The earlier label to the left of its line, the later to the right, both inside the plot's
      // width: never on each other, nor on an axis.
      const placed = lines.map(function (line, i) {
        const px = x.getPixelForValue(line.x), width = ctx.measureText(line.text).width;
        return {line: line, px: px, width: width, left: lines.length > 1 && i === 0 ? px - width - 4 : px + 4};
      });
      placed.forEach(function (p) { p.left = Math.max(area.left, Math.min(p.left, area.right - p.width)); });
      if (placed.length > 1) placed[0].left = Math.max(area.left, Math.min(placed[0].left, placed[1].left - placed[0].width - 8));
      placed.forEach(function (p) {
        ctx.strokeStyle = p.line.colour; ctx.lineWidth = 2; ctx.setLineDash(p.line.dash);
        ctx.beginPath(); ctx.moveTo(p.px, area.top); ctx.lineTo(p.px, area.bottom); ctx.stroke();
        ctx.fillStyle = p.line.colour;
        ctx.fillText(p.line.text, p.left, area.top - 4);
      });
      ctx.restore();
    }
  };

  const small = function () { return canvas.parentElement.clientWidth < 560; };
  const legendOnly = function (label, colour, dash) {
    return {type: "line", label: label, data: [], yAxisID: "dose", pointStyle: "line", borderColor: colour, backgroundColor: colour, borderDash: dash, borderWidth: 2, pointRadius: 0};
  };
  const datasets = [
    {type: "bar", label: "Infusion (mg/kg)", data: data.infusions, yAxisID: "dose", backgroundColor: "rgba(31,95,139,.6)", barThickness: 6, order: 3},
    {type: "line", label: "CRP (mg/L)", data: data.crp, yAxisID: "markers", borderColor: "#b42318", backgroundColor: "#b42318", tension: .2},
    {type: "line", label: "CRP upper normal", data: across(data.crp_uln), yAxisID: "markers", borderColor: "rgba(180,35,24,.45)", borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, pointHitRadius: 0, pointStyle: "line"},
    {type: "line", label: "ESR (mm/h)", data: data.esr, yAxisID: "markers", borderColor: "#b54708", backgroundColor: "#b54708", tension: .2},
    {type: "line", label: "ESR upper normal", data: across(data.esr_uln), yAxisID: "markers", borderColor: "rgba(181,71,8,.45)", borderDash: [2, 4], borderWidth: 1.5, pointRadius: 0, pointHitRadius: 0, pointStyle: "line"},
    {type: "line", label: "Trough (µg/mL)", data: data.trough, yAxisID: "markers", borderColor: "#0e7090", backgroundColor: "#0e7090", pointStyle: "rect", pointRadius: 4},
    {type: "scatter", label: "Course event", data: lane("Course", data.events.map(function (e) { return {x: e.x, y: 0, label: e.label}; })), yAxisID: "dose", pointStyle: "line", pointRadius: 7, borderColor: "#1f5f8b", borderWidth: 3, lane: true},
    {type: "scatter", label: "Reaction", data: lane("Reactions", data.reactions.map(function (r) { return Object.assign({y: 0}, r); })), yAxisID: "dose", pointStyle: "crossRot", pointRadius: 7, borderColor: "#b42318", borderWidth: 3, lane: true},
    {type: "scatter", label: "Anti-infliximab antibodies", data: lane("Antibodies", data.antibodies.map(function (a) { return Object.assign({y: 0}, a); })), yAxisID: "dose", pointStyle: "circle", pointRadius: 6, borderWidth: 2, borderColor: "#7a2e98",
      backgroundColor: data.antibodies.map(function (a) { return a.positive ? "#7a2e98" : "#fff"; }), lane: true},
    {type: "scatter", label: "MRI", data: lane("MRI", data.mri), yAxisID: "dose", pointStyle: "rectRot", borderWidth: 2, borderColor: "#5a2a82",
      pointRadius: data.mri.map(function (m) { return 4 + Math.min(m.y, 6); }), backgroundColor: data.mri.map(function (m) { return m.y ? "#5a2a82" : "#fff"; }), lane: true},
    {type: "scatter", label: "Assessment", data: lane("Assessment", data.assessments), yAxisID: "dose", pointStyle: "triangle", pointRadius: 6, borderColor: "#344054",
      backgroundColor: data.assessments.map(function (a) { return stateColour[a.state] || "#98a2b3"; }), lane: true},
    {type: "line", label: "Medication", data: medicationBars, yAxisID: "dose", borderColor: "#475467", backgroundColor: "#475467", borderWidth: 4, pointRadius: 3, spanGaps: false, lane: true},
    // Serious adverse events, screens that need a specialist and live vaccines are filled red.
    {type: "scatter", label: "Adverse event", data: lane("Adverse events", data.adverse_events.map(function (e) { return Object.assign({y: 0}, e); })), yAxisID: "dose", pointStyle: "star", pointRadius: 8, borderWidth: 2, borderColor: "#b42318",
      backgroundColor: data.adverse_events.map(function (e) { return e.serious ? "#b42318" : "#fff"; }), lane: true},
    {type: "scatter", label: "Screening", data: lane("Screening · vaccines", data.screening.map(function (r) { return Object.assign({y: 0}, r); })), yAxisID: "dose", pointStyle: "circle", pointRadius: 5, borderWidth: 2, borderColor: "#344054",
      backgroundColor: data.screening.map(function (r) { return r.flagged ? "#b42318" : "#fff"; }), lane: true},
    {type: "scatter", label: "Vaccination", data: lane("Screening · vaccines", data.vaccinations.map(function (v) { return Object.assign({y: 0}, v); })), yAxisID: "dose", pointStyle: "triangle", pointRadius: 6, borderWidth: 2, borderColor: "#067647",
      backgroundColor: data.vaccinations.map(function (v) { return v.live ? "#b42318" : "#fff"; }), lane: true},
    legendOnly("Today", "#1d2733", [])
  ];
  if (data.trough_min !== null) datasets.splice(6, 0, {type: "line", label: "Trough target", data: across(data.trough_min), yAxisID: "markers", borderColor: "rgba(14,112,144,.5)", borderDash: [1, 3], borderWidth: 2, pointRadius: 0, pointHitRadius: 0, pointStyle: "line"});
  if (data.next_due) datasets.push(legendOnly(data.next_due.label, "#b42318", [6, 3]));

  const tooltipLabel = function (item) {
    const p = item.raw;
    switch (item.dataset.label) {
      case "Infusion (mg/kg)": return "Infusion " + p.dose_mg + " mg (" + p.y + " mg/kg)";
      case "Course event": return p.label;
      case "Reaction": return "Reaction: " + p.severity + ", " + p.onset;
      case "Anti-infliximab antibodies":
        return "Antibodies " + (p.positive ? "detected" : "not detected") + (p.titre !== null ? ", titre " + p.titre + " " + p.unit : "") + (p.assay ? " (" + p.assay + ")" : "");
      case "MRI": return p.modality + ": " + p.value + " active, " + p.new + " new lesions";
      case "Medication": return p.label + (p.current ? " (taken)" : "");
      case "Assessment": return "Assessment: physician global " + (p.value === null ? "—" : p.value) + (p.state ? ", " + p.state : "");
      case "Adverse event": return "Adverse event: " + p.label;
      case "Screening": return "Screening: " + p.label;
      case "Vaccination": return "Vaccination: " + p.label;
      default: return item.dataset.label + ": " + item.formattedValue;
    }
  };

  const options = function () {
    const phone = small();
    return {
      responsive: true, maintainAspectRatio: false, animation: false,
      layout: {padding: {top: 18, right: 4}},
      interaction: {mode: "nearest", intersect: true},
      scales: {
        x: {type: "linear", min: minX, max: maxX, offset: false, ticks: {callback: function (v) { return day(v); }, maxTicksLimit: phone ? 4 : 9, maxRotation: 0}},
        dose: {position: "left", min: doseMin, max: doseMax, title: {display: !phone, text: "mg/kg"},
          afterBuildTicks: function (axis) {
            axis.ticks = axis.ticks.filter(function (t) { return t.value >= 0; })
              .concat(lanes.map(function (name) { return {value: laneY(name)}; }));
          },
          ticks: {autoSkip: false, font: {size: phone ? 10 : 12}, callback: function (v) { return v < 0 ? lanes[Math.round(-v / LANE_STEP) - 1] : v; }},
          grid: {color: function (c) { return c.tick && c.tick.value === 0 ? "#98a2b3" : "rgba(0,0,0,.06)"; }}},
        markers: {position: "right", min: markerMin, max: markerMax, title: {display: !phone, text: "CRP mg/L · ESR mm/h · trough µg/mL"},
          afterBuildTicks: function (axis) { axis.ticks = axis.ticks.filter(function (t) { return t.value >= 0; }); },
          ticks: {font: {size: phone ? 10 : 12}, maxTicksLimit: phone ? 5 : 8}, grid: {drawOnChartArea: false}}
      },
      plugins: {
        legend: {position: "bottom", labels: {boxWidth: phone ? 8 : 14, padding: phone ? 6 : 10, font: {size: phone ? 10 : 12}, usePointStyle: true,
          filter: function (item, chart) { return !chart.datasets[item.datasetIndex].lane; }}},
        tooltip: {callbacks: {title: function (items) { return items.length ? day(items[0].parsed.x, true) : ""; }, label: tooltipLabel}}
      }
    };
  };

  const chart = new Chart(canvas, {data: {datasets: datasets}, options: options(), plugins: [markers]});
  let phoneLayout = small();
  chart.options.onResize = function () {
    if (small() === phoneLayout) return;
    phoneLayout = small();
    chart.options = Object.assign(options(), {onResize: chart.options.onResize});
    chart.update("none");
  };
  window.registryTimeline = chart;

  // Printing: every collapsed table opens for the paper, then closes again.
  let opened = [];
  window.addEventListener("beforeprint", function () {
    opened = Array.from(document.querySelectorAll("details.more-rows:not([open])"));
    opened.forEach(function (d) { d.open = true; });
  });
  window.addEventListener("afterprint", function () { opened.forEach(function (d) { d.open = false; }); });
})();
