// The therapist's live page: the patient's video (with an optional left/right region
// overlay), live left-vs-right charts per region and the symmetry trend (uPlot), synkinesis
// alerts, exercise and assessment controls, notes (saved to the clinic when the page was
// opened from the clinic dashboard), and the summary at the end.
import { connect, cueText, holdLeft, PHASES } from "/static/telerehab.js";
import { clinic, clinicToken } from "/static/clinic.js";

import { $, el } from "/static/dom.js";
const remoteVideo = $("remote-video"), overlay = $("remote-overlay"), endBtn = $("end-session");
const WINDOW_S = 30, STALE_MS = 3000;
const REGIONS = ["brow", "eye", "mouth"];
// Colour-blind-safe colours (Okabe-Ito), plus dash patterns so the lines differ without colour.
const LEFT = { stroke: "#0072B2", dash: [] }, RIGHT = { stroke: "#D55E00", dash: [8, 4] };
const TREND = [
  { key: "mouth", label: "Mouth", stroke: "#0072B2", dash: [] },
  { key: "eye", label: "Eye", stroke: "#D55E00", dash: [8, 4] },
  { key: "brow", label: "Brow", stroke: "#009E73", dash: [2, 3] },
];
const WARN_STATUSES = new Set(["no_face", "bad_pose", "bad_frame"]);

let latest = null, latestAt = 0, renderQueued = false, finished = false;
let session = null;  // assigned after connect() returns; onState may run before that
let patientState = null;  // "joined" | "left", from the gateway's peer events
let catalogue = new Map();
let synkinesisAlert = false;
const notesKey = () => `telerehab-notes-${(session && session.session && session.session.sid) || "pending"}`;

const num = (v, digits = 1) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "–");
const pct = (v) => (typeof v === "number" && Number.isFinite(v) ? `${Math.round(v * 100)}%` : "–");
const set = (id, text) => { const el = $(id); if (el.textContent !== text) el.textContent = text; };
const finite = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
const title = (name) => (catalogue.get(name) || {}).title || String(name).replaceAll("_", " ");

function showNotice(text) {
  $("notice").textContent = text;
  $("notice").hidden = !text;
}

let spasmsSeen = 0;
/** Twitches at rest (hemifacial spasm), counted by the analyzer while no exercise runs. */
function showSpasm(sp) {
  if (!sp) { set("n-spasm", "none seen"); return; }
  const now = sp.active.length ? `; twitching now: ${sp.active.join(" and ")}` : "";
  set("n-spasm", `${sp.count} (left ${sp.left}, right ${sp.right})${now}`);
  if (sp.count > spasmsSeen) {
    logNotice(`Twitch at rest (${sp.count} so far: left ${sp.left}, right ${sp.right}).`);
    spasmsSeen = sp.count;
  }
}

function logNotice(text) {
  const li = document.createElement("li");
  li.textContent = `${new Date().toLocaleTimeString()}: ${text}`;
  $("notices").prepend(li);
  while ($("notices").children.length > 8) $("notices").lastElementChild.remove();
}

// ---- charts (uPlot) ---------------------------------------------------------------------

const series = { t: [], sym: { mouth: [], eye: [], brow: [] } };
for (const r of REGIONS) series[r] = { left: [], right: [] };

function makeChart(el, lines, yRange) {
  const opts = {
    width: Math.max(200, el.clientWidth || 300),
    height: el.classList.contains("chart-small") ? 90 : 130,
    legend: { show: false },
    cursor: { show: false },
    scales: { x: { time: true }, y: { range: yRange } },
    axes: [
      { stroke: "#111", grid: { stroke: "#ddd" }, size: 28, values: (u, ticks) => ticks.map((t) => `${Math.round(t - Date.now() / 1000)} s`) },
      { stroke: "#111", grid: { stroke: "#ddd" }, size: 44 },
    ],
    series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.stroke, dash: l.dash, width: 2, spanGaps: false, points: { show: false } }))],
  };
  const data = [[], ...lines.map(() => [])];
  return new uPlot(opts, data, el);
}

