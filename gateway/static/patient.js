// The patient's page: device check, mirrored self-view, calibration, the exercise card with
// live cues (text, optional speech, a beep per repetition), left/right bars, the guided
// assessment, practising alone (home practice only: in a call the therapist leads, and
// their picture comes first), and the end of a call with what was done and the way back to
// the plan. Everything the analyzer says arrives as "feedback".
import { connect, cueText, holdLeft, mark, PHASES } from "/static/telerehab.js";

import { clinicToken } from "/static/clinic.js";
import { $, el } from "/static/dom.js";
const statusEl = $("status"), cuesEl = $("cues"), noticeEl = $("notice");
const selfVideo = $("self-video"), remoteVideo = $("remote-video"), overlay = $("remote-overlay");

const CUE_MIN_SHOW_MS = 1500;  // so a cue stays long enough to read, and screen readers are not flooded
const SPEAK_MIN_GAP_MS = 4000;  // spoken cues: at most one this often
const STALE_MS = 3000;
const DARK_LUMA = 50;  // mean brightness (0-255) below which the picture is too dark to measure

let finished = false;
let latest = null, latestAt = 0, renderQueued = false;
let shownCue = cuesEl.textContent, cueShownAt = 0, cueTimer = 0;
let scaleMm = 10;  // bar length = this many mm; grows with the largest movement seen
let catalogue = new Map();
let lastRep = null, lastExercise = null, lastPhase = null, lastAssessmentStep = null;
const done = new Map();  // exercise name → the reps counted and asked for, for the end screen
let speech = false, tone = true, spokenAt = 0, audio = null;

function showNotice(text) {
  noticeEl.textContent = text;
  noticeEl.hidden = !text;
}

function announce(text) {
  $("announce").textContent = text;
}

// ---- sound: an optional spoken cue and a short tone ------------------------------------

function speak(text) {
  if (!speech || !("speechSynthesis" in window) || !text) return;
  const now = Date.now();
  if (now - spokenAt < SPEAK_MIN_GAP_MS) return;
  spokenAt = now;
  speechSynthesis.cancel();
  const utterance = new SpeechSynthesisUtterance(text);
  utterance.rate = 0.9;
  utterance.lang = document.documentElement.lang || "en";
  speechSynthesis.speak(utterance);
}

function beep(freq = 660, ms = 160) {
  if (!tone) return;
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume();
    const osc = audio.createOscillator(), gain = audio.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.25, audio.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + ms / 1000);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + ms / 1000 + 0.05);
  } catch { /* no audio output: the count is on screen and announced */ }
}

// Browsers only start audio after a user gesture: unlock it on the first one.
addEventListener("pointerdown", () => { if (tone && !audio) { try { audio = new AudioContext(); } catch { /* none */ } } }, { once: true });

function toggle(button, on, label) {
  button.setAttribute("aria-pressed", String(on));
  button.textContent = `${label}: ${on ? "on" : "off"}`;
}

$("toggle-speech").addEventListener("click", (ev) => {
  speech = !speech;
  toggle(ev.currentTarget, speech, "Read instructions aloud");
  if (speech) { spokenAt = 0; speak(shownCue); } else if ("speechSynthesis" in window) speechSynthesis.cancel();
});
$("toggle-tone").addEventListener("click", (ev) => {
  tone = !tone;
  toggle(ev.currentTarget, tone, "Beep for each repetition");
  if (tone) beep();
});
if (!("speechSynthesis" in window)) $("toggle-speech").hidden = true;

// ---- the big cue --------------------------------------------------------------------

// Only touch the live region when the words change, and not more often than CUE_MIN_SHOW_MS.
function setCue(text) {
  clearTimeout(cueTimer);
  if (text === shownCue) return;
  const wait = cueShownAt + CUE_MIN_SHOW_MS - Date.now();
  if (wait > 0) { cueTimer = setTimeout(() => setCue(text), wait); return; }
  shownCue = text;
  cueShownAt = Date.now();
  cuesEl.textContent = text;
  mark("cue", { text });
  speak(text);
}

// ---- device check -----------------------------------------------------------------------

const checks = { camera: null, microphone: null, light: null, face: null };
let checkDone = false;

