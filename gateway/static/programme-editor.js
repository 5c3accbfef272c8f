// The dashboard's programme editor: exercises from the catalogue (GET /clinic/api/catalogue)
// with their dose, self-care items from the catalogue's templates, education items and
// eye-protection guidance. Saving PUTs the whole programme, which the clinic keeps as a
// new version; the versions list comes from …/programme/versions.
import { ApiError } from "/static/telerehab.js";
import { el, when } from "/static/clinic.js";

import { $ } from "/static/dom.js";
const WHEN = { day: "by day", night: "at night", any: "any time" };
let pid = null;
let call = null;
let catalogue = null;
let exercises = [];  // {name, title, reps, sets, hold_s, times_per_day, days_per_week}
let selfCare = [];   // the API's self-care items
let education = [];  // every education item offered (templates and the programme's own)
let onSaved = () => {};

function numberCell(row, item, field, label, { min, max, step = 1 }) {
  const td = el("td");
  const id = `pe-${item.name}-${field}`;
  const lab = el("label", `${label} for ${item.title}`, { for: id, class: "visually-hidden" });
  const input = el("input", null, { id, type: "number", min: String(min), max: String(max), step: String(step), inputmode: step === 1 ? "numeric" : "decimal", required: "" });
  input.value = item[field];
  input.addEventListener("input", () => { item[field] = input.value === "" ? null : Number(input.value); });
  td.append(lab, input);
  row.append(td);
}

function renderExercises() {
  const tbody = $("pe-exercises");
  tbody.replaceChildren();
  for (const item of exercises) {
    const tr = el("tr");
    tr.append(el("th", item.title, { scope: "row" }));
    numberCell(tr, item, "reps", "Reps", { min: 1, max: 100 });
    numberCell(tr, item, "sets", "Sets", { min: 1, max: 20 });
    numberCell(tr, item, "hold_s", "Hold in seconds", { min: 0, max: 120, step: 0.5 });
    numberCell(tr, item, "times_per_day", "Times a day", { min: 1, max: 6 });
    numberCell(tr, item, "days_per_week", "Days a week", { min: 1, max: 7 });
    const td = el("td");
    const remove = el("button", "Remove", { type: "button", class: "secondary", "aria-label": `Remove ${item.title}` });
    remove.addEventListener("click", () => { exercises = exercises.filter((e) => e !== item); renderExercises(); $("pe-add-name").focus(); });
    td.append(remove);
    tr.append(td);
    tbody.append(tr);
  }
  if (!exercises.length) {
    const tr = el("tr");
    tr.append(el("td", "No exercises yet.", { colspan: "7" }));
    tbody.append(tr);
  }
  const listed = new Set(exercises.map((e) => e.name));
  $("pe-add-name").replaceChildren(...catalogue.exercises.filter((e) => !listed.has(e.name)).map((e) => new Option(e.title, e.name)));
  $("pe-add").disabled = !$("pe-add-name").options.length;
}

function renderSelfCare() {
  const list = $("pe-selfcare");
  list.replaceChildren();
  for (const item of selfCare) {
    const li = el("li", `${item.title} (${WHEN[item.when] || item.when}) `);
    const id = `pe-sc-${item.key}`;
    li.append(el("label", "times a day", { for: id }));
    const times = el("input", null, { id, type: "number", min: "1", max: "12", step: "1", inputmode: "numeric", class: "small-number" });
    times.value = item.times_per_day;
    times.addEventListener("input", () => { item.times_per_day = Number(times.value); });
    const remove = el("button", "Remove", { type: "button", class: "secondary", "aria-label": `Remove ${item.title}` });
    remove.addEventListener("click", () => { selfCare = selfCare.filter((s) => s !== item); renderSelfCare(); $("pe-add-selfcare").focus(); });
    li.append(times, remove);
    list.append(li);
  }
  if (!selfCare.length) list.append(el("li", "No self-care items."));
  const listed = new Set(selfCare.map((s) => s.key));
  $("pe-add-selfcare").replaceChildren(...catalogue.self_care.filter((s) => !listed.has(s.key)).map((s) => new Option(s.title, s.key)));
  $("pe-add-selfcare-button").disabled = !$("pe-add-selfcare").options.length;
}