const charts = {};
const haveUplot = typeof window.uPlot === "function";
if (haveUplot) {
  for (const r of REGIONS) {
    $(`chart-${r}`).classList.add("chart-small");
    charts[r] = makeChart($(`chart-${r}`), [{ label: "Left", ...LEFT }, { label: "Right", ...RIGHT }], (u, min, max) => [0, Math.max(4, max || 0)]);
  }
  charts.symmetry = makeChart($("chart-symmetry"), TREND, [0, 1]);
  const resize = () => {
    for (const [key, chart] of Object.entries(charts)) {
      const el = $(`chart-${key}`);
      if (el.clientWidth && el.clientWidth !== chart.width) chart.setSize({ width: el.clientWidth, height: chart.height });
    }
  };
  new ResizeObserver(resize).observe($("chart-symmetry"));
} else {
  logNotice("The chart library did not load; the numbers below are still live.");
}
// Exposed for the browser tests: data lengths grow while feedback arrives.
window.telerehabCharts = charts;

function addSample(fb, at) {
  series.t.push(at / 1000);
  for (const r of REGIONS) {
    const m = fb.regions && fb.regions[r];
    const exc = (m && m.excursion) || {};
    series[r].left.push(fb.face ? finite(exc.left) : null);
    series[r].right.push(fb.face ? finite(exc.right) : null);
    const s = m && finite(m.symmetry);
    series.sym[r].push(s === null ? null : Math.max(0, Math.min(1, s)));
  }
}

function drawCharts() {
  const cutoff = Date.now() / 1000 - WINDOW_S;
  let drop = 0;
  while (drop < series.t.length && series.t[drop] < cutoff) drop++;
  if (drop) {
    series.t.splice(0, drop);
    for (const r of REGIONS) { series[r].left.splice(0, drop); series[r].right.splice(0, drop); series.sym[r].splice(0, drop); }
  }
  if (!haveUplot) return;
  const scale = { min: cutoff, max: cutoff + WINDOW_S };
  for (const r of REGIONS) {
    charts[r].setData([series.t.slice(), series[r].left.slice(), series[r].right.slice()], false);
    charts[r].setScale("x", scale);
  }
  charts.symmetry.setData([series.t.slice(), ...TREND.map((s) => series.sym[s.key].slice())], false);
  charts.symmetry.setScale("x", scale);
}
setInterval(() => { if (!finished) drawCharts(); }, 250);

// ---- region overlay: left/right indicators over the video ----------------------------------

let overlayOn = false;
function drawOverlay() {
  const canvas = $("region-overlay");
  if (!overlayOn || !latest || finished) return;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (!w || !h) return;
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  // The video is not mirrored here: the patient's left is on the viewer's right.
  const rows = { brow: 0.3, eye: 0.42, mouth: 0.68 };
  ctx.font = "bold 14px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  for (const r of REGIONS) {
    const m = latest.regions && latest.regions[r];
    const exc = (m && m.excursion) || {};
    const y = rows[r] * h;
    for (const [side, x0, dir] of [["left", w - 8, -1], ["right", 8, 1]]) {
      const v = Math.max(0, finite(exc[side]) ?? 0);
      const len = Math.min(w * 0.3, (v / 10) * w * 0.3);
      const weak = m && m.weaker === side;
      ctx.fillStyle = "rgba(0,0,0,0.55)";
      ctx.fillRect(dir > 0 ? x0 : x0 - w * 0.3, y - 9, w * 0.3, 18);
      ctx.fillStyle = weak ? "#FFB000" : "#56B4E9";
      ctx.fillRect(dir > 0 ? x0 : x0 - len, y - 7, len, 14);
      ctx.fillStyle = "#fff";
      const label = `${r} ${side === "left" ? "L" : "R"} ${v.toFixed(1)}`;
      ctx.textAlign = dir > 0 ? "left" : "right";
      ctx.fillText(label, dir > 0 ? x0 + 4 : x0 - 4, y - 18);
    }
  }
}
setInterval(drawOverlay, 100);

$("toggle-overlay").addEventListener("click", (ev) => {
  overlayOn = !overlayOn;
  ev.currentTarget.setAttribute("aria-pressed", String(overlayOn));
  ev.currentTarget.textContent = `Region overlay: ${overlayOn ? "on" : "off"}`;
  $("region-overlay").hidden = !overlayOn;
  drawOverlay();
});

// ---- live numbers ----------------------------------------------------------------------------

function describeSynkinesis(s) {
  const kind = s.kind === "oral_ocular" ? "eye narrows during mouth movement" : "mouth moves during eye closure";
  return `${kind}${s.side ? ` (${s.side} side)` : ""}, index ${num(s.index, 2)}`;
}