function setCheck(name, ok, text) {
  if (checks[name] === ok && $(`check-${name}`).querySelector(".what").textContent === text) return;
  checks[name] = ok;
  const li = $(`check-${name}`);
  li.dataset.ok = ok === null ? "pending" : String(ok);
  li.querySelector(".mark").textContent = ok === null ? "…" : ok ? "✓" : "!";
  li.querySelector(".what").textContent = text;
  const all = Object.values(checks);
  const problems = all.filter((v) => v === false).length;
  const summary = $("check-summary");
  if (all.every((v) => v === true)) {
    summary.textContent = "Camera check: all good ✓";
    if (!checkDone) { checkDone = true; $("check").open = false; }
  } else if (problems) {
    summary.textContent = `Camera check: ${problems} thing${problems > 1 ? "s" : ""} to fix`;
    $("check").open = true;
  } else {
    summary.textContent = "Checking your camera…";
  }
}

const probe = document.createElement("canvas");
probe.width = 32;
probe.height = 24;
function checkLight() {
  if (finished || !selfVideo.videoWidth) return;
  const ctx = probe.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(selfVideo, 0, 0, probe.width, probe.height);
  const px = ctx.getImageData(0, 0, probe.width, probe.height).data;
  let sum = 0;
  for (let i = 0; i < px.length; i += 4) sum += 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
  const luma = sum / (px.length / 4);
  if (luma < DARK_LUMA) setCheck("light", false, "too dark. Turn on a light, or sit facing a window.");
  else setCheck("light", true, "bright enough.");
}
setInterval(checkLight, 1000);

selfVideo.addEventListener("loadeddata", () => {
  setCheck("camera", true, "working.");
  const stream = selfVideo.srcObject;
  if (stream && stream.getAudioTracks().length) setCheck("microphone", true, "working.");
  checkLight();
});

function checkFace(fb) {
  const cues = (fb.cues || []).join(" ");
  if (fb.status === "no_face" && /light/i.test(cues)) setCheck("face", false, "we cannot see it well. Move into the light.");
  else if (fb.status === "no_face") setCheck("face", false, "not found. Sit in front of the camera, in the middle of the picture.");
  else if (fb.status === "bad_pose") setCheck("face", false, "turned. Look straight at the camera.");
  else if (/closer/i.test(cues)) setCheck("face", false, "too small. Move a little closer to the camera.");
  else if (fb.face) setCheck("face", true, "in the middle and the right size.");
}

// ---- rendering feedback ---------------------------------------------------------------------

const fmt = (v, unit) => (unit === "fraction" ? `${Math.round(v * 100)}%` : `${v.toFixed(1)} mm`);

function renderExercise(ex) {
  const card = $("exercise");
  card.hidden = !ex;
  if (!ex) { lastExercise = lastRep = lastPhase = null; return; }
  const info = catalogue.get(ex.name);
  if (ex.name !== lastExercise) {
    $("exercise-title").textContent = info ? info.title : ex.name.replaceAll("_", " ");
    $("exercise-instructions").textContent = info ? info.instructions : "";
    lastRep = null;
  }
  $("exercise-phase").textContent = PHASES[ex.phase] || ex.phase;
  const left = holdLeft(ex);
  $("exercise-hold").hidden = left === null;
  $("exercise-hold-bar").hidden = left === null;
  if (left !== null) {
    $("exercise-hold").textContent = `${Math.ceil(left)} s`;
    $("exercise-hold-bar").value = ex.hold_target_s ? Math.min(100, (100 * ex.hold_s) / ex.hold_target_s) : 100;
  }
  const repText = `Rep ${ex.rep} of ${ex.reps}`;
  $("exercise-rep").textContent = repText;
  $("exercise-set").textContent = ex.sets > 1 ? ` · Set ${ex.set} of ${ex.sets}` : "";
  if (lastExercise === ex.name && lastRep !== null && ex.rep > lastRep) { beep(); announce(`${repText}.`); }
  if (ex.phase === "done" && lastPhase !== "done") { beep(880, 300); announce("Exercise finished. Well done!"); }
  lastExercise = ex.name;
  lastRep = ex.rep;
  lastPhase = ex.phase;
  const counted = ex.phase === "done" ? ex.reps * ex.sets : (ex.set - 1) * ex.reps + Math.max(0, ex.rep - 1);
  done.set(ex.name, { counted: Math.max(counted, (done.get(ex.name) || { counted: 0 }).counted), asked: ex.reps * ex.sets });

  const row = card.querySelector(".symmetry-row");
  const value = ex.value || {};
  const scale = ex.unit === "fraction" ? 1 : Math.max(ex.target * 2, 1e-6);
  for (const side of ["left", "right"]) {
    const v = Number.isFinite(value[side]) ? Math.max(0, value[side]) : null;
    row.querySelector(`.fill[data-side="${side}"]`).style.width = v === null ? "0%" : `${Math.min(100, (100 * v) / scale)}%`;
    row.querySelector(`.side-val[data-side="${side}"]`).textContent = v === null ? "–" : fmt(v, ex.unit);
  }
  $("exercise-symmetry").textContent = ex.symmetry == null ? "–" : `${Math.round(ex.symmetry * 100)}%`;
  mark("exercise", { name: ex.name, rep: ex.rep, phase: ex.phase, seq: latest && latest.seq });
}

