// The reports page: pick a month, week or day; the report opens (made now, with its charts),
// its CSV one click away.
"use strict";

function show() {
  const kind = $("r-kind").value;
  for (const k of ["month", "week", "day"]) $(`r-${k}`).hidden = k !== kind;
}

function label() {
  const kind = $("r-kind").value;
  const value = $(`r-${kind}`).value;
  return kind === "week" ? value.toUpperCase() : value;
}

document.addEventListener("DOMContentLoaded", () => {
  const now = new Date();
  $("r-month").value = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
  $("r-day").value = now.toISOString().slice(0, 10);
  $("r-kind").onchange = show;
  $("r-form").onsubmit = (event) => {
    event.preventDefault();
    const kind = $("r-kind").value;
    const l = label();
    if (!l) return;
    const base = `/api/reports/${kind}/${encodeURIComponent(l)}`;
    const li = document.createElement("li");
    const page = document.createElement("a");
    page.href = `${base}/index.html`;
    page.target = "_blank";
    page.textContent = `${kind} ${l} 报表 report`;
    const csv = document.createElement("a");
    csv.href = `${base}/report-${encodeURIComponent(l)}.csv`;
    csv.textContent = "CSV";
    li.append(page, " · ", csv);
    $("r-links").prepend(li);
    window.open(page.href, "_blank");
  };
  show();
});
