// The patient's home page: signs in from the magic link (/clinic/magic#token=…), then
// shows today's plan from the clinic (/clinic/today): exercises to practise (each starts a
// home-practice session on the exercise page, whose results are saved to the clinic),
// live calls with the therapist, self-care to tick off, education and eye protection.
import { ApiError } from "/static/telerehab.js";
import { clinic, clinicToken, download, saveClinicToken, when } from "/static/clinic.js";

import { $, el } from "/static/dom.js";
import { describeGoal } from "/static/goal-list.js";
let token = clinicToken("patient");
// Self-care items with a drawing of how to do them (gateway/static/illustrations/).
const ILLUSTRATED = new Set(["self_massage", "stretches"]);
let me = null;

function status(text) { $("status").textContent = text; }
function notice(text) { $("notice").textContent = text; $("notice").hidden = !text; }


function signedOut(message) {
  saveClinicToken("patient", null);
  token = null;
  status("Not signed in");
  $("signed-out").hidden = false;
  for (const id of ["plan", "live", "care"]) $(id).hidden = true;
  if (message) notice(message);
}

async function askForLink(event) {
  event.preventDefault();
  const email = $("new-link-email").value.trim();
  const button = $("new-link").querySelector("button");
  button.disabled = true;
  try {
    const reply = await clinic("/auth/magic/request", null, { method: "POST", body: { email } });
    $("new-link-status").textContent = reply.message;
  } catch (err) {
    $("new-link-status").textContent = err.message || String(err);
  } finally {
    button.disabled = false;
  }
}

$("new-link").addEventListener("submit", askForLink);

function fail(err) {
  if (err instanceof ApiError && err.status === 401) return signedOut("Your sign-in has expired. Please open the newest link from your therapist.");
  notice(err.message || String(err));
}

/** One exercise and its dose, as the exercise page reads it: name:reps:sets:hold. */
const dose = (e) => `${e.name}:${e.reps}:${e.sets}:${e.hold_s}`;

/** Opens the exercise page for a new home session: one exercise, a routine (several, in
 * order, after one calibration), or free practice (none). */
async function practise(exercises) {
  status("Starting…");
  try {
    const session = await clinic(`/patients/${me.id}/sessions`, token, { method: "POST", body: { kind: "home" } });
    const join = await clinic(`/sessions/${session.id}/join`, token);
    const extra = new URLSearchParams({ clinic_session: String(session.id) });
    if (exercises && exercises.length) extra.set("routine", exercises.map(dose).join(","));
    location.assign(`${join.url}&${extra}`);
  } catch (err) {
    status("Ready");
    fail(err);
  }
}

