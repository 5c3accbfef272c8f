// The dashboard's intake form (GET/PUT /clinic/api/patients/{pid}/intake): native,
// labelled controls; the API validates and its message is shown next to the form.
import { ApiError } from "/static/telerehab.js";

import { $, el } from "/static/dom.js";
const FLAGS = { treatments: ["corticosteroids", "antivirals", "surgery"], problems: ["eye_closure", "eating_drinking", "speaking"], eye_care: ["drops", "ointment", "taping"] };
let pid = null;
let call = null;

const boxes = (name) => [...document.querySelectorAll(`#intake-form input[name="${name}"]`)];

function fill(data) {
  $("in-onset").value = data.onset_date || "";
  $("in-course").value = data.course || "unknown";
  $("in-diagnosis").value = data.diagnosis || "";
  $("in-diagnosis-other").value = data.diagnosis_other || "";
  $("in-side").value = data.affected_side || "";
  for (const name of Object.keys(FLAGS)) {
    for (const box of boxes(name)) box.checked = Boolean(data[name] && data[name][box.value]);
  }
  for (const name of ["eye_symptoms", "new_symptoms"]) {
    for (const box of boxes(name)) box.checked = (data[name] || []).includes(box.value);
  }
  $("in-treatment-notes").value = (data.treatments && data.treatments.notes) || "";
  $("in-problems-other").value = (data.problems && data.problems.other) || "";
  $("in-imaging").value = data.imaging || "";
  $("in-goals").value = (data.goals || []).join("\n");
}

function read() {
  const body = {
    onset_date: $("in-onset").value,
    diagnosis: $("in-diagnosis").value,
    diagnosis_other: $("in-diagnosis-other").value.trim(),
    course: $("in-course").value,
    affected_side: $("in-side").value || null,
    imaging: $("in-imaging").value.trim(),
    goals: $("in-goals").value.split("\n").map((g) => g.trim()).filter(Boolean),
    eye_symptoms: boxes("eye_symptoms").filter((b) => b.checked).map((b) => b.value),
    new_symptoms: boxes("new_symptoms").filter((b) => b.checked).map((b) => b.value),
  };
  for (const [name, keys] of Object.entries(FLAGS)) {
    body[name] = Object.fromEntries(keys.map((k) => [k, boxes(name).some((b) => b.value === k && b.checked)]));
  }
  body.treatments.notes = $("in-treatment-notes").value.trim();
  body.problems.other = $("in-problems-other").value.trim();
  return body;
}

/** The patient's own answers before the visit, if they sent any: when, and a button that
 * puts them in the form for the therapist to review, complete and save. */
async function showAnswers() {
  const box = $("intake-answers");
  box.replaceChildren();
  let state = null;
  try { state = await call(`/patients/${pid}/intake/answers`); } catch { return; }
  if (!state.answers) return;
  const when = new Date(state.submitted_at).toLocaleDateString();
  box.append(`The patient answered the questions before the visit on ${when}${state.reviewed_at ? " (reviewed)" : ", not reviewed yet"}. `);
  const use = el("button", "Fill the form with the patient's answers", { type: "button", class: "secondary" });
  use.addEventListener("click", () => {
    const a = state.answers;
    fill({ ...a, diagnosis: a.diagnosis === "not_sure" ? "" : a.diagnosis });
    $("intake-result").textContent = "Filled with the patient's answers: check, complete (side, new symptoms) and save.";
  });
  box.append(use);
}

/** Shows patient `patientId`'s intake (an empty form when none is recorded yet). */
export async function showIntake(patientId, api) {
  pid = patientId;
  call = api;
  $("intake-error").textContent = "";
  $("intake-result").textContent = "";
  $("intake-form").reset();
  showAnswers();
  try {
    fill(await call(`/patients/${pid}/intake`));
    $("intake-result").textContent = "";
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) $("intake-error").textContent = err.message;
    else $("intake-result").textContent = "No intake recorded yet.";
  }
}

$("intake-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (pid == null) return;
  $("intake-error").textContent = "";
  $("intake-result").textContent = "Saving…";
  try {
    const saved = await call(`/patients/${pid}/intake`, { method: "PUT", body: read() });
    fill(saved);
    $("intake-result").textContent = `Intake saved ${new Date(saved.updated_at).toLocaleString()}.`;
  } catch (err) {
    $("intake-result").textContent = "";
    $("intake-error").textContent = `Not saved: ${err.message}`;
  }
});