function renderExercise(fb) {
  const ex = fb.exercise;
  if (!ex) { set("ex-summary", "None running."); return; }
  const left = holdLeft(ex);
  const parts = [
    `${title(ex.name)}: ${PHASES[ex.phase] || ex.phase}`,
    `rep ${ex.rep} of ${ex.reps}`,
    ex.sets > 1 ? `set ${ex.set} of ${ex.sets}` : "",
    left === null ? "" : `hold ${Math.ceil(left)} s left`,
    ex.symmetry == null ? "" : `symmetry ${pct(ex.symmetry)}`,
    `attempts ${ex.attempts ?? 0}`,
  ];
  set("ex-summary", parts.filter(Boolean).join(" · "));
}

function renderAssessment(fb) {
  const a = fb.assessment;
  $("assessment-summary").hidden = !a;
  if (!a) return;
  set("assessment-summary", a.step === "done" ? "Guided assessment finished." : `Guided assessment: step ${a.index + 1} of ${a.steps} (${title(a.step)}), ${Math.ceil(a.remaining_s)} s left`);
  const e = a.estimate;
  $("sunnybrook").hidden = !e;
  if (e) {
    set("sunnybrook-text", `Composite ${e.composite} (voluntary ${e.voluntary_score} − resting ${e.resting_score} − synkinesis ${e.synkinesis_score})` + (e.affected_side ? `; affected side ${e.affected_side}` : "") + ". An estimate for you to confirm.");
  }
}

function render() {
  renderQueued = false;
  const fb = latest;
  if (!fb || finished) return;  // a frame queued before the end must not undo onState's clean-up
  set("n-status", fb.status + (fb.face ? "" : " (no face)"));
  $("n-status").classList.toggle("warn", WARN_STATUSES.has(fb.status));
  set("calibration", pct(fb.calibration));
  set("n-yaw", num(fb.pose && fb.pose.yaw));
  set("n-pitch", num(fb.pose && fb.pose.pitch));
  set("n-roll", num(fb.pose && fb.pose.roll));
  set("n-aperture-left", pct(fb.eye_aperture && fb.eye_aperture.left));
  set("n-aperture-right", pct(fb.eye_aperture && fb.eye_aperture.right));
  for (const region of REGIONS) {
    const r = (fb.regions && fb.regions[region]) || {};
    const exc = r.excursion || {};
    set(`n-${region}-left`, num(exc.left));  // the unit is in the column header
    set(`n-${region}-right`, num(exc.right));
    set(`n-${region}-symmetry`, pct(r.symmetry));
    set(`n-${region}-weaker`, r.weaker || "–");
  }
  set("n-synkinesis", fb.synkinesis ? describeSynkinesis(fb.synkinesis) : "–");
  showSpasm(fb.spasm);
  set("n-resting", fb.resting ? `brow ${num(fb.resting.brow_mm)}, eye ${num(fb.resting.eye_mm)}, mouth ${num(fb.resting.mouth_mm)} mm` : "–");
  set("n-latency", fb.latency_ms == null ? "–" : `${Math.round(fb.latency_ms)} ms`);
  set("n-worker", String(fb.worker ?? "–"));
  set("n-seq", String(fb.seq ?? "–"));
  set("n-dropped", String(fb.dropped ?? 0));
  set("cues", cueText(fb) || "–");  // the same words as the patient's page
  renderExercise(fb);
  renderAssessment(fb);
}

function checkSynkinesis(fb) {
  const alert = Boolean(fb.synkinesis && fb.synkinesis.alert);
  if (alert && !synkinesisAlert) {
    const text = `Synkinesis: ${describeSynkinesis(fb.synkinesis)}.`;
    $("synkinesis-alert").textContent = text;
    logNotice(text);
  }
  synkinesisAlert = alert;
  $("synkinesis-alert").hidden = !alert;
}

setInterval(() => {
  if (!latest) return;
  const age = Date.now() - latestAt;
  set("n-age", age < 1000 ? "just now" : `${Math.round(age / 1000)} s ago`);
  $("numbers").classList.toggle("stale", finished || age > STALE_MS);
}, 500);

function onEvent(msg) {
  if (msg.type === "feedback") {
    latest = msg;
    latestAt = Date.now();
    addSample(msg, latestAt);
    checkSynkinesis(msg);
    if (!renderQueued) { renderQueued = true; requestAnimationFrame(render); }
  } else if (msg.type === "peer") {
    // The gateway may say "the patient joined" twice (once when our channel opens, once
    // when theirs does): log changes only. Several therapists can join, so not for them.
    const repeat = msg.role === "patient" && msg.state === patientState;
    if (msg.role === "patient") patientState = msg.state;
    const who = msg.role === "patient" ? "The patient" : "A therapist";
    if (!repeat) logNotice(`${who} ${msg.state === "joined" ? "joined" : "left"}.`);
    if (msg.role === "patient") {
      overlay.textContent = msg.state === "joined" ? "The patient joined; waiting for video…" : "The patient has left.";
      overlay.hidden = msg.state === "joined" && remoteVideo.videoWidth > 0;
    }
  }
}