function render(plan) {
  const list = $("exercises");
  list.replaceChildren();
  // Today's routine: the exercises still due today, in the programme's order, one after
  // another after a single calibration.
  const due = plan.exercises.filter((e) => e.due_today && !e.complete);
  $("routine-row").hidden = due.length < 2;
  $("routine-hint").textContent = due.length >= 2 ? `${due.map((e) => e.title).join(", then ")}.` : "";
  $("routine").onclick = () => practise(due);
  for (const e of plan.exercises) {
    const li = el("li", null, { class: e.complete ? "done" : "" });
    const text = el("div");
    text.append(el("strong", e.title), el("br"), `${e.reps} times, hold ${e.hold_s} s${e.sets > 1 ? `, ${e.sets} sets` : ""}. Done today: ${e.done_today} of ${e.times_per_day}.${e.done_live_today ? ` With your therapist: ${e.done_live_today}.` : ""}`);
    if (!e.due_today) text.append(" Not needed today.");
    const start = el("button", e.complete ? `Practise ${e.title} again` : `Start ${e.title}`, { type: "button" });
    start.addEventListener("click", () => practise([e]));
    li.append(text, start);
    list.append(li);
  }
  if (!plan.exercises.length) {
    list.append(el("li", "Your therapist has not set your exercises yet. You can still practise freely."));
    const free = el("button", "Practise freely", { type: "button" });
    free.addEventListener("click", () => practise([]));
    const item = el("li");
    item.append(free);
    list.append(item);
  }
  $("plan").hidden = false;

  const live = $("live-sessions");
  live.replaceChildren();
  for (const s of plan.live_sessions || []) {
    const li = el("li");
    li.append(el("span", `Video call at ${when(s.scheduled_at)} `));
    const join = el("button", "Join the call", { type: "button" });
    join.addEventListener("click", async () => {
      try { location.assign((await clinic(`/sessions/${s.id}/join`, token)).url); } catch (err) { fail(err); }
    });
    li.append(join);
    live.append(li);
  }
  for (const c of plan.upcoming_calls || []) {
    const li = el("li", null, { "data-call": String(c.id) });
    li.append(el("span", `Video call on ${when(c.scheduled_at)} `));
    const ics = el("button", "Add to my calendar", { type: "button", class: "secondary", "aria-label": `Add to my calendar: the call on ${when(c.scheduled_at)}` });
    ics.addEventListener("click", async () => {
      try { await download(`/sessions/${c.id}/calendar.ics`, token, `video-call-${c.id}.ics`); } catch (err) { fail(err); }
    });
    li.append(ics);
    live.append(li);
  }
  $("live").hidden = !live.children.length;

  const care = $("self-care");
  care.replaceChildren();
  for (const item of plan.self_care) {
    const li = el("li", null, { class: item.complete ? "done" : "" });
    const text = el("div");
    text.append(el("strong", item.title), el("br"), `${item.instructions ? `${item.instructions} ` : ""}Done today: ${item.checked_today} of ${item.times_per_day}.`);
    if (ILLUSTRATED.has(item.key)) {
      // The drawing's own title and description (inside the SVG) say what it shows.
      text.append(el("img", null, { src: `/static/illustrations/${item.key}.svg`, alt: `How to do it: ${item.title}`, class: "illustration", width: "240", height: "280" }));
    }
    const tick = el("button", item.complete ? "Done for today ✓" : "I did this", { type: "button", class: "secondary" });
    tick.disabled = item.complete;
    tick.addEventListener("click", async () => {
      try {
        await clinic(`/patients/${me.id}/checkoffs`, token, { method: "POST", body: { item: item.key } });
        await load();
      } catch (err) { fail(err); }
    });
    li.append(text, tick);
    care.append(li);
  }
  $("care").hidden = !plan.self_care.length;

  renderEducation(plan.education || [], []);
  if ((plan.eye_protection || []).length) {
    $("eye-protection").replaceChildren(...plan.eye_protection.map((t) => el("li", t)));
  }
}

/** The programme's reading, each part a paragraph, with "I have read this" (once). */
function renderEducation(items, reads) {
  const edu = $("education");
  edu.replaceChildren();
  const readAt = new Map(reads.map((r) => [r.key, r.read_at]));
  for (const item of items) {
    const d = el("details", null, { "data-education": item.key });
    const read = readAt.get(item.key);
    d.append(el("summary", read ? `${item.title} (read)` : item.title));
    for (const para of String(item.text).split(/\n\s*\n/)) d.append(el("p", para));
    if (read) {
      d.append(el("p", `You read this on ${new Date(read).toLocaleDateString()}.`, { class: "hint" }));
    } else {
      const done = el("button", "I have read this", { type: "button", class: "secondary", "aria-label": `I have read this: ${item.title}` });
      done.addEventListener("click", async () => {
        try {
          await clinic(`/patients/${me.id}/education/${encodeURIComponent(item.key)}/read`, token, { method: "POST" });
          renderEducation(items, await clinic(`/patients/${me.id}/education`, token));
        } catch (err) { fail(err); }
      });
      d.append(done);
    }
    edu.append(d);
  }
}

// ---- the questions before the first visit (the patient's own intake answers) -----------

