// The dashboard's grading form (GET/POST /clinic/api/patients/{pid}/assessments): the
// therapist's own Sunnybrook (sub-scores, one radio group each, labelled with the scale's
// verbal anchors) and House–Brackmann grade, which are the clinical record. The page
// previews the composite as the clinic computes it; the clinic validates, computes and
// stores it, and its message is shown next to the form. Earlier gradings are listed with
// the analyzer's estimates beside them, labelled as estimates to confirm.
import { el, when } from "/static/clinic.js";

import { $ } from "/static/dom.js";
// Sunnybrook Facial Grading System (Ross, Fradet & Nedzelski 1996); keys as the API's.
const RESTING = [
  ["eye", "eye", [[0, "normal"], [1, "narrow or wide or eyelid surgery"]]],
  ["cheek", "cheek (nasolabial fold)", [[0, "normal"], [1, "less or more pronounced"], [2, "absent"]]],
  ["mouth", "mouth", [[0, "normal"], [1, "corner drooped or pulled up or out"]]],
];
const MOVEMENTS = [
  ["brow_raise", "forehead wrinkle"],
  ["gentle_eye_closure", "gentle eye closure"],
  ["open_smile", "open-mouth smile"],
  ["snarl", "snarl"],
  ["pucker", "lip pucker"],
];
const VOLUNTARY = [
  [1, "unable to initiate movement"], [2, "initiates slight movement"], [3, "initiated movement with mild excursion"],
  [4, "movement almost complete"], [5, "movement complete"],
];
const SYNKINESIS = [[0, "none"], [1, "mild"], [2, "moderate"], [3, "severe disfiguring"]];
const HOUSE_BRACKMANN = [
  [1, "I", "normal"], [2, "II", "mild dysfunction"], [3, "III", "moderate dysfunction"],
  [4, "IV", "moderately severe dysfunction"], [5, "V", "severe dysfunction"], [6, "VI", "total paralysis"],
];
const ITEMS = RESTING.length + 2 * MOVEMENTS.length;
let pid = null;
let call = null;
let onSaved = () => {};

function group(box, name, legend, choices) {
  const fs = el("fieldset", null, { class: "checks item" });
  fs.append(el("legend", legend));
  for (const [value, label] of choices) {
    const lab = el("label", null, { class: "choice" });
    const input = el("input", null, { type: "radio", name, value: String(value) });
    lab.append(input, el("strong", String(value)), ` ${label}`);
    fs.append(lab);
  }
  box.append(fs);
}

function renderItems() {
  const resting = $("gr-resting"), voluntary = $("gr-voluntary"), synkinesis = $("gr-synkinesis");
  resting.replaceChildren();
  voluntary.replaceChildren();
  synkinesis.replaceChildren();
  for (const [key, name, choices] of RESTING) group(resting, `gr-resting-${key}`, `Resting: ${name}`, choices);
  for (const [key, name] of MOVEMENTS) {
    group(voluntary, `gr-voluntary-${key}`, `Voluntary movement: ${name}`, VOLUNTARY);
    group(synkinesis, `gr-synkinesis-${key}`, `Synkinesis: ${name}`, SYNKINESIS);
  }
  const hb = $("gr-hb");
  hb.replaceChildren(el("legend", "House–Brackmann grade (optional)"));
  for (const [value, roman, label] of [["", "Not graded", ""], ...HOUSE_BRACKMANN]) {
    const lab = el("label", null, { class: "choice" });
    const input = el("input", null, { type: "radio", name: "gr-hb", value: String(value) });
    input.checked = value === "";
    lab.append(input, el("strong", roman), label ? ` ${label}` : "");
    hb.append(lab);
  }
}

const picked = (name) => {
  const input = document.querySelector(`#grading-form input[name="${name}"]:checked`);
  return input ? Number(input.value) : null;
};

/** The sub-scores chosen so far, in the API's shape (a part without a choice is left out). */
function read() {
  const part = (prefix, keys) => Object.fromEntries(
    keys.map((k) => [k, picked(`gr-${prefix}-${k}`)]).filter(([, v]) => v != null));
  return {
    resting: part("resting", RESTING.map(([k]) => k)),
    voluntary: part("voluntary", MOVEMENTS.map(([k]) => k)),
    synkinesis: part("synkinesis", MOVEMENTS.map(([k]) => k)),
  };
}

const sum = (part) => Object.values(part).reduce((a, b) => a + b, 0);

/** As the clinic computes it (services/clinic/assessment.py): voluntary Σ × 4 − resting
 * Σ × 5 − synkinesis Σ, clipped at 0. */