function renderAssessment(a) {
  $("assessment").hidden = !a;
  if (!a) { lastAssessmentStep = null; return; }
  const done = a.step === "done";
  const title = a.step === "rest" ? "Rest" : (catalogue.get(a.step) || {}).title || a.step.replaceAll("_", " ");
  $("assessment-step").textContent = done ? "Finished. Thank you!" : `Step ${a.index + 1} of ${a.steps}: ${title}`;
  $("assessment-instructions").textContent = done ? "Your therapist will go through the results with you." : a.instructions;
  $("assessment-remaining").textContent = done ? "" : `${Math.ceil(Math.max(0, a.remaining_s))} s left`;
  if (a.step !== lastAssessmentStep) announce(done ? "The face check is finished." : `Face check, step ${a.index + 1} of ${a.steps}.`);
  lastAssessmentStep = a.step;
}

function render() {
  renderQueued = false;
  const fb = latest;
  if (!fb || finished) return;
  // Tracking has its own words: the calibration cue must not stay up during the exercise.
  const cue = cueText(fb);
  if (cue) setCue(cue);
  checkFace(fb);

  const pct = Math.round(Math.max(0, Math.min(1, fb.calibration || 0)) * 100);
  $("calibration").value = pct;
  $("calibration").textContent = `${pct}%`;
  $("calibration-pct").textContent = `${pct}%`;
  $("calibration-box").hidden = fb.status !== "calibrating" && pct >= 100;

  renderExercise(fb.exercise || null);
  renderAssessment(fb.assessment || null);

  for (const row of document.querySelectorAll("#sides .side-row")) {
    const region = fb.regions && fb.regions[row.dataset.region];
    const exc = region && region.excursion;
    for (const side of ["left", "right"]) {
      const mm = exc && Number.isFinite(exc[side]) ? Math.max(0, exc[side]) : null;
      if (mm !== null) scaleMm = Math.max(scaleMm, mm);
      row.querySelector(`.fill[data-side="${side}"]`).style.width = mm === null ? "0%" : `${(100 * mm) / scaleMm}%`;
      row.querySelector(`.side-val[data-side="${side}"]`).textContent = mm === null ? "–" : `${mm.toFixed(1)} mm`;
    }
  }
  $("sides").classList.toggle("stale", !fb.face);
  // One set of figures at a time: during an exercise its card shows the two sides.
  $("sides").hidden = Boolean(fb.exercise);
  const mouth = fb.regions && fb.regions.mouth && fb.regions.mouth.excursion;
  mark("feedback", { seq: fb.seq, captured_ms: fb.captured_ms, analysed_ms: fb.analysed_ms, mouth_left: mouth ? mouth.left : null });
}

// Grey the bars out when the analysis has gone quiet, so old numbers are not mistaken for live ones.
setInterval(() => {
  if (latest) $("sides").classList.toggle("stale", Date.now() - latestAt > STALE_MS || !latest.face);
}, 1000);

function onEvent(msg) {
  if (msg.type === "feedback") {
    latest = msg;
    latestAt = Date.now();
    if (!renderQueued) { renderQueued = true; requestAnimationFrame(render); }
  } else if (msg.type === "peer" && msg.role === "therapist") {
    const joined = msg.state === "joined";
    overlay.textContent = joined ? "Your therapist has joined." : "Your therapist has left the call.";
    overlay.hidden = joined && remoteVideo.videoWidth > 0;
    showNotice(joined ? "" : "Your therapist has left the call. Please wait; they may come back.");
  }
}