const ticked = (name) => [...document.querySelectorAll(`#answers-form input[name="pa-${name}"]`)];

function showAnswers(state) {
  // Before the visit (no intake by the therapist yet), or to correct what was sent.
  const answers = state && state.answers;
  $("answers-box").hidden = !state || (state.intake_recorded && !answers);
  if (!answers) return;
  $("pa-onset").value = answers.onset_date || "";
  $("pa-course").value = answers.course || "unknown";
  $("pa-diagnosis").value = answers.diagnosis || "not_sure";
  for (const name of ["treatments", "problems", "eye_care"]) for (const b of ticked(name)) b.checked = Boolean((answers[name] || {})[b.value]);
  for (const b of ticked("eye_symptoms")) b.checked = (answers.eye_symptoms || []).includes(b.value);
  $("pa-imaging").value = answers.imaging || "";
  $("pa-goals").value = (answers.goals || []).join("\n");
  $("answers-summary").textContent = "Change my answers";
  $("answers-status").textContent = `Sent to your therapist on ${new Date(state.submitted_at).toLocaleDateString()}${state.reviewed_at ? ", who has gone through them" : ""}.`;
}

$("answers-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("answers-error").textContent = "";
  const flags = (name) => Object.fromEntries(ticked(name).map((b) => [b.value, b.checked]));
  const body = {
    onset_date: $("pa-onset").value,
    course: $("pa-course").value,
    diagnosis: $("pa-diagnosis").value,
    treatments: flags("treatments"),
    problems: flags("problems"),
    eye_care: flags("eye_care"),
    eye_symptoms: ticked("eye_symptoms").filter((b) => b.checked).map((b) => b.value),
    imaging: $("pa-imaging").value.trim(),
    goals: $("pa-goals").value.split("\n").map((g) => g.trim()).filter(Boolean),
  };
  try {
    const saved = await clinic(`/patients/${me.id}/intake/answers`, token, { method: "PUT", body });
    showAnswers(saved);
    $("answers-details").open = false;
    $("answers-status").textContent = "Thank you: your answers are with your therapist, who will go through them with you.";
  } catch (err) {
    $("answers-error").textContent = `Not sent: ${err.message}`;
  }
});

/** The goals agreed with the therapist, each with how far along it is (dropped ones not). */
function renderGoals(goals) {
  const list = $("goals");
  list.replaceChildren(...goals.filter((g) => g.status !== "dropped").map((g) => el("li", describeGoal(g))));
  $("goals-box").hidden = !list.children.length;
}

async function load() {
  try {
    me = await clinic("/me", token);
    if (me.role !== "patient") return signedOut("This page is for patients.");
    const [plan, goals, reading, answers] = await Promise.all([
      clinic(`/patients/${me.id}/today`, token),
      clinic(`/patients/${me.id}/goals`, token).catch(() => []),
      clinic(`/patients/${me.id}/education`, token).catch(() => []),
      clinic(`/patients/${me.id}/intake/answers`, token).catch(() => null),
    ]);
    showAnswers(answers);
    render(plan);
    renderEducation(plan.education || [], reading.filter((r) => r.read_at));
    renderGoals(goals);
    status(`Hello ${me.name}`);
    document.body.dataset.ready = "true";
  } catch (err) {
    fail(err);
  }
}

async function signIn() {
  const magic = new URLSearchParams(location.hash.replace(/^#/, "")).get("token");
  // Take the one-time token out of the address bar and history straight away.
  history.replaceState(null, "", "/clinic/today");
  if (!magic) return;
  try {
    const reply = await clinic("/auth/magic", null, { method: "POST", body: { token: magic } });
    token = reply.token;
    saveClinicToken("patient", token);
  } catch (err) {
    notice(`This link cannot be used: ${err.message} You can also ask for a new one below.`);
  }
}

if (location.pathname.endsWith("/magic")) await signIn();
if (token) await load();
else signedOut();