function sunnybrookScores({ resting, voluntary, synkinesis }) {
  const scores = { voluntary_score: sum(voluntary) * 4, resting_score: sum(resting) * 5, synkinesis_score: sum(synkinesis) };
  scores.composite = Math.max(0, scores.voluntary_score - scores.resting_score - scores.synkinesis_score);
  return scores;
}

const parts = (s) => `voluntary ${s.voluntary_score} − resting ${s.resting_score} − synkinesis ${s.synkinesis_score}`;

function preview() {
  const sb = read();
  const graded = Object.keys(sb.resting).length + Object.keys(sb.voluntary).length + Object.keys(sb.synkinesis).length;
  const out = $("gr-preview");
  if (graded === ITEMS) {
    const s = sunnybrookScores(sb);
    out.textContent = `Sunnybrook composite ${s.composite} (${parts(s)}).`;
  } else if (graded) {
    out.textContent = `Sunnybrook composite: ${ITEMS - graded} of ${ITEMS} items still to grade.`;
  } else {
    out.textContent = "Sunnybrook composite: grade every item, or leave them all empty to record House–Brackmann only.";
  }
}

/** The date input's day as an instant: now for today, else midday local time that day. */
function assessedAt(value) {
  if (!value) return null;
  const [y, m, d] = value.split("-").map(Number);
  const now = new Date();
  const day = new Date(y, m - 1, d, 12);
  if (y === now.getFullYear() && m === now.getMonth() + 1 && d === now.getDate()) return now.toISOString();
  return day.toISOString();
}

function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

function reset() {
  renderItems();
  $("gr-date").value = today();
  $("gr-date").max = today();
  $("gr-notes").value = "";
  preview();
}

const roman = (grade) => (HOUSE_BRACKMANN.find(([v]) => v === grade) || [null, String(grade)])[1];

function describe(row) {
  const bits = [];
  if (row.sunnybrook) bits.push(`Sunnybrook ${row.sunnybrook.composite} (${parts(row.sunnybrook)})`);
  if (row.house_brackmann != null) bits.push(`House–Brackmann ${roman(row.house_brackmann)}`);
  return bits.join("; ");
}

async function renderHistory() {
  const tbody = $("gr-history");
  tbody.replaceChildren();
  try {
    const rows = await call(`/patients/${pid}/assessments`);
    for (const r of [...rows].reverse()) {
      const tr = el("tr", null, { "data-source": r.source });
      tr.append(el("th", when(r.assessed_at), { scope: "row" }));
      if (r.estimate) {
        tr.append(el("td", "–"), el("td", `${describe(r)}: estimate (analyzer), to confirm`, { class: "estimate" }));
      } else {
        const notes = r.notes ? `. Notes: ${r.notes}` : "";
        tr.append(el("td", `${describe(r)}${notes}`, { class: "notes-text" }), el("td", "–"));
      }
      tbody.append(tr);
    }
    if (!rows.length) {
      const tr = el("tr");
      tr.append(el("td", "No gradings yet.", { colspan: "3" }));
      tbody.append(tr);
    }
  } catch (err) {
    const tr = el("tr");
    tr.append(el("td", `Earlier gradings could not be loaded: ${err.message}`, { colspan: "3" }));
    tbody.append(tr);
  }
}

/** Shows an empty grading form for patient `patientId` and their earlier gradings. */
export async function showGrading(patientId, api, saved = () => {}) {
  pid = patientId;
  call = api;
  onSaved = saved;
  $("grading-error").textContent = "";
  $("grading-result").textContent = "";
  reset();
  await renderHistory();
}

$("grading-form").addEventListener("change", (ev) => {
  if (ev.target.type === "radio" && ev.target.name !== "gr-hb") preview();
});

$("grading-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (pid == null) return;
  const sb = read();
  const any = Object.keys(sb.resting).length + Object.keys(sb.voluntary).length + Object.keys(sb.synkinesis).length;
  const body = {
    sunnybrook: any ? sb : null,
    house_brackmann: picked("gr-hb") || null,
    notes: $("gr-notes").value.trim(),
  };
  const at = assessedAt($("gr-date").value);
  if (at) body.assessed_at = at;
  $("grading-error").textContent = "";
  $("grading-result").textContent = "Saving…";
  try {
    const row = await call(`/patients/${pid}/assessments`, { method: "POST", body });
    $("grading-result").textContent = `Saved: ${describe(row)}.`;
    reset();
    await renderHistory();
    onSaved(row);
  } catch (err) {
    $("grading-result").textContent = "";
    $("grading-error").textContent = `Not saved: ${err.message}`;
  }
});