function onState(state, message) {
  const labels = { connecting: "Connecting…", connected: "Connected", reconnecting: "Reconnecting…" };
  statusEl.className = `status status-${state}`;
  if (state in labels) {
    statusEl.textContent = labels[state] + (state === "reconnecting" && message ? ` ${message}` : "");
    if (state === "connected") loadExercises();
    return;
  }
  if (state === "stopped") return;
  // ended, expired, error: final. Say it plainly, in the big cue area too.
  finished = true;
  clearTimeout(cueTimer);
  const text = state === "ended" ? "The session has ended" : message;
  statusEl.textContent = text;
  cuesEl.textContent = state === "ended" ? "The session has ended. Thank you!" : message;
  if (state === "error" && /camera/i.test(message)) setCheck("camera", false, message);
  document.body.classList.add("finished");
  // The device check stays up after a camera error: it says what to fix.
  for (const id of ["calibration-box", "exercise", "assessment", "practice", "check"]) $(id).hidden = !(state === "error" && id === "check");
  overlay.hidden = true;
  remoteVideo.srcObject = null;
  if ("speechSynthesis" in window) speechSynthesis.cancel();
  if (state === "ended") showEnd();
}

/** The end of a call: what was done, and the way back to the plan. */
function showEnd() {
  const list = $("end-list");
  list.replaceChildren();
  for (const [name, { counted, asked }] of done) {
    const title = (catalogue.get(name) || {}).title || name.replaceAll("_", " ");
    list.append(el("li", `${title}: ${Math.min(counted, asked)} of ${asked} repetitions`));
  }
  if (!list.children.length) list.append(el("li", "No exercise was counted in this call."));
  $("end-back").hidden = !clinicToken("patient");
  $("end-close").hidden = !$("end-back").hidden;
  $("sides").hidden = true;
  for (const box of document.querySelectorAll(".remote-main")) box.hidden = true;
  $("end").hidden = false;
  $("end").focus();
}

function onNotice({ kind, message }) {
  if (kind === "sound_blocked") { $("enable-sound").hidden = false; return; }
  if (kind === "microphone") setCheck("microphone", false, "not found. Your therapist cannot hear you, but the exercises still work.");
  if (kind === "camera") setCheck("camera", false, message);
  showNotice(message);
}

// "Skip to your instructions" without changing location.hash: the join token lives there.
document.querySelector(".skip").addEventListener("click", (ev) => { ev.preventDefault(); cuesEl.focus(); });

// The therapist's picture: hide the waiting text once frames really arrive.
remoteVideo.addEventListener("resize", () => { if (remoteVideo.videoWidth > 0) overlay.hidden = true; });

$("toggle-self").addEventListener("click", (ev) => {
  const hide = ev.currentTarget.getAttribute("aria-pressed") !== "true";
  ev.currentTarget.setAttribute("aria-pressed", String(hide));
  ev.currentTarget.textContent = hide ? "Show my picture" : "Hide my picture";
  $("self-box").hidden = hide;
  $("self-hidden-note").hidden = !hide;
});

const session = connect({ role: "patient", video: { self: selfVideo, remote: remoteVideo }, onEvent, onState, onNotice });

// ---- practising alone -------------------------------------------------------------------------