const CONTROL_IDS = ["ex-name", "start-exercise", "start-assessment", "stop-exercise", "recalibrate", "watch-rest"];

function onState(state, message) {
  const labels = { connecting: "Connecting…", connected: "Connected", reconnecting: "Reconnecting…" };
  const status = $("status");
  status.className = `status status-${state}`;
  if (state in labels) {
    status.textContent = labels[state] + (state === "reconnecting" && message ? ` ${message}` : "");
    const s = session && session.session;
    endBtn.disabled = !s;
    if (s && s.expires) {
      set("expires", `Link valid until ${new Date(s.expires * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`);
    }
    if (state === "connected") { loadExercises(); restoreNotes(); linkClinic(); }
    return;
  }
  if (state === "stopped") return;
  if (state === "ended") saveNotesAtEnd();
  finished = true;
  status.textContent = state === "ended" ? "The session has ended" : message;
  if (state === "ended") logNotice("The session has ended.");
  endBtn.disabled = true;
  for (const id of CONTROL_IDS) $(id).disabled = true;
  overlay.textContent = state === "ended" ? "The session has ended" : message;
  overlay.hidden = false;
  $("region-overlay").hidden = true;
  $("synkinesis-alert").hidden = true;
  remoteVideo.srcObject = null;
  $("numbers").classList.add("stale");  // the last numbers are no longer live
  set("cues", "–");
  document.body.classList.add("finished");
}

function onNotice({ kind, message }) {
  if (kind === "sound_blocked") { $("enable-sound").hidden = false; return; }
  showNotice(message);
}

remoteVideo.addEventListener("resize", () => { if (remoteVideo.videoWidth > 0 && !finished) overlay.hidden = true; });

session = connect({ role: "therapist", video: { self: $("self-video"), remote: remoteVideo }, onEvent, onState, onNotice });

// ---- exercise controls ---------------------------------------------------------------------

function fillDose() {
  const e = catalogue.get($("ex-name").value);
  if (!e) return;
  $("ex-reps").value = e.reps;
  $("ex-sets").value = e.sets;
  $("ex-hold").value = e.hold_s;
  set("ex-instructions", e.instructions);
}

let exercisesLoading = null;
/** The catalogue, loaded once (the programme queue waits for it too). */
function loadExercises() {
  return (exercisesLoading ||= fetchExercises());
}

async function fetchExercises() {
  try {
    catalogue = await session.exercises();
  } catch (err) {
    set("command-result", `The exercise list could not be loaded: ${err.message}`);
    exercisesLoading = null;  // the next connection tries again
    return;
  }
  $("ex-name").replaceChildren(...[...catalogue.values()].map((e) => new Option(e.title, e.name)));
  for (const id of CONTROL_IDS) $(id).disabled = false;
  fillDose();
}
$("ex-name").addEventListener("change", fillDose);

async function send(body, done) {
  set("command-result", "Sending…");
  try {
    await session.command(body);
    set("command-result", done);
    logNotice(done);
  } catch (err) {
    set("command-result", `Not sent: ${err.message}`);
  }
}

$("start-exercise").addEventListener("click", () => startExercise());

function startExercise() {
  const name = $("ex-name").value;
  const body = { command: "start_exercise", exercise: name };
  const reps = parseInt($("ex-reps").value, 10), sets = parseInt($("ex-sets").value, 10), hold = parseFloat($("ex-hold").value);
  if (Number.isFinite(reps)) body.reps = reps;
  if (Number.isFinite(sets)) body.sets = sets;
  if (Number.isFinite(hold)) body.hold_s = hold;
  send(body, `Started ${title(name)} on the patient's screen.`);
}
$("start-assessment").addEventListener("click", () => send({ command: "start_assessment" }, "Started the guided assessment."));
$("stop-exercise").addEventListener("click", () => send({ command: "stop_exercise" }, "Stopped the exercise."));
$("recalibrate").addEventListener("click", () => send({ command: "recalibrate" }, "Asked the patient to relax for a new calibration."));
// Hemifacial spasm: the patient rests and one-sided twitches are counted (until Stop or
// another exercise); at other times one-sided movement is not a twitch (talking, a palsy).
$("watch-rest").addEventListener("click", () => send({ command: "watch_rest" }, "Watching for twitches while the patient rests. Stop ends it."));

