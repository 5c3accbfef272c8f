// The dashboard's questionnaire entry (POST /clinic/api/patients/{pid}/questionnaires):
// one radio group per item, answers as the numbers printed on the paper forms; the
// clinic computes the scores and the page shows them.
//
// The items are labelled neutrally ("SAQ item 3"): the published wording is not
// reproduced here, so the therapist reads the items from the patient's paper form.
import { el, when } from "/static/clinic.js";

import { $ } from "/static/dom.js";
const NAMES = { saq: "SAQ", face: "FaCE", fdi: "FDI" };
const SCORE_NAMES = {
  total: "total", facial_movement: "facial movement", facial_comfort: "facial comfort", oral_function: "oral function",
  eye_comfort: "eye comfort", lacrimal_control: "lacrimal control", social_function: "social function",
  physical: "physical function", social: "social / well-being function",
};
// Per questionnaire: items as [number, choices], choices as [value, label]; null = "did not do for other reasons".
const range = (lo, hi) => Array.from({ length: hi - lo + 1 }, (_, i) => [lo + i, String(lo + i)]);
const FORMS = {
  saq: {
    intro: "9 items, each 1 (seldom or not at all) to 5 (all the time). Score = sum / 45 × 100; higher means more synkinesis.",
    items: Array.from({ length: 9 }, (_, i) => [i + 1, range(1, 5)]),
  },
  face: {
    intro: "15 items, each 1 to 5 as printed on the form (1 = lowest, 5 = highest function). Scores 0–100, higher is better.",
    items: Array.from({ length: 15 }, (_, i) => [i + 1, range(1, 5)]),
  },
  fdi: {
    intro: "Items 1–5 (physical function): 5 = no difficulty … 1 = usually did not do because of the face, or \"other reasons\" (left out of the score). Items 6–10 (social / well-being): 1 to 6 as printed on the form. Scores 0–100, higher is better.",
    items: [
      ...Array.from({ length: 5 }, (_, i) => [i + 1, [...range(1, 5).reverse(), [null, "Did not do for other reasons"]]]),
      ...Array.from({ length: 5 }, (_, i) => [i + 6, range(1, 6)]),
    ],
  },
};
let pid = null;
let call = null;

function renderItems() {
  const kind = $("q-kind").value;
  const form = FORMS[kind];
  $("q-intro").textContent = `${form.intro} Items are labelled by number; read their wording from the patient's form.`;
  const box = $("q-items");
  box.replaceChildren();
  for (const [n, choices] of form.items) {
    const fs = el("fieldset", null, { class: "checks item" });
    fs.append(el("legend", `${NAMES[kind]} item ${n}`));
    for (const [value, label] of choices) {
      const lab = el("label", null, { class: "choice" });
      const input = el("input", null, { type: "radio", name: `q-${n}`, value: value == null ? "other" : String(value), required: "" });
      lab.append(input, label);
      fs.append(lab);
    }
    box.append(fs);
  }
}

function describe(scores) {
  return Object.entries(scores).map(([k, v]) => `${SCORE_NAMES[k] || k} ${v == null ? "–" : v}`).join(", ");
}

async function renderHistory() {
  const list = $("q-history");
  list.replaceChildren();
  try {
    const rows = await call(`/patients/${pid}/questionnaires`);
    for (const r of [...rows].reverse()) list.append(el("li", `${when(r.answered_at)}: ${NAMES[r.kind]}: ${describe(r.scores)}`));
    if (!rows.length) list.append(el("li", "None yet."));
  } catch (err) {
    list.append(el("li", `Earlier answers could not be loaded: ${err.message}`));
  }
}

/** Shows the questionnaire form for patient `patientId` and their earlier scores. */
export async function showQuestionnaires(patientId, api) {
  pid = patientId;
  call = api;
  $("questionnaire-error").textContent = "";
  $("questionnaire-result").textContent = "";
  renderItems();
  await renderHistory();
}

$("q-kind").addEventListener("change", () => {
  $("questionnaire-error").textContent = "";
  $("questionnaire-result").textContent = "";
  renderItems();
});

$("questionnaire-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (pid == null) return;
  const kind = $("q-kind").value;
  const answers = FORMS[kind].items.map(([n]) => {
    const picked = document.querySelector(`#q-items input[name="q-${n}"]:checked`);
    return !picked || picked.value === "other" ? null : Number(picked.value);
  });
  $("questionnaire-error").textContent = "";
  $("questionnaire-result").textContent = "Saving…";
  try {
    const saved = await call(`/patients/${pid}/questionnaires`, { method: "POST", body: { kind, answers } });
    $("questionnaire-result").textContent = `Saved. ${NAMES[kind]} score: ${describe(saved.scores)}.`;
    renderItems();
    await renderHistory();
  } catch (err) {
    $("questionnaire-result").textContent = "";
    $("questionnaire-error").textContent = `Not saved: ${err.message}`;
  }
});