// Home practice opened from the clinic's plan:
// #token=…&clinic_session=ID&routine=name:reps:sets:hold,name:reps:sets:hold…
// One exercise, or the day's routine: each in turn after a single calibration, the next
// a few seconds after the last one's final repetition, all in one saved session.
const params = new URLSearchParams(location.hash.replace(/^#/, ""));
const homeSession = params.get("clinic_session");
const ROUTINE_PAUSE_MS = 4000;  // a breath between two exercises of the routine
const routine = (params.get("routine") || "").split(",").filter(Boolean).map((item) => {
  const [name, reps, sets, hold] = item.split(":");
  const n = (v) => (v !== undefined && v !== "" && Number.isFinite(Number(v)) ? Number(v) : undefined);
  return { name, reps: n(reps), sets: n(sets), hold_s: n(hold) };
});
let routineNext = 0, routineRunning = null, routineNextAt = 0, routineDone = false;
if (homeSession) $("home-finish").hidden = false;
// A call with the therapist (not home practice from the plan): the therapist leads, so
// no controls of the patient's own, and the therapist's picture comes first, large.
// Home practice has no therapist: no empty "waiting" box.
const remoteBox = document.querySelector(".remote-small");
if (homeSession) {
  remoteBox.hidden = true;
} else {
  document.body.classList.add("supervised");
  $("practice").hidden = true;
  remoteBox.classList.replace("remote-small", "remote-main");
  document.querySelector(".coach-area").prepend(remoteBox);
}

/** Starts the routine's next exercise once the face is calibrated and the one before is
 * finished (the patient's own Stop or another choice pauses the routine there). */
function routineTick() {
  if (!routine.length || routineDone || finished || !catalogue.size) return;
  if (!latest || latest.status !== "tracking") return;  // after calibration
  if (routineRunning !== null) {
    const ex = latest.exercise;
    if (!ex || ex.name !== routine[routineRunning].name || ex.phase !== "done") return;
    routineNextAt ||= Date.now() + ROUTINE_PAUSE_MS;
    if (routine.length === routineNext) {
      routineDone = true;
      const text = routine.length > 1 ? "Today's routine is done. Well done!" : "Well done!";
      $("routine-progress").textContent = `${text} Press “Finish and save my results”.`;
      $("routine-progress").hidden = false;
      announce(text);
      return;
    }
    if (Date.now() < routineNextAt) return;
  }
  while (routineNext < routine.length && !catalogue.has(routine[routineNext].name)) routineNext += 1;
  if (routineNext >= routine.length) return;
  const step = routine[routineNext];
  routineRunning = routineNext;
  routineNext += 1;
  routineNextAt = 0;
  const body = { command: "start_exercise", exercise: step.name };
  for (const key of ["reps", "sets", "hold_s"]) if (step[key] !== undefined) body[key] = key === "hold_s" ? step[key] : Math.round(step[key]);
  $("practice-exercise").value = step.name;
  $("routine-progress").hidden = routine.length < 2;
  $("routine-progress").textContent = `Exercise ${routineRunning + 1} of ${routine.length} in today's routine`;
  send(body);
}
setInterval(routineTick, 500);

$("finish-save").addEventListener("click", async () => {
  const button = $("finish-save");
  button.disabled = true;
  $("saved").textContent = "Saving…";
  try {
    const { summary } = await session.summary();
    if (!summary) {
      $("saved").textContent = "There is nothing to save yet. Do at least one exercise first.";
      button.disabled = false;
      return;
    }
    const { clinic, clinicToken } = await import("/static/clinic.js");
    await clinic(`/sessions/${encodeURIComponent(homeSession)}/summary`, clinicToken("patient"), { method: "POST", body: summary });
    $("saved").replaceChildren("Saved. Well done! ", Object.assign(document.createElement("a"), { href: "/clinic/today", textContent: "Back to today's plan" }));
    session.stop();
    cuesEl.textContent = "Your results are saved. Well done!";
  } catch (err) {
    $("saved").textContent = `Your results could not be saved: ${err.message}`;
    button.disabled = false;
  }
});

async function loadExercises() {
  if (catalogue.size) return;
  try {
    catalogue = await session.exercises();
  } catch {
    return;  // tried again on the next connect
  }
  const select = $("practice-exercise");
  // The dose the plan asked for, where the plan opened this page: the same numbers as the
  // card will count, not the catalogue's defaults.
  const dose = (e) => {
    const step = routine.find((r) => r.name === e.name);
    return step ? { reps: step.reps ?? e.reps, hold_s: step.hold_s ?? e.hold_s } : e;
  };
  select.replaceChildren(...[...catalogue.values()].map((e) => new Option(`${e.title} (${dose(e).reps} × ${dose(e).hold_s} s hold)`, e.name)));
  for (const id of ["practice-exercise", "practice-start", "practice-stop", "recalibrate"]) $(id).disabled = false;
  if (latest && !renderQueued) { renderQueued = true; requestAnimationFrame(render); }
}

async function send(body) {
  $("practice-error").hidden = true;
  try {
    await session.command(body);
  } catch (err) {
    $("practice-error").textContent = `That did not work: ${err.message}`;
    $("practice-error").hidden = false;
  }
}

$("practice-start").addEventListener("click", () => send({ command: "start_exercise", exercise: $("practice-exercise").value }));
$("practice-stop").addEventListener("click", () => send({ command: "stop_exercise" }));
$("recalibrate").addEventListener("click", () => send({ command: "recalibrate" }));

$("enable-sound").addEventListener("click", async () => {
  try { await session.enableSound(); $("enable-sound").hidden = true; } catch { /* stays visible */ }
});
