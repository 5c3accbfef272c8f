// Goals tied to measures (the clinic's /patients/{id}/goals): one sentence per goal with
// its progress, for the therapist's dashboard (with the form to add one and the review
// buttons) and the patient's plan.
import { $, el } from "/static/dom.js";

// The measures a goal can be tied to, as the clinic names them (services/clinic/goals.py).
export const MEASURES = [
  ["mouth_symmetry", "Mouth symmetry (1 = even)", "0.8"],
  ["eye_symmetry", "Eye symmetry (1 = even)", "0.8"],
  ["brow_symmetry", "Brow symmetry (1 = even)", "0.8"],
  ["sunnybrook", "Sunnybrook composite (therapist)", "70"],
  ["synkinesis", "Synkinesis index", "0.15"],
  ["face_total", "FaCE total", "60"],
  ["saq_total", "SAQ", "40"],
];

const day = (iso) => new Date(iso).toLocaleDateString([], { dateStyle: "medium" });
const shown = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(2));

/** One goal in words: the target, the latest value and whether it is met. */
export function describeGoal(g) {
  const status = g.status === "active" ? "" : ` (${g.status})`;
  if (!g.measure) return `${g.text}${status}`;
  const sign = g.direction === "at_least" ? "at least" : "at most";
  const progress = g.latest
    ? `latest ${shown(g.latest.value)} on ${day(g.latest.at)}: ${g.met ? "met" : "not yet"}`
    : "not measured yet";
  return `${g.text}${status}: ${g.measure_label} ${sign} ${shown(g.target)}; ${progress}.`;
}

/** The dashboard's goals for patient ``pid``; ``call`` is the clinic API. */
export async function showGoals(pid, call) {
  const list = $("goals");
  list.replaceChildren();
  let goals = [];
  try { goals = await call(`/patients/${pid}/goals`); } catch (err) { $("goal-error").textContent = err.message; }
  for (const g of goals) {
    const li = el("li", null, { "data-goal": String(g.id), class: g.met ? "met" : "" });
    li.append(el("span", `${describeGoal(g)} `));
    const actions = g.status === "active" ? [["achieved", "Achieved"], ["dropped", "Drop"]] : [["active", "Active again"]];
    for (const [status, label] of actions) {
      const b = el("button", label, { type: "button", class: "secondary", "aria-label": `${label}: ${g.text}` });
      b.addEventListener("click", async () => {
        try {
          await call(`/goals/${g.id}`, { method: "PATCH", body: { status } });
          await showGoals(pid, call);
        } catch (err) { $("goal-error").textContent = err.message; }
      });
      li.append(b, " ");
    }
    list.append(li);
  }
  if (!goals.length) list.append(el("li", "No goals yet: agree one with the patient below."));
}

/** Wires the add-a-goal form once; ``current()`` is the patient shown. */
export function wireGoalForm({ current, call }) {
  const select = $("goal-measure");
  select.replaceChildren(new Option("None: the patient's words only", ""), ...MEASURES.map(([value, label]) => new Option(label, value)));
  select.addEventListener("change", () => {
    const m = MEASURES.find(([value]) => value === select.value);
    $("goal-target").disabled = !m;
    $("goal-target").value = m ? m[2] : "";
  });
  $("goal-target").disabled = true;
  $("goal-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const p = current();
    if (!p) return;
    $("goal-error").textContent = "";
    const body = { text: $("goal-text").value.trim() };
    if (select.value) {
      body.measure = select.value;
      body.target = Number($("goal-target").value);
    }
    try {
      await call(`/patients/${p.id}/goals`, { method: "POST", body });
      $("goal-form").reset();
      $("goal-target").disabled = true;
      await showGoals(p.id, call);
    } catch (err) { $("goal-error").textContent = `Not added: ${err.message}`; }
  });
}