// ---- notes and the end-of-session summary --------------------------------------------------------

function restoreNotes() {
  const saved = localStorage.getItem(notesKey());
  if (saved && !$("notes").value) $("notes").value = saved;
}
$("notes").addEventListener("input", () => localStorage.setItem(notesKey(), $("notes").value));

// Notes kept in the clinic. The dashboard's link names the clinic session in the URL
// fragment beside the join token (#token=…&clinic_session=12): a fragment is never sent
// to a server, so it reaches no access log. The therapist's clinic sign-in token is not
// in the link at all: the page reads it from this origin's sessionStorage, where the
// dashboard keeps it (a link followed in the same tab keeps that storage; it is gone when
// the tab closes). Before saving, the page checks that the clinic session is this very
// room (its gateway_sid), so a stale or edited fragment cannot file notes elsewhere.
// Opened any other way (a join link alone, another tab), notes stay in this browser.
const clinicSession = (() => {
  const raw = new URLSearchParams(location.hash.replace(/^#/, "")).get("clinic_session");
  return raw && /^[0-9]{1,10}$/.test(raw) ? raw : null;
})();
let clinicLinked = false, endSave = null;

async function linkClinic() {
  const token = clinicToken("therapist");
  if (clinicLinked || !clinicSession || !token) return;
  try {
    const row = await clinic(`/sessions/${clinicSession}`, token);
    const sid = session && session.session && session.session.sid;
    if (!sid || row.gateway_sid !== sid) {
      set("notes-status", "These notes stay in this browser: the clinic session does not match this call.");
      return;
    }
    clinicLinked = true;
    showProgramme(row.patient_id, token);
    if (row.notes && !$("notes").value) $("notes").value = row.notes;
    // Manual treatment given in the clinic: recorded with the notes, in the clinic only.
    const given = new Set((row.treatments || []).map((t) => t.kind));
    for (const box of document.querySelectorAll('#treatment-given input[name="treatment"]')) box.checked = given.has(box.value);
    $("treatment-given").hidden = false;
    set("notes-hint", "Saved to the patient's record in the clinic with \"Save notes\" and when the session ends; only therapists see them.");
    $("save-notes").hidden = false;
  } catch (err) {
    set("notes-status", `These notes stay in this browser: ${err.message}`);
  }
}

// ---- the patient's name and programme (from the clinic, when the dashboard opened the page)

/** The patient's name in the header and their programme as a queue: each exercise starts
 * at the programme's dose in one click, and the picker below starts on the first. */
async function showProgramme(patientId, token) {
  try {
    const patient = await clinic(`/patients/${patientId}`, token);
    set("page-title", `Session with ${patient.name}`);
    document.title = `Telerehab: session with ${patient.name}`;
  } catch { /* the page works without the name */ }
  let programme = null;
  try { programme = await clinic(`/patients/${patientId}/programme`, token); } catch { return; }
  await loadExercises();
  const list = $("queue");
  list.replaceChildren();
  for (const e of programme.exercises || []) {
    const dose = { reps: e.reps, sets: e.sets, hold_s: e.hold_s };
    const li = el("li", null, { "data-exercise": e.name });
    const text = `${e.title}: ${e.reps} reps${e.sets > 1 ? ` × ${e.sets} sets` : ""}, hold ${e.hold_s} s `;
    const start = el("button", "Start", { type: "button", "aria-label": `Start ${e.title}` });
    start.disabled = !catalogue.has(e.name);
    start.addEventListener("click", () => {
      pick(e.name, dose);
      startExercise();
    });
    li.append(text, start);
    list.append(li);
  }
  $("programme-queue").hidden = !list.children.length;
  const first = (programme.exercises || []).find((e) => catalogue.has(e.name));
  if (first) pick(first.name, { reps: first.reps, sets: first.sets, hold_s: first.hold_s });
}

/** Puts an exercise and its dose in the controls. */
function pick(name, dose) {
  $("ex-name").value = name;
  fillDose();
  $("ex-reps").value = dose.reps;
  $("ex-sets").value = dose.sets;
  $("ex-hold").value = dose.hold_s;
}

/** Saves the notes to the clinic; true when they are there. */
async function saveNotes(atEnd = false) {
  if (!clinicLinked) return false;
  set("notes-status", "Saving the notes…");
  try {
    const treatments = [...document.querySelectorAll('#treatment-given input[name="treatment"]:checked')].map((b) => ({ kind: b.value }));
    const row = await clinic(`/sessions/${clinicSession}/notes`, clinicToken("therapist"), { method: "PUT", body: { notes: $("notes").value, treatments } });
    const at = new Date(row.notes_updated_at).toLocaleTimeString();
    set("notes-status", atEnd ? `Notes saved to the clinic as the session ended (${at}).` : `Notes saved to the clinic at ${at}.`);
    return true;
  } catch (err) {
    set("notes-status", `The notes were not saved to the clinic (${err.message}); they are still kept in this browser.`);
    return false;
  }
}
const saveNotesAtEnd = () => (endSave ||= saveNotes(true));
$("save-notes").addEventListener("click", () => saveNotes());

function cell(row, text, header = false) {
  const el = document.createElement(header ? "th" : "td");
  if (header) el.scope = "row";
  el.textContent = text;
  row.append(el);
}

function showSummary(summary, notes) {
  const body = $("summary-body");
  body.replaceChildren();
  const exercises = (summary && summary.exercises) || [];
  if (!summary) {
    const p = document.createElement("p");
    p.textContent = "No measurements were returned for this session.";
    body.append(p);
  } else {
    const p = document.createElement("p");
    const frames = summary.frames ? `${summary.frames} frames measured. ` : "";
    p.textContent = `${frames}Only these figures are kept; no video was recorded.`;
    body.append(p);
  }
  if (exercises.length) {
    const table = document.createElement("table");
    table.className = "regions";
    table.innerHTML = "<caption>Exercises</caption><thead><tr><th scope='col'>Exercise</th><th scope='col'>Reps / tries</th><th scope='col'>Sets</th><th scope='col'>Mean hold</th><th scope='col'>Symmetry</th><th scope='col'>Synkinesis</th><th scope='col'>Quality</th></tr></thead>";
    const tbody = document.createElement("tbody");
    for (const e of exercises) {
      const row = document.createElement("tr");
      cell(row, title(e.name), true);
      cell(row, `${e.reps} / ${e.attempts}`);
      cell(row, String(e.sets));
      cell(row, `${num(e.mean_hold_s)} s`);
      cell(row, pct(e.symmetry));
      cell(row, e.synkinesis == null ? "–" : num(e.synkinesis, 2));
      cell(row, pct(e.quality));
      tbody.append(row);
    }
    table.append(tbody);
    body.append(table);
  }
  if (summary && summary.resting) {
    const p = document.createElement("p");
    const r = summary.resting;
    p.textContent = `At rest (left − right): brow ${num(r.brow_mm)} mm, eye ${num(r.eye_mm)} mm, mouth ${num(r.mouth_mm)} mm.`;
    body.append(p);
  }
  if (summary && summary.spasms) {
    const p = document.createElement("p");
    const sp = summary.spasms;
    p.textContent = `Twitches at rest: ${sp.count} (left ${sp.left}, right ${sp.right}; eye ${sp.eye}, mouth ${sp.mouth}), ${num(sp.total_s)} s in all.`;
    body.append(p);
  }
  if (summary && summary.assessment) {
    const p = document.createElement("p");
    p.textContent = `Sunnybrook estimate ${summary.assessment.composite} (to confirm; not the record).`;
    body.append(p);
  }
  if (notes) {
    const h = document.createElement("h3");
    h.textContent = "Your notes";
    const pre = document.createElement("p");
    pre.className = "notes-text";
    pre.textContent = notes;
    body.append(h, pre);
  }
  $("summary").hidden = false;
  $("summary").focus();
}

endBtn.addEventListener("click", async () => {
  if (!confirm("End this session for you and the patient?")) return;
  endBtn.disabled = true;
  endBtn.textContent = "Ending…";
  const notes = $("notes").value.trim();
  try {
    const reply = await session.endSession();
    showNotice("");
    showSummary(reply.summary || null, notes);
    if (!clinicLinked || await saveNotesAtEnd()) localStorage.removeItem(notesKey());
  } catch (err) {
    showNotice(`The session could not be ended: ${err.message}`);
    endBtn.disabled = finished;
  }
  endBtn.textContent = "End session";
});

$("enable-sound").addEventListener("click", async () => {
  try { await session.enableSound(); $("enable-sound").hidden = true; } catch { /* stays visible */ }
});