function renderEducation(chosen) {
  const box = $("pe-education");
  box.replaceChildren(el("legend", "Education"));
  for (const item of education) {
    const label = el("label", null, { class: "choice" });
    const input = el("input", null, { type: "checkbox", name: "education", value: item.key });
    input.checked = chosen.has(item.key);
    label.append(input, item.title);
    box.append(label);
  }
}

function addExercise(name) {
  const spec = catalogue.exercises.find((e) => e.name === name);
  if (!spec) return;
  exercises.push({ name, title: spec.title, reps: spec.reps, sets: spec.sets, hold_s: spec.hold_s, times_per_day: 1, days_per_week: 7 });
  renderExercises();
}

$("pe-add").addEventListener("click", () => addExercise($("pe-add-name").value));
$("pe-add-selfcare-button").addEventListener("click", () => {
  const template = catalogue.self_care.find((s) => s.key === $("pe-add-selfcare").value);
  if (template) selfCare.push(structuredClone(template));
  renderSelfCare();
});

async function renderVersions() {
  const list = $("pe-versions");
  list.replaceChildren();
  try {
    const versions = await call(`/patients/${pid}/programme/versions`);
    for (const v of [...versions].reverse()) {
      list.append(el("li", `Version ${v.version}, ${when(v.created_at)}: ${v.exercises.map((e) => e.title).join(", ") || "no exercises"}${v.note ? ` (${v.note})` : ""}`));
    }
    if (!versions.length) list.append(el("li", "No versions yet."));
  } catch (err) {
    list.append(el("li", `The versions could not be loaded: ${err.message}`));
  }
}

function load(programme) {
  exercises = (programme ? programme.exercises : []).map((e) => ({ ...e }));
  selfCare = programme ? structuredClone(programme.self_care || []) : [];
  const own = programme ? programme.education || [] : [];
  education = [...own, ...catalogue.education.filter((t) => !own.some((o) => o.key === t.key))];
  renderExercises();
  renderSelfCare();
  renderEducation(new Set(own.map((e) => e.key)));
  $("pe-eye").value = (programme ? programme.eye_protection : catalogue.eye_protection).join("\n");
  $("pe-times").value = programme ? (programme.reminder_times || []).join(", ") : "";
  $("pe-note").value = "";
}

/** Shows patient `patientId`'s current programme in the editor, with its versions. */
export async function showProgramme(patientId, api, saved = () => {}) {
  pid = patientId;
  call = api;
  onSaved = saved;
  $("programme-error").textContent = "";
  $("programme-result").textContent = "";
  try {
    catalogue = catalogue || await call("/catalogue");
    let programme = null;
    try { programme = await call(`/patients/${pid}/programme`); } catch (err) { if (!(err instanceof ApiError && err.status === 404)) throw err; }
    load(programme);
    $("programme-result").textContent = programme ? `Showing version ${programme.version}.` : "No programme yet.";
  } catch (err) {
    $("programme-error").textContent = err.message;
  }
  await renderVersions();
}

$("programme-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (pid == null) return;
  $("programme-error").textContent = "";
  $("programme-result").textContent = "Saving…";
  const chosen = new Set([...document.querySelectorAll("#pe-education input:checked")].map((b) => b.value));
  const body = {
    exercises: exercises.map(({ name, reps, sets, hold_s, times_per_day, days_per_week }) => ({ name, reps, sets, hold_s, times_per_day, days_per_week })),
    self_care: selfCare,
    education: education.filter((e) => chosen.has(e.key)),
    eye_protection: $("pe-eye").value.split("\n").map((t) => t.trim()).filter(Boolean),
    reminder_times: $("pe-times").value.split(/[,\s]+/).map((t) => t.trim()).filter(Boolean),
    note: $("pe-note").value.trim(),
  };
  try {
    const programme = await call(`/patients/${pid}/programme`, { method: "PUT", body });
    load(programme);
    $("programme-result").textContent = `Saved as version ${programme.version}.`;
    await renderVersions();
    onSaved(programme);
  } catch (err) {
    $("programme-result").textContent = "";
    $("programme-error").textContent = `Not saved: ${err.message}`;
  }
});
